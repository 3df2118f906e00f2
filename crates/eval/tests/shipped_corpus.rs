//! The shipped manifest `eval/corpora/synthetic-da/manifest.toml` and the fixture scripts.

use std::path::{Path, PathBuf};

use eval::{Audio, Corpus};

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A silent three-channel WAV header with no samples: enough for the manifest's audio check.
fn write_empty_wav(path: &Path) {
    let mut bytes = Vec::new();
    bytes.extend_from_slice(b"RIFF");
    bytes.extend_from_slice(&36u32.to_le_bytes());
    bytes.extend_from_slice(b"WAVEfmt ");
    for (value, width) in [
        (16u32, 4),
        (1, 2),
        (3, 2),
        (16_000, 4),
        (96_000, 4),
        (6, 2),
        (16, 2),
    ] {
        bytes.extend_from_slice(&value.to_le_bytes()[..width]);
    }
    bytes.extend_from_slice(b"data");
    bytes.extend_from_slice(&0u32.to_le_bytes());
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn the_shipped_manifest_lists_every_fixture_script_and_each_loads() {
    let corpus =
        Corpus::load(&repository().join("eval/corpora/synthetic-da/manifest.toml")).unwrap();
    assert_eq!(corpus.name, "synthetic-da");
    for spec in &corpus.consultations {
        let script = spec
            .script
            .as_ref()
            .expect("every entry names its fixture script");
        assert!(
            script.ends_with(format!("fixtures/consultations/{}.toml", spec.id)),
            "{}",
            script.display()
        );
        let Audio::Multichannel { path, roles } = &spec.audio else {
            panic!("{}: one WAV per consultation", spec.id)
        };
        assert!(path.ends_with(format!("synthetic-da/audio/{}.wav", spec.id)));
        assert_eq!(roles.len(), 3);
    }

    // The scripts live in fixtures/consultations/; where they are checked out, the manifest must
    // list exactly them, and every one must load (with stand-in audio: rendering needs espeak-ng).
    let scripts = repository().join("fixtures/consultations");
    let Ok(entries) = std::fs::read_dir(&scripts) else {
        return;
    };
    let mut on_disk: Vec<String> = entries
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter_map(|name| name.strip_suffix(".toml").map(str::to_string))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = corpus.consultations.iter().map(|c| c.id.clone()).collect();
    listed.sort();
    assert_eq!(listed, on_disk, "run eval/corpora/synthetic-da/generate.sh");

    let audio = tempfile::tempdir().unwrap();
    for id in &listed {
        write_empty_wav(&audio.path().join(format!("{id}.wav")));
    }
    let corpus = corpus.with_audio_dir(audio.path());
    let problems: Vec<String> = corpus
        .problems()
        .iter()
        .map(|(id, e)| format!("{id}: {e}"))
        .collect();
    assert!(problems.is_empty(), "{problems:#?}");
    for spec in &corpus.consultations {
        let references = spec.load().unwrap().references;
        assert!(
            references.transcript.is_some()
                && references.note.is_some()
                && references.facts.is_some(),
            "{}",
            spec.id
        );
    }
}
