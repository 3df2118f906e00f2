//! Server-sent events: the list's rows whenever a status changes, and a live consultation's
//! transcript as it is recognised. Both send HTML rendered by [`pages`], so the script only puts
//! it in place. A stream ends when the browser goes away (its body is dropped) or the
//! consultation is over; the browser's `EventSource` reconnects by itself after a lost connection.

use std::convert::Infallible;

use audit::Id;
use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use tokio::sync::{mpsc, watch};

use crate::live::{DraftChanges, LiveUpdate};
use crate::request::{Doctor, Refusal, audit, blocking, consultation_id};
use crate::store::Status;
use crate::{ReviewState, listing, pages};

/// An event stream of whatever `updates` brings, each turned into an SSE event by `render`.
fn sse<T: Send + 'static>(updates: mpsc::Receiver<T>, render: impl Fn(T) -> Event + Send + 'static) -> Response {
    let events = futures_util::stream::unfold((updates, render), |(mut updates, render)| async move {
        let update = updates.recv().await?;
        let event = render(update);
        Some((Ok::<_, Infallible>(event), (updates, render)))
    });
    // The keep-alive comments also find browsers that left without closing.
    Sse::new(events).keep_alive(KeepAlive::default()).into_response()
}

/// `GET /review/direkte`: the list's rows, sent again whenever they would look different.
pub async fn list(State(state): State<ReviewState>, Doctor(session): Doctor) -> Response {
    let (rows, updates) = mpsc::channel(4);
    let mut live = state.live.as_ref().map(|feed| feed.changes());
    let mut statuses = state.inner.statuses.subscribe();
    tokio::spawn(async move {
        let mut shown = None;
        loop {
            let (state, doctor) = (state.clone(), session.doctor.clone());
            let listed = match tokio::task::spawn_blocking(move || listing::overview(&state, &doctor)).await {
                Ok(Ok(listed)) => listed,
                Ok(Err(error)) => {
                    // Ids and paths only, like every review error.
                    eprintln!("review: the list stream stopped: {error}");
                    return;
                }
                Err(_) => return,
            };
            let fresh = pages::list_rows(&listed);
            if shown.as_ref() != Some(&fresh) {
                if rows.send(fresh.clone()).await.is_err() {
                    return;
                }
                shown = Some(fresh);
            }
            tokio::select! {
                _ = rows.closed() => return,
                changed = statuses.changed() => if changed.is_err() { return },
                still = next_change(&mut live) => if !still { live = None },
            }
        }
    });
    sse(updates, |rows| Event::default().event("rows").data(rows))
}

/// Waits for the live service's next change; `false` when it is gone. Without one, never returns.
async fn next_change(live: &mut Option<watch::Receiver<u64>>) -> bool {
    match live {
        Some(changes) => changes.changed().await.is_ok(),
        None => std::future::pending().await,
    }
}

/// `GET /review/k/{id}/direkte`: the doctor's live consultation, from its first word to the draft.
pub async fn consultation(
    State(state): State<ReviewState>,
    Doctor(session): Doctor,
    Path(id): Path<String>,
) -> Result<Response, Refusal> {
    let consultation = consultation_id(&id)?;
    let updates =
        state.live.as_ref().and_then(|feed| feed.follow(&session.doctor, &consultation)).ok_or(Refusal::NotFound)?;
    // Recorded before any of the transcript leaves.
    let (doctor, viewed) = (session.doctor.clone(), consultation.clone());
    let log = state.clone();
    blocking(move || audit(&log, audit::Event::LiveTranscriptViewed { consultation: viewed, doctor })).await?;
    let (events, rendered) = mpsc::channel(16);
    tokio::spawn(forward(state, session.doctor.clone(), consultation, updates, events));
    Ok(sse(rendered, |event| event))
}

/// Turns the live updates into the page's events. The first interim draft is audited before it
/// is sent (a log that cannot record means no interim draft for this page); the final draft is
/// compared with the last interim one, and the draft page is told what changed.
async fn forward(
    state: ReviewState,
    doctor: Id,
    consultation: Id,
    mut updates: mpsc::Receiver<LiveUpdate>,
    events: mpsc::Sender<Event>,
) {
    let (mut shown, mut interim_allowed): (Option<std::sync::Arc<note::Draft>>, Option<bool>) = (None, None);
    let mut changes = None;
    while let Some(update) = updates.recv().await {
        let event = match update {
            LiveUpdate::InterimDraft { draft, commit_of_segment } => {
                if interim_allowed.is_none() {
                    let (state, doctor, viewed) = (state.clone(), doctor.clone(), consultation.clone());
                    let recorded = blocking(move || {
                        let event = audit::Event::InterimDraftViewed { consultation: viewed, doctor, ingest_key: None };
                        audit(&state, event)
                    })
                    .await;
                    if let Err(refusal) = &recorded {
                        // Ids only, like every review error.
                        eprintln!("review: no interim draft for {}: the audit log cannot record it: {refusal:?}", consultation.as_str());
                    }
                    interim_allowed = Some(recorded.is_ok());
                }
                if interim_allowed != Some(true) {
                    continue;
                }
                let html = pages::live_draft(&draft, &commit_of_segment);
                shown = Some(draft);
                Event::default().event("draft").data(html)
            }
            LiveUpdate::FinalDraft(last) => {
                changes = shown.as_deref().map(|interim| DraftChanges::between(interim, &last));
                continue;
            }
            LiveUpdate::DraftReady => {
                let mut page = format!("/review/k/{}", consultation.as_str());
                if let Some(changes) = changes {
                    page.push_str(&format!("?aendringer={}", changes.to_query()));
                }
                Event::default().event("ready").data(page)
            }
            LiveUpdate::Committed { number, text } => {
                Event::default().event("committed").data(pages::live_committed(number, &text))
            }
            LiveUpdate::Tentative(text) => Event::default().event("tentative").data(pages::live_tentative(&text)),
            LiveUpdate::Stopped => Event::default().event("status").data(pages::badge(Status::Transcribing)),
            LiveUpdate::NoDraft => Event::default().event("failed").data(
                "Samtalen er slut, men der kunne ikke laves en kladde. Skriv notatet som vanligt, og kontakt jeres it-ansvarlige.",
            ),
        };
        if events.send(event).await.is_err() {
            return;
        }
    }
}
