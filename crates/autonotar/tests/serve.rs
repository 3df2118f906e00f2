//! `autonotar serve` from nothing: no config file, a fresh directory, a free loopback port.

mod common;

#[test]
fn serve_starts_on_defaults_without_a_config_file_and_answers_health_and_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let serve = common::Serve::start(dir.path(), &[]);
    let addr = serve.addr.clone();
    assert!(addr.starts_with("127.0.0.1:"), "binds to loopback: {addr}");
    let get = |path: &str| common::http_get(&addr, path, None);
    assert!(get("/healthz").ends_with("ok\n"));
    let metrics = get("/metrics");
    assert!(metrics.contains("autonotar_active_sessions 0"), "{metrics}");
    assert!(dir.path().join("autonotar-data").is_dir(), "the data directory is created on first start");
    serve.stop();
}

/// A whole consultation through the live service: nothing said in it may reach the disk or the
/// logs in plaintext, and the DPO's report shows its data flow.
#[test]
fn a_live_consultation_leaves_no_plaintext_and_a_complete_audit_trail() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("call.wav");
    let lines = [
        (transcript::Role::Doctor, "Good morning. Did the zebra medicine help with the cough?", "en-us"),
        (transcript::Role::Patient, "Yes, the cough is better since I came back from Copenhagen.", "en-us+f3"),
    ]
    .map(|(r, t, v)| (r, t.to_string(), v.to_string()));
    fixtures::render_lines(&lines, 2, 150, &wav).unwrap();
    let data = dir.path().join("data");
    // Interim drafts often enough to come during this short call, replayed in real time so that
    // text is committed while it still runs (at 4x both lines could commit only at the stop).
    std::fs::write(dir.path().join("autonotar.toml"), "[server]\ninterim_draft_seconds = 0.3\n").unwrap();
    let serve = common::Serve::start(dir.path(), &["--data-dir", data.to_str().unwrap()]);
    let replay = serve.replay(
        dir.path(),
        &[
            wav.to_str().unwrap(),
            "--interim-draft",
            "--speed",
            "1",
            "--consultation",
            "k-2026-0001",
            "--doctor",
            "laege-01",
            "--draft-timeout",
            "600",
        ],
    );
    let said = String::from_utf8_lossy(&replay.stdout).to_lowercase();
    assert!(replay.status.success(), "replay failed: {}", common::stderr(&replay));
    assert!(said.contains("zebra") || said.contains("copenhagen"), "the service heard: {said}");
    assert!(said.contains("kladde (foreløbig)"), "no interim draft came: {said}");
    let (status, logs) = serve.terminate();
    assert!(status.success(), "{logs}");

    // Every byte under the data directory and every log line, against the words of the call.
    let stored: Vec<u8> = common::files_under(&data).iter().flat_map(|f| std::fs::read(f).unwrap()).collect();
    let stored = String::from_utf8_lossy(&stored).to_lowercase();
    for event in
        ["consultation_started", "audio_received", "interim_draft_viewed", "transcript_produced", "draft_produced"]
    {
        assert!(stored.contains(event), "no {event} record in the audit log");
    }
    for marker in ["zebra", "copenhagen", "cough", "medicine"] {
        assert!(!stored.contains(marker), "{marker:?} is on disk in plaintext");
        assert!(!logs.to_lowercase().contains(marker), "{marker:?} is in the logs");
    }

    // The DPO sees the consultation's data flow, and the log verifies.
    let run = |args: &[&str]| {
        let mut all = vec!["--data-dir", data.to_str().unwrap()];
        all.extend_from_slice(args);
        common::autonotar(&all, dir.path())
    };
    assert!(String::from_utf8_lossy(&run(&["audit", "verify"]).stdout).starts_with("OK: "));
    // serve signed checkpoints at start and at stop, outside the data dir; the public key alone
    // verifies against them, and a log deleted outright no longer passes.
    let checkpoints = std::fs::read_to_string(data.with_extension("audit-checkpoints")).unwrap();
    assert_eq!(checkpoints.lines().count(), 2, "{checkpoints}");
    let public_key = String::from_utf8_lossy(&run(&["audit", "public-key"]).stdout).trim().to_owned();
    assert_eq!(public_key.len(), 64, "{public_key}");
    let by_public_key = run(&["audit", "verify", "--public-key", &public_key]);
    let verdict = String::from_utf8_lossy(&by_public_key.stdout).into_owned();
    assert!(verdict.starts_with("OK: ") && verdict.contains("checked against 2 checkpoints"), "{verdict}");
    let audit_copy = dir.path().join("audit-copy");
    std::fs::rename(data.join("audit"), &audit_copy).unwrap();
    let without_log = run(&["audit", "verify", "--public-key", &public_key]);
    let verdict = String::from_utf8_lossy(&without_log.stdout).into_owned();
    assert!(!without_log.status.success() && verdict.contains("truncated tail: the log ends at record 0"), "{verdict}");
    std::fs::rename(&audit_copy, data.join("audit")).unwrap();
    let report =
        String::from_utf8_lossy(&run(&["audit", "report", "--consultation", "k-2026-0001"]).stdout).into_owned();
    assert!(report.contains("k-2026-0001.transcript") && report.contains("k-2026-0001.draft"), "{report}");
    // The doctor can open it in the review app.
    let link = run(&["link", "--doctor", "laege-01", "--consultation", "k-2026-0001"]);
    assert!(
        link.status.success() && String::from_utf8_lossy(&link.stdout).contains("/review/login?t="),
        "{}",
        common::stderr(&link)
    );
}
