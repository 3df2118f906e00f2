//! Serving the routes over plain HTTP, or over HTTPS (rustls) when a certificate is configured.
//! WebSocket upgrades work either way, so ingest is `ws://` or `wss://` accordingly.

use std::net::SocketAddr;

use anyhow::Context;
use axum::Router;
use axum_server::tls_rustls::RustlsConfig;

use crate::config::TlsFiles;

/// Reads the certificate chain and private key, failing now rather than at the first client.
pub async fn tls(files: &TlsFiles) -> anyhow::Result<RustlsConfig> {
    RustlsConfig::from_pem_file(&files.cert, &files.key).await.with_context(|| {
        format!(
            "cannot use TLS certificate {} with key {}: both must be readable PEM files, the key belonging to the certificate",
            files.cert.display(),
            files.key.display()
        )
    })
}

/// Serves `app` on `listener` until `shutdown` completes, then stops taking connections and
/// gives open requests (a review page's event stream never ends by itself) [`GRACE`] to finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    tls: Option<RustlsConfig>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop.send(true);
    });
    let mut stopping = stopped.clone();
    let give_up = async move {
        let _ = stopping.wait_for(|stop| *stop).await;
        tokio::time::sleep(GRACE).await;
    };
    let serving = async move {
        match tls {
            None => {
                let mut stopped = stopped;
                let signal = async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                };
                axum::serve(listener, app).with_graceful_shutdown(signal).await
            }
            Some(config) => {
                let handle = axum_server::Handle::new();
                let stopper = handle.clone();
                let mut stopped = stopped;
                tokio::spawn(async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                    stopper.graceful_shutdown(Some(GRACE));
                });
                axum_server::from_tcp_rustls(listener.into_std()?, config)?.handle(handle).serve(app).await
            }
        }
    };
    tokio::select! {
        served = serving => served,
        () = give_up => Ok(()),
    }
}

/// How long open requests get after shutdown.
const GRACE: std::time::Duration = std::time::Duration::from_secs(3);
