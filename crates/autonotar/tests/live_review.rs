//! The review app during a real call, in real browsers: `autonotar serve` with Whisper base, a
//! consultation streamed at real-time pace by `autonotar replay`, and the doctor's list and live
//! page following it without a reload until the draft is ready.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use browser::fantoccini::Client;
use browser::{Driver, Kind, text_of, until_within};
use serde_json::Value;
use transcript::Role;

const CONSULTATION: &str = "k-live-0001";
/// How long recognition may take on a machine busy with other work.
const WHISPER: Duration = Duration::from_secs(300);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn during_a_call_the_doctor_follows_it_live_in_chromium() {
    live_flow(Kind::Chromium).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn during_a_call_the_doctor_follows_it_live_in_firefox() {
    live_flow(Kind::Firefox).await;
}

fn millis_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64() * 1000.0
}

async fn js(client: &Client, script: &str) -> Value {
    client.execute(script, vec![]).await.unwrap()
}

async fn live_flow(kind: Kind) {
    let driver = Driver::start(kind);
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("call.wav");
    let words = [
        (Role::Doctor, "Good morning. What brings you here today?", "en-us"),
        (Role::Patient, "I have had a sore throat and a headache for three days.", "en-us+f3"),
        (Role::Doctor, "Please drink plenty of water and call me on Monday.", "en-us"),
    ];
    fixtures::render_lines(&words.map(|(r, t, v)| (r, t.to_string(), v.to_string())), 2, 150, &wav).unwrap();
    let data = dir.path().join("data");
    // Whisper base hears espeak's English reliably, not its Danish.
    let config = dir.path().join("autonotar.toml");
    // An interim draft every second, so several come during this short call.
    std::fs::write(&config, "[asr]\nlanguage = \"en\"\n[server]\ninterim_draft_seconds = 1\n").unwrap();
    let serve =
        common::Serve::start(dir.path(), &["--config", config.to_str().unwrap(), "--data-dir", data.to_str().unwrap()]);
    let origin = format!("http://{}", serve.addr);

    let client = driver.browser().await;
    client.goto(&common::link(dir.path(), &data, &serve.addr, "laege-01")).await.unwrap();
    assert_eq!(text_of(&client, "h1").await, "Dagens konsultationer");
    assert!(text_of(&client, "table.list tbody").await.contains("Ingen konsultationer"));
    let list_tab = client.window().await.unwrap();
    // Survives only if the list is never reloaded; records when the status turns.
    js(&client, "window.notReloaded = true; new MutationObserver(() => {
        if (!window.readyAt && document.querySelector('tbody').textContent.includes('kladde klar')) window.readyAt = Date.now();
    }).observe(document.querySelector('tbody'), { childList: true, subtree: true, characterData: true });").await;

    // The call starts: `autonotar replay` streams it in real time; each line it prints is timed.
    let mut replay = Command::new(env!("CARGO_BIN_EXE_autonotar"))
        .args(["replay", wav.to_str().unwrap(), "--server", &format!("ws://{}", serve.addr), "--speed", "1"])
        .args(["--consultation", CONSULTATION, "--doctor", "laege-01", "--draft-timeout", "600"])
        .env("AUTONOTAR_INGEST_KEY", &serve.key)
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(replay.stdout.take().unwrap());
    let printed = std::thread::spawn(move || stdout.lines().map(|l| (millis_now(), l.unwrap())).collect::<Vec<_>>());

    let row = format!("document.getElementById('row-{CONSULTATION}')?.textContent ?? ''");
    until_within(
        &client,
        Duration::from_secs(30),
        "the call to be listed as recording",
        &format!("{row}.includes('optager')"),
    )
    .await;
    assert_eq!(js(&client, "return window.notReloaded === true;").await, Value::Bool(true));

    // Another doctor sees nothing of it, not even while it is going on.
    let other = common::session_cookie(&serve.addr, &common::link(dir.path(), &data, &serve.addr, "laege-02"));
    assert!(!common::http_get(&serve.addr, "/review/", Some(&other)).contains(CONSULTATION));
    for path in [format!("/review/k/{CONSULTATION}"), format!("/review/k/{CONSULTATION}/direkte")] {
        let response = common::http_get(&serve.addr, &path, Some(&other));
        assert!(response.starts_with("HTTP/1.0 404"), "{path} for another doctor: {response}");
    }

    // The live page, in a second tab: final text appears as it is said, tentative text marked.
    let live_tab = client.new_window(true).await.unwrap().handle;
    client.switch_to_window(live_tab).await.unwrap();
    client.goto(&format!("{origin}/review/k/{CONSULTATION}")).await.unwrap();
    assert!(text_of(&client, "h1").await.starts_with("Samtalen direkte"));
    assert!(text_of(&client, "#live-status").await.contains("optager"));
    js(
        &client,
        "window.arrivals = []; new MutationObserver((changes) => changes.forEach((c) => c.addedNodes.forEach((n) => {
        if (n.matches?.('.seg:not(.tentative)')) window.arrivals.push([Date.now(), n.lastChild.textContent.trim()]);
    }))).observe(document.getElementById('live-segments'), { childList: true });",
    )
    .await;
    let committed = "#live-segments .seg:not(.tentative)";
    until_within(
        &client,
        WHISPER,
        "committed text on the live page",
        &format!("document.querySelector('{committed}')"),
    )
    .await;
    let first = text_of(&client, committed).await;
    assert!(["Læge · 0:0", "Patient · 0:0"].iter().any(|p| first.starts_with(p)), "who and when come first: {first}");
    until_within(&client, WHISPER, "the patient's words", &format!(
        "[...document.querySelectorAll('{committed}')].some((s) => s.textContent.toLowerCase().includes('sore throat'))"
    ))
    .await;
    assert_eq!(
        js(&client, "return document.querySelectorAll('#live-segments .tentative').length <= 2;").await,
        Value::Bool(true)
    );
    // Beside the transcript, the note forms from the final text before the call ends.
    until_within(&client, WHISPER, "the interim draft", "document.querySelector('#live-draft .header-line')").await;
    assert_eq!(text_of(&client, ".interim h2").await, "Kladde (foreløbig)");
    assert!(text_of(&client, "#live-draft .header-line").await.starts_with("Videokonsultation"));
    driver.screenshot(&client, "direkte").await;

    // Read before hang-up: the page is about to turn into another.
    let arrivals = js(&client, "return window.arrivals;").await;

    // Hang-up: the live page turns into the draft by itself, the list says "kladde klar" unreloaded.
    let status = replay.wait().unwrap();
    let printed = printed.join().unwrap();
    assert!(status.success(), "replay failed: {printed:?}");
    until_within(&client, WHISPER, "the draft page", "document.querySelector('h1')?.textContent.startsWith('Kladde')")
        .await;
    assert!(client.current_url().await.unwrap().path().ends_with(&format!("/review/k/{CONSULTATION}")));
    // The final draft replaced the interim one, and the page says how they differ.
    assert!(text_of(&client, "#changes").await.contains("i forhold til den foreløbige kladde"));
    let conversation = js(&client, "return document.querySelector('.transcript ol').textContent;").await;
    assert!(
        conversation.as_str().unwrap().to_lowercase().contains("throat"),
        "the draft page's conversation: {conversation}"
    );
    client.switch_to_window(list_tab).await.unwrap();
    until_within(
        &client,
        Duration::from_secs(30),
        "the list to say the draft is ready",
        &format!("{row}.includes('kladde klar')"),
    )
    .await;
    assert_eq!(js(&client, "return window.notReloaded === true;").await, Value::Bool(true), "the list was reloaded");
    let ready_at = js(&client, "return window.readyAt;").await.as_f64().unwrap();
    client.close().await.unwrap();
    report_latencies(kind, &printed, &arrivals, ready_at);

    // Watching was audited with the doctor's id; nothing said reached the logs.
    let (records, _) = audit::read_records(&data.join("audit")).unwrap();
    assert!(records.iter().any(|r| matches!(&r.event,
        audit::Event::LiveTranscriptViewed { consultation, doctor } if consultation.as_str() == CONSULTATION && doctor.as_str() == "laege-01")));
    assert!(records.iter().any(|r| matches!(&r.event,
        audit::Event::InterimDraftViewed { consultation, doctor, ingest_key: None } if consultation.as_str() == CONSULTATION && doctor.as_str() == "laege-01")));
    let logs = serve.stop().to_lowercase();
    for marker in ["sore throat", "headache", "monday"] {
        let leaks: Vec<&str> = logs.lines().filter(|l| l.contains(marker)).collect();
        assert!(leaks.is_empty(), "{marker:?} is in the service's logs: {leaks:?}");
    }
}

/// How long text took from the replay client's screen to the doctor's: each committed line the
/// page showed against the same line printed by `autonotar replay` (both get it from the service
/// at about the same moment), and the list's turn to "kladde klar" against the draft's arrival.
fn report_latencies(kind: Kind, printed: &[(f64, String)], arrivals: &Value, ready_at: f64) {
    let mut lags = Vec::new();
    for arrival in arrivals.as_array().unwrap() {
        let (at, words) = (arrival[0].as_f64().unwrap(), arrival[1].as_str().unwrap());
        if let Some((printed_at, _)) =
            printed.iter().find(|(_, line)| !words.is_empty() && line.trim_end().ends_with(words))
        {
            lags.push(at - printed_at);
        }
    }
    let draft_at = printed.iter().find(|(_, line)| line == "--- draft ---").map(|(at, _)| *at).unwrap();
    eprintln!(
        "{kind:?}: committed text on the live page vs the replay client: {lags:.0?} ms; list 'kladde klar' {:.0} ms after draft_ready",
        ready_at - draft_at
    );
}
