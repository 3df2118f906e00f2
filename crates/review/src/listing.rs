//! The doctor's list: the vault's consultations and the live service's, merged. A call going on
//! is only in the service's memory until hang-up; after the draft is stored the vault knows
//! best.

use audit::Id;

use crate::live::LivePhase;
use crate::store::{self, Listed, Status};
use crate::{Error, ReviewState};

/// `doctor`'s consultations of the list window, newest first.
pub fn overview(state: &ReviewState, doctor: &Id) -> Result<Vec<Listed>, Error> {
    let inner = &state.inner;
    let now = inner.vault.now();
    let mut listed = store::list(&inner.vault, doctor, now, inner.config.list_window)?;
    for live in state.live.iter().flat_map(|feed| feed.consultations(doctor)) {
        let Some(status) = live_status(live.phase) else { continue };
        match listed.iter_mut().find(|l| l.id == live.id.as_str()) {
            Some(known) => known.status = status,
            None => listed.push(Listed { id: live.id.to_string(), created: live.opened, status }),
        }
    }
    listed.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.id.cmp(&b.id)));
    Ok(listed)
}

/// The status a live consultation shows; `None` once it is finished and the vault has its say.
pub fn live_status(phase: LivePhase) -> Option<Status> {
    match phase {
        LivePhase::Recording => Some(Status::Recording),
        LivePhase::Transcribing => Some(Status::Transcribing),
        LivePhase::Finished => None,
    }
}

/// `doctor`'s consultation `consultation` if it is still going on, with its status.
pub fn ongoing(state: &ReviewState, doctor: &Id, consultation: &Id) -> Option<Status> {
    let feed = state.live.as_ref()?;
    feed.consultations(doctor).into_iter().find(|c| &c.id == consultation).and_then(|c| live_status(c.phase))
}
