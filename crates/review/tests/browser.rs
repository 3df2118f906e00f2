//! The review app end to end in real headless browsers, Chromium and Firefox, driven over
//! WebDriver: a signed link, the list, a draft made by `note::draft` from a fixture, evidence, an
//! edit that survives a reload, approval, the clipboard, another doctor, refused links, discarding.
//!
//! Needs chromium with chromium-driver, and firefox-esr with geckodriver (scripts/setup.sh
//! installs them). Set AUTONOTAR_SCREENSHOTS=<dir> to save the pages as PNG (docs/screenshots/
//! holds the committed set, taken in Chromium).

mod support;

use std::time::Duration;

use audit::Event;
use browser::fantoccini::Locator;
use browser::fantoccini::actions::{InputSource, KeyAction, KeyActions};
use browser::fantoccini::key::Key;
use browser::{Driver, Kind, press, text_of, until};
use support::App;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_doctor_reviews_approves_and_copies_a_draft_in_chromium() {
    review_flow(Kind::Chromium).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_doctor_reviews_approves_and_copies_a_draft_in_firefox() {
    review_flow(Kind::Firefox).await;
}

async fn review_flow(kind: Kind) {
    let mut app = App::new();
    app.seed("k-2026-0042", "laege-07", "c01-ondt-i-halsen");
    app.add_attention("k-2026-0042", "Feber 39,5.", "otteogtredive");
    app.seed("k-2026-0041", "laege-07", "c02-blodtrykskontrol");
    app.seed_recording("k-2026-0043", "laege-07");
    app.seed("k-2026-0050", "laege-09", "c07-blaerebetaendelse");
    let addr = app.serve();
    let driver = Driver::start(kind);
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
    driver.screenshot(&client, "liste").await;

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
    driver.screenshot(&client, "kladde").await;

    // Edit the first statement by keyboard: e, new text, Enter.
    let drafted = first.text().await.unwrap();
    client.find(Locator::Css(".stmt")).await.unwrap().click().await.unwrap();
    press(&client, 'e').await;
    let box_ = client.wait().for_element(Locator::Css(".stmt textarea")).await.unwrap();
    box_.clear().await.unwrap();
    box_.send_keys("Ondt i halsen og synkebesvær.\u{E007}").await.unwrap();
    until(
        &client,
        "the edit to be saved",
        "document.querySelector('#u0.accepted .text')?.textContent === 'Ondt i halsen og synkebesvær.'",
    )
    .await;
    // j moves to the next statement, a accepts it.
    press(&client, 'j').await;
    press(&client, 'a').await;
    until(
        &client,
        "the second statement to be accepted",
        "document.querySelector('#u1')?.classList.contains('accepted')",
    )
    .await;
    // Delete one and add one.
    let last = client.find_all(Locator::Css(".stmt button[data-act=delete]")).await.unwrap();
    last.last().unwrap().click().await.unwrap();
    until(&client, "a statement to be deleted", "document.querySelectorAll('.stmt.deleted').length === 1").await;
    let add = client.find(Locator::Css("form.add")).await.unwrap();
    add.find(Locator::Css("select")).await.unwrap().select_by_value("plan").await.unwrap();
    add.find(Locator::Css("input[name=text]"))
        .await
        .unwrap()
        .send_keys("Genkonsultation ved forværring.")
        .await
        .unwrap();
    add.find(Locator::Css("button")).await.unwrap().click().await.unwrap();
    until(
        &client,
        "the added statement",
        "[...document.querySelectorAll('.stmt .text')].some(t => t.textContent === 'Genkonsultation ved forværring.')",
    )
    .await;

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
        .then(KeyAction::Down { value: Key::Control.into() })
        .then(KeyAction::Down { value: Key::Enter.into() })
        .then(KeyAction::Up { value: Key::Enter.into() })
        .then(KeyAction::Up { value: Key::Control.into() });
    client.find(Locator::Css(".stmt")).await.unwrap().click().await.unwrap();
    client.perform_actions(keys).await.unwrap();
    let note = text_of(&client, "pre#note").await;
    assert!(note.starts_with("Videokonsultation.\n"), "{note}");
    assert!(note.contains("Ondt i halsen og synkebesvær."), "{note}");
    assert!(note.contains("Plan: ") && note.contains("Genkonsultation ved forværring."), "{note}");
    assert!(!note.contains(&deleted), "a deleted statement is in the note: {note}");
    assert!(!note.contains("Til lægens opmærksomhed"), "{note}");
    assert_eq!(app.vault.consultation("k-2026-0042").unwrap().lifecycle.exported, None);

    driver.allow_clipboard(&client, &origin).await;
    client.find(Locator::Id("copy")).await.unwrap().click().await.unwrap();
    until(&client, "the copy to be confirmed", "document.getElementById('state').textContent.startsWith('Kopieret.')")
        .await;
    let copied = client
        .execute_async(
            "const done = arguments[0]; navigator.clipboard.readText().then(done, e => done('fejl: ' + e));",
            vec![],
        )
        .await
        .unwrap();
    let stored = String::from_utf8(app.vault.get("k-2026-0042", vault::ArtefactKind::Note).unwrap().to_vec()).unwrap();
    assert_eq!(copied.as_str(), Some(stored.as_str()));
    assert_eq!(copied.as_str().map(str::trim_end), Some(note.trim_end()));
    assert!(
        app.vault.consultation("k-2026-0042").unwrap().lifecycle.exported.is_some(),
        "export starts the retention clock"
    );
    driver.screenshot(&client, "notat").await;

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
    driver.screenshot(&client, "kasser").await;
    client.find(Locator::Id("confirm-discard")).await.unwrap().click().await.unwrap();
    assert!(text_of(&client, "table.list").await.contains("kasseret"));
    assert!(app.vault.consultation("k-2026-0050").unwrap().lifecycle.discarded.is_some());

    // A used or expired link is refused with a clear Danish message.
    let once = app.link("laege-07", Some("k-2026-0042"), Duration::from_secs(600));
    client.goto(&once).await.unwrap();
    assert!(
        text_of(&client, "h1").await.starts_with("Godkendt notat")
            || text_of(&client, "h1").await.starts_with("Kladde")
    );
    client.goto(&once).await.unwrap();
    assert!(text_of(&client, ".message p").await.contains("Linket er allerede brugt"));
    client.goto(&app.link("laege-07", None, Duration::ZERO)).await.unwrap();
    assert!(text_of(&client, ".message p").await.starts_with("Linket er udløbet"));
    driver.screenshot(&client, "link-udloebet").await;
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
