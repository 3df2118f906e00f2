//! The seam to consultations still going on. They live in the live service's memory, not in the
//! vault (the vault gets them at hang-up), and this crate must not depend on the service: the
//! service's owner implements [`LiveFeed`] and hands it to [`crate::ReviewState::with_live`].

use std::sync::Arc;
use std::time::SystemTime;

use audit::Id;
use tokio::sync::{mpsc, watch};
use transcript::Role;

/// Where a live consultation is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LivePhase {
    /// The call is going on and audio is coming in.
    Recording,
    /// The call has ended; the transcript is being finished and the note drafted.
    Transcribing,
    /// Transcript and draft are done (and in the vault, if they could be stored).
    Finished,
}

/// A consultation the service holds in memory.
#[derive(Clone, Debug)]
pub struct LiveConsultation {
    pub id: Id,
    pub opened: SystemTime,
    pub phase: LivePhase,
}

/// Recognised text on one track, as it arrives.
#[derive(Clone, Debug, PartialEq)]
pub struct LiveText {
    pub track: usize,
    pub speaker: Role,
    /// Seconds from the track's start.
    pub start: f64,
    pub text: String,
}

/// What the live page is told, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum LiveUpdate {
    /// Text that will not change; `number` counts commits in the order they were made.
    Committed { number: u32, text: LiveText },
    /// Tentative text of speech still going on; replaces the track's earlier tentative text.
    Tentative(LiveText),
    /// The note drafted from the text committed so far (never from tentative text); replaces
    /// the one before. `commit_of_segment[i]` is the commit number of the segment its evidence
    /// calls `i`.
    InterimDraft { draft: Arc<note::Draft>, commit_of_segment: Arc<Vec<u32>> },
    /// At hang-up, just before `DraftReady`: the draft made from the kept transcript, which
    /// replaces the interim one.
    FinalDraft(Arc<note::Draft>),
    /// The call has ended; transcript and draft follow.
    Stopped,
    /// The draft is stored: the review page can show it.
    DraftReady,
    /// The consultation ended without a stored draft.
    NoDraft,
}

/// The live service as the review app sees it. Implementations must hide every consultation
/// that is not `doctor`'s: the review app passes the logged-in doctor and trusts the answer.
pub trait LiveFeed: Send + Sync {
    /// `doctor`'s consultations in memory (ids that are not valid audit ids are left out).
    fn consultations(&self, doctor: &Id) -> Vec<LiveConsultation>;

    /// Changes whenever any consultation opens, stops, finishes or is forgotten.
    fn changes(&self) -> watch::Receiver<u64>;

    /// Follows `doctor`'s consultation `consultation` from its start: everything said so far,
    /// then each update as it happens, ending after `DraftReady` or `NoDraft`. `None` when no
    /// such consultation of this doctor is in memory. Dropping the receiver stops the following.
    fn follow(&self, doctor: &Id, consultation: &Id) -> Option<mpsc::Receiver<LiveUpdate>>;
}

/// How the final draft differs from the last interim one, statement by statement within each
/// section: a statement in both with the same text is unchanged; in a section that lost some and
/// gained others, each pair counts as changed and the rest as dropped or added.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DraftChanges {
    pub added: usize,
    pub dropped: usize,
    pub changed: usize,
}

impl DraftChanges {
    pub fn between(interim: &note::Draft, last: &note::Draft) -> DraftChanges {
        let texts = |draft: &note::Draft, section: note::Section| -> Vec<String> {
            draft.section(section).map(|s| s.statements.iter().map(|st| st.text.clone()).collect()).unwrap_or_default()
        };
        let mut changes = DraftChanges::default();
        for section in note::Section::ALL {
            let (mut before, after) = (texts(interim, section), texts(last, section));
            let mut gained = 0;
            for text in after {
                match before.iter().position(|t| *t == text) {
                    Some(i) => {
                        before.swap_remove(i);
                    }
                    None => gained += 1,
                }
            }
            let changed = gained.min(before.len());
            changes.changed += changed;
            changes.added += gained - changed;
            changes.dropped += before.len() - changed;
        }
        changes
    }

    /// `added-dropped-changed`, for the draft page's address.
    pub fn to_query(self) -> String {
        format!("{}-{}-{}", self.added, self.dropped, self.changed)
    }

    pub fn from_query(text: &str) -> Option<DraftChanges> {
        let mut numbers = text.splitn(3, '-').map(|n| n.parse::<usize>().ok());
        let (added, dropped, changed) = (numbers.next()??, numbers.next()??, numbers.next()??);
        Some(DraftChanges { added, dropped, changed })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A draft with `statements` as (section, text, first evidence segment).
    fn draft(statements: &[(&str, &str, u32)]) -> note::Draft {
        let mut sections: Vec<serde_json::Value> = Vec::new();
        for (section, text, segment) in statements {
            let statement = serde_json::json!({"text": text, "kind": "summary", "confidence": 0.9,
                "evidence": {"segments": [segment], "start": *segment as f64 * 2.0, "end": *segment as f64 * 2.0 + 1.0}});
            match sections.iter_mut().find(|s| s["section"] == *section) {
                Some(existing) => existing["statements"].as_array_mut().unwrap().push(statement),
                None => sections
                    .push(serde_json::json!({"section": section, "heading": section, "statements": [statement]})),
            }
        }
        let json =
            serde_json::json!({"header": "Videokonsultation.", "sections": sections, "attention": [], "model": "t"});
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn changes_count_added_dropped_and_changed_statements_per_section() {
        let interim = draft(&[("anamnese", "Ondt i halsen.", 0), ("anamnese", "Feber.", 1), ("plan", "Podning.", 2)]);
        let last = draft(&[
            ("anamnese", "Ondt i halsen.", 0),
            ("anamnese", "Feber op til 38,5.", 1),
            ("plan", "Podning.", 2),
            ("plan", "Kontakt ved forværring.", 3),
            ("medicin", "Paracetamol.", 4),
        ]);
        let changes = DraftChanges::between(&interim, &last);
        assert_eq!(changes, DraftChanges { added: 2, dropped: 0, changed: 1 });
        assert_eq!(DraftChanges::between(&last, &interim), DraftChanges { added: 0, dropped: 2, changed: 1 });
        assert_eq!(DraftChanges::from_query(&changes.to_query()), Some(changes));
        assert_eq!(DraftChanges::from_query("1-x-2"), None);
        assert_eq!(DraftChanges::from_query("1-2"), None);
    }

    #[test]
    fn the_interim_draft_links_each_statement_to_its_commit_and_escapes_it() {
        let interim = draft(&[("anamnese", "Ondt <i> halsen.", 1)]);
        // Segment 1 in time order was the live page's commit number 7.
        let html = crate::pages::live_draft(&interim, &[4, 7]);
        assert!(html.contains("Ondt &lt;i&gt; halsen. <a class=\"meta\" href=\"#ls-7\">0:02</a>"), "{html}");
    }
}
