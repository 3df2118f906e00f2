//! Secret material: random bytes from the operating system, 32-byte key files that only their
//! owner may read, and the hex text that tokens and fingerprints are written in.
//!
//! Every key file of Autonotar (the vault's KEK, the audit HMAC key, the audit signing key, the
//! review link secret) is read and created here, so each refuses the same things: a file group
//! or others can read or write, a file that is not a regular file, text that is not exactly 32
//! bytes. A new file is written beside its target, fsynced, and linked into place only if the
//! target does not exist, so a crash never leaves half a key and a key is never replaced.

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD as BASE64, URL_SAFE_NO_PAD as BASE64_URL};
pub use zeroize::Zeroizing;

/// A 256-bit secret, wiped from memory when dropped.
pub type Key = Zeroizing<[u8; 32]>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file does not exist; what to do about it depends on the key, so the caller says.
    #[error("{} does not exist", path.display())]
    Missing { path: PathBuf },
    #[error("{} already exists; a key is never replaced", path.display())]
    Exists { path: PathBuf },
    #[error("{} {problem}", path.display())]
    Unusable { path: PathBuf, problem: String },
    #[error("cannot get random bytes from the operating system: {0}")]
    Random(String),
}

/// How a key file writes its 32 bytes. Each file keeps the text its format documents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Text {
    /// Standard base64 (the KEK, `AUTONOTAR_KEK`).
    Base64,
    /// URL-safe base64 without padding (the review link secret).
    Base64Url,
    /// 64 lowercase hex digits (the audit key).
    Hex,
}

impl Text {
    pub fn encode(self, key: &[u8; 32]) -> Zeroizing<String> {
        Zeroizing::new(match self {
            Text::Base64 => BASE64.encode(key),
            Text::Base64Url => BASE64_URL.encode(key),
            Text::Hex => hex(key),
        })
    }

    /// The key in `text` (surrounding whitespace ignored), or what is wrong with it.
    pub fn decode(self, text: &str) -> Result<Key, String> {
        let text = text.trim();
        match self {
            Text::Base64 | Text::Base64Url => {
                let engine = if self == Text::Base64 { &BASE64 } else { &BASE64_URL };
                let bytes =
                    Zeroizing::new(engine.decode(text).map_err(|_| "is not valid base64 key text".to_string())?);
                let key: [u8; 32] =
                    bytes.as_slice().try_into().map_err(|_| format!("holds {} bytes, a key has 32", bytes.len()))?;
                Ok(Zeroizing::new(key))
            }
            Text::Hex => unhex::<32>(text).map(Zeroizing::new).ok_or_else(|| "is not 64 hex digits".to_string()),
        }
    }
}

/// `N` bytes from the operating system's CSPRNG.
pub fn random<const N: usize>() -> Result<[u8; N], Error> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| Error::Random(e.to_string()))?;
    Ok(bytes)
}

/// A fresh random key.
pub fn generate() -> Result<Key, Error> {
    Ok(Zeroizing::new(random::<32>()?))
}

/// A fresh bearer token: 32 random bytes as 64 hex digits, for a client to present back.
pub fn token() -> Result<Zeroizing<String>, Error> {
    Ok(Zeroizing::new(hex(&random::<32>()?)))
}

/// Whether two secrets are equal, in time that depends only on their lengths, so a client
/// guessing a token learns nothing from how fast it is refused.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(DIGITS[usize::from(byte >> 4)] as char);
        text.push(DIGITS[usize::from(byte & 0xf)] as char);
    }
    text
}

/// Exactly `2 * N` lowercase hex digits back into bytes.
pub fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    fn digit(byte: u8) -> Option<u8> {
        match byte {
            b'0'..=b'9' => Some(byte - b'0'),
            b'a'..=b'f' => Some(byte - b'a' + 10),
            _ => None,
        }
    }
    if text.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (slot, pair) in out.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
        *slot = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

/// Refuses a secret file that group or others can read or write; the message says how to fix it.
pub fn owner_only(path: &Path, meta: &fs::Metadata) -> Result<(), String> {
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "is readable or writable by group or others (mode {mode:03o}); run `chmod 600 {}`",
            path.display()
        ));
    }
    Ok(())
}

/// Reads the key file at `path`.
pub fn read(path: &Path, text: Text) -> Result<Key, Error> {
    let unusable = |problem: String| Error::Unusable { path: path.to_path_buf(), problem };
    let meta = match fs::metadata(path) {
        Err(e) if e.kind() == ErrorKind::NotFound => return Err(Error::Missing { path: path.to_path_buf() }),
        other => other.map_err(|e| unusable(format!("cannot be read: {e}")))?,
    };
    if !meta.is_file() {
        return Err(unusable("is not a regular file".into()));
    }
    owner_only(path, &meta).map_err(unusable)?;
    let content = Zeroizing::new(fs::read_to_string(path).map_err(|e| unusable(format!("cannot be read: {e}")))?);
    if content.trim().is_empty() {
        return Err(unusable("is empty".into()));
    }
    text.decode(&content).map_err(unusable)
}

/// Writes `key` to a new file at `path` (mode 0600, its directory 0700 if it has to be made);
/// [`Error::Exists`] when there is one already.
pub fn write_new(path: &Path, key: &[u8; 32], text: Text) -> Result<(), Error> {
    let unusable = |problem: String| Error::Unusable { path: path.to_path_buf(), problem };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| unusable(format!("cannot be created: its directory: {e}")))?;
    }
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temp = path.with_file_name(format!(".{name}.{}.tmp", hex(&random::<8>()?)));
    let written = (|| {
        let mut file = OpenOptions::new().write(true).create_new(true).mode(0o600).open(&temp)?;
        file.write_all(text.encode(key).as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        // A hard link never replaces an existing file: the check and the creation are one step.
        fs::hard_link(&temp, path)
    })();
    let _ = fs::remove_file(&temp);
    match written {
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Err(Error::Exists { path: path.to_path_buf() }),
        Err(e) => Err(unusable(format!("cannot be written: {e}"))),
        Ok(()) => sync_dir_of(path).map_err(|e| unusable(format!("cannot be made durable: {e}"))),
    }
}

/// Creates a key file holding a fresh key; [`Error::Exists`] when there is one already.
pub fn create(path: &Path, text: Text) -> Result<Key, Error> {
    let key = generate()?;
    write_new(path, &key, text)?;
    Ok(key)
}

/// Reads the key file at `path`, creating it with a fresh key on first use.
pub fn load_or_create(path: &Path, text: Text) -> Result<Key, Error> {
    match read(path, text) {
        Err(Error::Missing { .. }) => match create(path, text) {
            // Another process made it between the look and now: use theirs.
            Err(Error::Exists { .. }) => read(path, text),
            created => created,
        },
        read => read,
    }
}

fn sync_dir_of(path: &Path) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_fresh_hex_and_compare_exactly() {
        let (a, b) = (token().unwrap(), token().unwrap());
        assert_eq!(a.len(), 64);
        assert!(unhex::<32>(&a).is_some());
        assert_ne!(*a, *b);
        assert!(same(a.as_bytes(), a.clone().as_bytes()));
        assert!(!same(a.as_bytes(), b.as_bytes()));
        assert!(!same(b"abc", b"abcd"));
    }

    #[test]
    fn a_created_key_is_private_reloads_identically_and_is_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        for text in [Text::Base64, Text::Hex] {
            let path = dir.path().join(format!("keys/{text:?}"));
            let created = load_or_create(&path, text).unwrap();
            assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
            assert_eq!(*load_or_create(&path, text).unwrap(), *created);
            assert!(matches!(create(&path, text), Err(Error::Exists { .. })));
            assert_eq!(*read(&path, text).unwrap(), *created);
        }
        let leftovers: Vec<_> = fs::read_dir(dir.path().join("keys")).unwrap().collect();
        assert_eq!(leftovers.len(), 2, "no temporary files stay behind");
    }

    #[test]
    fn unsafe_or_malformed_files_are_refused_with_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        assert!(matches!(read(&path, Text::Base64), Err(Error::Missing { .. })));
        create(&path, Text::Base64).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        let open = read(&path, Text::Base64).unwrap_err().to_string();
        assert!(open.contains("mode 640") && open.contains("chmod 600"), "{open}");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        for (content, expected) in [("", "is empty"), ("not base64!", "base64"), ("AAAA", "holds 3 bytes")] {
            fs::write(&path, content).unwrap();
            let refused = read(&path, Text::Base64).unwrap_err().to_string();
            assert!(refused.contains(expected), "{content:?}: {refused}");
        }
        fs::write(&path, "ABCD".repeat(16)).unwrap();
        assert!(read(&path, Text::Hex).unwrap_err().to_string().contains("64 hex digits"));
        assert!(read(dir.path(), Text::Hex).unwrap_err().to_string().contains("not a regular file"));
    }

    #[test]
    fn hex_round_trips_and_refuses_anything_else() {
        let bytes = random::<16>().unwrap();
        assert_eq!(unhex::<16>(&hex(&bytes)), Some(bytes));
        assert_eq!(hex(&[0, 0xab, 0xff]), "00abff");
        for bad in ["", "0", "0g", "AB", "abc"] {
            assert_eq!(unhex::<1>(bad), None, "{bad}");
        }
    }
}
