//! Encrypt/decrypt throughput of the vault stream against raw AES-256-GCM on the same data.
//!
//! `cargo run --release -p vault --example vault-throughput [MiB]`
//!
//! Raw: AES-256-GCM over the same 64 KiB chunks in memory, no files. Vault: the whole
//! `ArtefactWriter`/`ArtefactReader` path (chunk framing, temp file, fsync, rename, keyring
//! update, verification), once on a memory filesystem (/dev/shm) and once on the data disk.

use std::io::Read;
use std::time::{Duration, Instant};

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use vault::{ArtefactKind, Kek, Vault};

const CHUNK: usize = 64 * 1024;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mib: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(128);
    let data: Vec<u8> = (0..mib * 1024 * 1024).map(|i| (i as u32).wrapping_mul(2654435761) as u8).collect();
    println!("{mib} MiB, 64 KiB chunks, best of 3 runs each");

    let (raw_enc, raw_dec) = best_of_3(|| raw_aes_gcm(&data));
    report("raw aes-gcm (memory)", mib, raw_enc, raw_dec, None);
    for (label, base) in [("vault on /dev/shm", "/dev/shm"), ("vault on disk (/tmp)", "/tmp")] {
        if !std::path::Path::new(base).is_dir() {
            continue;
        }
        let (enc, dec) = best_of_3(|| vault_stream(&data, base).expect("vault round trip"));
        report(label, mib, enc, dec, Some((raw_enc, raw_dec)));
    }
    Ok(())
}

fn raw_aes_gcm(data: &[u8]) -> (Duration, Duration) {
    let cipher = Aes256Gcm::new_from_slice(&[7u8; 32]).expect("32-byte key");
    let mut buf = data.to_vec();
    let mut tags = Vec::with_capacity(data.len() / CHUNK + 1);
    let nonce = |i: usize| {
        let mut n = [0u8; 12];
        n[3..11].copy_from_slice(&(i as u64).to_be_bytes());
        Nonce::from(n)
    };
    let start = Instant::now();
    for (i, chunk) in buf.chunks_mut(CHUNK).enumerate() {
        tags.push(cipher.encrypt_inout_detached(&nonce(i), b"", chunk.into()).expect("encrypt"));
    }
    let enc = start.elapsed();
    let start = Instant::now();
    for (i, chunk) in buf.chunks_mut(CHUNK).enumerate() {
        cipher.decrypt_inout_detached(&nonce(i), b"", chunk.into(), &tags[i]).expect("decrypt");
    }
    let dec = start.elapsed();
    assert!(buf == data);
    (enc, dec)
}

fn vault_stream(data: &[u8], base: &str) -> vault::Result<(Duration, Duration)> {
    let dir = std::path::Path::new(base).join(format!("vault-throughput-{}", std::process::id()));
    let vault = Vault::open(&dir, Kek::generate()?)?;
    vault.create("bench", false)?;
    let start = Instant::now();
    let mut writer = vault.writer("bench", ArtefactKind::Audio { track: 0 })?;
    // Audio arrives in pieces smaller than a chunk.
    for piece in data.chunks(16 * 1024) {
        writer.write_all(piece)?;
    }
    writer.finish()?;
    let enc = start.elapsed();
    let start = Instant::now();
    let mut reader = vault.reader("bench", ArtefactKind::Audio { track: 0 })?;
    let mut back = Vec::with_capacity(data.len());
    reader.read_to_end(&mut back).expect("verified read");
    let dec = start.elapsed();
    assert!(back == data);
    drop(vault);
    let _ = std::fs::remove_dir_all(&dir);
    Ok((enc, dec))
}

fn best_of_3(mut run: impl FnMut() -> (Duration, Duration)) -> (Duration, Duration) {
    (0..3).map(|_| run()).reduce(|a, b| (a.0.min(b.0), a.1.min(b.1))).expect("three runs")
}

fn report(label: &str, mib: usize, enc: Duration, dec: Duration, raw: Option<(Duration, Duration)>) {
    let rate = |d: Duration| mib as f64 * 1.048576 / d.as_secs_f64();
    print!("{label:<24} encrypt {:>8.1} MB/s   decrypt {:>8.1} MB/s", rate(enc), rate(dec));
    if let Some((raw_enc, raw_dec)) = raw {
        print!(
            "   ({:.2}x / {:.2}x of raw)",
            raw_enc.as_secs_f64() / enc.as_secs_f64(),
            raw_dec.as_secs_f64() / dec.as_secs_f64()
        );
    }
    println!();
}
