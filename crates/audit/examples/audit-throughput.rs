//! Measures the audit log: records/s written with fsync on (the production setting) and off,
//! and how long verifying and reporting take per million records.
//!
//! `cargo run --release -p audit --example audit-throughput [-- FSYNCED_RECORDS [RECORDS]]`
//! (defaults 10,000 and 1,000,000). Set `AUDIT_BENCH_DIR` to measure on a particular disk.

use std::path::Path;
use std::time::{Duration, Instant};

use audit::report::{Report, ReportFormat, ReportOptions};
use audit::{AuditConfig, AuditKey, AuditLog, DraftUse, Event, Id, Timestamp, Verification, VerifyOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1).map(|arg| arg.parse::<u64>());
    let fsynced = args.next().transpose()?.unwrap_or(10_000);
    let records = args.next().transpose()?.unwrap_or(1_000_000);
    let base = std::env::var_os("AUDIT_BENCH_DIR").map_or_else(std::env::temp_dir, Into::into);

    let durable = tempfile::tempdir_in(&base)?;
    let elapsed = write(durable.path(), fsynced, true)?;
    println!(
        "write, fsync on:  {fsynced} records in {:.2} s = {:.0} records/s ({:.0} µs each)",
        elapsed.as_secs_f64(),
        fsynced as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / fsynced as f64
    );

    let bulk = tempfile::tempdir_in(&base)?;
    let elapsed = write(bulk.path(), records, false)?;
    let log_dir = bulk.path().join("audit");
    let bytes: u64 =
        std::fs::read_dir(&log_dir)?.map(|entry| Ok(entry?.metadata()?.len())).sum::<std::io::Result<u64>>()?;
    println!(
        "write, fsync off: {records} records in {:.2} s = {:.0} records/s; {:.0} bytes/record on disk",
        elapsed.as_secs_f64(),
        records as f64 / elapsed.as_secs_f64(),
        bytes as f64 / records as f64
    );

    let key = AuditKey::load(&AuditConfig::default().key_path(bulk.path())?)?;
    let started = Instant::now();
    let verification = audit::verify(&log_dir, &key, &VerifyOptions::default())?;
    let elapsed = started.elapsed();
    let Verification::Intact { records: verified, .. } = verification else {
        return Err(format!("benchmark log does not verify: {verification:?}").into());
    };
    println!(
        "verify:           {verified} records in {:.2} s = {:.2} s per million records",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / verified as f64
    );

    let started = Instant::now();
    let (all, unreadable) = audit::read_records(&log_dir)?;
    let options = ReportOptions { from: None, to: None, consultation: None, now: Timestamp::now() };
    let report = Report::build(&all, unreadable, &verification, &AuditConfig::default(), &options);
    let rendered = report.render(ReportFormat::Html);
    let elapsed = started.elapsed();
    println!(
        "report (html):    {} records in {:.2} s = {:.2} s per million records ({} MB of HTML)",
        all.len(),
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / all.len() as f64,
        rendered.len() / 1_000_000
    );
    Ok(())
}

/// Writes `count` records of realistic consultations (ten events each) into `data_dir`.
fn write(data_dir: &Path, count: u64, fsync: bool) -> Result<Duration, Box<dyn std::error::Error>> {
    let config = AuditConfig { fsync, ..AuditConfig::default() };
    let mut log = AuditLog::open(&config, data_dir)?;
    let doctor = Id::new("doc1")?;
    let deadline = Timestamp::now().plus(Duration::from_secs(14 * 86_400));
    let started = Instant::now();
    for number in 0..count {
        let consultation = Id::new(format!("c{:08}", number / 10))?;
        let artefact = Id::new(format!("c{:08}.draft", number / 10))?;
        let used = DraftUse {
            consultation: consultation.clone(),
            artefact: artefact.clone(),
            doctor: doctor.clone(),
            delete_by: None,
        };
        let event = match number % 10 {
            0 => Event::ConsultationStarted { consultation, doctor: doctor.clone(), ingest_key: None },
            1 => Event::AudioReceived { consultation, duration_ms: 600_000 },
            2 => Event::TranscriptProduced {
                consultation,
                artefact: Id::new(format!("c{:08}.tr", number / 10))?,
                delete_by: deadline,
            },
            3 => Event::DraftProduced { consultation, artefact, delete_by: deadline },
            4 => Event::DraftViewed(used),
            5 => Event::DraftEdited(used),
            6 => Event::DraftApproved(used),
            7 => Event::DraftExported(used),
            8 => Event::KeyShredded {
                consultation,
                key: Id::new(format!("dk{:08}", number / 10))?,
                artefacts: vec![artefact, Id::new(format!("c{:08}.tr", number / 10))?],
                policy: Id::new("after-export-1d")?,
            },
            _ => Event::RetentionSweepRan { examined: 2, deleted: 0, shredded: 1 },
        };
        log.append(event)?;
    }
    Ok(started.elapsed())
}
