//! GDPR retention: when each artefact must be gone, what is due now (`status`) and deleting it
//! by crypto-shredding (`sweep`). Data minimisation is the default; the `research` class, with
//! its own limits, applies only to consultations with explicit research consent.
//!
//! Rules, for an artefact of a consultation (the earliest applicable deadline wins):
//! - `discarded`: everything goes as soon as the doctor discards the consultation;
//! - `after-export`: transcript, draft, edits, note and any audio go `after_export` after the
//!   approved note was exported;
//! - `unapproved`: without an export, they go `unapproved` after the consultation was created;
//! - `audio-transcript-final` (standard class only): audio goes when the transcript is final;
//! - `audio-max-age`: audio goes `audio_max` after it was written, whatever else happens.
//!
//! The consultation record itself (id and lifecycle) goes when no artefact is left and its
//! text deadline has passed.

use std::fmt;
use std::time::{Duration, SystemTime};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::vault::{ArtefactKind, Consultation, Lifecycle, Shredding, Vault};

/// Limits of one retention class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClassLimits {
    /// Hard maximum age of kept audio.
    pub audio_max: Duration,
    /// How long transcript, draft, edits and note stay after the note was exported.
    pub after_export: Duration,
    /// How long they stay when the note is never approved and exported.
    pub unapproved: Duration,
}

/// The `[retention]` table of autonotar.toml. Durations use humantime syntax ("24h", "7d").
///
/// ```toml
/// [retention]
/// audio_max = "24h"
/// after_export = "7d"
/// unapproved = "14d"
///
/// [retention.research]   # only with explicit research consent
/// audio_max = "90d"
/// after_export = "365d"
/// unapproved = "30d"
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetentionPolicy {
    pub standard: ClassLimits,
    pub research: ClassLimits,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        RetentionPolicy {
            standard: ClassLimits {
                audio_max: Duration::from_secs(DAY),
                after_export: Duration::from_secs(7 * DAY),
                unapproved: Duration::from_secs(14 * DAY),
            },
            research: ClassLimits {
                audio_max: Duration::from_secs(90 * DAY),
                after_export: Duration::from_secs(365 * DAY),
                unapproved: Duration::from_secs(30 * DAY),
            },
        }
    }
}

/// What autonotar.toml may say: every key optional, unknown keys refused (a typo must not
/// silently keep data longer or shorter than intended). The top level holds the standard
/// limits and the `research` table; the `research` table holds the same keys.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsToml {
    #[serde(default, with = "humantime_serde")]
    audio_max: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    after_export: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    unapproved: Option<Duration>,
    research: Option<Box<LimitsToml>>,
}

impl LimitsToml {
    fn over(&self, defaults: ClassLimits) -> ClassLimits {
        ClassLimits {
            audio_max: self.audio_max.unwrap_or(defaults.audio_max),
            after_export: self.after_export.unwrap_or(defaults.after_export),
            unapproved: self.unapproved.unwrap_or(defaults.unapproved),
        }
    }
}

impl<'de> Deserialize<'de> for RetentionPolicy {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let toml = LimitsToml::deserialize(deserializer)?;
        let defaults = RetentionPolicy::default();
        let research = match &toml.research {
            Some(research) if research.research.is_some() => {
                return Err(serde::de::Error::custom("[retention.research] cannot have a research table of its own"));
            }
            Some(research) => research.over(defaults.research),
            None => defaults.research,
        };
        let policy = RetentionPolicy { standard: toml.over(defaults.standard), research };
        for (table, limits) in [("[retention]", &policy.standard), ("[retention.research]", &policy.research)] {
            for (key, limit) in [
                ("audio_max", limits.audio_max),
                ("after_export", limits.after_export),
                ("unapproved", limits.unapproved),
            ] {
                if limit > LONGEST_LIMIT {
                    return Err(serde::de::Error::custom(format!(
                        "{table} {key} is longer than 100 years; no record is kept that long"
                    )));
                }
            }
        }
        Ok(policy)
    }
}

const DAY: u64 = 24 * 3600;

/// The longest retention limit accepted: deadlines must stay representable times.
const LONGEST_LIMIT: Duration = Duration::from_secs(100 * 366 * DAY);

/// Which limits apply to a consultation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetentionClass {
    Standard,
    /// Only with the patient's explicit research consent.
    Research,
}

impl fmt::Display for RetentionClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RetentionClass::Standard => "standard",
            RetentionClass::Research => "research",
        })
    }
}

/// The policy rule that sets a deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    Discarded,
    AfterExport,
    Unapproved,
    AudioTranscriptFinal,
    AudioMaxAge,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rule::Discarded => "discarded",
            Rule::AfterExport => "after-export",
            Rule::Unapproved => "unapproved",
            Rule::AudioTranscriptFinal => "audio-transcript-final",
            Rule::AudioMaxAge => "audio-max-age",
        })
    }
}

/// When something must be gone, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deadline {
    pub at: SystemTime,
    pub rule: Rule,
}

impl RetentionPolicy {
    pub fn class_of(&self, lifecycle: &Lifecycle) -> RetentionClass {
        if lifecycle.research_consent { RetentionClass::Research } else { RetentionClass::Standard }
    }

    fn limits(&self, class: RetentionClass) -> ClassLimits {
        match class {
            RetentionClass::Standard => self.standard,
            RetentionClass::Research => self.research,
        }
    }

    /// The deadline of the consultation record, and of every non-audio artefact.
    pub fn record_deadline(&self, lifecycle: &Lifecycle) -> Deadline {
        let limits = self.limits(self.class_of(lifecycle));
        let text = match lifecycle.exported {
            Some(exported) => Deadline { at: exported + limits.after_export, rule: Rule::AfterExport },
            None => Deadline { at: lifecycle.created + limits.unapproved, rule: Rule::Unapproved },
        };
        let discarded = lifecycle.discarded.map(|at| Deadline { at, rule: Rule::Discarded });
        earliest(discarded.into_iter().chain([text]))
    }

    /// The deadline of an artefact written at `written`.
    pub fn deadline(&self, lifecycle: &Lifecycle, kind: ArtefactKind, written: SystemTime) -> Deadline {
        let record = self.record_deadline(lifecycle);
        if !kind.is_audio() {
            return record;
        }
        let class = self.class_of(lifecycle);
        let max_age = Deadline { at: written + self.limits(class).audio_max, rule: Rule::AudioMaxAge };
        let transcript_final = lifecycle
            .transcript_final
            .filter(|_| class == RetentionClass::Standard)
            .map(|at| Deadline { at, rule: Rule::AudioTranscriptFinal });
        earliest([record, max_age].into_iter().chain(transcript_final))
    }
}

fn earliest(deadlines: impl Iterator<Item = Deadline>) -> Deadline {
    deadlines.min_by_key(|d| d.at).expect("every artefact has at least one deadline")
}

/// What was deleted: one artefact, or the consultation record (id and lifecycle) itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deleted {
    Artefact(ArtefactKind),
    Record,
}

impl fmt::Display for Deleted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Deleted::Artefact(kind) => kind.fmt(f),
            Deleted::Record => f.write_str("record"),
        }
    }
}

/// One crypto-shredding done by `sweep`; the caller turns each into an audit event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deletion {
    pub consultation: String,
    pub deleted: Deleted,
    pub class: RetentionClass,
    pub rule: Rule,
    pub deadline: SystemTime,
    pub deleted_at: SystemTime,
}

impl fmt::Display for Deletion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "shredded {} of consultation {:?} ({} class, rule {}, due {}, at {})",
            self.deleted,
            self.consultation,
            self.class,
            self.rule,
            humantime::format_rfc3339(self.deadline),
            humantime::format_rfc3339(self.deleted_at)
        )
    }
}

/// A consultation that could not be read; the others are still handled.
#[derive(Debug)]
pub struct Problem {
    /// The consultation's directory name under `consultations/`.
    pub dir: String,
    pub error: Error,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "consultations/{}: {}", self.dir, self.error)
    }
}

/// The outcome of a sweep.
#[derive(Debug, Default)]
pub struct SweepReport {
    pub deletions: Vec<Deletion>,
    /// Unreferenced (already unreadable) files and interrupted shreddings cleaned up.
    pub leftovers_removed: usize,
    pub problems: Vec<Problem>,
}

impl fmt::Display for SweepReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for deletion in &self.deletions {
            writeln!(f, "{deletion}")?;
        }
        for problem in &self.problems {
            writeln!(f, "problem: {problem}")?;
        }
        write!(
            f,
            "{} deletion(s), {} leftover file(s) removed, {} problem(s)",
            self.deletions.len(),
            self.leftovers_removed,
            self.problems.len()
        )
    }
}

/// Parses `--now <RFC 3339>` for `retention sweep` and `retention status`.
pub fn parse_time(text: &str) -> Result<SystemTime> {
    humantime::parse_rfc3339_weak(text).map_err(|_| Error::InvalidTime(text.to_string()))
}

/// How long an unreferenced file may sit before the sweeper removes it: longer than any write
/// in progress could take.
const ORPHAN_GRACE: Duration = Duration::from_secs(3600);

/// Crypto-shreds everything whose deadline is at or before `now`.
///
/// `record` hears of each deletion under the vault's lock just before it happens; when it fails
/// the deletion is not done and the sweep stops with [`Error::Unrecorded`], so nothing is ever
/// deleted that the audit log does not show. (A crash between the record and the deletion
/// leaves a record of a deletion the next sweep then does, and records again.)
pub fn sweep(
    vault: &Vault,
    policy: &RetentionPolicy,
    now: SystemTime,
    record: &mut dyn FnMut(&Deletion) -> std::result::Result<(), String>,
) -> Result<SweepReport> {
    let mut report = SweepReport::default();
    for handle in vault.handles()? {
        let dir = secrets::hex(&handle);
        match sweep_one(vault, policy, now, &handle, &mut report, record) {
            Ok(()) => {}
            Err(error @ Error::Unrecorded(_)) => return Err(error),
            Err(error) => report.problems.push(Problem { dir, error }),
        }
    }
    Ok(report)
}

fn sweep_one(
    vault: &Vault,
    policy: &RetentionPolicy,
    now: SystemTime,
    handle: &[u8; 32],
    report: &mut SweepReport,
    record: &mut dyn FnMut(&Deletion) -> std::result::Result<(), String>,
) -> Result<()> {
    let Some(consultation) = vault.consultation_by_handle(handle)? else {
        // Keyring gone: a shredding was interrupted; its files are unreadable. Finish it.
        report.leftovers_removed += usize::from(vault.remove_keyless(handle)?);
        return Ok(());
    };
    let class = policy.class_of(&consultation.lifecycle);
    let deletion = |deleted, deadline: Deadline| Deletion {
        consultation: consultation.id.clone(),
        deleted,
        class,
        rule: deadline.rule,
        deadline: deadline.at,
        deleted_at: now,
    };
    let mut remaining = consultation.artefacts.len();
    for artefact in &consultation.artefacts {
        let deadline = policy.deadline(&consultation.lifecycle, artefact.kind, artefact.written);
        if deadline.at > now {
            continue;
        }
        let shredding = Shredding { at: now, rule: deadline.rule.to_string() };
        let still_due = |lifecycle: &Lifecycle, written| policy.deadline(lifecycle, artefact.kind, written).at <= now;
        let done = deletion(Deleted::Artefact(artefact.kind), deadline);
        if vault
            .shred_artefact(handle, artefact.kind, shredding, still_due, || record(&done).map_err(Error::Unrecorded))?
        {
            report.deletions.push(done);
            remaining -= 1;
        }
    }
    let deadline = policy.record_deadline(&consultation.lifecycle);
    let still_due = |lifecycle: &Lifecycle| policy.record_deadline(lifecycle).at <= now;
    let done = deletion(Deleted::Record, deadline);
    if remaining == 0
        && deadline.at <= now
        && vault.shred_record(handle, still_due, || record(&done).map_err(Error::Unrecorded))?
    {
        report.deletions.push(done);
    } else {
        report.leftovers_removed += vault.remove_orphans(handle, ORPHAN_GRACE)?;
    }
    Ok(())
}

/// One artefact's retention status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArtefactStatus {
    pub kind: ArtefactKind,
    pub size: u64,
    pub written: SystemTime,
    pub deadline: Deadline,
}

/// One consultation's retention status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsultationStatus {
    pub consultation: Consultation,
    pub class: RetentionClass,
    pub artefacts: Vec<ArtefactStatus>,
    /// When the record itself goes (once no artefact is left).
    pub record_deadline: Deadline,
}

/// `retention status`: every consultation's artefacts and when each will be deleted.
#[derive(Debug)]
pub struct StatusReport {
    pub now: SystemTime,
    pub consultations: Vec<ConsultationStatus>,
    pub problems: Vec<Problem>,
}

/// Lists every consultation with its artefacts' deadlines as of `now`.
pub fn status(vault: &Vault, policy: &RetentionPolicy, now: SystemTime) -> Result<StatusReport> {
    let mut report = StatusReport { now, consultations: Vec::new(), problems: Vec::new() };
    for handle in vault.handles()? {
        match vault.consultation_by_handle(&handle) {
            Ok(Some(consultation)) => {
                let lifecycle = consultation.lifecycle;
                let artefacts = consultation
                    .artefacts
                    .iter()
                    .map(|a| ArtefactStatus {
                        kind: a.kind,
                        size: a.size,
                        written: a.written,
                        deadline: policy.deadline(&lifecycle, a.kind, a.written),
                    })
                    .collect();
                report.consultations.push(ConsultationStatus {
                    class: policy.class_of(&lifecycle),
                    record_deadline: policy.record_deadline(&lifecycle),
                    artefacts,
                    consultation,
                });
            }
            // Keyring gone: unreadable leftovers the next sweep removes; nothing to list.
            Ok(None) => {}
            Err(error) => report.problems.push(Problem { dir: secrets::hex(&handle), error }),
        }
    }
    report.consultations.sort_by(|a, b| {
        (a.consultation.lifecycle.created, &a.consultation.id)
            .cmp(&(b.consultation.lifecycle.created, &b.consultation.id))
    });
    Ok(report)
}

/// "13d 23h", "5h 2m", "42s": the two largest units, enough for a deadline.
fn approximately(left: Duration) -> String {
    let secs = left.as_secs();
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

impl fmt::Display for StatusReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let when = |deadline: &Deadline| {
            let at = humantime::format_rfc3339(deadline.at);
            match deadline.at.duration_since(self.now) {
                Ok(left) => format!("{at} (in {}, {})", approximately(left), deadline.rule),
                Err(_) => format!("{at} (overdue: next sweep, {})", deadline.rule),
            }
        };
        for c in &self.consultations {
            let l = &c.consultation.lifecycle;
            let stamp = |t: Option<SystemTime>| t.map_or("-".to_string(), |t| humantime::format_rfc3339(t).to_string());
            writeln!(
                f,
                "consultation {:?} [{} class] created {}, transcript final {}, approved {}, exported {}, discarded {}",
                c.consultation.id,
                c.class,
                humantime::format_rfc3339(l.created),
                stamp(l.transcript_final),
                stamp(l.approved),
                stamp(l.exported),
                stamp(l.discarded)
            )?;
            for a in &c.artefacts {
                writeln!(f, "  {:<12} {:>10} bytes  deleted at {}", a.kind.to_string(), a.size, when(&a.deadline))?;
            }
            for (kind, s) in &c.consultation.shredded {
                writeln!(f, "  {:<12} shredded at {} ({})", kind.to_string(), humantime::format_rfc3339(s.at), s.rule)?;
            }
            writeln!(f, "  record       deleted at {}, once no artefact is left", when(&c.record_deadline))?;
        }
        for problem in &self.problems {
            writeln!(f, "problem: {problem}")?;
        }
        write!(f, "{} consultation(s), {} problem(s)", self.consultations.len(), self.problems.len())
    }
}
