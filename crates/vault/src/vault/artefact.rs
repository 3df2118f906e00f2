//! One artefact in or out: its kind and file name, the writer that makes a new version
//! current only when the keyring names it, and the reader that verifies each chunk before
//! handing out its bytes.

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::str::FromStr;

use zeroize::Zeroizing;

use super::Vault;
use super::keyring::{DataKey, Entry};
use crate::error::{Error, Result};
use crate::fsutil::{self, AtomicFile};
use crate::stream::{StreamReader, StreamWriter};

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

pub(super) fn file_name(kind: ArtefactKind, file_id: &[u8; 16]) -> String {
    format!("{kind}.{}", secrets::hex(file_id))
}

/// Streams one artefact into the vault. Nothing is visible until [`finish`](Self::finish)
/// returns; dropped unfinished, it leaves nothing behind.
pub struct ArtefactWriter {
    pub(super) vault: Vault,
    pub(super) id: String,
    pub(super) handle: [u8; 32],
    pub(super) kind: ArtefactKind,
    pub(super) file_id: [u8; 16],
    pub(super) data_key: Zeroizing<[u8; 32]>,
    pub(super) stream: Option<StreamWriter<AtomicFile>>,
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
    pub(super) stream: StreamReader<File>,
    pub(super) pos: usize,
    pub(super) size: u64,
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
