//! Tamper-evident log of every personal-data flow in Autonotar, and the DPO's view of it.
//!
//! Every data flow (capture, transcript, draft, review, export, deletion, login, …) is an
//! [`Event`]: a closed set of typed variants holding only opaque [`Id`]s, numbers, times and
//! enums, so no record can carry a name, a CPR number or a word of the consultation. Each event
//! goes to [`AuditLog::append`] and becomes one JSON line, hash-chained to the one before and
//! HMAC-signed under an audit key kept apart from the data keys, fsynced before `append` returns
//! and so before the action is acknowledged. [`verify`] names the first
//! edited, deleted, reordered, forged or cut-off record; [`report`] renders the per-consultation
//! timeline, retention compliance, access per doctor and the GDPR art. 30 record for the DPO.
//!
//! [`commands`] holds the whole of `autonotar audit verify|report|checkpoint|public-key`.

mod checkpoints;
mod config;
mod error;
mod event;
mod key;
mod log;
mod record;
mod segments;
mod throttle;
mod time;
mod verify;

pub mod commands;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod report;

pub use checkpoints::{append_checkpoint, read_checkpoints, read_checkpoints_if_present};
pub use config::{AuditConfig, LegalBasis, ProcessingRecord};
pub use error::{AuditError, Result};
pub use event::{Actor, DataCategory, DraftUse, Event, IngestRefusal, LoginFailure, Purpose, RefusalReason};
pub use ids::{ConsultationId, Id, InvalidId, MAX_ID_LEN};
pub use key::{AuditKey, PublicKey};
pub use log::AuditLog;
pub use record::{Checkpoint, GENESIS_HASH, MAX_RECORD_BYTES, Record, line_hash};
pub use segments::{HEAD_FILE, read_records};
pub use throttle::Throttle;
pub use time::Timestamp;
pub use verify::{Fault, FaultKind, Trust, Verification, VerifyOptions, verify};
