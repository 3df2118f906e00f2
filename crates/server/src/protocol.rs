//! The ingest protocol's messages, exactly as they travel (docs/ingest-protocol.md).

use ids::{ConsultationId, Id};
use serde::{Deserialize, Serialize};
use transcript::{Role, Transcript};

/// Bytes in front of every binary audio frame: `u8` track index, `u32` LE sequence number.
pub const FRAME_HEADER: usize = 5;
/// Sample rates a live track may declare: what telephony and video platforms send. (Files may
/// have more: [`audio::FILE_RATES`].)
pub const TRACK_RATES: std::ops::RangeInclusive<u32> = 8_000..=48_000;
/// Most tracks one consultation may have, live or in a file: one per participant.
pub const MAX_TRACKS: usize = audio::MAX_CHANNELS;

/// JSON messages from the client.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMessage {
    /// Opens a consultation, or resumes it after a lost connection (same `consultation`).
    Start(Start),
    /// The call has ended: flush, build the transcript, draft the note.
    Stop,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Start {
    /// Opaque id from the video session; the key for resuming.
    pub consultation: String,
    pub doctor: String,
    pub tracks: Vec<TrackSpec>,
    /// The patient agreed to the recording. Without `true` nothing is accepted or stored.
    #[serde(default)]
    pub consent: bool,
    /// On a resume: the `resume_token` the server sent in `started`. Only the client that
    /// opened the consultation has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_token: Option<String>,
    /// Also send `interim_draft` events: the note drafted from the text committed so far,
    /// while the call goes on (each first sending to a connection is audited).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interim_draft: bool,
}

impl Start {
    /// The ids, under the one rule the audit log and the vault share: what is transcribed can
    /// always be audited and stored.
    pub fn ids(&self) -> Result<(ConsultationId, Id), ServerMessage> {
        let bad =
            |e: ids::InvalidId| error(ErrorCode::BadStart, format!("{e}; use the opaque id of the video session"));
        Ok((ConsultationId::new(self.consultation.as_str()).map_err(bad)?, Id::new(self.doctor.as_str()).map_err(bad)?))
    }

    /// 1 to [`MAX_TRACKS`] tracks with distinct ids, each at a rate in [`TRACK_RATES`].
    pub fn validate_tracks(&self) -> Result<(), ServerMessage> {
        let tracks = &self.tracks;
        let bad = |message: String| Err(error(ErrorCode::BadStart, message));
        if tracks.is_empty() || tracks.len() > MAX_TRACKS {
            return bad(format!("declare 1 to {MAX_TRACKS} tracks"));
        }
        for (i, track) in tracks.iter().enumerate() {
            if !TRACK_RATES.contains(&track.sample_rate) {
                return bad(format!(
                    "track {:?}: sample rate {} Hz is outside {}–{} Hz",
                    track.id,
                    track.sample_rate,
                    TRACK_RATES.start(),
                    TRACK_RATES.end()
                ));
            }
            if tracks[..i].iter().any(|t| t.id == track.id) {
                return bad(format!("track id {:?} is declared twice", track.id));
            }
        }
        Ok(())
    }
}

/// A protocol error for the client.
pub fn error(code: ErrorCode, message: impl Into<String>) -> ServerMessage {
    ServerMessage::Error { code, message: message.into() }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackSpec {
    pub id: String,
    pub role: Role,
    pub sample_rate: u32,
    pub encoding: Encoding,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    PcmS16le,
    F32le,
}

impl Encoding {
    pub fn bytes_per_sample(self) -> usize {
        match self {
            Encoding::PcmS16le => 2,
            Encoding::F32le => 4,
        }
    }

    /// Samples as f32 in [-1, 1]; `None` when the byte count is not whole samples.
    pub fn decode(self, bytes: &[u8]) -> Option<Vec<f32>> {
        if !bytes.len().is_multiple_of(self.bytes_per_sample()) {
            return None;
        }
        Some(match self {
            Encoding::PcmS16le => {
                bytes.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]]) as f32 / 32768.0).collect()
            }
            Encoding::F32le => bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                // NaN or a blown-up float is not audio: silence it rather than feed it to the models.
                .map(|s| if s.is_finite() { s.clamp(-1.0, 1.0) } else { 0.0 })
                .collect(),
        })
    }

    pub fn encode(self, samples: &[f32], out: &mut Vec<u8>) {
        for &s in samples {
            match self {
                // The inverse of `decode`, so 16-bit audio crosses the wire unchanged.
                Encoding::PcmS16le => out.extend_from_slice(
                    &((s * 32768.0).round().clamp(i16::MIN as f32, i16::MAX as f32) as i16).to_le_bytes(),
                ),
                Encoding::F32le => out.extend_from_slice(&s.to_le_bytes()),
            }
        }
    }
}

/// Builds one binary audio frame.
pub fn frame(track: u8, sequence: u32, encoding: Encoding, samples: &[f32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(FRAME_HEADER + samples.len() * encoding.bytes_per_sample());
    out.push(track);
    out.extend_from_slice(&sequence.to_le_bytes());
    encoding.encode(samples, &mut out);
    out
}

/// Splits a binary frame into (track index, sequence, payload).
pub fn parse_frame(bytes: &[u8]) -> Option<(usize, u32, &[u8])> {
    let header = bytes.get(..FRAME_HEADER)?;
    Some((header[0] as usize, u32::from_le_bytes([header[1], header[2], header[3], header[4]]), &bytes[FRAME_HEADER..]))
}

/// What the server sends, as JSON text frames (`ClientMessage` is the other way).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// A new consultation is open; send frames from sequence 0 on every track. Keep
    /// `resume_token` (in memory only): a resume after a lost connection must send it.
    Started {
        consultation: String,
        next_sequence: Vec<u32>,
        resume_token: String,
    },
    /// A known consultation continues: send each track's frames from `next_sequence` on.
    Resumed {
        consultation: String,
        next_sequence: Vec<u32>,
    },
    /// Text that will not change. `segment` numbers commits in the order they were made.
    Committed(Piece),
    /// Tentative text of speech still going on; replaced by the next partial or commit on the track.
    Partial(Piece),
    /// Frames `expected..got` of a track never arrived; their length in silence was put in
    /// their place so the tracks stay aligned.
    Gap {
        track: usize,
        expected: u32,
        got: u32,
        silence_seconds: f64,
    },
    /// A frame that was already received came again and was dropped.
    Duplicate {
        track: usize,
        sequence: u32,
        expected: u32,
    },
    /// The session stopped taking audio: `client` (stop message) or `idle_timeout`.
    Stopped {
        reason: String,
    },
    /// The final transcript and the note draft (`null` when no drafter ran or it failed:
    /// then `draft_error` says why).
    DraftReady {
        consultation: String,
        transcript: Box<Transcript>,
        draft: Option<Box<note::Draft>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        draft_error: Option<String>,
    },
    /// Only to a client whose `start` asked for it: the note drafted from the first `commits`
    /// committed segments (never from partial text), replaced by the next one and, at hang-up,
    /// by `draft_ready`'s. Its evidence indexes the committed segments in time order.
    InterimDraft {
        commits: u32,
        draft: Box<note::Draft>,
    },
    Error {
        code: ErrorCode,
        message: String,
    },
}

/// A stretch of recognised text on one track; times in seconds from the track's start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Piece {
    pub track: usize,
    pub speaker: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<u32>,
    pub start: f64,
    pub end: f64,
    pub text: String,
    #[serde(rename = "final")]
    pub is_final: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// A text message that is not one of the protocol's JSON messages.
    MalformedMessage,
    /// Audio or `stop` before a `start`.
    NotStarted,
    /// `start` without `consent: true`: the session is refused and nothing is stored.
    ConsentRequired,
    /// `start` with invalid fields (no tracks, a rate outside 8–48 kHz, an empty id …).
    BadStart,
    /// A second `start` on a connection, or a resume whose tracks differ from the original.
    SessionMismatch,
    /// A frame for a track index the `start` did not declare.
    UnknownTrack,
    /// A frame larger than the server's `max_frame_bytes`.
    FrameTooLarge,
    /// A frame shorter than its header, or with a partial sample.
    BadFrame,
    /// A sequence jump too large to fill with silence.
    GapTooLarge,
    /// The server already runs its maximum number of sessions.
    Busy,
    /// The consultation has stopped: no more audio is accepted.
    Stopped,
    /// Another connection resumed this consultation; this one is closed.
    Superseded,
    /// Recognition failed on a track; the rest of the consultation goes on.
    TranscriptionFailed,
    /// A `start` for a consultation another client opened, or a resume without its token:
    /// refused, nothing of the consultation is sent.
    NotOwner,
    /// The id is already kept in the vault (a finished consultation); a new call needs a new id.
    ConsultationExists,
    /// The server cannot record the consultation (its audit log or vault failed): nothing is taken.
    Unavailable,
    /// No `start` arrived in time after the connection opened.
    StartTimeout,
    /// The server is shutting down; the consultation was stopped and its draft stored.
    ShuttingDown,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_short_ones_are_refused() {
        let samples = [0.0, 0.5, -0.5, 1.0];
        let bytes = frame(1, 77, Encoding::PcmS16le, &samples);
        let (track, seq, payload) = parse_frame(&bytes).unwrap();
        assert_eq!((track, seq), (1, 77));
        let back = Encoding::PcmS16le.decode(payload).unwrap();
        assert!(back.iter().zip(samples).all(|(a, b)| (a - b).abs() < 1e-4));
        // 16-bit audio (as a WAV file holds it) crosses the wire exactly, every value of it.
        let every: Vec<f32> = (i16::MIN..=i16::MAX).map(|v| v as f32 / 32768.0).collect();
        let (_, _, payload) =
            parse_frame(&frame(0, 0, Encoding::PcmS16le, &every)).map(|(t, s, p)| (t, s, p.to_vec())).unwrap();
        assert_eq!(Encoding::PcmS16le.decode(&payload).unwrap(), every);
        assert!(parse_frame(&[1, 2, 3]).is_none());
        assert!(Encoding::PcmS16le.decode(&[1, 2, 3]).is_none());
        assert_eq!(Encoding::F32le.decode(&f32::NAN.to_le_bytes()).unwrap(), vec![0.0]);
    }

    #[test]
    fn start_parses_from_the_documented_json() {
        let json = r#"{"type":"start","consultation":"c-1","doctor":"d-7","consent":true,
            "tracks":[{"id":"a","role":"doctor","sample_rate":48000,"encoding":"pcm_s16le"},
                      {"id":"b","role":"patient","sample_rate":16000,"encoding":"f32le"}]}"#;
        let ClientMessage::Start(start) = serde_json::from_str(json).unwrap() else { panic!("not a start") };
        assert!(start.consent);
        assert_eq!(start.tracks[1].encoding, Encoding::F32le);
        let no_consent = r#"{"type":"start","consultation":"c","doctor":"d","tracks":[]}"#;
        let ClientMessage::Start(start) = serde_json::from_str(no_consent).unwrap() else { panic!() };
        assert!(!start.consent, "consent is never assumed");
    }
}
