//! The closed set of audit events. Every field is an [`Id`], a number, a time or an enum, so a
//! record cannot carry free text: no transcript words, no names, no CPR numbers.

use serde::{Deserialize, Serialize};

use crate::{Id, Timestamp};

/// One data flow worth recording. Serialised with its kind in `type`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Event {
    /// The doctor started capturing a consultation (consent was given).
    ConsultationStarted {
        consultation: Id,
        doctor: Id,
        /// The ingest key the video platform connected with; absent when the doctor's own
        /// browser (the review session) opened the consultation.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ingest_key: Option<Id>,
    },
    /// The client that opened a consultation reconnected to it (same key or session, and the
    /// consultation's resume token).
    ConsultationResumed {
        consultation: Id,
        doctor: Id,
    },
    /// Capture was refused, so no audio was processed.
    ConsultationRefused {
        consultation: Id,
        doctor: Id,
        reason: RefusalReason,
        /// The ingest key the refused client connected with, if it used one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ingest_key: Option<Id>,
    },
    /// Call audio was received and processed in memory only; just its length is recorded.
    AudioReceived {
        consultation: Id,
        duration_ms: u64,
    },
    /// Audio had to be kept (encrypted, e.g. while transcription caught up); it must be gone by `delete_by`.
    AudioStored {
        consultation: Id,
        artefact: Id,
        delete_by: Timestamp,
    },
    /// A transcript was stored (encrypted); the retention policy promised `delete_by`.
    TranscriptProduced {
        consultation: Id,
        artefact: Id,
        delete_by: Timestamp,
    },
    /// A journal-note draft was stored (encrypted); the retention policy promised `delete_by`.
    DraftProduced {
        consultation: Id,
        artefact: Id,
        delete_by: Timestamp,
    },
    /// The doctor watched a consultation's transcript live, while the call was going on.
    LiveTranscriptViewed {
        consultation: Id,
        doctor: Id,
    },
    /// A draft of the text committed so far was shown while the call went on: to the doctor
    /// on the live page, or (with `ingest_key`) to the video platform's client. Memory only.
    InterimDraftViewed {
        consultation: Id,
        doctor: Id,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ingest_key: Option<Id>,
    },
    DraftViewed(DraftUse),
    DraftEdited(DraftUse),
    DraftApproved(DraftUse),
    /// The doctor copied the note into the practice system (lægepraksissystem).
    DraftExported(DraftUse),
    DraftDiscarded(DraftUse),
    /// The retention deadline of stored artefacts changed (e.g. research consent moved them to
    /// another retention class) under policy `policy`.
    RetentionChanged {
        consultation: Id,
        artefacts: Vec<Id>,
        delete_by: Timestamp,
        policy: Id,
    },
    /// A consultation's transcript or draft, whose records precede this one, could not be
    /// written to the vault: it exists nowhere on disk.
    StorageFailed {
        consultation: Id,
    },
    /// One artefact was deleted under retention policy `policy`.
    ArtefactDeleted {
        consultation: Id,
        artefact: Id,
        policy: Id,
    },
    /// A consultation's data key was destroyed, making every listed artefact unreadable.
    KeyShredded {
        consultation: Id,
        key: Id,
        artefacts: Vec<Id>,
        policy: Id,
    },
    /// The key-encryption key was rotated and `rewrapped` data keys re-wrapped under `key`.
    KeyRotated {
        key: Id,
        rewrapped: u64,
    },
    /// The retention sweeper ran; counts only.
    RetentionSweepRan {
        examined: u64,
        deleted: u64,
        shredded: u64,
    },
    /// A pseudonymised research extract of `consultations` consultations was made.
    ResearchExportMade {
        researcher: Id,
        export: Id,
        consultations: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        delete_by: Option<Timestamp>,
    },
    LoginSucceeded {
        doctor: Id,
    },
    /// A refused link or session. `suppressed` counts the failures since the last one
    /// recorded, as for [`Event::IngestRefused`]: anyone can cause these.
    LoginFailed {
        reason: LoginFailure,
        /// The doctor the attempt claimed to be, when the link named one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        doctor: Option<Id>,
        #[serde(default, skip_serializing_if = "is_zero")]
        suppressed: u64,
    },
    /// A connection to the ingest endpoint was refused before any audio was taken.
    /// `suppressed` counts the refusals since the last one recorded, which were not written one
    /// by one so that a flood cannot fill the log.
    IngestRefused {
        reason: IngestRefusal,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<Id>,
        #[serde(default, skip_serializing_if = "is_zero")]
        suppressed: u64,
    },
    /// An ingest key for a server-to-server client (the video platform) was created; only
    /// its hash is kept.
    IngestKeyCreated {
        key: Id,
    },
    IngestKeyRevoked {
        key: Id,
    },
    /// On opening, the log found an unfinished last line (a crash mid-write) and cut it off.
    /// Such a line was never fsynced, so the action it described was never acknowledged.
    LogRecovered {
        dropped_bytes: u64,
    },
}

/// A doctor's use of a draft in the review app.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DraftUse {
    pub consultation: Id,
    pub artefact: Id,
    pub doctor: Id,
    /// Set when this step changed the draft's retention deadline (e.g. after export).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_by: Option<Timestamp>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalReason {
    ConsentMissing,
    ConsentWithdrawn,
    /// Someone other than the client that opened the consultation tried to resume it.
    NotOwner,
    /// The id is already running, finished or kept in the vault.
    AlreadyExists,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IngestRefusal {
    /// No `Authorization: Bearer` key and no review session.
    MissingKey,
    /// A key that is not (or no longer) an ingest key.
    UnknownKey,
    /// A browser request from another origin than the review app's.
    ForeignOrigin,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginFailure {
    InvalidSignature,
    LinkExpired,
    LinkAlreadyUsed,
    SessionInvalid,
    UnknownDoctor,
}

/// Who caused the event.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    /// The service itself (pipeline, sweeper, key management).
    System,
    Doctor(Id),
    Researcher(Id),
    /// Someone not (yet) authenticated.
    Anonymous,
}

/// Which kind of personal data the event touched (GDPR art. 30(1)(c)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataCategory {
    /// Pseudonymous consultation id, times, durations, consent status.
    ConsultationMetadata,
    /// Call audio (health data, art. 9), only ever in memory.
    Audio,
    /// Transcript of the consultation (health data, art. 9).
    Transcript,
    /// Journal-note draft (health data, art. 9).
    NoteDraft,
    /// The doctor's identity and login.
    UserIdentity,
    /// Pseudonymised research extract.
    ResearchExtract,
}

impl DataCategory {
    pub const ALL: [DataCategory; 6] = [
        DataCategory::ConsultationMetadata,
        DataCategory::Audio,
        DataCategory::Transcript,
        DataCategory::NoteDraft,
        DataCategory::UserIdentity,
        DataCategory::ResearchExtract,
    ];
}

/// Why the data was processed; each purpose has its configured legal basis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// Treatment and the duty to keep a patient record.
    Care,
    /// Deleting data on time (storage limitation).
    Retention,
    /// Access control, key management and the audit log itself.
    Security,
    /// Approved research on pseudonymised data.
    Research,
}

impl Purpose {
    pub const ALL: [Purpose; 4] = [Purpose::Care, Purpose::Retention, Purpose::Security, Purpose::Research];
}

impl Event {
    /// The event's kind as written in the log (`draft_viewed`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Event::ConsultationStarted { .. } => "consultation_started",
            Event::ConsultationResumed { .. } => "consultation_resumed",
            Event::ConsultationRefused { .. } => "consultation_refused",
            Event::StorageFailed { .. } => "storage_failed",
            Event::IngestRefused { .. } => "ingest_refused",
            Event::IngestKeyCreated { .. } => "ingest_key_created",
            Event::IngestKeyRevoked { .. } => "ingest_key_revoked",
            Event::AudioReceived { .. } => "audio_received",
            Event::AudioStored { .. } => "audio_stored",
            Event::TranscriptProduced { .. } => "transcript_produced",
            Event::DraftProduced { .. } => "draft_produced",
            Event::LiveTranscriptViewed { .. } => "live_transcript_viewed",
            Event::InterimDraftViewed { .. } => "interim_draft_viewed",
            Event::DraftViewed(_) => "draft_viewed",
            Event::DraftEdited(_) => "draft_edited",
            Event::DraftApproved(_) => "draft_approved",
            Event::DraftExported(_) => "draft_exported",
            Event::DraftDiscarded(_) => "draft_discarded",
            Event::RetentionChanged { .. } => "retention_changed",
            Event::ArtefactDeleted { .. } => "artefact_deleted",
            Event::KeyShredded { .. } => "key_shredded",
            Event::KeyRotated { .. } => "key_rotated",
            Event::RetentionSweepRan { .. } => "retention_sweep_ran",
            Event::ResearchExportMade { .. } => "research_export_made",
            Event::LoginSucceeded { .. } => "login_succeeded",
            Event::LoginFailed { .. } => "login_failed",
            Event::LogRecovered { .. } => "log_recovered",
        }
    }

    /// The doctor's use of a draft, for the draft events.
    pub fn draft_use(&self) -> Option<&DraftUse> {
        match self {
            Event::DraftViewed(used)
            | Event::DraftEdited(used)
            | Event::DraftApproved(used)
            | Event::DraftExported(used)
            | Event::DraftDiscarded(used) => Some(used),
            _ => None,
        }
    }

    /// The pseudonymous consultation the event belongs to, if any.
    pub fn consultation(&self) -> Option<&Id> {
        if let Some(used) = self.draft_use() {
            return Some(&used.consultation);
        }
        match self {
            Event::ConsultationStarted { consultation, .. }
            | Event::ConsultationResumed { consultation, .. }
            | Event::ConsultationRefused { consultation, .. }
            | Event::StorageFailed { consultation }
            | Event::AudioReceived { consultation, .. }
            | Event::AudioStored { consultation, .. }
            | Event::RetentionChanged { consultation, .. }
            | Event::TranscriptProduced { consultation, .. }
            | Event::LiveTranscriptViewed { consultation, .. }
            | Event::InterimDraftViewed { consultation, .. }
            | Event::DraftProduced { consultation, .. }
            | Event::ArtefactDeleted { consultation, .. }
            | Event::KeyShredded { consultation, .. } => Some(consultation),
            _ => None,
        }
    }

    pub fn actor(&self) -> Actor {
        if let Some(used) = self.draft_use() {
            return Actor::Doctor(used.doctor.clone());
        }
        match self {
            Event::ConsultationStarted { doctor, .. }
            | Event::ConsultationResumed { doctor, .. }
            | Event::ConsultationRefused { doctor, .. }
            | Event::LiveTranscriptViewed { doctor, .. }
            | Event::InterimDraftViewed { doctor, ingest_key: None, .. }
            | Event::LoginSucceeded { doctor } => Actor::Doctor(doctor.clone()),
            Event::ResearchExportMade { researcher, .. } => Actor::Researcher(researcher.clone()),
            Event::LoginFailed { .. } | Event::IngestRefused { .. } => Actor::Anonymous,
            _ => Actor::System,
        }
    }

    /// Every artefact the event names.
    pub fn artefacts(&self) -> Vec<&Id> {
        if let Some(used) = self.draft_use() {
            return vec![&used.artefact];
        }
        match self {
            Event::AudioStored { artefact, .. }
            | Event::TranscriptProduced { artefact, .. }
            | Event::DraftProduced { artefact, .. }
            | Event::ArtefactDeleted { artefact, .. } => vec![artefact],
            Event::KeyShredded { artefacts, .. } | Event::RetentionChanged { artefacts, .. } => {
                artefacts.iter().collect()
            }
            Event::ResearchExportMade { export, .. } => vec![export],
            _ => Vec::new(),
        }
    }

    /// The deletion deadlines this event promised, one per artefact whose lifetime it set.
    pub fn promised_deadlines(&self) -> Vec<(&Id, Timestamp)> {
        if let Some(used) = self.draft_use() {
            return used.delete_by.map(|by| (&used.artefact, by)).into_iter().collect();
        }
        match self {
            Event::AudioStored { artefact, delete_by, .. }
            | Event::TranscriptProduced { artefact, delete_by, .. }
            | Event::DraftProduced { artefact, delete_by, .. } => vec![(artefact, *delete_by)],
            Event::RetentionChanged { artefacts, delete_by, .. } => {
                artefacts.iter().map(|artefact| (artefact, *delete_by)).collect()
            }
            Event::ResearchExportMade { export, delete_by, .. } => {
                delete_by.map(|by| (export, by)).into_iter().collect()
            }
            _ => Vec::new(),
        }
    }

    /// The artefacts this event destroyed, and under which policy.
    pub fn deleted_artefacts(&self) -> Option<(Vec<&Id>, &Id)> {
        match self {
            Event::ArtefactDeleted { artefact, policy, .. } => Some((vec![artefact], policy)),
            Event::KeyShredded { artefacts, policy, .. } => Some((artefacts.iter().collect(), policy)),
            _ => None,
        }
    }

    pub fn purpose(&self) -> Purpose {
        match self {
            Event::ArtefactDeleted { .. }
            | Event::KeyShredded { .. }
            | Event::RetentionChanged { .. }
            | Event::RetentionSweepRan { .. } => Purpose::Retention,
            Event::KeyRotated { .. }
            | Event::LoginSucceeded { .. }
            | Event::LoginFailed { .. }
            | Event::IngestRefused { .. }
            | Event::IngestKeyCreated { .. }
            | Event::IngestKeyRevoked { .. }
            | Event::LogRecovered { .. } => Purpose::Security,
            Event::ResearchExportMade { .. } => Purpose::Research,
            _ => Purpose::Care,
        }
    }

    pub fn categories(&self) -> Vec<DataCategory> {
        use DataCategory::*;
        match self {
            Event::ConsultationStarted { .. }
            | Event::ConsultationResumed { .. }
            | Event::ConsultationRefused { .. }
            | Event::IngestRefused { .. } => vec![ConsultationMetadata],
            Event::StorageFailed { .. } => vec![Transcript, NoteDraft],
            Event::AudioReceived { .. } | Event::AudioStored { .. } => vec![Audio],
            Event::TranscriptProduced { .. } | Event::LiveTranscriptViewed { .. } => vec![Transcript],
            Event::ArtefactDeleted { .. } | Event::KeyShredded { .. } | Event::RetentionChanged { .. } => {
                vec![Audio, Transcript, NoteDraft]
            }
            Event::ResearchExportMade { .. } => vec![ResearchExtract],
            Event::LoginSucceeded { .. } | Event::LoginFailed { .. } => vec![UserIdentity],
            Event::KeyRotated { .. }
            | Event::RetentionSweepRan { .. }
            | Event::LogRecovered { .. }
            | Event::IngestKeyCreated { .. }
            | Event::IngestKeyRevoked { .. } => Vec::new(),
            _ => vec![NoteDraft],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(text: &str) -> Id {
        Id::new(text).unwrap()
    }

    #[test]
    fn draft_events_serialise_flat_with_their_type() {
        let event = Event::DraftViewed(DraftUse {
            consultation: id("c1"),
            artefact: id("d1"),
            doctor: id("doc7"),
            delete_by: None,
        });
        let json = serde_json::to_string(&event).unwrap();
        assert_eq!(json, r#"{"type":"draft_viewed","consultation":"c1","artefact":"d1","doctor":"doc7"}"#);
        assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), event);
    }

    #[test]
    fn extra_fields_cannot_smuggle_free_text_in() {
        for json in [
            r#"{"type":"draft_viewed","consultation":"c1","artefact":"d1","doctor":"doc7","note":"Jens har ondt"}"#,
            r#"{"type":"login_succeeded","doctor":"doc7","name":"Jens Hansen"}"#,
            r#"{"type":"audio_received","consultation":"Jens Hansen","duration_ms":5}"#,
        ] {
            assert!(serde_json::from_str::<Event>(json).is_err(), "{json}");
        }
    }
}
