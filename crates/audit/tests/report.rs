//! The DPO report, from events appended to a real log.

mod common;

use std::time::Duration;

use audit::commands::{CommandOutput, ReportArgs, VerifyArgs, report_command, verify_command};
use audit::{DraftUse, Event, LoginFailure, RefusalReason, Timestamp};
use common::{TestLog, consultation, id, shredded};

/// Appends `events` to the log, each fsynced as in production.
fn record(log: &TestLog, events: impl IntoIterator<Item = Event>) {
    let mut audit = log.open();
    for event in events {
        audit.append(event).unwrap();
    }
}

/// Records a whole consultation, consent to export.
fn record_consultation(log: &TestLog, number: u32) {
    record(log, consultation(number, "doc1", Timestamp::now()));
}

fn report(log: &TestLog, args: ReportArgs<'_>) -> CommandOutput {
    report_command(&log.config, log.data_dir.path(), &args).unwrap()
}

/// The report as it would look `days` from now, with no sweep run in between.
fn report_after_days(log: &TestLog, days: u64) -> CommandOutput {
    let now = later(days);
    report(log, ReportArgs { now: Some(&now), ..ReportArgs::default() })
}

fn later(days: u64) -> String {
    Timestamp::now().plus(Duration::from_secs(days * 86_400)).to_string()
}

fn position(text: &str, needle: &str) -> usize {
    text.find(needle).unwrap_or_else(|| panic!("{needle:?} missing from:\n{text}"))
}

#[test]
fn a_full_consultation_gives_the_whole_timeline_and_the_sweep_its_deletion() {
    let log = TestLog::new();
    record_consultation(&log, 1);

    let before = report(&log, ReportArgs::default());
    assert!(before.ok, "{}", before.text);
    let steps = [
        "Optagelse startet",
        "Lyd modtaget, 12:34 min",
        "Transskription dannet",
        "Notatudkast dannet",
        "Udkast set",
        "Udkast redigeret",
        "Udkast godkendt",
        "Kopieret til lægepraksissystemet",
    ];
    let places: Vec<usize> = steps.iter().map(|step| position(&before.text, step)).collect();
    assert!(places.windows(2).all(|pair| pair[0] < pair[1]), "timeline out of order:\n{}", before.text);
    assert!(before.text.contains("### Opbevares stadig (2)"), "{}", before.text);
    assert!(before.text.contains("0 overtrædelse(r)"));

    record(&log, [shredded(1), Event::RetentionSweepRan { examined: 2, deleted: 0, shredded: 1 }]);
    let after = report(&log, ReportArgs::default());
    assert!(after.ok, "{}", after.text);
    let deleted_at = position(&after.text, "Datanøgle dk-c000001 krypto-slettet (politik after-export-1d)");
    assert!(deleted_at > position(&after.text, "Kopieret til lægepraksissystemet"));
    assert!(after.text.contains("### Slettet (2)"));
    assert!(after.text.contains("### Overtrædelser (0)"));
    assert_eq!(after.text.matches("| Slettet rettidigt |").count(), 2, "{}", after.text);
    assert!(after.text.contains("Sletterutine kørt: 2 gennemgået, 0 slettet, 1 nøgler krypto-slettet"));
}

#[test]
fn a_deadline_passed_without_a_sweep_is_listed_as_a_violation() {
    let log = TestLog::new();
    record_consultation(&log, 2);
    // The export promised deletion of the draft within a day; two days on, nothing was deleted.
    let late = report_after_days(&log, 2);
    assert!(!late.ok);
    assert!(late.text.contains("### Overtrædelser (1)"), "{}", late.text);
    assert!(late.text.contains("| c000002.draft | c000002 |"));
    assert!(late.text.contains("OVERTRÆDELSE: fristen er overskredet med 1 d 0 t, stadig opbevaret"), "{}", late.text);
    assert!(late.text.contains("### Opbevares stadig (1)"), "the transcript is still within its 14 days");

    let later_still = report_after_days(&log, 15);
    assert!(later_still.text.contains("### Overtrædelser (2)"), "{}", later_still.text);
}

#[test]
fn an_artefact_deleted_after_its_deadline_is_a_violation() {
    let log = TestLog::new();
    let already_due = Timestamp::from_millis(Timestamp::now().millis() - 3 * 86_400_000);
    record(
        &log,
        [
            Event::DraftProduced { consultation: id("c9"), artefact: id("c9.draft"), delete_by: already_due },
            Event::ArtefactDeleted { consultation: id("c9"), artefact: id("c9.draft"), policy: id("draft-14d") },
        ],
    );
    let output = report(&log, ReportArgs::default());
    assert!(!output.ok);
    assert!(output.text.contains("OVERTRÆDELSE: slettet 3 d 0 t for sent"), "{}", output.text);
}

#[test]
fn access_refusals_and_logins_are_listed_per_doctor() {
    let log = TestLog::new();
    record(
        &log,
        [
            Event::LoginSucceeded { doctor: id("doc1") },
            Event::LoginFailed { reason: LoginFailure::LinkAlreadyUsed, doctor: Some(id("doc2")), suppressed: 0 },
            Event::ConsultationRefused {
                consultation: id("c7"),
                doctor: id("doc2"),
                reason: RefusalReason::ConsentMissing,
                ingest_key: None,
            },
            Event::DraftViewed(DraftUse {
                consultation: id("c3"),
                artefact: id("c3.draft"),
                doctor: id("doc2"),
                delete_by: None,
            }),
            Event::ResearchExportMade {
                researcher: id("res1"),
                export: id("export-2026-11"),
                consultations: 12,
                delete_by: None,
            },
        ],
    );
    let text = report(&log, ReportArgs::default()).text;
    let doc1 = position(&text, "### Læge doc1");
    let doc2 = position(&text, "### Læge doc2");
    assert!(doc1 < position(&text, "| Logget ind |") && position(&text, "| Logget ind |") < doc2);
    assert!(text[doc2..].contains("| Udkast set | c3 | c3.draft |"), "{text}");
    assert!(text.contains("### Mislykkede log-ind (1)"));
    assert!(text.contains("Mislykket log-ind: link allerede brugt | Angivet som læge doc2"), "{text}");
    assert!(text.contains("## 4. Afviste konsultationer (1)"));
    assert!(text.contains("| c7 | Læge doc2 | Afvist: samtykke mangler |"), "{text}");
    assert!(text.contains("Pseudonymiseret forskningsudtræk af 12 konsultation(er) | Forsker res1"), "{text}");

    let only_c3 = report(&log, ReportArgs { consultation: Some("c3"), ..ReportArgs::default() }).text;
    assert!(only_c3.contains("Konsultation c3") && !only_c3.contains("Konsultation c7"), "{only_c3}");
}

#[test]
fn the_art_30_record_comes_from_the_configuration() {
    let mut log = TestLog::new();
    log.config.processing.controller = "Lægehuset Testby, CVR 12345678".into();
    log.config.legal_basis.care = "Sundhedsloven; GDPR art. 9(2)(h)".into();
    drop(log.open());
    let text = report(&log, ReportArgs::default()).text;
    let section = &text[position(&text, "## 6. Fortegnelse over behandlingsaktiviteter (GDPR art. 30)")..];
    for expected in [
        "| Dataansvarlig | Lægehuset Testby, CVR 12345678 |",
        "Patientbehandling og journalføring: Sundhedsloven; GDPR art. 9(2)(h)",
        "| Kategorier af registrerede |",
        "| Modtagere |",
        "| Slettefrister |",
        "AES-256-GCM",
    ] {
        assert!(section.contains(expected), "{expected:?} missing from:\n{section}");
    }
}

#[test]
fn html_and_csv_render_the_same_report() {
    let log = TestLog::new();
    record_consultation(&log, 4);
    let html = report(&log, ReportArgs { format: Some("html"), ..ReportArgs::default() }).text;
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("<style>") && html.contains("lang=\"da\""));
    assert!(!html.contains("http://") && !html.contains("https://"), "must be self-contained");
    assert!(html.contains("<td>Kopieret til lægepraksissystemet (slettes senest"));

    let csv = report(&log, ReportArgs { format: Some("csv"), ..ReportArgs::default() }).text;
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "\u{feff}afsnit,tidspunkt_utc,konsultation,artefakt,aktoer,haendelse,type,slettefrist_utc,status,indhold"
    );
    assert_eq!(csv.lines().filter(|line| line.starts_with("dataflow,")).count(), 8);
    assert!(csv.contains(",Udkast godkendt,draft_approved,,,\r\n"), "{csv}");
    assert_eq!(csv.lines().filter(|line| line.starts_with("opbevares,")).count(), 2);

    let bad =
        report_command(&log.config, log.data_dir.path(), &ReportArgs { format: Some("pdf"), ..ReportArgs::default() });
    assert!(bad.is_err());
}

#[test]
fn a_tampered_log_is_flagged_in_the_report_and_by_verify() {
    let log = TestLog::new();
    drop(log.fill(1));
    let verified = verify_command(&log.config, log.data_dir.path(), &VerifyArgs::default()).unwrap();
    assert!(verified.ok);
    assert!(verified.text.starts_with("OK: 8 records, head "), "{}", verified.text);

    let mut lines = log.lines(1);
    lines.remove(2);
    log.write_lines(1, &lines);
    let verified = verify_command(&log.config, log.data_dir.path(), &VerifyArgs::default()).unwrap();
    assert!(!verified.ok);
    assert_eq!(verified.text, "FAIL: missing: record 3 was deleted (audit-000001.jsonl line 3)");
    let output = report(&log, ReportArgs::default());
    assert!(!output.ok);
    assert!(output.text.contains("ADVARSEL – loggens integritet er brudt: missing: record 3 was deleted"));
}

#[test]
fn verify_from_a_date_and_against_an_exported_checkpoint() {
    let log = TestLog::new();
    drop(log.fill(1));
    let checkpoint_file = log.data_dir.path().join("checkpoint.json");
    let written = audit::commands::checkpoint_command(&log.config, log.data_dir.path(), &checkpoint_file).unwrap();
    assert!(written.ok, "{}", written.text);
    let verified = verify_command(
        &log.config,
        log.data_dir.path(),
        &VerifyArgs { from: Some("2000-01-01"), checkpoint: Some(&checkpoint_file), ..VerifyArgs::default() },
    )
    .unwrap();
    assert!(verified.text.starts_with("OK: 8 records (8 since 2000-01-01T00:00:00.000Z), head "), "{}", verified.text);
    assert!(verified.text.ends_with(", checked against 1 checkpoints"), "{}", verified.text);
    let future = verify_command(
        &log.config,
        log.data_dir.path(),
        &VerifyArgs { from: Some(&later(1)), ..VerifyArgs::default() },
    )
    .unwrap();
    assert!(future.text.starts_with("OK: 8 records (0 since"), "{}", future.text);
    assert!(
        verify_command(
            &log.config,
            log.data_dir.path(),
            &VerifyArgs { from: Some("last tuesday"), ..VerifyArgs::default() }
        )
        .is_err()
    );
}

#[test]
fn a_changed_deadline_replaces_the_promised_one() {
    let log = TestLog::new();
    let now = Timestamp::now();
    record(
        &log,
        [
            Event::AudioStored { consultation: id("c5"), artefact: id("c5.audio-0"), delete_by: now.plus(common::DAY) },
            Event::RetentionChanged {
                consultation: id("c5"),
                artefacts: vec![id("c5.audio-0")],
                delete_by: now.plus(90 * common::DAY),
                policy: id("research-consent"),
            },
        ],
    );
    let output = report_after_days(&log, 7);
    assert!(output.ok, "the research class allows 90 days:\n{}", output.text);
    assert!(output.text.contains("Slettefrist ændret (politik research-consent) for 1 artefakt(er)"));
    assert!(!report_after_days(&log, 91).ok);
}
