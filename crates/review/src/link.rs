//! Entry links from the practice system: signed, expiring and single-use.
//!
//! A link is `<public_url>/review/login?t=<claims>.<mac>`, both parts base64url: the claims are
//! JSON (doctor, optional consultation, expiry, random nonce) and the mac is HMAC-SHA256 over
//! them under the [`LinkSecret`]. `autonotar link` signs in one process and the service checks
//! in another; they share only the secret file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use audit::{Id, LoginFailure};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::Error;

/// Domain separation: this key signs nothing else.
const MAC_LABEL: &[u8] = b"autonotar-review link v1\0";

/// The key that signs entry links, kept in `<data-dir>.review-secret` (mode 0600), beside the
/// data directory like the KEK file, so a backup of the data directory cannot mint links.
#[derive(Clone)]
pub struct LinkSecret(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for LinkSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkSecret(…)")
    }
}

impl LinkSecret {
    /// Where the secret for `data_dir` lives.
    pub fn path_for(data_dir: &Path) -> PathBuf {
        data_dir.with_extension("review-secret")
    }

    pub fn generate() -> Result<LinkSecret, Error> {
        Ok(LinkSecret(secrets::generate().map_err(|e| Error::Random(e.to_string()))?))
    }

    /// Reads the secret at `path`, creating it on first use. Refuses a file others can read.
    pub fn load_or_create(path: &Path) -> Result<LinkSecret, Error> {
        secrets::load_or_create(path, secrets::Text::Base64Url).map(LinkSecret).map_err(|e| Error::Secret {
            path: path.to_path_buf(),
            problem: match e {
                secrets::Error::Unusable { problem, .. } => format!("{problem}; delete it to make a new one"),
                other => other.to_string(),
            },
        })
    }

    fn mac(&self, claims: &[u8]) -> Hmac<Sha256> {
        let mut mac =
            <Hmac<Sha256> as KeyInit>::new_from_slice(self.0.as_slice()).expect("HMAC takes keys of any length");
        mac.update(MAC_LABEL);
        mac.update(claims);
        mac
    }
}

/// What a link grants.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claims {
    pub doctor: Id,
    /// Open this consultation's draft straight away.
    pub consultation: Option<Id>,
    /// Seconds since the Unix epoch.
    pub expires: u64,
    /// Random, hex: makes every link distinct and lets the service refuse a second use.
    pub nonce: String,
}

/// Signs a link for `doctor` valid for `ttl` from `now`; returns the full URL.
pub fn sign(
    secret: &LinkSecret,
    public_url: &str,
    doctor: &Id,
    consultation: Option<&Id>,
    now: SystemTime,
    ttl: Duration,
) -> Result<String, Error> {
    let expires = (now + ttl).duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let claims = Claims {
        doctor: doctor.clone(),
        consultation: consultation.cloned(),
        expires,
        nonce: secrets::hex(&random::<16>()?),
    };
    let json = serde_json::to_vec(&claims).expect("claims serialise");
    let mac = secret.mac(&json).finalize().into_bytes();
    Ok(format!("{}{}?t={}.{}", public_url.trim_end_matches('/'), crate::LOGIN_PATH, B64.encode(&json), B64.encode(mac)))
}

/// Remembers the links already used until they would have expired anyway.
#[derive(Default)]
pub struct UsedLinks(Mutex<HashMap<String, u64>>);

/// Checks a link token: signature, expiry, and that it was not used before (then marks it used).
/// A refused link says why, for the audit log and the doctor's message.
pub fn redeem(secret: &LinkSecret, used: &UsedLinks, token: &str, now: SystemTime) -> Result<Claims, Refused> {
    let invalid = Refused { reason: LoginFailure::InvalidSignature, doctor: None };
    let (claims_b64, mac_b64) = token.split_once('.').ok_or(invalid.clone())?;
    let json = B64.decode(claims_b64).map_err(|_| invalid.clone())?;
    let mac = B64.decode(mac_b64).map_err(|_| invalid.clone())?;
    secret.mac(&json).verify_slice(&mac).map_err(|_| invalid.clone())?;
    // Authentic from here on: the claims were made by `sign`.
    let claims: Claims = serde_json::from_slice(&json).map_err(|_| invalid)?;
    let now = now.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let refuse = |reason| Refused { reason, doctor: Some(claims.doctor.clone()) };
    if claims.expires <= now {
        return Err(refuse(LoginFailure::LinkExpired));
    }
    let mut used = used.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    used.retain(|_, expires| *expires > now);
    if used.insert(claims.nonce.clone(), claims.expires).is_some() {
        return Err(refuse(LoginFailure::LinkAlreadyUsed));
    }
    Ok(claims)
}

/// Why a link was refused, and whom it claimed to be for when it was authentic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    pub reason: LoginFailure,
    pub doctor: Option<Id>,
}

pub(crate) fn random<const N: usize>() -> Result<[u8; N], Error> {
    secrets::random::<N>().map_err(|e| Error::Random(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    fn token(url: &str) -> &str {
        url.split_once("?t=").map(|(_, t)| t).unwrap()
    }

    #[test]
    fn a_link_works_once_before_it_expires() {
        let secret = LinkSecret::generate().unwrap();
        let doctor = Id::new("laege-07").unwrap();
        let now = SystemTime::now();
        let url = sign(&secret, "http://127.0.0.1:8470/", &doctor, None, now, Duration::from_secs(600)).unwrap();
        assert!(url.starts_with("http://127.0.0.1:8470/review/login?t="), "{url}");
        let used = UsedLinks::default();
        assert_eq!(redeem(&secret, &used, token(&url), now).unwrap().doctor, doctor);
        let again = redeem(&secret, &used, token(&url), now).unwrap_err();
        assert_eq!(again.reason, LoginFailure::LinkAlreadyUsed);

        let later = sign(&secret, "http://x", &doctor, None, now, Duration::from_secs(600)).unwrap();
        let expired =
            redeem(&secret, &UsedLinks::default(), token(&later), now + Duration::from_secs(601)).unwrap_err();
        assert_eq!(expired, Refused { reason: LoginFailure::LinkExpired, doctor: Some(doctor) });
    }

    #[test]
    fn a_link_signed_under_another_secret_or_altered_is_refused() {
        let doctor = Id::new("laege-07").unwrap();
        let now = SystemTime::now();
        let url =
            sign(&LinkSecret::generate().unwrap(), "http://x", &doctor, None, now, Duration::from_secs(60)).unwrap();
        let other = LinkSecret::generate().unwrap();
        let used = UsedLinks::default();
        assert_eq!(redeem(&other, &used, token(&url), now).unwrap_err().reason, LoginFailure::InvalidSignature);

        let secret = LinkSecret::generate().unwrap();
        let url = sign(&secret, "http://x", &doctor, None, now, Duration::from_secs(60)).unwrap();
        let (claims, mac) = token(&url).split_once('.').unwrap();
        let json = String::from_utf8(B64.decode(claims).unwrap()).unwrap().replace("laege-07", "laege-08");
        let forged = format!("{}.{mac}", B64.encode(json));
        for token in [forged.as_str(), "", ".", "abc", "a.b.c"] {
            assert_eq!(
                redeem(&secret, &used, token, now).unwrap_err().reason,
                LoginFailure::InvalidSignature,
                "{token}"
            );
        }
    }

    #[test]
    fn the_secret_file_is_made_private_once_and_refused_when_others_can_read_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = LinkSecret::path_for(&dir.path().join("data"));
        assert_eq!(path, dir.path().join("data.review-secret"));
        let first = LinkSecret::load_or_create(&path).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let second = LinkSecret::load_or_create(&path).unwrap();
        assert_eq!(first.0, second.0);

        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = LinkSecret::load_or_create(&path).unwrap_err().to_string();
        assert!(err.contains("chmod 600"), "{err}");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        fs::write(&path, "not a key").unwrap();
        assert!(LinkSecret::load_or_create(&path).is_err());
    }
}
