//! Bad input to the command line (mostly `autonotar transcribe`): one clear line on stderr, a
//! non-zero exit, never a panic.

mod common;

use std::path::Path;

use common::{autonotar, stderr};

fn wav(path: &Path, channels: u16, rate: u32, seconds: f32) -> Vec<u8> {
    let spec =
        hound::WavSpec { channels, sample_rate: rate, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut writer = hound::WavWriter::create(path, spec).unwrap();
    (0..(channels as f32 * rate as f32 * seconds) as usize)
        .for_each(|i| writer.write_sample(((i % 100) as i16 - 50) * 100).unwrap());
    writer.finalize().unwrap();
    std::fs::read(path).unwrap()
}

/// Runs transcribe on `bytes` and returns the one error line.
fn refused(bytes: &[u8], extra: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("input.wav");
    std::fs::write(&path, bytes).unwrap();
    let mut args = vec!["transcribe", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    let output = autonotar(&args, dir.path());
    let err = stderr(&output);
    assert!(!output.status.success(), "accepted: {err}");
    assert!(!err.contains("panicked"), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "expected one line, got: {err}");
    assert!(lines[0].starts_with("error: "), "{err}");
    lines[0].to_string()
}

fn good() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    wav(&dir.path().join("good.wav"), 2, 16000, 1.0)
}

#[test]
fn a_missing_file_is_named_once_with_its_cause() {
    let dir = tempfile::tempdir().unwrap();
    let output = autonotar(&["eval", "--corpus", "missing.toml", "--out", "run"], dir.path());
    let err = stderr(&output);
    assert!(!output.status.success(), "accepted: {err}");
    assert_eq!(err.lines().count(), 1, "expected one line, got: {err}");
    assert!(err.starts_with("error: cannot read missing.toml"), "{err}");
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
}

#[test]
fn truncated_wav() {
    let bytes = good();
    assert!(refused(&bytes[..bytes.len() / 2], &[]).contains("ends early"));
}

#[test]
fn not_a_wav_and_empty_file() {
    assert!(refused(b"%PDF-1.7 this is not audio", &[]).contains("not a WAV file"));
    assert!(refused(b"", &[]).contains("not a WAV file"));
}

#[test]
fn zero_channels_and_absurd_rate() {
    let mut zero = good();
    zero[22..24].copy_from_slice(&0u16.to_le_bytes());
    assert!(refused(&zero, &[]).contains("WAV"));
    let mut absurd = good();
    absurd[24..28].copy_from_slice(&1_000_000u32.to_le_bytes());
    absurd[28..32].copy_from_slice(&4_000_000u32.to_le_bytes());
    assert!(refused(&absurd, &[]).contains("sample rate 1000000 Hz"));
}

#[test]
fn roles_that_do_not_match_the_channels() {
    let line = refused(&good(), &["--roles", "doctor,patient,other"]);
    assert!(line.contains("3 roles but the recording has 2 channel(s)"), "{line}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.wav");
    std::fs::write(&path, good()).unwrap();
    let output = autonotar(&["transcribe", path.to_str().unwrap(), "--roles", "doctor,cat"], dir.path());
    assert!(!output.status.success());
    assert!(stderr(&output).contains("unknown role \"cat\""), "{}", stderr(&output));
}

#[test]
fn missing_file_and_missing_model() {
    assert!(refused(&good(), &["--model", "/nonexistent/ggml-large.bin"]).contains("run `autonotar models fetch`"));
    let dir = tempfile::tempdir().unwrap();
    let output = autonotar(&["transcribe", "/nonexistent/recording.wav"], dir.path());
    assert!(!output.status.success());
    assert_eq!(stderr(&output).trim(), "error: /nonexistent/recording.wav: file not found");
}

#[test]
fn missing_onnx_runtime_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.wav");
    std::fs::write(&path, good()).unwrap();
    // A models directory with the Whisper model but without ONNX Runtime.
    let models = dir.path().join("models");
    std::fs::create_dir(&models).unwrap();
    std::os::unix::fs::symlink(common::models_dir().join("ggml-base-q8_0.bin"), models.join("ggml-base-q8_0.bin"))
        .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_autonotar"))
        .args(["transcribe", path.to_str().unwrap()])
        .env("AUTONOTAR_MODELS_DIR", &models)
        .current_dir(dir.path())
        .output()
        .unwrap();
    let err = stderr(&output);
    assert!(!output.status.success());
    assert!(
        err.contains("libonnxruntime.so") && err.contains("run `autonotar models fetch`") && !err.contains("panicked"),
        "{err}"
    );
}
