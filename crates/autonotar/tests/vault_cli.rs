//! `autonotar keys …` and `autonotar retention …` against a real vault in a temporary directory.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::stderr;

fn run(dir: &Path, args: &[&str]) -> std::process::Output {
    let mut all = vec!["--data-dir", "data"];
    all.extend_from_slice(args);
    std::process::Command::new(env!("CARGO_BIN_EXE_autonotar"))
        .args(&all)
        .current_dir(dir)
        .env_remove("AUTONOTAR_KEK")
        .output()
        .unwrap()
}

#[test]
fn keys_init_then_retention_deletes_exactly_when_due() {
    let dir = tempfile::tempdir().unwrap();
    let init = run(dir.path(), &["keys", "init"]);
    assert!(init.status.success(), "{}", stderr(&init));
    let key_file = dir.path().join("data.kek");
    assert_eq!(std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777, 0o600);
    let again = run(dir.path(), &["keys", "init"]);
    assert!(!again.status.success(), "a second init must not replace the key");

    // A consultation whose draft was never approved: the default policy deletes it after 14 days.
    let kek = vault::Kek::load(&key_file).unwrap();
    let vault = vault::Vault::open(&dir.path().join("data"), kek)
        .unwrap()
        .with_clock(|| vault::retention::parse_time("2026-11-01T10:00:00Z").unwrap());
    vault.create("consultation-1", false).unwrap();
    vault.put("consultation-1", vault::ArtefactKind::Draft, b"Videokonsultation. Ondt i halsen.").unwrap();

    let before = run(dir.path(), &["retention", "sweep", "--now", "2026-11-15T09:59:59Z"]);
    assert!(before.status.success(), "{}", stderr(&before));
    assert!(vault.get("consultation-1", vault::ArtefactKind::Draft).is_ok(), "deleted before its deadline");
    let status = run(dir.path(), &["retention", "status", "--now", "2026-11-15T09:59:59Z"]);
    assert!(String::from_utf8_lossy(&status.stdout).contains("consultation-1"));

    let after = run(dir.path(), &["retention", "sweep", "--now", "2026-11-15T10:00:00Z"]);
    assert!(after.status.success(), "{}", stderr(&after));
    let gone = vault.get("consultation-1", vault::ArtefactKind::Draft);
    // With its keyring destroyed, nothing is left to say the consultation ever existed.
    assert!(matches!(gone, Err(vault::Error::Missing { .. })), "{gone:?}");
    let report = String::from_utf8_lossy(&after.stdout);
    assert!(report.contains("shredded draft") && report.contains("rule unapproved"), "{report}");

    // The deletion is in the audit log, which still verifies, and the DPO report shows it.
    let verify = run(dir.path(), &["audit", "verify"]);
    assert!(verify.status.success(), "{}", stderr(&verify));
    assert!(
        String::from_utf8_lossy(&verify.stdout).starts_with("OK: 4 records, head "),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
    let dpo =
        run(dir.path(), &["audit", "report", "--consultation", "consultation-1", "--now", "2026-11-15T10:00:00Z"]);
    let dpo = String::from_utf8_lossy(&dpo.stdout);
    assert!(dpo.contains("consultation-1.draft"), "{dpo}");
}

#[test]
fn an_exposed_or_missing_key_file_is_refused_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let missing = run(dir.path(), &["retention", "status"]);
    assert!(!missing.status.success());
    assert_eq!(stderr(&missing).lines().count(), 1, "{}", stderr(&missing));
    assert!(run(dir.path(), &["keys", "init"]).status.success());
    std::fs::set_permissions(dir.path().join("data.kek"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let exposed = run(dir.path(), &["retention", "status"]);
    assert!(!exposed.status.success());
    assert!(stderr(&exposed).contains("chmod 600"), "{}", stderr(&exposed));
}
