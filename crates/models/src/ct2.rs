//! Reader for CTranslate2's `model.bin` (format version 6), the form Whisper reaches us in.
//!
//! Layout, little-endian: `u32 version`, `str spec_name`, `u32 revision`, `u32 n_variables`, then
//! per variable `str name`, `u8 rank`, `u32 dims[rank]`, `u8 dtype`, `u32 n_bytes`, data; then
//! `u32 n_aliases` of `str alias`, `str target`. A `str` is a `u16` length that counts a trailing
//! NUL, then the bytes and the NUL. A well-formed file ends exactly after the aliases.

use std::collections::BTreeMap;

use crate::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DType {
    F32,
    I8,
    I16,
    I32,
    F16,
    BF16,
}

impl DType {
    fn from_code(code: u8) -> Option<DType> {
        Some(match code {
            0 => DType::F32,
            1 => DType::I8,
            2 => DType::I16,
            3 => DType::I32,
            4 => DType::F16,
            5 => DType::BF16,
            _ => return None,
        })
    }

    fn size(self) -> usize {
        match self {
            DType::I8 => 1,
            DType::I16 | DType::F16 | DType::BF16 => 2,
            DType::F32 | DType::I32 => 4,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Variable {
    pub shape: Vec<usize>,
    pub dtype: DType,
    pub data: Vec<u8>,
}

impl Variable {
    /// How many values the tensor holds.
    pub fn elements(&self) -> usize {
        self.shape.iter().product()
    }

    /// The values as f32, whatever float type they are stored in.
    pub fn to_f32(&self, name: &str) -> Result<Vec<f32>, Error> {
        let pairs = self.data.chunks_exact(2).map(|b| [b[0], b[1]]);
        Ok(match self.dtype {
            DType::F32 => self.data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
            DType::F16 => pairs.map(|b| half::f16::from_le_bytes(b).to_f32()).collect(),
            DType::BF16 => pairs.map(|b| half::bf16::from_le_bytes(b).to_f32()).collect(),
            other => {
                return Err(Error::Convert(format!(
                    "{name} is {other:?}, expected a float tensor; quantised CTranslate2 models are not supported"
                )));
            }
        })
    }

    /// A scalar integer such as `encoder/num_heads`.
    pub fn as_int(&self) -> Option<i64> {
        if self.elements() != 1 {
            return None;
        }
        let d = &self.data;
        Some(match self.dtype {
            DType::I8 => d[0] as i8 as i64,
            DType::I16 => i16::from_le_bytes([d[0], d[1]]) as i64,
            DType::I32 => i32::from_le_bytes([d[0], d[1], d[2], d[3]]) as i64,
            _ => return None,
        })
    }
}

#[derive(Debug)]
pub struct Model {
    pub spec: String,
    pub variables: BTreeMap<String, Variable>,
}

impl Model {
    pub fn get(&self, name: &str) -> Result<&Variable, Error> {
        self.variables.get(name).ok_or_else(|| Error::Convert(format!("the CTranslate2 model has no variable {name}")))
    }

    pub fn parse(bytes: &[u8]) -> Result<Model, Error> {
        let mut r = Cursor { bytes, at: 0 };
        let version = r.u32()?;
        if version != 6 {
            return Err(Error::Convert(format!(
                "CTranslate2 model.bin version {version}; only version 6 is supported"
            )));
        }
        let spec = r.str()?;
        let _revision = r.u32()?;
        let count = r.u32()?;
        let mut variables = BTreeMap::new();
        for _ in 0..count {
            let name = r.str()?;
            let rank = r.u8()? as usize;
            let shape = (0..rank).map(|_| r.u32().map(|d| d as usize)).collect::<Result<Vec<_>, _>>()?;
            let code = r.u8()?;
            let dtype =
                DType::from_code(code).ok_or_else(|| Error::Convert(format!("{name}: unknown dtype code {code}")))?;
            let n_bytes = r.u32()? as usize;
            let expected = shape.iter().product::<usize>() * dtype.size();
            if n_bytes != expected {
                return Err(Error::Convert(format!("{name}: {n_bytes} bytes for shape {shape:?} of {dtype:?}")));
            }
            let data = r.take(n_bytes)?.to_vec();
            variables.insert(name, Variable { shape, dtype, data });
        }
        for _ in 0..r.u32()? {
            let alias = r.str()?;
            let target = r.str()?;
            let variable = variables
                .get(&target)
                .ok_or_else(|| Error::Convert(format!("alias {alias} points to missing {target}")))?
                .clone();
            variables.insert(alias, variable);
        }
        if r.at != bytes.len() {
            return Err(Error::Convert(format!("{} unexpected bytes after the last alias", bytes.len() - r.at)));
        }
        Ok(Model { spec, variables })
    }
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let end = self.at.checked_add(n).filter(|&end| end <= self.bytes.len()).ok_or_else(|| {
            Error::Convert(format!(
                "model.bin ends early at byte {} (truncated or not a CTranslate2 model)",
                self.bytes.len()
            ))
        })?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }
    fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, Error> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn str(&mut self) -> Result<String, Error> {
        let b = self.take(2)?;
        let len = u16::from_le_bytes([b[0], b[1]]) as usize;
        let raw = self.take(len)?;
        let text = raw.strip_suffix(&[0]).ok_or_else(|| Error::Convert("a string without its trailing NUL".into()))?;
        String::from_utf8(text.to_vec()).map_err(|_| Error::Convert("a name that is not UTF-8".into()))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Writes a CTranslate2 file from (name, shape, dtype code, data) records, for tests.
    pub fn write(spec: &str, variables: &[(&str, Vec<u32>, u8, Vec<u8>)], aliases: &[(&str, &str)]) -> Vec<u8> {
        let mut out = Vec::new();
        let put_str = |out: &mut Vec<u8>, s: &str| {
            out.extend(((s.len() + 1) as u16).to_le_bytes());
            out.extend(s.as_bytes());
            out.push(0);
        };
        out.extend(6u32.to_le_bytes());
        put_str(&mut out, spec);
        out.extend(1u32.to_le_bytes());
        out.extend((variables.len() as u32).to_le_bytes());
        for (name, shape, dtype, data) in variables {
            put_str(&mut out, name);
            out.push(shape.len() as u8);
            for d in shape {
                out.extend(d.to_le_bytes());
            }
            out.push(*dtype);
            out.extend((data.len() as u32).to_le_bytes());
            out.extend(data);
        }
        out.extend((aliases.len() as u32).to_le_bytes());
        for (alias, target) in aliases {
            put_str(&mut out, alias);
            put_str(&mut out, target);
        }
        out
    }

    #[test]
    fn parses_variables_scalars_and_aliases() {
        let bytes = write(
            "WhisperSpec",
            &[
                ("a/weight", vec![2, 2], 0, [1.0f32, 2.0, 3.0, 4.0].iter().flat_map(|f| f.to_le_bytes()).collect()),
                ("heads", vec![], 3, 8i32.to_le_bytes().to_vec()),
            ],
            &[("b/weight", "a/weight")],
        );
        let model = Model::parse(&bytes).unwrap();
        assert_eq!(model.spec, "WhisperSpec");
        assert_eq!(model.get("b/weight").unwrap().to_f32("b").unwrap(), [1.0, 2.0, 3.0, 4.0]);
        assert_eq!(model.get("heads").unwrap().as_int(), Some(8));
    }

    #[test]
    fn truncation_and_trailing_bytes_are_errors_not_panics() {
        let bytes = write("WhisperSpec", &[("x", vec![3], 4, vec![0; 6])], &[]);
        for cut in 0..bytes.len() {
            assert!(Model::parse(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(Model::parse(&longer).unwrap_err().to_string().contains("unexpected bytes"));
    }
}
