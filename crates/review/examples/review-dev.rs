//! Serves just the review app over a vault directory, for trying it out and taking screenshots.
//!
//! ```text
//! cargo run -p review --example review-dev -- --data-dir /tmp/review-demo [--port 8470] [--demo]
//! ```
//!
//! The KEK comes from `AUTONOTAR_KEK` or `<data-dir>.kek` (`--demo` creates one when missing).
//! `--demo` stores a few fixture consultations for doctor `laege-07`. Prints a fresh link for
//! `laege-07` on its own line.

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use audit::{AuditConfig, AuditLog, Id};
use review::{LinkSecret, ReviewConfig, ReviewState};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (mut data_dir, mut port, mut demo) = (None, 8470u16, false);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--data-dir" => data_dir = args.next().map(PathBuf::from),
            "--port" => port = args.next().ok_or("--port needs a number")?.parse()?,
            "--demo" => demo = true,
            other => return Err(format!("unknown argument {other:?}; see the example's doc comment").into()),
        }
    }
    let data_dir = data_dir.ok_or("--data-dir DIR is required")?;
    let key_file = data_dir.with_extension("kek");
    if demo && !key_file.exists() && std::env::var_os(vault::keys::KEK_ENV).is_none() {
        vault::keys::init(&key_file)?;
    }
    let vault = vault::Vault::open(&data_dir, vault::Kek::load(&key_file)?)?;
    if demo {
        for (id, fixture) in [("k-2026-0041", "c02-blodtrykskontrol"), ("k-2026-0042", "c01-ondt-i-halsen")] {
            if vault.consultation(id).is_err() {
                support::seed(&vault, id, "laege-07", fixture);
            }
        }
    }
    let audit = AuditLog::open(&AuditConfig::default(), &data_dir)?;
    let secret = LinkSecret::load_or_create(&LinkSecret::path_for(&data_dir))?;
    let public_url = format!("http://127.0.0.1:{port}");
    let config = ReviewConfig { public_url: public_url.clone(), ..ReviewConfig::default() };
    let doctor = Id::new("laege-07")?;
    println!(
        "{}",
        review::sign_link(&secret, &public_url, &doctor, None, SystemTime::now(), Duration::from_secs(600))?
    );
    let state = ReviewState::new(vault, Arc::new(Mutex::new(audit)), secret, config);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(listener, review::router(state)).await?;
    Ok(())
}
