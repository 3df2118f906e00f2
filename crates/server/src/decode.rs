//! The seam between the live service and whatever runs its Whisper passes: the [`Decode`]
//! trait. [`local`] runs them on this machine's cores (`decoder`); the `cluster` crate runs them
//! on workers behind NATS JetStream. The tracks' commit policy (`pipeline`) sees only
//! [`Decoder`], which pads short audio, counts what was decoded and holds the speaking guards,
//! the same for every backend.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use tokio::sync::oneshot;

use crate::metrics::Metrics;

/// Shortest input whisper.cpp decodes at all (it skips anything under one second).
const MIN_SAMPLES: usize = audio::TARGET_RATE as usize * 11 / 10;

/// Which work goes first when passes wait for a core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Priority {
    /// Text the doctor is waiting to see.
    Now,
    /// The last window passes of a consultation that has hung up: its draft waits for them.
    Final,
    /// The window passes that make the kept transcript while the call goes on.
    Later,
    /// Guesses made while cores would otherwise be idle: interim passes over ongoing speech,
    /// early passes over a window that may still grow.
    Spare,
}

impl Priority {
    pub const ALL: [Priority; 4] = [Priority::Now, Priority::Final, Priority::Later, Priority::Spare];

    pub fn name(self) -> &'static str {
        match self {
            Priority::Now => "now",
            Priority::Final => "final",
            Priority::Later => "later",
            Priority::Spare => "spare",
        }
    }
}

/// A submitted pass's priority, which its caller may raise while the pass waits: the window
/// passes of a consultation that hangs up become [`Priority::Final`], an early pass that turns
/// out to cover a complete window becomes a window pass ([`Priority::Later`] during the call,
/// [`Priority::Final`] at hang-up).
#[derive(Clone, Debug)]
pub struct Urgency(Arc<AtomicU8>);

impl Urgency {
    pub fn new(priority: Priority) -> Urgency {
        Urgency(Arc::new(AtomicU8::new(priority as u8)))
    }

    pub fn get(&self) -> Priority {
        Priority::ALL[self.0.load(Ordering::Relaxed) as usize]
    }

    /// Makes the pass at least as urgent as `priority`; true if that raised it.
    pub(crate) fn raise(&self, priority: Priority) -> bool {
        self.0.fetch_min(priority as u8, Ordering::Relaxed) > priority as u8
    }
}

/// What a backend answers for one pass.
#[derive(Debug)]
pub struct Decoded {
    pub recognized: Vec<asr::Recognized>,
    /// Seconds of the backend's whole capacity the pass used: a pass on one of two local cores
    /// counts half its time, a pass on a remote worker its time on that worker.
    pub busy_seconds: f64,
}

pub type Answer = Result<Decoded, String>;

/// Runs Whisper passes for every live consultation of a service.
pub trait Decode: Send + Sync {
    /// Queues a pass over 16 kHz audio (at least [`MIN_SAMPLES`] long; [`Decoder`] pads) at
    /// `urgency`, which may rise while it waits. The answer comes on the receiver; a caller that
    /// drops it no longer wants a pass that has not started, and a backend may skip it.
    fn submit(&self, samples: Vec<f32>, pass: asr::Pass, urgency: Urgency) -> oneshot::Receiver<Answer>;

    /// Some waiting pass's [`Urgency`] was raised.
    fn urgency_raised(&self) {}

    /// A guess of kind `pass` would start at once and delay nobody.
    fn idle_for(&self, pass: asr::Pass) -> bool;

    /// A track began speaking; [`Decode::speech_ended`] follows when it stops.
    fn speech_began(&self) {}

    fn speech_ended(&self) {}

    /// The backend's own lines for `/metrics`, in the Prometheus text format.
    fn write_metrics(&self, _out: &mut String) {}
}

/// Passes on this machine's cores: one Whisper model, one worker thread per core of the
/// recognizer's `threads` budget.
pub fn local(recognizer: asr::Recognizer) -> Arc<dyn Decode> {
    Arc::new(crate::decoder::LocalDecoder::start(recognizer))
}

/// The backend as the tracks use it.
#[derive(Clone)]
pub(crate) struct Decoder {
    backend: Arc<dyn Decode>,
    metrics: Arc<Metrics>,
}

impl Decoder {
    pub fn new(backend: Arc<dyn Decode>, metrics: Arc<Metrics>) -> Decoder {
        Decoder { backend, metrics }
    }

    /// Decodes up to 30 s of 16 kHz audio; times are seconds from the start of `samples`.
    pub async fn decode(
        &self,
        mut samples: Vec<f32>,
        pass: asr::Pass,
        urgency: Urgency,
    ) -> Result<Vec<asr::Recognized>, String> {
        let audio_seconds = samples.len() as f64 / audio::TARGET_RATE as f64;
        if samples.len() < MIN_SAMPLES {
            samples.resize(MIN_SAMPLES, 0.0);
        }
        let answer = self.backend.submit(samples, pass, urgency);
        let decoded = answer.await.map_err(|_| "the recognition worker has stopped".to_string())??;
        self.metrics.decoded(audio_seconds, decoded.busy_seconds);
        Ok(decoded.recognized)
    }

    pub fn idle_for(&self, pass: asr::Pass) -> bool {
        self.backend.idle_for(pass)
    }

    /// Makes a waiting pass at least as urgent as `priority`.
    pub fn raise(&self, urgency: &Urgency, priority: Priority) {
        if urgency.raise(priority) {
            self.backend.urgency_raised();
        }
    }

    /// Someone speaks on a track until the returned guard is dropped: the backend may then keep
    /// cores free for the text that speech will need.
    pub fn speaking(&self) -> Speaking {
        self.backend.speech_began();
        Speaking(self.backend.clone())
    }

    pub fn write_metrics(&self, out: &mut String) {
        self.backend.write_metrics(out);
    }
}

/// A track in the middle of speech, as [`Decoder::speaking`] counts it.
pub(crate) struct Speaking(Arc<dyn Decode>);

impl Drop for Speaking {
    fn drop(&mut self) {
        self.0.speech_ended();
    }
}
