//! The audit key: a 256-bit HMAC key in its own file, apart from the vault's data keys, and the
//! Ed25519 key pair derived from it, whose public half lets a DPO check checkpoints (and through
//! them the whole chain) without holding anything that could forge a record.

use std::fmt;
use std::path::Path;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use hmac::{Hmac, KeyInit, Mac};
use secrets::{Text, Zeroizing};
use sha2::Sha256;

use crate::{AuditError, Result};

/// Domain of the HMAC that turns the audit key into the Ed25519 seed: one secret file to keep
/// and back up, and the public key can always be printed again from it.
const SIGNING_SEED_DOMAIN: &[u8] = b"autonotar-audit-ed25519-seed-v1\n";

/// Secret key for the records' and checkpoints' HMAC-SHA-256, and the Ed25519 signing key
/// derived from it. Never printed, never logged.
pub struct AuditKey {
    bytes: Zeroizing<[u8; 32]>,
    signing: SigningKey,
}

impl fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuditKey(<secret>)")
    }
}

impl AuditKey {
    /// Loads the key at `path`, creating it (mode 0600) when it does not exist yet.
    pub fn load_or_create(path: &Path) -> Result<AuditKey> {
        secrets::load_or_create(path, Text::Hex).map(AuditKey::from_bytes).map_err(|e| unusable(path, e))
    }

    /// Loads an existing key; refuses one that group or others can read.
    pub fn load(path: &Path) -> Result<AuditKey> {
        secrets::read(path, Text::Hex).map(AuditKey::from_bytes).map_err(|e| unusable(path, e))
    }

    fn from_bytes(bytes: Zeroizing<[u8; 32]>) -> AuditKey {
        let mut seed = Zeroizing::new([0; 32]);
        seed.copy_from_slice(&hmac_over(&bytes, SIGNING_SEED_DOMAIN, b"").finalize().into_bytes());
        AuditKey { signing: SigningKey::from_bytes(&seed), bytes }
    }

    /// The public half of the checkpoint signing key, for `audit verify --public-key`.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.signing.verifying_key())
    }

    /// HMAC-SHA-256 over `domain` then `message`, hex. The domain keeps a record's tag from
    /// ever being accepted as a checkpoint's, and vice versa.
    pub(crate) fn sign(&self, domain: &[u8], message: &[u8]) -> String {
        secrets::hex(&self.mac(domain, message).finalize().into_bytes())
    }

    /// Constant-time check of a hex tag made by [`AuditKey::sign`].
    pub(crate) fn verify(&self, domain: &[u8], message: &[u8], tag_hex: &str) -> bool {
        secrets::unhex::<32>(tag_hex).is_some_and(|tag| self.mac(domain, message).verify_slice(&tag).is_ok())
    }

    /// Ed25519 signature over `domain` then `message`, hex.
    pub(crate) fn sign_public(&self, domain: &[u8], message: &[u8]) -> String {
        secrets::hex(&self.signing.sign(&[domain, message].concat()).to_bytes())
    }

    fn mac(&self, domain: &[u8], message: &[u8]) -> Hmac<Sha256> {
        hmac_over(&self.bytes, domain, message)
    }
}

fn hmac_over(key: &[u8; 32], domain: &[u8], message: &[u8]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(domain);
    mac.update(message);
    mac
}

/// The audit log's Ed25519 public key: 64 hex digits, printed by `autonotar audit public-key`.
/// Whoever holds it can check checkpoints but sign nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Parses 64 hex digits (surrounding whitespace allowed, so a file's content works too).
    pub fn parse(text: &str) -> Result<PublicKey> {
        let bad = |why: &str| {
            AuditError::Config(format!(
                "the audit public key must be the 64 hex digits `autonotar audit public-key` prints: {why}"
            ))
        };
        let bytes = secrets::unhex::<32>(text.trim()).ok_or_else(|| bad("not 64 hex digits"))?;
        VerifyingKey::from_bytes(&bytes).map(PublicKey).map_err(|_| bad("not a point on the curve"))
    }

    /// Strict Ed25519 check of a hex signature made by [`AuditKey::sign_public`].
    pub(crate) fn verify(&self, domain: &[u8], message: &[u8], signature_hex: &str) -> bool {
        secrets::unhex::<64>(signature_hex).is_some_and(|signature| {
            self.0.verify_strict(&[domain, message].concat(), &Signature::from_bytes(&signature)).is_ok()
        })
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&secrets::hex(self.0.as_bytes()))
    }
}

fn unusable(path: &Path, error: secrets::Error) -> AuditError {
    match error {
        secrets::Error::Missing { .. } => AuditError::KeyMissing { path: path.into() },
        other => AuditError::KeyUnusable { path: path.into(), problem: other.to_string() },
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn created_key_is_private_and_reloads_identically() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/audit.key");
        let created = AuditKey::load_or_create(&path).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let loaded = AuditKey::load_or_create(&path).unwrap();
        let tag = created.sign(b"d", b"message");
        assert!(loaded.verify(b"d", b"message", &tag));
        assert!(!loaded.verify(b"other domain", b"message", &tag));
        assert!(!format!("{loaded:?}").contains(&fs::read_to_string(&path).unwrap().trim()[..8]));
    }

    #[test]
    fn public_key_checks_signatures_of_its_own_key_only() {
        let dir = tempfile::tempdir().unwrap();
        let key = AuditKey::load_or_create(&dir.path().join("a.key")).unwrap();
        let other = AuditKey::load_or_create(&dir.path().join("b.key")).unwrap();
        let public = PublicKey::parse(&format!("{}\n", key.public_key())).unwrap();
        assert_eq!(public, AuditKey::load(&dir.path().join("a.key")).unwrap().public_key());
        let signature = key.sign_public(b"d", b"message");
        assert!(public.verify(b"d", b"message", &signature));
        assert!(!public.verify(b"d", b"messagE", &signature));
        assert!(!public.verify(b"other domain", b"message", &signature));
        assert!(!other.public_key().verify(b"d", b"message", &signature));
        assert!(!public.verify(b"d", b"message", "not hex"));
        assert!(PublicKey::parse("00").is_err());
    }

    #[test]
    fn refuses_a_world_readable_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.key");
        AuditKey::load_or_create(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(
            matches!(AuditKey::load(&path), Err(AuditError::KeyUnusable { ref problem, .. }) if problem.contains("chmod 600"))
        );
    }

    #[test]
    fn refuses_a_malformed_key_and_reports_a_missing_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.key");
        assert!(matches!(AuditKey::load(&path), Err(AuditError::KeyMissing { .. })));
        fs::write(&path, "not hex").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(
            matches!(AuditKey::load(&path), Err(AuditError::KeyUnusable { ref problem, .. }) if problem.contains("hex"))
        );
    }
}
