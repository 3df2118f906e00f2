//! Consultations and their artefacts on disk.
//!
//! Each consultation has a directory named by an HMAC of its id (ids come from outside and are
//! never used as path components) holding a keyring sealed under the KEK: the consultation's
//! id, lifecycle timestamps and one fresh data key per artefact. An artefact write is committed
//! by the keyring update, so a crash leaves the old or the new version. Shredding an artefact
//! removes its key from the keyring before its ciphertext file.
//!
//! By job: this file opens the vault and holds the consultation CRUD; `keyring` is the sealed
//! per-consultation record and its lifecycle; `artefact` streams one artefact in or out;
//! `sweeping` is what only the retention sweeper may do (destroy keys, remove files).

mod artefact;
mod keyring;
mod sweeping;

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use zeroize::Zeroizing;

use self::artefact::file_name;
pub use self::artefact::{ArtefactKind, ArtefactReader, ArtefactWriter};
pub use self::keyring::{ArtefactInfo, Consultation, Lifecycle, Milestone, Shredding};
use self::keyring::{Keyring, whole_seconds};
use crate::error::{Error, Result};
use crate::fsutil::{self, AtomicFile};
use crate::keys::Kek;
use crate::seal::{self, Purpose};
use crate::stream::{self, StreamReader, StreamWriter};

pub(crate) const VAULT_RECORD: &str = "vault";
pub(crate) const LOCK_FILE: &str = "lock";
/// Held shared by every open [`Vault`] and exclusively by a KEK rotation, so the key cannot be
/// rotated under a process that would go on sealing with the old one.
pub(crate) const IN_USE_FILE: &str = "in-use";
pub(crate) const CONSULTATIONS: &str = "consultations";
pub(crate) const KEYRING: &str = "keyring";

/// An opened vault. A vault-wide file lock is taken only around keyring updates, so several
/// processes (the server and a cron sweep) may share one data directory. Cloning is cheap and
/// shares everything; writers and readers own their clone, so they can move into tasks.
#[derive(Clone)]
pub struct Vault {
    root: PathBuf,
    kek: Kek,
    naming_key: Arc<Zeroizing<[u8; 32]>>,
    clock: Arc<dyn Fn() -> SystemTime + Send + Sync>,
    /// The shared lock on [`IN_USE_FILE`], released when the last clone is dropped; `None` on a
    /// read-only filesystem, where no rotation can happen either.
    _in_use: Option<Arc<File>>,
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vault").field("root", &self.root).field("kek", &self.kek).finish_non_exhaustive()
    }
}

impl Vault {
    /// Opens the vault in `data_dir`, creating it (mode 0700) on first use.
    pub fn open(data_dir: &Path, kek: Kek) -> Result<Vault> {
        let consultations = data_dir.join(CONSULTATIONS);
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&consultations)
            .map_err(Error::io("create data directory", &consultations))?;
        let record_path = data_dir.join(VAULT_RECORD);
        let sealed = match fs::read(&record_path) {
            Ok(sealed) => sealed,
            Err(e) if e.kind() == ErrorKind::NotFound => create_vault_record(&record_path, &consultations, &kek)?,
            Err(e) => return Err(Error::io("read", &record_path)(e)),
        };
        let in_use = match open_in_use(data_dir) {
            Ok(file) => {
                file.lock_shared().map_err(Error::io("lock", data_dir.join(IN_USE_FILE)))?;
                Some(Arc::new(file))
            }
            Err(Error::Io { source, .. }) if source.kind() == ErrorKind::ReadOnlyFilesystem => None,
            Err(e) => return Err(e),
        };
        let plain = seal::open(&kek, Purpose::VaultRecord, &[0; 32], &sealed, &record_path)?;
        let naming_key: [u8; 32] = plain
            .as_slice()
            .try_into()
            .map_err(|_| Error::tampered(&record_path, "vault record has the wrong length"))?;
        Ok(Vault {
            root: data_dir.to_path_buf(),
            kek,
            naming_key: Arc::new(Zeroizing::new(naming_key)),
            clock: Arc::new(SystemTime::now),
            _in_use: in_use,
        })
    }

    /// Replaces the wall clock, for tests and simulations.
    pub fn with_clock(mut self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Vault {
        self.clock = Arc::new(clock);
        self
    }

    pub fn data_dir(&self) -> &Path {
        &self.root
    }

    /// The current time as the vault records it: whole seconds.
    pub fn now(&self) -> SystemTime {
        whole_seconds((self.clock)())
    }

    /// Starts a consultation. `research_consent` must be the patient's explicit consent.
    pub fn create(&self, id: &str, research_consent: bool) -> Result<()> {
        let handle = self.handle(id)?;
        let _lock = self.lock()?;
        if self.load(&handle)?.is_some() {
            return Err(Error::AlreadyExists { id: id.to_string() });
        }
        let dir = self.dir(&handle);
        DirBuilder::new().mode(0o700).create(&dir).or_else(|e| match e.kind() {
            // Left by an interrupted shredding of an earlier consultation with this id.
            ErrorKind::AlreadyExists => Ok(()),
            _ => Err(Error::io("create", &dir)(e)),
        })?;
        fsutil::sync_dir_of(&dir)?;
        let keyring = Keyring {
            id: id.to_string(),
            lifecycle: Lifecycle {
                created: self.now(),
                transcript_final: None,
                approved: None,
                exported: None,
                discarded: None,
                research_consent,
            },
            artefacts: BTreeMap::new(),
            shredded: BTreeMap::new(),
        };
        self.save(&handle, &keyring)
    }

    /// Records a lifecycle event at the current time. The first occurrence counts: retention
    /// deadlines never move later because an event is repeated.
    pub fn record(&self, id: &str, event: Milestone) -> Result<()> {
        self.record_at(id, event, self.now())
    }

    /// [`Vault::record`] at a time taken earlier (whole seconds), so that the deadline audited
    /// before the event ([`Lifecycle::after`]) is exactly the one it brings.
    pub fn record_at(&self, id: &str, event: Milestone, at: SystemTime) -> Result<()> {
        self.update(id, |keyring| {
            keyring.lifecycle = keyring.lifecycle.after(event, at);
            Ok(())
        })
    }

    /// Grants or withdraws research consent (and so the `research` retention class).
    pub fn set_research_consent(&self, id: &str, consent: bool) -> Result<()> {
        self.update(id, |keyring| {
            keyring.lifecycle.research_consent = consent;
            Ok(())
        })
    }

    /// The consultation's lifecycle and artefact list.
    pub fn consultation(&self, id: &str) -> Result<Consultation> {
        let handle = self.handle(id)?;
        Ok(self.require(&handle, id)?.to_consultation())
    }

    /// Where the consultation's files are (its name reveals nothing about the id).
    pub fn consultation_dir(&self, id: &str) -> Result<PathBuf> {
        Ok(self.dir(&self.handle(id)?))
    }

    /// Starts writing an artefact; the previous version (if any) stays readable until `finish`.
    pub fn writer(&self, id: &str, kind: ArtefactKind) -> Result<ArtefactWriter> {
        let handle = self.handle(id)?;
        self.require(&handle, id)?;
        let file_id = crate::random::<16>()?;
        let data_key = Zeroizing::new(crate::random::<32>()?);
        let path = self.dir(&handle).join(file_name(kind, &file_id));
        let header = stream::header(&kind.to_string(), &file_id);
        let stream = StreamWriter::new(AtomicFile::create(&path)?, &path, &data_key, &header, &handle)?;
        Ok(ArtefactWriter {
            vault: self.clone(),
            id: id.to_string(),
            handle,
            kind,
            file_id,
            data_key,
            stream: Some(stream),
        })
    }

    /// Opens the current version of an artefact for reading.
    pub fn reader(&self, id: &str, kind: ArtefactKind) -> Result<ArtefactReader> {
        let handle = self.handle(id)?;
        let keyring = self.require(&handle, id)?;
        let label = kind.to_string();
        let Some(entry) = keyring.artefacts.get(&label) else {
            let what = format!("{label} of consultation {id:?}");
            return Err(match keyring.shredded.get(&label) {
                Some(s) => {
                    Error::Shredded { what, when: format!(" at {} ({})", humantime::format_rfc3339(s.at), s.rule) }
                }
                None => Error::Missing { what },
            });
        };
        let path = self.dir(&handle).join(file_name(kind, &entry.file));
        let file = File::open(&path).map_err(|e| match e.kind() {
            ErrorKind::NotFound => Error::tampered(&path, "the file listed in the keyring is gone"),
            _ => Error::io("open", &path)(e),
        })?;
        let header = stream::header(&label, &entry.file);
        let stream = StreamReader::new(file, &path, &entry.key.0, &header, &handle)?;
        Ok(ArtefactReader { stream, pos: 0, size: entry.size })
    }

    /// Stores a small artefact in one call (replacing any previous version).
    pub fn put(&self, id: &str, kind: ArtefactKind, bytes: &[u8]) -> Result<()> {
        let mut writer = self.writer(id, kind)?;
        writer.write_all(bytes)?;
        writer.finish().map(drop)
    }

    /// Reads and verifies a whole artefact.
    pub fn get(&self, id: &str, kind: ArtefactKind) -> Result<Zeroizing<Vec<u8>>> {
        let mut reader = self.reader(id, kind)?;
        let mut out = Zeroizing::new(Vec::with_capacity(reader.size.min(64 << 20) as usize));
        while let Some(chunk) = reader.stream.next_chunk()? {
            out.extend_from_slice(chunk);
        }
        Ok(out)
    }

    /// Crypto-shreds one artefact now, on request (e.g. the doctor deletes the audio).
    /// Returns whether there was anything to shred.
    pub fn shred(&self, id: &str, kind: ArtefactKind) -> Result<bool> {
        let handle = self.handle(id)?;
        let shredding = Shredding { at: self.now(), rule: "on-request".into() };
        self.shred_artefact(&handle, kind, shredding, |_, _| true, || Ok(()))
    }

    // ---- private ----

    fn handle(&self, id: &str) -> Result<[u8; 32]> {
        // The one consultation id rule: what the live service accepts, the vault can hold.
        ids::ConsultationId::new(id)?;
        Ok(crate::hmac_sha256(self.naming_key.as_slice(), &[b"autonotar-vault consultation v1\0", id.as_bytes()]))
    }

    fn dir(&self, handle: &[u8; 32]) -> PathBuf {
        self.root.join(CONSULTATIONS).join(secrets::hex(handle))
    }

    fn lock(&self) -> Result<File> {
        lock_vault(&self.root)
    }

    fn load(&self, handle: &[u8; 32]) -> Result<Option<Keyring>> {
        let path = self.dir(handle).join(KEYRING);
        let sealed = match fs::read(&path) {
            Ok(sealed) => sealed,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("read", &path)(e)),
        };
        let plain = seal::open(&self.kek, Purpose::Keyring, handle, &sealed, &path)?;
        serde_json::from_slice(&plain)
            .map(Some)
            .map_err(|e| Error::tampered(&path, format!("keyring authenticates but does not parse ({e})")))
    }

    /// The keyring of an existing consultation, or why there is none.
    fn require(&self, handle: &[u8; 32], id: &str) -> Result<Keyring> {
        match self.load(handle)? {
            Some(keyring) => Ok(keyring),
            // Files without a keyring: the keys were destroyed and the rest is unreadable. (An
            // empty directory is a creation that crashed before its keyring was committed.)
            None if fs::read_dir(self.dir(handle)).is_ok_and(|mut files| files.next().is_some()) => {
                Err(Error::Shredded { what: format!("consultation {id:?}"), when: " (its keyring is gone)".into() })
            }
            None => Err(Error::Missing { what: format!("consultation {id:?}") }),
        }
    }

    fn save(&self, handle: &[u8; 32], keyring: &Keyring) -> Result<()> {
        // Sized up front: a reallocation would leave a freed, unzeroized copy of the keys.
        let capacity = 1024 + 256 * (keyring.artefacts.len() + keyring.shredded.len());
        let mut plain = Zeroizing::new(Vec::with_capacity(capacity));
        serde_json::to_writer(&mut *plain, keyring).expect("keyring serializes");
        let sealed = seal::seal(&self.kek, Purpose::Keyring, handle, &plain)?;
        fsutil::write_atomic(&self.dir(handle).join(KEYRING), &sealed)
    }

    fn update(&self, id: &str, change: impl FnOnce(&mut Keyring) -> Result<()>) -> Result<()> {
        let handle = self.handle(id)?;
        let _lock = self.lock()?;
        let mut keyring = self.require(&handle, id)?;
        change(&mut keyring)?;
        self.save(&handle, &keyring)
    }
}

fn create_vault_record(path: &Path, consultations: &Path, kek: &Kek) -> Result<Vec<u8>> {
    let has_consultations = fs::read_dir(consultations).map_err(Error::io("list", consultations))?.next().is_some();
    if has_consultations {
        // A new naming key would silently orphan every consultation.
        return Err(Error::Missing {
            what: format!("vault record {} (consultations exist without it; restore it from backup)", path.display()),
        });
    }
    let naming_key = Zeroizing::new(crate::random::<32>()?);
    let sealed = seal::seal(kek, Purpose::VaultRecord, &[0; 32], naming_key.as_slice())?;
    let mut file = AtomicFile::create(path)?;
    file.write_all(&sealed).map_err(Error::io("write", path))?;
    match file.commit_new() {
        Ok(()) => Ok(sealed),
        // Another process created it first: use theirs.
        Err(Error::Io { source, .. }) if source.kind() == ErrorKind::AlreadyExists => {
            fs::read(path).map_err(Error::io("read", path))
        }
        Err(e) => Err(e),
    }
}

/// Takes the vault-wide lock that serialises keyring updates across threads and processes;
/// released when the returned file is dropped.
pub(crate) fn lock_vault(data_dir: &Path) -> Result<File> {
    let path = data_dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(Error::io("open lock file", &path))?;
    file.lock().map_err(Error::io("lock", &path))?;
    Ok(file)
}

pub(crate) fn open_in_use(data_dir: &Path) -> Result<File> {
    let path = data_dir.join(IN_USE_FILE);
    OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(Error::io("open lock file", &path))
}
