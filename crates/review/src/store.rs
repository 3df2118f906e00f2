//! The review app's view of what a consultation keeps in the vault (the stored form itself is
//! `storage::record`): where it is in its life, the doctor's working copy, the note text.

use std::time::{Duration, SystemTime};

use audit::Id;
use note::{Draft, Section};
use vault::{ArtefactKind, Consultation, Vault};

use crate::Error;
pub use storage::record::{ReviewRecord, ReviewStatement, StatementState, draft, load, save, transcript};

/// Where a consultation is in its life, as the list shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Recording,
    Transcribing,
    DraftReady,
    Approved,
    Discarded,
}

impl Status {
    pub fn of(consultation: &Consultation) -> Status {
        let has = |kind| consultation.artefacts.iter().any(|a| a.kind == kind);
        let lifecycle = &consultation.lifecycle;
        if lifecycle.discarded.is_some() {
            Status::Discarded
        } else if lifecycle.approved.is_some() {
            Status::Approved
        } else if has(ArtefactKind::Draft) {
            Status::DraftReady
        } else if has(ArtefactKind::Transcript) {
            Status::Transcribing
        } else {
            Status::Recording
        }
    }

    pub fn danish(self) -> &'static str {
        match self {
            Status::Recording => "optager",
            Status::Transcribing => "transskriberer",
            Status::DraftReady => "kladde klar",
            Status::Approved => "godkendt",
            Status::Discarded => "kasseret",
        }
    }

    /// CSS class of the status badge.
    pub fn class(self) -> &'static str {
        match self {
            Status::Recording => "recording",
            Status::Transcribing => "transcribing",
            Status::DraftReady => "ready",
            Status::Approved => "approved",
            Status::Discarded => "discarded",
        }
    }
}

/// The doctor's working copy as first made from the draft: every statement unchecked.
pub fn working_copy(draft: &Draft) -> Vec<ReviewStatement> {
    draft
        .sections
        .iter()
        .flat_map(|section| section.statements.iter().map(move |s| (section.section, s)))
        .zip(0..)
        .map(|((section, s), id)| ReviewStatement {
            id,
            section,
            text: s.text.clone(),
            drafted: Some(s.text.clone()),
            evidence: s.evidence.segments.clone(),
            confidence: Some(s.confidence),
            uncertain_words: s.uncertain_words.clone(),
            state: StatementState::Unchecked,
        })
        .collect()
}

/// The approved note as the practice system takes it: the draft's header line, then one line
/// per section, `Heading: statement statement …`, in note order.
pub fn note_text(header: &str, statements: &[ReviewStatement]) -> String {
    let mut out = format!("{header}\n");
    for section in Section::ALL {
        let body: Vec<&str> = statements
            .iter()
            .filter(|s| s.section == section && s.state != StatementState::Deleted)
            .map(|s| s.text.trim())
            .filter(|text| !text.is_empty())
            .collect();
        if !body.is_empty() {
            out.push_str(&format!("{}: {}\n", section.heading(), body.join(" ")));
        }
    }
    out
}

/// A consultation in a doctor's list.
pub struct Listed {
    pub id: String,
    pub created: SystemTime,
    pub status: Status,
}

/// `doctor`'s consultations created within `window` before `now`, newest first.
pub fn list(vault: &Vault, doctor: &Id, now: SystemTime, window: Duration) -> Result<Vec<Listed>, Error> {
    // The retention status is the vault's one listing of consultations; its deadlines are unused.
    let status = vault::retention::status(vault, &vault::RetentionPolicy::default(), now)?;
    let since = now.checked_sub(window).unwrap_or(SystemTime::UNIX_EPOCH);
    let mut listed = Vec::new();
    for entry in status.consultations {
        let consultation = entry.consultation;
        let has_record = consultation.artefacts.iter().any(|a| a.kind == ArtefactKind::Edits);
        if consultation.lifecycle.created < since || !has_record {
            continue;
        }
        match load(vault, &consultation.id)? {
            Some(record) if &record.doctor == doctor => listed.push(Listed {
                status: Status::of(&consultation),
                created: consultation.lifecycle.created,
                id: consultation.id,
            }),
            _ => {}
        }
    }
    listed.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.id.cmp(&b.id)));
    Ok(listed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statement(id: u32, section: Section, text: &str, state: StatementState) -> ReviewStatement {
        ReviewStatement {
            id,
            section,
            text: text.into(),
            drafted: Some(text.into()),
            evidence: vec![id],
            confidence: Some(0.9),
            uncertain_words: Vec::new(),
            state,
        }
    }

    #[test]
    fn the_note_lists_sections_in_note_order_without_deleted_statements() {
        let statements = [
            statement(0, Section::Plan, "Kontrol om 2 uger.", StatementState::Accepted),
            statement(1, Section::Anamnese, "Ondt i halsen i 4 dage.", StatementState::Unchecked),
            statement(2, Section::Anamnese, "Feber 39,5.", StatementState::Deleted),
            statement(3, Section::Anamnese, "Ingen hoste.", StatementState::Accepted),
            statement(4, Section::Objektivt, "   ", StatementState::Accepted),
        ];
        assert_eq!(
            note_text("Videokonsultation.", &statements),
            "Videokonsultation.\nAnamnese: Ondt i halsen i 4 dage. Ingen hoste.\nPlan: Kontrol om 2 uger.\n"
        );
    }
}
