//! The doctor's review app: right after the call the doctor opens the draft from a button in the
//! practice system, checks each statement against what was said, fixes what is wrong, approves,
//! and copies the note into the journal.
//!
//! Served as an axum [`Router`] under `/review/` that the service mounts ([`router`]); all
//! state it needs is in [`ReviewState`]. Pages are rendered on the server in Danish with one
//! small script ([`web`]); entry is by signed, single-use, expiring links ([`link`]) that
//! start a cookie session ([`session`]). The doctor's working copy and the doctor a
//! consultation belongs to live encrypted in the vault ([`store`]); every view, edit,
//! approval, export, discard and login is an audit event. Consultations still going on come
//! from the live service through [`LiveFeed`]; the list and the live page follow them over
//! server-sent events ([`stream`]).

pub mod capture;
pub mod link;
mod listing;
pub mod live;
mod localtime;
mod pages;
mod request;
pub mod session;
pub mod store;
mod stream;
mod web;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use audit::AuditLog;
use vault::{RetentionPolicy, Vault};

pub use capture::CaptureIngest;
pub use link::{Claims, LinkSecret, sign as sign_link};
pub use live::{LiveConsultation, LiveFeed, LivePhase, LiveText, LiveUpdate};
pub use storage::assign_doctor;
pub use store::Status;
pub use web::router;

/// Where signed links enter the app.
pub const LOGIN_PATH: &str = "/review/login";
/// The list page's stream of fresh rows.
pub const LIST_STREAM_PATH: &str = "/review/direkte";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the review link secret {path} {problem}")]
    Secret { path: PathBuf, problem: String },
    #[error("cannot get random bytes from the operating system: {0}")]
    Random(String),
    #[error(transparent)]
    Vault(#[from] vault::Error),
    #[error(transparent)]
    Audit(#[from] audit::AuditError),
    #[error(
        "the stored {what} of consultation {consultation:?} does not parse ({reason}); it was written by an incompatible version"
    )]
    Stored { consultation: String, what: &'static str, reason: String },
}

impl From<storage::Error> for Error {
    fn from(error: storage::Error) -> Error {
        match error {
            storage::Error::Vault(e) => Error::Vault(e),
            storage::Error::Audit(e) => Error::Audit(e),
            storage::Error::Stored { consultation, what, reason } => Error::Stored { consultation, what, reason },
            other @ storage::Error::Exists(_) => {
                Error::Stored { consultation: String::new(), what: "consultation", reason: other.to_string() }
            }
        }
    }
}

/// Settings of the review app.
#[derive(Clone, Debug)]
pub struct ReviewConfig {
    /// The address doctors' browsers reach the service at (`[server] public_url`); an
    /// `https://` address makes the session cookie `Secure`.
    pub public_url: String,
    /// How long a session lasts after the link was opened.
    pub session_ttl: Duration,
    /// How far back the consultation list reaches.
    pub list_window: Duration,
    /// Gives the deletion deadline that export and discard set, for the audit log.
    pub retention: RetentionPolicy,
}

impl Default for ReviewConfig {
    fn default() -> ReviewConfig {
        ReviewConfig {
            public_url: "http://127.0.0.1:8470".into(),
            session_ttl: Duration::from_secs(8 * 3600),
            list_window: Duration::from_secs(24 * 3600),
            retention: RetentionPolicy::default(),
        }
    }
}

/// Everything the review app works with. Cheap to clone.
#[derive(Clone)]
pub struct ReviewState {
    inner: Arc<Inner>,
    /// The live service's consultations; `None` when the app runs without one.
    live: Option<Arc<dyn LiveFeed>>,
    /// Where the capture page's audio goes; without it there is no capture page.
    capture: Option<Arc<dyn CaptureIngest>>,
}

struct Inner {
    vault: Vault,
    audit: Arc<Mutex<AuditLog>>,
    secret: LinkSecret,
    config: ReviewConfig,
    sessions: session::DoctorSessions,
    used_links: link::UsedLinks,
    /// Failed logins are anyone's to cause: counted, not each written.
    failed_logins: Mutex<audit::Throttle>,
    /// Bumped when the app changes a consultation's status (approve, discard), so open lists
    /// update without waiting for the live service.
    statuses: tokio::sync::watch::Sender<u64>,
}

impl ReviewState {
    /// `audit` is the service's one audit log, shared with everything else that writes to it.
    pub fn new(vault: Vault, audit: Arc<Mutex<AuditLog>>, secret: LinkSecret, config: ReviewConfig) -> ReviewState {
        let sessions = session::DoctorSessions::new(config.session_ttl);
        let statuses = tokio::sync::watch::channel(0).0;
        ReviewState {
            inner: Arc::new(Inner {
                vault,
                audit,
                secret,
                config,
                sessions,
                used_links: link::UsedLinks::default(),
                failed_logins: Mutex::default(),
                statuses,
            }),
            live: None,
            capture: None,
        }
    }

    fn statuses_changed(&self) {
        self.inner.statuses.send_modify(|v| *v += 1);
    }

    /// Shows the live service's consultations too: in the list, and on the live page.
    pub fn with_live(mut self, feed: Arc<dyn LiveFeed>) -> ReviewState {
        self.live = Some(feed);
        self
    }

    /// Serves the capture page (`/review/optag`), streaming into `ingest`.
    pub fn with_capture(mut self, ingest: Arc<dyn CaptureIngest>) -> ReviewState {
        self.capture = Some(ingest);
        self
    }
}
