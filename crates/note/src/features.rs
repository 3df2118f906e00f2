//! The classifier's input vector, computed exactly as `models/classifier/train.py` computes it.
//!
//! Both sides must agree bit for bit on which bucket a feature lands in, so the hash is the
//! simplest well-known one (32-bit FNV-1a over UTF-8) and the token rule is "lowercase, split on
//! anything that is not alphanumeric". The layout is documented in the training script.

use transcript::Role;

pub const HASH_DIM: usize = 1 << 14;
const ROLES: usize = 3;
const POSITION_BINS: usize = 5;
/// Length of one utterance's feature vector.
pub const FEATURE_DIM: usize = HASH_DIM + ROLES + POSITION_BINS;
/// Names the feature layout; the model's metadata must carry the same string.
pub const FEATURE_VERSION: &str = "autonotar-hash-v1";

/// Lowercased alphanumeric runs.
pub fn tokens(text: &str) -> Vec<String> {
    text.to_lowercase().split(|c: char| !c.is_alphanumeric()).filter(|t| !t.is_empty()).map(str::to_string).collect()
}

pub fn fnv1a(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5_u32, |hash, byte| (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193))
}

fn feature_strings(text: &str, previous: &str) -> Vec<String> {
    let words = tokens(text);
    let mut out: Vec<String> = words.iter().map(|w| format!("w:{w}")).collect();
    out.extend(words.windows(2).map(|pair| format!("b:{} {}", pair[0], pair[1])));
    for word in &words {
        let padded: Vec<char> = format!("<{word}>").chars().collect();
        for n in 3..=5 {
            out.extend(padded.windows(n).map(|gram| format!("c:{}", gram.iter().collect::<String>())));
        }
    }
    out.extend(tokens(previous).iter().map(|w| format!("p:{w}")));
    if text.contains('?') {
        out.push("q:1".into());
    }
    if previous.contains('?') {
        out.push("pq:1".into());
    }
    out
}

/// The feature vector of utterance `index` of `count`, said by `role` after `previous`.
pub fn features(text: &str, previous: &str, role: Role, index: usize, count: usize) -> Vec<f32> {
    let mut hashed = vec![0.0_f64; HASH_DIM];
    for feature in feature_strings(text, previous) {
        hashed[fnv1a(&feature) as usize % HASH_DIM] += 1.0;
    }
    let norm = hashed.iter().map(|v| v * v).sum::<f64>().sqrt();
    let mut out: Vec<f32> = hashed.iter().map(|v| if norm > 0.0 { (v / norm) as f32 } else { 0.0 }).collect();
    out.resize(FEATURE_DIM, 0.0);
    let role_index = match role {
        Role::Doctor => 0,
        Role::Patient => 1,
        Role::Other => 2,
    };
    out[HASH_DIM + role_index] = 1.0;
    let bin = (POSITION_BINS * index / count.max(1)).min(POSITION_BINS - 1);
    out[HASH_DIM + ROLES + bin] = 1.0;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_published_test_vectors() {
        assert_eq!(fnv1a(""), 0x811c_9dc5);
        assert_eq!(fnv1a("a"), 0xe40c_292c);
        assert_eq!(fnv1a("foobar"), 0xbf9c_f968);
    }

    #[test]
    fn tokens_keep_danish_letters_and_split_on_punctuation() {
        assert_eq!(tokens("Ja, ØH: 38,5 grader!"), ["ja", "øh", "38", "5", "grader"]);
    }

    #[test]
    fn vector_has_unit_hashed_part_role_and_position() {
        let v = features("Har du feber?", "Goddag.", Role::Doctor, 9, 10);
        assert_eq!(v.len(), FEATURE_DIM);
        let norm: f32 = v[..HASH_DIM].iter().map(|x| x * x).sum();
        assert!((norm - 1.0).abs() < 1e-5);
        assert_eq!(v[HASH_DIM], 1.0);
        assert_eq!(v[FEATURE_DIM - 1], 1.0);
    }
}
