//! Walks the whole chain and names the first thing wrong with it.

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::iter::Peekable;
use std::path::Path;

use serde::Deserialize;

use crate::record::{GENESIS_HASH, line_hash};
use crate::segments::{Lines, Segment, list_segments, read_head, segment_name};
use crate::{AuditError, AuditKey, Checkpoint, PublicKey, Record, Result, Timestamp};

#[derive(Clone, Debug, Default)]
pub struct VerifyOptions {
    /// Check from the segment holding the first record at/after this time; earlier segments
    /// may have been archived. Links between the records read are still checked.
    pub from: Option<Timestamp>,
    /// Checkpoints kept elsewhere (the automatic checkpoint file, exported ones): the log must
    /// still contain exactly the record each vouches for.
    pub checkpoints: Vec<Checkpoint>,
}

/// What the verifier checks signatures with.
#[derive(Clone, Copy, Debug)]
pub enum Trust<'a> {
    /// The audit key: every record's HMAC and every checkpoint's.
    Secret(&'a AuditKey),
    /// Only the public key: each checkpoint's Ed25519 signature, and the hash chain that ties
    /// every record up to the newest checkpoint to it. Records after the newest signed
    /// checkpoint cannot be vouched for this way and are reported.
    Public(&'a PublicKey),
}

impl<'a> From<&'a AuditKey> for Trust<'a> {
    fn from(key: &'a AuditKey) -> Trust<'a> {
        Trust::Secret(key)
    }
}

impl<'a> From<&'a PublicKey> for Trust<'a> {
    fn from(public: &'a PublicKey) -> Trust<'a> {
        Trust::Public(public)
    }
}

impl Trust<'_> {
    fn accepts(&self, checkpoint: &Checkpoint) -> bool {
        match self {
            Trust::Secret(key) => checkpoint.is_authentic(key),
            Trust::Public(public) => checkpoint.is_signed_by(public),
        }
    }

    fn invalid(&self, by: String) -> FaultKind {
        match self {
            Trust::Secret(_) => FaultKind::CheckpointInvalid { by },
            Trust::Public(_) => FaultKind::CheckpointUnsigned { by },
        }
    }

    /// The record in `line` and whether its signature holds (always, when only the public key
    /// is at hand: then the chain and the checkpoints carry the proof).
    fn record(&self, line: &[u8]) -> Option<(Record, bool)> {
        match self {
            Trust::Secret(key) => Record::check(line, key),
            Trust::Public(_) => Record::parse_canonical(line).map(|(record, _)| (record, true)),
        }
    }
}

/// The outcome of [`verify`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verification {
    Intact {
        /// Records in the log (the last `seq`).
        records: u64,
        /// Records at/after `from` (all of them without `from`).
        checked: u64,
        /// Hash of the last record: what a checkpoint of this log would vouch for.
        head: String,
    },
    Broken(Fault),
}

/// The first problem found, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    /// Segment file and 1-based line, when the fault is at a line.
    pub place: Option<(String, u64)>,
    pub kind: FaultKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// The line was changed after the next record was chained to it (or is no record at all).
    Modified { seq: Option<u64> },
    /// The record is in its place in the chain but was not signed with the audit key.
    BadHmac { seq: u64 },
    /// Records `first..=last` are gone.
    Missing { first: u64, last: u64 },
    /// A whole segment file is gone.
    MissingFile { name: String },
    /// Record `found` stands where `expected` should be, and `expected` comes later (or earlier).
    Reordered { expected: u64, found: u64 },
    /// The record's `prev` does not hash-link to the record before it.
    ChainBroken { seq: u64 },
    /// The last line stops mid-record.
    IncompleteTail,
    /// The log ends at `last` but `by` vouches for `vouched` records.
    TruncatedTail { last: u64, vouched: u64, by: String },
    /// Record `seq` is not the one `by` vouches for.
    CheckpointMismatch { seq: u64, by: String },
    /// `by` is not signed with the audit key, or cannot be read.
    CheckpointInvalid { by: String },
    /// `by` carries no good Ed25519 signature of the public key verified with.
    CheckpointUnsigned { by: String },
    /// Verified with the public key only: records `first..=last` come after the newest signed
    /// checkpoint, so nothing signed vouches for them.
    Unvouched { first: u64, last: u64 },
    /// Without the head checkpoint a cut-off tail cannot be detected.
    HeadMissing,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            FaultKind::Modified { seq: Some(seq) } => {
                write!(f, "modified: record {seq} no longer matches its HMAC and the next record's link")
            }
            FaultKind::Modified { seq: None } => {
                write!(f, "modified: the line is not a valid audit record")
            }
            FaultKind::BadHmac { seq } => {
                write!(f, "bad HMAC: record {seq} was not written with the audit key (forged or altered)")
            }
            FaultKind::Missing { first, last } if first == last => {
                write!(f, "missing: record {first} was deleted")
            }
            FaultKind::Missing { first, last } => {
                write!(f, "missing: records {first}–{last} were deleted")
            }
            FaultKind::MissingFile { name } => {
                write!(f, "missing file: segment {name} was deleted")
            }
            FaultKind::Reordered { expected, found } => {
                write!(f, "reordered: found record {found} where record {expected} belongs")
            }
            FaultKind::ChainBroken { seq } => {
                write!(f, "chain broken: record {seq} does not link to the record before it")
            }
            FaultKind::IncompleteTail => {
                write!(f, "truncated tail: the last record is cut off mid-line")
            }
            FaultKind::TruncatedTail { last, vouched, by } => {
                write!(f, "truncated tail: the log ends at record {last} but {by} vouches for {vouched} records")
            }
            FaultKind::CheckpointMismatch { seq, by } => {
                write!(f, "modified: record {seq} is not the record {by} vouches for")
            }
            FaultKind::CheckpointInvalid { by } => {
                write!(f, "bad HMAC: {by} is not a checkpoint signed with this audit key")
            }
            FaultKind::CheckpointUnsigned { by } => {
                write!(f, "bad signature: {by} carries no Ed25519 signature of this public key")
            }
            FaultKind::Unvouched { first, last } => write!(
                f,
                "not vouched for: records {first}–{last} come after the newest signed checkpoint; \
                 only the audit key can check them"
            ),
            FaultKind::HeadMissing => write!(f, "truncated tail cannot be ruled out: audit.head was deleted"),
        }?;
        if let Some((file, line)) = &self.place {
            write!(f, " ({file} line {line})")?;
        }
        Ok(())
    }
}

#[derive(Deserialize)]
struct Position {
    seq: u64,
    time: Timestamp,
    prev: String,
}

fn position(bytes: &[u8]) -> Option<Position> {
    serde_json::from_slice(bytes).ok()
}

/// Verifies the log in `dir` under the audit key or its public key. `Err` is for failures to
/// read; tampering is `Ok(Broken)`.
pub fn verify<'a>(dir: &Path, trust: impl Into<Trust<'a>>, options: &VerifyOptions) -> Result<Verification> {
    let trust = trust.into();
    let segments = list_segments(dir)?;
    let head = match read_head(dir) {
        Ok(head) => head,
        Err(AuditError::BadCheckpoint { .. }) => {
            return Ok(broken(None, trust.invalid("audit.head".into())));
        }
        Err(other) => return Err(other),
    };
    let head_present = head.is_some();
    let labelled =
        options.checkpoints.iter().map(|checkpoint| (format!("the checkpoint of {}", checkpoint.time), checkpoint));
    let mut vouchers = Vouchers::default();
    for (by, checkpoint) in head.iter().map(|head| ("audit.head".to_owned(), head)).chain(labelled) {
        if !trust.accepts(checkpoint) {
            return Ok(broken(None, trust.invalid(by)));
        }
        vouchers.add(by, checkpoint);
    }

    // With `from`, whatever precedes the starting segment may have been archived away.
    let (start, from_genesis) = match options.from {
        Some(from) => (start_segment(&segments, from)?, false),
        None => (0, true),
    };
    let mut walk = Walk {
        trust,
        from: options.from,
        vouchers: &vouchers,
        expected_seq: from_genesis.then_some(1),
        prev_hash: from_genesis.then(|| GENESIS_HASH.to_owned()),
        last_seq: 0,
        checked: 0,
    };
    if let Some(fault) = walk.run(&segments[start..], from_genesis.then_some(1))? {
        return Ok(Verification::Broken(fault));
    }
    if let Some((by, vouched)) = vouchers.furthest.clone().filter(|(_, vouched)| *vouched > walk.last_seq) {
        return Ok(broken(None, FaultKind::TruncatedTail { last: walk.last_seq, vouched, by }));
    }
    if !head_present && walk.last_seq > 0 {
        return Ok(broken(None, FaultKind::HeadMissing));
    }
    let vouched_up_to = vouchers.furthest.as_ref().map_or(0, |(_, vouched)| *vouched);
    if matches!(trust, Trust::Public(_)) && walk.last_seq > vouched_up_to {
        return Ok(broken(None, FaultKind::Unvouched { first: vouched_up_to + 1, last: walk.last_seq }));
    }
    Ok(Verification::Intact {
        records: walk.last_seq,
        checked: walk.checked,
        head: walk.prev_hash.unwrap_or_else(|| GENESIS_HASH.to_owned()),
    })
}

fn broken(place: Option<(String, u64)>, kind: FaultKind) -> Verification {
    Verification::Broken(Fault { place, kind })
}

/// The accepted checkpoints, by the record each vouches for: a year of hourly checkpoints is
/// looked up per record without a scan.
#[derive(Default)]
struct Vouchers {
    by_seq: HashMap<u64, Vec<(String, String)>>,
    /// The checkpoint vouching for the most records, and that count.
    furthest: Option<(String, u64)>,
}

impl Vouchers {
    fn add(&mut self, by: String, checkpoint: &Checkpoint) {
        if self.furthest.as_ref().is_none_or(|(_, count)| checkpoint.count > *count) {
            self.furthest = Some((by.clone(), checkpoint.count));
        }
        self.by_seq.entry(checkpoint.count).or_default().push((by, checkpoint.head.clone()));
    }

    /// A checkpoint that vouches for another record at `seq` than the one hashing to `hash`.
    fn contradicting(&self, seq: u64, hash: &str) -> Option<&str> {
        self.by_seq.get(&seq)?.iter().find(|(_, head)| head != hash).map(|(by, _)| by.as_str())
    }
}

/// The last segment whose first record is at or before `from` (the first segment if none is).
fn start_segment(segments: &[Segment], from: Timestamp) -> Result<usize> {
    let mut start = 0;
    for (position, segment) in segments.iter().enumerate() {
        let file = File::open(&segment.path).map_err(AuditError::io("opening audit log", &segment.path))?;
        let mut first_line = Vec::new();
        BufReader::new(file)
            .read_until(b'\n', &mut first_line)
            .map_err(AuditError::io("reading audit log", &segment.path))?;
        match position_of_line(&first_line) {
            Some(first) if first.time <= from => start = position,
            Some(_) => break,
            None => {}
        }
    }
    Ok(start)
}

fn position_of_line(line: &[u8]) -> Option<Position> {
    position(line.strip_suffix(b"\n").unwrap_or(line))
}

struct Walk<'a> {
    trust: Trust<'a>,
    from: Option<Timestamp>,
    vouchers: &'a Vouchers,
    /// Unknown only before the first record when starting mid-log (`--from`).
    expected_seq: Option<u64>,
    prev_hash: Option<String>,
    last_seq: u64,
    checked: u64,
}

impl Walk<'_> {
    fn run(&mut self, segments: &[Segment], first_index: Option<u32>) -> Result<Option<Fault>> {
        // Which segment must precede each one, to notice a deleted file where it was.
        let mut expected_index = first_index;
        let mut gaps = Vec::new();
        for segment in segments {
            if let Some(expected) = expected_index.filter(|&expected| expected != segment.index) {
                gaps.push((segment.index, segment_name(expected)));
            }
            expected_index = Some(segment.index + 1);
        }
        let mut lines = Lines::new(segments.to_vec()).peekable();
        let mut current_segment = None;
        while let Some(line) = lines.next() {
            let line = line?;
            let place = Some((segment_name(line.segment), line.line_no));
            if current_segment != Some(line.segment) {
                current_segment = Some(line.segment);
                if let Some((_, name)) = gaps.iter().find(|(index, _)| *index == line.segment) {
                    return Ok(Some(Fault { place, kind: FaultKind::MissingFile { name: name.clone() } }));
                }
            }
            if !line.complete && lines.peek().is_none() {
                return Ok(Some(Fault { place, kind: FaultKind::IncompleteTail }));
            }
            if let Some(kind) = self.check(&line.bytes, line.complete, &mut lines)? {
                return Ok(Some(Fault { place, kind }));
            }
        }
        Ok(None)
    }

    /// Checks one line; on success advances the chain past it.
    fn check(&mut self, bytes: &[u8], complete: bool, rest: &mut Peekable<Lines>) -> Result<Option<FaultKind>> {
        let Some((record, authentic)) = self.trust.record(bytes).filter(|_| complete) else {
            return Ok(Some(FaultKind::Modified { seq: position(bytes).map(|p| p.seq) }));
        };
        if let Some(expected) = self.expected_seq.filter(|&expected| expected != record.seq) {
            let found = record.seq;
            let later = found > expected && seq_appears(rest, expected)?;
            return Ok(Some(if found < expected || later {
                FaultKind::Reordered { expected, found }
            } else {
                FaultKind::Missing { first: expected, last: found - 1 }
            }));
        }
        let hash = line_hash(bytes);
        if !authentic {
            // An edit changes the bytes the next record already chained to; a forgery made
            // without the key can fix the links but not the HMAC.
            let next_links_here = match rest.peek() {
                Some(Ok(next)) => position(&next.bytes).map(|next| next.prev == hash),
                _ => None,
            };
            return Ok(Some(match next_links_here {
                Some(false) => FaultKind::Modified { seq: Some(record.seq) },
                _ => FaultKind::BadHmac { seq: record.seq },
            }));
        }
        if self.prev_hash.as_ref().is_some_and(|prev| *prev != record.prev) {
            return Ok(Some(FaultKind::ChainBroken { seq: record.seq }));
        }
        if let Some(by) = self.vouchers.contradicting(record.seq, &hash) {
            return Ok(Some(FaultKind::CheckpointMismatch { seq: record.seq, by: by.to_owned() }));
        }
        if self.from.is_none_or(|from| record.time >= from) {
            self.checked += 1;
        }
        self.last_seq = record.seq;
        self.expected_seq = Some(record.seq + 1);
        self.prev_hash = Some(hash);
        Ok(None)
    }
}

/// Whether a record numbered `seq` appears further on (consumes the rest: we stop here anyway).
fn seq_appears(rest: &mut Peekable<Lines>, seq: u64) -> Result<bool> {
    for line in rest {
        if position(&line?.bytes).is_some_and(|position| position.seq == seq) {
            return Ok(true);
        }
    }
    Ok(false)
}
