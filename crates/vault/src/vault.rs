//! Consultations and their artefacts on disk.
//!
//! Each consultation has a directory named by an HMAC of its id (ids come from outside and are
//! never used as path components) holding a keyring sealed under the KEK: the consultation's
//! id, lifecycle timestamps and one fresh data key per artefact. An artefact write is committed
//! by the keyring update, so a crash leaves the old or the new version. Shredding an artefact
//! removes its key from the keyring before its ciphertext file.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, ErrorKind, Read, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::fsutil::{self, AtomicFile};
use crate::keys::Kek;
use crate::seal::{self, Purpose};
use crate::stream::{self, StreamReader, StreamWriter};

const VAULT_RECORD: &str = "vault";
const LOCK_FILE: &str = "lock";
/// Held shared by every open [`Vault`] and exclusively by a KEK rotation, so the key cannot be
/// rotated under a process that would go on sealing with the old one.
const IN_USE_FILE: &str = "in-use";
const CONSULTATIONS: &str = "consultations";
const KEYRING: &str = "keyring";

/// One kind of thing kept about a consultation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ArtefactKind {
    /// Recorded audio of one track (kept only when needed for backpressure).
    Audio {
        track: usize,
    },
    Transcript,
    Draft,
    /// The doctor's edits to the draft.
    Edits,
    /// The approved journal note.
    Note,
}

impl ArtefactKind {
    pub fn is_audio(self) -> bool {
        matches!(self, ArtefactKind::Audio { .. })
    }
}

impl fmt::Display for ArtefactKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArtefactKind::Audio { track } => write!(f, "audio-{track}"),
            ArtefactKind::Transcript => f.write_str("transcript"),
            ArtefactKind::Draft => f.write_str("draft"),
            ArtefactKind::Edits => f.write_str("edits"),
            ArtefactKind::Note => f.write_str("note"),
        }
    }
}

impl FromStr for ArtefactKind {
    type Err = Error;

    fn from_str(label: &str) -> Result<ArtefactKind> {
        Ok(match label {
            "transcript" => ArtefactKind::Transcript,
            "draft" => ArtefactKind::Draft,
            "edits" => ArtefactKind::Edits,
            "note" => ArtefactKind::Note,
            _ => match label.strip_prefix("audio-").map(str::parse) {
                // Only the canonical spelling, so each kind has exactly one label.
                Some(Ok(track)) if format!("audio-{track}") == label => ArtefactKind::Audio { track },
                _ => return Err(Error::UnknownKind(label.to_string())),
            },
        })
    }
}

/// A step in a consultation's life that the retention rules count from (its time is kept in
/// the [`Lifecycle`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Milestone {
    TranscriptFinal,
    Approved,
    Exported,
    /// The doctor discarded the consultation: everything goes at the next sweep.
    Discarded,
}

/// When things happened to a consultation. Holds no personal content; integrity-protected
/// inside the sealed keyring. Times are whole seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lifecycle {
    #[serde(with = "unix_secs")]
    pub created: SystemTime,
    #[serde(with = "unix_secs::option")]
    pub transcript_final: Option<SystemTime>,
    #[serde(with = "unix_secs::option")]
    pub approved: Option<SystemTime>,
    #[serde(with = "unix_secs::option")]
    pub exported: Option<SystemTime>,
    #[serde(with = "unix_secs::option")]
    pub discarded: Option<SystemTime>,
    /// Explicit research consent: puts the consultation in the `research` retention class.
    pub research_consent: bool,
}

impl Lifecycle {
    fn slot(&mut self, event: Milestone) -> &mut Option<SystemTime> {
        match event {
            Milestone::TranscriptFinal => &mut self.transcript_final,
            Milestone::Approved => &mut self.approved,
            Milestone::Exported => &mut self.exported,
            Milestone::Discarded => &mut self.discarded,
        }
    }

    /// The lifecycle once `event` is recorded at `at` (whole seconds), as [`Vault::record_at`]
    /// will leave it: lets the deadline it brings be audited before it is recorded.
    pub fn after(mut self, event: Milestone, at: SystemTime) -> Lifecycle {
        self.slot(event).get_or_insert(whole_seconds(at));
        self
    }
}

/// A stored artefact, as listed by [`Vault::consultation`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArtefactInfo {
    pub kind: ArtefactKind,
    pub written: SystemTime,
    pub size: u64,
}

/// A crypto-shredded artefact: when and under which rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shredding {
    #[serde(with = "unix_secs")]
    pub at: SystemTime,
    pub rule: String,
}

/// What the vault knows about one consultation (no artefact content).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Consultation {
    pub id: String,
    pub lifecycle: Lifecycle,
    pub artefacts: Vec<ArtefactInfo>,
    pub shredded: Vec<(ArtefactKind, Shredding)>,
}

/// The sealed per-consultation record (docs/vault-format.md §5).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Keyring {
    id: String,
    lifecycle: Lifecycle,
    artefacts: BTreeMap<String, Entry>,
    shredded: BTreeMap<String, Shredding>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    /// Names the ciphertext file `<kind>.<file>`; also in the stream header.
    #[serde(with = "hex_bytes")]
    file: [u8; 16],
    key: DataKey,
    #[serde(with = "unix_secs")]
    written: SystemTime,
    size: u64,
}

/// A 256-bit artefact data key, zeroized on drop.
struct DataKey(Zeroizing<[u8; 32]>);

impl Keyring {
    fn to_consultation(&self) -> Consultation {
        Consultation {
            id: self.id.clone(),
            lifecycle: self.lifecycle,
            artefacts: self
                .artefacts
                .iter()
                .filter_map(|(label, e)| {
                    let kind = label.parse().ok()?;
                    Some(ArtefactInfo { kind, written: e.written, size: e.size })
                })
                .collect(),
            shredded: self.shredded.iter().filter_map(|(label, s)| Some((label.parse().ok()?, s.clone()))).collect(),
        }
    }
}

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

    // ---- crate-internal: used by the retention sweeper ----

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
fn lock_vault(data_dir: &Path) -> Result<File> {
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

fn open_in_use(data_dir: &Path) -> Result<File> {
    let path = data_dir.join(IN_USE_FILE);
    OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(Error::io("open lock file", &path))
}

/// Re-seals the vault record and every keyring under `new` (see `keys::rotate`). Refused while
/// any process has the vault open: it would keep sealing under the old key.
pub(crate) fn reseal_all(data_dir: &Path, old: &Kek, new: &Kek) -> Result<(usize, usize)> {
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

fn file_name(kind: ArtefactKind, file_id: &[u8; 16]) -> String {
    format!("{kind}.{}", secrets::hex(file_id))
}

fn whole_seconds(t: SystemTime) -> SystemTime {
    let secs = t.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// Streams one artefact into the vault. Nothing is visible until [`finish`](Self::finish)
/// returns; dropped unfinished, it leaves nothing behind.
pub struct ArtefactWriter {
    vault: Vault,
    id: String,
    handle: [u8; 32],
    kind: ArtefactKind,
    file_id: [u8; 16],
    data_key: Zeroizing<[u8; 32]>,
    stream: Option<StreamWriter<AtomicFile>>,
}

impl ArtefactWriter {
    pub fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        self.stream.as_mut().expect("stream present until finish").write(bytes)
    }

    /// Makes the artefact durable and current; returns its plaintext length. Once this returns
    /// `Ok`, the artefact survives a crash.
    pub fn finish(mut self) -> Result<u64> {
        let (file, size) = self.stream.take().expect("stream present until finish").finish()?;
        let vault = &self.vault;
        let label = self.kind.to_string();
        let dir = vault.dir(&self.handle);
        // Durable under its final name before the lock: a big fsync must not stall others.
        // Until the keyring names it, the file is an unreadable orphan.
        file.commit()?;
        let _lock = vault.lock()?;
        let committed = dir.join(file_name(self.kind, &self.file_id));
        let result = (|| {
            let mut keyring = vault.require(&self.handle, &self.id)?;
            let entry = Entry { file: self.file_id, key: DataKey(self.data_key.clone()), written: vault.now(), size };
            let previous = keyring.artefacts.insert(label.clone(), entry);
            keyring.shredded.remove(&label);
            vault.save(&self.handle, &keyring)?;
            Ok(previous)
        })();
        match result {
            Ok(previous) => {
                if let Some(previous) = previous {
                    // Its key is gone from the keyring already; a failure here only leaves an
                    // unreadable orphan for the sweeper.
                    let _ = fsutil::remove_durably(&dir.join(file_name(self.kind, &previous.file)));
                }
                Ok(size)
            }
            Err(e) => {
                let _ = fsutil::remove_durably(&committed);
                Err(e)
            }
        }
    }
}

impl Write for ArtefactWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        ArtefactWriter::write_all(self, buf).map_err(io::Error::other)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Reads one artefact, verifying each chunk before handing out any of its bytes. A read
/// error wraps the vault [`Error`] (`io::Error::get_ref` / `into_inner` + downcast).
pub struct ArtefactReader {
    stream: StreamReader<File>,
    pos: usize,
    size: u64,
}

impl ArtefactReader {
    /// Plaintext length recorded when the artefact was written.
    pub fn size(&self) -> u64 {
        self.size
    }
}

impl Read for ArtefactReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let current = self.stream.current();
            if self.pos < current.len() {
                let n = buf.len().min(current.len() - self.pos);
                buf[..n].copy_from_slice(&current[self.pos..self.pos + n]);
                self.pos += n;
                return Ok(n);
            }
            match self.stream.next_chunk() {
                Ok(Some(_)) => self.pos = 0,
                Ok(None) => return Ok(0),
                Err(e) => return Err(io::Error::other(e)),
            }
        }
    }
}

impl Serialize for DataKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let text = Zeroizing::new(secrets::hex(self.0.as_slice()));
        serializer.serialize_str(&text)
    }
}

impl<'de> Deserialize<'de> for DataKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Borrowed: the hex text stays in the (zeroized) keyring buffer, never copied.
        let text = <&str>::deserialize(deserializer)?;
        secrets::unhex::<32>(text)
            .map(|key| DataKey(Zeroizing::new(key)))
            .ok_or_else(|| serde::de::Error::custom("data key is not 64 hex digits"))
    }
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8; 16], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&secrets::hex(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<[u8; 16], D::Error> {
        let text = <&str>::deserialize(deserializer)?;
        secrets::unhex(text).ok_or_else(|| serde::de::Error::custom("file id is not 32 hex digits"))
    }
}

/// Timestamps as whole seconds since the Unix epoch.
mod unix_secs {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &SystemTime, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(t.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<SystemTime, D::Error> {
        Ok(UNIX_EPOCH + Duration::from_secs(u64::deserialize(deserializer)?))
    }

    pub mod option {
        use super::*;

        pub fn serialize<S: Serializer>(t: &Option<SystemTime>, serializer: S) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => super::serialize(t, serializer),
                None => serializer.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<SystemTime>, D::Error> {
            Ok(Option::<u64>::deserialize(deserializer)?.map(|s| UNIX_EPOCH + Duration::from_secs(s)))
        }
    }
}
