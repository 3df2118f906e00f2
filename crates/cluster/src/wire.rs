//! What gateways and workers say to each other over NATS: subjects, headers, and the plaintext
//! inside the sealed envelopes of `seal`.
//!
//! - A **job** is published to the work-queue stream on `autonotar.pass.<priority>` with the
//!   header `Autonotar-Pass: <gateway>.<n>` (also its `Nats-Msg-Id`, so a publish retried after
//!   a lost acknowledgement is stored once). Sealed plaintext: one byte for the pass kind
//!   (0 window, 1 utterance), then the 16 kHz samples as little-endian f32.
//! - A **result** is a core-NATS request from the worker to `autonotar.result.<gateway>` (the
//!   gateway is named by the pass id, which the seal authenticates) with headers
//!   `Autonotar-Pass`, `Autonotar-Worker` and `Autonotar-Delivery` (JetStream's delivery count).
//!   Sealed plaintext: [`Outcome`] as JSON. The gateway answers [`TAKEN`] once it holds the
//!   result (used or, when it already had one, dropped), and only then does the worker
//!   acknowledge the job.
//! - A **heartbeat** is published every second by each worker on `autonotar.workers`:
//!   [`Heartbeat`] as JSON, no personal data.

use server::decode::Priority;

pub const STREAM: &str = "AUTONOTAR_PASSES";
pub const PASS_SUBJECTS: &str = "autonotar.pass.*";
pub const HEARTBEATS: &str = "autonotar.workers";

pub const PASS_HEADER: &str = "Autonotar-Pass";
pub const WORKER_HEADER: &str = "Autonotar-Worker";
pub const DELIVERY_HEADER: &str = "Autonotar-Delivery";

/// The gateway's answer to a result it has taken.
pub const TAKEN: &[u8] = b"taken";
/// The gateway's answer to a result it could not open.
pub const REFUSED: &[u8] = b"refused";

pub fn pass_subject(priority: Priority) -> String {
    format!("autonotar.pass.{}", priority.name())
}

pub fn consumer_name(priority: Priority) -> String {
    format!("workers-{}", priority.name())
}

pub fn result_subject(gateway: &str) -> String {
    format!("autonotar.result.{gateway}")
}

/// The gateway a pass id belongs to: everything before its last dot.
pub fn gateway_of(pass_id: &str) -> Option<&str> {
    pass_id.rsplit_once('.').map(|(gateway, _)| gateway).filter(|g| valid_name(g))
}

/// A pass id as gateways make them: `<gateway>.<n>`. Anything else in a header is refused
/// before it reaches a log line or a subject.
pub fn valid_pass_id(id: &str) -> bool {
    id.rsplit_once('.')
        .is_some_and(|(gateway, n)| valid_name(gateway) && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Gateway and worker names go into subjects and metric labels: letters, digits, `-` and `_`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The job's plaintext, wiped from memory when dropped: it is audio.
pub fn encode_job(pass: asr::Pass, samples: &[f32]) -> zeroize::Zeroizing<Vec<u8>> {
    let mut out = zeroize::Zeroizing::new(Vec::with_capacity(1 + samples.len() * 4));
    out.push(match pass {
        asr::Pass::Window => 0,
        asr::Pass::Utterance => 1,
    });
    for sample in samples {
        out.extend_from_slice(&sample.to_le_bytes());
    }
    out
}

pub fn decode_job(bytes: &[u8]) -> Result<(asr::Pass, Vec<f32>), String> {
    let (&kind, body) = bytes.split_first().ok_or("an empty job")?;
    let pass = match kind {
        0 => asr::Pass::Window,
        1 => asr::Pass::Utterance,
        other => return Err(format!("unknown pass kind {other}")),
    };
    if body.len() % 4 != 0 {
        return Err(format!("{} bytes of samples is not a whole number of f32", body.len()));
    }
    let samples = body.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes"))).collect();
    Ok((pass, samples))
}

/// What a worker made of a job.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Whisper's segments, and the seconds the pass held the worker.
    Heard { recognized: Vec<asr::Recognized>, seconds: f64 },
    /// Whisper failed on this audio; another worker would fail the same way, so it is not
    /// retried.
    Failed { error: String },
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Heartbeat {
    pub worker: String,
    /// Random per start of the worker.
    pub instance: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_round_trips_exactly() {
        let samples = vec![0.0, -1.0, 0.25, f32::MIN_POSITIVE, 0.123_456_79];
        let bytes = encode_job(asr::Pass::Utterance, &samples);
        assert_eq!(decode_job(&bytes).unwrap(), (asr::Pass::Utterance, samples));
    }

    #[test]
    fn a_broken_job_is_an_error() {
        assert!(decode_job(b"").is_err());
        assert!(decode_job(&[7, 0, 0, 0, 0]).is_err());
        assert!(decode_job(&[0, 0, 0, 0]).is_err());
    }

    #[test]
    fn pass_ids_name_their_gateway() {
        assert_eq!(gateway_of("gw-1.42"), Some("gw-1"));
        assert_eq!(gateway_of("42"), None);
        assert_eq!(gateway_of("a.b.42"), None, "a dot would split the result subject");
        assert!(!valid_name("a b") && !valid_name("") && !valid_name("x>"));
        assert!(valid_pass_id("gw-1a2b3c4d.7"));
        for bad in ["gw.", "gw.7a", ".7", "g w.7", "gw.7\nforged log line", "a.b.7"] {
            assert!(!valid_pass_id(bad), "{bad:?}");
        }
    }
}
