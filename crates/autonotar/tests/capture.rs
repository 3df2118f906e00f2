//! The capture page (`/review/optag`) through `autonotar serve`: the doctor's own browser records
//! the call. Its WebSocket is authenticated by the review session and the page's own origin, never
//! by an ingest key; a foreign origin, a missing session and a start for another doctor are
//! refused. In Chromium, whose microphone and shared tab are fed a WAV file, the page streams both
//! tracks, shows the live transcript, rides out a dropped connection without losing audio, and
//! opens the draft at stop. In Firefox, which has no tab to share headless, the page says so.

mod common;

use std::time::Duration;

use browser::fantoccini::Locator;
use browser::{Driver, Kind, text_of, until_within};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use transcript::Role;

/// How long recognition may take on a machine busy with other work.
const WHISPER: Duration = Duration::from_secs(300);

/// Fills in the consultation id, ticks the consent and presses start on the capture page.
async fn start_capture(client: &browser::fantoccini::Client, consultation: &str) {
    client.find(Locator::Id("capture-id")).await.unwrap().send_keys(consultation).await.unwrap();
    client.find(Locator::Id("capture-consent")).await.unwrap().click().await.unwrap();
    client.find(Locator::Id("capture-start")).await.unwrap().click().await.unwrap();
}

/// Opens the capture socket with these headers; the HTTP status when the upgrade is refused.
async fn capture_socket(
    addr: &str,
    cookie: Option<&str>,
    origin: Option<&str>,
) -> Result<tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>, u16> {
    let mut request = format!("ws://{addr}/review/optag/ws").into_client_request().unwrap();
    if let Some(cookie) = cookie {
        request.headers_mut().insert("cookie", cookie.parse().unwrap());
    }
    if let Some(origin) = origin {
        request.headers_mut().insert("origin", origin.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
        Err(other) => panic!("{other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_capture_socket_takes_only_the_signed_in_doctor_from_the_page_own_origin() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let serve = common::Serve::start(dir.path(), &["--data-dir", data.to_str().unwrap()]);
    let cookie = common::session_cookie(&serve.addr, &common::link(dir.path(), &data, &serve.addr, "laege-01"));
    let own = format!("http://{}", serve.addr);

    assert_eq!(capture_socket(&serve.addr, None, Some(&own)).await.err(), Some(401), "no session");
    assert_eq!(capture_socket(&serve.addr, Some(&cookie), Some("https://evil.example")).await.err(), Some(403));
    assert_eq!(capture_socket(&serve.addr, Some(&cookie), None).await.err(), Some(403), "no Origin");
    assert!(common::audit_text(&data).contains(r#""type":"ingest_refused","reason":"foreign_origin""#));

    // Signed in as laege-01, the page cannot start a consultation for laege-02.
    let mut socket = capture_socket(&serve.addr, Some(&cookie), Some(&own)).await.unwrap();
    let start = |doctor: &str| {
        Message::text(
            serde_json::json!({
                "type": "start", "consultation": "k-optag-1", "doctor": doctor, "consent": true,
                "tracks": [{"id": "laege", "role": "doctor", "sample_rate": 48000, "encoding": "pcm_s16le"}],
            })
            .to_string(),
        )
    };
    socket.send(start("laege-02")).await.unwrap();
    let Some(Ok(Message::Text(refused))) = socket.next().await else { panic!("no answer") };
    assert!(refused.contains(r#""code":"not_owner""#), "{refused}");
    let mut socket = capture_socket(&serve.addr, Some(&cookie), Some(&own)).await.unwrap();
    socket.send(start("laege-01")).await.unwrap();
    let Some(Ok(Message::Text(started))) = socket.next().await else { panic!("no answer") };
    assert!(started.contains(r#""type":"started""#), "{started}");
    // Opened by the doctor's browser: no ingest key in the record.
    let audit = common::audit_text(&data);
    assert!(
        audit.contains(r#""type":"consultation_started","consultation":"k-optag-1","doctor":"laege-01"}"#),
        "{audit}"
    );
    serve.stop();
}

/// A TCP relay between the browser and `serve` that can cut every connection at once: a
/// network blip, as a Wi-Fi hand-over or a VPN reconnect makes one.
struct Relay {
    addr: String,
    cut: tokio::sync::watch::Sender<u32>,
}

impl Relay {
    async fn bind() -> (Relay, tokio::net::TcpListener) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        (Relay { addr, cut: tokio::sync::watch::channel(0).0 }, listener)
    }

    fn forward(&self, listener: tokio::net::TcpListener, to: String) {
        let cut = self.cut.subscribe();
        tokio::spawn(async move {
            while let Ok((mut browser, _)) = listener.accept().await {
                let (to, mut cut) = (to.clone(), cut.clone());
                cut.mark_unchanged();
                tokio::spawn(async move {
                    let mut server = tokio::net::TcpStream::connect(&to).await.unwrap();
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut browser, &mut server) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
    }

    /// Drops every open connection; new ones go through again.
    fn blip(&self) {
        self.cut.send_modify(|n| *n += 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_doctor_records_a_call_from_the_browser_through_a_network_blip_and_the_draft_opens_at_stop() {
    let dir = tempfile::tempdir().unwrap();
    // Chromium plays this as the microphone, looped, and as the shared tab's sound.
    let mic = dir.path().join("mic.wav");
    let line =
        [(Role::Doctor, "Good morning. Did the zebra medicine help with the cough?".to_string(), "en-us".to_string())];
    fixtures::render_lines(&line, 1, 150, &mic).unwrap();

    // The browser reaches the service through the relay, so that is the public address.
    let (relay, listener) = Relay::bind().await;
    let data = dir.path().join("data");
    let config = dir.path().join("autonotar.toml");
    // Whisper base hears espeak's English reliably, not its Danish.
    std::fs::write(&config, format!("[asr]\nlanguage = \"en\"\n[server]\npublic_url = \"http://{}\"\n", relay.addr))
        .unwrap();
    let serve =
        common::Serve::start(dir.path(), &["--config", config.to_str().unwrap(), "--data-dir", data.to_str().unwrap()]);
    relay.forward(listener, serve.addr.clone());
    let driver = Driver::with_fake_media(Kind::Chromium, &mic);
    let client = driver.browser().await;
    client.goto(&common::link(dir.path(), &data, &relay.addr, "laege-01")).await.unwrap();
    client.find(Locator::Id("to-capture")).await.unwrap().click().await.unwrap();
    assert_eq!(text_of(&client, "h1").await, "Optag en videokonsultation");
    assert!(text_of(&client, "form#capture-form").await.contains("samtykke"));

    // Without the consent ticked nothing starts.
    let field = client.find(Locator::Id("capture-id")).await.unwrap();
    field.send_keys("k-optag-0042").await.unwrap();
    client.find(Locator::Id("capture-start")).await.unwrap().click().await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let running = client.execute("return document.getElementById('capture-running').hidden;", vec![]).await.unwrap();
    assert_eq!(running, serde_json::Value::Bool(true), "recording started without consent");
    assert!(!common::audit_text(&data).contains("k-optag-0042"), "nothing is opened without consent");

    client.find(Locator::Id("capture-consent")).await.unwrap().click().await.unwrap();
    client.find(Locator::Id("capture-start")).await.unwrap().click().await.unwrap();
    until_within(
        &client,
        Duration::from_secs(30),
        "recording",
        "document.getElementById('capture-state').textContent === 'optager'",
    )
    .await;
    until_within(
        &client,
        Duration::from_secs(30),
        "the microphone's level to move",
        "document.getElementById('level-doctor').value > 0",
    )
    .await;
    until_within(
        &client,
        WHISPER,
        "the first live text",
        "document.querySelector('#live-segments .seg:not(.tentative)')",
    )
    .await;

    driver.screenshot(&client, "optag").await;

    // The network drops: the page reconnects by itself, resumes, and sends what the server missed.
    relay.blip();
    until_within(
        &client,
        Duration::from_secs(30),
        "the page to resume",
        "document.getElementById('capture-state').textContent.includes('genoprettet')",
    )
    .await;
    // Chromium's fake screen share plays the microphone's file too, but each fake device starts
    // it when opened, so the two copies are not a controlled echo (that is measured in
    // crates/asr/tests/echo.rs); the patient's track must show the words. (Through the browser's
    // audio processing Whisper base hears "zebra" as "seabrom" and the like.)
    until_within(
        &client,
        WHISPER,
        "the patient track's words in the live transcript",
        "[...document.querySelectorAll('#live-segments .seg.patient:not(.tentative)')].some((s) => s.textContent.toLowerCase().includes('cough'))",
    )
    .await;
    until_within(
        &client,
        Duration::from_secs(10),
        "both inputs' levels",
        "document.getElementById('level-patient').value > 0",
    )
    .await;
    let warnings = text_of(&client, "#msg").await;
    assert!(!warnings.contains("nåede ikke frem") && !warnings.contains("tabt"), "audio was lost: {warnings}");
    client.find(Locator::Id("capture-stop")).await.unwrap().click().await.unwrap();
    until_within(&client, WHISPER, "the draft page", "location.pathname === '/review/k/k-optag-0042'").await;
    let page = text_of(&client, "main").await.to_lowercase();
    assert!(page.contains("cough"), "the kept transcript: {page}");
    let audit = common::audit_text(&data);
    for event in [
        r#""type":"consultation_started","consultation":"k-optag-0042","doctor":"laege-01"}"#,
        r#""type":"consultation_resumed","consultation":"k-optag-0042","doctor":"laege-01"}"#,
        r#""type":"draft_produced""#,
    ] {
        assert!(audit.contains(event), "{event} not in {audit}");
    }
    serve.stop();
}

/// Firefox fakes a microphone but, headless, has no screen or tab to share: the page says so in
/// Danish, and nothing is opened or recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_tab_to_share_the_page_says_so_and_records_nothing_in_firefox() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let serve = common::Serve::start(dir.path(), &["--data-dir", data.to_str().unwrap()]);
    let driver = Driver::with_fake_media(Kind::Firefox, &dir.path().join("unused.wav"));
    let client = driver.browser().await;
    client.goto(&common::link(dir.path(), &data, &serve.addr, "laege-01")).await.unwrap();
    client.goto(&format!("http://{}/review/optag", serve.addr)).await.unwrap();
    start_capture(&client, "k-optag-0043").await;
    until_within(
        &client,
        Duration::from_secs(30),
        "the warning that no tab was shared",
        "document.getElementById('msg').textContent.includes('Der blev ikke delt nogen fane')",
    )
    .await;
    let running = client.execute("return document.getElementById('capture-running').hidden;", vec![]).await.unwrap();
    assert_eq!(running, serde_json::Value::Bool(true));
    assert!(!common::audit_text(&data).contains("k-optag-0043"), "nothing is opened without both inputs");
    serve.stop();
}

/// A microphone that stays silent (muted, or the wrong device) gets a Danish warning after 30 s,
/// while the recording goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_microphone_gets_a_warning_while_recording_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let silence = dir.path().join("silence.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(&silence, spec).unwrap();
    (0..16_000 * 5).for_each(|_| writer.write_sample(0i16).unwrap());
    writer.finalize().unwrap();
    let data = dir.path().join("data");
    let serve = common::Serve::start(dir.path(), &["--data-dir", data.to_str().unwrap()]);
    let driver = Driver::with_fake_media(Kind::Chromium, &silence);
    let client = driver.browser().await;
    client.goto(&common::link(dir.path(), &data, &serve.addr, "laege-01")).await.unwrap();
    client.goto(&format!("http://{}/review/optag", serve.addr)).await.unwrap();
    start_capture(&client, "k-optag-0044").await;
    until_within(
        &client,
        Duration::from_secs(60),
        "the warning about the silent microphone",
        "document.getElementById('msg').textContent.includes('Der er ikke kommet lyd fra mikrofonen')",
    )
    .await;
    assert_eq!(text_of(&client, "#capture-state").await, "optager");
    serve.stop();
}
