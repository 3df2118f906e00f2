//! What every handler of the review app shares: the refusal a request gets, the signed-in
//! doctor, the audit record of a step, and running vault and audit work (both fsync) on the
//! blocking pool. The page routes (`web`), the live streams (`stream`) and the capture page
//! (`capture`) build on this and not on each other.

use audit::{ConsultationId, Id, LoginFailure};
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

use crate::pages;
use crate::session::{DoctorSession, Lookup};
use crate::{Error, ReviewState};

/// Why a request was refused, as the doctor is told.
#[derive(Debug)]
pub enum Refusal {
    NotLoggedIn,
    SessionInvalid,
    Link(LoginFailure),
    Csrf,
    NotFound,
    /// The consultation can no longer be changed (approved or discarded).
    Closed,
    BadInput(&'static str),
    Internal(Error),
}

impl From<storage::Error> for Refusal {
    fn from(error: storage::Error) -> Refusal {
        Error::from(error).into()
    }
}

impl From<Error> for Refusal {
    fn from(error: Error) -> Refusal {
        match error {
            // Ids come from the address bar: one the vault cannot name is simply not there.
            Error::Vault(vault::Error::Missing { .. } | vault::Error::InvalidId(_) | vault::Error::Shredded { .. }) => {
                Refusal::NotFound
            }
            other => Refusal::Internal(other),
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let (status, title, message) = match &self {
            Refusal::NotLoggedIn => (
                StatusCode::UNAUTHORIZED,
                "Ikke logget ind",
                "Du er ikke logget ind. Åbn notatet fra knappen i lægesystemet.",
            ),
            Refusal::SessionInvalid => (
                StatusCode::UNAUTHORIZED,
                "Sessionen er ugyldig",
                "Din session er udløbet eller ugyldig. Åbn notatet igen fra knappen i lægesystemet.",
            ),
            Refusal::Link(LoginFailure::LinkExpired) => (
                StatusCode::FORBIDDEN,
                "Linket er udløbet",
                "Linket er udløbet. Åbn notatet igen fra knappen i lægesystemet for at få et nyt link.",
            ),
            Refusal::Link(LoginFailure::LinkAlreadyUsed) => (
                StatusCode::FORBIDDEN,
                "Linket er allerede brugt",
                "Linket er allerede brugt. Af sikkerhedshensyn virker et link kun én gang. Åbn notatet igen fra knappen i lægesystemet.",
            ),
            Refusal::Link(_) => (
                StatusCode::FORBIDDEN,
                "Ugyldigt link",
                "Linket er ugyldigt. Åbn notatet fra knappen i lægesystemet; kopier ikke linket i hånden.",
            ),
            Refusal::Csrf => (
                StatusCode::FORBIDDEN,
                "Handlingen blev afvist",
                "Handlingen blev afvist af sikkerhedshensyn (sikkerhedsnøglen manglede eller passede ikke). Genindlæs siden og prøv igen.",
            ),
            Refusal::NotFound => {
                (StatusCode::NOT_FOUND, "Ikke fundet", "Konsultationen findes ikke, eller du har ikke adgang til den.")
            }
            Refusal::Closed => (
                StatusCode::CONFLICT,
                "Kan ikke ændres",
                "Konsultationen er godkendt eller kasseret og kan ikke længere ændres.",
            ),
            Refusal::BadInput(what) => (StatusCode::BAD_REQUEST, "Ugyldig forespørgsel", *what),
            Refusal::Internal(error) => {
                // Ids and paths only: vault and audit errors carry no consultation content.
                eprintln!("review: {error}");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Der opstod en fejl",
                    "Der opstod en fejl, og intet blev ændret. Prøv igen; bliver fejlen ved, så kontakt jeres it-ansvarlige.",
                )
            }
        };
        (status, pages::message(title, message)).into_response()
    }
}

/// A logged-in doctor.
pub struct Doctor(pub(crate) DoctorSession);

impl FromRequestParts<ReviewState> for Doctor {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &ReviewState) -> Result<Doctor, Refusal> {
        match state.inner.sessions.lookup(&parts.headers) {
            Lookup::Valid(session) => Ok(Doctor(session)),
            Lookup::None => Err(Refusal::NotLoggedIn),
            Lookup::Invalid => {
                let state = state.clone();
                blocking(move || {
                    audit_failed_login(&state, LoginFailure::SessionInvalid, None)?;
                    Err(Refusal::SessionInvalid)
                })
                .await
            }
        }
    }
}

pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, Refusal> + Send + 'static,
) -> Result<T, Refusal> {
    tokio::task::spawn_blocking(work).await.unwrap_or_else(|panic| std::panic::resume_unwind(panic.into_panic()))
}

pub(crate) fn audit(state: &ReviewState, event: audit::Event) -> Result<(), Refusal> {
    let mut log = state.inner.audit.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    log.append(event).map(drop).map_err(|e| Refusal::Internal(e.into()))
}

/// A failed login's record, unless the throttle counts it into the next one. Either way the
/// request is refused: nothing is disclosed, so nothing waits on the record.
pub(crate) fn audit_failed_login(state: &ReviewState, reason: LoginFailure, doctor: Option<Id>) -> Result<(), Refusal> {
    let admitted = state.inner.failed_logins.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).admit();
    match admitted {
        Some(suppressed) => audit(state, audit::Event::LoginFailed { reason, doctor, suppressed }),
        None => Ok(()),
    }
}

/// The consultation id from the address, under the one rule ingest and the vault apply; any
/// other is "not found", as nothing can have been stored under it.
pub(crate) fn consultation_id(raw: &str) -> Result<Id, Refusal> {
    ConsultationId::new(raw).map(|id| id.as_id().clone()).map_err(|_| Refusal::NotFound)
}
