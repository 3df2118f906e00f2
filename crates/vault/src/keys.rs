//! The key-encryption key (KEK): where it comes from and how it is created (rotation:
//! `crate::rotation`).
//!
//! The KEK never comes from the config file. It is read from a key file that only its owner
//! may read (`autonotar keys init` creates one) or from the `AUTONOTAR_KEK` environment
//! variable, both holding the 32 key bytes in standard base64.

use std::fmt;
use std::path::{Path, PathBuf};

use secrets::{Text, Zeroizing};

use crate::error::{Error, Result};

/// Name of the environment variable that may carry the KEK.
pub const KEK_ENV: &str = "AUTONOTAR_KEK";

/// A 256-bit key-encryption key. Zeroized when dropped; `Debug` shows only its fingerprint.
#[derive(Clone)]
pub struct Kek(Zeroizing<[u8; 32]>);

impl Kek {
    /// A fresh random key.
    pub fn generate() -> Result<Kek> {
        Ok(Kek(Zeroizing::new(crate::random::<32>()?)))
    }

    /// Reads a key file, refusing one that group or others can read.
    pub fn from_file(path: &Path) -> Result<Kek> {
        secrets::read(path, Text::Base64).map(Kek).map_err(|e| key_file_error(path, e))
    }

    /// The KEK for a command: `AUTONOTAR_KEK` when set, otherwise the key file.
    pub fn load(key_file: &Path) -> Result<Kek> {
        match Kek::from_env()? {
            Some(kek) => Ok(kek),
            None => Kek::from_file(key_file),
        }
    }

    /// Reads `AUTONOTAR_KEK`; `None` when it is not set.
    pub fn from_env() -> Result<Option<Kek>> {
        match std::env::var(KEK_ENV) {
            Ok(value) => {
                let value = Zeroizing::new(value);
                Kek::from_base64(&value).map(Some).map_err(Error::KeyEnv)
            }
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(Error::KeyEnv("is not valid base64".into())),
        }
    }

    /// Parses base64 key text (surrounding whitespace ignored).
    pub fn from_base64(text: &str) -> Result<Kek, String> {
        Text::Base64.decode(text).map(Kek)
    }

    /// The key as base64 text, the form key files and `AUTONOTAR_KEK` hold.
    pub fn to_base64(&self) -> Zeroizing<String> {
        Text::Base64.encode(&self.0)
    }

    /// A public 16-byte name for this key, stored beside everything it seals so a wrong key is
    /// told apart from tampering. A PRF output: it reveals nothing about the key.
    pub fn fingerprint(&self) -> [u8; 16] {
        let mac = crate::hmac_sha256(self.0.as_slice(), &[b"autonotar-vault kek fingerprint v1"]);
        let mut fingerprint = [0; 16];
        fingerprint.copy_from_slice(&mac[..16]);
        fingerprint
    }

    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for Kek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Kek({})", secrets::hex(&self.fingerprint()))
    }
}

/// A key file made by [`init`], printable for the CLI.
#[derive(Debug)]
pub struct KeyFileCreated {
    pub path: PathBuf,
    pub kek: Kek,
}

impl fmt::Display for KeyFileCreated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "created key file {} (mode 0600, fingerprint {}). Keep a copy offline, apart from the \
             data backups: without it the vault cannot be read",
            self.path.display(),
            secrets::hex(&self.kek.fingerprint())
        )
    }
}

/// `autonotar keys init`: creates a new key file holding a fresh KEK, with mode 0600. Refuses
/// to overwrite an existing file: replacing a key would make everything sealed under it
/// unreadable.
pub fn init(path: &Path) -> Result<KeyFileCreated> {
    let kek = Kek::generate()?;
    write_key_file(path, &kek)?;
    Ok(KeyFileCreated { path: path.to_path_buf(), kek })
}

/// Writes a new key file; never replaces one.
pub(crate) fn write_key_file(path: &Path, kek: &Kek) -> Result<()> {
    secrets::write_new(path, &kek.0, Text::Base64).map_err(|e| key_file_error(path, e))
}

fn key_file_error(path: &Path, error: secrets::Error) -> Error {
    let problem = match error {
        secrets::Error::Missing { .. } => {
            "not found; create one with `autonotar keys init` or set AUTONOTAR_KEK".into()
        }
        secrets::Error::Exists { .. } => {
            "already exists; refusing to replace a key (use `autonotar keys rotate`)".into()
        }
        secrets::Error::Unusable { problem, .. } => problem,
        secrets::Error::Random(reason) => format!("cannot be made: no random bytes ({reason})"),
    };
    Error::KeyFile { path: path.to_path_buf(), problem }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn init_writes_an_owner_only_file_that_loads_back() {
        let dir = tempdir();
        let path = dir.join("kek");
        let kek = init(&path).unwrap().kek;
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(Kek::from_file(&path).unwrap().fingerprint(), kek.fingerprint());
        let again = init(&path).unwrap_err().to_string();
        assert!(again.contains("already exists"), "{again}");
    }

    #[test]
    fn missing_empty_and_group_readable_key_files_are_refused() {
        let dir = tempdir();
        let missing = Kek::from_file(&dir.join("nope")).unwrap_err().to_string();
        assert!(missing.contains("not found") && missing.contains("keys init"), "{missing}");

        let empty = dir.join("empty");
        fs::write(&empty, "").unwrap();
        fs::set_permissions(&empty, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(Kek::from_file(&empty).unwrap_err().to_string().contains("is empty"));

        let open = dir.join("open");
        init(&open).unwrap();
        fs::set_permissions(&open, fs::Permissions::from_mode(0o640)).unwrap();
        let refused = Kek::from_file(&open).unwrap_err().to_string();
        assert!(refused.contains("mode 640") && refused.contains("chmod 600"), "{refused}");

        let short = dir.join("short");
        fs::write(&short, "BwcHBwcHBwcHBwcHBwcHBw==").unwrap(); // 16 bytes in base64
        fs::set_permissions(&short, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(Kek::from_file(&short).unwrap_err().to_string().contains("16 bytes"));
    }

    #[test]
    fn debug_never_shows_the_key() {
        let kek = Kek::generate().unwrap();
        let shown = format!("{kek:?}");
        assert!(!shown.contains(kek.to_base64().as_str()));
        assert!(shown.contains(&secrets::hex(&kek.fingerprint())));
    }

    fn tempdir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("vault-keys-{}", secrets::hex(&crate::random::<8>().unwrap())));
        fs::create_dir_all(&dir).unwrap();
        dir
    }
}
