//! Service counters, exposed at `/metrics` in the Prometheus text format.

use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Commit latency buckets (s); 3.3 s is the service target.
const LATENCY_BUCKETS: [f64; 9] = [0.5, 1.0, 1.5, 2.0, 2.5, 3.3, 5.0, 10.0, 30.0];

#[derive(Default)]
pub struct Metrics {
    pub sessions_started: AtomicU64,
    pub drafts_produced: AtomicU64,
    pub errors: AtomicU64,
    pub gaps: AtomicU64,
    pub duplicates: AtomicU64,
    /// Microseconds, so the sums stay exact integers.
    audio_in_us: AtomicU64,
    decoded_audio_us: AtomicU64,
    decoding_us: AtomicU64,
    latency: Mutex<Histogram>,
    hangup_to_draft: Mutex<Histogram>,
    interim_drafts: AtomicU64,
    interim_drafting_us: AtomicU64,
}

#[derive(Default)]
struct Histogram {
    counts: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, value: f64) {
        for (bucket, count) in LATENCY_BUCKETS.iter().zip(self.counts.iter_mut()) {
            if value <= *bucket {
                *count += 1;
            }
        }
        self.count += 1;
        self.sum += value;
    }

    fn write(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (bucket, count) in LATENCY_BUCKETS.iter().zip(self.counts) {
            let _ = writeln!(out, "{name}_bucket{{le=\"{bucket}\"}} {count}");
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{le=\"+Inf\"}} {}\n{name}_sum {}\n{name}_count {}",
            self.count, self.sum, self.count
        );
    }
}

fn micros(seconds: f64) -> u64 {
    (seconds.max(0.0) * 1e6) as u64
}

impl Metrics {
    pub fn audio_in(&self, seconds: f64) {
        self.audio_in_us.fetch_add(micros(seconds), Ordering::Relaxed);
    }

    pub fn decoded(&self, audio_seconds: f64, took: f64) {
        self.decoded_audio_us.fetch_add(micros(audio_seconds), Ordering::Relaxed);
        self.decoding_us.fetch_add(micros(took), Ordering::Relaxed);
    }

    pub fn commit_latency(&self, seconds: f64) {
        self.latency.lock().unwrap_or_else(|p| p.into_inner()).observe(seconds);
    }

    pub fn hangup_to_draft(&self, seconds: f64) {
        self.hangup_to_draft.lock().unwrap_or_else(|p| p.into_inner()).observe(seconds);
    }

    /// One interim draft made during a call, in `seconds` of drafting.
    pub fn interim_draft(&self, seconds: f64) {
        self.interim_drafts.fetch_add(1, Ordering::Relaxed);
        self.interim_drafting_us.fetch_add(micros(seconds), Ordering::Relaxed);
    }

    pub fn error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    /// The exposition text; `active` and `lag` come from the live session registry.
    pub fn render(&self, active: usize, lag_seconds: f64) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let seconds = |c: &AtomicU64| get(c) as f64 / 1e6;
        let decoded = seconds(&self.decoded_audio_us);
        let rtf = if decoded > 0.0 { seconds(&self.decoding_us) / decoded } else { 0.0 };
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, value: f64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
        };
        metric("autonotar_active_sessions", "gauge", "Consultations taking audio or being finalised.", active as f64);
        metric("autonotar_sessions_total", "counter", "Consultations started.", get(&self.sessions_started) as f64);
        metric(
            "autonotar_audio_seconds_in_total",
            "counter",
            "Seconds of audio received, all tracks.",
            seconds(&self.audio_in_us),
        );
        metric(
            "autonotar_transcription_lag_seconds",
            "gauge",
            "Most audio any track has received but not yet processed.",
            lag_seconds,
        );
        metric(
            "autonotar_decoded_audio_seconds_total",
            "counter",
            "Seconds of audio Whisper has decoded (interim passes included).",
            decoded,
        );
        metric(
            "autonotar_decoding_seconds_total",
            "counter",
            "Seconds of the whole Whisper decoder its passes used (a pass on one of two cores counts half its time).",
            seconds(&self.decoding_us),
        );
        metric(
            "autonotar_real_time_factor",
            "gauge",
            "Decoder time per second of audio decoded, as decoding_seconds_total counts it (below 1 keeps up).",
            rtf,
        );
        metric(
            "autonotar_drafts_produced_total",
            "counter",
            "draft_ready events sent.",
            get(&self.drafts_produced) as f64,
        );
        metric(
            "autonotar_interim_drafts_total",
            "counter",
            "Drafts made during calls from the text committed so far.",
            get(&self.interim_drafts) as f64,
        );
        metric(
            "autonotar_interim_drafting_seconds_total",
            "counter",
            "Time spent making them, off the Whisper worker.",
            get(&self.interim_drafting_us) as f64 / 1e6,
        );
        metric("autonotar_errors_total", "counter", "Protocol and processing errors.", get(&self.errors) as f64);
        metric("autonotar_gaps_total", "counter", "Sequence gaps detected.", get(&self.gaps) as f64);
        metric("autonotar_duplicates_total", "counter", "Duplicate frames dropped.", get(&self.duplicates) as f64);
        self.latency.lock().unwrap_or_else(|p| p.into_inner()).write(
            &mut out,
            "autonotar_commit_latency_seconds",
            "From the arrival of a committed segment's last audio to its commit.",
        );
        self.hangup_to_draft.lock().unwrap_or_else(|p| p.into_inner()).write(
            &mut out,
            "autonotar_hangup_to_draft_seconds",
            "From stop (or idle timeout) to draft_ready.",
        );
        out
    }
}
