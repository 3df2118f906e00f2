//! The body of the `vault_stream` fuzz target (fuzz/fuzz_targets/vault_stream.rs), kept here so
//! the committed corpus and every crash found are replayed by the ordinary tests too
//! (crates/autonotar/tests/fuzz_regressions.rs). Built only with the `fuzzing` feature.
//!
//! The artefact reader on a file someone has changed on disk. A real transcript of two 64 KiB
//! chunks is stored once; each input either replaces the file outright (first byte 0) or edits
//! it (first byte 1: (offset, byte) triples with a 16-bit offset over the header and the chunk
//! boundaries, then a cut length), and the artefact is read back. Anything but the stored bytes
//! must be an error naming the file, never a panic and never altered plaintext.

use std::fs;
use std::path::PathBuf;
use std::sync::LazyLock;

use crate::{ArtefactKind, Kek, Vault};

const ID: &str = "k-2026-0001";

struct Stored {
    _dir: tempfile::TempDir,
    vault: Vault,
    file: PathBuf,
    original: Vec<u8>,
    plaintext: Vec<u8>,
}

static STORED: LazyLock<Stored> = LazyLock::new(|| {
    let dir = tempfile::tempdir().unwrap();
    let vault = Vault::open(&dir.path().join("data"), Kek::generate().unwrap()).unwrap();
    vault.create(ID, false).unwrap();
    let plaintext: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
    vault.put(ID, ArtefactKind::Transcript, &plaintext).unwrap();
    let consultation = vault.consultation_dir(ID).unwrap();
    let file = fs::read_dir(&consultation)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.file_name().unwrap().to_string_lossy().starts_with("transcript"))
        .expect("the transcript's file");
    let original = fs::read(&file).unwrap();
    Stored { _dir: dir, vault, file, original, plaintext }
});

/// One fuzz input: see the module documentation.
pub fn tampered_artefact(data: &[u8]) {
    let stored = &*STORED;
    let Some((&mode, rest)) = data.split_first() else { return };
    let bytes = if mode == 0 {
        rest.to_vec()
    } else {
        let mut bytes = stored.original.clone();
        let mut triples = rest.chunks_exact(3);
        for triple in &mut triples {
            let at = u16::from_le_bytes([triple[0], triple[1]]) as usize;
            // Low offsets hit the header and the first chunk, high ones the second chunk's start.
            let at = if at < 0x8000 { at } else { 65_536 + (at - 0x8000) } % bytes.len();
            bytes[at] ^= triple[2].max(1);
        }
        if let [low, high] = triples.remainder() {
            bytes.truncate(u16::from_le_bytes([*low, *high]) as usize * 2);
        }
        bytes
    };
    fs::write(&stored.file, &bytes).unwrap();
    if let Ok(read) = stored.vault.get(ID, ArtefactKind::Transcript) {
        assert!(bytes == stored.original && *read == stored.plaintext, "a changed file was read as valid");
    }
}
