//! The log's files: numbered segments `audit-000001.jsonl`, … and the head checkpoint.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, ErrorKind};
use std::path::{Path, PathBuf};

use crate::{AuditError, Checkpoint, Result};

/// Name of the checkpoint the writer keeps beside the segments.
pub const HEAD_FILE: &str = "audit.head";

pub(crate) fn segment_name(index: u32) -> String {
    format!("audit-{index:06}.jsonl")
}

/// One segment file of the log.
#[derive(Clone, Debug)]
pub(crate) struct Segment {
    pub index: u32,
    pub path: PathBuf,
}

impl Segment {
    pub fn name(&self) -> String {
        segment_name(self.index)
    }
}

/// The segments in `dir`, in chain order. A missing directory is an empty log.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<Segment>> {
    let entries = match fs::read_dir(dir) {
        Err(error) if error.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        other => other.map_err(AuditError::io("listing audit log directory", dir))?,
    };
    let mut segments = Vec::new();
    for entry in entries {
        let entry = entry.map_err(AuditError::io("listing audit log directory", dir))?;
        let name = entry.file_name();
        let index = name
            .to_str()
            .and_then(|name| name.strip_prefix("audit-"))
            .and_then(|rest| rest.strip_suffix(".jsonl"))
            .filter(|digits| digits.len() == 6)
            .and_then(|digits| digits.parse::<u32>().ok());
        if let Some(index) = index {
            segments.push(Segment { index, path: entry.path() });
        }
    }
    segments.sort_by_key(|segment| segment.index);
    Ok(segments)
}

/// Reads the head checkpoint, if there is one.
/// An empty or missing head is no head: the writer creates the file before its first record.
pub(crate) fn read_head(dir: &Path) -> Result<Option<Checkpoint>> {
    let path = dir.join(HEAD_FILE);
    let text = match fs::read_to_string(&path) {
        Err(error) if error.kind() == ErrorKind::NotFound => return Ok(None),
        other => other.map_err(AuditError::io("reading audit head", &path))?,
    };
    if text.trim().is_empty() {
        return Ok(None);
    }
    parse_checkpoint(&text, &path).map(Some)
}

pub(crate) fn parse_checkpoint(text: &str, path: &Path) -> Result<Checkpoint> {
    Checkpoint::from_json(text)
        .map_err(|error| AuditError::BadCheckpoint { path: path.into(), reason: error.to_string() })
}

/// One line of a segment. `complete` is false for a last line without its newline.
pub(crate) struct LogLine {
    pub segment: u32,
    pub line_no: u64,
    pub bytes: Vec<u8>,
    pub complete: bool,
}

/// Streams every line of the given segments in order.
pub(crate) struct Lines {
    pending: std::vec::IntoIter<Segment>,
    current: Option<(u32, BufReader<File>, u64)>,
}

impl Lines {
    pub fn new(segments: Vec<Segment>) -> Lines {
        Lines { pending: segments.into_iter(), current: None }
    }
}

impl Iterator for Lines {
    type Item = Result<LogLine>;

    fn next(&mut self) -> Option<Result<LogLine>> {
        loop {
            let Some((segment, reader, line_no)) = self.current.as_mut() else {
                let next = self.pending.next()?;
                let file = match File::open(&next.path) {
                    Ok(file) => file,
                    Err(error) => {
                        return Some(Err(AuditError::io("opening audit log", next.path)(error)));
                    }
                };
                self.current = Some((next.index, BufReader::with_capacity(1 << 16, file), 0));
                continue;
            };
            let mut bytes = Vec::new();
            match reader.read_until(b'\n', &mut bytes) {
                Err(error) => {
                    let path = segment_name(*segment);
                    return Some(Err(AuditError::io("reading audit log", path)(error)));
                }
                Ok(0) => self.current = None,
                Ok(_) => {
                    *line_no += 1;
                    let complete = bytes.last() == Some(&b'\n');
                    if complete {
                        bytes.pop();
                    }
                    return Some(Ok(LogLine { segment: *segment, line_no: *line_no, bytes, complete }));
                }
            }
        }
    }
}

/// Every record in `dir` that can be read, in log order, without checking the chain (run
/// [`crate::verify`] for that), and how many lines could not be read as records.
pub fn read_records(dir: &Path) -> Result<(Vec<crate::Record>, u64)> {
    let mut records = Vec::new();
    let mut unreadable = 0;
    for line in Lines::new(list_segments(dir)?) {
        match serde_json::from_slice(&line?.bytes) {
            Ok(record) => records.push(record),
            Err(_) => unreadable += 1,
        }
    }
    Ok((records, unreadable))
}
