//! Deleting on time, audited before it happens: each deletion's record is written under the
//! vault's lock just before the deletion, and a sweep that cannot write one stops there. Used by
//! `autonotar retention sweep` and by `serve`'s own sweep.

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use audit::AuditLog;
use vault::retention::{Deleted, Deletion, SweepReport};
use vault::{RetentionPolicy, Vault};

use crate::Error;

/// Deletes what is due at `now`, one audit record per deletion written first, and a
/// `retention_sweep_ran` record at the end.
pub fn sweep(
    vault: &Vault,
    audit: &Arc<Mutex<AuditLog>>,
    policy: &RetentionPolicy,
    now: SystemTime,
) -> Result<SweepReport, Error> {
    let append = |event| audit.lock().unwrap_or_else(|p| p.into_inner()).append(event);
    let report = vault::retention::sweep(vault, policy, now, &mut |deletion| {
        let event = deletion_event(deletion).map_err(|e| e.to_string())?;
        append(event).map(drop).map_err(|e| e.to_string())
    })?;
    let deleted = report.deletions.iter().filter(|d| matches!(d.deleted, Deleted::Artefact(_))).count() as u64;
    append(audit::Event::RetentionSweepRan {
        examined: report.deletions.len() as u64 + report.problems.len() as u64,
        deleted,
        shredded: report.deletions.len() as u64 - deleted,
    })?;
    Ok(report)
}

/// The audit record of one deletion. Artefact ids are `<consultation>.<kind>`, as the producers
/// of those artefacts name them.
fn deletion_event(deletion: &Deletion) -> Result<audit::Event, ids::InvalidId> {
    let consultation = ids::ConsultationId::new(deletion.consultation.as_str())?;
    let policy = ids::Id::new(format!("{}.{}", deletion.class, deletion.rule))?;
    Ok(match &deletion.deleted {
        Deleted::Artefact(kind) => audit::Event::ArtefactDeleted {
            artefact: consultation.part(&kind.to_string()),
            consultation: consultation.as_id().clone(),
            policy,
        },
        Deleted::Record => audit::Event::KeyShredded {
            key: consultation.part("keyring"),
            artefacts: Vec::new(),
            consultation: consultation.as_id().clone(),
            policy,
        },
    })
}
