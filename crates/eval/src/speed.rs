//! Speed and resource measurements: real-time factor, latency, peak memory, and their summaries.

use serde::{Deserialize, Serialize};

/// Timings and memory of one consultation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Speed {
    /// Length of the consultation's audio.
    pub audio_seconds: f64,
    /// Wall-clock time of the transcription stage (0 when it did not run).
    pub transcribe_seconds: f64,
    /// Wall-clock time of the drafting stage; `None` when the stage did not run.
    pub draft_seconds: Option<f64>,
    /// `transcribe_seconds / audio_seconds`: below 1 is faster than real time.
    pub real_time_factor: Option<f64>,
    /// From the end of the audio (the hang-up) to a finished draft: the part of transcription
    /// that happens after the hang-up (all of it offline; what the streaming path reports)
    /// plus drafting. `None` when the drafting stage did not run.
    pub hangup_to_draft_seconds: Option<f64>,
    /// Peak resident memory of the process while this consultation ran (see [`PeakMemory`]).
    pub peak_memory_bytes: Option<u64>,
    /// True when the peak could be reset before this consultation and no other ran at the same
    /// time; otherwise the peak is an upper bound shared with other consultations.
    pub peak_memory_is_per_consultation: bool,
}

/// `processing_seconds / audio_seconds`; `None` without audio length.
pub fn real_time_factor(processing_seconds: f64, audio_seconds: f64) -> Option<f64> {
    (audio_seconds > 0.0).then(|| processing_seconds / audio_seconds)
}

/// The part of a transcription's wall time that falls after the hang-up: what the streaming
/// path reports, or, offline, all of it. Hang-up-to-draft latency is this plus drafting time.
pub fn transcription_after_hangup(wall_seconds: f64, reported_after_hangup: Option<f64>) -> f64 {
    reported_after_hangup.unwrap_or(wall_seconds)
}

/// Mean, median and 95th percentile of a series of per-consultation values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub count: usize,
    pub mean: f64,
    pub p50: f64,
    pub p95: f64,
}

/// Summarises `values`; `None` when there are none. Percentiles interpolate linearly between
/// the two nearest ranks of the sorted values: `p(q) = v[⌊h⌋] + (h − ⌊h⌋)(v[⌊h⌋+1] − v[⌊h⌋])`
/// with `h = (n − 1) q`.
pub fn summarise(values: impl IntoIterator<Item = f64>) -> Option<Summary> {
    let mut sorted: Vec<f64> = values.into_iter().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    Some(Summary {
        count: sorted.len(),
        mean: sorted.iter().sum::<f64>() / sorted.len() as f64,
        p50: percentile(&sorted, 0.5),
        p95: percentile(&sorted, 0.95),
    })
}

/// The `q` quantile of non-empty, ascending `sorted`, interpolated as [`summarise`] documents.
pub(crate) fn percentile(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q;
    let below = h.floor() as usize;
    let above = (below + 1).min(sorted.len() - 1);
    sorted[below] + (h - below as f64) * (sorted[above] - sorted[below])
}

/// The process's peak resident set size (Linux `VmHWM`). Linux lets a process reset the peak
/// by writing `5` to `/proc/self/clear_refs`; with one job at a time, a reset before each
/// consultation makes the reading that consultation's peak. With several jobs the harness does
/// not reset (it would cut into the others' peaks), so the reading is the process's peak so
/// far, an upper bound, and the report says so.
pub struct PeakMemory;

impl PeakMemory {
    /// Resets the peak to the current resident size; false where the system does not allow it.
    pub fn reset() -> bool {
        std::fs::write("/proc/self/clear_refs", "5").is_ok()
    }

    /// The peak resident size in bytes since the last reset, where the system reports it.
    pub fn read() -> Option<u64> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kib: u64 = line.trim_start_matches("VmHWM:").trim().trim_end_matches("kB").trim().parse().ok()?;
        Some(kib * 1024)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_by_hand() {
        // Sorted 1 2 3 4: mean 2.5; p50 at h = 1.5 → 2.5; p95 at h = 2.85 → 3 + 0.85 = 3.85.
        let s = summarise([4.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!((s.count, s.mean, s.p50), (4, 2.5, 2.5));
        assert!((s.p95 - 3.85).abs() < 1e-12);
        let one = summarise([7.0]).unwrap();
        assert_eq!((one.p50, one.p95), (7.0, 7.0));
        assert_eq!(summarise([]), None);
        assert_eq!(summarise([f64::NAN]), None);
    }

    #[test]
    fn real_time_factor_and_latency_by_hand() {
        // 30 s to transcribe 120 s of audio: RTF 0.25.
        assert_eq!(real_time_factor(30.0, 120.0), Some(0.25));
        assert_eq!(real_time_factor(30.0, 0.0), None);
        // Offline, all 30 s come after the hang-up; streaming reports its 2 s of finalising.
        // With 5 s of drafting: 35 s and 7 s from hang-up to draft.
        assert_eq!(transcription_after_hangup(30.0, None) + 5.0, 35.0);
        assert_eq!(transcription_after_hangup(30.0, Some(2.0)) + 5.0, 7.0);
    }

    #[test]
    fn peak_memory_is_read_on_linux() {
        PeakMemory::reset();
        let peak = PeakMemory::read().expect("Linux reports VmHWM");
        assert!(peak > 0);
    }
}
