//! One test per way an artefact can be tampered with, plus wrong, rotated and destroyed keys.
//! Real encryption, real files: each test damages the bytes on disk and reopens.

mod common;

use std::fs;
use std::path::PathBuf;

use common::{Scratch, artefact_file};
use vault::{ArtefactKind, Error, Kek, Vault};

const CHUNK: usize = 64 * 1024;
const SEALED_CHUNK: usize = CHUNK + 16;
/// magic 8 + chunk size 4 + file id 16 + label length 1 + "transcript"
const TRANSCRIPT_HEADER: usize = 8 + 4 + 16 + 1 + 10;

struct Fixture {
    _scratch: Scratch,
    kek: Kek,
    vault: Vault,
}

impl Fixture {
    fn new() -> Fixture {
        let scratch = Scratch::new("tamper");
        let kek = Kek::generate().unwrap();
        let vault = Vault::open(scratch.path(), kek.clone()).unwrap();
        Fixture { _scratch: scratch, kek, vault }
    }

    /// Stores a transcript of `len` bytes for consultation "c1" and returns its file.
    fn transcript(&self, len: usize) -> (Vec<u8>, PathBuf) {
        let content: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        if self.vault.consultation("c1").is_err() {
            self.vault.create("c1", false).unwrap();
        }
        self.vault.put("c1", ArtefactKind::Transcript, &content).unwrap();
        let file = artefact_file(&self.vault.consultation_dir("c1").unwrap(), "transcript");
        (content, file)
    }

    fn get(&self) -> Result<Vec<u8>, Error> {
        self.vault.get("c1", ArtefactKind::Transcript).map(|b| b.to_vec())
    }
}

fn flip_bit(path: &PathBuf, offset: usize) {
    let mut bytes = fs::read(path).unwrap();
    bytes[offset] ^= 0x10;
    fs::write(path, bytes).unwrap();
}

fn assert_tampered(result: Result<Vec<u8>, Error>, expected: &str) {
    match result {
        Err(Error::Tampered { what, .. }) => {
            assert!(what.contains(expected), "{what:?} lacks {expected:?}")
        }
        other => panic!("expected Tampered({expected}), got {other:?}"),
    }
}

#[test]
fn untouched_artefacts_round_trip_across_chunk_boundaries() {
    let f = Fixture::new();
    for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK] {
        let (content, _) = f.transcript(len);
        assert_eq!(f.get().unwrap(), content, "length {len}");
    }
}

#[test]
fn bit_flip_in_header_is_detected() {
    let f = Fixture::new();
    let (_, file) = f.transcript(1000);
    flip_bit(&file, 14); // inside the file id
    assert_tampered(f.get(), "another write");
}

#[test]
fn bit_flip_in_body_is_detected() {
    let f = Fixture::new();
    let (_, file) = f.transcript(2 * CHUNK + 10);
    flip_bit(&file, TRANSCRIPT_HEADER + SEALED_CHUNK + 100); // inside chunk 1
    assert_tampered(f.get(), "chunk 1 failed authentication");
}

#[test]
fn bit_flip_in_tag_is_detected() {
    let f = Fixture::new();
    let (_, file) = f.transcript(1000);
    let len = fs::metadata(&file).unwrap().len() as usize;
    flip_bit(&file, len - 3);
    assert_tampered(f.get(), "chunk 0 failed authentication");
}

#[test]
fn truncated_stream_is_detected() {
    let f = Fixture::new();
    let (_, file) = f.transcript(3 * CHUNK + 10);
    let bytes = fs::read(&file).unwrap();
    // Cut cleanly after chunk 1: every remaining chunk authenticates, yet the end is missing.
    fs::write(&file, &bytes[..TRANSCRIPT_HEADER + 2 * SEALED_CHUNK]).unwrap();
    assert_tampered(f.get(), "truncated after chunk 1");
    // Cut inside a chunk.
    fs::write(&file, &bytes[..TRANSCRIPT_HEADER + SEALED_CHUNK + 500]).unwrap();
    assert_tampered(f.get(), "chunk 1 failed authentication");
}

#[test]
fn truncated_stream_yields_no_unverified_bytes_through_read() {
    use std::io::Read;
    let f = Fixture::new();
    let (content, file) = f.transcript(3 * CHUNK);
    let bytes = fs::read(&file).unwrap();
    fs::write(&file, &bytes[..bytes.len() - 1]).unwrap();
    let mut reader = f.vault.reader("c1", ArtefactKind::Transcript).unwrap();
    let mut out = Vec::new();
    let err = reader.read_to_end(&mut out).unwrap_err();
    assert!(matches!(err.get_ref().and_then(|e| e.downcast_ref::<Error>()), Some(Error::Tampered { .. })));
    // Only whole verified chunks came out, and they are a prefix of the original.
    assert_eq!(out.len() % CHUNK, 0);
    assert_eq!(out[..], content[..out.len()]);
}

#[test]
fn reordered_chunks_are_detected() {
    let f = Fixture::new();
    let (_, file) = f.transcript(3 * CHUNK + 10);
    let mut bytes = fs::read(&file).unwrap();
    let (a, b) = (TRANSCRIPT_HEADER, TRANSCRIPT_HEADER + SEALED_CHUNK);
    let chunk0 = bytes[a..b].to_vec();
    let chunk1 = bytes[b..b + SEALED_CHUNK].to_vec();
    bytes[a..b].copy_from_slice(&chunk1);
    bytes[b..b + SEALED_CHUNK].copy_from_slice(&chunk0);
    fs::write(&file, bytes).unwrap();
    assert_tampered(f.get(), "chunk 0 failed authentication");
}

#[test]
fn duplicated_chunk_is_detected() {
    let f = Fixture::new();
    let (_, file) = f.transcript(2 * CHUNK + 10);
    let mut bytes = fs::read(&file).unwrap();
    let start = TRANSCRIPT_HEADER + SEALED_CHUNK;
    let chunk1 = bytes[start..start + SEALED_CHUNK].to_vec();
    bytes.splice(start..start, chunk1);
    fs::write(&file, bytes).unwrap();
    assert_tampered(f.get(), "chunk 2 failed authentication");
}

#[test]
fn file_swapped_between_consultations_is_detected() {
    let f = Fixture::new();
    let (_, file_c1) = f.transcript(1000);
    f.vault.create("c2", false).unwrap();
    f.vault.put("c2", ArtefactKind::Transcript, b"another patient").unwrap();
    let file_c2 = artefact_file(&f.vault.consultation_dir("c2").unwrap(), "transcript");
    fs::copy(&file_c2, &file_c1).unwrap();
    assert_tampered(f.get(), "another write");
}

#[test]
fn artefact_renamed_to_another_kind_is_detected() {
    let f = Fixture::new();
    let (_, file) = f.transcript(1000);
    f.vault.put("c1", ArtefactKind::Note, b"the approved note").unwrap();
    let note = artefact_file(&f.vault.consultation_dir("c1").unwrap(), "note");
    fs::copy(&file, &note).unwrap();
    match f.vault.get("c1", ArtefactKind::Note) {
        Err(Error::Tampered { what, .. }) => assert!(what.contains("\"transcript\" artefact, not \"note\""), "{what}"),
        other => panic!("expected Tampered, got {other:?}"),
    }
}

#[test]
fn bit_flip_in_keyring_is_detected() {
    let f = Fixture::new();
    f.transcript(10);
    let keyring = f.vault.consultation_dir("c1").unwrap().join("keyring");
    let len = fs::metadata(&keyring).unwrap().len() as usize;
    flip_bit(&keyring, len / 2);
    assert!(matches!(f.get(), Err(Error::Tampered { .. })));
}

#[test]
fn keyring_moved_to_another_consultation_is_detected() {
    let f = Fixture::new();
    f.transcript(10);
    f.vault.create("c2", false).unwrap();
    let dir = |id| f.vault.consultation_dir(id).unwrap();
    fs::copy(dir("c1").join("keyring"), dir("c2").join("keyring")).unwrap();
    assert!(matches!(f.vault.consultation("c2"), Err(Error::Tampered { .. })));
}

#[test]
fn wrong_kek_is_reported_as_such() {
    let f = Fixture::new();
    f.transcript(10);
    let dir = f.vault.data_dir().to_path_buf();
    let err = Vault::open(&dir, Kek::generate().unwrap()).unwrap_err();
    assert!(matches!(err, Error::WrongKey { .. }), "{err:?}");
    assert!(err.to_string().contains("another key-encryption key"));
}

#[test]
fn rotated_kek_still_opens_old_data_and_the_old_kek_no_longer_does() {
    let f = Fixture::new();
    let (content, file) = f.transcript(2 * CHUNK);
    let ciphertext_before = fs::read(&file).unwrap();
    let dir = f.vault.data_dir().to_path_buf();
    let new = Kek::generate().unwrap();
    // Rotation needs the vault closed everywhere (see the_key_cannot_be_rotated_under_an_open_vault).
    let Fixture { _scratch, kek, vault } = f;
    drop(vault);
    let rotation = vault::rotation::rotate(&dir, &kek, &new).unwrap();
    assert_eq!((rotation.resealed, rotation.already_new), (2, 0)); // keyring + vault record
    assert_eq!(fs::read(&file).unwrap(), ciphertext_before, "artefacts are not touched");

    let reopened = Vault::open(&dir, new.clone()).unwrap();
    assert_eq!(*reopened.get("c1", ArtefactKind::Transcript).unwrap(), content);
    assert!(matches!(Vault::open(&dir, kek.clone()), Err(Error::WrongKey { .. })));
    drop(reopened);
    // Running it again (as after a crash) finds nothing left to do.
    assert_eq!(vault::rotation::rotate(&dir, &kek, &new).unwrap().resealed, 0);
}

#[test]
fn destroyed_keyring_reports_shredded_not_corruption() {
    let f = Fixture::new();
    f.transcript(1000);
    fs::remove_file(f.vault.consultation_dir("c1").unwrap().join("keyring")).unwrap();
    match f.get() {
        Err(Error::Shredded { what, .. }) => assert!(what.contains("c1")),
        other => panic!("expected Shredded, got {other:?}"),
    }
}

#[test]
fn shredded_artefact_reports_shredded_and_its_file_is_gone() {
    let f = Fixture::new();
    let (_, file) = f.transcript(1000);
    assert!(f.vault.shred("c1", ArtefactKind::Transcript).unwrap());
    assert!(!file.exists());
    match f.get() {
        Err(Error::Shredded { when, .. }) => assert!(when.contains("on-request"), "{when}"),
        other => panic!("expected Shredded, got {other:?}"),
    }
    assert!(matches!(f.vault.get("c1", ArtefactKind::Draft), Err(Error::Missing { .. })));
    assert!(matches!(f.vault.get("nobody", ArtefactKind::Draft), Err(Error::Missing { .. })));
}

#[test]
fn consultation_ids_never_become_paths() {
    let f = Fixture::new();
    // The one consultation id rule refuses paths, free text and CPR-like numbers outright...
    for bad in ["../../etc/passwd", "", "Jens Hansen", "010203-1234", &"x".repeat(49)] {
        assert!(matches!(f.vault.create(bad, false), Err(Error::InvalidId(_))), "{bad:?}");
    }
    // ...and an id it accepts is hashed, never used as a name.
    let id = "vc:2026.11-23_a";
    f.vault.create(id, false).unwrap();
    f.vault.put(id, ArtefactKind::Draft, b"x").unwrap();
    let dir = f.vault.consultation_dir(id).unwrap();
    assert_eq!(dir.parent().unwrap(), f.vault.data_dir().join("consultations"));
    assert!(!dir.to_string_lossy().contains("vc:2026"));
    assert_eq!(&*f.vault.get(id, ArtefactKind::Draft).unwrap(), b"x");
}

#[test]
fn no_plaintext_reaches_the_disk() {
    let f = Fixture::new();
    f.vault.create("patient-4711", false).unwrap();
    f.vault.put("patient-4711", ArtefactKind::Note, b"Patienten har hovedpine siden mandag").unwrap();
    for needle in [&b"hovedpine"[..], b"patient-4711"] {
        common::assert_nowhere_on_disk(f.vault.data_dir(), needle);
    }
}

#[test]
fn the_key_cannot_be_rotated_under_an_open_vault() {
    let f = Fixture::new();
    f.vault.create("c-open", false).unwrap();
    let error = vault::rotation::rotate(f.vault.data_dir(), &f.kek, &Kek::generate().unwrap()).unwrap_err();
    assert!(matches!(error, Error::InUse { .. }), "{error}");
    assert!(error.to_string().contains("stop it before rotating"), "{error}");
    let data_dir = f.vault.data_dir().to_path_buf();
    let kek = f.kek.clone();
    drop(f.vault);
    let rotation = vault::rotation::rotate(&data_dir, &kek, &Kek::generate().unwrap()).unwrap();
    assert_eq!(rotation.resealed, 2, "the vault record and the one keyring");
}
