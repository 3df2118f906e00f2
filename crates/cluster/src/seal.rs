//! The cluster key and the sealed envelope every job and result travels in, so the JetStream
//! store and the network between gateway and workers carry only ciphertext.
//!
//! Layout (docs/data-flow.md, "Across the cluster"):
//!
//! ```text
//! magic "ANCLUST\x01" (8) | kind (1: job, 2: result) | key fingerprint (8) | nonce (12)
//! | ciphertext | GCM tag (16)
//! ```
//!
//! The additional data is the 29-byte header followed by the pass id, so a job cannot be
//! replayed as another pass's job, a result cannot answer another pass, and a job cannot be
//! passed off as a result.

use std::path::Path;

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

const MAGIC: &[u8; 8] = b"ANCLUST\x01";
const HEADER_LEN: usize = 8 + 1 + 8 + 12;
const TAG_LEN: usize = 16;

/// What a sealed payload carries; authenticated, so one cannot be taken for the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    Job = 1,
    Result = 2,
}

/// The AES-256-GCM key shared by a region's gateways and workers. `Debug` shows only its
/// fingerprint.
pub struct ClusterKey {
    key: secrets::Key,
    fingerprint: [u8; 8],
}

impl std::fmt::Debug for ClusterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ClusterKey({})", self.fingerprint_hex())
    }
}

/// Why a payload could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("not a sealed Autonotar cluster payload of this kind")]
    NotSealed,
    #[error(
        "sealed under another cluster key (fingerprint {found}, ours is {ours}): copy the same key file to every gateway and worker"
    )]
    OtherKey { found: String, ours: String },
    #[error("failed authentication: changed in transit or at rest, or bound to another pass")]
    Tampered,
}

impl ClusterKey {
    pub fn new(key: secrets::Key) -> ClusterKey {
        let mut hash = Sha256::new();
        hash.update(b"autonotar cluster key");
        hash.update(key.as_slice());
        let fingerprint = hash.finalize()[..8].try_into().expect("8 of 32 bytes");
        ClusterKey { key, fingerprint }
    }

    /// Reads the key file (64 hex digits, owner-only).
    pub fn read(path: &Path) -> Result<ClusterKey, secrets::Error> {
        secrets::read(path, secrets::Text::Hex).map(ClusterKey::new)
    }

    /// Creates a key file with a fresh key; refuses to replace one.
    pub fn create(path: &Path) -> Result<ClusterKey, secrets::Error> {
        secrets::create(path, secrets::Text::Hex).map(ClusterKey::new)
    }

    pub fn fingerprint_hex(&self) -> String {
        secrets::hex(&self.fingerprint)
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new_from_slice(self.key.as_slice()).expect("key is 32 bytes")
    }

    pub fn seal(&self, kind: Kind, pass_id: &str, plaintext: &[u8]) -> Result<Vec<u8>, secrets::Error> {
        let mut out = Vec::with_capacity(HEADER_LEN + plaintext.len() + TAG_LEN);
        out.extend_from_slice(MAGIC);
        out.push(kind as u8);
        out.extend_from_slice(&self.fingerprint);
        let nonce = secrets::random::<12>()?;
        out.extend_from_slice(&nonce);
        let aad = aad(&out, pass_id);
        out.extend_from_slice(plaintext);
        let tag = self
            .cipher()
            .encrypt_inout_detached(&Nonce::from(nonce), &aad, (&mut out[HEADER_LEN..]).into())
            .expect("a pass is far below AES-GCM's length limit");
        out.extend_from_slice(&tag);
        Ok(out)
    }

    pub fn open(&self, kind: Kind, pass_id: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, OpenError> {
        if sealed.len() < HEADER_LEN + TAG_LEN || &sealed[..8] != MAGIC || sealed[8] != kind as u8 {
            return Err(OpenError::NotSealed);
        }
        let (header, rest) = sealed.split_at(HEADER_LEN);
        if header[9..17] != self.fingerprint {
            return Err(OpenError::OtherKey { found: secrets::hex(&header[9..17]), ours: self.fingerprint_hex() });
        }
        let nonce = Nonce::from(<[u8; 12]>::try_from(&header[17..]).expect("nonce is 12 bytes"));
        let (body, tag) = rest.split_at(rest.len() - TAG_LEN);
        let tag = Tag::from(<[u8; 16]>::try_from(tag).expect("tag is 16 bytes"));
        let mut plaintext = Zeroizing::new(body.to_vec());
        self.cipher()
            .decrypt_inout_detached(&nonce, &aad(header, pass_id), plaintext.as_mut_slice().into(), &tag)
            .map_err(|_| OpenError::Tampered)?;
        Ok(plaintext)
    }
}

fn aad(header: &[u8], pass_id: &str) -> Vec<u8> {
    [header, pass_id.as_bytes()].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ClusterKey {
        ClusterKey::new(secrets::generate().unwrap())
    }

    #[test]
    fn opens_what_it_sealed_and_hides_the_plaintext() {
        let key = key();
        let sealed = key.seal(Kind::Job, "gw.1", b"spoken words").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"spoken"));
        assert_eq!(key.open(Kind::Job, "gw.1", &sealed).unwrap().as_slice(), b"spoken words");
    }

    #[test]
    fn every_tamper_case_is_refused() {
        let key = key();
        let sealed = key.seal(Kind::Job, "gw.1", b"spoken words").unwrap();
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            let opened = key.open(Kind::Job, "gw.1", &bad);
            assert!(opened.is_err(), "flipping byte {i} went unnoticed");
        }
        assert_eq!(key.open(Kind::Job, "gw.2", &sealed), Err(OpenError::Tampered), "another pass's id");
        assert_eq!(key.open(Kind::Result, "gw.1", &sealed), Err(OpenError::NotSealed), "a job as a result");
        assert_eq!(key.open(Kind::Job, "gw.1", &sealed[..sealed.len() - 1]), Err(OpenError::Tampered));
        assert_eq!(key.open(Kind::Job, "gw.1", &sealed[..20]), Err(OpenError::NotSealed));
        assert_eq!(key.open(Kind::Job, "gw.1", b""), Err(OpenError::NotSealed));
    }

    #[test]
    fn another_key_is_named_by_its_fingerprint() {
        let (ours, theirs) = (key(), key());
        let sealed = theirs.seal(Kind::Result, "gw.1", b"x").unwrap();
        match ours.open(Kind::Result, "gw.1", &sealed) {
            Err(OpenError::OtherKey { found, ours: mine }) => {
                assert_eq!(found, theirs.fingerprint_hex());
                assert_eq!(mine, ours.fingerprint_hex());
            }
            other => panic!("expected OtherKey, got {other:?}"),
        }
    }

    #[test]
    fn the_key_file_is_created_once_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cluster-key");
        let created = ClusterKey::create(&path).unwrap();
        assert!(ClusterKey::create(&path).is_err(), "a key is never replaced");
        let read = ClusterKey::read(&path).unwrap();
        assert_eq!(created.fingerprint_hex(), read.fingerprint_hex());
        assert!(!format!("{read:?}").contains(&secrets::hex(read.key.as_slice())));
    }
}
