//! The seam to consultations still going on. They live in the live service's memory, not in the
//! vault (the vault gets them at hang-up), and this crate must not depend on the service: the
//! service's owner implements [`LiveFeed`] and hands it to [`crate::ReviewState::with_live`].

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
