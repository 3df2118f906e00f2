//! Shared by the integration tests: scratch directories and a vault with a settable clock.
#![allow(dead_code)] // each test binary uses a different part

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use vault::{Kek, Vault};

/// A directory under the system temp dir, removed when dropped.
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("vault-test-{name}-{:016x}", random_u64()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn random_u64() -> u64 {
    u64::from_le_bytes(secrets::random().unwrap())
}

/// A simulated clock the test moves by hand.
#[derive(Clone)]
pub struct Clock(Arc<AtomicU64>);

impl Clock {
    pub fn at(t: SystemTime) -> Clock {
        Clock(Arc::new(AtomicU64::new(t.duration_since(UNIX_EPOCH).unwrap().as_secs())))
    }

    pub fn set(&self, t: SystemTime) {
        self.0.store(t.duration_since(UNIX_EPOCH).unwrap().as_secs(), Ordering::SeqCst);
    }

    pub fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.0.load(Ordering::SeqCst))
    }
}

pub fn vault_with_clock(dir: &Path, kek: Kek, clock: &Clock) -> Vault {
    let clock = clock.clone();
    Vault::open(dir, kek).unwrap().with_clock(move || clock.now())
}

/// The one file of `kind` (its label) in a consultation directory.
pub fn artefact_file(dir: &Path, label: &str) -> PathBuf {
    let prefix = format!("{label}.");
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with(&prefix))
        .collect();
    assert_eq!(found.len(), 1, "expected one {label} file in {}", dir.display());
    found.pop().unwrap()
}

/// Fails if any file under `dir` contains `needle`.
pub fn assert_nowhere_on_disk(dir: &Path, needle: &[u8]) {
    for file in walk(dir) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "{} holds {:?}",
            file.display(),
            String::from_utf8_lossy(needle)
        );
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() { files.extend(walk(&path)) } else { files.push(path) }
    }
    files
}
