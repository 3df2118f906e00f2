//! What a run records: its reproducibility header and each consultation's result, the types
//! `run.json`, `consultations/<id>.json`, `results.json` and every report are made of. The run
//! writes them, the summaries and the reports read them; none of those depends on another
//! through them.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::corpus::ConsultationSpec;
use crate::note::NoteScores;
use crate::provenance::{ConfigRecord, FileDigest, Machine};
use crate::speed::Speed;
use crate::transcription::{ErrorRates, TranscriptionScores};

/// Which stages run. The note stage alone drafts from the reference transcript, which
/// measures drafting without recognition errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stages {
    pub asr: bool,
    pub note: bool,
}

impl Default for Stages {
    fn default() -> Stages {
        Stages { asr: true, note: true }
    }
}

impl FromStr for Stages {
    type Err = String;

    /// `asr`, `note` or `asr,note`.
    fn from_str(s: &str) -> Result<Stages, String> {
        let mut stages = Stages { asr: false, note: false };
        for stage in s.split(',').map(str::trim) {
            match stage {
                "asr" => stages.asr = true,
                "note" => stages.note = true,
                other => {
                    return Err(format!("unknown stage {other:?}: use asr, note or asr,note"));
                }
            }
        }
        Ok(stages)
    }
}

impl fmt::Display for Stages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = [(self.asr, "asr"), (self.note, "note")].iter().filter(|s| s.0).map(|s| s.1).collect();
        f.write_str(&names.join(","))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CorpusRecord {
    pub name: String,
    pub description: Option<String>,
    pub manifest: PathBuf,
    pub manifest_sha256: String,
    pub consultations: usize,
}

/// The reproducibility header of a run (`run.json`, and the top of every report).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunHeader {
    pub harness_version: String,
    pub started: String,
    pub finished: Option<String>,
    /// False while running and after an interruption.
    pub complete: bool,
    pub git_revision: Option<String>,
    pub pipeline: String,
    pub corpus: CorpusRecord,
    pub stages: Stages,
    pub streaming: bool,
    pub jobs: usize,
    pub seed: u64,
    pub config: Option<ConfigRecord>,
    pub models: Vec<FileDigest>,
    pub machine: Machine,
}

impl RunHeader {
    /// The settings that must match for a run to be resumed into the same directory: the
    /// first that differs, with its value then and now.
    pub(crate) fn differs_from(&self, other: &RunHeader) -> Option<(&'static str, String, String)> {
        let pairs = [
            ("corpus manifest", self.corpus.manifest_sha256.clone(), other.corpus.manifest_sha256.clone()),
            ("pipeline", self.pipeline.clone(), other.pipeline.clone()),
            ("stages", self.stages.to_string(), other.stages.to_string()),
            ("streaming", self.streaming.to_string(), other.streaming.to_string()),
            ("seed", self.seed.to_string(), other.seed.to_string()),
            ("config", digest_of(&self.config), digest_of(&other.config)),
            ("model files", models_of(&self.models), models_of(&other.models)),
            // Results of two code revisions or two machines must not be mixed in one table.
            (
                "git revision",
                self.git_revision.clone().unwrap_or_default(),
                other.git_revision.clone().unwrap_or_default(),
            ),
            ("machine", format!("{:?}", self.machine), format!("{:?}", other.machine)),
        ];
        pairs.into_iter().find(|(_, a, b)| a != b)
    }
}

fn digest_of(config: &Option<ConfigRecord>) -> String {
    config.as_ref().map_or_else(|| "none".to_string(), |c| c.sha256.clone())
}

fn models_of(models: &[FileDigest]) -> String {
    models.iter().map(|m| m.sha256.as_str()).collect::<Vec<_>>().join(",")
}

/// Whether the streaming path agrees with offline transcription.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamingComparison {
    /// The offline transcript against the reference.
    pub offline: Option<TranscriptionScores>,
    pub offline_real_time_factor: Option<f64>,
    /// The streaming transcript against the offline one, taken as the reference.
    pub streaming_vs_offline: ErrorRates,
    /// Streaming WER minus offline WER (both against the reference).
    pub wer_difference: Option<f64>,
}

/// Which references a consultation had.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferencesPresent {
    pub transcript: bool,
    pub note: bool,
    pub facts: bool,
}

/// Everything measured about one consultation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsultationResult {
    pub id: String,
    pub topic: Option<String>,
    /// Why the consultation failed; the fields that were measured before the failure stay.
    pub error: Option<String>,
    pub references: ReferencesPresent,
    pub transcription: Option<TranscriptionScores>,
    pub streaming: Option<StreamingComparison>,
    pub note: Option<NoteScores>,
    pub speed: Speed,
}

impl ConsultationResult {
    pub(crate) fn new(spec: &ConsultationSpec) -> ConsultationResult {
        ConsultationResult {
            id: spec.id.clone(),
            topic: spec.metadata.topic.clone(),
            error: None,
            references: ReferencesPresent::default(),
            transcription: None,
            streaming: None,
            note: None,
            speed: Speed::default(),
        }
    }
}
