//! Where the live service and the review app meet, so neither depends on the other: the
//! service's consultations as the review app's `LiveFeed` (read-only), and the capture page's
//! WebSocket handed to the service as the signed-in doctor (`CaptureIngest`).

use std::sync::Arc;

use axum::extract::WebSocketUpgrade;
use axum::response::Response;
use review::{CaptureIngest, LiveConsultation, LiveFeed, LivePhase, LiveText, LiveUpdate};
use server::Service;
use server::protocol::{Piece, ServerMessage};
use server::{Phase, Session};
use tokio::sync::{mpsc, watch};

pub struct ServiceFeed {
    service: Arc<Service>,
    /// Bumped when a consultation opens, stops, finishes or is forgotten.
    phases: watch::Sender<u64>,
}

impl ServiceFeed {
    /// Starts watching `service`.
    pub fn start(service: Arc<Service>) -> Arc<ServiceFeed> {
        let feed = Arc::new(ServiceFeed { service, phases: watch::channel(0).0 });
        tokio::spawn(track_phases(feed.service.clone(), feed.phases.clone()));
        feed
    }
}

/// The capture page's audio goes into the live service like any ingest client's, its principal
/// the doctor the review session signed in.
pub struct ServiceCapture(pub Arc<Service>);

impl CaptureIngest for ServiceCapture {
    fn accept(&self, doctor: audit::Id, upgrade: WebSocketUpgrade) -> Response {
        server::accept(self.0.clone(), server::Principal::Doctor(doctor), upgrade)
    }
}

/// Keeps `phases` bumped as consultations change phase. The service announces new consultations
/// on `openings`; every other change shows on the session's own version, which also moves with
/// each audio frame, so the phases are compared before anyone is told.
async fn track_phases(service: Arc<Service>, phases: watch::Sender<u64>) {
    let mut opened = service.openings();
    let mut last = Vec::new();
    loop {
        // Subscribed before looking, so no change between the look and the wait is missed.
        let sessions = service.consultations();
        let mut versions: Vec<_> = sessions.iter().map(|s| s.subscribe()).collect();
        let mut now: Vec<(String, Phase)> = sessions.iter().map(|s| (s.consultation.to_string(), s.phase())).collect();
        // Holding the sessions would keep a forgotten one's transcript in memory.
        drop(sessions);
        now.sort_by(|a, b| a.0.cmp(&b.0));
        if now != last {
            phases.send_modify(|v| *v += 1);
            last = now;
        }
        if versions.is_empty() {
            if opened.changed().await.is_err() {
                return;
            }
            continue;
        }
        // A forgotten session's version ends, which wakes this too.
        tokio::select! {
            changed = opened.changed() => if changed.is_err() { return },
            _ = futures_util::future::select_all(versions.iter_mut().map(|v| Box::pin(v.changed()))) => {}
        }
    }
}

/// Whether `session` is `doctor`'s: the doctor id of the call's `start` message.
fn belongs_to(session: &Session, doctor: &audit::Id) -> bool {
    &session.doctor == doctor
}

impl LiveFeed for ServiceFeed {
    fn consultations(&self, doctor: &audit::Id) -> Vec<LiveConsultation> {
        self.service
            .consultations()
            .into_iter()
            .filter(|session| belongs_to(session, doctor))
            .map(|session| {
                let phase = match session.phase() {
                    Phase::Recording => LivePhase::Recording,
                    Phase::Finishing => LivePhase::Transcribing,
                    Phase::Finished => LivePhase::Finished,
                };
                LiveConsultation { id: session.consultation.as_id().clone(), opened: session.opened, phase }
            })
            .collect()
    }

    fn changes(&self) -> watch::Receiver<u64> {
        self.phases.subscribe()
    }

    fn follow(&self, doctor: &audit::Id, consultation: &audit::Id) -> Option<mpsc::Receiver<LiveUpdate>> {
        let session = self.service.consultation(consultation.as_str()).filter(|s| belongs_to(s, doctor))?;
        let (updates, receiver) = mpsc::channel(64);
        tokio::spawn(relay(session, updates));
        Some(receiver)
    }
}

/// Sends the session's log from the start, then each change, until the draft is ready or the
/// review app stops listening.
async fn relay(session: Arc<Session>, updates: mpsc::Sender<LiveUpdate>) {
    let mut version = session.subscribe();
    // The live page shows the note as it forms.
    session.want_interim();
    let mut interim_shown = None;
    let mut cursor = 0;
    // The tentative text last sent per track: the log's version changes with every audio frame,
    // and the page only needs to hear of text that changed.
    let mut shown: Vec<Option<Piece>> = Vec::new();
    loop {
        let (events, partials) = session.snapshot(cursor);
        cursor += events.len();
        for event in events {
            let (update, last) = match event {
                ServerMessage::Committed(piece) => {
                    if let Some(slot) = shown.get_mut(piece.track) {
                        *slot = None;
                    }
                    let number = piece.segment.unwrap_or_default();
                    (LiveUpdate::Committed { number, text: text(piece) }, false)
                }
                ServerMessage::Stopped { .. } => (LiveUpdate::Stopped, false),
                ServerMessage::DraftReady { draft: Some(draft), .. } => {
                    if updates.send(LiveUpdate::FinalDraft(Arc::new(*draft))).await.is_err() {
                        return;
                    }
                    (LiveUpdate::DraftReady, true)
                }
                ServerMessage::DraftReady { draft: None, .. } => (LiveUpdate::NoDraft, true),
                _ => continue,
            };
            if updates.send(update).await.is_err() || last {
                return;
            }
        }
        for piece in partials {
            if shown.len() <= piece.track {
                shown.resize(piece.track + 1, None);
            }
            if shown[piece.track].as_ref() != Some(&piece) {
                shown[piece.track] = Some(piece.clone());
                if updates.send(LiveUpdate::Tentative(text(piece))).await.is_err() {
                    return;
                }
            }
        }
        if let Some(interim) = session.interim().filter(|i| interim_shown != Some(i.commits))
            && session.phase() == Phase::Recording
        {
            interim_shown = Some(interim.commits);
            let update = LiveUpdate::InterimDraft {
                draft: Arc::new(interim.draft.clone()),
                commit_of_segment: Arc::new(interim.commit_of_segment.clone()),
            };
            if updates.send(update).await.is_err() {
                return;
            }
        }
        tokio::select! {
            _ = updates.closed() => return,
            changed = version.changed() => if changed.is_err() { return },
        }
    }
}

fn text(piece: Piece) -> LiveText {
    LiveText { track: piece.track, speaker: piece.speaker, start: piece.start, text: piece.text }
}
