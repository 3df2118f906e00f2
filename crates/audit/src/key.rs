//! The audit key: a 256-bit HMAC key in its own file, apart from the vault's data keys.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

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
        match AuditKey::load(path) {
            Err(AuditError::KeyMissing { .. }) => AuditKey::create(path),
            loaded => loaded,
        }
    }

    /// Loads an existing key; refuses one that group or others can read.
    pub fn load(path: &Path) -> Result<AuditKey> {
        let metadata = match fs::metadata(path) {
            Err(error) if error.kind() == ErrorKind::NotFound => {
                return Err(AuditError::KeyMissing { path: path.into() });
            }
            other => other.map_err(AuditError::io("reading audit key", path))?,
        };
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(AuditError::KeyPermissions { path: path.into(), mode });
        }
        let text = Zeroizing::new(fs::read_to_string(path).map_err(AuditError::io("reading audit key", path))?);
        let mut bytes = Zeroizing::new([0u8; 32]);
        if !decode_hex(text.trim(), &mut *bytes) {
            return Err(AuditError::KeyMalformed { path: path.into() });
        }
        Ok(AuditKey { bytes })
    }

    fn create(path: &Path) -> Result<AuditKey> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        getrandom::fill(&mut *bytes).map_err(|error| AuditError::Io {
            action: "drawing random bytes for audit key",
            path: path.into(),
            source: std::io::Error::other(error.to_string()),
        })?;
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(AuditError::io("creating directory for audit key", parent))?;
        }
        let mut file = match OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
            // Another process created it between our look and now: use theirs.
            Err(error) if error.kind() == ErrorKind::AlreadyExists => return AuditKey::load(path),
            other => other.map_err(AuditError::io("creating audit key", path))?,
        };
        let text = Zeroizing::new(format!("{}\n", to_hex(&*bytes)));
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(AuditError::io("writing audit key", path))?;
        Ok(AuditKey { bytes })
    }

    /// HMAC-SHA-256 over `domain` then `message`, hex. The domain keeps a record's tag from
    /// ever being accepted as a checkpoint's, and vice versa.
    pub(crate) fn sign(&self, domain: &[u8], message: &[u8]) -> String {
        to_hex(&self.mac(domain, message).finalize().into_bytes())
    }

    /// Constant-time check of a hex tag made by [`AuditKey::sign`].
    pub(crate) fn verify(&self, domain: &[u8], message: &[u8], tag_hex: &str) -> bool {
        let mut tag = [0u8; 32];
        decode_hex(tag_hex, &mut tag) && self.mac(domain, message).verify_slice(&tag).is_ok()
    }

    fn mac(&self, domain: &[u8], message: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&*self.bytes).expect("HMAC takes any key length");
        mac.update(domain);
        mac.update(message);
        mac
    }
}

pub(crate) fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(DIGITS[usize::from(byte >> 4)] as char);
        text.push(DIGITS[usize::from(byte & 0xf)] as char);
    }
    text
}

/// Fills `out` from exactly `2 * out.len()` lowercase hex digits.
fn decode_hex(text: &str, out: &mut [u8]) -> bool {
    fn digit(byte: u8) -> Option<u8> {
        match byte {
            b'0'..=b'9' => Some(byte - b'0'),
            b'a'..=b'f' => Some(byte - b'a' + 10),
            _ => None,
        }
    }
    if text.len() != out.len() * 2 {
        return false;
    }
    for (slot, pair) in out.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
        match (digit(pair[0]), digit(pair[1])) {
            (Some(high), Some(low)) => *slot = high << 4 | low,
            _ => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
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
        assert!(matches!(AuditKey::load(&path), Err(AuditError::KeyPermissions { .. })));
    }

    #[test]
    fn refuses_a_malformed_key_and_reports_a_missing_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.key");
        assert!(matches!(AuditKey::load(&path), Err(AuditError::KeyMissing { .. })));
        fs::write(&path, "not hex").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(AuditKey::load(&path), Err(AuditError::KeyMalformed { .. })));
    }
}
