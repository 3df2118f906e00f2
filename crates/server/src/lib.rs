//! The live service: a video client forks a consultation's audio tracks to `/v1/ingest` over a
//! WebSocket, gets committed transcript text back while the call runs, and a transcript with
//! a note draft when it hangs up.
//!
//! Each track runs its own task (resampling to 16 kHz, Silero VAD with state carried across
//! frames, the commit policy in `pipeline`); all Whisper decoding goes to one model on a
//! budget of cores (`decoder`), shared in priority order between every live consultation.
//! Sessions outlive their connection so a client can reconnect and resume. The protocol is in
//! `docs/ingest-protocol.md`; [`client`] is its reference client.

pub mod client;
pub mod decode;
mod decoder;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod keys;
mod metrics;
mod pipeline;
pub mod protocol;
mod session;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::{SinkExt, StreamExt};
use storage::IngestRefusal;
use tokio::sync::mpsc;

pub use crate::keys::IngestKeys;
use crate::protocol::error;
use crate::protocol::{ClientMessage, ErrorCode, ServerMessage};
// Onlookers (the review app's live pages, through the binary) read a consultation in memory
// through `Session`'s read-only methods and its `subscribe`; the rest stays in this crate.
pub use crate::session::{Interim, Phase, Service, Session};
pub use storage::Principal;

/// The service's limits and choices; the defaults are what `autonotar serve` uses.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where `silero_vad.onnx` and the ONNX Runtime library are.
    pub models_dir: PathBuf,
    /// Recognition language (ISO 639-1), recorded in the transcript.
    pub language: String,
    pub max_sessions: usize,
    /// Largest audio payload of one binary frame, in bytes.
    pub max_frame_bytes: usize,
    /// Audio a track may have queued ahead of transcription before the server stops reading
    /// from the client (backpressure; nothing is dropped).
    pub max_buffered_seconds: f64,
    /// A session without audio or messages for this long is finalised as if stopped.
    pub idle_timeout: Duration,
    /// How long a finished session's draft stays available to a reconnecting client.
    pub keep_finished: Duration,
    /// How long a new connection may take to send its `start`.
    pub start_timeout: Duration,
    /// Spacing (s) of interim passes over speech still going on; 0 commits only at pauses.
    pub interim_every: f64,
    /// How often, at most, the note is drafted from the text committed so far while a call
    /// goes on; `None` drafts only at hang-up.
    pub interim_draft_every: Option<Duration>,
}

impl Settings {
    pub fn new(models_dir: PathBuf) -> Settings {
        Settings {
            models_dir,
            language: "da".into(),
            max_sessions: 16,
            max_frame_bytes: 64 * 1024,
            max_buffered_seconds: 60.0,
            idle_timeout: session::DEFAULT_IDLE,
            keep_finished: Duration::from_secs(600),
            start_timeout: Duration::from_secs(10),
            interim_every: 0.5,
            interim_draft_every: Some(Duration::from_secs(5)),
        }
    }
}

/// Fails early, with the VAD's own message, when the models directory cannot serve a session.
pub fn check_models(settings: &Settings) -> Result<(), vad::Error> {
    vad::Vad::new(&settings.models_dir, vad::Params::default()).map(drop)
}

/// The HTTP routes: `/v1/ingest` (WebSocket, for holders of an ingest key), `/healthz`, `/metrics`.
pub fn router(service: Arc<Service>, keys: IngestKeys) -> Router {
    Router::new()
        .route("/v1/ingest", get(ingest))
        .with_state(Ingest { service: service.clone(), keys: Arc::new(keys) })
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics))
        .with_state(service)
}

/// Serves the ingest service and `extra` routes on one listener until `shutdown` completes,
/// then lets open requests finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    service: Arc<Service>,
    keys: IngestKeys,
    extra: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(service, keys).merge(extra).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}

#[derive(Clone)]
struct Ingest {
    service: Arc<Service>,
    keys: Arc<IngestKeys>,
}

/// Who the upgrade request says it is: an ingest key in `Authorization: Bearer`, from a client
/// that is not a browser (browsers send `Origin`, and open the capture page's own endpoint with
/// their review session instead). The refusal is recorded before anything else happens.
fn authenticate(keys: &IngestKeys, headers: &HeaderMap) -> Result<Principal, (IngestRefusal, StatusCode, String)> {
    if headers.contains_key(header::ORIGIN) {
        return Err((
            IngestRefusal::ForeignOrigin,
            StatusCode::FORBIDDEN,
            "/v1/ingest is for server-to-server clients with an ingest key; a request with an Origin header (a browser) is refused".into(),
        ));
    }
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim);
    let Some(presented) = presented.filter(|key| !key.is_empty()) else {
        return Err((
            IngestRefusal::MissingKey,
            StatusCode::UNAUTHORIZED,
            "send an ingest key as `Authorization: Bearer KEY` (made with `autonotar ingest-key create NAME`)".into(),
        ));
    };
    match keys.check(presented) {
        Ok(Some(name)) => Ok(Principal::Key(name)),
        Ok(None) => Err((
            IngestRefusal::UnknownKey,
            StatusCode::UNAUTHORIZED,
            "this ingest key is unknown or revoked; `autonotar ingest-key list` shows the valid ones".into(),
        )),
        Err(e) => {
            tracing::error!("the ingest keys cannot be read: {e}");
            Err((
                IngestRefusal::UnknownKey,
                StatusCode::SERVICE_UNAVAILABLE,
                "the server cannot read its ingest keys; see its log".into(),
            ))
        }
    }
}

async fn metrics(State(service): State<Arc<Service>>) -> impl IntoResponse {
    let (active, lag) = service.load();
    let mut text = service.metrics.render(active, lag);
    service.decoder.write_metrics(&mut text);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}

async fn ingest(State(ingest): State<Ingest>, headers: HeaderMap, upgrade: WebSocketUpgrade) -> Response {
    match authenticate(&ingest.keys, &headers) {
        Ok(principal) => accept(ingest.service, principal, upgrade),
        Err((reason, status, message)) => {
            ingest.service.sink().refused_connection(reason, None);
            ingest.service.metrics.error();
            (status, [(header::WWW_AUTHENTICATE, "Bearer")], message + "\n").into_response()
        }
    }
}

/// Takes an authenticated upgrade: the ingest protocol for `principal` on this socket. The
/// review app's capture page comes in here too, as the signed-in doctor.
pub fn accept(service: Arc<Service>, principal: Principal, upgrade: WebSocketUpgrade) -> Response {
    // The WebSocket layer refuses only absurd messages; frames over max_frame_bytes get the
    // protocol's own clear error.
    let limit = (service.settings.max_frame_bytes * 4).max(1 << 20);
    upgrade
        .max_message_size(limit)
        .max_frame_size(limit)
        .on_upgrade(move |socket| connection(service, principal, socket))
        .into_response()
}

fn json(event: &ServerMessage) -> Message {
    Message::Text(serde_json::to_string(event).expect("events always serialise").into())
}

/// One client connection: waits for `start`, then feeds frames to the session while a writer
/// task sends the session's events back.
async fn connection(service: Arc<Service>, principal: Principal, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    let refuse = |event: ServerMessage| {
        service.metrics.error();
        json(&event)
    };
    let deadline = tokio::time::Instant::now() + service.settings.start_timeout;
    let opened = loop {
        let message = match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(Some(Ok(message))) => message,
            Ok(_) => return,
            Err(_) => {
                let late =
                    error(ErrorCode::StartTimeout, "no start message in time; send start right after connecting");
                let _ = sink.send(refuse(late)).await;
                let _ = sink.close().await;
                return;
            }
        };
        let reply = match message {
            Message::Text(text) => match serde_json::from_str::<ClientMessage>(&text) {
                Ok(ClientMessage::Start(start)) => {
                    let interim_draft = start.interim_draft;
                    match service.open(start, &principal) {
                        Ok(opened) => break (opened, interim_draft),
                        Err(event) => event,
                    }
                }
                Ok(ClientMessage::Stop) => {
                    error(ErrorCode::NotStarted, "stop before start: send a start message first")
                }
                Err(e) => error(ErrorCode::MalformedMessage, format!("not a protocol message: {e}")),
            },
            Message::Binary(_) => error(ErrorCode::NotStarted, "audio before start: send a start message first"),
            Message::Close(_) => return,
            Message::Ping(_) | Message::Pong(_) => continue,
        };
        // Nothing exists yet for this connection: refuse and close.
        let _ = sink.send(refuse(reply)).await;
        let _ = sink.close().await;
        return;
    };
    let (opened, interim_draft) = opened;
    let (session, id) = (opened.session, opened.connection);
    let (direct, replies) = mpsc::channel(64);
    let interim = interim_draft.then(|| InterimFor { service: service.clone(), principal: principal.clone() });
    let writer = tokio::spawn(write_events(sink, session.clone(), id, opened.greeting, replies, interim));
    while let Some(Ok(message)) = stream.next().await {
        let reply = match message {
            Message::Binary(bytes) => session.accept_frame(&service, id, &bytes).await.err(),
            Message::Text(text) => match serde_json::from_str::<ClientMessage>(&text) {
                Ok(ClientMessage::Stop) => {
                    session.stop("client");
                    None
                }
                Ok(ClientMessage::Start(_)) => {
                    Some(error(ErrorCode::SessionMismatch, "this connection has already started a consultation"))
                }
                Err(e) => Some(error(ErrorCode::MalformedMessage, format!("not a protocol message: {e}"))),
            },
            Message::Close(_) => break,
            Message::Ping(_) | Message::Pong(_) => None,
        };
        if let Some(reply) = reply {
            let superseded = matches!(reply, ServerMessage::Error { code: ErrorCode::Superseded, .. });
            service.metrics.error();
            if direct.send(reply).await.is_err() || superseded {
                break;
            }
        }
    }
    // The client went away: the session lives on for a resume; only this writer ends.
    drop(direct);
    if tokio::time::timeout(Duration::from_secs(1), writer).await.is_err() {
        tracing::debug!(consultation = %session.consultation, "writer did not finish after the client left");
    }
}

/// A connection whose `start` asked for interim drafts: who it is, for the audit record.
struct InterimFor {
    service: Arc<Service>,
    principal: Principal,
}

impl InterimFor {
    /// Records, before the first interim draft goes out, that this client is shown it; `false`
    /// when the record could not be written, and then none is sent.
    async fn audited(&self, session: &Session) -> bool {
        let (service, principal) = (self.service.clone(), self.principal.clone());
        let (consultation, doctor) = (session.consultation.clone(), session.doctor.clone());
        let recorded = tokio::task::spawn_blocking(move || {
            let opening = storage::Opening { consultation: &consultation, doctor: &doctor, principal: &principal };
            service.sink().interim_draft_shown(opening)
        })
        .await;
        match recorded {
            Ok(Ok(())) => true,
            Ok(Err(e)) => {
                tracing::error!(consultation = %session.consultation, "no interim drafts for this connection: {e}");
                false
            }
            Err(_) => false,
        }
    }
}

/// Sends the session's log from the start (a resumed client gets it again and drops what it
/// has by segment number), partial text, this connection's own replies and, if it asked for
/// them, the interim drafts.
async fn write_events(
    mut sink: futures_util::stream::SplitSink<WebSocket, Message>,
    session: Arc<Session>,
    connection: u64,
    greeting: ServerMessage,
    mut replies: mpsc::Receiver<ServerMessage>,
    mut interim: Option<InterimFor>,
) {
    let mut version = session.subscribe();
    if interim.is_some() {
        session.want_interim();
    }
    if sink.send(json(&greeting)).await.is_err() {
        return;
    }
    let mut cursor = 0;
    let (mut interim_sent, mut interim_audited) = (None, false);
    loop {
        let Some((events, partials)) = session.pending(connection, cursor) else {
            let _ =
                sink.send(json(&error(ErrorCode::Superseded, "another connection resumed this consultation"))).await;
            break;
        };
        cursor += events.len();
        for event in events.iter().chain(partials.into_iter().map(ServerMessage::Partial).collect::<Vec<_>>().iter()) {
            if sink.send(json(event)).await.is_err() {
                return;
            }
        }
        if let (Some(wanted), Some(draft)) = (&interim, session.interim())
            && interim_sent != Some(draft.commits)
            && session.phase() == Phase::Recording
        {
            if !interim_audited && !wanted.audited(&session).await {
                interim = None;
            } else {
                interim_audited = true;
                interim_sent = Some(draft.commits);
                let event =
                    ServerMessage::InterimDraft { commits: draft.commits, draft: Box::new(draft.draft.clone()) };
                if sink.send(json(&event)).await.is_err() {
                    return;
                }
            }
        }
        tokio::select! {
            reply = replies.recv() => match reply {
                Some(reply) => if sink.send(json(&reply)).await.is_err() { return },
                None => break,
            },
            changed = version.changed() => if changed.is_err() { break },
        }
    }
    let _ = sink.close().await;
}
