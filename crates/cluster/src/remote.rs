//! The gateway's side: [`Remote`] decodes a consultation's passes on the cluster's workers.
//!
//! Each pass gets an id `<gateway>.<n>`, is sealed and published to its priority's subject, and
//! waits in `pending` for its result. Results come as requests on the gateway's own result
//! subject; the first result of a pass answers it, later ones (a redelivered job that two
//! workers both finished) are dropped, and either way the worker is told [`wire::TAKEN`] so it
//! acknowledges the job. A pass no worker answers within `pass_timeout` fails, and the
//! consultation goes on without it, as it does when a local pass fails.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use bytes::Bytes;
use futures_util::StreamExt;
use server::decode::{Answer, Decode, Decoded, Priority, Urgency};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::seal::Kind;
use crate::wire::{self, Heartbeat, Outcome};
use crate::{Error, Settings};

/// A worker not heard from for this long has left.
const WORKER_SILENCE: Duration = Duration::from_secs(3);
/// How long a publish is retried while NATS is unreachable before the pass fails.
const PUBLISH_PATIENCE: Duration = Duration::from_secs(30);
const QUEUE_WATCH: Duration = Duration::from_secs(2);
/// How often a published pass is checked for being answered, unwanted or overdue.
const WATCH_PASS: Duration = Duration::from_millis(250);

/// Passes decoded on the cluster; see the module documentation.
pub struct Remote {
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

struct Shared {
    settings: Settings,
    /// This gateway's name in pass ids and its result subject, unique to this start.
    instance: String,
    client: async_nats::Client,
    jetstream: jetstream::Context,
    stream: jetstream::stream::Stream,
    runtime: tokio::runtime::Handle,
    next_pass: AtomicU64,
    pending: Mutex<HashMap<String, oneshot::Sender<Answer>>>,
    /// Each worker instance's last heartbeat.
    workers: Mutex<HashMap<String, Instant>>,
    /// Passes and seconds of pass time per worker, from the results taken.
    worker_passes: Mutex<BTreeMap<String, (u64, f64)>>,
    /// Jobs waiting or delivered but unacknowledged, per priority, as JetStream last said.
    queue_depth: Mutex<[u64; 4]>,
    redeliveries: AtomicU64,
    duplicates: AtomicU64,
    refused: AtomicU64,
    withdrawn: AtomicU64,
}

impl Remote {
    /// This start's name in pass ids and the result subject (`<name>-<8 hex digits>`).
    pub fn instance(&self) -> &str {
        &self.shared.instance
    }

    /// Connects, creates the stream and consumers if this is the first process of the
    /// cluster, and starts listening for results and heartbeats.
    pub async fn connect(settings: Settings) -> Result<Remote, Error> {
        let crate::Queue { client, stream, consumers } = crate::connect(&settings).await?;
        // Pass ids must not repeat within JetStream's duplicate window, restarts included, or a
        // new pass would be dropped as the old one's retry: each start is a new instance.
        let suffix = secrets::random::<4>().map_err(|e| Error::Key(e.to_string()))?;
        let base: String = settings.name.chars().take(55).collect();
        let instance = format!("{base}-{}", secrets::hex(&suffix));
        let nats = |e: &dyn std::fmt::Display| Error::Nats(e.to_string());
        let results = client.subscribe(wire::result_subject(&instance)).await.map_err(|e| nats(&e))?;
        let heartbeats = client.subscribe(wire::HEARTBEATS).await.map_err(|e| nats(&e))?;
        let shared = Arc::new(Shared {
            jetstream: jetstream::new(client.clone()),
            stream,
            client,
            settings,
            instance,
            runtime: tokio::runtime::Handle::current(),
            next_pass: AtomicU64::new(0),
            pending: Mutex::default(),
            workers: Mutex::default(),
            worker_passes: Mutex::default(),
            queue_depth: Mutex::default(),
            redeliveries: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            withdrawn: AtomicU64::new(0),
        });
        let tasks = vec![
            tokio::spawn(take_results(shared.clone(), results)),
            tokio::spawn(hear_workers(Arc::downgrade(&shared), heartbeats)),
            tokio::spawn(watch_queue(Arc::downgrade(&shared), consumers)),
        ];
        Ok(Remote { shared, tasks })
    }
}

impl Drop for Remote {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Decode for Remote {
    /// Published at the urgency the pass has now. A raise later (the consultation hung up) does
    /// not move it: the job sits on its subject, and moving it could not tell whether a worker
    /// has already started on it.
    fn submit(&self, samples: Vec<f32>, pass: asr::Pass, urgency: Urgency) -> oneshot::Receiver<Answer> {
        let priority = urgency.get();
        let (reply, answer) = oneshot::channel();
        let n = self.shared.next_pass.fetch_add(1, Ordering::Relaxed);
        let id = format!("{}.{n}", self.shared.instance);
        let sealed = match self.shared.settings.key.seal(Kind::Job, &id, &wire::encode_job(pass, &samples)) {
            Ok(sealed) => sealed,
            Err(e) => {
                let _ = reply.send(Err(format!("cannot seal the pass: {e}")));
                return answer;
            }
        };
        lock(&self.shared.pending).insert(id.clone(), reply);
        let shared = Arc::downgrade(&self.shared);
        self.shared.runtime.spawn(publish(shared, id, priority, sealed.into()));
        answer
    }

    fn idle_for(&self, _pass: asr::Pass) -> bool {
        // A worker is free for a guess when there are more live workers than passes waiting
        // for one or being decoded: this gateway's own, or the whole queue's as JetStream last
        // counted it (other gateways' included).
        let queued = lock(&self.shared.queue_depth).iter().sum::<u64>() as usize;
        self.shared.live_workers() > lock(&self.shared.pending).len().max(queued)
    }

    fn write_metrics(&self, out: &mut String) {
        let shared = &self.shared;
        let depth = *lock(&shared.queue_depth);
        out.push_str("# HELP autonotar_cluster_queue_depth Passes in the JetStream work queue not yet acknowledged, by priority.\n# TYPE autonotar_cluster_queue_depth gauge\n");
        for (priority, depth) in Priority::ALL.iter().zip(depth) {
            let _ = writeln!(out, "autonotar_cluster_queue_depth{{priority=\"{}\"}} {depth}", priority.name());
        }
        let pending = lock(&shared.pending).len();
        let _ = writeln!(
            out,
            "# HELP autonotar_cluster_passes_in_flight Passes this gateway has published and not yet had answered.\n# TYPE autonotar_cluster_passes_in_flight gauge\nautonotar_cluster_passes_in_flight {pending}"
        );
        for (name, help, counter) in [
            ("redeliveries", "Results taken for a job JetStream had delivered more than once.", &shared.redeliveries),
            ("duplicate_results", "Results for a pass already answered or given up on, dropped.", &shared.duplicates),
            ("refused_results", "Results that failed to open under the cluster key.", &shared.refused),
            (
                "withdrawn_passes",
                "Guesses withdrawn from the queue once their consultation no longer wanted them.",
                &shared.withdrawn,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP autonotar_cluster_{name}_total {help}\n# TYPE autonotar_cluster_{name}_total counter\nautonotar_cluster_{name}_total {}",
                counter.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP autonotar_cluster_workers Workers heard from in the last {} s.\n# TYPE autonotar_cluster_workers gauge\nautonotar_cluster_workers {}",
            WORKER_SILENCE.as_secs(),
            shared.live_workers()
        );
        let passes = lock(&shared.worker_passes);
        out.push_str("# HELP autonotar_cluster_worker_passes_total Passes of this gateway each worker answered.\n# TYPE autonotar_cluster_worker_passes_total counter\n");
        for (worker, (count, _)) in passes.iter() {
            let _ = writeln!(out, "autonotar_cluster_worker_passes_total{{worker=\"{worker}\"}} {count}");
        }
        out.push_str("# HELP autonotar_cluster_worker_pass_seconds_total Seconds of pass time each worker spent on this gateway's passes.\n# TYPE autonotar_cluster_worker_pass_seconds_total counter\n");
        for (worker, (_, seconds)) in passes.iter() {
            let _ = writeln!(out, "autonotar_cluster_worker_pass_seconds_total{{worker=\"{worker}\"}} {seconds:.3}");
        }
    }
}

impl Shared {
    fn live_workers(&self) -> usize {
        lock(&self.workers).values().filter(|heard| heard.elapsed() < WORKER_SILENCE).count()
    }

    fn fail(&self, id: &str, why: String) {
        if let Some(reply) = lock(&self.pending).remove(id) {
            let _ = reply.send(Err(why));
        }
    }
}

/// Publishes a sealed job, retrying while NATS is unreachable (the message id makes a retry
/// after a lost acknowledgement harmless), then watches it until it is answered: a pass whose
/// consultation stopped waiting (a guess over a window that has grown since) is withdrawn from
/// the queue, as the local decoder skips it, and one nobody answers in time fails.
async fn publish(shared: Weak<Shared>, id: String, priority: Priority, sealed: Bytes) {
    let started = Instant::now();
    let sequence = loop {
        let Some(live) = shared.upgrade() else { return };
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", id.as_str());
        headers.insert(wire::PASS_HEADER, id.as_str());
        let stored =
            match live.jetstream.publish_with_headers(wire::pass_subject(priority), headers, sealed.clone()).await {
                Ok(ack) => ack.await.map(|ack| ack.sequence).map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
        match stored {
            Ok(sequence) => break sequence,
            Err(e) if started.elapsed() > PUBLISH_PATIENCE => {
                tracing::warn!(pass = %id, error = %e, "could not queue a pass on NATS; giving up on it");
                live.fail(&id, format!("could not queue the pass on NATS: {e}"));
                return;
            }
            Err(e) => {
                tracing::debug!(pass = %id, error = %e, "queueing a pass failed; retrying");
                drop(live);
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    };
    let published = Instant::now();
    loop {
        tokio::time::sleep(WATCH_PASS).await;
        let Some(live) = shared.upgrade() else { return };
        let unwanted = match lock(&live.pending).get(&id) {
            None => return,
            Some(reply) => reply.is_closed(),
        };
        if unwanted {
            lock(&live.pending).remove(&id);
            // Deleted whether it waits or a worker already decodes it; that worker's result is
            // then dropped as a duplicate.
            if live.stream.delete_message(sequence).await.unwrap_or(false) {
                live.withdrawn.fetch_add(1, Ordering::Relaxed);
            }
            return;
        }
        if published.elapsed() > live.settings.pass_timeout {
            tracing::warn!(pass = %id, "no worker answered a pass in time; the consultation goes on without it");
            live.fail(&id, format!("no worker answered within {} s", live.settings.pass_timeout.as_secs()));
            // Nobody waits for it any more: no worker should spend time on it.
            let _ = live.stream.delete_message(sequence).await;
            return;
        }
    }
}

async fn take_results(shared: Arc<Shared>, mut results: async_nats::Subscriber) {
    while let Some(message) = results.next().await {
        let answer = take_result(&shared, &message);
        if let Some(reply) = message.reply {
            let _ = shared.client.publish(reply, Bytes::from_static(answer)).await;
        }
    }
}

/// Uses a worker's result, answering [`wire::TAKEN`] or [`wire::REFUSED`].
fn take_result(shared: &Shared, message: &async_nats::Message) -> &'static [u8] {
    let header = |name: &str| message.headers.as_ref().and_then(|h| h.get(name)).map(|v| v.as_str().to_string());
    let (Some(id), worker) =
        (header(wire::PASS_HEADER).filter(|id| wire::valid_pass_id(id)), header(wire::WORKER_HEADER))
    else {
        shared.refused.fetch_add(1, Ordering::Relaxed);
        return wire::REFUSED;
    };
    let outcome = shared
        .settings
        .key
        .open(Kind::Result, &id, &message.payload)
        .map_err(|e| e.to_string())
        .and_then(|plain| serde_json::from_slice::<Outcome>(&plain).map_err(|e| e.to_string()));
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(e) => {
            tracing::warn!(pass = %id, error = %e, "refused a worker's result");
            shared.refused.fetch_add(1, Ordering::Relaxed);
            return wire::REFUSED;
        }
    };
    let Some(reply) = lock(&shared.pending).remove(&id) else {
        shared.duplicates.fetch_add(1, Ordering::Relaxed);
        return wire::TAKEN;
    };
    if header(wire::DELIVERY_HEADER).and_then(|d| d.parse::<u64>().ok()).is_some_and(|d| d > 1) {
        shared.redeliveries.fetch_add(1, Ordering::Relaxed);
    }
    let answer = match outcome {
        Outcome::Heard { recognized, seconds } => {
            let worker = worker.filter(|w| wire::valid_name(w)).unwrap_or_else(|| "unnamed".into());
            let mut passes = lock(&shared.worker_passes);
            let entry = passes.entry(worker).or_default();
            entry.0 += 1;
            entry.1 += seconds;
            Ok(Decoded { recognized, busy_seconds: seconds })
        }
        Outcome::Failed { error } => Err(error),
    };
    let _ = reply.send(answer);
    wire::TAKEN
}

async fn hear_workers(shared: Weak<Shared>, mut heartbeats: async_nats::Subscriber) {
    while let Some(message) = heartbeats.next().await {
        let Some(shared) = shared.upgrade() else { return };
        if let Ok(beat) = serde_json::from_slice::<Heartbeat>(&message.payload)
            && wire::valid_name(&beat.worker)
            && wire::valid_name(&beat.instance)
        {
            let mut workers = lock(&shared.workers);
            workers.retain(|_, heard| heard.elapsed() < WORKER_SILENCE * 10);
            workers.insert(format!("{}-{}", beat.worker, beat.instance), Instant::now());
        }
    }
}

async fn watch_queue(shared: Weak<Shared>, consumers: Vec<jetstream::consumer::PullConsumer>) {
    let mut tick = tokio::time::interval(QUEUE_WATCH);
    loop {
        tick.tick().await;
        let mut depth = Vec::with_capacity(consumers.len());
        for consumer in &consumers {
            depth.push(consumer.get_info().await.map(|info| info.num_pending + info.num_ack_pending as u64));
        }
        let Some(shared) = shared.upgrade() else { return };
        // What JetStream could not be asked keeps its last answer.
        for (slot, depth) in lock(&shared.queue_depth).iter_mut().zip(depth) {
            if let Ok(depth) = depth {
                *slot = depth;
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}
