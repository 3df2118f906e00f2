//! The live service: a video client forks a consultation's audio tracks to `/v1/ingest` over a
//! WebSocket, gets committed transcript text back while the call runs, and a transcript with
//! a note draft when it hangs up.
//!
//! Each track runs its own task (resampling to 16 kHz, Silero VAD with state carried across
//! frames, the commit policy in [`pipeline`]); all Whisper decoding goes to one worker thread
//! ([`decoder`]), shared in arrival order between every live consultation. Sessions outlive
//! their connection so a client can reconnect and resume. The protocol is in
//! `docs/ingest-protocol.md`; [`client`] is its reference client.

pub mod client;
pub mod decoder;
pub mod metrics;
pub mod pipeline;
pub mod protocol;
pub mod session;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;

use crate::protocol::{ClientMessage, ErrorCode, Event};
pub use crate::session::Service;
use crate::session::{Session, error};

/// Turns a consultation's final transcript into a note draft (JSON), or says why it could not.
pub type Drafter = Arc<dyn Fn(&Finished) -> Result<serde_json::Value, String> + Send + Sync>;

/// A consultation opened (`opened`) or refused for want of consent, as the audit log hears of it.
pub struct Observed<'a> {
    pub consultation: &'a str,
    pub doctor: &'a str,
    pub opened: bool,
}

pub type Observer = Arc<dyn Fn(Observed<'_>) + Send + Sync>;

/// A consultation at hang-up, as the drafting stage receives it.
pub struct Finished {
    pub consultation: String,
    pub doctor: String,
    pub transcript: transcript::Transcript,
}

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
    /// Spacing (s) of interim passes over speech still going on; 0 commits only at pauses.
    pub interim_every: f64,
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
            interim_every: 0.5,
        }
    }
}

/// Fails early, with the VAD's own message, when the models directory cannot serve a session.
pub fn check_models(settings: &Settings) -> Result<(), vad::Error> {
    vad::Vad::new(&settings.models_dir, vad::Params::default()).map(drop)
}

/// The HTTP routes: `/v1/ingest` (WebSocket), `/healthz`, `/metrics`.
pub fn router(service: Arc<Service>) -> Router {
    Router::new()
        .route("/v1/ingest", get(ingest))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics))
        .with_state(service)
}

/// Serves `router` on `listener` until the process ends.
/// Serves the ingest service and `extra` routes (the review app) on one listener.
pub async fn serve(listener: tokio::net::TcpListener, service: Arc<Service>, extra: Router) -> std::io::Result<()> {
    axum::serve(listener, router(service).merge(extra).into_make_service_with_connect_info::<SocketAddr>()).await
}

async fn metrics(State(service): State<Arc<Service>>) -> impl IntoResponse {
    let (active, lag) = service.load();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], service.metrics.render(active, lag))
}

async fn ingest(State(service): State<Arc<Service>>, upgrade: WebSocketUpgrade) -> impl IntoResponse {
    // The WebSocket layer refuses only absurd messages; frames over max_frame_bytes get the
    // protocol's own clear error.
    let limit = (service.settings.max_frame_bytes * 4).max(1 << 20);
    upgrade.max_message_size(limit).max_frame_size(limit).on_upgrade(move |socket| connection(service, socket))
}

fn json(event: &Event) -> Message {
    Message::Text(serde_json::to_string(event).expect("events always serialise").into())
}

/// One client connection: waits for `start`, then feeds frames to the session while a writer
/// task sends the session's events back.
async fn connection(service: Arc<Service>, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    let refuse = |event: Event| {
        service.metrics.error();
        json(&event)
    };
    let opened = loop {
        let Some(Ok(message)) = stream.next().await else { return };
        let reply = match message {
            Message::Text(text) => match serde_json::from_str::<ClientMessage>(&text) {
                Ok(ClientMessage::Start(start)) => match service.open(start) {
                    Ok(opened) => break opened,
                    Err(event) => event,
                },
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
    let (session, id) = (opened.session, opened.connection);
    let (direct, replies) = mpsc::channel(64);
    let writer = tokio::spawn(write_events(sink, session.clone(), id, opened.greeting, replies));
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
            let superseded = matches!(reply, Event::Error { code: ErrorCode::Superseded, .. });
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

/// Sends the session's log from the start (a resumed client gets it again and drops what it
/// has by segment number), partial text, and this connection's own replies.
async fn write_events(
    mut sink: futures_util::stream::SplitSink<WebSocket, Message>,
    session: Arc<Session>,
    connection: u64,
    greeting: Event,
    mut replies: mpsc::Receiver<Event>,
) {
    let mut version = session.subscribe();
    if sink.send(json(&greeting)).await.is_err() {
        return;
    }
    let mut cursor = 0;
    loop {
        let Some((events, partials)) = session.pending(connection, cursor) else {
            let _ =
                sink.send(json(&error(ErrorCode::Superseded, "another connection resumed this consultation"))).await;
            break;
        };
        cursor += events.len();
        for event in events.iter().chain(partials.into_iter().map(Event::Partial).collect::<Vec<_>>().iter()) {
            if sink.send(json(event)).await.is_err() {
                return;
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
