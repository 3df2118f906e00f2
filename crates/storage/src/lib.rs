//! Where a consultation's data goes: the audit log first, then the encrypted vault.
//!
//! The live service hands every step of a consultation to a [`Sink`]: its opening (or why it was
//! refused), a resume, and at hang-up the transcript and draft. [`Keeper`] is the sink of
//! `autonotar serve`; it writes the audit record of each step *before* the step takes effect, so
//! nothing is stored, deleted or returned that the log does not show. [`Transient`] keeps
//! nothing and records nothing, for the evaluation harness, which replays corpora through the
//! live service. [`record`] is the stored form the review app reads back, and [`retention`]
//! deletes on time under the same rule: audited before it happens.

pub mod record;
pub mod retention;

use std::sync::{Arc, Mutex, MutexGuard};

pub use audit::IngestRefusal;
use audit::{AuditLog, RefusalReason};
use ids::{ConsultationId, Id};
use vault::{ArtefactKind, RetentionPolicy, Vault};

pub use record::{ReviewRecord, ReviewStatement, StatementState, assign_doctor};

/// Who opened a consultation over ingest; only the same principal may resume it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// A server-to-server client (the video platform, `autonotar replay`) with this ingest key.
    Key(Id),
    /// A doctor's own browser, signed in to the review app as this doctor.
    Doctor(Id),
}

impl Principal {
    /// The ingest key, for the audit record; `None` for a doctor's browser.
    pub fn ingest_key(&self) -> Option<Id> {
        match self {
            Principal::Key(key) => Some(key.clone()),
            Principal::Doctor(_) => None,
        }
    }
}

/// A consultation's `start`, as the sink hears of it.
#[derive(Clone, Copy, Debug)]
pub struct Opening<'a> {
    pub consultation: &'a ConsultationId,
    pub doctor: &'a Id,
    pub principal: &'a Principal,
}

/// Why a `start` was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    ConsentMissing,
    /// A resume by another principal, or without the consultation's resume token.
    NotOwner,
}

/// A consultation at hang-up.
pub struct Finished {
    pub consultation: ConsultationId,
    pub doctor: Id,
    pub transcript: transcript::Transcript,
    /// `None` when no note model ran or it failed; the transcript is kept all the same.
    pub draft: Option<note::Draft>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the audit log cannot record it, so it was not done: {0}")]
    Audit(#[from] audit::AuditError),
    #[error(transparent)]
    Vault(#[from] vault::Error),
    #[error("consultation {0} already exists (running, finished or kept in the vault); use a new id for a new call")]
    Exists(ConsultationId),
    #[error(
        "the stored {what} of consultation {consultation:?} does not parse ({reason}); it was written by an incompatible version"
    )]
    Stored { consultation: String, what: &'static str, reason: String },
}

/// What went wrong at hang-up, which decides what the client may still be given.
#[derive(Debug, thiserror::Error)]
pub enum KeepError {
    /// Nothing was recorded, so nothing was stored and nothing may be returned.
    #[error("nothing was stored and the text is withheld: {0}")]
    NotAudited(Error),
    /// The log shows the transcript and draft, but the vault could not take them: they exist only
    /// in this reply, and the log says so.
    #[error("the transcript and draft could not be stored and exist only in this reply: {0}")]
    NotStored(Error),
}

/// Takes each step of a live consultation. The live service calls these from its own tasks; a
/// call may block briefly on disk.
pub trait Sink: Send + Sync {
    /// Before a consultation takes audio. An `Err` refuses the `start`.
    fn open(&self, opening: Opening<'_>) -> Result<(), Error>;
    /// A `start` that was refused after its ids were read.
    fn refused(&self, opening: Opening<'_>, reason: Refusal);
    /// A `start` that resumed the consultation after a lost connection.
    fn resumed(&self, opening: Opening<'_>);
    /// A connection refused before any `start` (no key, a wrong key, a foreign origin).
    fn refused_connection(&self, reason: IngestRefusal, key: Option<&Id>);
    /// Before the first interim draft goes to the connection of `opening.principal`. An `Err`
    /// keeps it from being sent.
    fn interim_draft_shown(&self, opening: Opening<'_>) -> Result<(), Error>;
    /// At hang-up, before the client is given the transcript and draft.
    fn keep(&self, finished: &Finished) -> Result<(), KeepError>;
}

/// The sink of `autonotar serve`: the audit log and the vault.
pub struct Keeper {
    vault: Vault,
    audit: Arc<Mutex<AuditLog>>,
    policy: RetentionPolicy,
    refusals: Mutex<audit::Throttle>,
}

impl Keeper {
    pub fn new(vault: Vault, audit: Arc<Mutex<AuditLog>>, policy: RetentionPolicy) -> Keeper {
        Keeper { vault, audit, policy, refusals: Mutex::new(audit::Throttle::default()) }
    }

    fn log(&self) -> MutexGuard<'_, AuditLog> {
        self.audit.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn exists(&self, consultation: &ConsultationId) -> Result<bool, Error> {
        match self.vault.consultation(consultation.as_str()) {
            Ok(_) => Ok(true),
            Err(vault::Error::Missing { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    fn refuse(&self, opening: Opening<'_>, reason: RefusalReason) {
        let event = audit::Event::ConsultationRefused {
            consultation: opening.consultation.as_id().clone(),
            doctor: opening.doctor.clone(),
            reason,
            ingest_key: opening.principal.ingest_key(),
        };
        if let Err(e) = self.log().append(event) {
            tracing::error!("a refused consultation start could not be audited: {e}");
        }
    }

    /// Records the transcript and draft, then stores them; `Ok` only when both happened.
    fn store(&self, finished: &Finished) -> Result<(), KeepError> {
        let id = finished.consultation.as_str();
        // An empty record (metadata only) first: the deadlines the log promises are the vault's own.
        self.vault.create(id, false).map_err(|e| KeepError::NotAudited(e.into()))?;
        let lifecycle = self.vault.consultation(id).map_err(|e| KeepError::NotAudited(e.into()))?.lifecycle;
        let delete_by = audit::Timestamp::from(self.policy.record_deadline(&lifecycle).at);
        let consultation = finished.consultation.as_id();
        let mut events = vec![
            audit::Event::AudioReceived {
                consultation: consultation.clone(),
                duration_ms: (finished.transcript.duration * 1000.0).round() as u64,
            },
            audit::Event::TranscriptProduced {
                artefact: finished.consultation.part("transcript"),
                consultation: consultation.clone(),
                delete_by,
            },
        ];
        if finished.draft.is_some() {
            events.push(audit::Event::DraftProduced {
                artefact: finished.consultation.part("draft"),
                consultation: consultation.clone(),
                delete_by,
            });
        }
        {
            let mut log = self.log();
            for event in events {
                log.append(event).map_err(|e| KeepError::NotAudited(e.into()))?;
            }
        }
        let stored = (|| -> Result<(), Error> {
            self.vault.put(id, ArtefactKind::Transcript, finished.transcript.to_json().as_bytes())?;
            self.vault.record(id, vault::Milestone::TranscriptFinal)?;
            if let Some(draft) = &finished.draft {
                self.vault.put(id, ArtefactKind::Draft, draft.to_json().as_bytes())?;
            }
            assign_doctor(&self.vault, id, &finished.doctor)
        })();
        stored.map_err(|e| {
            let failure = audit::Event::StorageFailed { consultation: consultation.clone() };
            if let Err(audit) = self.log().append(failure) {
                tracing::error!("a storage failure could not be audited: {audit}");
            }
            KeepError::NotStored(e)
        })
    }
}

impl Sink for Keeper {
    fn open(&self, opening: Opening<'_>) -> Result<(), Error> {
        if self.exists(opening.consultation)? {
            self.refuse(opening, RefusalReason::AlreadyExists);
            return Err(Error::Exists(opening.consultation.clone()));
        }
        self.log().append(audit::Event::ConsultationStarted {
            consultation: opening.consultation.as_id().clone(),
            doctor: opening.doctor.clone(),
            ingest_key: opening.principal.ingest_key(),
        })?;
        Ok(())
    }

    fn refused(&self, opening: Opening<'_>, reason: Refusal) {
        self.refuse(
            opening,
            match reason {
                Refusal::ConsentMissing => RefusalReason::ConsentMissing,
                Refusal::NotOwner => RefusalReason::NotOwner,
            },
        );
    }

    fn resumed(&self, opening: Opening<'_>) {
        let event = audit::Event::ConsultationResumed {
            consultation: opening.consultation.as_id().clone(),
            doctor: opening.doctor.clone(),
        };
        if let Err(e) = self.log().append(event) {
            tracing::error!("a resumed consultation could not be audited: {e}");
        }
    }

    fn refused_connection(&self, reason: IngestRefusal, key: Option<&Id>) {
        let Some(suppressed) = self.refusals.lock().unwrap_or_else(|p| p.into_inner()).admit() else { return };
        let event = audit::Event::IngestRefused { reason, key: key.cloned(), suppressed };
        if let Err(e) = self.log().append(event) {
            tracing::error!("a refused ingest connection could not be audited: {e}");
        }
    }

    fn interim_draft_shown(&self, opening: Opening<'_>) -> Result<(), Error> {
        self.log().append(audit::Event::InterimDraftViewed {
            consultation: opening.consultation.as_id().clone(),
            doctor: opening.doctor.clone(),
            ingest_key: opening.principal.ingest_key(),
        })?;
        Ok(())
    }

    fn keep(&self, finished: &Finished) -> Result<(), KeepError> {
        self.store(finished)
    }
}

/// Keeps nothing and records nothing: for the evaluation harness, whose corpora are synthetic
/// and whose results are the transcripts themselves.
pub struct Transient;

impl Sink for Transient {
    fn open(&self, _: Opening<'_>) -> Result<(), Error> {
        Ok(())
    }
    fn refused(&self, _: Opening<'_>, _: Refusal) {}
    fn resumed(&self, _: Opening<'_>) {}
    fn refused_connection(&self, _: IngestRefusal, _: Option<&Id>) {}
    fn interim_draft_shown(&self, _: Opening<'_>) -> Result<(), Error> {
        Ok(())
    }
    fn keep(&self, _: &Finished) -> Result<(), KeepError> {
        Ok(())
    }
}
