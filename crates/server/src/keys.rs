//! Ingest keys: how a server-to-server client (the video platform, `autonotar replay`) proves it
//! may send a consultation's audio. A key is shown once when it is made; only its SHA-256 is
//! kept, one line per key in a file only its owner may read (`<data_dir>/ingest-keys`):
//! `<name> <sha256 hex> <created, unix seconds>`. The file is read again for every connection,
//! so a revoked key stops working at once, without a restart.

use std::fs;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use ids::Id;
use secrets::Zeroizing;
use sha2::{Digest, Sha256};

/// What every key starts with, so a leaked one is recognisable (and greppable) as ours.
const PREFIX: &str = "ank1_";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{action} {path}: {source}")]
    Io { action: &'static str, path: PathBuf, source: std::io::Error },
    #[error("the ingest key file {path} {problem}; fix it or remove the line, then create the key again")]
    Damaged { path: PathBuf, problem: String },
    #[error("an ingest key named {0} exists; revoke it first or choose another name")]
    Exists(Id),
    #[error("no ingest key is named {0}; `autonotar ingest-key list` shows them")]
    Unknown(Id),
    #[error(transparent)]
    Random(#[from] secrets::Error),
    #[error("this server's ingest key lives in memory only and cannot be changed")]
    Fixed,
}

/// One key as listed: its name and when it was made, never the key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyEntry {
    pub name: Id,
    pub created: SystemTime,
    hash: [u8; 32],
}

/// The keys a server accepts.
#[derive(Debug)]
pub struct IngestKeys {
    store: Store,
}

#[derive(Debug)]
enum Store {
    File(PathBuf),
    /// A key that lives as long as the process: the evaluation harness's own server.
    Memory(KeyEntry),
}

impl IngestKeys {
    /// The key file of a data directory.
    pub fn in_data_dir(data_dir: &Path) -> IngestKeys {
        IngestKeys { store: Store::File(data_dir.join("ingest-keys")) }
    }

    /// One fresh key that exists only in this process, and the key itself.
    pub fn ephemeral(name: Id) -> Result<(IngestKeys, Zeroizing<String>), KeyError> {
        let key = new_key()?;
        let entry = KeyEntry { name, created: SystemTime::now(), hash: hash(&key) };
        Ok((IngestKeys { store: Store::Memory(entry) }, key))
    }

    pub fn list(&self) -> Result<Vec<KeyEntry>, KeyError> {
        match &self.store {
            Store::Memory(entry) => Ok(vec![entry.clone()]),
            Store::File(path) => read(path),
        }
    }

    /// The name of the key `presented` is, if it is one.
    pub fn check(&self, presented: &str) -> Result<Option<Id>, KeyError> {
        let presented = hash(presented);
        Ok(self.list()?.into_iter().find(|entry| secrets::same(&entry.hash, &presented)).map(|entry| entry.name))
    }

    /// Makes a key named `name` and returns it: the only time it is ever seen.
    pub fn create(&self, name: &Id) -> Result<Zeroizing<String>, KeyError> {
        let path = self.path()?;
        let mut entries = read(path)?;
        if entries.iter().any(|entry| &entry.name == name) {
            return Err(KeyError::Exists(name.clone()));
        }
        let key = new_key()?;
        entries.push(KeyEntry { name: name.clone(), created: SystemTime::now(), hash: hash(&key) });
        write(path, &entries)?;
        Ok(key)
    }

    pub fn revoke(&self, name: &Id) -> Result<(), KeyError> {
        let path = self.path()?;
        let mut entries = read(path)?;
        let before = entries.len();
        entries.retain(|entry| &entry.name != name);
        if entries.len() == before {
            return Err(KeyError::Unknown(name.clone()));
        }
        write(path, &entries)
    }

    fn path(&self) -> Result<&Path, KeyError> {
        match &self.store {
            Store::File(path) => Ok(path),
            Store::Memory(_) => Err(KeyError::Fixed),
        }
    }
}

fn new_key() -> Result<Zeroizing<String>, KeyError> {
    Ok(Zeroizing::new(format!("{PREFIX}{}", secrets::token()?.as_str())))
}

fn hash(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

fn read(path: &Path) -> Result<Vec<KeyEntry>, KeyError> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(KeyError::Io { action: "cannot read", path: path.into(), source }),
    };
    let meta =
        fs::metadata(path).map_err(|source| KeyError::Io { action: "cannot read", path: path.into(), source })?;
    secrets::owner_only(path, &meta).map_err(|problem| KeyError::Damaged { path: path.into(), problem })?;
    let damaged =
        |line: usize, what: &str| KeyError::Damaged { path: path.into(), problem: format!("line {line}: {what}") };
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, line)| {
            let fields: Vec<&str> = line.split(' ').collect();
            let [name, hash, created] = fields[..] else { return Err(damaged(n + 1, "is not `name hash created`")) };
            Ok(KeyEntry {
                name: Id::new(name).map_err(|e| damaged(n + 1, &e.to_string()))?,
                hash: secrets::unhex::<32>(hash).ok_or_else(|| damaged(n + 1, "hash is not 64 hex digits"))?,
                created: UNIX_EPOCH
                    + std::time::Duration::from_secs(
                        created.parse().map_err(|_| damaged(n + 1, "created is not unix seconds"))?,
                    ),
            })
        })
        .collect()
}

/// Replaces the file whole: written beside it with mode 0600, fsynced, renamed over it.
fn write(path: &Path, entries: &[KeyEntry]) -> Result<(), KeyError> {
    let io = |action| move |source| KeyError::Io { action, path: path.into(), source };
    let mut text = String::new();
    for entry in entries {
        let created = entry.created.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        text.push_str(&format!("{} {} {created}\n", entry.name, secrets::hex(&entry.hash)));
    }
    let temporary = path.with_extension("new");
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)
        .map_err(io("cannot write"))?;
    file.set_permissions(fs::Permissions::from_mode(0o600)).map_err(io("cannot write"))?;
    file.write_all(text.as_bytes()).and_then(|()| file.sync_all()).map_err(io("cannot write"))?;
    fs::rename(&temporary, path).map_err(io("cannot replace"))?;
    if let Some(dir) = path.parent() {
        fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io("cannot sync the directory of"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(name: &str) -> Id {
        Id::new(name).unwrap()
    }

    #[test]
    fn a_key_works_until_revoked_and_only_its_hash_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let keys = IngestKeys::in_data_dir(dir.path());
        let key = keys.create(&id("platform")).unwrap();
        assert!(key.starts_with(PREFIX));
        assert_eq!(keys.check(&key).unwrap(), Some(id("platform")));
        assert_eq!(keys.check(&format!("{}x", key.as_str())).unwrap(), None);
        assert_eq!(keys.check("").unwrap(), None);
        let file = fs::read_to_string(dir.path().join("ingest-keys")).unwrap();
        assert!(!file.contains(&key[PREFIX.len()..]), "the key itself is never written");
        let mode = fs::metadata(dir.path().join("ingest-keys")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(matches!(keys.create(&id("platform")), Err(KeyError::Exists(_))));
        keys.revoke(&id("platform")).unwrap();
        assert_eq!(keys.check(&key).unwrap(), None);
        assert!(matches!(keys.revoke(&id("platform")), Err(KeyError::Unknown(_))));
    }

    #[test]
    fn a_damaged_or_readable_file_is_refused_not_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let keys = IngestKeys::in_data_dir(dir.path());
        let path = dir.path().join("ingest-keys");
        keys.create(&id("a")).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(keys.check("x"), Err(KeyError::Damaged { .. })));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        fs::write(&path, "a not-hex 5\n").unwrap();
        let error = keys.check("x").unwrap_err().to_string();
        assert!(error.contains("line 1"), "{error}");
    }
}
