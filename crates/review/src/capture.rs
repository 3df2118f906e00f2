//! The capture page, `/review/optag`: the doctor's own browser records the call (the microphone
//! as the doctor's track, the video call's tab as the patient's) and streams it over the ingest
//! protocol to `/review/optag/ws`. That socket is authenticated by the review session and a
//! same-origin check, never by an ingest key, and is handed to the live service through
//! [`CaptureIngest`], so this crate does not depend on the service.

use audit::{Id, IngestRefusal};
use axum::extract::{State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::request::{Doctor, Refusal, audit, blocking};
use crate::{ReviewState, pages};

/// The ingest side of the capture page: takes a WebSocket whose doctor the review session has
/// already established and serves the ingest protocol on it as that doctor (the consultation
/// belongs to the doctor's session, and its `start` must name that doctor).
pub trait CaptureIngest: Send + Sync {
    fn accept(&self, doctor: Id, upgrade: WebSocketUpgrade) -> Response;
}

/// `GET /review/optag`: the page.
pub async fn page(State(state): State<ReviewState>, Doctor(session): Doctor) -> Result<Response, Refusal> {
    if state.capture.is_none() {
        return Err(Refusal::NotFound);
    }
    Ok(pages::capture(&session.doctor, &session.csrf).into_response())
}

/// `GET /review/optag/ws`: the page's ingest connection. A browser always sends `Origin` on a
/// WebSocket; one from another site (which could borrow the doctor's cookie) is refused and
/// audited before any audio is taken.
pub async fn socket(
    State(state): State<ReviewState>,
    Doctor(session): Doctor,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Result<Response, Refusal> {
    let Some(capture) = state.capture.clone() else { return Err(Refusal::NotFound) };
    let origin = headers.get(header::ORIGIN).and_then(|value| value.to_str().ok());
    if origin != Some(own_origin(&state.inner.config.public_url)) {
        blocking(move || {
            let event = audit::Event::IngestRefused { reason: IngestRefusal::ForeignOrigin, key: None, suppressed: 0 };
            audit(&state, event)
        })
        .await?;
        return Ok((StatusCode::FORBIDDEN, "the capture page connects from the review app's own address only\n")
            .into_response());
    }
    Ok(capture.accept(session.doctor, upgrade))
}

/// `scheme://host[:port]` of the public address, as browsers write `Origin`.
fn own_origin(public_url: &str) -> &str {
    let after_scheme = public_url.find("://").map_or(0, |at| at + 3);
    let end = public_url[after_scheme..].find('/').map_or(public_url.len(), |at| after_scheme + at);
    &public_url[..end]
}

#[cfg(test)]
mod tests {
    use super::own_origin;

    #[test]
    fn the_origin_of_the_public_address_drops_any_path() {
        assert_eq!(own_origin("https://autonotar.klinik.local"), "https://autonotar.klinik.local");
        assert_eq!(own_origin("http://127.0.0.1:8470/"), "http://127.0.0.1:8470");
        assert_eq!(own_origin("https://klinik.dk:8443/autonotar/"), "https://klinik.dk:8443");
    }
}
