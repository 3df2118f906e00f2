//! Replays what the fuzzer kept (fuzz/corpus/TARGET) and every input that once crashed a target
//! (fuzz/regressions/TARGET) through the same bodies the fuzz targets run, on the ordinary
//! toolchain: a parser change that brings a crash back fails here, without nightly or
//! cargo-fuzz. How the corpus was made and what was found: docs/fuzzing.md.

use std::path::PathBuf;

/// Every input for `target`, with its file name for the failure message.
fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let fuzz = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut inputs = Vec::new();
    for dir in [fuzz.join("corpus").join(target), fuzz.join("regressions").join(target)] {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries {
            let path = entry.unwrap().path();
            inputs.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
    assert!(inputs.len() >= 3, "the corpus of {target} is missing from fuzz/corpus/{target}");
    inputs
}

/// Runs `body` on each input; a panic names the input that caused it.
fn replay(target: &str, body: impl Fn(&[u8]) + std::panic::RefUnwindSafe) {
    for (name, data) in inputs(target) {
        if std::panic::catch_unwind(|| body(&data)).is_err() {
            panic!("fuzz input {name} panics again");
        }
    }
}

#[test]
fn wav_reader() {
    replay("wav", |data| drop(audio::read_wav_from(data, "fuzz.wav")));
}

#[test]
fn ingest_messages() {
    replay("ingest", server::fuzzing::client_message);
}

#[test]
fn audit_log_readers() {
    replay("audit_log", audit::fuzzing::tampered_log);
}

#[test]
fn vault_stream_reader() {
    replay("vault_stream", vault::fuzzing::tampered_artefact);
}

#[test]
fn config_loader() {
    replay("config", |data| {
        if let Ok(text) = std::str::from_utf8(data) {
            drop(autonotar::config::Config::parse(text));
        }
    });
}
