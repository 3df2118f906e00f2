//! The note draft: sections of statements, each with the evidence it rests on.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use transcript::Transcript;

use crate::classifier::Section;
use crate::verify::verify;

/// What kind of content a statement carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Symptom,
    Measurement,
    Medication,
    Allergy,
    PlanAction,
    /// What was said, shortened to note style, where no rule extracts structure.
    Summary,
}

/// How a medication changes at this consultation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Already taken; no change.
    Current,
    Started,
    Increased,
    Decreased,
    Stopped,
    Renewed,
}

/// A structured value extracted from the transcript.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Value {
    Symptom {
        name: String,
        present: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        duration: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        onset: Option<String>,
    },
    Measurement {
        name: String,
        value: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        unit: Option<String>,
    },
    Medication {
        name: String,
        atc: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        dose: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        frequency: Option<String>,
        change: Change,
    },
    Allergy {
        #[serde(skip_serializing_if = "Option::is_none")]
        substance: Option<String>,
        present: bool,
    },
    Plan {
        action: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
}

/// Where in the transcript a statement comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// Segment ids, in time order.
    pub segments: Vec<u32>,
    /// Seconds from the start of the consultation.
    pub start: f64,
    pub end: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    pub text: String,
    pub kind: Kind,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<Value>,
    pub evidence: Evidence,
    /// 0–1: the classifier's probability for the section times the recogniser's confidence.
    pub confidence: f32,
    /// Words in the evidence the recogniser was unsure of; the doctor should listen again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uncertain_words: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoteSection {
    pub section: Section,
    pub heading: String,
    pub statements: Vec<Statement>,
}

/// A statement the verifier kept out of the note, or a remark about the transcript itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attention {
    pub text: String,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub section: Option<Section>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
    /// The evidence as said, `Læge: …` lines, so the doctor can judge without the transcript.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quotes: Vec<String>,
}

/// A journal-note draft for the doctor to review.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Draft {
    /// "Videokonsultation." (with who else took part).
    pub header: String,
    /// Only sections with content, in note order.
    pub sections: Vec<NoteSection>,
    /// "Til lægens opmærksomhed": dropped statements and problems with the transcript.
    pub attention: Vec<Attention>,
    /// The section model that classified the utterances.
    pub model: String,
}

impl Draft {
    pub fn section(&self, section: Section) -> Option<&NoteSection> {
        self.sections.iter().find(|s| s.section == section)
    }

    /// Only the note, as a doctor pastes it into the journal.
    pub fn note_text(&self) -> String {
        let mut out = format!("{}\n", self.header);
        for section in &self.sections {
            let body: Vec<String> = section.statements.iter().map(statement_text).collect();
            let _ = writeln!(out, "{}: {}", section.heading, body.join(" "));
        }
        out
    }

    /// The note followed by "Til lægens opmærksomhed": what the doctor must check before
    /// pasting.
    pub fn to_text(&self) -> String {
        let mut out = self.note_text();
        if !self.attention.is_empty() {
            out.push_str("\nTil lægens opmærksomhed:\n");
            for item in &self.attention {
                let _ = write!(out, "- {}", item.text);
                if !item.reason.is_empty() {
                    let _ = write!(out, " ({})", item.reason);
                }
                out.push('\n');
                for quote in &item.quotes {
                    let _ = writeln!(out, "    {quote}");
                }
            }
        }
        out
    }

    /// Statements that fail the verifier when re-checked against the text of the segments of
    /// `transcript` they cite, or cite none that exist. Always empty for a draft made from
    /// `transcript`; a check for anyone who receives a draft and its transcript separately.
    pub fn unsupported<'d>(&'d self, transcript: &Transcript) -> Vec<&'d Statement> {
        self.sections
            .iter()
            .flat_map(|s| &s.statements)
            .filter(|statement| {
                let said: Vec<&str> = statement
                    .evidence
                    .segments
                    .iter()
                    .filter_map(|id| transcript.segments.iter().find(|s| s.id == *id))
                    .map(|s| s.text.as_str())
                    .collect();
                said.is_empty() || verify(&statement.text, &said.join(" ")).is_err()
            })
            .collect()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a draft always serialises")
    }
}

fn statement_text(statement: &Statement) -> String {
    if statement.uncertain_words.is_empty() {
        statement.text.clone()
    } else {
        format!("{} [usikkert hørt: {}]", statement.text, statement.uncertain_words.join(", "))
    }
}
