//! The sections of a Danish journal note: the vocabulary the corpus labels, the drafter writes
//! and the evaluation harness scores.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A journal-note section, in the order a note lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Section {
    Kontaktaarsag,
    Anamnese,
    Objektivt,
    Vurdering,
    Plan,
    Medicin,
}

impl Section {
    pub const ALL: [Section; 6] = [
        Section::Kontaktaarsag,
        Section::Anamnese,
        Section::Objektivt,
        Section::Vurdering,
        Section::Plan,
        Section::Medicin,
    ];

    /// The heading as a Danish note writes it.
    pub fn heading(self) -> &'static str {
        match self {
            Section::Kontaktaarsag => "Kontaktårsag",
            Section::Anamnese => "Anamnese",
            Section::Objektivt => "Objektivt",
            Section::Vurdering => "Vurdering",
            Section::Plan => "Plan",
            Section::Medicin => "Medicin",
        }
    }

    /// The corpus label (`kontaktaarsag`, …).
    pub fn label(self) -> &'static str {
        match self {
            Section::Kontaktaarsag => "kontaktaarsag",
            Section::Anamnese => "anamnese",
            Section::Objektivt => "objektivt",
            Section::Vurdering => "vurdering",
            Section::Plan => "plan",
            Section::Medicin => "medicin",
        }
    }

    /// `None` for the corpus label `none` and for anything unknown.
    pub fn from_label(label: &str) -> Option<Section> {
        Section::ALL.into_iter().find(|s| s.label() == label)
    }

    /// Accepts the corpus label (`kontaktaarsag`) and the heading (`Kontaktårsag:`), any case.
    pub fn from_name(name: &str) -> Option<Section> {
        let key = name.trim().trim_end_matches(':').to_lowercase().replace('å', "aa");
        Section::from_label(&key)
    }
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.heading())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_headings_name_the_same_section() {
        for s in Section::ALL {
            assert_eq!(Section::from_label(s.label()), Some(s));
            assert_eq!(Section::from_name(&format!("{}:", s.heading())), Some(s));
        }
        assert_eq!(Section::from_label("none"), None);
    }
}
