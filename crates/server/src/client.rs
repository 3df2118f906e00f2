//! The reference client: streams a recording's tracks to `/v1/ingest` at real-time pace (or
//! faster), survives a lost connection by resuming, and waits for the draft. `autonotar replay`
//! and the tests use it; a browser client follows the same steps.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use crate::protocol::{ClientMessage, Encoding, ServerMessage, Start, TrackSpec, frame};

/// Connection attempts in a row before the client gives up.
const ATTEMPTS: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot reach {url}: {reason} (is `autonotar serve` running there?)")]
    Connect { url: String, reason: String },
    #[error("the server refused the consultation: {0}")]
    Refused(String),
    #[error("the connection was lost {ATTEMPTS} times in a row; last: {0}")]
    Lost(String),
    #[error("no draft_ready within {0:?} after stop")]
    NoDraft(Duration),
}

/// One consultation to stream.
pub struct Replay {
    /// `ws://host:port/v1/ingest`
    pub url: String,
    /// The ingest key (`autonotar ingest-key create`), sent as `Authorization: Bearer`.
    pub key: secrets::Zeroizing<String>,
    pub consultation: String,
    pub doctor: String,
    /// 1.0 = real time, 4.0 = four times faster; 0 = as fast as the server takes it.
    pub speed: f64,
    pub frame_ms: u32,
    /// Each track's declaration and its samples at the declared rate.
    pub tracks: Vec<(TrackSpec, Vec<f32>)>,
    /// Drop the connection without a goodbye after this many frames (per track), then resume:
    /// exercises the server's resume path.
    pub drop_after: Option<u32>,
    pub draft_timeout: Duration,
    /// Ask for `interim_draft` events.
    pub interim_draft: bool,
}

/// What one replay saw.
#[derive(Debug, Default)]
pub struct Report {
    /// Every event, duplicates of a resumed log removed.
    pub events: Vec<ServerMessage>,
    /// Seconds from sending a committed segment's last frame to receiving the commit.
    pub commit_latencies: Vec<f64>,
    /// Seconds from `stop` to `draft_ready`.
    pub hangup_to_draft: f64,
    pub reconnects: usize,
}

impl Report {
    pub fn draft(&self) -> Option<&ServerMessage> {
        self.events.iter().find(|e| matches!(e, ServerMessage::DraftReady { .. }))
    }
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

impl Replay {
    fn frames(&self, track: usize) -> u32 {
        let (spec, samples) = &self.tracks[track];
        let per_frame = self.samples_per_frame(spec);
        samples.len().div_ceil(per_frame) as u32
    }

    fn samples_per_frame(&self, spec: &TrackSpec) -> usize {
        (spec.sample_rate as usize * self.frame_ms as usize / 1000).max(1)
    }

    fn frame(&self, track: usize, sequence: u32) -> Vec<u8> {
        let (spec, samples) = &self.tracks[track];
        let n = self.samples_per_frame(spec);
        let start = sequence as usize * n;
        frame(track as u8, sequence, spec.encoding, &samples[start..(start + n).min(samples.len())])
    }

    /// Connects and sends `start`: a fresh one the first time, a resume with the token from
    /// `started` after that.
    async fn connect(&self, resume_token: &mut Option<String>) -> Result<(Socket, Vec<u32>), Error> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let connect = |reason: String| Error::Connect { url: self.url.clone(), reason };
        let mut request = self.url.as_str().into_client_request().map_err(|e| connect(e.to_string()))?;
        let bearer = format!("Bearer {}", self.key.as_str()).parse().map_err(|_| {
            Error::Refused("the ingest key is not valid header text; copy it exactly as printed".into())
        })?;
        request.headers_mut().insert("authorization", bearer);
        let (mut socket, _) = tokio_tungstenite::connect_async(request).await.map_err(|e| match e {
            // Refused by the server, not lost on the way: trying again cannot help.
            tokio_tungstenite::tungstenite::Error::Http(response) if response.status().is_client_error() => {
                let body = response.body().as_deref().map(String::from_utf8_lossy).unwrap_or_default();
                Error::Refused(format!("HTTP {}: {}", response.status(), body.trim()))
            }
            e => connect(e.to_string()),
        })?;
        let start = ClientMessage::Start(Start {
            consultation: self.consultation.clone(),
            doctor: self.doctor.clone(),
            tracks: self.tracks.iter().map(|(spec, _)| spec.clone()).collect(),
            consent: true,
            resume_token: resume_token.clone(),
            interim_draft: self.interim_draft,
        });
        let lost = |e: tokio_tungstenite::tungstenite::Error| Error::Lost(e.to_string());
        socket.send(Message::text(serde_json::to_string(&start).expect("start serialises"))).await.map_err(lost)?;
        while let Some(message) = socket.next().await {
            let Message::Text(text) = message.map_err(lost)? else { continue };
            match serde_json::from_str::<ServerMessage>(&text) {
                Ok(ServerMessage::Started { next_sequence, resume_token: token, .. }) => {
                    *resume_token = Some(token);
                    return Ok((socket, next_sequence));
                }
                Ok(ServerMessage::Resumed { next_sequence, .. }) => return Ok((socket, next_sequence)),
                Ok(ServerMessage::Error { code, message }) => {
                    return Err(Error::Refused(format!("{code:?}: {message}")));
                }
                _ => continue,
            }
        }
        Err(Error::Lost("closed before the server answered start".into()))
    }

    /// Streams every track, sends stop, and returns once `draft_ready` arrived. `on_event`
    /// hears each new event as it comes.
    pub async fn run(&self, on_event: &mut dyn FnMut(&ServerMessage)) -> Result<Report, Error> {
        let mut report = Report::default();
        let mut seen_segments = HashSet::new();
        let mut other_events_seen = 0usize;
        let mut sent_at: Vec<Vec<Option<Instant>>> =
            (0..self.tracks.len()).map(|t| vec![None; self.frames(t) as usize]).collect();
        let began = Instant::now();
        let mut failures = 0;
        let mut dropped_once = false;
        let mut stop_sent: Option<Instant> = None;
        let mut resume_token = None;
        loop {
            let (socket, mut next) = match self.connect(&mut resume_token).await {
                Ok(connected) => connected,
                Err(Error::Refused(reason)) => return Err(Error::Refused(reason)),
                Err(e) => {
                    failures += 1;
                    if failures >= ATTEMPTS {
                        return Err(Error::Lost(e.to_string()));
                    }
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    continue;
                }
            };
            let (mut sink, mut stream) = socket.split();
            // A resumed log repeats events from the start; count non-segment ones to skip them.
            let mut replayed_others = 0usize;
            let mut stop_sent_here = false;
            let outcome: Result<bool, String> = async {
                loop {
                    if !stop_sent_here && (0..self.tracks.len()).all(|t| next[t] >= self.frames(t)) {
                        // Stop is idempotent: after a resume it is sent again in case it was lost.
                        sink.send(Message::text(serde_json::to_string(&ClientMessage::Stop).expect("stop serialises")))
                            .await
                            .map_err(|e| e.to_string())?;
                        stop_sent_here = true;
                        stop_sent.get_or_insert_with(Instant::now);
                    }
                    let due = self.next_due(&next, began);
                    tokio::select! {
                        message = stream.next() => {
                            let Some(message) = message else { return Err("server closed the connection".to_string()) };
                            let Message::Text(text) = message.map_err(|e| e.to_string())? else { continue };
                            let Ok(event) = serde_json::from_str::<ServerMessage>(&text) else { continue };
                            let fresh = match &event {
                                ServerMessage::Committed(piece) => {
                                    let new = piece.segment.is_some_and(|s| seen_segments.insert(s));
                                    if new {
                                        let frame = (piece.end * 1000.0 / self.frame_ms as f64) as usize;
                                        if let Some(Some(at)) = sent_at[piece.track].get(frame) {
                                            report.commit_latencies.push(at.elapsed().as_secs_f64());
                                        }
                                    }
                                    new
                                }
                                // Sent fresh to each connection, never replayed from the log.
                                ServerMessage::Partial(_) | ServerMessage::InterimDraft { .. } => true,
                                ServerMessage::Started { .. } | ServerMessage::Resumed { .. } => false,
                                _ => {
                                    replayed_others += 1;
                                    replayed_others > other_events_seen
                                }
                            };
                            if !fresh {
                                continue;
                            }
                            if !matches!(event, ServerMessage::Committed(_) | ServerMessage::Partial(_) | ServerMessage::InterimDraft { .. }) {
                                other_events_seen += 1;
                            }
                            on_event(&event);
                            let done = matches!(event, ServerMessage::DraftReady { .. });
                            if !matches!(event, ServerMessage::Partial(_)) {
                                report.events.push(event);
                            }
                            if done {
                                return Ok(true);
                            }
                        }
                        _ = sleep_until(due) => {
                            let Some((track, _)) = due else { continue };
                            let sequence = next[track];
                            if !dropped_once && self.drop_after.is_some_and(|n| sequence >= n) {
                                dropped_once = true;
                                return Err("dropped on purpose".to_string());
                            }
                            sink.send(Message::binary(self.frame(track, sequence))).await.map_err(|e| e.to_string())?;
                            sent_at[track][sequence as usize] = Some(Instant::now());
                            next[track] += 1;
                        }
                    }
                    if let Some(at) = stop_sent
                        && at.elapsed() > self.draft_timeout
                    {
                        return Ok(false);
                    }
                }
            }
            .await;
            match outcome {
                Ok(true) => {
                    report.hangup_to_draft = stop_sent.map_or(0.0, |at| at.elapsed().as_secs_f64());
                    return Ok(report);
                }
                Ok(false) => return Err(Error::NoDraft(self.draft_timeout)),
                Err(reason) => {
                    // An abrupt drop: no close handshake, frames in flight may be lost; the
                    // server's next_sequence tells where to go on.
                    drop((sink, stream));
                    report.reconnects += 1;
                    failures += 1;
                    if failures >= ATTEMPTS {
                        return Err(Error::Lost(reason));
                    }
                }
            }
        }
    }

    /// The next frame to send and when: tracks take turns in time order.
    fn next_due(&self, next: &[u32], began: Instant) -> Option<(usize, Instant)> {
        (0..self.tracks.len())
            .filter(|&t| next[t] < self.frames(t))
            .map(|t| {
                let offset =
                    if self.speed > 0.0 { next[t] as f64 * self.frame_ms as f64 / 1000.0 / self.speed } else { 0.0 };
                (t, began + Duration::from_secs_f64(offset))
            })
            .min_by_key(|&(_, at)| at)
    }
}

async fn sleep_until(due: Option<(usize, Instant)>) {
    match due {
        Some((_, at)) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}

/// Track declarations for a recording: channel 0 the doctor, 1 the patient, the rest others.
pub fn tracks_of(recording: audio::Recording) -> Vec<(TrackSpec, Vec<f32>)> {
    recording
        .channels
        .into_iter()
        .enumerate()
        .map(|(i, samples)| {
            let role = transcript::Role::for_channel(i);
            (
                TrackSpec {
                    id: format!("{role}-{i}"),
                    role,
                    sample_rate: recording.sample_rate,
                    encoding: Encoding::PcmS16le,
                },
                samples,
            )
        })
        .collect()
}
