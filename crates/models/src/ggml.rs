//! Converter from a CTranslate2 Whisper model to the GGML file whisper.cpp loads.
//!
//! The GGML file is: magic, eleven `i32` hyper-parameters, the `n_mels`×201 mel filter bank,
//! the byte-level vocabulary, then tensors (`i32 n_dims, i32 name_len, i32 type, i32
//! ne[n_dims]`, name, data) until the end. whisper.cpp accepts exactly the tensor set of its
//! model definition, with exact shapes and types ([`expected_layout`] writes that definition
//! down; [`write`] refuses to write anything else, and the tests load every model shape in the
//! real whisper.cpp).
//!
//! Every Whisper size converts the same way: the layout follows from the model's own dimensions
//! (tiny to large-v3, turbo's 4 decoder layers, 80 or 128 mel bins), and the vocabulary size says
//! whether the model is English-only (51864 tokens), multilingual (51865) or large-v3's (51866).

use std::collections::HashMap;
use std::io::Write;

use serde::Deserialize;

use crate::ct2::Model;
use crate::{Error, mel};

const MAGIC: i32 = 0x6767_6d6c;
/// Regular BPE tokens in the vocabulary section; whisper.cpp adds the special tokens itself.
const N_TEXT_TOKENS: usize = 50257;
/// Values per block of ggml's q8_0 and q5_0 quantisations.
const QUANT_BLOCK: usize = 32;
/// Vocabulary sizes whisper.cpp knows: English-only, multilingual, and large-v3's (one more
/// language token).
const VOCAB_ENGLISH: usize = 51864;
const VOCAB_LARGE_V3: usize = 51866;

/// How the large matrices are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ftype {
    F16,
    Q8_0,
    /// 5.5 bits a weight: a third smaller than q8_0, for large models on small machines.
    Q5_0,
}

impl Ftype {
    pub const NAMES: &[&str] = &["f16", "q8_0", "q5_0"];

    fn code(self) -> i32 {
        match self {
            Ftype::F16 => 1,
            Ftype::Q8_0 => 7,
            Ftype::Q5_0 => 8,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Ftype::F16 => "f16",
            Ftype::Q8_0 => "q8_0",
            Ftype::Q5_0 => "q5_0",
        }
    }
}

impl std::str::FromStr for Ftype {
    type Err = String;

    fn from_str(name: &str) -> Result<Ftype, String> {
        match name {
            "f16" => Ok(Ftype::F16),
            "q8_0" => Ok(Ftype::Q8_0),
            "q5_0" => Ok(Ftype::Q5_0),
            other => Err(format!("unknown type {other:?}: choose one of {}", Ftype::NAMES.join(", "))),
        }
    }
}

/// Element types of the GGML file, with whisper.cpp's codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TensorType {
    F32,
    F16,
    Q8_0,
    Q5_0,
}

impl TensorType {
    fn code(self) -> i32 {
        match self {
            TensorType::F32 => 0,
            TensorType::F16 => 1,
            TensorType::Q5_0 => 6,
            TensorType::Q8_0 => 8,
        }
    }

    fn of_matrix(ftype: Ftype) -> TensorType {
        match ftype {
            Ftype::F16 => TensorType::F16,
            Ftype::Q8_0 => TensorType::Q8_0,
            Ftype::Q5_0 => TensorType::Q5_0,
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

    /// Refuses dimensions whisper.cpp cannot run, with the reason.
    pub fn check(&self) -> Result<(), Error> {
        let refuse = |why: String| Err(Error::Convert(why));
        if self.n_mels != 80 && self.n_mels != 128 {
            return refuse(format!("{} mel bins: whisper.cpp runs Whisper with 80 or 128", self.n_mels));
        }
        if !(VOCAB_ENGLISH..=VOCAB_LARGE_V3).contains(&self.n_vocab) {
            return refuse(format!(
                "a vocabulary of {} tokens: Whisper's is {VOCAB_ENGLISH} (English-only) to {VOCAB_LARGE_V3} (large-v3)",
                self.n_vocab
            ));
        }
        for (side, state, heads) in
            [("encoder", self.n_audio_state, self.n_audio_head), ("decoder", self.n_text_state, self.n_text_head)]
        {
            if state % heads != 0 {
                return refuse(format!("the {side}'s width {state} does not divide into {heads} heads"));
            }
        }
        Ok(())
    }

    /// Whether the model transcribes other languages than English.
    pub fn multilingual(&self) -> bool {
        self.n_vocab > VOCAB_ENGLISH
    }

    /// The Whisper size these dimensions are, as whisper.cpp names them by encoder depth
    /// ("large-v3-turbo" for large-v3's encoder with 4 decoder layers).
    pub fn size_name(&self) -> String {
        let size = match self.n_audio_layer {
            4 => "tiny",
            6 => "base",
            12 => "small",
            24 => "medium",
            32 if self.n_mels == 128 && self.n_text_layer == 4 => "large-v3-turbo",
            32 if self.n_mels == 128 => "large-v3",
            32 => "large",
            _ => "unknown size",
        };
        if self.multilingual() { size.to_string() } else { format!("{size}.en") }
    }
}

/// One tensor ready to write: its whisper.cpp name, numpy-order shape, element type and values.
pub struct Tensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub kind: TensorType,
    values: Vec<f32>,
}

/// A tensor's name, numpy-order shape and type.
pub type Layout = (String, Vec<usize>, TensorType);

/// The tensors whisper.cpp's model definition declares.
pub fn expected_layout(hp: &Hparams, ftype: Ftype) -> Vec<Layout> {
    use TensorType::{F16, F32};
    let m = TensorType::of_matrix(ftype);
    let (a, t) = (hp.n_audio_state, hp.n_text_state);
    let mut out: Vec<Layout> = vec![
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
    let block = |prefix: &str, n: usize, cross: bool, out: &mut Vec<Layout>| {
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

/// Maps every CTranslate2 variable whisper.cpp needs to its GGML name, shape and type, handing
/// each to `sink` in turn so that a large model is never held in f32 all at once.
fn each_tensor(
    model: &Model,
    hp: &Hparams,
    ftype: Ftype,
    sink: &mut dyn FnMut(Tensor) -> Result<(), Error>,
) -> Result<(), Error> {
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
        sink(Tensor { name, shape, kind, values })
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
    Ok(())
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

/// The regular tokens' bytes, by id, from a Hugging Face `tokenizer.json`.
pub fn vocabulary(tokenizer_json: &[u8]) -> Result<Vec<Vec<u8>>, Error> {
    let parsed: TokenizerJson =
        serde_json::from_slice(tokenizer_json).map_err(|e| Error::Convert(format!("tokenizer.json: {e}")))?;
    regular_tokens(parsed.model.vocab.into_iter().map(|(text, id)| (id, text)))
}

/// The regular tokens' bytes, by id, from CTranslate2's own vocabulary file: one token per line
/// (`vocabulary.txt`) or a JSON list (`vocabulary.json`), in id order.
pub fn vocabulary_list(tokens: impl IntoIterator<Item = String>) -> Result<Vec<Vec<u8>>, Error> {
    regular_tokens(tokens.into_iter().enumerate())
}

/// Token texts spell bytes with GPT-2's printable byte↔unicode map, which is reversed here.
/// Ids without a regular token are empty.
fn regular_tokens(tokens: impl Iterator<Item = (usize, String)>) -> Result<Vec<Vec<u8>>, Error> {
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
    let mut out = vec![Vec::new(); N_TEXT_TOKENS];
    for (id, text) in tokens {
        if id < N_TEXT_TOKENS {
            out[id] = text
                .chars()
                .map(|c| unicode_to_byte.get(&c).copied())
                .collect::<Option<Vec<u8>>>()
                .ok_or_else(|| Error::Convert(format!("token {id} is not byte-level BPE")))?;
        }
    }
    Ok(out)
}

/// Writes the whole GGML file, with `vocab` from [`vocabulary`] or [`vocabulary_list`].
pub fn write(model: &Model, vocab: &[Vec<u8>], ftype: Ftype, out: &mut impl Write) -> Result<Hparams, Error> {
    let hp = Hparams::of(model)?;
    hp.check()?;
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
    for token in vocab {
        i32s(out, &[token.len()])?;
        out.write_all(token)?;
    }
    let mut written = Vec::new();
    each_tensor(model, &hp, ftype, &mut |t| {
        i32s(out, &[t.shape.len(), t.name.len()])?;
        out.write_all(&t.kind.code().to_le_bytes())?;
        i32s(out, &t.shape.iter().rev().copied().collect::<Vec<_>>())?;
        out.write_all(t.name.as_bytes())?;
        out.write_all(&encode(&t)?)?;
        written.push((t.name, t.shape, t.kind));
        Ok(())
    })?;
    // The caller makes the file visible only after this: a mismatch leaves nothing behind.
    check_layout(&written, &expected_layout(&hp, ftype))?;
    Ok(hp)
}

/// whisper.cpp refuses a file whose tensors differ from its definition in any name, shape or
/// type, with a message that names one tensor; this names them all, before anything is written.
fn check_layout(written: &[Layout], expected: &[Layout]) -> Result<(), Error> {
    let produced: std::collections::BTreeSet<_> = written.iter().map(|(n, s, k)| (n, s, *k)).collect();
    let wanted: std::collections::BTreeSet<_> = expected.iter().map(|(n, s, k)| (n, s, *k)).collect();
    let describe = |set: Vec<&(&String, &Vec<usize>, TensorType)>| {
        set.iter().take(5).map(|(n, s, k)| format!("{n} {s:?} {k:?}")).collect::<Vec<_>>().join(", ")
    };
    let missing: Vec<_> = wanted.difference(&produced).collect();
    let extra: Vec<_> = produced.difference(&wanted).collect();
    if missing.is_empty() && extra.is_empty() {
        return Ok(());
    }
    Err(Error::Convert(format!(
        "the model does not map onto whisper.cpp's Whisper: {} tensor(s) missing ({}), {} unexpected ({})",
        missing.len(),
        describe(missing.clone()),
        extra.len(),
        describe(extra.clone())
    )))
}

fn encode(t: &Tensor) -> Result<Vec<u8>, Error> {
    Ok(match t.kind {
        TensorType::F32 => t.values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        TensorType::F16 => t.values.iter().flat_map(|v| half::f16::from_f32(*v).to_le_bytes()).collect(),
        TensorType::Q8_0 | TensorType::Q5_0 => {
            if t.shape.last().is_none_or(|&row| row % QUANT_BLOCK != 0) {
                return Err(Error::Convert(format!(
                    "{}: rows of {:?} do not divide into blocks of {QUANT_BLOCK}: convert with --type f16",
                    t.name, t.shape
                )));
            }
            if t.kind == TensorType::Q8_0 { quantize_q8_0(&t.values) } else { quantize_q5_0(&t.values) }
        }
    })
}

/// ggml's reference q8_0: per 32 values, an f16 scale `max|x| / 127` and 32 rounded `i8`s.
fn quantize_q8_0(values: &[f32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.len() / QUANT_BLOCK * (2 + QUANT_BLOCK));
    for block in values.chunks_exact(QUANT_BLOCK) {
        let amax = block.iter().fold(0f32, |m, v| m.max(v.abs()));
        let scale = amax / 127.0;
        let inverse = if scale != 0.0 { 1.0 / scale } else { 0.0 };
        out.extend(half::f16::from_f32(scale).to_le_bytes());
        out.extend(block.iter().map(|v| (v * inverse).round() as i8 as u8));
    }
    out
}

/// ggml's reference q5_0 (`quantize_row_q5_0_ref`): per 32 values, an f16 scale `d = max / -16`
/// (`max` the value of largest magnitude, sign kept), then each value as `x / d + 16` truncated
/// to 0..=31: the low four bits packed two to a byte (value j with value j + 16), the fifth bits
/// in a `u32`, bit j for value j.
fn quantize_q5_0(values: &[f32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.len() / QUANT_BLOCK * (2 + 4 + QUANT_BLOCK / 2));
    for block in values.chunks_exact(QUANT_BLOCK) {
        let max = block.iter().fold(0f32, |m, &v| if v.abs() > m.abs() { v } else { m });
        let d = max / -16.0;
        let inverse = if d != 0.0 { 1.0 / d } else { 0.0 };
        // C's `(int8_t)(x + 16.5f)` truncates toward zero, then `MIN(31, …)`.
        let q = |v: f32| ((v * inverse + 16.5) as i8).min(31) as u8;
        let mut high_bits = 0u32;
        let mut low = [0u8; QUANT_BLOCK / 2];
        for j in 0..QUANT_BLOCK / 2 {
            let (a, b) = (q(block[j]), q(block[j + QUANT_BLOCK / 2]));
            low[j] = (a & 0x0F) | ((b & 0x0F) << 4);
            high_bits |= u32::from((a & 0x10) >> 4) << j;
            high_bits |= u32::from((b & 0x10) >> 4) << (j + QUANT_BLOCK / 2);
        }
        out.extend(half::f16::from_f32(d).to_le_bytes());
        out.extend(high_bits.to_le_bytes());
        out.extend(low);
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ct2::tests::write as write_ct2;

    /// The dimensions of a synthetic Whisper.
    #[derive(Clone, Copy)]
    pub struct Dims {
        pub state: usize,
        pub mels: usize,
        pub vocab: usize,
        pub audio_ctx: usize,
        pub text_ctx: usize,
        pub encoder_layers: usize,
        pub decoder_layers: usize,
    }

    /// Small enough to build in milliseconds, with a vocabulary and context whisper.cpp can run.
    pub const LOADABLE: Dims = Dims {
        state: 64,
        mels: 80,
        vocab: 51865,
        audio_ctx: 1500,
        text_ctx: 448,
        encoder_layers: 2,
        decoder_layers: 2,
    };

    const TINY: Dims =
        Dims { state: 32, mels: 4, vocab: 40, audio_ctx: 6, text_ctx: 5, encoder_layers: 2, decoder_layers: 2 };

    pub fn synthetic_whisper(d: Dims) -> Model {
        Model::parse(&synthetic_ct2(d)).unwrap()
    }

    /// A structurally complete Whisper's CTranslate2 `model.bin`, its values counting up from
    /// 0.001.
    pub fn synthetic_ct2(d: Dims) -> Vec<u8> {
        let n = d.state;
        let mut vars: Vec<(String, Vec<u32>, u8, Vec<u8>)> = Vec::new();
        let mut counter = 0f32;
        let mut f16 = |name: String, shape: &[usize]| {
            let data = (0..shape.iter().product::<usize>())
                .flat_map(|_| {
                    counter = (counter + 0.001) % 1.0;
                    half::f16::from_f32(counter).to_le_bytes()
                })
                .collect();
            (name, shape.iter().map(|&d| d as u32).collect(), 4u8, data)
        };
        vars.push(f16("encoder/conv1/weight".into(), &[n, d.mels, 3]));
        vars.push(f16("encoder/conv1/bias".into(), &[n]));
        vars.push(f16("encoder/conv2/weight".into(), &[n, n, 3]));
        vars.push(f16("encoder/conv2/bias".into(), &[n]));
        vars.push(f16("encoder/position_encodings/encodings".into(), &[d.audio_ctx, n]));
        vars.push(f16("decoder/position_encodings/encodings".into(), &[d.text_ctx, n]));
        vars.push(f16("decoder/embeddings/weight".into(), &[d.vocab, n]));
        for (side, layers) in [("encoder", d.encoder_layers), ("decoder", d.decoder_layers)] {
            vars.push(f16(format!("{side}/layer_norm/gamma"), &[n]));
            vars.push(f16(format!("{side}/layer_norm/beta"), &[n]));
            for i in 0..layers {
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
        write_ct2("WhisperSpec", &refs, &[("decoder/projection/weight", "decoder/embeddings/weight")])
    }

    fn tensors(model: &Model, hp: &Hparams, ftype: Ftype) -> Vec<Tensor> {
        let mut all = Vec::new();
        each_tensor(model, hp, ftype, &mut |t| {
            all.push(t);
            Ok(())
        })
        .unwrap();
        all
    }

    /// A vocabulary with every byte token, as any Whisper tokenizer has.
    pub fn byte_vocabulary() -> Vec<Vec<u8>> {
        (0..N_TEXT_TOKENS).map(|i| if i < 256 { vec![i as u8] } else { b"tok".to_vec() }).collect()
    }

    #[test]
    fn hparams_come_from_the_tensors() {
        let hp = Hparams::of(&synthetic_whisper(TINY)).unwrap();
        assert_eq!(
            (hp.n_vocab, hp.n_audio_ctx, hp.n_audio_state, hp.n_audio_head, hp.n_audio_layer),
            (40, 6, 32, 2, 2)
        );
        assert_eq!((hp.n_text_ctx, hp.n_text_state, hp.n_text_head, hp.n_text_layer, hp.n_mels), (5, 32, 2, 2, 4));
    }

    #[test]
    fn converter_produces_exactly_the_layout_whisper_cpp_declares() {
        // English-only with 80 mel bins; large-v3's vocabulary with 128; turbo's deep encoder
        // over a shallow decoder.
        let shapes = [
            Dims { vocab: 51864, ..LOADABLE },
            Dims { vocab: 51866, mels: 128, ..LOADABLE },
            Dims { vocab: 51866, mels: 128, encoder_layers: 6, decoder_layers: 1, ..LOADABLE },
        ];
        for dims in shapes {
            let model = synthetic_whisper(dims);
            let hp = Hparams::of(&model).unwrap();
            hp.check().unwrap();
            for ftype in [Ftype::F16, Ftype::Q8_0, Ftype::Q5_0] {
                let mut produced: Vec<_> =
                    tensors(&model, &hp, ftype).into_iter().map(|t| (t.name, t.shape, t.kind)).collect();
                let mut expected = expected_layout(&hp, ftype);
                produced.sort_by(|a, b| a.0.cmp(&b.0));
                expected.sort_by(|a, b| a.0.cmp(&b.0));
                assert_eq!(produced, expected);
            }
        }
    }

    #[test]
    fn every_size_is_named_as_whisper_cpp_names_it() {
        let hp = |vocab, mels, enc, dec| Hparams {
            n_vocab: vocab,
            n_audio_ctx: 1500,
            n_audio_state: 64,
            n_audio_head: 1,
            n_audio_layer: enc,
            n_text_ctx: 448,
            n_text_state: 64,
            n_text_head: 1,
            n_text_layer: dec,
            n_mels: mels,
        };
        assert_eq!(hp(51864, 80, 4, 4).size_name(), "tiny.en");
        assert_eq!(hp(51865, 80, 6, 6).size_name(), "base");
        assert_eq!(hp(51865, 80, 32, 32).size_name(), "large");
        assert_eq!(hp(51866, 128, 32, 32).size_name(), "large-v3");
        assert_eq!(hp(51866, 128, 32, 4).size_name(), "large-v3-turbo");
        assert!(!hp(51864, 80, 4, 4).multilingual() && hp(51866, 128, 32, 4).multilingual());
    }

    #[test]
    fn dimensions_whisper_cpp_cannot_run_are_refused_before_writing() {
        let err = write(&synthetic_whisper(TINY), &byte_vocabulary(), Ftype::F16, &mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("mel bins"), "{err}");
        let odd = synthetic_whisper(Dims { vocab: 50000, ..LOADABLE });
        let err = write(&odd, &byte_vocabulary(), Ftype::F16, &mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("51864"), "{err}");
    }

    #[test]
    fn a_tensor_layout_whisper_cpp_would_refuse_is_named_in_full() {
        let expected = vec![("a".to_string(), vec![2], TensorType::F32), ("b".to_string(), vec![2], TensorType::F32)];
        let written = vec![("a".to_string(), vec![3], TensorType::F32), ("b".to_string(), vec![2], TensorType::F32)];
        let err = check_layout(&written, &expected).unwrap_err().to_string();
        assert!(err.contains("1 tensor(s) missing (a [2] F32), 1 unexpected (a [3] F32)"), "{err}");
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
        let model = synthetic_whisper(TINY);
        let hp = Hparams::of(&model).unwrap();
        let all = tensors(&model, &hp, Ftype::F16);
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
    fn q5_0_matches_ggml_reference_packing() {
        // -16..=15: the largest magnitude is -16, so d = 1 and each value v is stored as v + 16.
        let values: Vec<f32> = (0..32).map(|i| i as f32 - 16.0).collect();
        let q = quantize_q5_0(&values);
        assert_eq!(q.len(), 22);
        assert_eq!(half::f16::from_le_bytes([q[0], q[1]]).to_f32(), 1.0);
        let high_bits = u32::from_le_bytes([q[2], q[3], q[4], q[5]]);
        let stored = |j: usize| {
            let low = if j < 16 { q[6 + j] & 0x0F } else { q[6 + j - 16] >> 4 };
            low | (((high_bits >> j) & 1) as u8) << 4
        };
        for (j, v) in values.iter().enumerate() {
            assert_eq!(stored(j), (v + 16.0) as u8, "value {j}");
        }
        // All zeros: a zero scale and every value at the midpoint 16.
        let zeros = quantize_q5_0(&[0.0; 32]);
        assert_eq!(u32::from_le_bytes([zeros[2], zeros[3], zeros[4], zeros[5]]), u32::MAX);
        assert!(zeros[6..].iter().all(|&b| b == 0));
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
        let listed = vocabulary_list(["Ġda", "Ã¦", "!"].map(String::from)).unwrap();
        assert_eq!(listed, v);
    }
}
