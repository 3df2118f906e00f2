//! `autonotar draft`: typed transcripts, transcribe's JSON, a WAV end to end, and bad input.

mod common;

use common::{autonotar, stderr};

#[test]
fn a_typed_transcript_becomes_a_pasteable_danish_note() {
    let dir = tempfile::tempdir().unwrap();
    let typed = dir.path().join("samtale.txt");
    std::fs::write(
        &typed,
        "[00:01] Læge: Goddag, hvad kan jeg hjælpe med?\n\
         [00:04] Patient: Jeg har haft ondt i halsen i fire dage og feber op til otteogtredive komma fem.\n\
         [00:10] Læge: Har du hostet?\n\
         [00:12] Patient: Nej.\n",
    )
    .unwrap();
    let output = autonotar(&["draft", typed.to_str().unwrap()], dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    let note = String::from_utf8(output.stdout).unwrap();
    assert!(note.starts_with("Videokonsultation."), "{note}");
    for expected in ["Ondt i halsen i 4 dage", "38,5", "Ingen hoste"] {
        assert!(note.contains(expected), "missing {expected:?} in:\n{note}");
    }
    let json = autonotar(&["draft", typed.to_str().unwrap(), "--format", "json"], dir.path());
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert!(value["sections"].as_array().is_some_and(|s| !s.is_empty()), "{value}");
}

#[test]
fn a_fixture_recording_goes_all_the_way_to_a_draft() {
    let dir = tempfile::tempdir().unwrap();
    let consultation =
        fixtures::Consultation::load(&fixtures::corpus_dir().join("c07-blaerebetaendelse.toml")).unwrap();
    let wav = fixtures::render(&consultation, dir.path()).unwrap();
    let output = autonotar(&["draft", wav.to_str().unwrap()], dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    // espeak's Danish is barely intelligible to Whisper base: the content is not asserted, the
    // shape is, and nothing the verifier cannot trace may stand in the note.
    assert!(String::from_utf8(output.stdout).unwrap().starts_with("Videokonsultation."));
}

#[test]
fn bad_transcripts_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    for (name, content, expected) in [
        ("broken.json", "{ \"segments\": [", "broken.json"),
        ("wrong.txt", "Sygeplejerske siger noget\n", "line 1"),
        ("notes.docx", "PK", "notes.docx"),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        let output = autonotar(&["draft", path.to_str().unwrap()], dir.path());
        let err = stderr(&output);
        assert!(!output.status.success() && !err.contains("panicked"), "{name}: {err}");
        assert_eq!(err.lines().count(), 1, "{name}: {err}");
        assert!(err.contains(expected), "{name}: {err}");
    }
}

#[test]
fn an_empty_transcript_gives_an_empty_note_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tom.txt");
    std::fs::write(&path, "").unwrap();
    let output = autonotar(&["draft", path.to_str().unwrap()], dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(String::from_utf8(output.stdout).unwrap().starts_with("Videokonsultation."));
}
