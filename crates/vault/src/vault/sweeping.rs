//! What only the retention sweeper does to the vault (`crate::retention`): list every
//! consultation, destroy an artefact's key and then its ciphertext, destroy a whole keyring,
//! and clear away files no keyring points to. Each step runs under the vault lock and re-checks
//! that it is still due, since the sweeper decided on an earlier read.

use std::fs;
use std::io::ErrorKind;
use std::time::{Duration, SystemTime};

use super::{ArtefactKind, CONSULTATIONS, Consultation, KEYRING, Lifecycle, Shredding, Vault, file_name};
use crate::error::{Error, Result};
use crate::fsutil;

impl Vault {
    /// Every consultation directory's handle, in name order.
    pub(crate) fn handles(&self) -> Result<Vec<[u8; 32]>> {
        let dir = self.root.join(CONSULTATIONS);
        let mut handles = Vec::new();
        for entry in fs::read_dir(&dir).map_err(Error::io("list", &dir))? {
            let entry = entry.map_err(Error::io("list", &dir))?;
            if let Some(handle) = entry.file_name().to_str().and_then(secrets::unhex::<32>) {
                handles.push(handle);
            }
        }
        handles.sort();
        Ok(handles)
    }

    /// The consultation under `handle`; `None` when its keyring is gone (shredding interrupted).
    pub(crate) fn consultation_by_handle(&self, handle: &[u8; 32]) -> Result<Option<Consultation>> {
        Ok(self.load(handle)?.map(|k| k.to_consultation()))
    }

    /// Destroys an artefact's key (the commit point), then its ciphertext, if `still_due`
    /// agrees when shown the lifecycle and the current version's write time under the lock
    /// (the sweeper decided on an earlier read; a rewrite or new consent may have intervened).
    pub(crate) fn shred_artefact(
        &self,
        handle: &[u8; 32],
        kind: ArtefactKind,
        shredding: Shredding,
        still_due: impl FnOnce(&Lifecycle, SystemTime) -> bool,
        announce: impl FnOnce() -> Result<()>,
    ) -> Result<bool> {
        let label = kind.to_string();
        let _lock = self.lock()?;
        let Some(mut keyring) = self.load(handle)? else {
            return Ok(false);
        };
        match keyring.artefacts.get(&label) {
            Some(entry) if still_due(&keyring.lifecycle, entry.written) => {}
            _ => return Ok(false),
        }
        announce()?;
        let entry = keyring.artefacts.remove(&label).expect("entry checked above");
        keyring.shredded.insert(label, shredding);
        self.save(handle, &keyring)?;
        fsutil::remove_durably(&self.dir(handle).join(file_name(kind, &entry.file)))?;
        Ok(true)
    }

    /// Destroys a consultation's keyring (and with it every key), then all its files, if it
    /// holds no artefact and `still_due` agrees under the lock. `announce` runs just before
    /// anything is destroyed; its error leaves everything as it was.
    pub(crate) fn shred_record(
        &self,
        handle: &[u8; 32],
        still_due: impl FnOnce(&Lifecycle) -> bool,
        announce: impl FnOnce() -> Result<()>,
    ) -> Result<bool> {
        let _lock = self.lock()?;
        match self.load(handle)? {
            Some(k) if k.artefacts.is_empty() && still_due(&k.lifecycle) => {}
            _ => return Ok(false),
        }
        announce()?;
        fsutil::remove_durably(&self.dir(handle).join(KEYRING))?;
        self.remove_dir(handle)?;
        Ok(true)
    }

    /// Removes a consultation directory that has no keyring: an interrupted shredding (its
    /// files are unreadable) or a creation that crashed. Returns whether it did.
    pub(crate) fn remove_keyless(&self, handle: &[u8; 32]) -> Result<bool> {
        let _lock = self.lock()?;
        if self.load(handle)?.is_some() {
            return Ok(false); // created meanwhile
        }
        self.remove_dir(handle)?;
        Ok(true)
    }

    fn remove_dir(&self, handle: &[u8; 32]) -> Result<()> {
        let dir = self.dir(handle);
        match fs::remove_dir_all(&dir) {
            Ok(()) => fsutil::sync_dir_of(&dir),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io("delete", &dir)(e)),
        }
    }

    /// Removes files of `handle`'s directory that no keyring entry points to and that are
    /// older than `grace` (by the real clock: a write may be in progress in another process):
    /// ciphertext whose key was never committed or already destroyed, and temporary files of
    /// abandoned writes. Returns how many files were removed.
    pub(crate) fn remove_orphans(&self, handle: &[u8; 32], grace: Duration) -> Result<usize> {
        let _lock = self.lock()?;
        let dir = self.dir(handle);
        let live: Vec<String> = match self.load(handle)? {
            Some(k) => k.artefacts.iter().map(|(label, e)| format!("{label}.{}", secrets::hex(&e.file))).collect(),
            None => return Ok(0),
        };
        let mut removed = 0;
        for entry in fs::read_dir(&dir).map_err(Error::io("list", &dir))? {
            let entry = entry.map_err(Error::io("list", &dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == KEYRING || live.contains(&name) {
                continue;
            }
            let age = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|m| SystemTime::now().duration_since(m).ok())
                .unwrap_or_default();
            if age >= grace {
                fsutil::remove_durably(&entry.path())?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}
