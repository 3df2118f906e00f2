//! The worker's side: take the most urgent pass from the work queue, decode it, hand the result
//! to the gateway that asked, and only then acknowledge the job.
//!
//! One pass at a time, on all of the recognizer's threads: a worker is sized by its cores and
//! the cluster by its workers. While a pass runs the worker tells JetStream it is still working
//! on it (three times per `ack_wait`), so a long pass is not redelivered while a dead worker's
//! pass is, one `ack_wait` after its last word. A worker keeps nothing: no file is written and
//! no spoken word is logged.

use std::fmt::Write;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_nats::HeaderMap;
use async_nats::jetstream::{self, AckKind};
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::watch;
use zeroize::Zeroizing;

use server::decode::Priority;

use crate::seal::{Kind, OpenError};
use crate::wire::{self, Heartbeat, Outcome};
use crate::{Error, Settings};

/// How long an idle worker waits before looking at the queue again.
const IDLE_POLL: Duration = Duration::from_millis(20);

/// What a worker has done, for its `/metrics`.
#[derive(Default)]
pub struct Stats {
    passes: AtomicU64,
    failed: AtomicU64,
    other_key: AtomicU64,
    redelivered: AtomicU64,
    /// Milliseconds, so the counters stay atomic.
    pass_millis: AtomicU64,
    audio_millis: AtomicU64,
    in_pass: AtomicU64,
    /// Milliseconds of audio in the pass under way, and its priority's place in
    /// [`Priority::ALL`].
    audio_in_pass_millis: AtomicU64,
    priority_in_pass: AtomicUsize,
}

impl Stats {
    /// The worker's lines for `/metrics`, in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let counters = [
            ("passes_total", "Passes decoded and handed to their gateway.", self.passes.load(Ordering::Relaxed) as f64),
            ("failed_passes_total", "Passes Whisper failed on.", self.failed.load(Ordering::Relaxed) as f64),
            (
                "other_key_jobs_total",
                "Jobs sealed under another cluster key than this worker's, put back.",
                self.other_key.load(Ordering::Relaxed) as f64,
            ),
            (
                "redelivered_passes_total",
                "Passes that had been delivered to a worker before.",
                self.redelivered.load(Ordering::Relaxed) as f64,
            ),
            ("pass_seconds_total", "Seconds spent decoding.", self.pass_millis.load(Ordering::Relaxed) as f64 / 1000.0),
            (
                "audio_seconds_total",
                "Seconds of audio decoded.",
                self.audio_millis.load(Ordering::Relaxed) as f64 / 1000.0,
            ),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(
                out,
                "# HELP autonotar_worker_{name} {help}\n# TYPE autonotar_worker_{name} counter\nautonotar_worker_{name} {value}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP autonotar_worker_passes_in_flight Passes this worker is decoding now.\n# TYPE autonotar_worker_passes_in_flight gauge\nautonotar_worker_passes_in_flight {}",
            self.in_pass.load(Ordering::Relaxed)
        );
        out.push_str("# HELP autonotar_worker_pass_audio_seconds Seconds of audio in the pass under way, by its priority; 0 when idle.\n# TYPE autonotar_worker_pass_audio_seconds gauge\n");
        let audio = self.audio_in_pass_millis.load(Ordering::Relaxed) as f64 / 1000.0;
        let running = self.priority_in_pass.load(Ordering::Relaxed);
        for (index, priority) in Priority::ALL.iter().enumerate() {
            let seconds = if index == running { audio } else { 0.0 };
            let _ = writeln!(out, "autonotar_worker_pass_audio_seconds{{priority=\"{}\"}} {seconds}", priority.name());
        }
        out
    }
}

/// Serves passes until `shutdown` resolves. Shutdown is looked at only between passes: a pass
/// under way is finished and handed over first, so stopping a worker loses nothing and makes no
/// one wait for a redelivery.
pub async fn run(
    settings: Settings,
    recognizer: Arc<asr::Recognizer>,
    stats: Arc<Stats>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let crate::Queue { client, consumers, .. } = crate::connect(&settings).await?;
    tracing::info!(worker = %settings.name, url = %settings.shown_url(), key = %settings.key.fingerprint_hex(), "worker serving passes");
    let (stop, mut stopping) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop.send(true);
    });
    let heartbeat = tokio::spawn(beat(client.clone(), settings.name.clone()));
    let served = async {
        while !*stopping.borrow() {
            let next = tokio::select! {
                biased;
                _ = stopping.changed() => break,
                next = next_job(&consumers) => next,
            };
            match next {
                Some(job) => serve(&settings, &client, &recognizer, &stats, job).await,
                None => {
                    tokio::select! {
                        _ = stopping.changed() => break,
                        () = tokio::time::sleep(IDLE_POLL) => {}
                    }
                }
            }
        }
    };
    served.await;
    heartbeat.abort();
    // What was published (a result, an acknowledgement) reaches the server before we go.
    let _ = client.flush().await;
    Ok(())
}

/// Tells gateways this worker is alive, once a second. Each start is its own instance, so two
/// workers of one name (on one host, say) count as two.
async fn beat(client: async_nats::Client, worker: String) {
    let instance = secrets::hex(&secrets::random::<4>().unwrap_or_default());
    let beat = Bytes::from(serde_json::to_vec(&Heartbeat { worker, instance }).expect("plain struct"));
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let _ = client.publish(wire::HEARTBEATS, beat.clone()).await;
    }
}

/// A job taken from the queue.
struct Job {
    message: jetstream::Message,
    /// Its priority's place in [`Priority::ALL`].
    priority: usize,
    /// The consumer's: whatever this worker was configured with, the consumer's own decides
    /// when the job is given to another.
    ack_wait: Duration,
}

/// The first waiting job in priority order, if any.
async fn next_job(consumers: &[jetstream::consumer::PullConsumer]) -> Option<Job> {
    for (priority, consumer) in consumers.iter().enumerate() {
        let Ok(mut batch) = consumer.fetch().max_messages(1).messages().await else { continue };
        if let Some(Ok(message)) = batch.next().await {
            return Some(Job { message, priority, ack_wait: consumer.cached_info().config.ack_wait });
        }
    }
    None
}

/// Decodes one job and hands its result over. Nothing a job holds stops the worker: one sealed
/// under another cluster key (a gateway started without the region's key file, or a stranger
/// on NATS) goes back for another worker and, after `MAX_DELIVER` tries, stays undelivered
/// until the stream's age limit removes it.
async fn serve(
    settings: &Settings,
    client: &async_nats::Client,
    recognizer: &Arc<asr::Recognizer>,
    stats: &Stats,
    job: Job,
) {
    let Job { message: job, priority, ack_wait } = job;
    let id = job.headers.as_ref().and_then(|h| h.get(wire::PASS_HEADER)).map(|v| v.as_str().to_string());
    let Some((id, gateway)) = id.filter(|id| wire::valid_pass_id(id)).map(|id| {
        let gateway = wire::gateway_of(&id).expect("a valid pass id names its gateway").to_string();
        (id, gateway)
    }) else {
        return discard(job, "(none)", "no valid pass id").await;
    };
    let delivered = job.info().map(|info| info.delivered).unwrap_or(1);
    let plain = match settings.key.open(Kind::Job, &id, &job.payload) {
        Ok(plain) => plain,
        Err(e @ OpenError::OtherKey { .. }) => {
            stats.other_key.fetch_add(1, Ordering::Relaxed);
            tracing::error!(pass = %id, error = %e, "a job this worker cannot open; it goes back to the queue");
            let _ = job.ack_with(AckKind::Nak(Some(Duration::from_secs(5)))).await;
            return;
        }
        Err(e) => return discard(job, &id, &e.to_string()).await,
    };
    let (pass, samples) = match wire::decode_job(&plain) {
        Ok(decoded) => decoded,
        Err(e) => return discard(job, &id, &e).await,
    };
    drop(plain);
    if delivered > 1 {
        stats.redelivered.fetch_add(1, Ordering::Relaxed);
    }
    let audio_seconds = samples.len() as f64 / audio::TARGET_RATE as f64;

    stats.in_pass.fetch_add(1, Ordering::Relaxed);
    stats.priority_in_pass.store(priority, Ordering::Relaxed);
    stats.audio_in_pass_millis.store((audio_seconds * 1000.0) as u64, Ordering::Relaxed);
    let progress = tokio::spawn(keep_alive(client.clone(), job.reply.clone(), ack_wait / 3, settings.pass_timeout));
    let started = Instant::now();
    let whisper = recognizer.clone();
    let recognized = tokio::task::spawn_blocking(move || whisper.recognize_on(&samples, pass, whisper.threads())).await;
    let seconds = started.elapsed().as_secs_f64();
    progress.abort();
    stats.in_pass.fetch_sub(1, Ordering::Relaxed);
    stats.audio_in_pass_millis.store(0, Ordering::Relaxed);
    let outcome = match recognized {
        Ok(Ok(recognized)) => {
            stats.passes.fetch_add(1, Ordering::Relaxed);
            stats.pass_millis.fetch_add((seconds * 1000.0) as u64, Ordering::Relaxed);
            stats.audio_millis.fetch_add((audio_seconds * 1000.0) as u64, Ordering::Relaxed);
            Outcome::Heard { recognized, seconds }
        }
        Ok(Err(e)) => {
            stats.failed.fetch_add(1, Ordering::Relaxed);
            Outcome::Failed { error: e.to_string() }
        }
        Err(e) => {
            stats.failed.fetch_add(1, Ordering::Relaxed);
            Outcome::Failed { error: format!("the Whisper pass panicked: {e}") }
        }
    };
    hand_over(settings, client, &id, &gateway, delivered, &outcome, job).await;
}

/// Ends a job no worker could ever decode (tampered, or not a pass), so it is not redelivered.
async fn discard(job: jetstream::Message, id: &str, why: &str) {
    tracing::warn!(pass = %id, error = %why, "a job that cannot be opened; discarding it");
    let _ = job.ack_with(AckKind::Term).await;
}

/// Tells JetStream the job is still being worked on (`+WPI`), so its `ack_wait` starts again;
/// for at most `limit`, after which the gateway has given up on the pass anyway and a Whisper
/// that hangs no longer holds it.
async fn keep_alive(
    client: async_nats::Client,
    ack_subject: Option<async_nats::Subject>,
    every: Duration,
    limit: Duration,
) {
    let Some(subject) = ack_subject else { return };
    let started = Instant::now();
    let mut tick = tokio::time::interval(every.max(Duration::from_millis(100)));
    tick.tick().await;
    while started.elapsed() < limit {
        tick.tick().await;
        let _ = client.publish(subject.clone(), Bytes::from_static(b"+WPI")).await;
    }
}

/// Sends the result to its gateway; acknowledges the job once the gateway has taken it.
async fn hand_over(
    settings: &Settings,
    client: &async_nats::Client,
    id: &str,
    gateway: &str,
    delivered: i64,
    outcome: &Outcome,
    job: jetstream::Message,
) {
    let plain = Zeroizing::new(serde_json::to_vec(outcome).expect("plain data"));
    let sealed = match settings.key.seal(Kind::Result, id, &plain) {
        Ok(sealed) => sealed,
        Err(e) => {
            tracing::error!(pass = %id, error = %e, "cannot seal a result; the job goes back to the queue");
            let _ = job.ack_with(AckKind::Nak(Some(Duration::from_secs(1)))).await;
            return;
        }
    };
    let mut headers = HeaderMap::new();
    headers.insert(wire::PASS_HEADER, id);
    headers.insert(wire::WORKER_HEADER, settings.name.as_str());
    headers.insert(wire::DELIVERY_HEADER, delivered.to_string().as_str());
    match client.request_with_headers(wire::result_subject(gateway), headers, sealed.into()).await {
        Ok(answer) if answer.payload.as_ref() == wire::TAKEN => {
            if let Err(e) = job.double_ack().await {
                // The gateway has the result; a redelivery would be dropped there as a duplicate.
                tracing::warn!(pass = %id, error = %e, "acknowledging a job failed");
            }
        }
        other => {
            // No responders too: the gateway may be reconnecting. One that is gone for good
            // leaves its jobs to MAX_DELIVER and the stream's age limit.
            let why = match other {
                Ok(_) => "the gateway refused the result".to_string(),
                Err(e) => e.to_string(),
            };
            tracing::warn!(pass = %id, error = %why, "handing a result over failed; the job goes back to the queue");
            let _ = job.ack_with(AckKind::Nak(Some(Duration::from_secs(1)))).await;
        }
    }
}
