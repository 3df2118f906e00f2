//! Whisper passes on NATS JetStream workers, for when one machine's cores are not enough.
//!
//! A gateway (`autonotar serve --nats URL`) keeps ingest, resampling, VAD and packing, and
//! decodes through [`Remote`], a [`server::decode::Decode`] backend that publishes each pass to
//! the work-queue stream `AUTONOTAR_PASSES`, one subject and durable consumer per
//! [`Priority`]. Workers ([`worker::run`], `autonotar worker --nats URL`) load Whisper, always
//! take the most urgent pass first, and send the result back to the gateway that asked.
//!
//! Invariants:
//! - **Nothing is lost when a worker dies.** A job is acknowledged only after the gateway has
//!   taken its result; JetStream redelivers an unacknowledged job to another worker once its
//!   `ack_wait` has passed, and the gateway uses the first result of a pass and drops the rest.
//! - **Only ciphertext crosses the wire or rests in NATS.** Jobs (audio) and results (words)
//!   are sealed under the cluster key, bound to their pass id (`seal`); the stream keeps a job
//!   only until it is acknowledged (work-queue retention), or the gateway gives up on it, and
//!   at most an hour; workers write no personal data to disk.

pub mod remote;
pub mod seal;
pub mod wire;
pub mod worker;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use server::decode::Priority;

pub use remote::Remote;
pub use seal::ClusterKey;

/// The largest job: 30 s of 16 kHz f32 samples, sealed, with room to spare.
pub const MAX_JOB_BYTES: usize = 30 * 16_000 * 4 + 4096;

/// Deliveries of one job before JetStream stops offering it: a pass that kills or stalls every
/// worker it reaches (or that no worker can open) must not take the cluster down one by one.
pub const MAX_DELIVER: i64 = 5;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot connect to NATS at {url}: {reason} (is nats-server running with JetStream, `nats-server -js`?)")]
    Connect { url: String, reason: String },
    #[error(
        "NATS at {url} accepts messages of at most {max_payload} bytes, but a 30 s pass needs {MAX_JOB_BYTES}: set `max_payload: 4MB` in the nats-server configuration"
    )]
    PayloadLimit { url: String, max_payload: usize },
    #[error("JetStream at {url}: {reason} (was nats-server started with -js?)")]
    JetStream { url: String, reason: String },
    #[error("the cluster key: {0}")]
    Key(String),
    #[error("NATS: {0}")]
    Nats(String),
}

/// Where the cluster is and how to talk to it; the same for gateways and workers.
#[derive(Debug, Clone)]
pub struct Settings {
    pub url: String,
    pub key: Arc<ClusterKey>,
    /// CA certificate that NATS's TLS certificate must chain to; TLS is then required.
    pub tls_ca: Option<PathBuf>,
    /// How long a job may go without word from its worker before JetStream gives it to
    /// another. A working worker reports progress three times per `ack_wait`.
    pub ack_wait: Duration,
    /// How long a gateway waits for a pass before the consultation gives up on it.
    pub pass_timeout: Duration,
    /// This process's name in pass ids, result subjects and metrics.
    pub name: String,
}

impl Settings {
    /// The URL as logs and errors may show it: without a user name or password in it.
    pub fn shown_url(&self) -> String {
        match self.url.split_once("://").and_then(|(scheme, rest)| rest.split_once('@').map(|(_, host)| (scheme, host)))
        {
            Some((scheme, host)) => format!("{scheme}://***@{host}"),
            None => self.url.clone(),
        }
    }
}

/// The work queue as a process of the cluster sees it.
pub(crate) struct Queue {
    client: async_nats::Client,
    stream: jetstream::stream::Stream,
    /// One per priority, in [`Priority::ALL`] order.
    consumers: Vec<jetstream::consumer::PullConsumer>,
}

/// Connects to the work queue; the stream and the consumers are created on first use, so any
/// gateway or worker may start first.
pub(crate) async fn connect(settings: &Settings) -> Result<Queue, Error> {
    let url = &settings.shown_url();
    let mut options = async_nats::ConnectOptions::new().name(format!("autonotar {}", settings.name));
    if let Some(ca) = &settings.tls_ca {
        options = options.add_root_certificates(ca.clone()).require_tls(true);
    }
    let client = options
        .connect(settings.url.as_str())
        .await
        .map_err(|e| Error::Connect { url: url.clone(), reason: e.to_string() })?;
    let max_payload = client.server_info().max_payload;
    if max_payload < MAX_JOB_BYTES {
        return Err(Error::PayloadLimit { url: url.clone(), max_payload });
    }
    let jetstream_error = |e: &dyn std::fmt::Display| Error::JetStream { url: url.clone(), reason: e.to_string() };
    let context = jetstream::new(client.clone());
    let stream = context
        .get_or_create_stream(jetstream::stream::Config {
            name: wire::STREAM.into(),
            subjects: vec![wire::PASS_SUBJECTS.into()],
            retention: jetstream::stream::RetentionPolicy::WorkQueue,
            storage: jetstream::stream::StorageType::File,
            // A job nobody took within an hour belongs to a consultation long given up on.
            max_age: Duration::from_secs(3600),
            duplicate_window: Duration::from_secs(120),
            max_message_size: MAX_JOB_BYTES as i32,
            ..Default::default()
        })
        .await
        .map_err(|e| jetstream_error(&e))?;
    let mut consumers = Vec::new();
    for priority in Priority::ALL {
        let name = wire::consumer_name(priority);
        let consumer = stream
            .get_or_create_consumer(
                &name,
                jetstream::consumer::pull::Config {
                    durable_name: Some(name.clone()),
                    filter_subject: wire::pass_subject(priority),
                    ack_policy: jetstream::consumer::AckPolicy::Explicit,
                    ack_wait: settings.ack_wait,
                    max_deliver: MAX_DELIVER,
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| jetstream_error(&e))?;
        consumers.push(consumer);
    }
    Ok(Queue { client, stream, consumers })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_in_the_url_is_never_shown() {
        let settings = |url: &str| Settings {
            url: url.into(),
            key: Arc::new(ClusterKey::new(secrets::generate().unwrap())),
            tls_ca: None,
            ack_wait: Duration::from_secs(30),
            pass_timeout: Duration::from_secs(600),
            name: "gw".into(),
        };
        assert_eq!(settings("nats://user:secret@nats.region:4222").shown_url(), "nats://***@nats.region:4222");
        assert_eq!(settings("tls://nats.region:4222").shown_url(), "tls://nats.region:4222");
    }
}
