//! The sealed per-consultation record (docs/vault-format.md §5): the consultation's id, its
//! lifecycle timestamps, one data key per artefact and what was shredded when. Serialised only
//! into zeroized buffers, since it holds the keys.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroizing;

use super::ArtefactKind;

/// A step in a consultation's life that the retention rules count from (its time is kept in
/// the [`Lifecycle`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Milestone {
    TranscriptFinal,
    Approved,
    Exported,
    /// The doctor discarded the consultation: everything goes at the next sweep.
    Discarded,
}

/// When things happened to a consultation. Holds no personal content; integrity-protected
/// inside the sealed keyring. Times are whole seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lifecycle {
    #[serde(with = "unix_secs")]
    pub created: SystemTime,
    #[serde(with = "unix_secs::option")]
    pub transcript_final: Option<SystemTime>,
    #[serde(with = "unix_secs::option")]
    pub approved: Option<SystemTime>,
    #[serde(with = "unix_secs::option")]
    pub exported: Option<SystemTime>,
    #[serde(with = "unix_secs::option")]
    pub discarded: Option<SystemTime>,
    /// Explicit research consent: puts the consultation in the `research` retention class.
    pub research_consent: bool,
}

impl Lifecycle {
    fn slot(&mut self, event: Milestone) -> &mut Option<SystemTime> {
        match event {
            Milestone::TranscriptFinal => &mut self.transcript_final,
            Milestone::Approved => &mut self.approved,
            Milestone::Exported => &mut self.exported,
            Milestone::Discarded => &mut self.discarded,
        }
    }

    /// The lifecycle once `event` is recorded at `at` (whole seconds), as [`Vault::record_at`]
    /// will leave it: lets the deadline it brings be audited before it is recorded.
    pub fn after(mut self, event: Milestone, at: SystemTime) -> Lifecycle {
        self.slot(event).get_or_insert(whole_seconds(at));
        self
    }
}

/// A stored artefact, as listed by [`Vault::consultation`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArtefactInfo {
    pub kind: ArtefactKind,
    pub written: SystemTime,
    pub size: u64,
}

/// A crypto-shredded artefact: when and under which rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shredding {
    #[serde(with = "unix_secs")]
    pub at: SystemTime,
    pub rule: String,
}

/// What the vault knows about one consultation (no artefact content).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Consultation {
    pub id: String,
    pub lifecycle: Lifecycle,
    pub artefacts: Vec<ArtefactInfo>,
    pub shredded: Vec<(ArtefactKind, Shredding)>,
}

/// The sealed per-consultation record (docs/vault-format.md §5).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Keyring {
    pub(super) id: String,
    pub(super) lifecycle: Lifecycle,
    pub(super) artefacts: BTreeMap<String, Entry>,
    pub(super) shredded: BTreeMap<String, Shredding>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Entry {
    /// Names the ciphertext file `<kind>.<file>`; also in the stream header.
    #[serde(with = "hex_bytes")]
    pub(super) file: [u8; 16],
    pub(super) key: DataKey,
    #[serde(with = "unix_secs")]
    pub(super) written: SystemTime,
    pub(super) size: u64,
}

/// A 256-bit artefact data key, zeroized on drop.
pub(super) struct DataKey(pub(super) Zeroizing<[u8; 32]>);

impl Keyring {
    pub(super) fn to_consultation(&self) -> Consultation {
        Consultation {
            id: self.id.clone(),
            lifecycle: self.lifecycle,
            artefacts: self
                .artefacts
                .iter()
                .filter_map(|(label, e)| {
                    let kind = label.parse().ok()?;
                    Some(ArtefactInfo { kind, written: e.written, size: e.size })
                })
                .collect(),
            shredded: self.shredded.iter().filter_map(|(label, s)| Some((label.parse().ok()?, s.clone()))).collect(),
        }
    }
}

pub(super) fn whole_seconds(t: SystemTime) -> SystemTime {
    let secs = t.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    UNIX_EPOCH + Duration::from_secs(secs)
}

impl Serialize for DataKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let text = Zeroizing::new(secrets::hex(self.0.as_slice()));
        serializer.serialize_str(&text)
    }
}

impl<'de> Deserialize<'de> for DataKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Borrowed: the hex text stays in the (zeroized) keyring buffer, never copied.
        let text = <&str>::deserialize(deserializer)?;
        secrets::unhex::<32>(text)
            .map(|key| DataKey(Zeroizing::new(key)))
            .ok_or_else(|| serde::de::Error::custom("data key is not 64 hex digits"))
    }
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8; 16], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&secrets::hex(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<[u8; 16], D::Error> {
        let text = <&str>::deserialize(deserializer)?;
        secrets::unhex(text).ok_or_else(|| serde::de::Error::custom("file id is not 32 hex digits"))
    }
}

/// Timestamps as whole seconds since the Unix epoch.
mod unix_secs {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &SystemTime, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(t.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<SystemTime, D::Error> {
        Ok(UNIX_EPOCH + Duration::from_secs(u64::deserialize(deserializer)?))
    }

    pub mod option {
        use super::*;

        pub fn serialize<S: Serializer>(t: &Option<SystemTime>, serializer: S) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => super::serialize(t, serializer),
                None => serializer.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<SystemTime>, D::Error> {
            Ok(Option::<u64>::deserialize(deserializer)?.map(|s| UNIX_EPOCH + Duration::from_secs(s)))
        }
    }
}
