//! `autonotar link`: prints one signed URL that the review app accepts once.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::SystemTime;

use common::stderr;

#[test]
fn link_prints_one_url_the_review_app_accepts_once() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("autonotar.toml"), "[server]\npublic_url = \"https://laege.example:8443/\"\n")
        .unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_autonotar"))
            .args(["--config", "autonotar.toml", "--data-dir", "data"])
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let output = run(&["link", "--doctor", "laege-07", "--consultation", "k-2026-0042", "--ttl", "5m"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    let url = lines[0];
    assert!(url.starts_with("https://laege.example:8443/review/login?t="), "{url}");

    let secret_file = dir.path().join("data.review-secret");
    assert_eq!(std::fs::metadata(&secret_file).unwrap().permissions().mode() & 0o777, 0o600);
    let secret = review::LinkSecret::load_or_create(&secret_file).unwrap();
    let token = url.split_once("?t=").unwrap().1;
    let used = review::link::UsedLinks::default();
    let claims = review::link::redeem(&secret, &used, token, SystemTime::now()).unwrap();
    assert_eq!(claims.doctor.as_str(), "laege-07");
    assert_eq!(claims.consultation.as_ref().map(|c| c.as_str()), Some("k-2026-0042"));
    assert!(review::link::redeem(&secret, &used, token, SystemTime::now()).is_err(), "a link works once");

    for bad in [
        &["link", "--doctor", "0101901234"][..],
        &["link", "--doctor", "laege-07", "--ttl", "2d"],
        &["link", "--doctor", "a b"],
    ] {
        let output = run(bad);
        assert!(!output.status.success(), "{bad:?} accepted");
        assert!(stderr(&output).starts_with("error:"), "{bad:?}: {}", stderr(&output));
    }
}
