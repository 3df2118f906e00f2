//! The one Whisper worker: a std thread owning the only [`asr::Recognizer`], shared in priority
//! order between every live consultation. whisper.cpp's threads spin on every core, so two
//! decodes at once would only slow each other; one worker runs one pass at a time.
//!
//! Three kinds of work compete for it. Text the doctor is waiting to see ([`Priority::Now`])
//! goes first; the window passes that make the kept transcript ([`Priority::Later`]) next; guesses
//! made while the worker would otherwise be idle ([`Priority::Spare`]: interim passes over
//! ongoing speech, early passes over a window that may still grow) last. A pass that has started
//! runs to its end: whisper.cpp's encoder step, the bulk of a pass, cannot be interrupted, so
//! cancelling a pass would throw its work away while saving the waiting text little.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::oneshot;

use crate::metrics::Metrics;

/// Shortest input whisper.cpp decodes at all (it skips anything under one second).
const MIN_SAMPLES: usize = audio::TARGET_RATE as usize * 11 / 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    Now,
    Later,
    Spare,
}

struct Job {
    samples: Vec<f32>,
    pass: asr::Pass,
    reply: oneshot::Sender<Result<Vec<asr::Recognized>, String>>,
}

#[derive(Default)]
struct Queue {
    /// Waiting jobs, one queue per priority, in [`Priority`] order.
    waiting: [VecDeque<Job>; 3],
    running: bool,
    closed: bool,
}

impl Queue {
    fn busy(&self) -> bool {
        self.running || self.waiting.iter().any(|q| !q.is_empty())
    }
}

struct Shared {
    queue: Mutex<Queue>,
    wake: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The next job whose caller still waits for it, marked as running; `None` once closed.
    fn take(&self) -> Option<Job> {
        let mut queue = self.lock();
        loop {
            if queue.closed {
                return None;
            }
            match queue.waiting.iter_mut().find_map(VecDeque::pop_front) {
                // Its caller gave up (an early pass over a window that has grown since).
                Some(job) if job.reply.is_closed() => continue,
                Some(job) => {
                    queue.running = true;
                    return Some(job);
                }
                None => queue = self.wake.wait(queue).unwrap_or_else(|p| p.into_inner()),
            }
        }
    }
}

/// Ends the worker when the last [`Decoder`] clone goes.
struct Owner(Arc<Shared>);

impl Drop for Owner {
    fn drop(&mut self) {
        self.0.lock().closed = true;
        self.0.wake.notify_all();
    }
}

#[derive(Clone)]
pub struct Decoder {
    owner: Arc<Owner>,
}

impl Decoder {
    /// Starts the worker thread; it ends when the last `Decoder` clone is dropped.
    pub fn start(mut recognizer: asr::Recognizer, metrics: Arc<Metrics>) -> Decoder {
        let shared = Arc::new(Shared { queue: Mutex::new(Queue::default()), wake: Condvar::new() });
        let worker = shared.clone();
        std::thread::Builder::new()
            .name("whisper".into())
            .spawn(move || {
                while let Some(mut job) = worker.take() {
                    let audio_seconds = job.samples.len() as f64 / audio::TARGET_RATE as f64;
                    if job.samples.len() < MIN_SAMPLES {
                        job.samples.resize(MIN_SAMPLES, 0.0);
                    }
                    let began = Instant::now();
                    let result = recognizer.recognize_pass(&job.samples, job.pass).map_err(|e| e.to_string());
                    let seconds = began.elapsed().as_secs_f64();
                    worker.lock().running = false;
                    metrics.decoded(audio_seconds, seconds);
                    tracing::debug!(pass = ?job.pass, audio_seconds, seconds, ok = result.is_ok(), "whisper pass");
                    // The track may have gone away meanwhile; its result is then of no use.
                    let _ = job.reply.send(result);
                }
            })
            .expect("the OS starts a thread");
        Decoder { owner: Arc::new(Owner(shared)) }
    }

    /// Decodes up to 30 s of 16 kHz audio; times are seconds from the start of `samples`.
    pub async fn decode(
        &self,
        samples: Vec<f32>,
        pass: asr::Pass,
        priority: Priority,
    ) -> Result<Vec<asr::Recognized>, String> {
        let (reply, answer) = oneshot::channel();
        let shared = &self.owner.0;
        shared.lock().waiting[priority as usize].push_back(Job { samples, pass, reply });
        shared.wake.notify_one();
        answer.await.map_err(|_| "the recognition worker has stopped".to_string())?
    }

    /// No pass queued or running: a guess would delay nobody.
    pub fn idle(&self) -> bool {
        !self.owner.0.lock().busy()
    }
}
