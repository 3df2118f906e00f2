//! Drives the vault from a separate process for the crash and filesystem tests, which kill it
//! or run it inside a private mount namespace. The KEK comes from `AUTONOTAR_KEK`.
//!
//! ```text
//! vault-test-helper write-loop <data-dir> <id>      rewrite transcript and audio-0 forever, print "ACK <kind> <version>"
//! vault-test-helper put <data-dir> <id> <kind> <bytes>
//! vault-test-helper get <data-dir> <id> <kind>
//! vault-test-helper rotate <key-file> <data-dir>
//! vault-test-helper sweep <data-dir> <now, RFC 3339>  with the default retention policy
//! ```

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use vault::{ArtefactKind, Error, Kek, Vault};

/// Version `version` of an artefact's test content: a recognisable marker repeated to `len`.
fn content(kind: ArtefactKind, version: u64, len: usize) -> Vec<u8> {
    format!("PLAINTEXT-MARKER-{kind}-v{version}|").bytes().cycle().take(len).collect()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            println!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[&str]) -> Result<(), Error> {
    match args {
        ["write-loop", dir, id] => {
            let vault = open(dir, id)?;
            let mut stdout = std::io::stdout();
            for version in 1..=100_000 {
                for (kind, len) in [(ArtefactKind::Transcript, 9_000), (ArtefactKind::Audio { track: 0 }, 300_000)] {
                    let mut writer = vault.writer(id, kind)?;
                    // Odd piece sizes so chunk boundaries fall mid-write.
                    for piece in content(kind, version, len).chunks(7_001) {
                        writer.write_all(piece)?;
                    }
                    writer.finish()?;
                    let _ = writeln!(stdout, "ACK {kind} {version}");
                    let _ = stdout.flush();
                }
            }
            Ok(())
        }
        ["put", dir, id, kind, len] => {
            let vault = open(dir, id)?;
            let kind: ArtefactKind = kind.parse()?;
            let len = len.parse().map_err(|_| Error::Missing { what: "a byte count".into() })?;
            vault.put(id, kind, &content(kind, 1, len))?;
            println!("ok");
            Ok(())
        }
        ["get", dir, id, kind] => {
            // Reads take no lock and write nothing, so they work on a read-only filesystem.
            let vault = Vault::open(Path::new(dir), kek()?)?;
            let kind: ArtefactKind = kind.parse()?;
            let bytes = vault.get(id, kind)?;
            let intact = *bytes == content(kind, 1, bytes.len());
            println!("ok {} bytes, intact: {intact}", bytes.len());
            Ok(())
        }
        ["rotate", key_file, dir] => {
            println!("{}", vault::rotation::rotate_key_file(Path::new(key_file), Path::new(dir))?);
            Ok(())
        }
        ["sweep", dir, now] => {
            let vault = Vault::open(Path::new(dir), kek()?)?;
            let now = vault::retention::parse_time(now)?;
            println!("{}", vault::retention::sweep(&vault, &vault::RetentionPolicy::default(), now, &mut |_| Ok(()))?);
            Ok(())
        }
        _ => Err(Error::Missing { what: format!("a known command (got {args:?})") }),
    }
}

fn kek() -> Result<Kek, Error> {
    Kek::from_env()?.ok_or_else(|| Error::KeyEnv("is not set".into()))
}

fn open(dir: &str, id: &str) -> Result<Vault, Error> {
    let vault = Vault::open(Path::new(dir), kek()?)?;
    match vault.create(id, false) {
        Ok(()) | Err(Error::AlreadyExists { .. }) => Ok(vault),
        Err(e) => Err(e),
    }
}
