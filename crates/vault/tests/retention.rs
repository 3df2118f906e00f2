//! Retention with a simulated clock: each artefact disappears exactly at its deadline, not a
//! second before, under the rule the policy names.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use common::{Clock, Scratch, vault_with_clock};
use vault::retention::{self, Deleted, Rule};
use vault::{ArtefactKind, Error, Kek, Milestone, RetentionPolicy, Vault};

const MIN: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(24 * 3600);

const AUDIO: ArtefactKind = ArtefactKind::Audio { track: 0 };
const TEXT: [ArtefactKind; 4] =
    [ArtefactKind::Transcript, ArtefactKind::Draft, ArtefactKind::Edits, ArtefactKind::Note];

fn t0() -> SystemTime {
    humantime::parse_rfc3339("2026-03-02T08:00:00Z").unwrap()
}

/// What the test expects a sweep to delete, and when.
type Expected = BTreeSet<(SystemTime, String, String, Rule)>;

fn expect(expected: &mut Expected, at: SystemTime, id: &str, what: impl ToString, rule: Rule) {
    expected.insert((at, id.to_string(), what.to_string(), rule));
}

/// Builds four consultations through the clock and returns what must go when.
fn populate(vault: &Vault, clock: &Clock) -> Expected {
    let mut expected = Expected::new();
    let at = |offset| {
        clock.set(t0() + offset);
        t0() + offset
    };

    // Standard, approved and exported: audio goes when the transcript is final, the rest
    // 7 days after export.
    at(Duration::ZERO);
    vault.create("exported", false).unwrap();
    vault.put("exported", AUDIO, b"pcm").unwrap();
    at(10 * MIN);
    for kind in TEXT {
        vault.put("exported", kind, kind.to_string().as_bytes()).unwrap();
    }
    let transcript_final = at(30 * MIN);
    vault.record("exported", Milestone::TranscriptFinal).unwrap();
    at(HOUR);
    vault.record("exported", Milestone::Approved).unwrap();
    let exported = at(2 * HOUR);
    vault.record("exported", Milestone::Exported).unwrap();
    at(3 * HOUR);
    vault.record("exported", Milestone::Exported).unwrap(); // a repeat does not move the deadline
    expect(&mut expected, transcript_final, "exported", AUDIO, Rule::AudioTranscriptFinal);
    for kind in TEXT {
        expect(&mut expected, exported + 7 * DAY, "exported", kind, Rule::AfterExport);
    }
    expect(&mut expected, exported + 7 * DAY, "exported", "record", Rule::AfterExport);

    // Standard, never final nor approved: audio at its 24 h maximum, the draft after 14 days.
    let created = at(Duration::ZERO);
    vault.create("abandoned", false).unwrap();
    let audio_written = at(MIN);
    vault.put("abandoned", AUDIO, b"pcm").unwrap();
    vault.put("abandoned", ArtefactKind::Draft, b"draft").unwrap();
    expect(&mut expected, audio_written + DAY, "abandoned", AUDIO, Rule::AudioMaxAge);
    expect(&mut expected, created + 14 * DAY, "abandoned", ArtefactKind::Draft, Rule::Unapproved);
    expect(&mut expected, created + 14 * DAY, "abandoned", "record", Rule::Unapproved);

    // Research consent: audio survives the final transcript, up to the research maximum.
    let created = at(Duration::ZERO);
    vault.create("research", true).unwrap();
    vault.put("research", AUDIO, b"pcm").unwrap();
    vault.put("research", ArtefactKind::Transcript, b"transcript").unwrap();
    at(30 * MIN);
    vault.record("research", Milestone::TranscriptFinal).unwrap();
    let exported = at(HOUR);
    vault.record("research", Milestone::Approved).unwrap();
    vault.record("research", Milestone::Exported).unwrap();
    expect(&mut expected, created + 90 * DAY, "research", AUDIO, Rule::AudioMaxAge);
    expect(&mut expected, exported + 365 * DAY, "research", ArtefactKind::Transcript, Rule::AfterExport);
    expect(&mut expected, exported + 365 * DAY, "research", "record", Rule::AfterExport);

    // Discarded by the doctor: everything at once.
    at(Duration::ZERO);
    vault.create("discarded", false).unwrap();
    vault.put("discarded", ArtefactKind::Draft, b"draft").unwrap();
    let discarded = at(5 * MIN);
    vault.record("discarded", Milestone::Discarded).unwrap();
    expect(&mut expected, discarded, "discarded", ArtefactKind::Draft, Rule::Discarded);
    expect(&mut expected, discarded, "discarded", "record", Rule::Discarded);

    expected
}

#[test]
fn every_artefact_disappears_exactly_at_its_deadline() {
    let scratch = Scratch::new("retention");
    let clock = Clock::at(t0());
    let vault = vault_with_clock(scratch.path(), Kek::generate().unwrap(), &clock);
    let policy = RetentionPolicy::default();
    let expected = populate(&vault, &clock);

    let deadlines: BTreeSet<SystemTime> = expected.iter().map(|e| e.0).collect();
    let mut gone = Expected::new();
    for deadline in deadlines {
        let before = retention::sweep(&vault, &policy, deadline - Duration::from_secs(1), &mut |_| Ok(())).unwrap();
        assert!(before.deletions.is_empty(), "deleted early: {before}");
        assert_all_present_except(&vault, &expected, &gone);

        let report = retention::sweep(&vault, &policy, deadline, &mut |_| Ok(())).unwrap();
        assert!(report.problems.is_empty(), "{report}");
        let deleted: Expected = report
            .deletions
            .iter()
            .map(|d| {
                assert_eq!((d.deadline, d.deleted_at), (deadline, deadline));
                (d.deadline, d.consultation.clone(), d.deleted.to_string(), d.rule)
            })
            .collect();
        let due: Expected = expected.iter().filter(|e| e.0 == deadline).cloned().collect();
        assert_eq!(deleted, due, "at {}", humantime::format_rfc3339(deadline));
        gone.extend(due);
        assert_all_present_except(&vault, &expected, &gone);
    }
    assert!(vault.data_dir().join("consultations").read_dir().unwrap().next().is_none());
}

/// Everything expected and not yet gone opens; what is gone reports Shredded (or Missing,
/// once the consultation record itself is gone).
fn assert_all_present_except(vault: &Vault, expected: &Expected, gone: &Expected) {
    for entry @ (_, id, what, _) in expected {
        let Ok(kind) = what.parse::<ArtefactKind>() else {
            continue;
        };
        let result = vault.get(id, kind);
        if !gone.contains(entry) {
            assert!(result.is_ok(), "{id}/{what} should still be there: {:?}", result.err());
        } else if gone.iter().any(|(_, i, w, _)| i == id && w == "record") {
            assert!(matches!(result, Err(Error::Missing { .. })), "{id}/{what}: {result:?}");
        } else {
            assert!(matches!(result, Err(Error::Shredded { .. })), "{id}/{what}: {result:?}");
        }
    }
}

#[test]
fn status_lists_each_artefact_with_its_deadline() {
    let scratch = Scratch::new("status");
    let clock = Clock::at(t0());
    let vault = vault_with_clock(scratch.path(), Kek::generate().unwrap(), &clock);
    let policy = RetentionPolicy::default();
    let expected = populate(&vault, &clock);

    let status = retention::status(&vault, &policy, t0() + HOUR).unwrap();
    let mut listed = Expected::new();
    for c in &status.consultations {
        for a in &c.artefacts {
            listed.insert((a.deadline.at, c.consultation.id.clone(), a.kind.to_string(), a.deadline.rule));
        }
        let record = c.record_deadline;
        listed.insert((record.at, c.consultation.id.clone(), "record".into(), record.rule));
    }
    assert_eq!(listed, expected);
    let printed = status.to_string();
    println!("{printed}");
    assert!(printed.contains("consultation \"research\" [research class]"), "{printed}");
    assert!(printed.contains("overdue"), "the exported audio is past due at t0+1h:\n{printed}");
}

#[test]
fn withdrawn_research_consent_falls_back_to_standard_limits() {
    let scratch = Scratch::new("withdrawn");
    let clock = Clock::at(t0());
    let vault = vault_with_clock(scratch.path(), Kek::generate().unwrap(), &clock);
    vault.create("c", true).unwrap();
    vault.put("c", AUDIO, b"pcm").unwrap();
    vault.record("c", Milestone::TranscriptFinal).unwrap();
    let policy = RetentionPolicy::default();
    assert!(retention::sweep(&vault, &policy, t0() + 2 * DAY, &mut |_| Ok(())).unwrap().deletions.is_empty());
    vault.set_research_consent("c", false).unwrap();
    let report = retention::sweep(&vault, &policy, t0() + 2 * DAY, &mut |_| Ok(())).unwrap();
    assert_eq!(report.deletions.len(), 1);
    assert_eq!(report.deletions[0].deleted, Deleted::Artefact(AUDIO));
    assert_eq!(report.deletions[0].rule, Rule::AudioTranscriptFinal);
}

#[derive(serde::Deserialize)]
struct Config {
    #[serde(default)]
    retention: RetentionPolicy,
}

#[test]
fn policy_reads_from_autonotar_toml_with_defaults() {
    let defaults: Config = toml::from_str("").unwrap();
    assert_eq!(defaults.retention, RetentionPolicy::default());
    assert_eq!(defaults.retention.standard.audio_max, DAY);

    let config: Config = toml::from_str(
        "[retention]\naudio_max = \"6h\"\nafter_export = \"3d\"\n[retention.research]\nunapproved = \"60d\"\n",
    )
    .unwrap();
    let p = config.retention;
    assert_eq!((p.standard.audio_max, p.standard.after_export, p.standard.unapproved), (6 * HOUR, 3 * DAY, 14 * DAY));
    assert_eq!((p.research.audio_max, p.research.unapproved), (90 * DAY, 60 * DAY));

    let typo = toml::from_str::<Config>("[retention]\nafter_exprot = \"3d\"\n").err().unwrap().to_string();
    assert!(typo.contains("after_exprot"), "{typo}");
    let nested = toml::from_str::<Config>("[retention.research.research]\naudio_max = \"1d\"\n").err().unwrap();
    assert!(nested.to_string().contains("cannot have a research table"), "{nested}");
    let bad = toml::from_str::<Config>("[retention]\naudio_max = \"soon\"\n").err().unwrap().to_string();
    assert!(bad.contains("audio_max") || bad.contains("soon"), "{bad}");
}

#[test]
fn now_is_parsed_as_rfc3339_utc() {
    assert_eq!(retention::parse_time("2026-03-02T08:00:00Z").unwrap(), t0());
    let err = retention::parse_time("tomorrow").unwrap_err().to_string();
    assert!(err.contains("RFC 3339"), "{err}");
}

#[test]
fn sweep_reports_a_damaged_consultation_and_goes_on_with_the_rest() {
    let scratch = Scratch::new("damaged");
    let clock = Clock::at(t0());
    let vault = vault_with_clock(scratch.path(), Kek::generate().unwrap(), &clock);
    for id in ["good", "bad"] {
        vault.create(id, false).unwrap();
        vault.put(id, ArtefactKind::Draft, b"draft").unwrap();
    }
    let bad_dir = vault.consultation_dir("bad").unwrap();
    let keyring = bad_dir.join("keyring");
    let mut bytes = std::fs::read(&keyring).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    std::fs::write(&keyring, bytes).unwrap();

    let report = retention::sweep(&vault, &RetentionPolicy::default(), t0() + 15 * DAY, &mut |_| Ok(())).unwrap();
    let deleted: Vec<(String, Deleted)> =
        report.deletions.iter().map(|d| (d.consultation.clone(), d.deleted)).collect();
    assert_eq!(deleted, [("good".into(), Deleted::Artefact(ArtefactKind::Draft)), ("good".into(), Deleted::Record)]);
    assert_eq!(report.problems.len(), 1);
    assert!(matches!(report.problems[0].error, Error::Tampered { .. }));
    assert!(bad_dir.join("keyring").exists(), "nothing is deleted on doubt");
}

#[test]
fn sweep_finishes_interrupted_shredding_and_removes_stale_orphans_only() {
    let scratch = Scratch::new("leftovers");
    let clock = Clock::at(t0());
    let vault = vault_with_clock(scratch.path(), Kek::generate().unwrap(), &clock);
    vault.create("live", false).unwrap();
    vault.put("live", ArtefactKind::Draft, b"draft").unwrap();
    vault.create("interrupted", false).unwrap();
    vault.put("interrupted", ArtefactKind::Draft, b"draft").unwrap();
    let interrupted = vault.consultation_dir("interrupted").unwrap();
    std::fs::remove_file(interrupted.join("keyring")).unwrap();

    let dir = vault.consultation_dir("live").unwrap();
    let stale = dir.join(format!("draft.{}", "ab".repeat(16)));
    let fresh = dir.join(".draft.0123456789abcdef.tmp");
    std::fs::write(&stale, b"ciphertext whose key was never committed").unwrap();
    std::fs::write(&fresh, b"a write in progress elsewhere").unwrap();
    let two_hours_ago = SystemTime::now() - 2 * HOUR;
    std::fs::File::options().write(true).open(&stale).unwrap().set_modified(two_hours_ago).unwrap();

    let report = retention::sweep(&vault, &RetentionPolicy::default(), t0(), &mut |_| Ok(())).unwrap();
    assert!(report.deletions.is_empty() && report.problems.is_empty(), "{report}");
    assert_eq!(report.leftovers_removed, 2);
    assert!(!interrupted.exists() && !stale.exists() && fresh.exists());
    assert_eq!(&*vault.get("live", ArtefactKind::Draft).unwrap(), b"draft");
    assert!(matches!(vault.get("interrupted", ArtefactKind::Draft), Err(Error::Missing { .. })));
}

#[test]
fn a_deletion_that_cannot_be_recorded_is_not_done_and_stops_the_sweep() {
    let scratch = Scratch::new("retention");
    let clock = Clock::at(t0());
    let vault = vault_with_clock(scratch.path(), Kek::generate().unwrap(), &clock);
    for id in ["first", "second"] {
        vault.create(id, false).unwrap();
        vault.put(id, ArtefactKind::Draft, b"draft").unwrap();
    }
    let due = t0() + 400 * DAY;
    let mut heard = 0;
    let refused = retention::sweep(&vault, &RetentionPolicy::default(), due, &mut |_| {
        heard += 1;
        Err("the audit log is full".into())
    });
    assert!(matches!(refused, Err(Error::Unrecorded(ref why)) if why.contains("full")), "{refused:?}");
    assert_eq!(heard, 1, "the sweep stops at the first deletion it cannot record");
    for id in ["first", "second"] {
        assert_eq!(&*vault.get(id, ArtefactKind::Draft).unwrap(), b"draft", "{id} was deleted unrecorded");
    }
    let mut recorded = Vec::new();
    let report = retention::sweep(&vault, &RetentionPolicy::default(), due, &mut |d| {
        recorded.push(d.clone());
        Ok(())
    })
    .unwrap();
    assert_eq!(report.deletions, recorded, "every deletion done was recorded first");
    assert!(report.deletions.len() >= 4, "{report}");
}

#[test]
fn absurd_limits_are_refused_at_load_not_at_the_first_deadline() {
    for text in ["unapproved = \"200000000000y\"", "[research]\naudio_max = \"101y\""] {
        let error = toml::from_str::<RetentionPolicy>(text).unwrap_err().to_string();
        assert!(error.contains("longer than 100 years"), "{text}: {error}");
    }
    assert!(toml::from_str::<RetentionPolicy>("unapproved = \"30y\"").is_ok());
}
