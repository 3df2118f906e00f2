//! The KEK from `AUTONOTAR_KEK`, read by a separate process (the environment of the test
//! process itself is shared by its threads and left alone).

mod common;

use std::process::Command;

use common::Scratch;

const HELPER: &str = env!("CARGO_BIN_EXE_vault-test-helper");

fn put_with_env(kek: Option<&str>) -> String {
    let scratch = Scratch::new("env");
    let mut command = Command::new(HELPER);
    command.args(["put", scratch.path().to_str().unwrap(), "c1", "note", "10"]).env_remove("AUTONOTAR_KEK");
    if let Some(kek) = kek {
        command.env("AUTONOTAR_KEK", kek);
    }
    let output = command.output().unwrap();
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn a_valid_key_in_the_environment_is_used() {
    let kek = vault::Kek::generate().unwrap();
    assert_eq!(put_with_env(Some(kek.to_base64().as_str())).trim(), "ok");
}

#[test]
fn a_bad_key_in_the_environment_is_refused_clearly() {
    let short = put_with_env(Some("c2hvcnQ="));
    assert!(short.contains("AUTONOTAR_KEK: holds 5 bytes, a key has 32"), "{short}");
    let garbage = put_with_env(Some("not base64!"));
    assert!(garbage.contains("AUTONOTAR_KEK: is not valid base64"), "{garbage}");
    let unset = put_with_env(None);
    assert!(unset.contains("AUTONOTAR_KEK: is not set"), "{unset}");
}
