//! The one Whisper worker: a std thread owning the only [`asr::Recognizer`], shared in priority
//! order between every live consultation. whisper.cpp's threads spin on every core, so two
//! decodes at once would only slow each other; one worker runs one pass at a time.
//!
//! Three kinds of work compete for it. Text the doctor is waiting to see ([`Priority::Now`])
//! goes first. The window passes that make the kept transcript ([`Priority::Later`]) must all
//! run but may wait a moment: one that is running when text-to-show arrives is cancelled and
//! run again right after (once; the second time it finishes, so it cannot starve). Guesses made
//! while the worker would otherwise be idle ([`Priority::Spare`]: interim passes over ongoing
//! speech, early passes over a window that may still grow) are cancelled as soon as text to
//! show arrives. A cancelled pass still finishes its encoder step (whisper.cpp checks the flag
//! only between decoder steps), so text to show waits at most one encoder pass.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::oneshot;

use crate::metrics::Metrics;

/// Shortest input whisper.cpp decodes at all (it skips anything under one second).
const MIN_SAMPLES: usize = audio::TARGET_RATE as usize * 11 / 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    Now,
    Later,
    Spare,
}

/// What became of a pass.
pub type Decoded = Result<Option<Vec<asr::Recognized>>, String>;

struct Job {
    samples: Vec<f32>,
    pass: asr::Pass,
    priority: Priority,
    /// A `Later` pass already cancelled once runs to the end next time.
    cancelled_before: bool,
    reply: oneshot::Sender<Decoded>,
}

#[derive(Default)]
struct Queue {
    waiting: [VecDeque<Job>; 3],
    /// The priority of the pass running now and its cancel flag.
    running: Option<(Priority, bool, Arc<AtomicBool>)>,
    closed: bool,
}

impl Queue {
    fn len(&self) -> usize {
        self.waiting.iter().map(VecDeque::len).sum::<usize>() + usize::from(self.running.is_some())
    }

    fn next(&mut self) -> Option<Job> {
        self.waiting.iter_mut().find_map(VecDeque::pop_front)
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
}

#[derive(Clone)]
pub struct Decoder {
    shared: Arc<Shared>,
    /// Ends the worker when the last handle goes.
    _owner: Arc<Owner>,
}

struct Owner(Arc<Shared>);

impl Drop for Owner {
    fn drop(&mut self) {
        self.0.lock().closed = true;
        self.0.wake.notify_all();
    }
}

impl Decoder {
    /// Starts the worker thread; it ends when the last `Decoder` clone is dropped.
    pub fn start(mut recognizer: asr::Recognizer, metrics: Arc<Metrics>) -> Decoder {
        let shared = Arc::new(Shared { queue: Mutex::new(Queue::default()), wake: Condvar::new() });
        let worker = shared.clone();
        std::thread::Builder::new()
            .name("whisper".into())
            .spawn(move || {
                while let Some((mut job, cancel)) = worker.take() {
                    let audio_seconds = job.samples.len() as f64 / audio::TARGET_RATE as f64;
                    if job.samples.len() < MIN_SAMPLES {
                        job.samples.resize(MIN_SAMPLES, 0.0);
                    }
                    let began = Instant::now();
                    let result = recognizer.recognize_pass(&job.samples, job.pass, Some(cancel));
                    worker.lock().running = None;
                    let outcome = match &result {
                        Ok(_) => "done",
                        Err(asr::Error::Aborted) => "cancelled",
                        Err(_) => "failed",
                    };
                    tracing::debug!(pass = ?job.pass, priority = ?job.priority, audio_seconds, seconds = began.elapsed().as_secs_f64(), outcome, "whisper pass");
                    let reply = match result {
                        Ok(recognized) => {
                            metrics.decoded(audio_seconds, began.elapsed().as_secs_f64());
                            Ok(Some(recognized))
                        }
                        Err(asr::Error::Aborted) if job.priority == Priority::Later => {
                            job.cancelled_before = true;
                            worker.lock().waiting[Priority::Later as usize].push_front(job);
                            continue;
                        }
                        Err(asr::Error::Aborted) => Ok(None),
                        Err(e) => Err(e.to_string()),
                    };
                    // The track may have gone away meanwhile; its result is then of no use.
                    let _ = job.reply.send(reply);
                }
            })
            .expect("the OS starts a thread");
        Decoder { _owner: Arc::new(Owner(shared.clone())), shared }
    }

    /// Decodes up to 30 s of 16 kHz audio; times are seconds from the start of `samples`.
    /// `Ok(None)`: a `Spare` pass was cancelled for more urgent work.
    pub async fn decode(&self, samples: Vec<f32>, pass: asr::Pass, priority: Priority) -> Decoded {
        let (reply, answer) = oneshot::channel();
        {
            let mut queue = self.shared.lock();
            if let Some((running, cancelled_before, cancel)) = &queue.running {
                // Only text someone waits to see pre-empts: a window pass cancelling a guess
                // at a window would just make that window's pass wait for its turn again.
                let pre_empts = priority == Priority::Now
                    && match running {
                        Priority::Spare => true,
                        Priority::Later => !cancelled_before,
                        Priority::Now => false,
                    };
                if pre_empts {
                    cancel.store(true, Ordering::Relaxed);
                }
            }
            queue.waiting[priority as usize].push_back(Job { samples, pass, priority, cancelled_before: false, reply });
        }
        self.shared.wake.notify_one();
        answer.await.map_err(|_| "the recognition worker has stopped".to_string())?
    }

    /// No pass queued or running: a guess would delay nobody.
    pub fn idle(&self) -> bool {
        self.shared.lock().len() == 0
    }
}

impl Shared {
    /// The next job whose caller still waits for it, marked as running.
    fn take(&self) -> Option<(Job, Arc<AtomicBool>)> {
        let mut queue = self.lock();
        loop {
            if queue.closed {
                return None;
            }
            match queue.next() {
                Some(job) if job.reply.is_closed() => continue,
                Some(job) => {
                    let cancel = Arc::new(AtomicBool::new(false));
                    queue.running = Some((job.priority, job.cancelled_before, cancel.clone()));
                    return Some((job, cancel));
                }
                None => queue = self.wake.wait(queue).unwrap_or_else(|p| p.into_inner()),
            }
        }
    }
}
