//! A full and a read-only data directory. Both are real filesystems: a small tmpfs mounted in a
//! private user and mount namespace (`unshare -rm`), so nothing outside the test sees it and
//! it vanishes with the process. The vault must give a clear error and lose nothing it had
//! acknowledged.

mod common;

use std::process::Command;

use common::Scratch;
use vault::Kek;

const HELPER: &str = env!("CARGO_BIN_EXE_vault-test-helper");

/// Runs `script` with `$H` (the helper) and `$D` (a fresh 1 MiB tmpfs) inside a private
/// namespace; returns its output lines.
fn in_private_tmpfs(script: &str) -> Vec<String> {
    let scratch = Scratch::new("storage");
    let kek = Kek::generate().unwrap();
    let output = Command::new("unshare")
        .args(["-rm", "sh", "-c"])
        .arg(format!("mount -t tmpfs -o size=1m tmpfs \"$D\" || exit 99\n{script}"))
        .env("H", HELPER)
        .env("D", scratch.path())
        .env("AUTONOTAR_KEK", kek.to_base64().as_str())
        .output()
        .expect("`unshare` (util-linux) is needed for this test");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_ne!(output.status.code(), Some(99), "cannot mount a private tmpfs here: {stderr}");
    assert!(output.status.success(), "script failed: {stderr}");
    String::from_utf8_lossy(&output.stdout).lines().map(str::to_string).collect()
}

#[test]
fn full_filesystem_gives_a_clear_error_and_keeps_acknowledged_data() {
    let lines = in_private_tmpfs(
        r#"
        "$H" put "$D/v" c1 transcript 20000
        "$H" put "$D/v" c1 audio-0 3000000
        "$H" get "$D/v" c1 transcript
        "$H" put "$D/v" c1 draft 1000
        "$H" get "$D/v" c1 draft
        ls -a "$D/v/consultations"/* | grep -c tmp || true
        "#,
    );
    assert_eq!(lines[0], "ok");
    assert!(lines[1].starts_with("error: could not write"), "{}", lines[1]);
    assert!(
        lines[1].contains("The disk is full") && lines[1].contains("acknowledged before is intact"),
        "{}",
        lines[1]
    );
    assert_eq!(lines[2], "ok 20000 bytes, intact: true", "the acknowledged transcript survives");
    assert_eq!(lines[3], "ok", "the failed write freed its space");
    assert_eq!(lines[4], "ok 1000 bytes, intact: true");
    assert_eq!(lines[5], "0", "no temporary file is left behind");
}

#[test]
fn read_only_filesystem_gives_a_clear_error_and_keeps_acknowledged_data() {
    let lines = in_private_tmpfs(
        r#"
        "$H" put "$D/v" c1 transcript 20000
        mount -o remount,ro "$D"
        "$H" put "$D/v" c1 draft 1000
        "$H" get "$D/v" c1 transcript
        "#,
    );
    assert_eq!(lines[0], "ok");
    assert!(lines[1].contains("read-only filesystem: remount it read-write"), "{}", lines[1]);
    assert_eq!(lines[2], "ok 20000 bytes, intact: true");
}
