use std::io;
use std::path::PathBuf;

/// Everything that can go wrong in the vault, sorted by what the user has to do about it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The thing was never stored, or was never acknowledged as stored (a crash before
    /// `finish` returned leaves nothing behind).
    #[error("{what} is not in the vault")]
    Missing { what: String },

    /// Deleted on purpose by destroying its key: gone for good, in backups too.
    #[error("{what} was crypto-shredded{when}; it cannot be recovered")]
    Shredded { what: String, when: String },

    /// Authentication failed: the file was altered, truncated, reordered or moved.
    #[error(
        "{path}: {what}. The file was altered, truncated or moved from elsewhere; \
         restore the consultation directory from a backup or shred it"
    )]
    Tampered { path: PathBuf, what: String },

    /// Sealed under a key-encryption key other than the one given.
    #[error(
        "{path} is sealed with another key-encryption key (fingerprint {found}, yours is {given}). \
         Use the key this vault was created with; if a key rotation was interrupted, run \
         `autonotar keys rotate` again to finish it"
    )]
    WrongKey { path: PathBuf, found: String, given: String },

    /// Written by a newer (or unknown) format version.
    #[error("{path} uses vault format version {version}, which this build cannot read; upgrade autonotar")]
    UnsupportedFormat { path: PathBuf, version: u8 },

    /// The key-encryption key could not be loaded.
    #[error("key file {path}: {problem}")]
    KeyFile { path: PathBuf, problem: String },

    /// `AUTONOTAR_KEK` is set but unusable.
    #[error("environment variable AUTONOTAR_KEK: {0}")]
    KeyEnv(String),

    #[error("consultation {id:?} already exists in the vault")]
    AlreadyExists { id: String },

    #[error("invalid time {0:?}: expected RFC 3339 in UTC, e.g. 2026-03-02T08:00:00Z")]
    InvalidTime(String),

    #[error(transparent)]
    InvalidId(#[from] ids::InvalidId),

    #[error(
        "the vault in {data_dir} is open in another process (`autonotar serve`?); stop it before rotating the key, \
         or it would go on sealing under the old one"
    )]
    InUse { data_dir: std::path::PathBuf },

    #[error("the sweep stopped before deleting anything more: the deletion could not be audited ({0})")]
    Unrecorded(String),

    #[error("unknown artefact kind {0:?} (expected audio-<track>, transcript, draft, edits or note)")]
    UnknownKind(String),

    /// The operating system refused; `hint` says what to do.
    #[error("could not {action} {path}: {source}{}", hint(source))]
    Io { action: &'static str, path: PathBuf, source: io::Error },
}

impl Error {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { action, path, source }
    }

    pub(crate) fn tampered(path: impl Into<PathBuf>, what: impl Into<String>) -> Error {
        Error::Tampered { path: path.into(), what: what.into() }
    }
}

fn hint(source: &io::Error) -> &'static str {
    match source.kind() {
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded | io::ErrorKind::FileTooLarge => {
            ". The disk is full: free space in the data directory and retry; \
             everything acknowledged before is intact"
        }
        io::ErrorKind::ReadOnlyFilesystem => {
            ". The data directory is on a read-only filesystem: remount it read-write and retry; \
             everything acknowledged before is intact"
        }
        io::ErrorKind::PermissionDenied => ". Check that autonotar's user owns the data directory (chmod 700)",
        _ => "",
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
