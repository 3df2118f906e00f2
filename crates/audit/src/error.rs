use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while writing, reading or verifying the audit log.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    InvalidId(#[from] ids::InvalidId),

    #[error("invalid time {0:?}: use RFC 3339 in UTC (2026-11-23T10:00:00Z) or a date (2026-11-23)")]
    InvalidTime(String),

    #[error("{action} {path}: {source}")]
    Io { action: &'static str, path: PathBuf, source: io::Error },

    #[error("audit key {}: {problem}; restore it from your backup if it was damaged (a new key cannot verify the old log)", path.display())]
    KeyUnusable { path: PathBuf, problem: String },

    #[error(
        "audit key {path} does not exist; restore it from your backup (verification needs the key that wrote the log)"
    )]
    KeyMissing { path: PathBuf },

    #[error("audit record is {0} bytes, over the limit; split the event (e.g. fewer artefacts per key_shredded)")]
    RecordTooLarge(usize),

    #[error(
        "the audit log in {dir} cannot be continued: {reason}. Run `autonotar audit verify`, keep the directory \
         as evidence and move it aside to start a new log"
    )]
    LogDamaged { dir: PathBuf, reason: String },

    #[error("a previous write to the audit log failed half-way; restart the service so the log can recover")]
    LogUnusable,

    #[error("checkpoint file {path} is not a valid checkpoint: {reason}")]
    BadCheckpoint { path: PathBuf, reason: String },

    #[error("invalid [audit] configuration: {0}")]
    Config(String),
}

impl AuditError {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> AuditError {
        let path = path.into();
        move |source| AuditError::Io { action, path, source }
    }
}

pub type Result<T, E = AuditError> = std::result::Result<T, E>;
