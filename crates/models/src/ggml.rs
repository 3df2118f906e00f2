//! Converter from a CTranslate2 Whisper model to the GGML file whisper.cpp loads.
//!
//! The GGML file is: magic, eleven `i32` hyper-parameters, the 80×201 mel filter bank, the
//! byte-level vocabulary, then tensors (`i32 n_dims, i32 name_len, i32 type, i32 ne[n_dims]`,
//! name, data) until the end. whisper.cpp accepts exactly the tensor set of its model
//! definition, with exact shapes and types ([`expected_layout`] writes that definition down and
//! the tests hold the converter to it).

use std::collections::HashMap;
use std::io::Write;

use serde::Deserialize;

use crate::ct2::Model;
use crate::{Error, mel};

const MAGIC: i32 = 0x6767_6d6c;
/// Regular BPE tokens in the vocabulary section; whisper.cpp adds the special tokens itself.
const N_TEXT_TOKENS: usize = 50257;
const Q8_BLOCK: usize = 32;

/// How the large matrices are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ftype {
    F16,
    Q8_0,
}

impl Ftype {
    fn code(self) -> i32 {
        match self {
            Ftype::F16 => 1,
            Ftype::Q8_0 => 7,
        }
    }
}

/// Element types of the GGML file, with whisper.cpp's codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TensorType {
    F32,
    F16,
    Q8_0,
}

impl TensorType {
    fn code(self) -> i32 {
        match self {
            TensorType::F32 => 0,
            TensorType::F16 => 1,
            TensorType::Q8_0 => 8,
        }
    }

    fn of_matrix(ftype: Ftype) -> TensorType {
        match ftype {
            Ftype::F16 => TensorType::F16,
            Ftype::Q8_0 => TensorType::Q8_0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hparams {
    pub n_vocab: usize,
    pub n_audio_ctx: usize,
    pub n_audio_state: usize,
    pub n_audio_head: usize,
    pub n_audio_layer: usize,
    pub n_text_ctx: usize,
    pub n_text_state: usize,
    pub n_text_head: usize,
    pub n_text_layer: usize,
    pub n_mels: usize,
}

impl Hparams {
    pub fn of(model: &Model) -> Result<Hparams, Error> {
        let shape = |name: &str| model.get(name).map(|v| v.shape.clone());
        let layers = |side: &str| {
            let prefix = format!("{side}/layer_");
            let mut ids: Vec<usize> = model
                .variables
                .keys()
                .filter_map(|n| n.strip_prefix(&prefix)?.split('/').next()?.parse().ok())
                .collect();
            ids.sort_unstable();
            ids.dedup();
            ids.len()
        };
        let heads = |name: &str| -> Result<usize, Error> {
            model
                .get(name)?
                .as_int()
                .filter(|&h| h > 0)
                .map(|h| h as usize)
                .ok_or_else(|| Error::Convert(format!("{name} is not a positive integer")))
        };
        let embeddings = shape("decoder/embeddings/weight")?;
        let conv1 = shape("encoder/conv1/weight")?;
        let audio_pos = shape("encoder/position_encodings/encodings")?;
        let text_pos = shape("decoder/position_encodings/encodings")?;
        let bad = || Error::Convert("unexpected tensor ranks: not a Whisper model".into());
        let (&[n_vocab, n_text_state], &[n_audio_state, n_mels, _], &[n_audio_ctx, _], &[n_text_ctx, _]) =
            (&embeddings[..], &conv1[..], &audio_pos[..], &text_pos[..])
        else {
            return Err(bad());
        };
        Ok(Hparams {
            n_vocab,
            n_audio_ctx,
            n_audio_state,
            n_audio_head: heads("encoder/num_heads")?,
            n_audio_layer: layers("encoder"),
            n_text_ctx,
            n_text_state,
            n_text_head: heads("decoder/num_heads")?,
            n_text_layer: layers("decoder"),
            n_mels,
        })
    }
}

/// One tensor ready to write: its whisper.cpp name, numpy-order shape, element type and values.
pub struct Tensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub kind: TensorType,
    values: Vec<f32>,
}

/// The tensors whisper.cpp's model definition declares, as (name, numpy-order shape, type).
pub fn expected_layout(hp: &Hparams, ftype: Ftype) -> Vec<(String, Vec<usize>, TensorType)> {
    use TensorType::{F16, F32};
    let m = TensorType::of_matrix(ftype);
    let (a, t) = (hp.n_audio_state, hp.n_text_state);
    let mut out: Vec<(String, Vec<usize>, TensorType)> = vec![
        ("encoder.positional_embedding".into(), vec![hp.n_audio_ctx, a], F32),
        ("encoder.conv1.weight".into(), vec![a, hp.n_mels, 3], F16),
        ("encoder.conv1.bias".into(), vec![a, 1], F32),
        ("encoder.conv2.weight".into(), vec![a, a, 3], F16),
        ("encoder.conv2.bias".into(), vec![a, 1], F32),
        ("encoder.ln_post.weight".into(), vec![a], F32),
        ("encoder.ln_post.bias".into(), vec![a], F32),
        ("decoder.positional_embedding".into(), vec![hp.n_text_ctx, t], F32),
        ("decoder.token_embedding.weight".into(), vec![hp.n_vocab, t], m),
        ("decoder.ln.weight".into(), vec![t], F32),
        ("decoder.ln.bias".into(), vec![t], F32),
    ];
    let block = |prefix: &str, n: usize, cross: bool, out: &mut Vec<(String, Vec<usize>, TensorType)>| {
        let mut add = |name: &str, shape: Vec<usize>, kind| out.push((format!("{prefix}.{name}"), shape, kind));
        for (attn, present) in [("attn", true), ("cross_attn", cross)] {
            if !present {
                continue;
            }
            add(&format!("{attn}_ln.weight"), vec![n], F32);
            add(&format!("{attn}_ln.bias"), vec![n], F32);
            for part in ["query", "key", "value", "out"] {
                add(&format!("{attn}.{part}.weight"), vec![n, n], m);
                if part != "key" {
                    add(&format!("{attn}.{part}.bias"), vec![n], F32);
                }
            }
        }
        add("mlp_ln.weight", vec![n], F32);
        add("mlp_ln.bias", vec![n], F32);
        add("mlp.0.weight", vec![4 * n, n], m);
        add("mlp.0.bias", vec![4 * n], F32);
        add("mlp.2.weight", vec![n, 4 * n], m);
        add("mlp.2.bias", vec![n], F32);
    };
    for i in 0..hp.n_audio_layer {
        block(&format!("encoder.blocks.{i}"), a, false, &mut out);
    }
    for i in 0..hp.n_text_layer {
        block(&format!("decoder.blocks.{i}"), t, true, &mut out);
    }
    out
}

/// Maps every CTranslate2 variable whisper.cpp needs to its GGML name, shape and type.
pub fn tensors(model: &Model, hp: &Hparams, ftype: Ftype) -> Result<Vec<Tensor>, Error> {
    let mut out = Vec::new();
    let mut emit = |name: String, shape: Vec<usize>, values: Vec<f32>| -> Result<(), Error> {
        if shape.iter().product::<usize>() != values.len() {
            return Err(Error::Convert(format!("{name}: {} values for shape {shape:?}", values.len())));
        }
        let kind = if name.ends_with("positional_embedding")
            || shape.len() == 1
            || name.ends_with("conv1.bias")
            || name.ends_with("conv2.bias")
        {
            TensorType::F32
        } else if shape.len() == 3 {
            TensorType::F16
        } else {
            TensorType::of_matrix(ftype)
        };
        out.push(Tensor { name, shape, kind, values });
        Ok(())
    };
    let get = |name: &str| -> Result<(Vec<usize>, Vec<f32>), Error> {
        let v = model.get(name)?;
        Ok((v.shape.clone(), v.to_f32(name)?))
    };

    emit(
        "encoder.positional_embedding".into(),
        vec![hp.n_audio_ctx, hp.n_audio_state],
        sinusoids(hp.n_audio_ctx, hp.n_audio_state),
    )?;
    for conv in ["conv1", "conv2"] {
        let (shape, w) = get(&format!("encoder/{conv}/weight"))?;
        emit(format!("encoder.{conv}.weight"), shape, w)?;
        let (shape, b) = get(&format!("encoder/{conv}/bias"))?;
        emit(format!("encoder.{conv}.bias"), vec![shape[0], 1], b)?;
    }
    let (shape, pos) = get("decoder/position_encodings/encodings")?;
    emit("decoder.positional_embedding".into(), shape, pos)?;
    let (shape, emb) = get("decoder/embeddings/weight")?;
    emit("decoder.token_embedding.weight".into(), shape, emb)?;
    for (ct2, ggml) in [("encoder/layer_norm", "encoder.ln_post"), ("decoder/layer_norm", "decoder.ln")] {
        layer_norm(&get, ct2, ggml, &mut emit)?;
    }

    for (side, layers) in [("encoder", hp.n_audio_layer), ("decoder", hp.n_text_layer)] {
        for i in 0..layers {
            let c = format!("{side}/layer_{i}");
            let g = format!("{side}.blocks.{i}");
            layer_norm(&get, &format!("{c}/self_attention/layer_norm"), &format!("{g}.attn_ln"), &mut emit)?;
            let parts = split_rows(&get, &format!("{c}/self_attention/linear_0"), 3)?;
            attention_parts(parts, &format!("{g}.attn"), &["query", "key", "value"], &mut emit)?;
            linear(&get, &format!("{c}/self_attention/linear_1"), &format!("{g}.attn.out"), &mut emit)?;
            if side == "decoder" {
                layer_norm(&get, &format!("{c}/attention/layer_norm"), &format!("{g}.cross_attn_ln"), &mut emit)?;
                linear(&get, &format!("{c}/attention/linear_0"), &format!("{g}.cross_attn.query"), &mut emit)?;
                let parts = split_rows(&get, &format!("{c}/attention/linear_1"), 2)?;
                attention_parts(parts, &format!("{g}.cross_attn"), &["key", "value"], &mut emit)?;
                linear(&get, &format!("{c}/attention/linear_2"), &format!("{g}.cross_attn.out"), &mut emit)?;
            }
            layer_norm(&get, &format!("{c}/ffn/layer_norm"), &format!("{g}.mlp_ln"), &mut emit)?;
            linear(&get, &format!("{c}/ffn/linear_0"), &format!("{g}.mlp.0"), &mut emit)?;
            linear(&get, &format!("{c}/ffn/linear_1"), &format!("{g}.mlp.2"), &mut emit)?;
        }
    }
    Ok(out)
}

type Getter<'a> = dyn Fn(&str) -> Result<(Vec<usize>, Vec<f32>), Error> + 'a;
type Emitter<'a> = dyn FnMut(String, Vec<usize>, Vec<f32>) -> Result<(), Error> + 'a;

fn layer_norm(get: &Getter, ct2: &str, ggml: &str, emit: &mut Emitter) -> Result<(), Error> {
    let (shape, gamma) = get(&format!("{ct2}/gamma"))?;
    emit(format!("{ggml}.weight"), shape, gamma)?;
    let (shape, beta) = get(&format!("{ct2}/beta"))?;
    emit(format!("{ggml}.bias"), shape, beta)
}

fn linear(get: &Getter, ct2: &str, ggml: &str, emit: &mut Emitter) -> Result<(), Error> {
    let (shape, w) = get(&format!("{ct2}/weight"))?;
    emit(format!("{ggml}.weight"), shape, w)?;
    let (shape, b) = get(&format!("{ct2}/bias"))?;
    emit(format!("{ggml}.bias"), shape, b)
}

/// A fused projection split into `n` equal row blocks: ((rows, cols), weight, bias) per block.
type Part = ((usize, usize), Vec<f32>, Vec<f32>);

fn split_rows(get: &Getter, ct2: &str, n: usize) -> Result<Vec<Part>, Error> {
    let (shape, w) = get(&format!("{ct2}/weight"))?;
    let (_, b) = get(&format!("{ct2}/bias"))?;
    let [rows, cols] = shape[..] else {
        return Err(Error::Convert(format!("{ct2}/weight is not a matrix")));
    };
    if rows % n != 0 || b.len() != rows {
        return Err(Error::Convert(format!("{ct2}: {rows} rows do not split into {n} projections")));
    }
    let block = rows / n;
    Ok((0..n)
        .map(|i| {
            (
                (block, cols),
                w[i * block * cols..(i + 1) * block * cols].to_vec(),
                b[i * block..(i + 1) * block].to_vec(),
            )
        })
        .collect())
}

/// Emits split projections; the key projection has no bias in Whisper, so CTranslate2's zero
/// block is dropped, and a non-zero one means the file is not the Whisper we know.
fn attention_parts(parts: Vec<Part>, prefix: &str, names: &[&str], emit: &mut Emitter) -> Result<(), Error> {
    for (((rows, cols), w, b), name) in parts.into_iter().zip(names) {
        emit(format!("{prefix}.{name}.weight"), vec![rows, cols], w)?;
        if *name == "key" {
            if b.iter().any(|&x| x != 0.0) {
                return Err(Error::Convert(format!("{prefix}.key has a non-zero bias, which whisper.cpp cannot hold")));
            }
        } else {
            emit(format!("{prefix}.{name}.bias"), vec![rows], b)?;
        }
    }
    Ok(())
}

/// Whisper's encoder positions, computed as the reference implementation does rather than
/// taken from CTranslate2's f16 copy, which differs by up to 2.4e-4.
fn sinusoids(length: usize, channels: usize) -> Vec<f32> {
    let half = channels / 2;
    let increment = (10000f64).ln() / (half as f64 - 1.0);
    let mut out = vec![0f32; length * channels];
    for t in 0..length {
        for i in 0..half {
            let angle = t as f64 * (-increment * i as f64).exp();
            out[t * channels + i] = angle.sin() as f32;
            out[t * channels + half + i] = angle.cos() as f32;
        }
    }
    out
}

#[derive(Deserialize)]
struct TokenizerJson {
    model: TokenizerModel,
}

#[derive(Deserialize)]
struct TokenizerModel {
    vocab: HashMap<String, usize>,
}

/// The regular tokens' bytes, by id: tokenizer.json spells bytes with GPT-2's printable
/// byte↔unicode map, which is reversed here. Ids without a regular token are empty.
pub fn vocabulary(tokenizer_json: &[u8]) -> Result<Vec<Vec<u8>>, Error> {
    let parsed: TokenizerJson =
        serde_json::from_slice(tokenizer_json).map_err(|e| Error::Convert(format!("tokenizer.json: {e}")))?;
    let mut unicode_to_byte = HashMap::new();
    let mut extra = 0u32;
    for b in 0..=255u8 {
        let printable = matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
        let c = if printable {
            char::from(b)
        } else {
            extra += 1;
            char::from_u32(255 + extra).expect("below the surrogates")
        };
        unicode_to_byte.insert(c, b);
    }
    let mut tokens = vec![Vec::new(); N_TEXT_TOKENS];
    for (text, id) in parsed.model.vocab {
        if id < N_TEXT_TOKENS {
            tokens[id] = text
                .chars()
                .map(|c| unicode_to_byte.get(&c).copied())
                .collect::<Option<Vec<u8>>>()
                .ok_or_else(|| Error::Convert(format!("token {id} is not byte-level BPE")))?;
        }
    }
    Ok(tokens)
}

/// Writes the whole GGML file.
pub fn write(model: &Model, tokenizer_json: &[u8], ftype: Ftype, out: &mut impl Write) -> Result<(), Error> {
    let hp = Hparams::of(model)?;
    let vocab = vocabulary(tokenizer_json)?;
    let tensors = tensors(model, &hp, ftype)?;
    let i32s = |out: &mut dyn Write, values: &[usize]| -> std::io::Result<()> {
        values.iter().try_for_each(|&v| out.write_all(&(v as i32).to_le_bytes()))
    };
    out.write_all(&MAGIC.to_le_bytes())?;
    i32s(
        out,
        &[
            hp.n_vocab,
            hp.n_audio_ctx,
            hp.n_audio_state,
            hp.n_audio_head,
            hp.n_audio_layer,
            hp.n_text_ctx,
            hp.n_text_state,
            hp.n_text_head,
            hp.n_text_layer,
            hp.n_mels,
        ],
    )?;
    out.write_all(&ftype.code().to_le_bytes())?;
    let filters = mel::filters(16000, 400, hp.n_mels);
    i32s(out, &[hp.n_mels, 201])?;
    filters.iter().try_for_each(|f| out.write_all(&f.to_le_bytes()))?;
    i32s(out, &[vocab.len()])?;
    for token in &vocab {
        i32s(out, &[token.len()])?;
        out.write_all(token)?;
    }
    for t in &tensors {
        i32s(out, &[t.shape.len(), t.name.len()])?;
        out.write_all(&t.kind.code().to_le_bytes())?;
        i32s(out, &t.shape.iter().rev().copied().collect::<Vec<_>>())?;
        out.write_all(t.name.as_bytes())?;
        out.write_all(&encode(t)?)?;
    }
    Ok(())
}

fn encode(t: &Tensor) -> Result<Vec<u8>, Error> {
    Ok(match t.kind {
        TensorType::F32 => t.values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        TensorType::F16 => t.values.iter().flat_map(|v| half::f16::from_f32(*v).to_le_bytes()).collect(),
        TensorType::Q8_0 => {
            if t.shape.last().is_none_or(|&row| row % Q8_BLOCK != 0) {
                return Err(Error::Convert(format!(
                    "{}: rows of {:?} do not divide into q8_0 blocks",
                    t.name, t.shape
                )));
            }
            quantize_q8_0(&t.values)
        }
    })
}

/// ggml's reference q8_0: per 32 values, an f16 scale `max|x| / 127` and 32 rounded `i8`s.
fn quantize_q8_0(values: &[f32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.len() / Q8_BLOCK * (2 + Q8_BLOCK));
    for block in values.chunks_exact(Q8_BLOCK) {
        let amax = block.iter().fold(0f32, |m, v| m.max(v.abs()));
        let scale = amax / 127.0;
        let inverse = if scale != 0.0 { 1.0 / scale } else { 0.0 };
        out.extend(half::f16::from_f32(scale).to_le_bytes());
        out.extend(block.iter().map(|v| (v * inverse).round() as i8 as u8));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ct2::tests::write as write_ct2;

    /// A structurally complete Whisper in CTranslate2 form with tiny dimensions.
    fn tiny_whisper() -> Model {
        let (n, mels, vocab, audio_ctx, text_ctx) = (32usize, 4usize, 40usize, 6usize, 5usize);
        let mut vars: Vec<(String, Vec<u32>, u8, Vec<u8>)> = Vec::new();
        let mut counter = 0f32;
        let mut f16 = |name: String, shape: &[usize]| {
            let data = (0..shape.iter().product::<usize>())
                .flat_map(|_| {
                    counter += 0.001;
                    half::f16::from_f32(counter).to_le_bytes()
                })
                .collect();
            (name, shape.iter().map(|&d| d as u32).collect(), 4u8, data)
        };
        vars.push(f16("encoder/conv1/weight".into(), &[n, mels, 3]));
        vars.push(f16("encoder/conv1/bias".into(), &[n]));
        vars.push(f16("encoder/conv2/weight".into(), &[n, n, 3]));
        vars.push(f16("encoder/conv2/bias".into(), &[n]));
        vars.push(f16("encoder/position_encodings/encodings".into(), &[audio_ctx, n]));
        vars.push(f16("decoder/position_encodings/encodings".into(), &[text_ctx, n]));
        vars.push(f16("decoder/embeddings/weight".into(), &[vocab, n]));
        for side in ["encoder", "decoder"] {
            vars.push(f16(format!("{side}/layer_norm/gamma"), &[n]));
            vars.push(f16(format!("{side}/layer_norm/beta"), &[n]));
            for i in 0..2 {
                let mut blocks =
                    vec![("self_attention/linear_0", 3 * n), ("self_attention/linear_1", n), ("ffn/linear_0", 4 * n)];
                if side == "decoder" {
                    blocks.extend([
                        ("attention/linear_0", n),
                        ("attention/linear_1", 2 * n),
                        ("attention/linear_2", n),
                    ]);
                }
                for (linear, rows) in blocks {
                    vars.push(f16(format!("{side}/layer_{i}/{linear}/weight"), &[rows, n]));
                    let mut bias = f16(format!("{side}/layer_{i}/{linear}/bias"), &[rows]);
                    if linear.ends_with("attention/linear_0") && linear.starts_with("self")
                        || linear == "attention/linear_1"
                    {
                        // The key block's bias is zero in Whisper.
                        let key = if linear == "attention/linear_1" { 0..n } else { n..2 * n };
                        bias.3[key.start * 2..key.end * 2].fill(0);
                    }
                    vars.push(bias);
                }
                vars.push(f16(format!("{side}/layer_{i}/ffn/linear_1/weight"), &[n, 4 * n]));
                vars.push(f16(format!("{side}/layer_{i}/ffn/linear_1/bias"), &[n]));
                let mut norms = vec!["self_attention", "ffn"];
                if side == "decoder" {
                    norms.push("attention");
                }
                for norm in norms {
                    vars.push(f16(format!("{side}/layer_{i}/{norm}/layer_norm/gamma"), &[n]));
                    vars.push(f16(format!("{side}/layer_{i}/{norm}/layer_norm/beta"), &[n]));
                }
            }
            vars.push((format!("{side}/num_heads"), vec![], 3, 2i32.to_le_bytes().to_vec()));
        }
        let refs: Vec<(&str, Vec<u32>, u8, Vec<u8>)> =
            vars.iter().map(|(a, b, c, d)| (a.as_str(), b.clone(), *c, d.clone())).collect();
        Model::parse(&write_ct2("WhisperSpec", &refs, &[("decoder/projection/weight", "decoder/embeddings/weight")]))
            .unwrap()
    }

    #[test]
    fn hparams_come_from_the_tensors() {
        let hp = Hparams::of(&tiny_whisper()).unwrap();
        assert_eq!(
            (hp.n_vocab, hp.n_audio_ctx, hp.n_audio_state, hp.n_audio_head, hp.n_audio_layer),
            (40, 6, 32, 2, 2)
        );
        assert_eq!((hp.n_text_ctx, hp.n_text_state, hp.n_text_head, hp.n_text_layer, hp.n_mels), (5, 32, 2, 2, 4));
    }

    #[test]
    fn converter_produces_exactly_the_layout_whisper_cpp_declares() {
        let model = tiny_whisper();
        let hp = Hparams::of(&model).unwrap();
        for ftype in [Ftype::F16, Ftype::Q8_0] {
            let mut produced: Vec<_> =
                tensors(&model, &hp, ftype).unwrap().into_iter().map(|t| (t.name, t.shape, t.kind)).collect();
            let mut expected = expected_layout(&hp, ftype);
            produced.sort_by(|a, b| a.0.cmp(&b.0));
            expected.sort_by(|a, b| a.0.cmp(&b.0));
            assert_eq!(produced, expected);
        }
    }

    #[test]
    fn base_layout_has_245_tensors() {
        let base = Hparams {
            n_vocab: 51865,
            n_audio_ctx: 1500,
            n_audio_state: 512,
            n_audio_head: 8,
            n_audio_layer: 6,
            n_text_ctx: 448,
            n_text_state: 512,
            n_text_head: 8,
            n_text_layer: 6,
            n_mels: 80,
        };
        assert_eq!(expected_layout(&base, Ftype::F16).len(), 245);
    }

    #[test]
    fn fused_projections_split_in_row_order() {
        let model = tiny_whisper();
        let hp = Hparams::of(&model).unwrap();
        let all = tensors(&model, &hp, Ftype::F16).unwrap();
        let fused = model.get("encoder/layer_1/self_attention/linear_0/weight").unwrap().to_f32("").unwrap();
        let value = all.iter().find(|t| t.name == "encoder.blocks.1.attn.value.weight").unwrap();
        assert_eq!(value.values[..], fused[2 * 32 * 32..]);
    }

    #[test]
    fn a_nonzero_key_bias_is_refused() {
        let parts = vec![((1, 1), vec![1.0], vec![0.5]), ((1, 1), vec![1.0], vec![0.0])];
        let err = attention_parts(parts, "x", &["key", "value"], &mut |_, _, _| Ok(())).unwrap_err();
        assert!(err.to_string().contains("non-zero bias"));
    }

    #[test]
    fn q8_0_matches_ggml_reference_rounding() {
        let values: Vec<f32> = (0..32).map(|i| i as f32 - 16.0).collect();
        let q = quantize_q8_0(&values);
        assert_eq!(q.len(), 34);
        let scale = half::f16::from_le_bytes([q[0], q[1]]).to_f32();
        assert!((scale - 16.0 / 127.0).abs() < 1e-3);
        assert_eq!(q[2] as i8, -127);
        assert_eq!(q[2 + 16] as i8, 0);
        assert_eq!(q[2 + 31] as i8, (15.0f32 * 127.0 / 16.0).round() as i8);
    }

    #[test]
    fn sinusoids_match_whisper_at_known_points() {
        let s = sinusoids(1500, 512);
        assert_eq!(s[0], 0.0); // sin(0)
        assert_eq!(s[256], 1.0); // cos(0)
        assert!((s[512] - 1f32.sin()).abs() < 1e-7); // t = 1, i = 0
    }

    #[test]
    fn vocabulary_reverses_the_gpt2_byte_map() {
        let json = r#"{"model":{"vocab":{"Ġda":0,"Ã¦":1,"!":2}}}"#;
        let v = vocabulary(json.as_bytes()).unwrap();
        assert_eq!(v[0], b" da");
        assert_eq!(v[1], "æ".as_bytes());
        assert_eq!(v[2], b"!");
        assert!(v[3].is_empty());
        assert!(vocabulary(b"{}").is_err());
    }
}
