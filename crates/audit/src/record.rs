//! One line of the log, its canonical bytes, its hash, and the signed checkpoint.
//!
//! A record is one line of JSON (JSON Lines), fields in this fixed order, no whitespace:
//! `{"seq":…,"time":…,"prev":…,"actor":…,"purpose":…,"legal_basis":…,"categories":[…],"event":{…},"hmac":"…"}`.
//! * The *signed bytes* are the line without its `,"hmac":"…"` member, i.e. the same JSON
//!   closed after `event`. `hmac` = HMAC-SHA-256(audit key, `autonotar-audit-record-v1\n` ‖ signed bytes).
//! * The record's *hash* is SHA-256 of the whole line (without the newline); the next record
//!   carries it in `prev`. The first record's `prev` is 64 zeros.
//! * A line is only valid if it is byte-for-byte the canonical serialisation of what it parses
//!   to, so even an edit that keeps the meaning (whitespace, escapes) is caught.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Actor, AuditKey, DataCategory, Event, PublicKey, Purpose, Timestamp};

/// `prev` of the very first record.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// A record may not be longer than this (bounds the tail the writer reads on opening).
pub const MAX_RECORD_BYTES: usize = 64 * 1024;

const RECORD_DOMAIN: &[u8] = b"autonotar-audit-record-v1\n";
const CHECKPOINT_DOMAIN: &[u8] = b"autonotar-audit-checkpoint-v1\n";

/// One audit record as written to the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// 1 for the first record ever, then +1 per record, across file rotations.
    pub seq: u64,
    pub time: Timestamp,
    /// Hash of the previous record's line.
    pub prev: String,
    pub actor: Actor,
    pub purpose: Purpose,
    /// The configured legal basis for `purpose`, copied in so each record stands alone.
    pub legal_basis: String,
    pub categories: Vec<DataCategory>,
    pub event: Event,
    pub hmac: String,
}

/// The part of a record that the HMAC covers: everything but the tag itself.
#[derive(Serialize)]
struct Signed<'a> {
    seq: u64,
    time: Timestamp,
    prev: &'a str,
    actor: &'a Actor,
    purpose: Purpose,
    legal_basis: &'a str,
    categories: &'a [DataCategory],
    event: &'a Event,
}

impl Record {
    /// Builds and signs the record that follows `prev`, returning it with its line.
    pub(crate) fn seal(
        key: &AuditKey,
        seq: u64,
        time: Timestamp,
        prev: String,
        legal_basis: String,
        event: Event,
    ) -> (Record, String) {
        let mut record = Record {
            seq,
            time,
            prev,
            actor: event.actor(),
            purpose: event.purpose(),
            legal_basis,
            categories: event.categories(),
            event,
            hmac: String::new(),
        };
        let signed = record.signed_bytes();
        record.hmac = key.sign(RECORD_DOMAIN, signed.as_bytes());
        let line = record.line_from(&signed);
        (record, line)
    }

    fn signed_bytes(&self) -> String {
        let signed = Signed {
            seq: self.seq,
            time: self.time,
            prev: &self.prev,
            actor: &self.actor,
            purpose: self.purpose,
            legal_basis: &self.legal_basis,
            categories: &self.categories,
            event: &self.event,
        };
        serde_json::to_string(&signed).expect("records serialise: all fields are plain data")
    }

    fn line_from(&self, signed: &str) -> String {
        let open = &signed[..signed.len() - 1];
        format!(r#"{open},"hmac":"{}"}}"#, self.hmac)
    }

    /// The canonical line for this record.
    pub fn line(&self) -> String {
        self.line_from(&self.signed_bytes())
    }

    /// Reads a line back from the log: the record and whether its HMAC is good, or `None` when
    /// the line is not exactly the canonical form of a record.
    pub(crate) fn check(line: &[u8], key: &AuditKey) -> Option<(Record, bool)> {
        let (record, signed) = Record::parse_canonical(line)?;
        let authentic = key.verify(RECORD_DOMAIN, signed.as_bytes(), &record.hmac);
        Some((record, authentic))
    }

    /// The record a line holds, with its signed bytes, when the line is exactly its canonical form.
    pub(crate) fn parse_canonical(line: &[u8]) -> Option<(Record, String)> {
        let record: Record = serde_json::from_slice(line).ok()?;
        let signed = record.signed_bytes();
        (record.line_from(&signed).as_bytes() == line).then_some((record, signed))
    }
}

/// SHA-256 of a record's line, hex: what the next record's `prev` must be.
pub fn line_hash(line: &[u8]) -> String {
    secrets::hex(&Sha256::digest(line))
}

/// A signed statement "the log had `count` records and the last one hashed to `head`".
/// Kept beside the log (`audit.head`, rewritten on every append), appended to the checkpoint
/// file by `serve` and exportable for safekeeping elsewhere, so a log cut short or rolled back
/// can be told from a log that ended there. Signed twice over the same bytes: an HMAC under the
/// audit key, and Ed25519 so that the public key alone can check it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    pub count: u64,
    pub head: String,
    pub time: Timestamp,
    pub hmac: String,
    /// Absent in checkpoints written before the public key existed; those only verify with the
    /// audit key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ed25519: Option<String>,
}

#[derive(Serialize)]
struct SignedCheckpoint<'a> {
    count: u64,
    head: &'a str,
    time: Timestamp,
}

impl Checkpoint {
    pub(crate) fn sign(key: &AuditKey, count: u64, head: String, time: Timestamp) -> Checkpoint {
        let mut checkpoint = Checkpoint { count, head, time, hmac: String::new(), ed25519: None };
        let signed = checkpoint.signed_bytes();
        checkpoint.hmac = key.sign(CHECKPOINT_DOMAIN, &signed);
        checkpoint.ed25519 = Some(key.sign_public(CHECKPOINT_DOMAIN, &signed));
        checkpoint
    }

    fn signed_bytes(&self) -> Vec<u8> {
        let signed = SignedCheckpoint { count: self.count, head: &self.head, time: self.time };
        serde_json::to_vec(&signed).expect("checkpoints serialise: all fields are plain data")
    }

    /// Whether the checkpoint was signed with `key`.
    pub fn is_authentic(&self, key: &AuditKey) -> bool {
        key.verify(CHECKPOINT_DOMAIN, &self.signed_bytes(), &self.hmac)
    }

    /// Whether the checkpoint carries a good Ed25519 signature of `public`'s key.
    pub fn is_signed_by(&self, public: &PublicKey) -> bool {
        self.ed25519
            .as_deref()
            .is_some_and(|signature| public.verify(CHECKPOINT_DOMAIN, &self.signed_bytes(), signature))
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("checkpoints serialise: all fields are plain data")
    }

    pub fn from_json(text: &str) -> Result<Checkpoint, serde_json::Error> {
        serde_json::from_str(text.trim())
    }
}
