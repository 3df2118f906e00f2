//! The transcript of a consultation: who said what, and when.
//!
//! Every stage after speech recognition speaks this type: the note drafter reads it, the vault
//! stores it, the review app shows it and the evaluation harness scores it. It owns the three
//! text formats the command line writes (`json`, `vtt`, `txt`) and the plain-text format that
//! researchers and tests write by hand (`Læge: …` / `Patient: …`, one utterance a line), and
//! [`Section`], the journal-note sections a transcript's utterances are sorted into, and
//! [`remove_echo`], which keeps the patient's words off the doctor's track when the doctor's
//! microphone hears the speakers.

pub mod echo;
mod section;

use std::fmt::{self, Write as _};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use echo::{remove_echo, take_out_echo};
pub use section::Section;

/// The part a participant plays in the call. One audio track carries one role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Doctor,
    Patient,
    /// Anyone else on a track of their own: a municipal carer, a relative, an interpreter.
    Other,
}

impl Role {
    /// The Danish label a journal and the review app use.
    pub fn danish(self) -> &'static str {
        match self {
            Role::Doctor => "Læge",
            Role::Patient => "Patient",
            Role::Other => "Anden",
        }
    }

    /// The default role of WAV channel `index`: 0 doctor, 1 patient, the rest other.
    pub fn for_channel(index: usize) -> Role {
        match index {
            0 => Role::Doctor,
            1 => Role::Patient,
            _ => Role::Other,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Doctor => "doctor",
            Role::Patient => "patient",
            Role::Other => "other",
        })
    }
}

impl FromStr for Role {
    type Err = Error;

    /// Accepts the English names of the command line and the Danish labels of transcripts.
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.trim().to_lowercase().as_str() {
            "doctor" | "læge" | "laege" => Ok(Role::Doctor),
            "patient" => Ok(Role::Patient),
            "other" | "anden" | "andet" | "pårørende" | "tolk" | "hjemmeplejen" => Ok(Role::Other),
            _ => Err(Error::UnknownRole(s.to_string())),
        }
    }
}

/// One recognised word (or word piece) with the recogniser's probability for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Word {
    pub text: String,
    /// Seconds from the start of the consultation.
    pub start: f64,
    pub end: f64,
    pub probability: f32,
}

/// A recognised word as two passes or two tracks are compared: case and punctuation do not
/// count ("Hej," and "hej" are the same word heard).
pub fn bare_word(text: &str) -> String {
    text.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// One stretch of speech by one speaker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    /// Stable within a transcript: notes cite segments by this id as evidence.
    pub id: u32,
    pub speaker: Role,
    /// The audio track (WAV channel) the segment came from.
    #[serde(default)]
    pub track: usize,
    /// Seconds from the start of the consultation.
    pub start: f64,
    pub end: f64,
    pub text: String,
    /// Mean token probability, 0–1; 1.0 for a transcript typed by a person.
    #[serde(default = "certain")]
    pub confidence: f32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub words: Vec<Word>,
}

fn certain() -> f32 {
    1.0
}

/// A whole consultation's transcript, segments in time order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Transcript {
    /// ISO 639-1 code of the language the recogniser was told to expect.
    pub language: String,
    /// Length of the audio in seconds (0 for a typed transcript without times).
    #[serde(default)]
    pub duration: f64,
    pub segments: Vec<Segment>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unknown role {0:?}: use doctor, patient or other")]
    UnknownRole(String),
    #[error("line {line}: {reason}")]
    BadLine { line: usize, reason: String },
    #[error("not a transcript JSON file: {0}")]
    Json(#[from] serde_json::Error),
}

impl Transcript {
    /// Merges per-track segment lists into one time-ordered transcript and numbers the
    /// segments from 0 in that order. Ties keep track order so the result is deterministic.
    pub fn merge(language: &str, duration: f64, tracks: Vec<Vec<Segment>>) -> Transcript {
        let mut segments: Vec<Segment> = tracks.into_iter().flatten().collect();
        segments.sort_by(|a, b| a.start.total_cmp(&b.start).then(a.track.cmp(&b.track)));
        for (id, segment) in segments.iter_mut().enumerate() {
            segment.id = id as u32;
        }
        Transcript { language: language.to_string(), duration, segments }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a transcript always serialises")
    }

    pub fn from_json(text: &str) -> Result<Transcript, Error> {
        Ok(serde_json::from_str(text)?)
    }

    /// WebVTT with one cue per segment and the speaker as a voice tag.
    pub fn to_vtt(&self) -> String {
        let mut out = String::from("WEBVTT\n");
        for s in &self.segments {
            let _ = write!(
                out,
                "\n{}\n{} --> {}\n<v {}>{}\n",
                s.id,
                vtt_time(s.start),
                vtt_time(s.end),
                s.speaker.danish(),
                escape_vtt(&s.text)
            );
        }
        out
    }

    /// The plain-text format: `[mm:ss] Læge: text`, one segment a line. [`Transcript::parse_txt`]
    /// reads it back.
    pub fn to_txt(&self) -> String {
        let mut out = String::new();
        for s in &self.segments {
            let _ = writeln!(out, "[{}] {}: {}", clock(s.start), s.speaker.danish(), s.text);
        }
        out
    }

    /// Reads a typed transcript: one utterance a line, `Læge:` / `Patient:` / `Anden:` (or the
    /// English role names), optionally preceded by a `[mm:ss]` or `[hh:mm:ss]` time. Blank lines
    /// and lines starting with `#` are skipped. Without times, each utterance gets a nominal
    /// slot of its word count at 150 words a minute, so evidence spans still order correctly.
    pub fn parse_txt(text: &str) -> Result<Transcript, Error> {
        let mut segments = Vec::new();
        let mut clock_now = 0.0_f64;
        for (index, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |reason: &str| Error::BadLine { line: index + 1, reason: reason.to_string() };
            let (time, rest) = match line.strip_prefix('[') {
                Some(after) => {
                    let (stamp, rest) = after.split_once(']').ok_or_else(|| bad("'[' without a closing ']'"))?;
                    let seconds = parse_clock(stamp).ok_or_else(|| bad("the time must be [mm:ss] or [hh:mm:ss]"))?;
                    (Some(seconds), rest.trim_start())
                }
                None => (None, line),
            };
            let (who, said) = rest.split_once(':').ok_or_else(|| bad("expected 'Læge: …' or 'Patient: …'"))?;
            let speaker: Role = who
                .parse()
                .map_err(|_| bad(&format!("unknown speaker {:?}: use Læge, Patient or Anden", who.trim())))?;
            let said = said.trim();
            let start = time.unwrap_or(clock_now).max(clock_now);
            let end = start + (said.split_whitespace().count().max(1) as f64) * 0.4;
            clock_now = end;
            segments.push(Segment {
                id: segments.len() as u32,
                speaker,
                track: match speaker {
                    Role::Doctor => 0,
                    Role::Patient => 1,
                    Role::Other => 2,
                },
                start,
                end,
                text: said.to_string(),
                confidence: 1.0,
                words: Vec::new(),
            });
        }
        Ok(Transcript { language: "da".into(), duration: clock_now, segments })
    }
}

fn vtt_time(seconds: f64) -> String {
    let millis = (seconds.max(0.0) * 1000.0).round() as u64;
    format!("{:02}:{:02}:{:02}.{:03}", millis / 3_600_000, millis / 60_000 % 60, millis / 1000 % 60, millis % 1000)
}

fn clock(seconds: f64) -> String {
    let whole = seconds.max(0.0).floor() as u64;
    if whole >= 3600 {
        format!("{:02}:{:02}:{:02}", whole / 3600, whole / 60 % 60, whole % 60)
    } else {
        format!("{:02}:{:02}", whole / 60, whole % 60)
    }
}

fn parse_clock(stamp: &str) -> Option<f64> {
    let parts: Vec<u64> = stamp.trim().split(':').map(|p| p.parse().ok()).collect::<Option<_>>()?;
    let seconds = match parts[..] {
        [m, s] if s < 60 => m * 60 + s,
        [h, m, s] if m < 60 && s < 60 => h * 3600 + m * 60 + s,
        _ => return None,
    };
    Some(seconds as f64)
}

/// A cue's text must not contain `-->` or tag brackets; the spec's escapes keep the words.
fn escape_vtt(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(track: usize, start: f64, text: &str) -> Segment {
        Segment {
            id: 99,
            speaker: Role::for_channel(track),
            track,
            start,
            end: start + 1.0,
            text: text.into(),
            confidence: 0.9,
            words: vec![],
        }
    }

    #[test]
    fn merge_orders_by_time_and_renumbers() {
        let t = Transcript::merge(
            "da",
            10.0,
            vec![vec![segment(0, 0.0, "a"), segment(0, 5.0, "c")], vec![segment(1, 2.0, "b")]],
        );
        let order: Vec<_> = t.segments.iter().map(|s| (s.id, s.text.as_str())).collect();
        assert_eq!(order, [(0, "a"), (1, "b"), (2, "c")]);
        assert_eq!(t.segments[1].speaker, Role::Patient);
    }

    #[test]
    fn txt_round_trip_keeps_speakers_times_and_text() {
        let typed =
            "# en kommentar\n[00:03] Læge: Hvad kan jeg hjælpe med?\n\n[01:05] Patient: Jeg har ondt i halsen.\n";
        let t = Transcript::parse_txt(typed).unwrap();
        assert_eq!(t.segments.len(), 2);
        assert_eq!(t.segments[0].speaker, Role::Doctor);
        assert_eq!(t.segments[1].start, 65.0);
        assert_eq!(t.to_txt(), "[00:03] Læge: Hvad kan jeg hjælpe med?\n[01:05] Patient: Jeg har ondt i halsen.\n");
    }

    #[test]
    fn txt_without_times_gets_increasing_nominal_times() {
        let t = Transcript::parse_txt("Læge: Goddag.\nPatient: Goddag, doktor.\nlæge: Nå?").unwrap();
        assert!(t.segments.windows(2).all(|w| w[0].end <= w[1].start));
    }

    #[test]
    fn txt_errors_name_the_line() {
        let err = Transcript::parse_txt("Læge: ja\nSygeplejerske ja").unwrap_err().to_string();
        assert!(err.starts_with("line 2:"), "{err}");
        let err = Transcript::parse_txt("Læge: ja\nKat: mjav").unwrap_err().to_string();
        assert!(err.contains("unknown speaker \"Kat\""), "{err}");
        assert!(Transcript::parse_txt("[99:99] Læge: ja").is_err());
    }

    #[test]
    fn vtt_has_voice_tags_and_escapes() {
        let t = Transcript::merge("da", 2.0, vec![vec![segment(0, 61.5, "a < b")]]);
        assert_eq!(t.to_vtt(), "WEBVTT\n\n0\n00:01:01.500 --> 00:01:02.500\n<v Læge>a &lt; b\n");
    }

    #[test]
    fn json_round_trip() {
        let t = Transcript::merge("da", 2.0, vec![vec![segment(1, 0.5, "hej")]]);
        assert_eq!(Transcript::from_json(&t.to_json()).unwrap(), t);
        assert!(Transcript::from_json("{ not json").is_err());
    }
}
