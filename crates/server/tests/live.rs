//! The live service end to end: a real server on a free loopback port, real Silero VAD and
//! Whisper base, consultations streamed over real WebSockets.
// Each test has its own runtime; the lock held across awaits only orders whole tests.
#![allow(clippy::await_holding_lock)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use fixtures::models_dir;
use futures_util::{SinkExt, StreamExt};
use server::client::{Replay, tracks_of};
use server::protocol::{ClientMessage, Encoding, ErrorCode, ServerMessage, Start, TrackSpec, frame};
use server::{IngestKeys, Service, Settings};
use tokio_tungstenite::tungstenite::Message;
use transcript::Role;

/// Whisper's threads spin on both cores: two decoding tests at once only slow each other.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn turn() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

/// A running service: its ingest URL, its address, the service and the ingest key it takes.
struct Running {
    url: String,
    addr: std::net::SocketAddr,
    service: Arc<Service>,
    key: String,
}

/// Starts a service on 127.0.0.1:0 that keeps nothing (the `serve` tests check storage).
async fn start_server(language: &str, adjust: impl FnOnce(&mut Settings)) -> Running {
    start_server_drafting(language, None, adjust).await
}

/// As [`start_server`], drafting with `drafter`.
async fn start_server_drafting(
    language: &str,
    drafter: Option<Arc<note::Drafter>>,
    adjust: impl FnOnce(&mut Settings),
) -> Running {
    let models = models_dir();
    let mut settings = Settings::new(models.clone());
    settings.language = language.into();
    adjust(&mut settings);
    let options = asr::Options { language: language.into(), ..asr::Options::default() };
    let recognizer = asr::Recognizer::load(&models.join("ggml-base-q8_0.bin"), options).unwrap();
    let service = Service::new(settings, server::decode::local(recognizer), drafter, Arc::new(storage::Transient));
    let (keys, key) = IngestKeys::ephemeral(ids::Id::new("tests").unwrap()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(server::serve(listener, service.clone(), keys, axum::Router::new(), std::future::pending()));
    Running { url: format!("ws://{addr}/v1/ingest"), addr, service, key: key.to_string() }
}

async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes()).await.unwrap();
    let mut body = String::new();
    stream.read_to_string(&mut body).await.unwrap();
    body
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("{name} missing from /metrics"))
        .trim()
        .parse()
        .unwrap()
}

/// An English two-track consultation: Whisper base hears espeak's English reliably.
fn english_consultation(dir: &Path) -> PathBuf {
    let wav = dir.join("english.wav");
    let lines = [
        (Role::Doctor, "Good morning. What can I do for you today?", "en-us"),
        (Role::Patient, "I have had a sore throat and a headache for three days.", "en-us+f3"),
        (Role::Doctor, "Please drink plenty of water and call me on Monday.", "en-us"),
    ]
    .map(|(r, t, v)| (r, t.to_string(), v.to_string()));
    fixtures::render_lines(&lines, 2, 150, &wav).unwrap();
    wav
}

fn replay(server: &Running, wav: &Path, consultation: &str, speed: f64, drop_after: Option<u32>) -> Replay {
    Replay {
        url: server.url.clone(),
        key: server.key.clone().into(),
        consultation: consultation.into(),
        doctor: "d-1".into(),
        speed,
        frame_ms: 100,
        tracks: tracks_of(audio::read_wav(wav).unwrap()),
        drop_after,
        draft_timeout: Duration::from_secs(120),
        interim_draft: false,
    }
}

fn committed_text(events: &[ServerMessage], role: Role) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            ServerMessage::Committed(p) if p.speaker == role => Some(p.text.to_lowercase()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_consultation_commits_text_per_speaker_and_ends_with_draft_ready() {
    let _turn = turn();
    let dir = tempfile::tempdir().unwrap();
    let wav = english_consultation(dir.path());
    let server = start_server("en", |_| {}).await;
    let report = replay(&server, &wav, "c-live-1", 3.0, None).run(&mut |_| {}).await.unwrap();

    let (doctor, patient) =
        (committed_text(&report.events, Role::Doctor), committed_text(&report.events, Role::Patient));
    for word in ["morning", "today", "water", "monday"] {
        assert!(doctor.contains(word), "doctor lacks {word:?}: {doctor}");
    }
    for word in ["sore throat", "three days"] {
        assert!(patient.contains(word), "patient lacks {word:?}: {patient}");
    }
    assert!(
        report.events.iter().all(|e| !matches!(
            e,
            ServerMessage::Gap { .. } | ServerMessage::Duplicate { .. } | ServerMessage::Error { .. }
        )),
        "{:?}",
        report.events
    );
    let Some(ServerMessage::DraftReady { consultation, transcript, draft, .. }) = report.draft() else {
        panic!("no draft_ready")
    };
    assert_eq!(consultation, "c-live-1");
    assert!(draft.is_none(), "no drafter is configured in this test");
    assert!(transcript.segments.windows(2).all(|w| w[0].start <= w[1].start), "final transcript out of time order");
    assert_eq!(transcript.segments.first().unwrap().speaker, Role::Doctor);
    assert_eq!(transcript.segments.last().unwrap().speaker, Role::Doctor);
    assert!(
        transcript.segments.iter().any(|s| s.speaker == Role::Patient && s.text.to_lowercase().contains("sore throat"))
    );

    // The kept transcript is made of the same window passes `autonotar transcribe` makes.
    let recording = audio::read_wav(&wav).unwrap();
    let tracks: Vec<asr::Track> = recording
        .channels
        .iter()
        .enumerate()
        .map(|(i, samples)| asr::Track {
            role: Role::for_channel(i),
            samples: audio::to_16k(samples, recording.sample_rate).unwrap(),
        })
        .collect();
    let options = asr::Options { language: "en".into(), ..asr::Options::default() };
    let recognizer = asr::Recognizer::load(&models_dir().join("ggml-base-q8_0.bin"), options).unwrap();
    let offline = asr::transcribe(&tracks, &models_dir(), &recognizer, &mut |_, _| {}).unwrap();
    let lines = |t: &transcript::Transcript| {
        t.segments.iter().map(|s| format!("{:?} {:.1} {}", s.speaker, s.start, s.text)).collect::<Vec<_>>()
    };
    assert_eq!(lines(transcript), lines(&offline), "streamed and offline transcripts differ");

    let metrics = http_get(server.addr, "/metrics").await;
    assert_eq!(metric(&metrics, "autonotar_drafts_produced_total"), 1.0);
    assert_eq!(metric(&metrics, "autonotar_active_sessions"), 0.0);
    assert!(metric(&metrics, "autonotar_commit_latency_seconds_count") >= 3.0);
    assert!(http_get(server.addr, "/healthz").await.ends_with("ok\n"));
}

/// The real note drafter over the fetched section model.
fn note_drafter() -> Arc<note::Drafter> {
    let models = models_dir();
    let model = note::OnnxClassifier::open(&models, &models.join(note::MODEL_FILE)).unwrap();
    Arc::new(note::Drafter::new(model, danish::Words::load(std::path::Path::new(danish::SYSTEM_DICTIONARY)).unwrap()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interim_drafts_come_during_the_call_and_rest_only_on_committed_text() {
    let _turn = turn();
    let dir = tempfile::tempdir().unwrap();
    let consultation = fixtures::Consultation::load(&fixtures::corpus_dir().join("c01-ondt-i-halsen.toml")).unwrap();
    let wav = fixtures::render(&consultation, dir.path()).unwrap();
    let server = start_server_drafting("da", Some(note_drafter()), |settings| {
        settings.interim_draft_every = Some(Duration::from_secs(1));
    })
    .await;
    let mut asking = replay(&server, &wav, "c-interim-1", 2.0, None);
    asking.interim_draft = true;
    let report = asking.run(&mut |_| {}).await.unwrap();

    let mut committed: Vec<server::protocol::Piece> = Vec::new();
    let mut interim_statements = 0;
    let mut interim_drafts = 0;
    for event in &report.events {
        match event {
            ServerMessage::Committed(piece) => committed.push(piece.clone()),
            ServerMessage::InterimDraft { commits, draft } => {
                interim_drafts += 1;
                // Drafted from exactly the commits this client had already been sent, nothing
                // tentative: every statement's evidence is made of those segments, in time order.
                let mut drafted_from: Vec<_> = committed.iter().take(*commits as usize).collect();
                assert_eq!(drafted_from.len(), *commits as usize, "drafted from commits not yet sent");
                drafted_from.sort_by(|a, b| a.start.total_cmp(&b.start).then(a.track.cmp(&b.track)));
                for statement in draft.sections.iter().flat_map(|s| &s.statements) {
                    interim_statements += 1;
                    let ids = &statement.evidence.segments;
                    assert!(ids.iter().all(|&id| (id as usize) < drafted_from.len()), "{statement:?}");
                    let first = drafted_from[ids[0] as usize];
                    assert!((statement.evidence.start - first.start).abs() < 0.01, "{statement:?} vs {first:?}");
                }
            }
            ServerMessage::DraftReady { .. } => break,
            _ => {}
        }
    }
    assert!(
        interim_drafts >= 2 && interim_statements > 0,
        "{interim_drafts} interim drafts, {interim_statements} statements"
    );
    assert!(matches!(report.draft(), Some(ServerMessage::DraftReady { draft: Some(_), .. })));
    let metrics = http_get(server.addr, "/metrics").await;
    assert!(metric(&metrics, "autonotar_interim_drafts_total") >= interim_drafts as f64);

    // A client that did not ask gets none.
    let plain = replay(&server, &wav, "c-interim-2", 0.0, None).run(&mut |_| {}).await.unwrap();
    assert!(!plain.events.iter().any(|e| matches!(e, ServerMessage::InterimDraft { .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_cut_mid_stream_resumes_without_losing_or_duplicating_audio() {
    let _turn = turn();
    let dir = tempfile::tempdir().unwrap();
    let wav = english_consultation(dir.path());
    let seconds = audio::read_wav(&wav).unwrap().duration_seconds();
    let server = start_server("en", |_| {}).await;
    // Cut during the patient's turn.
    let report = replay(&server, &wav, "c-resume", 4.0, Some(45)).run(&mut |_| {}).await.unwrap();
    assert_eq!(report.reconnects, 1);
    assert!(
        report.events.iter().all(|e| !matches!(e, ServerMessage::Gap { .. } | ServerMessage::Duplicate { .. })),
        "{:?}",
        report.events
    );
    let patient = committed_text(&report.events, Role::Patient);
    assert!(patient.contains("sore throat") && patient.contains("three days"), "{patient}");
    assert!(committed_text(&report.events, Role::Doctor).contains("monday"));
    // Exactly the file's audio went in: two tracks, nothing lost, nothing twice.
    let audio_in = metric(&http_get(server.addr, "/metrics").await, "autonotar_audio_seconds_in_total");
    assert!((audio_in - 2.0 * seconds).abs() < 0.01, "{audio_in} s in for 2 × {seconds} s");
    assert!(report.draft().is_some());
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens the ingest WebSocket with `headers` on the upgrade request, or says what HTTP refused.
async fn upgrade(url: &str, headers: &[(&'static str, &str)]) -> Result<Socket, u16> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = url.into_client_request().unwrap();
    for (name, value) in headers {
        request.headers_mut().insert(*name, value.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
        Err(e) => panic!("cannot connect: {e}"),
    }
}

async fn connect(server: &Running) -> Socket {
    upgrade(&server.url, &[("authorization", &format!("Bearer {}", server.key))]).await.unwrap()
}

async fn next_event(
    ws: &mut tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
) -> Option<ServerMessage> {
    loop {
        match tokio::time::timeout(Duration::from_secs(60), ws.next()).await.ok()?? {
            Ok(Message::Text(text)) => return Some(serde_json::from_str(&text).unwrap()),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

fn start_message(consultation: &str, consent: bool, rate: u32) -> Message {
    let track = |id: &str, role| TrackSpec { id: id.into(), role, sample_rate: rate, encoding: Encoding::PcmS16le };
    let start = Start {
        consultation: consultation.into(),
        doctor: "d".into(),
        tracks: vec![track("a", Role::Doctor), track("b", Role::Patient)],
        consent,
        resume_token: None,
        interim_draft: false,
    };
    Message::text(serde_json::to_string(&ClientMessage::Start(start)).unwrap())
}

fn error_code(event: Option<ServerMessage>) -> ErrorCode {
    match event {
        Some(ServerMessage::Error { code, .. }) => code,
        other => panic!("expected an error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_clear_protocol_errors() {
    let server = start_server("da", |s| {
        s.idle_timeout = Duration::from_secs(2);
        s.max_frame_bytes = 4096;
    })
    .await;

    let mut ws = connect(&server).await;
    ws.send(Message::text("{not json")).await.unwrap();
    assert_eq!(error_code(next_event(&mut ws).await), ErrorCode::MalformedMessage);

    let mut ws = connect(&server).await;
    ws.send(Message::binary(frame(0, 0, Encoding::PcmS16le, &[0.0; 160]))).await.unwrap();
    assert_eq!(error_code(next_event(&mut ws).await), ErrorCode::NotStarted);

    let mut ws = connect(&server).await;
    ws.send(start_message("c-no-consent", false, 16000)).await.unwrap();
    assert_eq!(error_code(next_event(&mut ws).await), ErrorCode::ConsentRequired);
    assert!(next_event(&mut ws).await.is_none(), "the connection closes after a refusal");
    let (active, _) = server.service.load();
    assert_eq!(active, 0, "a refused consultation leaves nothing behind");

    let mut ws = connect(&server).await;
    ws.send(start_message("c-rate", true, 96000)).await.unwrap();
    assert_eq!(error_code(next_event(&mut ws).await), ErrorCode::BadStart);

    let mut ws = connect(&server).await;
    ws.send(start_message("c-bad", true, 16000)).await.unwrap();
    assert!(matches!(next_event(&mut ws).await, Some(ServerMessage::Started { .. })));
    ws.send(Message::binary(frame(5, 0, Encoding::PcmS16le, &[0.0; 160]))).await.unwrap();
    assert_eq!(error_code(next_event(&mut ws).await), ErrorCode::UnknownTrack);
    ws.send(Message::binary(frame(0, 0, Encoding::PcmS16le, &[0.0; 4096]))).await.unwrap();
    assert_eq!(error_code(next_event(&mut ws).await), ErrorCode::FrameTooLarge);
    ws.send(Message::binary(vec![0, 1])).await.unwrap();
    assert_eq!(error_code(next_event(&mut ws).await), ErrorCode::BadFrame);
    ws.send(Message::binary(frame(0, 0, Encoding::PcmS16le, &[0.0; 160]))).await.unwrap();
    ws.send(Message::binary(frame(0, 0, Encoding::PcmS16le, &[0.0; 160]))).await.unwrap();
    assert_eq!(next_event(&mut ws).await, Some(ServerMessage::Duplicate { track: 0, sequence: 0, expected: 1 }));
    ws.send(Message::binary(frame(0, 4, Encoding::PcmS16le, &[0.0; 160]))).await.unwrap();
    assert_eq!(
        next_event(&mut ws).await,
        Some(ServerMessage::Gap { track: 0, expected: 1, got: 4, silence_seconds: 0.03 })
    );
    ws.send(Message::binary(frame(0, 1_000_000, Encoding::PcmS16le, &[0.0; 160]))).await.unwrap();
    assert_eq!(error_code(next_event(&mut ws).await), ErrorCode::GapTooLarge);
    ws.send(Message::text(r#"{"type":"start"}"#)).await.unwrap();
    assert_eq!(error_code(next_event(&mut ws).await), ErrorCode::MalformedMessage);
    // The client never sends stop: the idle timeout finalises the consultation.
    assert_eq!(next_event(&mut ws).await, Some(ServerMessage::Stopped { reason: "idle_timeout".into() }));
    assert!(matches!(next_event(&mut ws).await, Some(ServerMessage::DraftReady { .. })));
    // Audio after the end is refused.
    ws.send(Message::binary(frame(1, 0, Encoding::PcmS16le, &[0.0; 160]))).await.unwrap();
    assert_eq!(error_code(next_event(&mut ws).await), ErrorCode::Stopped);

    let metrics = http_get(server.addr, "/metrics").await;
    assert_eq!(metric(&metrics, "autonotar_gaps_total"), 1.0);
    assert_eq!(metric(&metrics, "autonotar_duplicates_total"), 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_far_ahead_of_real_time_is_slowed_down_not_buffered_without_bound() {
    let _turn = turn();
    let server = start_server("da", |s| s.max_buffered_seconds = 2.0).await;
    let mut ws = connect(&server).await;
    ws.send(start_message("c-flood", true, 16000)).await.unwrap();
    assert!(matches!(next_event(&mut ws).await, Some(ServerMessage::Started { .. })));
    // Ten minutes of quiet noise per track as fast as the socket takes it.
    let noise: Vec<f32> = (0..1600).map(|i| ((i * 7919 % 200) as f32 / 200.0 - 0.5) * 0.002).collect();
    let mut worst_lag: f64 = 0.0;
    for sequence in 0..6000u32 {
        for track in 0..2 {
            ws.send(Message::binary(frame(track, sequence, Encoding::PcmS16le, &noise))).await.unwrap();
        }
        if sequence % 500 == 0 {
            worst_lag = worst_lag.max(server.service.load().1);
        }
    }
    ws.send(Message::text(r#"{"type":"stop"}"#)).await.unwrap();
    loop {
        match next_event(&mut ws).await {
            Some(ServerMessage::DraftReady { transcript, .. }) => {
                assert!((transcript.duration - 600.0).abs() < 0.1, "{}", transcript.duration);
                break;
            }
            Some(_) => continue,
            None => panic!("no draft_ready"),
        }
    }
    // Queued audio never exceeded the room a track is given (plus the frame in hand).
    assert!(worst_lag <= 2.0 + 0.1, "lag {worst_lag} s");
    assert!(metric(&http_get(server.addr, "/metrics").await, "autonotar_audio_seconds_in_total") >= 1200.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_key_holders_reach_ingest_and_a_running_call_cannot_be_taken_over() {
    let server = start_server("da", |s| s.start_timeout = Duration::from_secs(1)).await;
    // No key, a wrong key, a browser's Origin (even with the key): refused before the upgrade.
    assert_eq!(upgrade(&server.url, &[]).await.err(), Some(401));
    assert_eq!(upgrade(&server.url, &[("authorization", "Bearer ank1_0000")]).await.err(), Some(401));
    let bearer = format!("Bearer {}", server.key);
    let foreign = [("authorization", bearer.as_str()), ("origin", "https://evil.example")];
    assert_eq!(upgrade(&server.url, &foreign).await.err(), Some(403));

    let mut owner = connect(&server).await;
    owner.send(start_message("c-owned", true, 16000)).await.unwrap();
    let Some(ServerMessage::Started { resume_token, .. }) = next_event(&mut owner).await else { panic!("not started") };
    owner.send(Message::binary(frame(0, 0, Encoding::PcmS16le, &[0.0; 160]))).await.unwrap();

    // Same id and tracks but no resume token: refused, and given nothing of the call.
    let mut intruder = connect(&server).await;
    intruder.send(start_message("c-owned", true, 16000)).await.unwrap();
    assert_eq!(error_code(next_event(&mut intruder).await), ErrorCode::NotOwner);
    assert!(next_event(&mut intruder).await.is_none(), "the intruder's connection closes");
    // A wrong token is no better; the owner is not superseded by either.
    let mut guess = connect(&server).await;
    let mut start =
        serde_json::from_str::<serde_json::Value>(start_message("c-owned", true, 16000).to_text().unwrap()).unwrap();
    start["resume_token"] = "0".repeat(64).into();
    guess.send(Message::text(start.to_string())).await.unwrap();
    assert_eq!(error_code(next_event(&mut guess).await), ErrorCode::NotOwner);
    owner.send(Message::binary(frame(0, 1, Encoding::PcmS16le, &[0.0; 160]))).await.unwrap();
    owner.send(Message::binary(frame(0, 1, Encoding::PcmS16le, &[0.0; 160]))).await.unwrap();
    assert_eq!(next_event(&mut owner).await, Some(ServerMessage::Duplicate { track: 0, sequence: 1, expected: 2 }));

    // The owner's own resume with its token still works.
    let mut again = connect(&server).await;
    start["resume_token"] = resume_token.into();
    again.send(Message::text(start.to_string())).await.unwrap();
    assert!(
        matches!(next_event(&mut again).await, Some(ServerMessage::Resumed { ref next_sequence, .. }) if next_sequence == &[2, 0])
    );

    // A connection that never sends start is closed.
    let mut silent = connect(&server).await;
    assert_eq!(error_code(next_event(&mut silent).await), ErrorCode::StartTimeout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_follow_the_one_rule_and_sequence_numbers_never_wrap() {
    let server = start_server("da", |s| s.max_sessions = 3).await;
    for bad in ["../../x", "010203-1234", "Søren", "c-2026 Jens Hansen", &"c".repeat(49)] {
        let mut ws = connect(&server).await;
        ws.send(start_message(bad, true, 16000)).await.unwrap();
        let Some(ServerMessage::Error { code, message }) = next_event(&mut ws).await else {
            panic!("{bad:?} accepted")
        };
        assert_eq!(code, ErrorCode::BadStart, "{bad:?}");
        assert!(!message.contains(bad), "the refusal repeats the id: {message}");
    }
    let mut ws = connect(&server).await;
    ws.send(start_message("c-wrap", true, 16000)).await.unwrap();
    assert!(matches!(next_event(&mut ws).await, Some(ServerMessage::Started { .. })));
    ws.send(Message::binary(frame(0, 0, Encoding::PcmS16le, &[]))).await.unwrap();
    // Empty frames make the jump to the last sequence number a gap of no audio.
    ws.send(Message::binary(frame(0, u32::MAX, Encoding::PcmS16le, &[]))).await.unwrap();
    assert_eq!(error_code(next_event(&mut ws).await), ErrorCode::BadFrame);
    // Nothing wrapped: sequence 0 is still a duplicate, not a new frame.
    ws.send(Message::binary(frame(0, 0, Encoding::PcmS16le, &[0.0; 160]))).await.unwrap();
    assert_eq!(next_event(&mut ws).await, Some(ServerMessage::Duplicate { track: 0, sequence: 0, expected: 1 }));

    // Twenty starts at once for three places: exactly three open (one is c-wrap).
    let starts = (0..20).map(|i| {
        let server = &server;
        async move {
            let mut ws = connect(server).await;
            ws.send(start_message(&format!("c-rush-{i}"), true, 16000)).await.unwrap();
            (next_event(&mut ws).await, ws)
        }
    });
    let results = futures_util::future::join_all(starts).await;
    let started = results.iter().filter(|(e, _)| matches!(e, Some(ServerMessage::Started { .. }))).count();
    assert_eq!(started, 2, "{:?}", results.iter().map(|(e, _)| e).collect::<Vec<_>>());
    assert!(results.iter().all(|(e, _)| matches!(
        e,
        Some(ServerMessage::Started { .. } | ServerMessage::Error { code: ErrorCode::Busy, .. })
    )));
}
