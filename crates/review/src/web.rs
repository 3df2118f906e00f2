//! Routes, access checks and the audit event of every request.
//!
//! Every handler runs its vault and audit work on the blocking pool: both fsync. A consultation
//! the doctor may not see answers exactly like one that does not exist.

use std::collections::HashMap;
use std::time::SystemTime;

use audit::{DraftUse, Id, Timestamp};
use axum::Form;
use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_SECURITY_POLICY, CONTENT_TYPE, SET_COOKIE};

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use note::Section;
use vault::{ArtefactKind, Milestone};

use crate::pages::{self, DraftPage};
use crate::request::{Doctor, Refusal, audit, audit_failed_login, blocking, consultation_id};
use crate::session::DoctorSession;
use crate::store::{self, ReviewRecord, ReviewStatement, StatementState, Status};
use crate::{Error, ReviewState};
use crate::{capture, link, listing, stream};

/// The review app's routes, all under `/review/`. Mount with `Router::merge`.
pub fn router(state: ReviewState) -> Router {
    Router::new()
        .route(crate::LOGIN_PATH, get(login))
        .route("/review/", get(list))
        .route(crate::LIST_STREAM_PATH, get(stream::list))
        .route("/review/k/{id}/direkte", get(stream::consultation))
        .route("/review/assets/review.js", get(|| async { asset(JAVASCRIPT, include_str!("assets/review.js")) }))
        .route("/review/assets/live.js", get(|| async { asset(JAVASCRIPT, include_str!("assets/live.js")) }))
        .route("/review/assets/capture.js", get(|| async { asset(JAVASCRIPT, include_str!("assets/capture.js")) }))
        .route(
            "/review/assets/capture-worklet.js",
            get(|| async { asset(JAVASCRIPT, include_str!("assets/capture-worklet.js")) }),
        )
        .route("/review/optag", get(capture::page))
        .route("/review/optag/ws", get(capture::socket))
        .route(
            "/review/assets/review.css",
            get(|| async { asset("text/css; charset=utf-8", include_str!("assets/review.css")) }),
        )
        .route("/review/k/{id}", get(draft_page))
        .route("/review/k/{id}/u", post(add_statement))
        .route("/review/k/{id}/u/{n}", post(change_statement))
        .route("/review/k/{id}/godkend", post(approve))
        .route("/review/k/{id}/notat", get(note_page))
        .route("/review/k/{id}/overfoert", post(mark_exported))
        .route("/review/k/{id}/notat.txt", post(download))
        .route("/review/k/{id}/kasser", get(discard_page).post(discard))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

/// A state-changing request: a logged-in doctor, the session's CSRF token, a consultation id
/// (and for statement routes a statement number) from the address, and the form.
pub struct Change {
    session: DoctorSession,
    consultation: Id,
    statement: Option<u32>,
    headers: HeaderMap,
    form: HashMap<String, String>,
}

impl FromRequest<ReviewState> for Change {
    type Rejection = Refusal;

    async fn from_request(request: Request, state: &ReviewState) -> Result<Change, Refusal> {
        let (mut parts, body) = request.into_parts();
        let Doctor(session) = Doctor::from_request_parts(&mut parts, state).await?;
        let Path(ids) =
            Path::<Vec<String>>::from_request_parts(&mut parts, state).await.map_err(|_| Refusal::NotFound)?;
        let headers = parts.headers.clone();
        let Form(form) = Form::<HashMap<String, String>>::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|_| Refusal::BadInput("Forespørgslen var ikke en formular."))?;
        check_csrf(&session, &headers, &form)?;
        let consultation = consultation_id(ids.first().map(String::as_str).unwrap_or_default())?;
        let statement = match ids.get(1) {
            Some(n) => Some(n.parse().map_err(|_| Refusal::NotFound)?),
            None => None,
        };
        Ok(Change { session, consultation, statement, headers, form })
    }
}

fn draft_artefact(consultation: &Id) -> Result<Id, Refusal> {
    Id::new(format!("{}.{}", consultation.as_str(), ArtefactKind::Draft)).map_err(|_| Refusal::NotFound)
}

fn draft_use(consultation: &Id, doctor: &Id, delete_by: Option<SystemTime>) -> Result<DraftUse, Refusal> {
    Ok(DraftUse {
        consultation: consultation.clone(),
        artefact: draft_artefact(consultation)?,
        doctor: doctor.clone(),
        delete_by: delete_by.map(Timestamp::from),
    })
}

/// The doctor's own consultation's review record; anyone else's is "not found".
fn own(state: &ReviewState, doctor: &Id, consultation: &Id) -> Result<ReviewRecord, Refusal> {
    match store::load(&state.inner.vault, consultation.as_str())? {
        Some(record) if &record.doctor == doctor => Ok(record),
        _ => Err(Refusal::NotFound),
    }
}

fn status(state: &ReviewState, consultation: &Id) -> Result<Status, Refusal> {
    let consultation = state.inner.vault.consultation(consultation.as_str()).map_err(Error::from)?;
    Ok(Status::of(&consultation))
}

fn check_csrf(session: &DoctorSession, headers: &HeaderMap, form: &HashMap<String, String>) -> Result<(), Refusal> {
    let presented = headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .or(form.get("csrf").map(String::as_str))
        .ok_or(Refusal::Csrf)?;
    if session.csrf_matches(presented) { Ok(()) } else { Err(Refusal::Csrf) }
}

/// Requests from the page's script get the changed fragment back; plain form posts go back to
/// the page.
fn from_script(headers: &HeaderMap) -> bool {
    headers.get("x-requested-with").is_some_and(|v| v == "fetch")
}

async fn login(
    State(state): State<ReviewState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Refusal> {
    let token = query.get("t").cloned().unwrap_or_default();
    blocking(move || {
        let inner = &state.inner;
        let claims = match link::redeem(&inner.secret, &inner.used_links, &token, SystemTime::now()) {
            Ok(claims) => claims,
            Err(refused) => {
                audit_failed_login(&state, refused.reason, refused.doctor)?;
                return Err(Refusal::Link(refused.reason));
            }
        };
        audit(&state, audit::Event::LoginSucceeded { doctor: claims.doctor.clone() })?;
        let token = inner.sessions.start(claims.doctor)?;
        let cookie = inner.sessions.cookie_header(&token, inner.config.public_url.starts_with("https://"));
        let target = match &claims.consultation {
            Some(consultation) => format!("/review/k/{}", consultation.as_str()),
            None => "/review/".to_string(),
        };
        // A page rather than a redirect: a SameSite=Strict cookie set while following a link
        // from another application is not sent on the redirect that link's navigation makes.
        let mut response = pages::entering(&target).into_response();
        let cookie = HeaderValue::from_str(&cookie).map_err(|_| Refusal::BadInput("ugyldig cookie"))?;
        response.headers_mut().insert(SET_COOKIE, cookie);
        Ok(response)
    })
    .await
}

async fn list(State(state): State<ReviewState>, Doctor(session): Doctor) -> Result<Response, Refusal> {
    blocking(move || {
        let listed = listing::overview(&state, &session.doctor)?;
        Ok(pages::list(&session.doctor, &listed, state.capture.is_some()).into_response())
    })
    .await
}

/// `?aendringer=added-dropped-changed`: set by the live page when it hands over at hang-up.
#[derive(serde::Deserialize)]
struct FromLive {
    aendringer: Option<String>,
}

async fn draft_page(
    State(state): State<ReviewState>,
    Doctor(session): Doctor,
    Path(id): Path<String>,
    axum::extract::Query(from_live): axum::extract::Query<FromLive>,
) -> Result<Response, Refusal> {
    let consultation = consultation_id(&id)?;
    // During the call the consultation is only in the live service: its page follows the call.
    if let Some(status) = listing::ongoing(&state, &session.doctor, &consultation) {
        return Ok(pages::live(consultation.as_str(), status).into_response());
    }
    blocking(move || {
        let vault = &state.inner.vault;
        let mut record = own(&state, &session.doctor, &consultation)?;
        let status = status(&state, &consultation)?;
        if matches!(status, Status::Recording | Status::Transcribing | Status::Discarded) {
            return Ok(pages::not_ready(consultation.as_str(), status).into_response());
        }
        let draft = store::draft(vault, consultation.as_str())?;
        let transcript = store::transcript(vault, consultation.as_str())?;
        if record.statements.is_none() {
            record.statements = Some(store::working_copy(&draft));
            store::save(vault, consultation.as_str(), &record)?;
        }
        audit(&state, audit::Event::DraftViewed(draft_use(&consultation, &session.doctor, None)?))?;
        let page = DraftPage {
            consultation: consultation.as_str(),
            csrf: &session.csrf,
            draft: &draft,
            transcript: &transcript,
            statements: record.statements.as_deref().unwrap_or_default(),
            approved: status == Status::Approved,
            changes: from_live.aendringer.as_deref().and_then(crate::live::DraftChanges::from_query),
        };
        Ok(pages::draft(&page).into_response())
    })
    .await
}

/// Applies `change` to the doctor's working copy of an open draft, saves it and audits the edit;
/// returns the changed statement.
fn edit(
    state: &ReviewState,
    session: &DoctorSession,
    consultation: &Id,
    change: impl FnOnce(&mut Vec<ReviewStatement>) -> Result<u32, Refusal>,
) -> Result<ReviewStatement, Refusal> {
    let vault = &state.inner.vault;
    let mut record = own(state, &session.doctor, consultation)?;
    if status(state, consultation)? != Status::DraftReady {
        return Err(Refusal::Closed);
    }
    let statements = record.statements.get_or_insert_with(Vec::new);
    let changed = change(statements)?;
    let statement = statements.iter().find(|s| s.id == changed).cloned().ok_or(Refusal::NotFound)?;
    audit(state, audit::Event::DraftEdited(draft_use(consultation, &session.doctor, None)?))?;
    store::save(vault, consultation.as_str(), &record)?;
    Ok(statement)
}

const MAX_STATEMENT_CHARS: usize = 2000;

fn statement_text(form: &HashMap<String, String>) -> Result<String, Refusal> {
    let text = form.get("text").map(|t| t.trim()).unwrap_or_default();
    if text.is_empty() {
        return Err(Refusal::BadInput("Udsagnet er tomt. Slet det i stedet, hvis det ikke skal med."));
    }
    if text.chars().count() > MAX_STATEMENT_CHARS {
        return Err(Refusal::BadInput("Udsagnet er for langt (højst 2000 tegn)."));
    }
    // One line per statement: the note puts a section's statements on one line.
    Ok(text.split_whitespace().collect::<Vec<_>>().join(" "))
}

fn statement_response(
    headers: &HeaderMap,
    consultation: &Id,
    statement: &ReviewStatement,
    transcript: Option<&transcript::Transcript>,
) -> Response {
    if from_script(headers) {
        pages::statement_fragment(statement, transcript, false).into_response()
    } else {
        Redirect::to(&format!("/review/k/{}#u{}", consultation.as_str(), statement.id)).into_response()
    }
}

async fn change_statement(
    State(state): State<ReviewState>,
    Change { session, consultation, headers, form, statement }: Change,
) -> Result<Response, Refusal> {
    let n = statement.ok_or(Refusal::NotFound)?;
    let action = form.get("action").cloned().unwrap_or_default();
    let new_text = if action == "edit" { Some(statement_text(&form)?) } else { None };
    blocking(move || {
        let statement = edit(&state, &session, &consultation, |statements| {
            let statement = statements.iter_mut().find(|s| s.id == n).ok_or(Refusal::NotFound)?;
            match (action.as_str(), new_text) {
                ("accept", _) => statement.state = StatementState::Accepted,
                ("delete", _) => statement.state = StatementState::Deleted,
                ("restore", _) => statement.state = StatementState::Unchecked,
                ("edit", Some(text)) => {
                    statement.text = text;
                    statement.state = StatementState::Accepted;
                }
                _ => return Err(Refusal::BadInput("Ukendt handling.")),
            }
            Ok(n)
        })?;
        let transcript = store::transcript(&state.inner.vault, consultation.as_str())?;
        Ok(statement_response(&headers, &consultation, &statement, Some(&transcript)))
    })
    .await
}

async fn add_statement(
    State(state): State<ReviewState>,
    Change { session, consultation, headers, form, .. }: Change,
) -> Result<Response, Refusal> {
    let section = form
        .get("section")
        .and_then(|label| Section::from_label(label))
        .ok_or(Refusal::BadInput("Vælg en sektion til udsagnet."))?;
    let text = statement_text(&form)?;
    blocking(move || {
        let statement = edit(&state, &session, &consultation, |statements| {
            let id = statements.iter().map(|s| s.id + 1).max().unwrap_or(0);
            statements.push(ReviewStatement {
                id,
                section,
                text,
                drafted: None,
                evidence: Vec::new(),
                confidence: None,
                uncertain_words: Vec::new(),
                state: StatementState::Accepted,
            });
            Ok(id)
        })?;
        Ok(statement_response(&headers, &consultation, &statement, None))
    })
    .await
}

async fn approve(
    State(state): State<ReviewState>,
    Change { session, consultation, .. }: Change,
) -> Result<Response, Refusal> {
    blocking(move || {
        let vault = &state.inner.vault;
        let mut record = own(&state, &session.doctor, &consultation)?;
        if status(&state, &consultation)? != Status::DraftReady {
            return Err(Refusal::Closed);
        }
        let draft = store::draft(vault, consultation.as_str())?;
        let statements = record.statements.get_or_insert_with(|| store::working_copy(&draft));
        // Approving the note approves what the doctor left unchecked, as it stands.
        for statement in statements.iter_mut().filter(|s| s.state == StatementState::Unchecked) {
            statement.state = StatementState::Accepted;
        }
        let text = store::note_text(&draft.header, statements);
        audit(&state, audit::Event::DraftApproved(draft_use(&consultation, &session.doctor, None)?))?;
        store::save(vault, consultation.as_str(), &record)?;
        vault.put(consultation.as_str(), ArtefactKind::Note, text.as_bytes()).map_err(Error::from)?;
        vault.record(consultation.as_str(), Milestone::Approved).map_err(Error::from)?;
        state.statuses_changed();
        Ok(Redirect::to(&format!("/review/k/{}/notat", consultation.as_str())).into_response())
    })
    .await
}

/// The approved note's text, for the doctor's own approved consultation.
fn approved_note(state: &ReviewState, session: &DoctorSession, consultation: &Id) -> Result<String, Refusal> {
    own(state, &session.doctor, consultation)?;
    if status(state, consultation)? != Status::Approved {
        return Err(Refusal::NotFound);
    }
    let bytes = state.inner.vault.get(consultation.as_str(), ArtefactKind::Note).map_err(Error::from)?;
    String::from_utf8(bytes.to_vec()).map_err(|e| {
        Refusal::Internal(Error::Stored { consultation: consultation.to_string(), what: "note", reason: e.to_string() })
    })
}

async fn note_page(
    State(state): State<ReviewState>,
    Doctor(session): Doctor,
    Path(id): Path<String>,
) -> Result<Response, Refusal> {
    let consultation = consultation_id(&id)?;
    blocking(move || {
        let text = approved_note(&state, &session, &consultation)?;
        let exported =
            state.inner.vault.consultation(consultation.as_str()).map_err(Error::from)?.lifecycle.exported.is_some();
        audit(&state, audit::Event::DraftViewed(draft_use(&consultation, &session.doctor, None)?))?;
        Ok(pages::note(consultation.as_str(), &session.csrf, &text, exported).into_response())
    })
    .await
}

/// Audits the export, with the deadline it brings, then marks the note exported (which starts
/// its retention clock) and gives out its text.
fn export(state: &ReviewState, session: &DoctorSession, consultation: &Id) -> Result<String, Refusal> {
    let text = approved_note(state, session, consultation)?;
    audit_lifecycle_event(state, consultation, Milestone::Exported, |delete_by| {
        Ok(audit::Event::DraftExported(draft_use(consultation, &session.doctor, Some(delete_by))?))
    })?;
    Ok(text)
}

/// Audits a lifecycle event with the record deadline it brings, then records it in the vault
/// at the very time the deadline was computed from.
fn audit_lifecycle_event(
    state: &ReviewState,
    consultation: &Id,
    event: Milestone,
    audit_event: impl FnOnce(SystemTime) -> Result<audit::Event, Refusal>,
) -> Result<(), Refusal> {
    let vault = &state.inner.vault;
    let at = vault.now();
    let lifecycle = vault.consultation(consultation.as_str()).map_err(Error::from)?.lifecycle.after(event, at);
    let delete_by = state.inner.config.retention.record_deadline(&lifecycle).at;
    audit(state, audit_event(delete_by)?)?;
    vault.record_at(consultation.as_str(), event, at).map_err(Error::from)?;
    Ok(())
}

async fn mark_exported(
    State(state): State<ReviewState>,
    Change { session, consultation, headers, .. }: Change,
) -> Result<Response, Refusal> {
    blocking(move || {
        export(&state, &session, &consultation)?;
        Ok(if from_script(&headers) {
            StatusCode::NO_CONTENT.into_response()
        } else {
            Redirect::to(&format!("/review/k/{}/notat", consultation.as_str())).into_response()
        })
    })
    .await
}

async fn download(
    State(state): State<ReviewState>,
    Change { session, consultation, .. }: Change,
) -> Result<Response, Refusal> {
    blocking(move || {
        let text = export(&state, &session, &consultation)?;
        let disposition = format!("attachment; filename=\"notat-{}.txt\"", consultation.as_str());
        Ok((
            [
                (CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8")),
                (CONTENT_DISPOSITION, HeaderValue::from_str(&disposition).map_err(|_| Refusal::NotFound)?),
            ],
            text,
        )
            .into_response())
    })
    .await
}

async fn discard_page(
    State(state): State<ReviewState>,
    Doctor(session): Doctor,
    Path(id): Path<String>,
) -> Result<Response, Refusal> {
    let consultation = consultation_id(&id)?;
    blocking(move || {
        own(&state, &session.doctor, &consultation)?;
        if status(&state, &consultation)? == Status::Discarded {
            return Err(Refusal::Closed);
        }
        Ok(pages::confirm_discard(consultation.as_str(), &session.csrf).into_response())
    })
    .await
}

async fn discard(
    State(state): State<ReviewState>,
    Change { session, consultation, .. }: Change,
) -> Result<Response, Refusal> {
    blocking(move || {
        own(&state, &session.doctor, &consultation)?;
        audit_lifecycle_event(&state, &consultation, Milestone::Discarded, |delete_by| {
            Ok(audit::Event::DraftDiscarded(draft_use(&consultation, &session.doctor, Some(delete_by))?))
        })?;
        state.statuses_changed();
        Ok(Redirect::to("/review/").into_response())
    })
    .await
}

const JAVASCRIPT: &str = "text/javascript; charset=utf-8";

/// A file served from the binary; revalidated on every load so an upgrade takes effect at once.
fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    ([(CONTENT_TYPE, content_type), (CACHE_CONTROL, "no-cache")], body)
}

/// No framing, no foreign scripts, nothing cached: pages hold health data.
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"),
    );
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    headers.entry(CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    response
}
