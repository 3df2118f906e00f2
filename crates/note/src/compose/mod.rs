//! The rules: from classified utterances to candidate statements in note style.
//!
//! Rules find structure (symptoms with negation and duration, measurements, medications,
//! allergies, plan actions); the classifier decides which utterances matter and, where a rule
//! does not fix it, which section they belong to. Every candidate names the segments it came
//! from; the verifier checks it against them before it may enter the note.

use transcript::{Role, Segment};

use crate::classifier::{Label, Section};
use crate::draft::{Change, Kind, Value};
use crate::lexicon::{self, Absent, Drug, SYMPTOMS, Symptom, dose_unit, drug_named, time_unit, word_matches};
use danish::{Token, danish_number, pressure_text, tokenize};

mod measurements;
mod medications;
mod plan;
mod summary;
mod symptoms;

use measurements::*;
use medications::*;
use plan::*;
pub(crate) use summary::capitalise;
use summary::*;
use symptoms::*;

/// Adds a candidate from the current utterance, citing also the utterances at the given indices.
type Push<'p> = dyn FnMut(Section, String, Kind, Vec<Value>, &[usize]) + 'p;

/// A statement before verification.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub section: Section,
    pub text: String,
    pub kind: Kind,
    pub values: Vec<Value>,
    /// Indices into the transcript's segments.
    pub segments: Vec<usize>,
    pub probability: f32,
}

struct Utterance<'a> {
    index: usize,
    segment: &'a Segment,
    tokens: Vec<Token>,
    label: Label,
}

impl Utterance<'_> {
    fn words(&self) -> impl Iterator<Item = &str> {
        self.tokens.iter().filter_map(Token::word)
    }

    fn has_word(&self, pred: impl Fn(&str) -> bool) -> bool {
        self.words().any(pred)
    }

    fn is_question(&self) -> bool {
        self.segment.text.contains('?')
    }
}

/// All candidate statements of a transcript, in segment order.
pub fn candidates(segments: &[Segment], labels: &[Label]) -> Vec<Candidate> {
    let utterances: Vec<Utterance> = segments
        .iter()
        .zip(labels)
        .enumerate()
        .map(|(index, (segment, label))| Utterance { index, segment, tokens: tokenize(&segment.text), label: *label })
        .collect();
    let mut out = Vec::new();
    let mut reasons_given = 0;
    let mut stated: Vec<&'static str> = Vec::new();
    let mut first_complaint: Option<Candidate> = None;
    let mut doses = DoseHistory::new();
    for (i, u) in utterances.iter().enumerate() {
        let question = i
            .checked_sub(1)
            .map(|p| &utterances[p])
            .filter(|q| q.is_question() && q.segment.speaker != u.segment.speaker && u.segment.speaker != Role::Doctor);
        let before = out.len();
        let asked: Vec<usize> = question.map(|q| q.index).into_iter().collect();
        let mut push = |section: Section, text: String, kind: Kind, values: Vec<Value>, also: &[usize]| {
            let mut used = also.to_vec();
            used.push(i);
            used.sort_unstable();
            used.dedup();
            out.push(Candidate { section, text, kind, values, segments: used, probability: u.label.probability });
        };
        let symptoms = symptom_findings(u, question);
        let is_reason = u.label.section == Some(Section::Kontaktaarsag);
        for finding in symptoms.iter().filter(|f| f.present && !f.from_question) {
            let reason = Candidate {
                section: Section::Kontaktaarsag,
                text: sentence(finding.symptom.name),
                kind: Kind::Symptom,
                values: vec![finding.value()],
                segments: vec![i],
                probability: u.label.probability,
            };
            if is_reason && reasons_given < 2 {
                reasons_given += 1;
                push(reason.section, reason.text, reason.kind, reason.values, &[]);
            } else if first_complaint.is_none() && i * 5 < utterances.len() * 2 {
                first_complaint = Some(reason);
            }
        }
        let temperatures = measurements(u, question, &mut push);
        for finding in &symptoms {
            let bare = finding.present && finding.duration.is_none() && finding.onset.is_none();
            let fever_with_value = finding.symptom.name == "feber" && finding.present && temperatures;
            if fever_with_value || (bare && (is_reason || stated.contains(&finding.symptom.name))) {
                continue;
            }
            if finding.present {
                stated.push(finding.symptom.name);
            }
            let cited: &[usize] = if finding.from_question { &asked } else { &[] };
            push(Section::Anamnese, finding.text(), Kind::Symptom, vec![finding.value()], cited);
        }
        allergy(u, question, &mut push);
        medications(u, question, &mut doses, &mut push);
        let planning = matches!(u.label.section, Some(Section::Plan | Section::Medicin));
        if u.segment.speaker != Role::Patient && u.label.section.is_some() && (planning || !u.is_question()) {
            plan_actions(u, &mut push);
        }
        let structured = out.len() > before;
        if let Some((section, text)) = summary(u, structured, reasons_given < 2) {
            if section == Section::Kontaktaarsag {
                reasons_given += 1;
            }
            out.push(Candidate {
                section,
                text,
                kind: Kind::Summary,
                values: Vec::new(),
                segments: vec![i],
                probability: u.label.probability,
            });
        }
    }
    // No utterance was classified as the reason for contact: the first complaint early in the
    // consultation is the best evidence-backed guess.
    if reasons_given == 0 {
        out.extend(first_complaint);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drafts candidates for `lines` ("Læge: …"), each utterance labelled `section`.
    fn said(lines: &str, section: Section) -> Vec<String> {
        let transcript = transcript::Transcript::parse_txt(lines).expect("well-formed lines");
        let labels = vec![Label { section: Some(section), probability: 1.0 }; transcript.segments.len()];
        candidates(&transcript.segments, &labels)
            .into_iter()
            .map(|c| format!("{}: {}", c.section.label(), c.text))
            .collect()
    }

    fn has(found: &[String], expected: &str) -> bool {
        found.iter().any(|f| f == expected)
    }

    #[test]
    fn negation_stays_in_its_clause() {
        let found = said("Patient: Og så får jeg kvalme og kan ikke tåle lys.", Section::Anamnese);
        assert!(has(&found, "anamnese: Kvalme."), "{found:?}");
        let found = said("Læge: Klør udslættet?\nPatient: Nej, det klør ikke.", Section::Anamnese);
        assert!(has(&found, "anamnese: Ingen kløe."), "{found:?}");
        let found = said("Patient: Jeg kan ikke sove.", Section::Anamnese);
        assert!(has(&found, "anamnese: Søvnbesvær."), "{found:?}");
        let found = said("Patient: Jeg vil ikke tisse hele tiden.", Section::Anamnese);
        assert!(!found.iter().any(|f| f.contains("Ingen hyppig")), "{found:?}");
    }

    #[test]
    fn a_graded_negation_states_nothing() {
        let found = said("Anden: Hun er ikke mere forvirret end vanligt.", Section::Anamnese);
        assert!(!found.iter().any(|f| f.contains("orvirring")), "{found:?}");
    }

    #[test]
    fn readings_take_the_nearest_gauge_and_skip_asked_numbers() {
        let found = said("Læge: ALAT er femoghalvfems, og GGT er hundrede og firs.", Section::Objektivt);
        assert!(has(&found, "objektivt: ALAT 95.") && has(&found, "objektivt: GGT 180."), "{found:?}");
        let found = said(
            "Læge: Har du et peak flow-apparat?\nPatient: Ja. Fire hundrede og ti. Det bedste er fem hundrede og tyve. Eller fem hundrede og tredive? Nej, fem hundrede og tyve.",
            Section::Objektivt,
        );
        assert!(has(&found, "objektivt: Peak flow 410 og 520 målt hjemme."), "{found:?}");
    }

    #[test]
    fn a_no_denies_only_what_the_question_asks_about() {
        let found = said("Læge: Har du hoste eller feber?\nPatient: Nej.", Section::Anamnese);
        assert!(has(&found, "anamnese: Ingen hoste.") && has(&found, "anamnese: Ingen feber."), "{found:?}");
        let found = said("Læge: Er det den værste hovedpine, du har haft?\nPatient: Nej.", Section::Anamnese);
        assert!(!found.iter().any(|f| f.contains("Ingen hovedpine")), "{found:?}");
        let found = said("Anden: Gør det ondt i brystet, Erna?\nPatient: Nej, det gør det ikke.", Section::Anamnese);
        assert!(has(&found, "anamnese: Ingen brystsmerter."), "{found:?}");
        assert!(!has(&found, "anamnese: Brystsmerter."), "a relayed question states nothing: {found:?}");
    }

    #[test]
    fn durations_onsets_and_corrections() {
        let found = said("Patient: Jeg har haft ondt i halsen i fire dage.", Section::Anamnese);
        assert!(has(&found, "anamnese: Ondt i halsen i 4 dage."), "{found:?}");
        let found = said(
            "Patient: Det gør ondt i lænden. Det startede i torsdags, nej undskyld, i fredags.",
            Section::Anamnese,
        );
        assert!(has(&found, "anamnese: Lændesmerter i fredags."), "{found:?}");
    }

    #[test]
    fn medication_changes_are_read_per_clause_and_against_earlier_doses() {
        let found = said(
            "Læge: Du stopper simvastatin og tager i stedet atorvastatin, fyrre milligram, en tablet om aftenen.",
            Section::Medicin,
        );
        assert!(has(&found, "medicin: Simvastatin seponeres."), "{found:?}");
        assert!(found.iter().any(|f| f.starts_with("medicin: Atorvastatin 40 mg")), "{found:?}");
        let found = said(
            "Læge: Du får sertralin, halvtreds milligram.\nLæge: Fra i morgen tager du sertralin hundrede milligram.",
            Section::Medicin,
        );
        assert!(has(&found, "medicin: Sertralin øges til 100 mg."), "{found:?}");
        let found = said(
            "Læge: Paracetamol mikstur, fireogtyve milligram per milliliter, syv og en halv milliliter fire gange i døgnet.",
            Section::Plan,
        );
        assert!(has(&found, "plan: Paracetamol mikstur 7,5 ml 4 gange i døgnet."), "{found:?}");
        let found = said("Læge: Du skal ikke stoppe med Eliquis. Den fortsætter, som den er.", Section::Medicin);
        assert!(!found.iter().any(|f| f.contains("seponeres")), "a negated stop is no stop: {found:?}");
        let found = said("Læge: Vi øger ikke din metformin, den bliver på fem hundrede milligram.", Section::Medicin);
        assert!(!found.iter().any(|f| f.contains("øges")), "{found:?}");
        let found = said("Læge: Ibuprofen giver øget risiko for mavesår.", Section::Medicin);
        assert!(!found.iter().any(|f| f.contains("øges")), "a greater risk is no dose change: {found:?}");
        let found = said("Læge: Nogle får hævede ankler af amlodipin.", Section::Medicin);
        assert!(!found.iter().any(|f| f.contains("øges")), "swollen is not raised: {found:?}");
        let found = said("Læge: Metoprolol trappes ned over en uge.", Section::Medicin);
        assert!(found.iter().any(|f| f.contains("Metoprolol nedsættes") || f.contains("trappes")), "{found:?}");
    }

    #[test]
    fn home_measurements_ranges_and_findings_on_video_are_written_as_such() {
        let found =
            said("Patient: Jeg målte temperaturen i morges, den var otteogtredive komma ni.", Section::Objektivt);
        assert!(has(&found, "objektivt: Temperatur 38,9 målt hjemme."), "{found:?}");
        let found = said("Anden: Hendes blodsukker har ligget mellem otte og ti.", Section::Objektivt);
        assert!(has(&found, "objektivt: Blodsukker mellem 8 og 10 målt hjemme."), "{found:?}");
        let found =
            said("Patient: I går var blodtrykket hundrede og otteogtredive over seksogfirs.", Section::Objektivt);
        assert!(has(&found, "objektivt: Hjemmeblodtryk 138/86."), "{found:?}");
        let found = said("Læge: Kaliummet er fire komma to.", Section::Objektivt);
        assert!(
            has(&found, "objektivt: Kalium 4,2."),
            "a value the doctor reads out is not a home measurement: {found:?}"
        );
        let found = said("Læge: Jeg kan se, at anklen er hævet og lidt rød.", Section::Objektivt);
        assert!(has(&found, "objektivt: Anklen er hævet og lidt rød, set på video."), "{found:?}");
        let found = said("Læge: Jeg kan se i journalen, at du havde kvalme sidst.", Section::Objektivt);
        assert!(!found.iter().any(|f| f.contains("video")), "read in the record, not seen: {found:?}");
        let found = said("Læge: Jeg kan se, at dine blodprøver er fine.", Section::Objektivt);
        assert!(!found.iter().any(|f| f.contains("video")), "{found:?}");
        let found =
            said("Anden: På børneafdelingen målte de temperaturen til niogtredive komma otte.", Section::Objektivt);
        assert!(!found.iter().any(|f| f.contains("målt hjemme")), "measured at the hospital: {found:?}");
        let found = said("Patient: Mit TSH var otte komma to.", Section::Objektivt);
        assert!(!found.iter().any(|f| f.contains("målt hjemme")), "a lab value: {found:?}");
        let found =
            said("Læge: Hvad målte de på sygehuset?\nAnden: Niogtredive komma otte i temperatur.", Section::Objektivt);
        assert!(!found.iter().any(|f| f.contains("målt hjemme")), "the place is in the question: {found:?}");
        let found = said("Patient: Jeg har tabt mig tre kilo. I morges vejede jeg enogtres kilo.", Section::Objektivt);
        assert!(has(&found, "objektivt: Vægt 61 kg målt hjemme."), "a loss is not a weight: {found:?}");
        let found = said(
            "Patient: Blodsukkeret har ligget mellem ni og elleve, og i morges var blodsukkeret ti komma to.",
            Section::Objektivt,
        );
        assert!(has(&found, "objektivt: Blodsukker mellem 9 og 11 og 10,2 målt hjemme."), "{found:?}");
    }

    #[test]
    fn measurements_need_their_gauge() {
        let found = said("Læge: Hvad var pulsen?\nPatient: Toogtres. Og jeg har to børn.", Section::Objektivt);
        assert!(has(&found, "objektivt: Puls 62 målt hjemme."), "{found:?}");
        let found = said("Læge: Ring hvis iltmætningen kommer under fireoghalvfems.", Section::Plan);
        assert!(!found.iter().any(|f| f.contains("Iltmætning 94")), "a threshold is no measurement: {found:?}");
    }

    #[test]
    fn counting_aloud_and_greetings_are_not_summaries() {
        let found = said("Patient: En, to, tre, fire, fem.\nLæge: Hej Oscar.\nLæge: Flot.", Section::Objektivt);
        assert!(found.is_empty(), "{found:?}");
    }
}
