//! A run's results: per consultation, summarised over the corpus, and as CSV.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use transcript::Role;

use crate::note::{Ratio, Section};
use crate::record::{ConsultationResult, RunHeader};
use crate::speed::{Summary, summarise};
use crate::transcription::ErrorRates;

/// Everything a run produced: `results.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResults {
    pub header: RunHeader,
    pub summary: CorpusSummary,
    /// In manifest order; only consultations with a result.
    pub consultations: Vec<ConsultationResult>,
    /// Consultations not reached because the run was interrupted.
    pub pending: Vec<String>,
}

impl RunResults {
    /// Reads a run's `results.json`.
    pub fn load(out_dir: &Path) -> Result<RunResults, ResultsError> {
        let path = out_dir.join("results.json");
        let text =
            std::fs::read_to_string(&path).map_err(|source| ResultsError::Read { path: path.clone(), source })?;
        serde_json::from_str(&text).map_err(|source| ResultsError::Parse { path, source })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    #[error("cannot read {}: {source}; is this the --out of an `eval` run?", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{} is not a results file of this harness: {source}", path.display())]
    Parse { path: PathBuf, source: serde_json::Error },
}

/// Corpus-level numbers, over the consultations that finished without error. Error rates and
/// fact recall are micro-averages (all errors over all reference words, all facts found over
/// all facts); the other scores are summarised over consultations (mean, p50, p95).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CorpusSummary {
    pub evaluated: usize,
    pub failed: usize,
    pub wer: Option<f64>,
    pub cer: Option<f64>,
    pub wer_by_speaker: BTreeMap<Role, f64>,
    pub wer_per_consultation: Option<Summary>,
    /// Streaming WER minus offline WER, per consultation.
    pub streaming_wer_difference: Option<Summary>,
    /// The streaming transcripts against the offline ones, over the corpus.
    pub streaming_vs_offline_wer: Option<f64>,
    pub fact_recall: Option<f64>,
    pub fact_recall_by_section: BTreeMap<Section, Ratio>,
    pub section_placement: Option<f64>,
    pub statement_precision: Option<f64>,
    pub statements: usize,
    pub unsupported_statements: usize,
    pub rouge1_f1: Option<Summary>,
    pub rouge2_f1: Option<Summary>,
    pub rouge_l_f1: Option<Summary>,
    pub real_time_factor: Option<Summary>,
    pub hangup_to_draft_seconds: Option<Summary>,
    pub peak_memory_bytes: Option<Summary>,
    /// The headline numbers per consultation topic (`(no topic)` for those without one).
    pub by_topic: BTreeMap<String, TopicSummary>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TopicSummary {
    pub consultations: usize,
    pub wer: Option<f64>,
    pub fact_recall: Option<f64>,
    pub statement_precision: Option<f64>,
}

/// Micro-averaged word errors, facts found and statements supported over some consultations.
#[derive(Default)]
struct Totals {
    rates: ErrorRates,
    facts: Ratio,
    support: Ratio,
}

fn totals<'a>(consultations: impl IntoIterator<Item = &'a ConsultationResult>) -> Totals {
    let mut totals = Totals::default();
    for c in consultations {
        if let Some(t) = &c.transcription {
            totals.rates.add(&t.overall);
        }
        if let Some(n) = &c.note {
            if let Some(recall) = &n.fact_recall {
                totals.facts.add(recall);
            }
            totals.support.add(&n.statement_support);
        }
    }
    totals
}

pub(crate) fn summarise_run(consultations: &[ConsultationResult]) -> CorpusSummary {
    let ok: Vec<&ConsultationResult> = consultations.iter().filter(|c| c.error.is_none()).collect();
    let mut summary =
        CorpusSummary { evaluated: ok.len(), failed: consultations.len() - ok.len(), ..CorpusSummary::default() };

    let mut by_speaker: BTreeMap<Role, ErrorRates> = BTreeMap::new();
    let mut streaming_vs_offline = ErrorRates::default();
    let mut placement = Ratio::default();
    for c in &ok {
        if let Some(t) = &c.transcription {
            for (role, rates) in &t.by_speaker {
                by_speaker.entry(*role).or_default().add(rates);
            }
        }
        if let Some(s) = &c.streaming {
            streaming_vs_offline.add(&s.streaming_vs_offline);
        }
        if let Some(n) = &c.note {
            if let Some(placed) = &n.section_placement {
                placement.add(placed);
            }
            for (section, ratio) in &n.fact_recall_by_section {
                summary.fact_recall_by_section.entry(*section).or_default().add(ratio);
            }
        }
    }
    let Totals { rates, facts, support } = totals(ok.iter().copied());
    summary.wer = rates.wer();
    summary.cer = rates.cer();
    summary.wer_by_speaker = by_speaker.into_iter().filter_map(|(role, r)| Some((role, r.wer()?))).collect();
    summary.streaming_vs_offline_wer = streaming_vs_offline.wer();
    summary.fact_recall = facts.value();
    summary.section_placement = placement.value();
    summary.statement_precision = support.value();
    summary.statements = support.total;
    summary.unsupported_statements = support.total - support.hits;

    let series = |value: &dyn Fn(&ConsultationResult) -> Option<f64>| summarise(ok.iter().filter_map(|c| value(c)));
    summary.wer_per_consultation = series(&|c| c.transcription.as_ref()?.overall.wer());
    summary.streaming_wer_difference = series(&|c| c.streaming.as_ref()?.wer_difference);
    summary.rouge1_f1 = series(&|c| Some(c.note.as_ref()?.rouge?.rouge1.f1));
    summary.rouge2_f1 = series(&|c| Some(c.note.as_ref()?.rouge?.rouge2.f1));
    summary.rouge_l_f1 = series(&|c| Some(c.note.as_ref()?.rouge?.rouge_l.f1));
    summary.real_time_factor = series(&|c| c.speed.real_time_factor);
    summary.hangup_to_draft_seconds = series(&|c| c.speed.hangup_to_draft_seconds);
    summary.peak_memory_bytes = series(&|c| c.speed.peak_memory_bytes.map(|b| b as f64));

    let mut topics: BTreeMap<String, Vec<&ConsultationResult>> = BTreeMap::new();
    for c in &ok {
        let topic = c.topic.clone().unwrap_or_else(|| "(no topic)".to_string());
        topics.entry(topic).or_default().push(c);
    }
    summary.by_topic = topics
        .into_iter()
        .map(|(topic, members)| {
            let Totals { rates, facts, support } = totals(members.iter().copied());
            let numbers = TopicSummary {
                consultations: members.len(),
                wer: rates.wer(),
                fact_recall: facts.value(),
                statement_precision: support.value(),
            };
            (topic, numbers)
        })
        .collect();
    summary
}

/// The columns of `per_consultation.csv`, and how to read each from a result.
type Column = (&'static str, fn(&ConsultationResult) -> Option<String>);

fn number(value: Option<f64>) -> Option<String> {
    value.map(|v| format!("{v:.4}"))
}

fn speaker_wer(c: &ConsultationResult, role: Role) -> Option<String> {
    number(c.transcription.as_ref()?.by_speaker.get(&role)?.wer())
}

const COLUMNS: &[Column] = &[
    ("id", |c| Some(c.id.clone())),
    ("topic", |c| c.topic.clone()),
    ("status", |c| Some(if c.error.is_some() { "failed" } else { "ok" }.to_string())),
    ("error", |c| c.error.clone()),
    ("wer", |c| number(c.transcription.as_ref()?.overall.wer())),
    ("cer", |c| number(c.transcription.as_ref()?.overall.cer())),
    ("wer_doctor", |c| speaker_wer(c, Role::Doctor)),
    ("wer_patient", |c| speaker_wer(c, Role::Patient)),
    ("wer_other", |c| speaker_wer(c, Role::Other)),
    ("substitutions", |c| Some(c.transcription.as_ref()?.overall.words.substitutions.to_string())),
    ("deletions", |c| Some(c.transcription.as_ref()?.overall.words.deletions.to_string())),
    ("insertions", |c| Some(c.transcription.as_ref()?.overall.words.insertions.to_string())),
    ("reference_words", |c| Some(c.transcription.as_ref()?.overall.words.reference_len.to_string())),
    ("streaming_wer_difference", |c| number(c.streaming.as_ref()?.wer_difference)),
    ("fact_recall", |c| number(c.note.as_ref()?.fact_recall?.value())),
    ("section_placement", |c| number(c.note.as_ref()?.section_placement?.value())),
    ("statement_precision", |c| number(c.note.as_ref()?.statement_support.value())),
    ("unsupported_statements", |c| Some(c.note.as_ref()?.unsupported.len().to_string())),
    ("rouge1_f1", |c| number(Some(c.note.as_ref()?.rouge?.rouge1.f1))),
    ("rouge2_f1", |c| number(Some(c.note.as_ref()?.rouge?.rouge2.f1))),
    ("rougeL_f1", |c| number(Some(c.note.as_ref()?.rouge?.rouge_l.f1))),
    ("audio_seconds", |c| number(Some(c.speed.audio_seconds))),
    ("transcribe_seconds", |c| number(Some(c.speed.transcribe_seconds))),
    ("draft_seconds", |c| number(c.speed.draft_seconds)),
    ("real_time_factor", |c| number(c.speed.real_time_factor)),
    ("hangup_to_draft_seconds", |c| number(c.speed.hangup_to_draft_seconds)),
    ("peak_memory_mib", |c| number(c.speed.peak_memory_bytes.map(|b| b as f64 / 1_048_576.0))),
];

/// One row per consultation; an empty cell is a metric that does not apply (no reference, or
/// the stage did not run).
pub fn per_consultation_csv(consultations: &[ConsultationResult]) -> String {
    let mut out = COLUMNS.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(",");
    out.push('\n');
    for c in consultations {
        let row: Vec<String> =
            COLUMNS.iter().map(|(_, cell)| escape::csv_field(&cell(c).unwrap_or_default())).collect();
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}
