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

/// Serves `app` on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, app: Router, tls: Option<RustlsConfig>) -> std::io::Result<()> {
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    match tls {
        None => axum::serve(listener, app).await,
        Some(config) => axum_server::from_tcp_rustls(listener.into_std()?, config)?.serve(app).await,
    }
}
