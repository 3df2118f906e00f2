//! `serve --nats` with `autonotar worker`s behind a real `nats-server -js` on a loopback port:
//! a worker killed mid-pass loses nothing, a worker that joins late takes work, the kept
//! transcript and the draft are those of the offline path, and the JetStream store holds no
//! plaintext audio or words.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `nats-server -js` on a free loopback port, its store in `store`, killed when dropped.
struct Nats {
    child: Child,
    url: String,
}

impl Nats {
    fn start(dir: &Path, store: &Path) -> Nats {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let config = dir.join("nats.conf");
        // A 30 s pass is 1.9 MB; NATS's default limit is 1 MB.
        std::fs::write(
            &config,
            format!("listen: 127.0.0.1:{port}\nmax_payload: 4MB\njetstream {{ store_dir: {:?} }}\n", store),
        )
        .unwrap();
        let binary = ["/usr/sbin/nats-server", "/usr/bin/nats-server"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap_or("nats-server");
        let child = Command::new(binary)
            .args(["-js", "-c", config.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server runs (scripts/setup.sh installs it)");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "nats-server did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Nats { child, url: format!("nats://127.0.0.1:{port}") }
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `autonotar worker` with its metrics on a free loopback port.
struct Worker {
    child: Child,
    metrics: String,
    logs: Option<std::thread::JoinHandle<String>>,
}

impl Worker {
    fn start(dir: &Path, nats: &str, name: &str) -> Worker {
        let mut child = Command::new(env!("CARGO_BIN_EXE_autonotar"))
            .args(["worker", "--nats", nats, "--listen", "127.0.0.1:0", "--name", name])
            .current_dir(dir)
            .env("AUTONOTAR_MODELS_DIR", common::models_dir())
            .env("AUTONOTAR_LOG", "debug")
            .stderr(Stdio::piped())
            .spawn()
            .expect("the autonotar binary runs");
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut logs = String::new();
        let metrics = loop {
            let mut line = String::new();
            assert!(stderr.read_line(&mut line).unwrap() > 0, "worker exited before serving: {logs}");
            logs.push_str(&line);
            if let Some(rest) = line.split("metrics on http://").nth(1) {
                break rest.trim().trim_end_matches("/metrics").to_string();
            }
        };
        let logs = std::thread::spawn(move || {
            let _ = stderr.read_to_string(&mut logs);
            logs
        });
        Worker { child, metrics, logs: Some(logs) }
    }

    fn metric(&self, name: &str) -> f64 {
        metric(&common::http_get(&self.metrics, "/metrics", None), name)
    }

    fn signal(&mut self, signal: &str) -> (std::process::ExitStatus, String) {
        let sent = Command::new("kill").args([signal, &self.child.id().to_string()]).status().unwrap();
        assert!(sent.success());
        let status = self.child.wait().unwrap();
        (status, self.logs.take().map(|l| l.join().unwrap()).unwrap_or_default())
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of the first line of `metrics` that is `name` or `name{…}` followed by a value.
fn metric(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find(|line| line.starts_with(name) && matches!(line.as_bytes().get(name.len()), Some(b' ' | b'{')))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in the metrics:\n{metrics}"))
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "waited {limit:?} for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs of at least `min` consecutive 4-byte groups, at any alignment, that read as f32 audio
/// samples (finite, 1e-7 ≤ |x| ≤ 1): how plaintext passes would look. In ciphertext one group
/// in ten reads so by chance, so a run of 256 never happens (p < 10^-250).
fn holds_plain_audio(bytes: &[u8], min: usize) -> bool {
    (0..4).any(|offset| {
        let mut run = 0;
        for group in bytes[offset.min(bytes.len())..].chunks_exact(4) {
            let x = f32::from_le_bytes(group.try_into().unwrap()).abs();
            run = if x.is_finite() && (1e-7..=1.0).contains(&x) { run + 1 } else { 0 };
            if run >= min {
                return true;
            }
        }
        false
    })
}

/// The words of the test's call, which no byte at rest or in a log may hold.
const WORDS: [&str; 6] = ["cough", "fever", "paracetamol", "smoking", "lungs", "blood"];

/// Sealed payloads in the JetStream store's files, and what in them is plaintext: audio samples
/// or the call's words.
fn scan_store(store: &Path) -> (usize, Vec<String>) {
    let (mut sealed, mut plain) = (0, Vec::new());
    let files = common::files_under(store);
    assert!(files.iter().any(|f| f.to_string_lossy().contains("AUTONOTAR_PASSES")), "no stream in {files:?}");
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        sealed += bytes.windows(8).filter(|w| w == b"ANCLUST\x01").count();
        if holds_plain_audio(&bytes, 256) {
            plain.push(format!("audio in {}", file.display()));
        }
        let text = String::from_utf8_lossy(&bytes).to_lowercase();
        plain.extend(WORDS.iter().filter(|w| text.contains(*w)).map(|w| format!("{w:?} in {}", file.display())));
    }
    (sealed, plain)
}

/// The text of a replay's output between `--- transcript ---` and `--- draft ---`, and after.
fn transcript_and_draft(replayed: &str) -> (String, String) {
    let after = replayed.split("--- transcript ---\n").nth(1).expect("the replay printed the transcript");
    let (transcript, draft) = after.split_once("--- draft ---\n").expect("the replay printed the draft");
    (transcript.to_string(), draft.to_string())
}

#[test]
fn a_worker_killed_mid_pass_loses_nothing_a_late_one_takes_over_and_nats_keeps_no_plaintext() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("call.wav");
    let lines = [
        (transcript::Role::Doctor, "Good morning. What brings you in today?", "en-us"),
        (transcript::Role::Patient, "I have had a cough for three weeks and a fever since Sunday.", "en-us+f3"),
        (transcript::Role::Doctor, "Do you smoke, and have you taken anything for the fever?", "en-us"),
        (transcript::Role::Patient, "No, I stopped smoking. I took paracetamol twice a day.", "en-us+f3"),
        (transcript::Role::Doctor, "I will listen to your lungs and we will take a blood test.", "en-us"),
        (transcript::Role::Patient, "Thank you. Should I stay home from work this week?", "en-us+f3"),
    ]
    .map(|(r, t, v)| (r, t.to_string(), v.to_string()));
    fixtures::render_lines(&lines, 2, 150, &wav).unwrap();
    let store = dir.path().join("jetstream");
    let nats = Nats::start(dir.path(), &store);
    // One Whisper thread per worker: two workers share this machine's two cores. A short
    // ack_wait so the killed worker's pass comes back within the test's patience.
    std::fs::write(
        dir.path().join("autonotar.toml"),
        "[asr]\nlanguage = \"en\"\nthreads = 1\n\n[cluster]\nkey_file = \"cluster.key\"\nack_wait_seconds = 3\n",
    )
    .unwrap();
    let init = common::autonotar(&["keys", "cluster-init"], dir.path());
    assert!(init.status.success(), "{}", common::stderr(&init));
    assert!(String::from_utf8_lossy(&init.stdout).contains("fingerprint"));
    let again = common::autonotar(&["keys", "cluster-init"], dir.path());
    assert!(!again.status.success() && common::stderr(&again).contains("never replaced"), "{}", common::stderr(&again));

    let data = dir.path().join("data");
    let serve = common::Serve::start_with(dir.path(), &["--data-dir", data.to_str().unwrap()], &["--nats", &nats.url]);
    let mut first = Worker::start(dir.path(), &nats.url, "first");
    let (replay, late, first_logs) = std::thread::scope(|scope| {
        let replay = scope
            .spawn(|| serve.replay(dir.path(), &[wav.to_str().unwrap(), "--speed", "2", "--draft-timeout", "600"]));
        // Killed in the middle of a window pass the kept transcript needs (seconds long, so it
        // cannot end between the look and the kill; a guess might be withdrawn instead of
        // redelivered), after it has handed over at least one pass.
        wait_for("the first worker to be in a kept window pass", Duration::from_secs(120), || {
            let metrics = common::http_get(&first.metrics, "/metrics", None);
            let kept = ["final", "later"]
                .map(|p| metric(&metrics, &format!("autonotar_worker_pass_audio_seconds{{priority=\"{p}\"}}")));
            metric(&metrics, "autonotar_worker_passes_total") >= 1.0 && kept.iter().any(|&s| s >= 2.0)
        });
        let (killed, first_logs) = first.signal("-KILL");
        assert!(!killed.success());
        // The killed pass waits in the store for its redelivery now: sealed.
        let (sealed, plain) = scan_store(&store);
        assert!(sealed >= 1, "no sealed job in the JetStream store while one waits");
        assert!(plain.is_empty(), "plaintext in the JetStream store: {plain:?}");
        let late = Worker::start(dir.path(), &nats.url, "late");
        (replay.join().unwrap(), late, first_logs)
    });
    let mut late = late;
    assert!(replay.status.success(), "replay failed: {}", common::stderr(&replay));
    let (transcript, draft) = transcript_and_draft(&String::from_utf8_lossy(&replay.stdout));

    // The killed pass came back one ack_wait after the kill, to the late worker.
    let gateway_metrics = || common::http_get(&serve.addr, "/metrics", None);
    wait_for("the killed pass to be redelivered and answered", Duration::from_secs(60), || {
        metric(&gateway_metrics(), "autonotar_cluster_redeliveries_total") >= 1.0
    });
    let gateway = gateway_metrics();
    for line in gateway.lines().filter(|l| l.starts_with("autonotar_cluster_")) {
        eprintln!("gateway: {line}");
    }
    assert!(
        gateway.contains("autonotar_cluster_worker_passes_total{worker=\"late\"}"),
        "the late worker took nothing:\n{gateway}"
    );
    assert!(late.metric("autonotar_worker_passes_total") >= 1.0);
    assert_eq!(metric(&gateway, "autonotar_cluster_passes_in_flight"), 0.0);
    assert_eq!(metric(&gateway, "autonotar_cluster_refused_results_total"), 0.0);
    // A worker asked to stop finishes what it holds and exits cleanly.
    let (stopped, late_logs) = late.signal("-TERM");
    assert!(stopped.success(), "{late_logs}");
    let (status, serve_logs) = serve.terminate();
    assert!(status.success(), "{serve_logs}");
    drop(nats);

    // The kept transcript and the draft are the offline path's, as without a cluster.
    let offline = common::autonotar(&["transcribe", wav.to_str().unwrap()], dir.path());
    assert!(offline.status.success(), "{}", common::stderr(&offline));
    assert_eq!(transcript, String::from_utf8_lossy(&offline.stdout), "streamed and offline transcripts differ");
    let offline_draft = common::autonotar(&["draft", wav.to_str().unwrap(), "--format", "json"], dir.path());
    assert!(offline_draft.status.success(), "{}", common::stderr(&offline_draft));
    let parse = |text: &str| serde_json::from_str::<serde_json::Value>(text).expect("a JSON draft");
    assert_eq!(parse(&draft), parse(&String::from_utf8_lossy(&offline_draft.stdout)), "the drafts differ");

    // Neither the JetStream store nor any log holds audio or words in plaintext.
    assert!(WORDS.iter().any(|w| transcript.to_lowercase().contains(w)), "the workers heard: {transcript}");
    let (_, plain) = scan_store(&store);
    assert!(plain.is_empty(), "plaintext in the JetStream store: {plain:?}");
    let recording = audio::read_wav(&wav).unwrap();
    let speech: Vec<u8> = recording.channels[0].iter().flat_map(|s| s.to_le_bytes()).collect();
    assert!(holds_plain_audio(&speech, 256), "the plaintext detector misses plain audio");
    for logs in [&serve_logs, &first_logs, &late_logs] {
        for word in WORDS {
            assert!(!logs.to_lowercase().contains(word), "{word:?} is in the logs");
        }
    }
}
