//! Crash safety: a writer process, a key rotation and a retention sweep killed with SIGKILL at
//! random points, many times. Afterwards every artefact opens and verifies, at
//! least at the last acknowledged version, or is reported missing if none was acknowledged;
//! no plaintext ever reaches the disk.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Scratch, random_u64};
use vault::{ArtefactKind, Error, Kek, Vault};

const HELPER: &str = env!("CARGO_BIN_EXE_vault-test-helper");
const KINDS: [(ArtefactKind, usize); 2] =
    [(ArtefactKind::Transcript, 9_000), (ArtefactKind::Audio { track: 0 }, 300_000)];

fn helper(kek: &Kek, args: &[&str]) -> Command {
    let mut command = Command::new(HELPER);
    command.args(args).env("AUTONOTAR_KEK", kek.to_base64().as_str()).stdout(Stdio::piped());
    command
}

/// Kills `child` after `delay` and returns the lines it printed.
fn kill_after(mut child: Child, delay: Duration) -> Vec<String> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let stdout = child.stdout.take().unwrap();
    let collector = {
        let lines = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        })
    };
    std::thread::sleep(delay);
    let _ = child.kill(); // SIGKILL
    child.wait().unwrap();
    collector.join().unwrap();
    Arc::try_unwrap(lines).unwrap().into_inner().unwrap()
}

#[test]
fn writer_killed_at_random_points_leaves_old_or_new_never_partial() {
    let scratch = Scratch::new("crash");
    let dir = scratch.path().join("data");
    let kek = Kek::generate().unwrap();
    let mut acked: HashMap<String, u64> = HashMap::new();
    let seed = random_u64();
    println!("seed {seed:016x}");
    let mut rng = seed;
    for round in 0..40 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let delay = Duration::from_millis(rng % 300);
        let child = helper(&kek, &["write-loop", dir.to_str().unwrap(), "c1"]).spawn().unwrap();
        for line in kill_after(child, delay) {
            let mut words = line.split(' ');
            assert_eq!(words.next(), Some("ACK"), "helper said {line:?}");
            let (kind, version) = (words.next().unwrap(), words.next().unwrap().parse::<u64>().unwrap());
            acked.insert(kind.to_string(), version);
        }
        // Versions restart at 1 in each process, so check against this round's acks only.
        verify(&dir, &kek, &acked, round);
        acked.clear();
    }
    common::assert_nowhere_on_disk(&dir, b"PLAINTEXT-MARKER");
}

fn verify(dir: &Path, kek: &Kek, acked: &HashMap<String, u64>, round: usize) {
    let vault = match Vault::open(dir, kek.clone()) {
        Ok(vault) => vault,
        // Killed before even the vault record was committed: nothing was acknowledged.
        Err(Error::Missing { .. }) if acked.is_empty() => return,
        Err(e) => panic!("round {round}: vault does not open: {e}"),
    };
    for (kind, len) in KINDS {
        match vault.get("c1", kind) {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes[..40.min(bytes.len())]).into_owned();
                let prefix = format!("PLAINTEXT-MARKER-{kind}-v");
                let version: u64 = text
                    .strip_prefix(&prefix)
                    .and_then(|rest| rest.split('|').next())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| panic!("round {round}: {kind} holds unexpected content {text:?}"));
                let expected: Vec<u8> = format!("{prefix}{version}|").bytes().cycle().take(len).collect();
                assert!(*bytes == expected, "round {round}: {kind} v{version} is not intact");
                if let Some(&last) = acked.get(&kind.to_string()) {
                    assert!(version >= last, "round {round}: {kind} v{last} was acknowledged, v{version} found");
                }
            }
            Err(Error::Missing { .. }) => {
                assert!(!acked.contains_key(&kind.to_string()), "round {round}: acknowledged {kind} is missing");
            }
            Err(e) => panic!("round {round}: {kind}: {e}"),
        }
    }
}

#[test]
fn rotation_killed_at_random_points_is_finished_by_running_it_again() {
    let scratch = Scratch::new("rotate-crash");
    let dir = scratch.path().join("data");
    let key_file = scratch.path().join("kek");
    let mut kek = vault::keys::init(&key_file).unwrap().kek;
    let ids: Vec<String> = (0..60).map(|i| format!("consultation-{i}")).collect();
    {
        let vault = Vault::open(&dir, kek.clone()).unwrap();
        for id in &ids {
            vault.create(id, false).unwrap();
            vault.put(id, ArtefactKind::Note, id.as_bytes()).unwrap();
        }
    }
    let started = Instant::now();
    let full = vault::rotation::rotate_key_file(&key_file, &dir).unwrap();
    let full_time = started.elapsed();
    assert_eq!(full.resealed, ids.len() + 1);
    kek = Kek::from_file(&key_file).unwrap();

    let mut rng = random_u64();
    for round in 0..8 {
        rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let delay = full_time.mul_f64((rng >> 11) as f64 / (1u64 << 53) as f64);
        let child = helper(&kek, &["rotate", key_file.to_str().unwrap(), dir.to_str().unwrap()]).spawn().unwrap();
        kill_after(child, delay);

        // Every record is under the old or the new key, never neither.
        let old = kek.clone();
        let pending = vault::rotation::pending_path(&key_file);
        let new = if pending.exists() { Kek::from_file(&pending).unwrap() } else { Kek::from_file(&key_file).unwrap() };
        let under_either = |path: &Path| {
            let bytes = std::fs::read(path).unwrap();
            bytes[9..25] == old.fingerprint() || bytes[9..25] == new.fingerprint()
        };
        assert!(under_either(&dir.join("vault")), "round {round}");
        for entry in std::fs::read_dir(dir.join("consultations")).unwrap() {
            assert!(under_either(&entry.unwrap().path().join("keyring")), "round {round}");
        }

        // Running the rotation again finishes it; then everything opens under the key file.
        if pending.exists() || Kek::from_file(&key_file).unwrap().fingerprint() == old.fingerprint() {
            vault::rotation::rotate_key_file(&key_file, &dir).unwrap();
        }
        kek = Kek::from_file(&key_file).unwrap();
        let vault = Vault::open(&dir, kek.clone()).unwrap();
        for id in &ids {
            assert_eq!(*vault.get(id, ArtefactKind::Note).unwrap(), id.as_bytes(), "round {round}");
        }
        assert!(!pending.exists());
    }
}

#[test]
fn sweep_killed_at_random_points_leaves_readable_or_shredded_never_corrupt() {
    let t0 = humantime::parse_rfc3339("2026-03-02T08:00:00Z").unwrap();
    let due = "2026-03-20T08:00:00Z"; // past the 14-day limit for unapproved consultations
    let ids: Vec<String> = (0..20).map(|i| format!("consultation-{i}")).collect();
    let kinds = [ArtefactKind::Transcript, ArtefactKind::Draft];
    let mut rng = random_u64();
    let mut full_sweep = Duration::ZERO;
    for round in 0..6 {
        let scratch = Scratch::new("sweep-crash");
        let dir = scratch.path().join("data");
        let kek = Kek::generate().unwrap();
        let vault = Vault::open(&dir, kek.clone()).unwrap().with_clock(move || t0);
        for id in &ids {
            vault.create(id, false).unwrap();
            for kind in kinds {
                vault.put(id, kind, b"due for deletion").unwrap();
            }
        }
        // The first round runs a whole sweep and times it; the others are killed inside one.
        let mut sweep = helper(&kek, &["sweep", dir.to_str().unwrap(), due]);
        if round == 0 {
            let started = Instant::now();
            let output = sweep.output().unwrap();
            full_sweep = started.elapsed();
            let printed = String::from_utf8_lossy(&output.stdout);
            assert!(printed.contains("60 deletion(s)"), "{printed}"); // 40 artefacts, 20 records
        } else {
            rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let delay = full_sweep.mul_f64((rng >> 11) as f64 / (1u64 << 53) as f64);
            kill_after(sweep.spawn().unwrap(), delay);
        }

        for id in &ids {
            for kind in kinds {
                match vault.get(id, kind) {
                    Ok(bytes) => assert_eq!(&*bytes, b"due for deletion"),
                    Err(Error::Shredded { .. } | Error::Missing { .. }) => {}
                    Err(e) => panic!("round {round}: {id}/{kind}: {e}"),
                }
            }
        }
        // A later sweep finishes the job.
        let now = vault::retention::parse_time(due).unwrap();
        let report = vault::retention::sweep(&vault, &vault::RetentionPolicy::default(), now, &mut |_| Ok(())).unwrap();
        assert!(report.problems.is_empty(), "round {round}: {report}");
        assert_eq!(std::fs::read_dir(dir.join("consultations")).unwrap().count(), 0, "round {round}");
    }
}
