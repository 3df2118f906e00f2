//! The chunked artefact stream (STREAM construction, as in age): the plaintext is cut into
//! 64 KiB chunks, each sealed with AES-256-GCM under the artefact's own data key, with a nonce
//! made of the chunk counter and a last-chunk flag. Reordering, duplication and truncation all
//! fail authentication, and memory stays bounded by one chunk. Layout in docs/vault-format.md §4.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

pub(crate) const MAGIC: &[u8; 8] = b"ANVSTRM\x01";
pub(crate) const CHUNK_SIZE: usize = 64 * 1024;
const TAG_LEN: usize = 16;
/// Offset of the kind label's length byte in the header.
const LABEL_AT: usize = 8 + 4 + 16;

/// The stream header: magic and version, chunk size, the write's file id and the artefact kind.
pub(crate) fn header(kind_label: &str, file_id: &[u8; 16]) -> Vec<u8> {
    let mut header = Vec::with_capacity(8 + 4 + 16 + 1 + kind_label.len());
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(&(CHUNK_SIZE as u32).to_be_bytes());
    header.extend_from_slice(file_id);
    header.push(kind_label.len() as u8);
    header.extend_from_slice(kind_label.as_bytes());
    header
}

/// Per-chunk cryptography shared by writer and reader.
struct ChunkCipher {
    cipher: Aes256Gcm,
    /// header ‖ consultation handle; the chunk index and last flag are appended per chunk.
    aad_prefix: Vec<u8>,
}

impl ChunkCipher {
    fn new(data_key: &[u8; 32], header: &[u8], handle: &[u8; 32]) -> ChunkCipher {
        ChunkCipher { cipher: crate::cipher(data_key), aad_prefix: [header, handle.as_slice()].concat() }
    }

    fn nonce(index: u64, last: bool) -> Nonce<aes_gcm::aead::consts::U12> {
        let mut nonce = [0u8; 12];
        nonce[3..11].copy_from_slice(&index.to_be_bytes());
        nonce[11] = last as u8;
        Nonce::from(nonce)
    }

    fn aad(&self, index: u64, last: bool) -> Vec<u8> {
        let mut aad = Vec::with_capacity(self.aad_prefix.len() + 9);
        aad.extend_from_slice(&self.aad_prefix);
        aad.extend_from_slice(&index.to_be_bytes());
        aad.push(last as u8);
        aad
    }

    fn seal(&self, index: u64, last: bool, chunk: &mut [u8]) -> [u8; TAG_LEN] {
        self.cipher
            .encrypt_inout_detached(&Self::nonce(index, last), &self.aad(index, last), chunk.into())
            .expect("a 64 KiB chunk is far below the AES-GCM length limit")
            .into()
    }

    fn open(&self, index: u64, last: bool, chunk: &mut [u8], tag: &[u8]) -> bool {
        let tag = Tag::from(<[u8; TAG_LEN]>::try_from(tag).expect("tag is 16 bytes"));
        self.cipher
            .decrypt_inout_detached(&Self::nonce(index, last), &self.aad(index, last), chunk.into(), &tag)
            .is_ok()
    }
}

/// Encrypts a stream into `sink`. Nothing is final until `finish`: a stream without its last
/// chunk does not open.
pub(crate) struct StreamWriter<W: Write> {
    sink: W,
    path: PathBuf,
    chunks: ChunkCipher,
    pending: Zeroizing<Vec<u8>>,
    index: u64,
    plaintext_len: u64,
}

impl<W: Write> StreamWriter<W> {
    pub(crate) fn new(mut sink: W, path: &Path, data_key: &[u8; 32], header: &[u8], handle: &[u8; 32]) -> Result<Self> {
        sink.write_all(header).map_err(Error::io("write", path))?;
        Ok(StreamWriter {
            sink,
            path: path.to_path_buf(),
            chunks: ChunkCipher::new(data_key, header, handle),
            pending: Zeroizing::new(Vec::with_capacity(CHUNK_SIZE + TAG_LEN)),
            index: 0,
            plaintext_len: 0,
        })
    }

    pub(crate) fn write(&mut self, mut data: &[u8]) -> Result<()> {
        while !data.is_empty() {
            // A full chunk is sealed only once more data proves it is not the last one.
            if self.pending.len() == CHUNK_SIZE {
                self.seal_pending(false)?;
            }
            let take = data.len().min(CHUNK_SIZE - self.pending.len());
            self.pending.extend_from_slice(&data[..take]);
            self.plaintext_len += take as u64;
            data = &data[take..];
        }
        Ok(())
    }

    /// Seals the last chunk; returns the sink and the plaintext length.
    pub(crate) fn finish(mut self) -> Result<(W, u64)> {
        self.seal_pending(true)?;
        Ok((self.sink, self.plaintext_len))
    }

    fn seal_pending(&mut self, last: bool) -> Result<()> {
        let tag = self.chunks.seal(self.index, last, &mut self.pending);
        self.pending.extend_from_slice(&tag);
        self.sink.write_all(&self.pending).map_err(Error::io("write", &self.path))?;
        // The buffer now holds ciphertext only; clearing keeps the allocation for reuse.
        self.pending.clear();
        self.index += 1;
        Ok(())
    }
}

/// Decrypts and verifies a stream chunk by chunk, in place in one chunk-sized buffer.
pub(crate) struct StreamReader<R: Read> {
    source: R,
    path: PathBuf,
    chunks: ChunkCipher,
    /// One sealed chunk plus one byte of lookahead; after `next_chunk`, its first
    /// `chunk_len` bytes are the verified plaintext.
    buf: Zeroizing<Vec<u8>>,
    chunk_len: usize,
    lookahead: Option<u8>,
    index: u64,
    done: bool,
}

impl<R: Read> StreamReader<R> {
    /// Reads and checks the header against the one expected from the keyring.
    pub(crate) fn new(
        mut source: R,
        path: &Path,
        data_key: &[u8; 32],
        expected_header: &[u8],
        handle: &[u8; 32],
    ) -> Result<Self> {
        // The fixed part, then the kind label as long as the file says, so a mismatch can name
        // what the file really holds.
        let mut header = vec![0; LABEL_AT + 1];
        let got = read_full(&mut source, &mut header).map_err(Error::io("read", path))?;
        header.truncate(got);
        if got >= 8 && header[..7] == MAGIC[..7] && header[7] != MAGIC[7] {
            return Err(Error::UnsupportedFormat { path: path.to_path_buf(), version: header[7] });
        }
        if got == LABEL_AT + 1 {
            let mut label = vec![0; header[LABEL_AT] as usize];
            let got = read_full(&mut source, &mut label).map_err(Error::io("read", path))?;
            header.extend_from_slice(&label[..got]);
        }
        if header != expected_header {
            return Err(Error::tampered(path, describe_header_mismatch(&header, expected_header)));
        }
        Ok(StreamReader {
            source,
            path: path.to_path_buf(),
            chunks: ChunkCipher::new(data_key, expected_header, handle),
            buf: Zeroizing::new(vec![0; CHUNK_SIZE + TAG_LEN + 1]),
            chunk_len: 0,
            lookahead: None,
            index: 0,
            done: false,
        })
    }

    /// The next verified plaintext chunk, or `None` after the authenticated last chunk.
    pub(crate) fn next_chunk(&mut self) -> Result<Option<&[u8]>> {
        self.chunk_len = 0;
        if self.done {
            return Ok(None);
        }
        let mut got = 0;
        if let Some(byte) = self.lookahead.take() {
            self.buf[0] = byte;
            got = 1;
        }
        got += read_full(&mut self.source, &mut self.buf[got..]).map_err(Error::io("read", &self.path))?;
        let last = got <= CHUNK_SIZE + TAG_LEN;
        if !last {
            self.lookahead = Some(self.buf[CHUNK_SIZE + TAG_LEN]);
        }
        let sealed_len = got.min(CHUNK_SIZE + TAG_LEN);
        if sealed_len < TAG_LEN {
            return Err(self.tamper(format!("stream truncated: chunk {} is missing or cut short", self.index)));
        }
        let body_len = sealed_len - TAG_LEN;
        let (body, rest) = self.buf.split_at_mut(body_len);
        let tag = &rest[..TAG_LEN];
        // AES-GCM checks the tag before decrypting: on failure `body` is still ciphertext.
        if !self.chunks.open(self.index, last, body, tag) {
            // Tell a clean cut at a chunk boundary from damage: the final chunk on disk then
            // authenticates as a middle chunk.
            let what = if last && self.chunks.open(self.index, false, body, tag) {
                format!("stream truncated after chunk {}", self.index)
            } else {
                format!("chunk {} failed authentication (altered, reordered or duplicated)", self.index)
            };
            return Err(self.tamper(what));
        }
        self.chunk_len = body_len;
        self.index += 1;
        self.done = last;
        Ok(Some(&self.buf[..body_len]))
    }

    /// The chunk last returned by `next_chunk` (empty after an error or the end).
    pub(crate) fn current(&self) -> &[u8] {
        &self.buf[..self.chunk_len]
    }

    fn tamper(&mut self, what: String) -> Error {
        self.done = true;
        // The truncation probe may have decrypted the chunk in place.
        self.buf.fill(0);
        Error::tampered(&self.path, what)
    }
}

fn describe_header_mismatch(found: &[u8], expected: &[u8]) -> String {
    if found.len() <= LABEL_AT || found.len() < LABEL_AT + 1 + found[LABEL_AT] as usize {
        "header truncated".into()
    } else if found[..8] != expected[..8] {
        "not a vault artefact stream (bad magic)".into()
    } else if found[LABEL_AT..] != expected[LABEL_AT..] {
        format!(
            "file holds a {:?} artefact, not {:?}",
            String::from_utf8_lossy(&found[LABEL_AT + 1..]),
            String::from_utf8_lossy(&expected[LABEL_AT + 1..])
        )
    } else if found[12..LABEL_AT] != expected[12..LABEL_AT] {
        "file belongs to another write (file id differs from the keyring)".into()
    } else {
        "header altered".into()
    }
}

/// Reads until `buf` is full or the source ends; returns the bytes read.
fn read_full(source: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match source.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
