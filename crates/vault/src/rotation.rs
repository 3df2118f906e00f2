//! Rotating the key-encryption key: every sealed record of the vault (its naming-key record
//! and each consultation's keyring) is opened under the old KEK and sealed again under the
//! new one; artefact files are not touched, since their data keys live in the keyrings.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::fsutil;
use crate::keys::{Kek, write_key_file};
use crate::seal::{self, Purpose};
use crate::vault::{CONSULTATIONS, IN_USE_FILE, KEYRING, VAULT_RECORD, lock_vault, open_in_use};

/// What a rotation did, printable for the CLI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    /// Records re-sealed under the new KEK.
    pub resealed: usize,
    /// Records already under the new KEK (left by an interrupted rotation).
    pub already_new: usize,
    /// The key file now holding the new KEK, when the rotation replaced one.
    pub key_file: Option<PathBuf>,
    pub new_fingerprint: [u8; 16],
}

impl fmt::Display for Rotation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "re-sealed {} key record(s) under the new key {}",
            self.resealed,
            secrets::hex(&self.new_fingerprint)
        )?;
        if self.already_new > 0 {
            write!(f, " ({} were already done by an interrupted rotation)", self.already_new)?;
        }
        if let Some(path) = &self.key_file {
            write!(f, "; {} now holds the new key", path.display())?;
        }
        Ok(())
    }
}

/// Re-seals every key record of the vault in `data_dir` from `old` to `new`, one atomic file
/// replacement at a time; artefact files are not touched. Records already under `new` are
/// skipped, so an interrupted rotation is finished by running it again with the same keys.
pub fn rotate(data_dir: &Path, old: &Kek, new: &Kek) -> Result<Rotation> {
    let (resealed, already_new) = reseal_all(data_dir, old, new)?;
    Ok(Rotation { resealed, already_new, key_file: None, new_fingerprint: new.fingerprint() })
}

/// `autonotar keys rotate`: generates a new KEK, re-seals the vault under it and replaces the
/// key file. The new key is first written beside the key file (`<key file>.next`); a crash at
/// any point is finished by running this again, which picks up that pending key.
pub fn rotate_key_file(key_file: &Path, data_dir: &Path) -> Result<Rotation> {
    let old = Kek::from_file(key_file)?;
    let pending = pending_path(key_file);
    let new = if pending.exists() {
        Kek::from_file(&pending)?
    } else {
        let new = Kek::generate()?;
        write_key_file(&pending, &new)?;
        new
    };
    let mut rotation = rotate(data_dir, &old, &new)?;
    fs::rename(&pending, key_file).map_err(Error::io("replace key file", key_file))?;
    fsutil::sync_dir_of(key_file)?;
    rotation.key_file = Some(key_file.to_path_buf());
    Ok(rotation)
}

/// Where `rotate_key_file` keeps the new key until the rotation is complete.
pub fn pending_path(key_file: &Path) -> PathBuf {
    let mut name = key_file.as_os_str().to_owned();
    name.push(".next");
    PathBuf::from(name)
}

/// Re-seals the vault record and every keyring under `new` (see [`rotate`]). Refused while
/// any process has the vault open: it would keep sealing under the old key.
fn reseal_all(data_dir: &Path, old: &Kek, new: &Kek) -> Result<(usize, usize)> {
    let in_use = open_in_use(data_dir)?;
    match in_use.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => return Err(Error::InUse { data_dir: data_dir.to_path_buf() }),
        Err(fs::TryLockError::Error(e)) => return Err(Error::io("lock", data_dir.join(IN_USE_FILE))(e)),
    }
    let _lock = lock_vault(data_dir)?;

    let mut records = Vec::new();
    let consultations = data_dir.join(CONSULTATIONS);
    for entry in fs::read_dir(&consultations).map_err(Error::io("list", &consultations))? {
        let entry = entry.map_err(Error::io("list", &consultations))?;
        let Some(handle) = entry.file_name().to_str().and_then(secrets::unhex::<32>) else {
            continue;
        };
        let path = entry.path().join(KEYRING);
        if path.exists() {
            records.push((path, Purpose::Keyring, handle));
        }
    }
    // The vault record last: until the end, `Vault::open` with the old key fails loudly on the
    // re-sealed keyrings rather than on everything.
    records.push((data_dir.join(VAULT_RECORD), Purpose::VaultRecord, [0; 32]));

    let (mut resealed, mut already_new) = (0, 0);
    for (path, purpose, subject) in records {
        let sealed = fs::read(&path).map_err(Error::io("read", &path))?;
        if seal::sealed_under(new, purpose, &sealed, &path)? {
            already_new += 1;
            continue;
        }
        let plain = seal::open(old, purpose, &subject, &sealed, &path)?;
        fsutil::write_atomic(&path, &seal::seal(new, purpose, &subject, &plain)?)?;
        resealed += 1;
    }
    Ok((resealed, already_new))
}
