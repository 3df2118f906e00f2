//! The one Whisper worker: a std thread owning the only [`asr::Recognizer`], fed by a bounded
//! queue. whisper.cpp's threads spin on every core, so two decodes at once would only slow
//! each other; one worker in first-come order, with each track waiting for its own result
//! before queueing the next job, shares it fairly between all live consultations.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};

use crate::metrics::Metrics;

/// Shortest input whisper.cpp decodes at all (it skips anything under one second).
const MIN_SAMPLES: usize = audio::TARGET_RATE as usize * 11 / 10;

struct Job {
    samples: Vec<f32>,
    reply: oneshot::Sender<Result<Vec<asr::Recognized>, String>>,
}

#[derive(Clone)]
pub struct Decoder {
    jobs: mpsc::Sender<Job>,
    /// Jobs queued or running.
    busy: Arc<AtomicUsize>,
}

impl Decoder {
    /// Starts the worker thread; it ends when the last `Decoder` clone is dropped.
    pub fn start(mut recognizer: asr::Recognizer, queue: usize, metrics: Arc<Metrics>) -> Decoder {
        let (jobs, mut rx) = mpsc::channel::<Job>(queue.max(1));
        let busy = Arc::new(AtomicUsize::new(0));
        let counter = busy.clone();
        std::thread::Builder::new()
            .name("whisper".into())
            .spawn(move || {
                while let Some(mut job) = rx.blocking_recv() {
                    let audio_seconds = job.samples.len() as f64 / audio::TARGET_RATE as f64;
                    if job.samples.len() < MIN_SAMPLES {
                        job.samples.resize(MIN_SAMPLES, 0.0);
                    }
                    let began = Instant::now();
                    let result = recognizer.recognize(&job.samples).map_err(|e| e.to_string());
                    metrics.decoded(audio_seconds, began.elapsed().as_secs_f64());
                    counter.fetch_sub(1, Ordering::SeqCst);
                    // The track may have gone away meanwhile; its result is then of no use.
                    let _ = job.reply.send(result);
                }
            })
            .expect("the OS starts a thread");
        Decoder { jobs, busy }
    }

    /// Decodes up to 30 s of 16 kHz audio; times are seconds from the start of `samples`.
    pub async fn decode(&self, samples: Vec<f32>) -> Result<Vec<asr::Recognized>, String> {
        let (reply, answer) = oneshot::channel();
        self.busy.fetch_add(1, Ordering::SeqCst);
        if self.jobs.send(Job { samples, reply }).await.is_err() {
            self.busy.fetch_sub(1, Ordering::SeqCst);
            return Err("the recognition worker has stopped".into());
        }
        answer.await.map_err(|_| "the recognition worker has stopped".to_string())?
    }

    /// No job queued or running: an optional (interim) pass would delay nobody.
    pub fn idle(&self) -> bool {
        self.busy.load(Ordering::SeqCst) == 0
    }
}
