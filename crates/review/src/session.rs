//! Logged-in doctors: a random session token in an HttpOnly, SameSite=Strict cookie, kept in
//! memory only (a restart logs everyone out; the practice system's button makes a new link),
//! and a per-session CSRF token that every state change must carry.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use audit::Id;
use axum::http::HeaderMap;
use axum::http::header::COOKIE;

use crate::Error;

pub const COOKIE_NAME: &str = "autonotar_review";

/// One doctor's session.
#[derive(Clone, Debug)]
pub struct DoctorSession {
    pub doctor: Id,
    pub csrf: String,
    expires: Instant,
}

impl DoctorSession {
    /// Whether `presented` is this session's CSRF token (compared in constant time).
    pub fn csrf_matches(&self, presented: &str) -> bool {
        secrets::same(self.csrf.as_bytes(), presented.as_bytes())
    }
}

pub struct DoctorSessions {
    ttl: Duration,
    live: Mutex<HashMap<String, DoctorSession>>,
}

/// What the request's cookie says.
pub enum Lookup {
    /// No session cookie at all.
    None,
    /// A cookie naming no live session: expired, from before a restart, or forged.
    Invalid,
    Valid(DoctorSession),
}

impl DoctorSessions {
    pub fn new(ttl: Duration) -> DoctorSessions {
        DoctorSessions { ttl, live: Mutex::new(HashMap::new()) }
    }

    /// Starts a session for `doctor`; returns its cookie token.
    pub fn start(&self, doctor: Id) -> Result<String, Error> {
        let token = secrets::hex(&crate::link::random::<32>()?);
        let session = DoctorSession {
            doctor,
            csrf: secrets::hex(&crate::link::random::<32>()?),
            expires: Instant::now() + self.ttl,
        };
        let mut live = self.live.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        live.retain(|_, s| s.expires > now);
        live.insert(token.clone(), session);
        Ok(token)
    }

    pub fn lookup(&self, headers: &HeaderMap) -> Lookup {
        let Some(token) = cookie(headers, COOKIE_NAME) else {
            return Lookup::None;
        };
        let live = self.live.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match live.get(token) {
            Some(session) if session.expires > Instant::now() => Lookup::Valid(session.clone()),
            _ => Lookup::Invalid,
        }
    }

    /// The `Set-Cookie` value for a new session.
    pub fn cookie_header(&self, token: &str, secure: bool) -> String {
        format!(
            "{COOKIE_NAME}={token}; Path=/review; HttpOnly; SameSite=Strict; Max-Age={}{}",
            self.ttl.as_secs(),
            if secure { "; Secure" } else { "" }
        )
    }
}

/// The value of cookie `name` in the request, if any.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}
