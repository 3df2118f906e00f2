//! The audit key: a 256-bit HMAC key in its own file, apart from the vault's data keys.

use std::fmt;
use std::path::Path;

use hmac::{Hmac, KeyInit, Mac};
use secrets::{Text, Zeroizing};
use sha2::Sha256;

use crate::{AuditError, Result};

/// Secret key for the records' and checkpoints' HMAC-SHA-256. Never printed, never logged.
pub struct AuditKey {
    bytes: Zeroizing<[u8; 32]>,
}

impl fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuditKey(<secret>)")
    }
}

impl AuditKey {
    /// Loads the key at `path`, creating it (mode 0600) when it does not exist yet.
    pub fn load_or_create(path: &Path) -> Result<AuditKey> {
        secrets::load_or_create(path, Text::Hex).map(|bytes| AuditKey { bytes }).map_err(|e| unusable(path, e))
    }

    /// Loads an existing key; refuses one that group or others can read.
    pub fn load(path: &Path) -> Result<AuditKey> {
        secrets::read(path, Text::Hex).map(|bytes| AuditKey { bytes }).map_err(|e| unusable(path, e))
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

    fn mac(&self, domain: &[u8], message: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&*self.bytes).expect("HMAC takes any key length");
        mac.update(domain);
        mac.update(message);
        mac
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
