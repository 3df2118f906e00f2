//! The encrypted vault: everything autonotar keeps about a consultation (audio if kept at all,
//! transcript, draft, edits, approved note) lives here, encrypted per artefact with AES-256-GCM
//! under data keys that are sealed by a key-encryption key, and is deleted on time by
//! crypto-shredding (destroying the data key before the ciphertext).
//!
//! - [`keys`]: the key-encryption key ([`Kek`]): key file or `AUTONOTAR_KEK`, init.
//! - [`rotation`]: re-sealing the vault under a new KEK (`autonotar keys rotate`).
//! - [`Vault`]: create consultations, record their lifecycle, write and read artefacts.
//! - [`retention`]: the GDPR retention policy, `status` and `sweep`.
//!
//! The on-disk format is specified in docs/vault-format.md.

mod error;
mod fsutil;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod keys;
pub mod retention;
pub mod rotation;
mod seal;
mod stream;
mod vault;

pub use error::{Error, Result};
pub use keys::Kek;
pub use retention::{Deletion, RetentionPolicy};
pub use vault::{
    ArtefactInfo, ArtefactKind, ArtefactReader, ArtefactWriter, Consultation, Lifecycle, Milestone, Shredding, Vault,
};
/// Plaintext comes back in a buffer that is wiped when dropped.
pub use zeroize::Zeroizing;

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::KeyInit;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// `N` bytes from the operating system's CSPRNG.
fn random<const N: usize>() -> Result<[u8; N]> {
    secrets::random::<N>().map_err(|e| Error::Io {
        action: "get random bytes from",
        path: "the operating system".into(),
        source: std::io::Error::other(e.to_string()),
    })
}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// AES-256-GCM keyed by reference, so no stray copy of the key is left on the stack.
fn cipher(key: &[u8; 32]) -> Aes256Gcm {
    Aes256Gcm::new_from_slice(key).expect("key is 32 bytes")
}
