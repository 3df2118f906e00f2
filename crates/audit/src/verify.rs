//! Walks the whole chain and names the first thing wrong with it.

use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::iter::Peekable;
use std::path::Path;

use serde::Deserialize;

use crate::record::{GENESIS_HASH, line_hash};
use crate::segments::{Lines, Segment, list_segments, read_head, segment_name};
use crate::{AuditError, AuditKey, Checkpoint, Record, Result, Timestamp};

#[derive(Clone, Debug, Default)]
pub struct VerifyOptions {
    /// Check from the segment holding the first record at/after this time; earlier segments
    /// may have been archived. Links between the records read are still checked.
    pub from: Option<Timestamp>,
    /// A checkpoint kept elsewhere: the log must still contain exactly the record it vouches for.
    pub checkpoint: Option<Checkpoint>,
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
    TruncatedTail { last: u64, vouched: u64, by: &'static str },
    /// Record `seq` is not the one `by` vouches for.
    CheckpointMismatch { seq: u64, by: &'static str },
    /// `by` is not signed with the audit key, or cannot be read.
    CheckpointInvalid { by: &'static str },
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

/// Verifies the log in `dir` under `key`. `Err` is for failures to read; tampering is `Ok(Broken)`.
pub fn verify(dir: &Path, key: &AuditKey, options: &VerifyOptions) -> Result<Verification> {
    let segments = list_segments(dir)?;
    let mut vouchers: Vec<(&'static str, Checkpoint)> = Vec::new();
    let head = match read_head(dir) {
        Ok(head) => head,
        Err(AuditError::BadCheckpoint { .. }) => {
            return Ok(broken(None, FaultKind::CheckpointInvalid { by: "audit.head" }));
        }
        Err(other) => return Err(other),
    };
    let head_present = head.is_some();
    for (by, checkpoint) in [("audit.head", head), ("the checkpoint", options.checkpoint.clone())] {
        if let Some(checkpoint) = checkpoint {
            if !checkpoint.is_authentic(key) {
                return Ok(broken(None, FaultKind::CheckpointInvalid { by }));
            }
            vouchers.push((by, checkpoint));
        }
    }

    // With `from`, whatever precedes the starting segment may have been archived away.
    let (start, from_genesis) = match options.from {
        Some(from) => (start_segment(&segments, from)?, false),
        None => (0, true),
    };
    let mut walk = Walk {
        key,
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
    for (by, checkpoint) in &vouchers {
        if checkpoint.count > walk.last_seq {
            return Ok(broken(None, FaultKind::TruncatedTail { last: walk.last_seq, vouched: checkpoint.count, by }));
        }
    }
    if !head_present && walk.last_seq > 0 {
        return Ok(broken(None, FaultKind::HeadMissing));
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
    key: &'a AuditKey,
    from: Option<Timestamp>,
    vouchers: &'a [(&'static str, Checkpoint)],
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
        let Some((record, authentic)) = Record::check(bytes, self.key).filter(|_| complete) else {
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
        if let Some((by, _)) =
            self.vouchers.iter().find(|(_, checkpoint)| checkpoint.count == record.seq && checkpoint.head != hash)
        {
            return Ok(Some(FaultKind::CheckpointMismatch { seq: record.seq, by }));
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
