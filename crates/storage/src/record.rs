//! What a consultation keeps in the vault besides its transcript and draft: the doctor it
//! belongs to and the doctor's working copy of the draft, one small JSON document in the
//! consultation's `Edits` artefact (encrypted like every artefact). The live service writes the
//! first version at hang-up; the review app reads and updates it.

use ids::Id;
use note::{Draft, Section};
use serde::{Deserialize, Serialize};
use transcript::Transcript;
use vault::{ArtefactKind, Vault};

use crate::Error;

/// The `Edits` artefact of a consultation.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewRecord {
    /// The doctor whose consultation this is; nobody else may see it.
    pub doctor: Id,
    /// The doctor's working copy, made from the draft when it is first opened.
    #[serde(default)]
    pub statements: Option<Vec<ReviewStatement>>,
}

/// One statement as the doctor is reviewing it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewStatement {
    /// Stable within the consultation: the page and its requests name statements by it.
    pub id: u32,
    pub section: Section,
    pub text: String,
    /// The draft's wording; `None` for a statement the doctor added.
    pub drafted: Option<String>,
    /// Transcript segment ids the statement rests on.
    pub evidence: Vec<u32>,
    pub confidence: Option<f32>,
    pub uncertain_words: Vec<String>,
    pub state: StatementState,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatementState {
    /// Not yet checked by the doctor.
    Unchecked,
    Accepted,
    Deleted,
}

impl ReviewStatement {
    pub fn is_edited(&self) -> bool {
        self.drafted.as_deref() != Some(self.text.as_str())
    }
}

/// Marks `consultation` as `doctor`'s, so it appears in their list. The service calls this when
/// the doctor starts capturing; the consultation must exist in the vault.
pub fn assign_doctor(vault: &Vault, consultation: &str, doctor: &Id) -> Result<(), Error> {
    let record = ReviewRecord { doctor: doctor.clone(), statements: None };
    save(vault, consultation, &record)
}

/// The review record, or `None` when the consultation has none (no doctor assigned yet).
pub fn load(vault: &Vault, consultation: &str) -> Result<Option<ReviewRecord>, Error> {
    let bytes = match vault.get(consultation, ArtefactKind::Edits) {
        Ok(bytes) => bytes,
        Err(vault::Error::Missing { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    serde_json::from_slice(&bytes).map(Some).map_err(|e| Error::Stored {
        consultation: consultation.to_string(),
        what: "review record",
        reason: e.to_string(),
    })
}

pub fn save(vault: &Vault, consultation: &str, record: &ReviewRecord) -> Result<(), Error> {
    let json = zeroize::Zeroizing::new(serde_json::to_vec(record).expect("a review record serialises"));
    Ok(vault.put(consultation, ArtefactKind::Edits, &json)?)
}

pub fn draft(vault: &Vault, consultation: &str) -> Result<Draft, Error> {
    let bytes = vault.get(consultation, ArtefactKind::Draft)?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Stored {
        consultation: consultation.to_string(),
        what: "draft",
        reason: e.to_string(),
    })
}

pub fn transcript(vault: &Vault, consultation: &str) -> Result<Transcript, Error> {
    let bytes = vault.get(consultation, ArtefactKind::Transcript)?;
    let text = std::str::from_utf8(&bytes).map_err(|e| Error::Stored {
        consultation: consultation.to_string(),
        what: "transcript",
        reason: e.to_string(),
    })?;
    Transcript::from_json(text).map_err(|e| Error::Stored {
        consultation: consultation.to_string(),
        what: "transcript",
        reason: e.to_string(),
    })
}
