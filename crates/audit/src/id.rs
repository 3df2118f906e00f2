//! Opaque identifiers: the only strings an audit record may carry besides enum names.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::AuditError;

/// Longest identifier accepted, in bytes.
pub const MAX_ID_LEN: usize = 64;

/// An opaque, pseudonymous identifier (consultation, doctor, artefact, key, policy).
///
/// Only ASCII letters, digits and `- _ . :` are allowed, at most [`MAX_ID_LEN`] bytes, and the
/// identifier must contain at least one letter. That leaves no room for free text (no spaces, no
/// sentences) and keeps CPR numbers out (all digits, or `DDMMYY-NNNN`, contain no letter).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Id(String);

impl Id {
    /// Validates `value` as an opaque identifier.
    pub fn new(value: impl Into<String>) -> Result<Id, AuditError> {
        let value = value.into();
        let reason = if value.is_empty() {
            Some("it is empty")
        } else if value.len() > MAX_ID_LEN {
            Some("it is longer than 64 bytes")
        } else if !value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':')) {
            Some("only ASCII letters, digits and - _ . : are allowed")
        } else if !value.bytes().any(|b| b.is_ascii_alphabetic()) {
            Some("it has no letter (identifiers must be opaque, never a CPR or other number)")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(AuditError::InvalidId {
                // Never echo the rejected value: it may be exactly the personal data we keep out.
                length: value.len(),
                reason,
            }),
            None => Ok(Id(value)),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Id {
    type Error = AuditError;
    fn try_from(value: String) -> Result<Id, AuditError> {
        Id::new(value)
    }
}

impl TryFrom<&str> for Id {
    type Error = AuditError;
    fn try_from(value: &str) -> Result<Id, AuditError> {
        Id::new(value)
    }
}

impl From<Id> for String {
    fn from(id: Id) -> String {
        id.0
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_opaque_ids() {
        for ok in ["c-2026-0001", "doc:7", "k_1.v2", "a", &"x".repeat(64)] {
            assert!(Id::new(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_free_text_and_cpr_numbers() {
        for bad in [
            "",
            "Jens Hansen",
            "010203-1234",
            "0102031234",
            "Søren",
            "a\nb",
            "<script>",
            "x@example.dk",
            &"x".repeat(65),
        ] {
            assert!(Id::new(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn rejection_does_not_echo_the_value() {
        let message = Id::new("010203-1234").unwrap_err().to_string();
        assert!(!message.contains("010203"), "{message}");
    }
}
