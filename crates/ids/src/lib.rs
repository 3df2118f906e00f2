//! Opaque identifiers: the one rule for every id that comes from outside (the video platform, the
//! practice system, a link) and ends up in the audit log, the vault or an address.
//!
//! [`Id`] is any opaque, pseudonymous identifier (doctor, artefact, key, policy);
//! [`ConsultationId`] is the consultation's, shorter so that the ids derived from it
//! (`<consultation>.transcript`, `<consultation>.keyring`, …) are valid [`Id`]s too. An id is
//! checked once, where it enters, and its type carries the check everywhere else.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Longest identifier accepted, in bytes.
pub const MAX_ID_LEN: usize = 64;

/// Longest consultation id accepted, in bytes: leaves room for the longest suffix an id derived
/// from it carries (`.transcript`) within [`MAX_ID_LEN`].
pub const MAX_CONSULTATION_ID_LEN: usize = 48;

/// Why a value is not an identifier. Never holds the value: it may be exactly the personal data
/// (a name, a CPR number) that ids exist to keep out.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} ({length} bytes): {reason}")]
pub struct InvalidId {
    pub what: &'static str,
    pub length: usize,
    pub reason: &'static str,
}

/// An opaque, pseudonymous identifier.
///
/// Only ASCII letters, digits and `- _ . :` are allowed, at most [`MAX_ID_LEN`] bytes, and the
/// identifier must contain at least one letter. That leaves no room for free text (no spaces, no
/// sentences), for paths (`/` is not allowed) or for CPR numbers (all digits, or `DDMMYY-NNNN`,
/// contain no letter).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Id(String);

impl Id {
    pub fn new(value: impl Into<String>) -> Result<Id, InvalidId> {
        let value = value.into();
        check(&value, "identifier", MAX_ID_LEN)?;
        Ok(Id(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn check(value: &str, what: &'static str, max: usize) -> Result<(), InvalidId> {
    let reason = if value.is_empty() {
        "it is empty"
    } else if value.len() > max {
        if max == MAX_ID_LEN { "it is longer than 64 bytes" } else { "it is longer than 48 bytes" }
    } else if !value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':')) {
        "only ASCII letters, digits and - _ . : are allowed"
    } else if !value.bytes().any(|b| b.is_ascii_alphabetic()) {
        "it has no letter (identifiers must be opaque, never a CPR or other number)"
    } else if value.starts_with('.') {
        "it starts with a dot"
    } else {
        return Ok(());
    };
    Err(InvalidId { what, length: value.len(), reason })
}

/// A consultation's id: an [`Id`] of at most [`MAX_CONSULTATION_ID_LEN`] bytes. The live service
/// refuses any other at `start`, so what it transcribes it can also audit and store.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ConsultationId(Id);

impl ConsultationId {
    pub fn new(value: impl Into<String>) -> Result<ConsultationId, InvalidId> {
        let value = value.into();
        check(&value, "consultation id", MAX_CONSULTATION_ID_LEN)?;
        Ok(ConsultationId(Id(value)))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The id as a plain [`Id`], e.g. for an event that names it among other ids.
    pub fn as_id(&self) -> &Id {
        &self.0
    }

    /// The id of something belonging to this consultation, `<consultation>.<part>`; `part` is
    /// one of the program's own names (`transcript`, `keyring`, …), so the result is always valid.
    pub fn part(&self, part: &str) -> Id {
        Id::new(format!("{}.{part}", self.as_str())).expect("a consultation id and a short part name make an id")
    }
}

macro_rules! string_conversions {
    ($type:ty) => {
        impl TryFrom<String> for $type {
            type Error = InvalidId;
            fn try_from(value: String) -> Result<$type, InvalidId> {
                <$type>::new(value)
            }
        }

        impl TryFrom<&str> for $type {
            type Error = InvalidId;
            fn try_from(value: &str) -> Result<$type, InvalidId> {
                <$type>::new(value)
            }
        }

        impl From<$type> for String {
            fn from(id: $type) -> String {
                id.as_str().to_owned()
            }
        }

        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $type {
            type Err = InvalidId;
            fn from_str(value: &str) -> Result<$type, InvalidId> {
                <$type>::new(value)
            }
        }
    };
}

string_conversions!(Id);
string_conversions!(ConsultationId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_opaque_ids() {
        for ok in ["c-2026-0001", "doc:7", "k_1.v2", "a", &"x".repeat(64)] {
            assert!(Id::new(ok).is_ok(), "{ok}");
        }
        assert!(ConsultationId::new("vc-2026-11-23-0932-4411").is_ok());
        assert!(ConsultationId::new("x".repeat(48)).is_ok());
    }

    #[test]
    fn rejects_free_text_paths_and_cpr_numbers() {
        for bad in [
            "",
            "Jens Hansen",
            "010203-1234",
            "0102031234",
            "Søren",
            "a\nb",
            "<script>",
            "x@example.dk",
            "../../x",
            "..",
            ".hidden",
            &"x".repeat(65),
        ] {
            assert!(Id::new(bad).is_err(), "{bad:?} should be rejected");
            assert!(ConsultationId::new(bad).is_err(), "{bad:?} should be rejected");
        }
        assert!(ConsultationId::new("x".repeat(49)).is_err());
    }

    #[test]
    fn every_part_of_the_longest_consultation_id_is_an_id() {
        let longest = ConsultationId::new("k".repeat(MAX_CONSULTATION_ID_LEN)).unwrap();
        for part in ["transcript", "keyring", "draft", "edits", "note", "audio-7"] {
            assert!(longest.part(part).as_str().ends_with(part));
        }
    }

    #[test]
    fn rejection_does_not_echo_the_value() {
        let message = ConsultationId::new("010203-1234").unwrap_err().to_string();
        assert!(!message.contains("010203"), "{message}");
        assert!(message.starts_with("invalid consultation id"), "{message}");
    }
}
