//! `autonotar keys …`: the key-encryption key that seals every consultation's data keys, and
//! the cluster key that seals the passes gateways and workers exchange over NATS.

use std::path::Path;
use std::process::ExitCode;

use clap::Subcommand;

use crate::config::{Config, Paths};

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Create the key file (mode 0600; never overwrites one).
    Init,
    /// Re-seal every data key under a new KEK, then replace the key file (stop `serve` first).
    Rotate,
    /// Create the cluster key file every gateway (`serve --nats`) and worker shares (mode 0600;
    /// never overwrites one). Copy it to each worker's [cluster] key_file.
    ClusterInit,
}

pub fn run(command: KeysCommand, config: &Config, paths: &Paths) -> anyhow::Result<ExitCode> {
    match command {
        KeysCommand::Init => println!("{}", vault::keys::init(&paths.key_file)?),
        KeysCommand::Rotate => {
            // Opened first: a rotation the log cannot record is not started.
            let mut log = paths.open_audit(config)?;
            let rotation = vault::rotation::rotate_key_file(&paths.key_file, &paths.data_dir)?;
            let key = audit::Id::new(format!("kek-{}", secrets::hex(&rotation.new_fingerprint)))?;
            log.append(audit::Event::KeyRotated { key, rewrapped: rotation.resealed as u64 })?;
            println!("{rotation}");
        }
        KeysCommand::ClusterInit => {
            let path = config.cluster.key_file(&paths.data_dir);
            let key = cluster::ClusterKey::create(&path)?;
            println!("{}", created_note(&path, &key));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The gateway's cluster key, created on first start so a new region needs no extra step; the
/// workers then need a copy, which the note says.
pub fn cluster_key_for_gateway(path: &Path) -> anyhow::Result<cluster::ClusterKey> {
    match cluster::ClusterKey::read(path) {
        Err(secrets::Error::Missing { .. }) => {
            let key = cluster::ClusterKey::create(path)?;
            eprintln!("{}", created_note(path, &key));
            Ok(key)
        }
        read => Ok(read?),
    }
}

/// The cluster key of a worker: the gateway's, copied.
pub fn cluster_key_for_worker(path: &Path) -> anyhow::Result<cluster::ClusterKey> {
    match cluster::ClusterKey::read(path) {
        Err(secrets::Error::Missing { .. }) => anyhow::bail!(
            "no cluster key at {}: copy the gateway's cluster key file there (mode 0600), or point [cluster] key_file at it; `autonotar keys cluster-init` makes a new one for a new cluster",
            path.display()
        ),
        read => Ok(read?),
    }
}

fn created_note(path: &Path, key: &cluster::ClusterKey) -> String {
    format!(
        "created the cluster key {} (fingerprint {}): copy it to every worker's [cluster] key_file; whoever holds it can read the audio passing through NATS",
        path.display(),
        key.fingerprint_hex()
    )
}
