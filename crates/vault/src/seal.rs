//! Small records sealed directly under the KEK: the vault record (naming key) and each
//! consultation's keyring (lifecycle and data keys). Layout in docs/vault-format.md §3.

use std::path::Path;

use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::keys::Kek;

pub(crate) const MAGIC: &[u8; 8] = b"ANVSEAL\x01";
const VERSION: u8 = 1;
const HEADER_LEN: usize = 8 + 1 + 16 + 12;
const TAG_LEN: usize = 16;

/// What a sealed record is for; part of its authenticated header, so one kind of record can
/// never be passed off as another.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub(crate) enum Purpose {
    VaultRecord = 1,
    Keyring = 2,
}

/// Seals `plaintext` under `kek`, bound to `purpose` and `subject` (a consultation handle, or
/// zeros for the vault record).
pub(crate) fn seal(kek: &Kek, purpose: Purpose, subject: &[u8; 32], plaintext: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(HEADER_LEN + plaintext.len() + TAG_LEN);
    out.extend_from_slice(MAGIC);
    out.push(purpose as u8);
    out.extend_from_slice(&kek.fingerprint());
    out.extend_from_slice(&crate::random::<12>()?);
    let aad = aad(&out, subject);
    let nonce = Nonce::from(<[u8; 12]>::try_from(&out[25..HEADER_LEN]).expect("nonce is 12 bytes"));
    out.extend_from_slice(plaintext);
    let tag = cipher(kek)
        .encrypt_inout_detached(&nonce, &aad, (&mut out[HEADER_LEN..]).into())
        .map_err(|_| Error::tampered("(sealing)", "record too large to seal"))?;
    out.extend_from_slice(&tag);
    Ok(out)
}

/// Opens a sealed record read from `path`.
pub(crate) fn open(
    kek: &Kek,
    purpose: Purpose,
    subject: &[u8; 32],
    sealed: &[u8],
    path: &Path,
) -> Result<Zeroizing<Vec<u8>>> {
    let header = check_header(kek, purpose, sealed, path)?;
    let nonce = Nonce::from(<[u8; 12]>::try_from(&header[25..HEADER_LEN]).expect("nonce is 12 bytes"));
    let (body, tag) = sealed[HEADER_LEN..].split_at(sealed.len() - HEADER_LEN - TAG_LEN);
    let tag = Tag::from(<[u8; 16]>::try_from(tag).expect("tag is 16 bytes"));
    let mut plaintext = Zeroizing::new(body.to_vec());
    cipher(kek)
        .decrypt_inout_detached(&nonce, &aad(header, subject), plaintext.as_mut_slice().into(), &tag)
        .map_err(|_| Error::tampered(path, "key record failed authentication"))?;
    Ok(plaintext)
}

/// Whether `sealed` is sealed under `kek` (by fingerprint), after checking its header.
pub(crate) fn sealed_under(kek: &Kek, purpose: Purpose, sealed: &[u8], path: &Path) -> Result<bool> {
    match check_header(kek, purpose, sealed, path) {
        Ok(_) => Ok(true),
        Err(Error::WrongKey { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

fn check_header<'a>(kek: &Kek, purpose: Purpose, sealed: &'a [u8], path: &Path) -> Result<&'a [u8]> {
    if sealed.len() < HEADER_LEN + TAG_LEN || sealed[..7] != MAGIC[..7] {
        return Err(Error::tampered(path, "not a vault key record (bad magic or too short)"));
    }
    if sealed[7] != VERSION {
        return Err(Error::UnsupportedFormat { path: path.to_path_buf(), version: sealed[7] });
    }
    if sealed[8] != purpose as u8 {
        return Err(Error::tampered(path, "key record of the wrong kind"));
    }
    let found = &sealed[9..25];
    let given = kek.fingerprint();
    if found != given {
        return Err(Error::WrongKey {
            path: path.to_path_buf(),
            found: secrets::hex(found),
            given: secrets::hex(&given),
        });
    }
    Ok(&sealed[..HEADER_LEN])
}

fn aad(header: &[u8], subject: &[u8; 32]) -> Vec<u8> {
    [&header[..HEADER_LEN], subject.as_slice()].concat()
}

fn cipher(kek: &Kek) -> Aes256Gcm {
    crate::cipher(kek.bytes())
}
