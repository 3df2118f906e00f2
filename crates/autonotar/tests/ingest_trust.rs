//! The ingest trust boundary through `autonotar serve`, as an attacker on the network and an
//! operator at the console would meet it: keys, ownership of a consultation, audit before
//! effect, key rotation, shutdown, and input that lies.

mod common;

use std::path::Path;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(addr: &str, key: &str) -> Socket {
    let mut request = format!("ws://{addr}/v1/ingest").into_client_request().unwrap();
    request.headers_mut().insert("authorization", format!("Bearer {key}").parse().unwrap());
    tokio_tungstenite::connect_async(request).await.unwrap().0
}

fn start(consultation: &str, doctor: &str, resume_token: Option<&str>) -> Message {
    let mut start = serde_json::json!({
        "type": "start", "consultation": consultation, "doctor": doctor, "consent": true,
        "tracks": [{"id": "a", "role": "doctor", "sample_rate": 16000, "encoding": "pcm_s16le"}],
    });
    if let Some(token) = resume_token {
        start["resume_token"] = token.into();
    }
    Message::text(start.to_string())
}

/// The next JSON event, or `None` once the server closed the connection.
async fn next_event(socket: &mut Socket) -> Option<serde_json::Value> {
    loop {
        match tokio::time::timeout(Duration::from_secs(120), socket.next()).await.ok()?? {
            Ok(Message::Text(text)) => return Some(serde_json::from_str(&text).unwrap()),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

/// Waits for `draft_ready` (or the end), returning every event's type on the way.
async fn until_draft(socket: &mut Socket) -> (Vec<String>, Option<serde_json::Value>) {
    let mut seen = Vec::new();
    while let Some(event) = next_event(socket).await {
        let kind = event["type"].as_str().unwrap_or_default().to_string();
        seen.push(kind.clone());
        if kind == "draft_ready" {
            return (seen, Some(event));
        }
    }
    (seen, None)
}

fn silence_frame(sequence: u32) -> Message {
    let mut frame = vec![0u8];
    frame.extend_from_slice(&sequence.to_le_bytes());
    frame.extend(std::iter::repeat_n(0u8, 3200));
    Message::binary(frame)
}

/// A 16 kHz 16-bit WAV of `frames` silent frames on `channels` channels (2 or fewer: hound then
/// writes the plain 44-byte header the tests patch).
fn write_silence(path: &Path, channels: u16, frames: usize) {
    let spec =
        hound::WavSpec { channels, sample_rate: 16000, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut writer = hound::WavWriter::create(path, spec).unwrap();
    (0..frames * channels as usize).for_each(|_| writer.write_sample(0i16).unwrap());
    writer.finalize().unwrap();
}

fn run(dir: &Path, args: &[&str]) -> std::process::Output {
    common::autonotar(args, dir)
}

#[test]
fn only_a_valid_ingest_key_connects_and_revoking_one_takes_effect_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = ["--data-dir", data.to_str().unwrap()];
    let serve = common::Serve::start(dir.path(), &data_arg);
    let wav = dir.path().join("silence.wav");
    write_silence(&wav, 1, 8000);
    let replay = |key: Option<&str>| {
        let server = format!("ws://{}", serve.addr);
        let args = ["replay", wav.to_str().unwrap(), "--server", &server, "--speed", "0"];
        let env: Vec<(&str, &str)> = key.map(|key| ("AUTONOTAR_INGEST_KEY", key)).into_iter().collect();
        common::autonotar_with(&args, dir.path(), &env)
    };

    let missing = replay(None);
    assert!(!missing.status.success());
    assert!(common::stderr(&missing).contains("AUTONOTAR_INGEST_KEY"), "{}", common::stderr(&missing));
    let wrong = replay(Some("ank1_not-a-key"));
    assert!(common::stderr(&wrong).contains("HTTP 401"), "{}", common::stderr(&wrong));
    assert!(replay(Some(&serve.key)).status.success(), "the valid key connects");

    // The key file holds no key, only its hash; listing shows names.
    let listed = String::from_utf8_lossy(&run(dir.path(), &[&data_arg[..], &["ingest-key", "list"]].concat()).stdout)
        .into_owned();
    assert!(listed.starts_with("tests\t"), "{listed}");
    assert!(!std::fs::read_to_string(data.join("ingest-keys")).unwrap().contains(&serve.key[5..]));
    let revoked = run(dir.path(), &[&data_arg[..], &["ingest-key", "revoke", "tests"]].concat());
    assert!(revoked.status.success(), "{}", common::stderr(&revoked));
    let after = replay(Some(&serve.key));
    assert!(common::stderr(&after).contains("HTTP 401"), "revoked without a restart: {}", common::stderr(&after));
    serve.stop();

    let audit = common::audit_text(&data);
    for record in ["\"ingest_key_created\"", "\"ingest_key_revoked\"", "\"unknown_key\"", "\"ingest_key\":\"tests\""] {
        assert!(audit.contains(record), "no {record} in the audit log");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_cannot_be_taken_over_squatted_or_lost_to_a_shutdown_and_deletions_wait_for_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("autonotar.toml");
    // Finished calls leave memory at once, so a repeated id meets the vault.
    std::fs::write(&config, "[server]\nkeep_finished_seconds = 0\n").unwrap();
    let args = ["--config", config.to_str().unwrap(), "--data-dir", data.to_str().unwrap()];
    let serve = common::Serve::start(dir.path(), &args);
    let intruder_key = common::ingest_key(dir.path(), &args, "intruder");

    // The owner opens k-owned; another key holder with the same id, doctor and tracks gets nothing.
    let mut owner = connect(&serve.addr, &serve.key).await;
    owner.send(start("k-owned", "laege-01", None)).await.unwrap();
    let started = next_event(&mut owner).await.unwrap();
    assert_eq!(started["type"], "started");
    let token = started["resume_token"].as_str().unwrap().to_string();
    owner.send(silence_frame(0)).await.unwrap();
    let mut intruder = connect(&serve.addr, &intruder_key).await;
    intruder.send(start("k-owned", "laege-01", Some(&token))).await.unwrap();
    let refused = next_event(&mut intruder).await.unwrap();
    assert_eq!(refused["code"], "not_owner", "{refused}");
    assert!(next_event(&mut intruder).await.is_none(), "and the connection closes");

    // The owner resumes on a new connection with its token, then hangs up: the draft is kept.
    drop(owner);
    let mut owner = connect(&serve.addr, &serve.key).await;
    owner.send(start("k-owned", "laege-01", Some(&token))).await.unwrap();
    assert_eq!(next_event(&mut owner).await.unwrap()["type"], "resumed");
    owner.send(Message::text(r#"{"type":"stop"}"#)).await.unwrap();
    let (_, draft) = until_draft(&mut owner).await;
    assert!(draft.unwrap()["draft_error"].is_null());

    // The id is taken for good: claiming it again (after it left memory) is refused.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut squatter = connect(&serve.addr, &intruder_key).await;
    squatter.send(start("k-owned", "laege-02", None)).await.unwrap();
    assert_eq!(next_event(&mut squatter).await.unwrap()["code"], "consultation_exists");

    // The KEK cannot be rotated under the running service.
    let rotate = run(dir.path(), &[&args[..], &["keys", "rotate"]].concat());
    assert!(!rotate.status.success());
    assert!(common::stderr(&rotate).contains("stop it before rotating"), "{}", common::stderr(&rotate));

    // SIGTERM in the middle of a call: the call is stopped, its draft stored and sent, then exit 0.
    let mut late = connect(&serve.addr, &serve.key).await;
    late.send(start("k-late", "laege-01", None)).await.unwrap();
    assert_eq!(next_event(&mut late).await.unwrap()["type"], "started");
    for sequence in 0..20 {
        late.send(silence_frame(sequence)).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status, _) = tokio::task::spawn_blocking(move || serve.terminate()).await.unwrap();
    let (seen, draft) = until_draft(&mut late).await;
    assert!(seen.contains(&"stopped".to_string()) && draft.is_some(), "{seen:?}");
    assert!(status.success(), "{status:?}");
    let status_text =
        String::from_utf8_lossy(&run(dir.path(), &[&args[..], &["retention", "status"]].concat()).stdout).into_owned();
    assert!(status_text.contains("k-late") && status_text.contains("k-owned"), "{status_text}");

    let audit = common::audit_text(&data);
    for record in ["\"not_owner\"", "\"already_exists\"", "\"consultation_resumed\"", "\"ingest_key\":\"intruder\""] {
        assert!(audit.contains(record), "no {record} in the audit log");
    }

    // A sweep that cannot write to the audit log deletes nothing.
    let key_file = data.with_extension("audit-key");
    let key = std::fs::read(&key_file).unwrap();
    std::fs::write(&key_file, "not a key").unwrap();
    let sweep = ["retention", "sweep", "--now", "2100-01-01T00:00:00Z"];
    let refused = run(dir.path(), &[&args[..], &sweep].concat());
    assert!(!refused.status.success());
    let still =
        String::from_utf8_lossy(&run(dir.path(), &[&args[..], &["retention", "status"]].concat()).stdout).into_owned();
    assert!(still.contains("k-late"), "shredded without an audit record: {still}");
    std::fs::write(&key_file, key).unwrap();
    let swept = run(dir.path(), &[&args[..], &sweep].concat());
    assert!(swept.status.success(), "{}", common::stderr(&swept));
    let audit = common::audit_text(&data);
    assert!(audit.contains("\"key_shredded\"") && audit.contains("\"k-late\""), "deletions are on record");
    let verify = run(dir.path(), &[&args[..], &["audit", "verify"]].concat());
    assert!(String::from_utf8_lossy(&verify.stdout).starts_with("OK: "), "{}", common::stderr(&verify));
}

#[test]
fn an_audit_key_left_in_the_data_directory_is_refused_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("audit.key"), "0".repeat(64)).unwrap();
    let output = run(dir.path(), &["--data-dir", data.to_str().unwrap(), "audit", "verify"]);
    assert!(!output.status.success());
    let error = common::stderr(&output);
    assert!(error.contains("mv ") && error.contains("data.audit-key"), "{error}");
}

#[test]
fn absurd_settings_are_refused_at_load_and_lying_wav_headers_cost_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for (text, named) in [
        ("[server]\nidle_timeout_seconds = 18446744073709551615\n", "idle_timeout_seconds"),
        ("[server]\nmax_buffered_seconds = 1e300\n", "max_buffered_seconds"),
        ("[retention]\nunapproved = \"200000000000y\"\n", "100 years"),
    ] {
        std::fs::write(dir.path().join("bad.toml"), text).unwrap();
        let output = run(dir.path(), &["--config", "bad.toml", "retention", "status"]);
        assert_eq!(output.status.code(), Some(1), "{text}: {}", common::stderr(&output));
        assert!(common::stderr(&output).contains(named), "{text}: {}", common::stderr(&output));
    }
    let wav = dir.path().join("huge.wav");
    write_silence(&wav, 2, 1600);
    let mut bytes = std::fs::read(&wav).unwrap();
    bytes[40..44].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    std::fs::write(&wav, bytes).unwrap();
    let output = run(dir.path(), &["transcribe", wav.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", common::stderr(&output));
}

#[test]
fn idle_sockets_oversized_heads_and_a_login_flood_cost_the_service_nothing() {
    use std::io::{ErrorKind, Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("autonotar.toml");
    std::fs::write(&config, "[server]\nmax_connections = 8\nheader_timeout_seconds = 2\n").unwrap();
    let args = ["--config", config.to_str().unwrap(), "--data-dir", data.to_str().unwrap()];
    let serve = common::Serve::start(dir.path(), &args);
    let request = format!("GET /review/ HTTP/1.0\r\nHost: {}\r\n\r\n", serve.addr);

    // Eight sockets that never send a byte take every connection; a ninth client waits...
    let mut idle: Vec<_> = (0..8).map(|_| std::net::TcpStream::connect(&serve.addr).unwrap()).collect();
    let mut ninth = std::net::TcpStream::connect(&serve.addr).unwrap();
    ninth.write_all(request.as_bytes()).unwrap();
    ninth.set_read_timeout(Some(Duration::from_millis(700))).unwrap();
    let mut byte = [0u8; 1];
    let waited = ninth.read(&mut byte).unwrap_err();
    assert!(matches!(waited.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut), "{waited}");
    // ...until the header timeout closes the idle ones, and it is served.
    for socket in &mut idle {
        socket.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        assert_eq!(socket.read(&mut byte).unwrap(), 0, "an idle socket was kept open");
    }
    ninth.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut response = String::new();
    ninth.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.0 401"), "{response}");

    // A request head past the limit is not read into memory.
    let mut huge = std::net::TcpStream::connect(&serve.addr).unwrap();
    let padding = "a".repeat(200 * 1024);
    let _ = write!(huge, "GET /review/ HTTP/1.0\r\nX-Padding: {padding}\r\n\r\n");
    let mut response = String::new();
    let _ = huge.read_to_string(&mut response);
    assert!(response.is_empty() || response.starts_with("HTTP/1.1 431"), "{response}");

    // A flood of forged session cookies: each refused, the log gets a burst, then a count.
    for _ in 0..200 {
        let response = common::http_get(&serve.addr, "/review/", Some("autonotar_review=forged"));
        assert!(response.starts_with("HTTP/1.0 401"), "{response}");
    }
    std::thread::sleep(Duration::from_secs(2));
    common::http_get(&serve.addr, "/review/", Some("autonotar_review=forged"));
    serve.stop();
    let audit = common::audit_text(&data);
    let failed = audit.lines().filter(|line| line.contains("\"login_failed\"")).count();
    assert!((30..=32).contains(&failed), "{failed} login_failed records for 201 failures");
    assert!(audit.contains("\"suppressed\":170"), "the last record does not carry the count");
}
