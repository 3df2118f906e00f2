//! The interface between the harness and the system under test, and the reference pipeline.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use transcript::Transcript;

use crate::corpus::{ConsultationInput, Corpus};
use crate::note::{Draft, DraftSection, Section, Statement};

pub type PipelineError = Box<dyn std::error::Error + Send + Sync>;

/// How the audio is transcribed: the whole file after the call, or live while it plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AsrMode {
    Offline,
    Streaming,
}

/// A transcription as the pipeline produced it.
#[derive(Debug, Clone, PartialEq)]
pub struct TranscriptRun {
    pub transcript: Transcript,
    /// How long the transcript took to finish after the end of the audio (the hang-up). The
    /// streaming path reports it; `None` means all of the stage's wall time counts, which is
    /// right for offline transcription, where nothing starts before the hang-up.
    pub after_hangup_seconds: Option<f64>,
}

/// The system under test. The harness times each call itself (wall clock) and measures peak
/// memory around it, so implementations only do the work. Calls may come from several threads
/// at once when the run has more than one job.
pub trait Pipeline: Sync {
    /// What runs, for the report header: e.g. the ASR model and the drafter's version.
    fn describe(&self) -> String;

    fn transcribe(&self, input: &ConsultationInput, mode: AsrMode) -> Result<TranscriptRun, PipelineError>;

    /// Drafts the note from `transcript` (the pipeline's own, or the reference transcript when
    /// only the note stage is evaluated).
    fn draft(&self, input: &ConsultationInput, transcript: &Transcript) -> Result<Draft, PipelineError>;
}

/// The "reference" mode: the corpus's own reference transcript stands in for speech
/// recognition (identity ASR, in both modes), and the draft is the label oracle: every
/// transcript segment the corpus labels with a note section becomes one statement of that
/// section, citing that segment. It measures the harness and the rest of the pipeline without
/// a recogniser, gives the upper bound of a purely extractive drafter with perfect section
/// classification, and makes a corpus's scores reproducible on any machine.
pub struct ReferencePipeline {
    references: HashMap<String, LabelledReference>,
}

struct LabelledReference {
    transcript: Transcript,
    labels: Option<Vec<Option<Section>>>,
}

impl ReferencePipeline {
    /// Takes every reference transcript the corpus has. Consultations whose files do not load
    /// are left out: the harness reports their load error before it would call the pipeline.
    pub fn from_corpus(corpus: &Corpus) -> ReferencePipeline {
        let references = corpus
            .consultations
            .iter()
            .filter_map(|spec| {
                let consultation = spec.load().ok()?;
                let transcript = consultation.references.transcript?;
                Some((spec.id.clone(), LabelledReference { transcript, labels: consultation.references.labels }))
            })
            .collect();
        ReferencePipeline { references }
    }
}

impl Pipeline for ReferencePipeline {
    fn describe(&self) -> String {
        "reference (identity ASR from the reference transcript, label-oracle draft)".to_string()
    }

    fn transcribe(&self, input: &ConsultationInput, _mode: AsrMode) -> Result<TranscriptRun, PipelineError> {
        let reference = self.references.get(&input.id).ok_or_else(|| {
            format!("reference mode needs a reference transcript, and consultation {} has none", input.id)
        })?;
        Ok(TranscriptRun { transcript: reference.transcript.clone(), after_hangup_seconds: None })
    }

    fn draft(&self, input: &ConsultationInput, transcript: &Transcript) -> Result<Draft, PipelineError> {
        let labels = match self.references.get(&input.id).and_then(|r| r.labels.as_ref()) {
            Some(labels) => labels,
            None => {
                return Err(format!(
                    "reference mode drafts from the corpus's section labels, and consultation {} has none; evaluate it with --stages asr",
                    input.id
                )
                .into());
            }
        };
        if labels.len() != transcript.segments.len() {
            return Err(format!(
                "the label oracle needs the reference transcript ({} segments), got one with {}",
                labels.len(),
                transcript.segments.len()
            )
            .into());
        }
        let mut rendered = String::from("Videokonsultation.\n");
        let mut sections = Vec::new();
        for section in Section::ALL {
            let statements: Vec<Statement> = transcript
                .segments
                .iter()
                .zip(labels)
                .filter(|(_, label)| **label == Some(section))
                .map(|(segment, _)| Statement { text: segment.text.clone(), evidence: vec![segment.id] })
                .collect();
            if statements.is_empty() {
                continue;
            }
            let texts: Vec<&str> = statements.iter().map(|s| s.text.as_str()).collect();
            rendered.push_str(&format!("{}: {}\n", section.heading(), texts.join(" ")));
            sections.push(DraftSection { heading: section.heading().to_string(), statements });
        }
        Ok(Draft { sections, rendered })
    }
}
