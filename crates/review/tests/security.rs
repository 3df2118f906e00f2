//! What the review app refuses: no session, forged cookies, posts without the CSRF token, ids
//! that try to walk the file system, other doctors' consultations, expired and reused links.
//! Requests go through the real router, vault and audit log, without a browser.

mod support;

use std::time::Duration;

use audit::{Event, LoginFailure};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use support::App;
use tower::ServiceExt;

struct Reply {
    status: StatusCode,
    headers: header::HeaderMap,
    body: String,
}

async fn send(app: &App, request: Request<Body>) -> Reply {
    let response = review::router(app.state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 22).await.unwrap();
    Reply { status, headers, body: String::from_utf8(bytes.to_vec()).unwrap() }
}

fn get(path: &str, cookie: Option<&str>) -> Request<Body> {
    let mut request = Request::get(path);
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    request.body(Body::empty()).unwrap()
}

fn post(path: &str, cookie: &str, form: &str) -> Request<Body> {
    Request::post(path)
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form.to_string()))
        .unwrap()
}

/// Logs `doctor` in through a signed link; returns the session cookie and the CSRF token.
async fn login(app: &App, doctor: &str) -> (String, String) {
    let link = app.link(doctor, None, Duration::from_secs(600));
    let path = link.trim_start_matches("http://127.0.0.1:8470");
    let reply = send(app, get(path, None)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let set_cookie = reply.headers[header::SET_COOKIE].to_str().unwrap().to_string();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/review"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    assert!(!set_cookie.contains("Secure"), "no TLS here: {set_cookie}");
    let cookie = set_cookie.split(';').next().unwrap().to_string();
    let list = send(app, get("/review/", Some(&cookie))).await;
    assert_eq!(list.status, StatusCode::OK);
    let draft = send(app, get("/review/k/k-1", Some(&cookie))).await;
    let csrf = draft
        .body
        .split("name=\"csrf\" content=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_string();
    (cookie, csrf)
}

fn app() -> App {
    let mut app = App::new();
    app.seed("k-1", "laege-a", "c01-ondt-i-halsen");
    // Links name this address; the requests below go straight to the router.
    app.addr = Some("127.0.0.1:8470".parse().unwrap());
    app
}

#[tokio::test]
async fn without_a_session_nothing_is_shown() {
    let app = app();
    for path in [
        "/review/",
        "/review/direkte",
        "/review/k/k-1",
        "/review/k/k-1/direkte",
        "/review/k/k-1/notat",
        "/review/k/k-1/kasser",
    ] {
        let reply = send(&app, get(path, None)).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{path}");
        assert!(reply.body.contains("Du er ikke logget ind"), "{path}: {}", reply.body);
        assert!(!reply.body.contains("halsen"), "{path}");
    }
}

#[tokio::test]
async fn a_forged_session_cookie_is_refused_and_audited() {
    let app = app();
    let forged = format!("autonotar_review={}", "ab".repeat(32));
    let reply = send(&app, get("/review/k/k-1", Some(&forged))).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(reply.body.contains("session er udløbet eller ugyldig"), "{}", reply.body);
    assert!(app.audit_events().contains(&Event::LoginFailed {
        reason: LoginFailure::SessionInvalid,
        doctor: None,
        suppressed: 0
    }));
}

#[tokio::test]
async fn a_post_without_the_csrf_token_changes_nothing() {
    let app = app();
    let (cookie, csrf) = login(&app, "laege-a").await;
    assert_eq!(csrf.len(), 64, "the draft page carries the token");
    for form in ["action=delete", "action=delete&csrf=00", &format!("action=delete&csrf={}", "0".repeat(64))] {
        let reply = send(&app, post("/review/k/k-1/u/0", &cookie, form)).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{form}");
        assert!(reply.body.contains("afvist af sikkerhedshensyn"), "{}", reply.body);
    }
    for path in ["/review/k/k-1/godkend", "/review/k/k-1/kasser"] {
        assert_eq!(send(&app, post(path, &cookie, "")).await.status, StatusCode::FORBIDDEN, "{path}");
    }
    let lifecycle = app.vault.consultation("k-1").unwrap().lifecycle;
    assert_eq!((lifecycle.approved, lifecycle.discarded), (None, None));

    // With the token the same request goes through.
    let reply = send(&app, post("/review/k/k-1/u/0", &cookie, &format!("action=delete&csrf={csrf}"))).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn ids_that_are_not_plain_ids_find_nothing() {
    let app = app();
    let (cookie, _) = login(&app, "laege-a").await;
    for path in [
        "/review/k/..%2F..%2Fetc%2Fpasswd",
        "/review/k/%2e%2e",
        "/review/k/..",
        "/review/k/k-1%00",
        "/review/k/k-1%2Fnotat",
        "/review/k/k-1/u/..%2F0",
        "/review/k/%C3%A6bler",
    ] {
        let reply = send(&app, get(path, Some(&cookie))).await;
        assert!(
            matches!(reply.status, StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED),
            "{path}: {}",
            reply.status
        );
        assert!(!reply.body.contains("root:"), "{path}");
    }
}

#[tokio::test]
async fn another_doctors_consultation_looks_like_no_consultation() {
    let app = app();
    let (cookie, csrf) = login(&app, "laege-b").await;
    assert!(csrf.is_empty(), "laege-b has no draft page for k-1");
    let list = send(&app, get("/review/", Some(&cookie))).await;
    assert!(!list.body.contains("k-1"), "{}", list.body);
    for path in ["/review/k/k-1", "/review/k/k-1/direkte", "/review/k/k-1/notat", "/review/k/k-1/kasser"] {
        let reply = send(&app, get(path, Some(&cookie))).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        assert!(reply.body.contains("findes ikke, eller du har ikke adgang"));
    }
    // Not even with laege-a's CSRF token.
    let (_, a_csrf) = login(&app, "laege-a").await;
    let reply = send(&app, post("/review/k/k-1/kasser", &cookie, &format!("csrf={a_csrf}"))).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(app.vault.consultation("k-1").unwrap().lifecycle.discarded, None);
}

#[tokio::test]
async fn expired_reused_and_forged_links_are_refused_in_danish_and_audited() {
    let app = app();
    let path = |link: String| link.trim_start_matches("http://127.0.0.1:8470").to_string();

    let expired = path(app.link("laege-a", None, Duration::ZERO));
    let reply = send(&app, get(&expired, None)).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(reply.body.contains("Linket er udløbet"), "{}", reply.body);
    assert!(!reply.headers.contains_key(header::SET_COOKIE));

    let once = path(app.link("laege-a", None, Duration::from_secs(600)));
    assert_eq!(send(&app, get(&once, None)).await.status, StatusCode::OK);
    let reply = send(&app, get(&once, None)).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(reply.body.contains("Linket er allerede brugt"), "{}", reply.body);

    let forged = once.replace("?t=", "?t=x");
    let reply = send(&app, get(&forged, None)).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(reply.body.contains("Linket er ugyldigt"), "{}", reply.body);

    let doctor = Some(audit::Id::new("laege-a").unwrap());
    let events = app.audit_events();
    for expected in [
        Event::LoginFailed { reason: LoginFailure::LinkExpired, doctor: doctor.clone(), suppressed: 0 },
        Event::LoginSucceeded { doctor: doctor.clone().unwrap() },
        Event::LoginFailed { reason: LoginFailure::LinkAlreadyUsed, doctor, suppressed: 0 },
        Event::LoginFailed { reason: LoginFailure::InvalidSignature, doctor: None, suppressed: 0 },
    ] {
        assert!(events.contains(&expected), "{expected:?} missing from {events:?}");
    }
}

#[tokio::test]
async fn pages_forbid_framing_foreign_scripts_and_caching() {
    let app = app();
    let reply = send(&app, get("/review/", None)).await;
    let csp = reply.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"), "{csp}");
    assert_eq!(reply.headers[header::CACHE_CONTROL], "no-store");
}

/// Audit before effect: with a log that cannot take another record, no edit, approval, export
/// or discard reaches the vault and no note text goes out.
#[tokio::test]
async fn when_the_audit_log_cannot_record_nothing_changes_and_nothing_goes_out() {
    let app = app();
    app.seed("k-2", "laege-a", "c01-ondt-i-halsen");
    let (cookie, csrf) = login(&app, "laege-a").await;
    let approved = send(&app, post("/review/k/k-2/godkend", &cookie, &format!("csrf={csrf}"))).await;
    assert_eq!(approved.status, StatusCode::SEE_OTHER, "{}", approved.body);
    let edits_before = app.vault.get("k-1", vault::ArtefactKind::Edits).unwrap();

    // A head that no longer matches the log: the writer refuses to append.
    std::fs::write(app.audit_dir.join(audit::HEAD_FILE), "{}").unwrap();
    let changes = [
        ("/review/k/k-1/u/0", format!("action=delete&csrf={csrf}")),
        ("/review/k/k-1/godkend", format!("csrf={csrf}")),
        ("/review/k/k-1/kasser", format!("csrf={csrf}")),
        ("/review/k/k-2/overfoert", format!("csrf={csrf}")),
        ("/review/k/k-2/notat.txt", format!("csrf={csrf}")),
    ];
    for (path, form) in changes {
        let reply = send(&app, post(path, &cookie, &form)).await;
        assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR, "{path}: {}", reply.body);
        assert!(!reply.body.contains("halsen"), "{path} gave out the note: {}", reply.body);
    }
    assert_eq!(app.vault.get("k-1", vault::ArtefactKind::Edits).unwrap(), edits_before, "the edit was saved");
    let (first, second) = (app.vault.consultation("k-1").unwrap(), app.vault.consultation("k-2").unwrap());
    assert_eq!((first.lifecycle.approved, first.lifecycle.discarded), (None, None));
    assert!(app.vault.get("k-1", vault::ArtefactKind::Note).is_err(), "a note was stored");
    assert_eq!(second.lifecycle.exported, None, "the export was recorded");
}
