//! The review app end to end in a real headless Chromium, driven over WebDriver (chromedriver):
//! a signed link, the list, a draft made by `note::draft` from a fixture, evidence, an edit that
//! survives a reload, approval, the clipboard, another doctor, refused links, discarding.
//!
//! Needs `chromium` and `chromium-driver` (scripts/setup.sh installs them). Set
//! AUTONOTAR_SCREENSHOTS=<dir> to save the pages as PNG (docs/screenshots/ holds the committed set).

mod support;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use audit::Event;
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use support::App;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// chromedriver on a free loopback port, killed when dropped.
struct Driver {
    child: Child,
    port: u16,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    fn start() -> Driver {
        assert!(
            std::path::Path::new(CHROMEDRIVER).exists() && std::path::Path::new(CHROMIUM).exists(),
            "the browser tests need {CHROMIUM} and {CHROMEDRIVER}: run scripts/setup.sh \
             (apt-get install chromium chromium-driver)"
        );
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        Driver { child, port, _profile: tempfile::tempdir().unwrap() }
    }

    async fn browser(&self) -> Client {
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1400,1000",
            &format!("--user-data-dir={}", self._profile.path().display()),
        ];
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
        });
        let Value::Object(capabilities) = capabilities else { unreachable!() };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(capabilities.clone())
                .connect(&format!("http://127.0.0.1:{}", self.port))
                .await
            {
                Ok(client) => return client,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("chromedriver did not start a browser: {e}"),
            }
        }
    }
}

/// A Chrome DevTools command through chromedriver (for granting clipboard access).
#[derive(Debug)]
struct Cdp(Value);

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/goog/cdp/execute", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.0.to_string()))
    }
}

async fn press(client: &Client, key: char) {
    let keys = KeyActions::new("keyboard".into()).then(KeyAction::Down { value: key }).then(KeyAction::Up { value: key });
    client.perform_actions(keys).await.unwrap();
}

async fn text_of(client: &Client, css: &str) -> String {
    client.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(css)).await.unwrap().text().await.unwrap()
}

/// Waits until `script` (a JS expression) is true.
async fn until(client: &Client, what: &str, script: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if client.execute(&format!("return !!({script});"), vec![]).await.unwrap() == Value::Bool(true) {
            return;
        }
        if Instant::now() > deadline {
            let said = client.execute("return (document.getElementById('msg')?.textContent ?? '') + ' | ' + [...document.querySelectorAll('.stmt')].map(e => e.id + ':' + e.className).join(', ');", vec![]).await.unwrap();
            panic!("timed out waiting for {what} ({script}); the page says {said}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn screenshot(client: &Client, name: &str) {
    if let Some(dir) = std::env::var_os("AUTONOTAR_SCREENSHOTS") {
        let path = PathBuf::from(dir).join(format!("{name}.png"));
        std::fs::write(&path, client.screenshot().await.unwrap()).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_doctor_reviews_approves_and_copies_a_draft_in_chromium() {
    let mut app = App::new();
    app.seed("k-2026-0042", "laege-07", "c01-ondt-i-halsen");
    app.add_attention("k-2026-0042", "Feber 39,5.", "otteogtredive");
    app.seed("k-2026-0041", "laege-07", "c02-blodtrykskontrol");
    app.seed_recording("k-2026-0043", "laege-07");
    app.seed("k-2026-0050", "laege-09", "c07-blaerebetaendelse");
    let addr = app.serve();
    let driver = Driver::start();
    let client = driver.browser().await;
    let origin = format!("http://{addr}");

    // The practice system's button: a signed link straight to the list.
    client.goto(&app.link("laege-07", None, Duration::from_secs(600))).await.unwrap();
    assert_eq!(text_of(&client, "h1").await, "Dagens konsultationer");
    let rows = text_of(&client, "table.list tbody").await;
    for expected in ["k-2026-0042", "kladde klar", "k-2026-0043", "optager", "k-2026-0041"] {
        assert!(rows.contains(expected), "{expected:?} missing from the list: {rows}");
    }
    assert!(!rows.contains("k-2026-0050"), "another doctor's consultation is listed: {rows}");
    screenshot(&client, "liste").await;

    // The draft: click a statement, its evidence lights up in the transcript with the words.
    client.find(Locator::LinkText("k-2026-0042")).await.unwrap().click().await.unwrap();
    client.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(".stmt")).await.unwrap();
    let first = client.find(Locator::Css(".stmt .text")).await.unwrap();
    first.click().await.unwrap();
    until(
        &client,
        "the evidence to be highlighted",
        "(() => { const li = document.querySelector('.stmt.active'); if (!li) return false;
            const ids = li.dataset.evidence.split(' ').filter(Boolean);
            return ids.length > 0 && ids.every(id => document.getElementById('seg-' + id).classList.contains('hl'))
              && document.querySelectorAll('.seg.hl').length === ids.length; })()",
    )
    .await;
    let said = text_of(&client, "#evidence").await;
    assert!(said.contains("Patient") || said.contains("Læge"), "{said}");
    assert!(client.find(Locator::Css(".stmt.low")).await.is_ok(), "a low-confidence statement stands out");
    let attention = text_of(&client, "section.attention").await;
    assert!(attention.starts_with("Til lægens opmærksomhed") && attention.contains("Feber 39,5."), "{attention}");
    assert!(attention.contains("ikke sagt i samtalen"), "{attention}");
    assert!(client.find(Locator::Css(".seg mark.unsure")).await.is_ok(), "uncertain words stand out");
    screenshot(&client, "kladde").await;

    // Edit the first statement by keyboard: e, new text, Enter.
    let drafted = first.text().await.unwrap();
    client.find(Locator::Css(".stmt")).await.unwrap().click().await.unwrap();
    press(&client, 'e').await;
    let box_ = client.wait().for_element(Locator::Css(".stmt textarea")).await.unwrap();
    box_.clear().await.unwrap();
    box_.send_keys("Ondt i halsen og synkebesvær.\u{E007}").await.unwrap();
    until(&client, "the edit to be saved", "document.querySelector('#u0.accepted .text')?.textContent === 'Ondt i halsen og synkebesvær.'").await;
    // j moves to the next statement, a accepts it.
    press(&client, 'j').await;
    press(&client, 'a').await;
    until(&client, "the second statement to be accepted", "document.querySelector('#u1')?.classList.contains('accepted')").await;
    // Delete one and add one.
    let last = client.find_all(Locator::Css(".stmt button[data-act=delete]")).await.unwrap();
    last.last().unwrap().click().await.unwrap();
    until(&client, "a statement to be deleted", "document.querySelectorAll('.stmt.deleted').length === 1").await;
    let add = client.find(Locator::Css("form.add")).await.unwrap();
    add.find(Locator::Css("select")).await.unwrap().select_by_value("plan").await.unwrap();
    add.find(Locator::Css("input[name=text]")).await.unwrap().send_keys("Genkonsultation ved forværring.").await.unwrap();
    add.find(Locator::Css("button")).await.unwrap().click().await.unwrap();
    until(&client, "the added statement", "[...document.querySelectorAll('.stmt .text')].some(t => t.textContent === 'Genkonsultation ved forværring.')").await;

    // Saved as made: a reload shows all of it.
    client.refresh().await.unwrap();
    let page = text_of(&client, ".note").await;
    assert!(page.contains("Ondt i halsen og synkebesvær."), "{page}");
    assert!(page.contains(&format!("Kladdens ordlyd: {drafted}")), "{page}");
    assert!(page.contains("Genkonsultation ved forværring."), "{page}");
    assert_eq!(client.find_all(Locator::Css(".stmt.deleted")).await.unwrap().len(), 1);
    let deleted = client.find(Locator::Css(".stmt.deleted .text")).await.unwrap().text().await.unwrap();

    // Approve with Ctrl+Enter, then copy into the journal.
    let keys = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value: fantoccini::key::Key::Control.into() })
        .then(KeyAction::Down { value: fantoccini::key::Key::Enter.into() })
        .then(KeyAction::Up { value: fantoccini::key::Key::Enter.into() })
        .then(KeyAction::Up { value: fantoccini::key::Key::Control.into() });
    client.find(Locator::Css(".stmt")).await.unwrap().click().await.unwrap();
    client.perform_actions(keys).await.unwrap();
    let note = text_of(&client, "pre#note").await;
    assert!(note.starts_with("Videokonsultation.\n"), "{note}");
    assert!(note.contains("Ondt i halsen og synkebesvær."), "{note}");
    assert!(note.contains("Plan: ") && note.contains("Genkonsultation ved forværring."), "{note}");
    assert!(!note.contains(&deleted), "a deleted statement is in the note: {note}");
    assert!(!note.contains("Til lægens opmærksomhed"), "{note}");
    assert_eq!(app.vault.consultation("k-2026-0042").unwrap().lifecycle.exported, None);

    client
        .issue_cmd(Cdp(json!({
            "cmd": "Browser.grantPermissions",
            "params": { "origin": origin, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"] },
        })))
        .await
        .unwrap();
    client.find(Locator::Id("copy")).await.unwrap().click().await.unwrap();
    until(&client, "the copy to be confirmed", "document.getElementById('state').textContent.startsWith('Kopieret.')").await;
    let copied = client
        .execute_async("const done = arguments[0]; navigator.clipboard.readText().then(done, e => done('fejl: ' + e));", vec![])
        .await
        .unwrap();
    let stored = String::from_utf8(app.vault.get("k-2026-0042", vault::ArtefactKind::Note).unwrap().to_vec()).unwrap();
    assert_eq!(copied.as_str(), Some(stored.as_str()));
    assert_eq!(copied.as_str().map(str::trim_end), Some(note.trim_end()));
    assert!(app.vault.consultation("k-2026-0042").unwrap().lifecycle.exported.is_some(), "export starts the retention clock");
    screenshot(&client, "notat").await;

    // The list now says godkendt.
    client.goto(&format!("{origin}/review/")).await.unwrap();
    assert!(text_of(&client, "table.list").await.contains("godkendt"));

    // Another doctor: their own list only, and the first doctor's draft is not there for them.
    client.goto(&app.link("laege-09", None, Duration::from_secs(600))).await.unwrap();
    let rows = text_of(&client, "table.list tbody").await;
    assert!(rows.contains("k-2026-0050") && !rows.contains("k-2026-0042"), "{rows}");
    client.goto(&format!("{origin}/review/k/k-2026-0042")).await.unwrap();
    assert!(text_of(&client, ".message p").await.contains("findes ikke, eller du har ikke adgang"));
    client.goto(&format!("{origin}/review/k/k-2026-0042/notat")).await.unwrap();
    assert!(text_of(&client, ".message p").await.contains("findes ikke, eller du har ikke adgang"));

    // Discarding asks first.
    client.goto(&format!("{origin}/review/k/k-2026-0050")).await.unwrap();
    client.find(Locator::LinkText("Kassér konsultationen …")).await.unwrap().click().await.unwrap();
    assert!(text_of(&client, "h1").await.starts_with("Kassér konsultation"));
    screenshot(&client, "kasser").await;
    client.find(Locator::Id("confirm-discard")).await.unwrap().click().await.unwrap();
    assert!(text_of(&client, "table.list").await.contains("kasseret"));
    assert!(app.vault.consultation("k-2026-0050").unwrap().lifecycle.discarded.is_some());

    // A used or expired link is refused with a clear Danish message.
    let once = app.link("laege-07", Some("k-2026-0042"), Duration::from_secs(600));
    client.goto(&once).await.unwrap();
    assert!(text_of(&client, "h1").await.starts_with("Godkendt notat") || text_of(&client, "h1").await.starts_with("Kladde"));
    client.goto(&once).await.unwrap();
    assert!(text_of(&client, ".message p").await.contains("Linket er allerede brugt"));
    client.goto(&app.link("laege-07", None, Duration::ZERO)).await.unwrap();
    assert!(text_of(&client, ".message p").await.starts_with("Linket er udløbet"));
    screenshot(&client, "link-udloebet").await;
    client.close().await.unwrap();

    // Every view, edit, approval, export and discard is audited with the doctor's id.
    let events = app.audit_events();
    let by = |kind: &str, doctor: &str| {
        events.iter().any(|e| e.kind() == kind && e.draft_use().is_some_and(|u| u.doctor.as_str() == doctor))
    };
    for kind in ["draft_viewed", "draft_edited", "draft_approved", "draft_exported"] {
        assert!(by(kind, "laege-07"), "no {kind} by laege-07 in {events:?}");
    }
    assert!(by("draft_discarded", "laege-09"));
    assert!(events.iter().any(|e| matches!(e, Event::LoginSucceeded { doctor } if doctor.as_str() == "laege-09")));
}
