//! The annotated consultation corpus (`fixtures/consultations/*.toml`) and the note's score on it.
//!
//! Scoring rules, so the figures in docs/note-drafting.md can be reproduced and checked:
//! * fact recall: a fact counts when every one of its words occurs (case-insensitive) in the
//!   draft's section of the same name;
//! * statement precision: a statement counts when its section is the annotated label of at
//!   least one utterance it cites;
//! * unsupported statements: statements in the finished draft that fail the verifier when
//!   re-checked against the annotated text of the utterances they cite (must be 0);
//! * classifier accuracy: utterances whose predicted label equals the annotated one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use transcript::{Role, Segment, Transcript};

use crate::{Draft, Error, Label, Section, verify};

#[derive(Debug, Clone, Deserialize)]
pub struct Consultation {
    pub id: String,
    pub split: String,
    #[serde(default)]
    pub reference_note: String,
    #[serde(default, rename = "utterance")]
    pub utterances: Vec<Utterance>,
    #[serde(default, rename = "fact")]
    pub facts: Vec<Fact>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Utterance {
    pub speaker: String,
    pub text: String,
    pub label: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Fact {
    pub section: String,
    pub words: Vec<String>,
}

/// Every `*.toml` in `dir`, sorted by file name.
pub fn load_dir(dir: &Path) -> Result<Vec<Consultation>, Error> {
    let read = |path: &Path, source| Error::Read { path: path.to_path_buf(), source };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| read(dir, e))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path).map_err(|e| read(path, e))?;
            toml::from_str(&text).map_err(|e| Error::BadTranscript { path: path.clone(), reason: e.to_string() })
        })
        .collect()
}

impl Consultation {
    /// The utterances as a typed transcript (nominal times, as `Transcript::parse_txt` gives).
    pub fn transcript(&self) -> Result<Transcript, Error> {
        let bad = |reason: String| Error::BadTranscript { path: PathBuf::from(&self.id), reason };
        let mut clock = 0.0;
        let mut segments = Vec::with_capacity(self.utterances.len());
        for (id, u) in self.utterances.iter().enumerate() {
            let speaker: Role = u.speaker.parse().map_err(|e: transcript::Error| bad(e.to_string()))?;
            let end = clock + u.text.split_whitespace().count().max(1) as f64 * 0.4;
            segments.push(Segment {
                id: id as u32,
                speaker,
                track: 0,
                start: clock,
                end,
                text: u.text.clone(),
                confidence: 1.0,
                words: Vec::new(),
            });
            clock = end;
        }
        Ok(Transcript { language: "da".into(), duration: clock, segments })
    }
}

/// Counts, summed over consultations.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Score {
    /// Per section label: (facts recalled, facts).
    pub facts: BTreeMap<String, (usize, usize)>,
    pub statements: usize,
    pub statements_in_annotated_section: usize,
    pub unsupported: usize,
    pub utterances: usize,
    pub utterances_labelled_right: usize,
    /// "consultation: section: words" for every fact not recalled.
    pub missed: Vec<String>,
}

impl Score {
    pub fn add(&mut self, consultation: &Consultation, draft: &Draft, labels: &[Label]) {
        for fact in &consultation.facts {
            let text = Section::from_label(&fact.section)
                .and_then(|s| draft.section(s))
                .map(|s| s.statements.iter().map(|st| st.text.to_lowercase()).collect::<Vec<_>>().join(" "))
                .unwrap_or_default();
            let found = fact.words.iter().all(|w| text.contains(&w.to_lowercase()));
            let entry = self.facts.entry(fact.section.clone()).or_default();
            entry.1 += 1;
            if found {
                entry.0 += 1;
            } else {
                self.missed.push(format!("{}: {}: {}", consultation.id, fact.section, fact.words.join(" + ")));
            }
        }
        for section in &draft.sections {
            for statement in &section.statements {
                self.statements += 1;
                let cited: Vec<&Utterance> =
                    statement.evidence.segments.iter().filter_map(|&id| consultation.utterances.get(id as usize)).collect();
                if cited.iter().any(|u| u.label == section.section.label()) {
                    self.statements_in_annotated_section += 1;
                }
                let said: Vec<&str> = cited.iter().map(|u| u.text.as_str()).collect();
                if cited.is_empty() || verify::verify(&statement.text, &said.join(" ")).is_err() {
                    self.unsupported += 1;
                }
            }
        }
        for (label, utterance) in labels.iter().zip(&consultation.utterances) {
            self.utterances += 1;
            let predicted = label.section.map_or("none", Section::label);
            if predicted == utterance.label {
                self.utterances_labelled_right += 1;
            }
        }
    }

    pub fn fact_recall(&self) -> f64 {
        let (found, total) = self.facts.values().fold((0, 0), |(f, t), (a, b)| (f + a, t + b));
        ratio(found, total)
    }

    pub fn statement_precision(&self) -> f64 {
        ratio(self.statements_in_annotated_section, self.statements)
    }

    pub fn classifier_accuracy(&self) -> f64 {
        ratio(self.utterances_labelled_right, self.utterances)
    }
}

pub fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 { f64::NAN } else { part as f64 / whole as f64 }
}
