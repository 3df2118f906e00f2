//! The accept loop of `serve`: plain HTTP, or HTTPS (rustls) when a certificate is configured,
//! with WebSocket upgrades either way (`ws://` or `wss://`).
//!
//! It is ours rather than `axum::serve` because the ingest side faces the network: every
//! connection holds one of [`Limits::max_connections`] permits, a client gets
//! [`Limits::header_timeout`] for its TLS handshake and for each request head, and a request
//! head is at most [`MAX_HEAD_BYTES`]. An idle or slow socket is closed, not kept forever.

use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsAcceptor;

use crate::config::TlsFiles;

/// What one client may hold of the server.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Open connections at once; the next client waits in the kernel's backlog.
    pub max_connections: usize,
    /// Time for the TLS handshake, and for each request head to arrive whole.
    pub header_timeout: Duration,
}

/// The largest request head (request line and headers) read; a longer one closes the connection.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// How long open requests get after shutdown (a review page's event stream never ends by itself).
const GRACE: Duration = Duration::from_secs(3);

/// Reads the certificate chain and private key, failing now rather than at the first client.
pub fn tls(files: &TlsFiles) -> anyhow::Result<TlsAcceptor> {
    let unusable = || {
        format!(
            "cannot use TLS certificate {} with key {}: both must be readable PEM files, the key belonging to the certificate",
            files.cert.display(),
            files.key.display()
        )
    };
    let chain = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(unusable)?;
    let key = PrivateKeyDer::from_pem_file(&files.key).with_context(unusable)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .with_context(unusable)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Serves `app` on `listener` until `shutdown` completes, then stops accepting, asks open
/// connections to finish their request, and gives them [`GRACE`] before returning.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<TlsAcceptor>,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let (stop, stopped) = watch::channel(false);
    let mut shutdown = pin!(shutdown);
    loop {
        // The permit first: at the cap, new clients wait in the backlog instead of being
        // accepted and left without service.
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => permit.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, _peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!("accepting a connection failed: {error}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let app = app.clone();
        let tls = tls.clone();
        let stopped = stopped.clone();
        tokio::spawn(async move {
            let _permit = permit;
            match tls {
                None => connection(stream, app, limits, stopped).await,
                Some(acceptor) => match tokio::time::timeout(limits.header_timeout, acceptor.accept(stream)).await {
                    Ok(Ok(stream)) => connection(stream, app, limits, stopped).await,
                    Ok(Err(error)) => tracing::debug!("TLS handshake failed: {error}"),
                    Err(_) => tracing::debug!("TLS handshake timed out"),
                },
            }
        });
    }
    let _ = stop.send(true);
    // Every connection task holds a permit: all of them back means all connections closed.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(GRACE, permits.acquire_many(all)).await;
    Ok(())
}

/// One HTTP/1.1 connection, upgrades included, until the client leaves or shutdown asks it to
/// finish the request in progress.
async fn connection<Io>(io: Io, app: Router, limits: Limits, mut stopped: watch::Receiver<bool>)
where
    Io: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout).max_buf_size(MAX_HEAD_BYTES);
    let mut connection = pin!(http.serve_connection(TokioIo::new(io), TowerToHyperService::new(app)).with_upgrades());
    tokio::select! {
        served = connection.as_mut() => return log_end(served),
        _ = stopped.wait_for(|stop| *stop) => connection.as_mut().graceful_shutdown(),
    }
    log_end(connection.await);
}

fn log_end(served: hyper::Result<()>) {
    if let Err(error) = served {
        tracing::debug!("connection ended: {error}");
    }
}
