//! Note-quality metrics: fact recall, statement support, section placement and ROUGE.
//!
//! These are the harness's own measurements, independent of the note crate's verifier: they
//! read only the draft as the pipeline returned it, the transcript it was drafted from, and the
//! corpus references. The exact rules are in `eval/README.md`.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use transcript::Transcript;

use danish::normalise;

pub use transcript::Section;

/// A fact the note must contain: every phrase in `words` must occur in the section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fact {
    pub section: Section,
    pub words: Vec<String>,
}

/// One statement of a draft and the transcript segments it cites as evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    pub text: String,
    pub evidence: Vec<u32>,
}

/// One section of a draft, under the heading the drafter gave it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DraftSection {
    pub heading: String,
    pub statements: Vec<Statement>,
}

/// A drafted note as the pipeline returns it: its structure and the text a doctor would see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Draft {
    pub sections: Vec<DraftSection>,
    pub rendered: String,
}

/// `hits` out of `total`, kept as counts so that corpus totals are exact (micro-averages).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ratio {
    pub hits: usize,
    pub total: usize,
}

impl Ratio {
    pub fn value(&self) -> Option<f64> {
        (self.total > 0).then(|| self.hits as f64 / self.total as f64)
    }

    pub fn add(&mut self, other: &Ratio) {
        self.hits += other.hits;
        self.total += other.total;
    }
}

/// Precision, recall and F1 of one ROUGE variant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Prf {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

impl Prf {
    fn from_overlap(overlap: usize, hypothesis: usize, reference: usize) -> Prf {
        let precision = if hypothesis == 0 { 0.0 } else { overlap as f64 / hypothesis as f64 };
        let recall = if reference == 0 { 0.0 } else { overlap as f64 / reference as f64 };
        let f1 = if precision + recall == 0.0 { 0.0 } else { 2.0 * precision * recall / (precision + recall) };
        Prf { precision, recall, f1 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Rouge {
    pub rouge1: Prf,
    pub rouge2: Prf,
    pub rouge_l: Prf,
}

/// A statement the harness could not find support for, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unsupported {
    pub heading: String,
    pub text: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MissedFact {
    pub fact: Fact,
    pub found_elsewhere: bool,
}

/// Everything measured about one draft.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NoteScores {
    /// Facts found anywhere in the rendered note; `None` without a fact list.
    pub fact_recall: Option<Ratio>,
    /// Facts found in the text of their own section, per section that has facts.
    pub fact_recall_by_section: BTreeMap<Section, Ratio>,
    /// Of the facts found anywhere, those found in their own section.
    pub section_placement: Option<Ratio>,
    /// Supported statements out of all statements.
    pub statement_support: Ratio,
    pub unsupported: Vec<Unsupported>,
    /// Facts not found in their own section, and whether they were found elsewhere in the note.
    pub missed_facts: Vec<MissedFact>,
    /// Against the reference note; `None` without one.
    pub rouge: Option<Rouge>,
}

/// Scores `draft`, drafted from `transcript`, against the optional references.
pub fn score_note(
    draft: &Draft,
    transcript: &Transcript,
    facts: Option<&[Fact]>,
    reference_note: Option<&str>,
) -> NoteScores {
    let mut scores = NoteScores::default();
    if let Some(facts) = facts {
        let whole_note = normalise(&draft.rendered);
        let mut section_text: HashMap<Section, Vec<String>> = HashMap::new();
        for section in &draft.sections {
            if let Some(known) = Section::from_name(&section.heading) {
                let tokens = section_text.entry(known).or_default();
                for statement in &section.statements {
                    tokens.extend(normalise(&statement.text));
                    // A boundary no phrase can match across.
                    tokens.push("\u{1}".to_string());
                }
            }
        }
        let (mut anywhere, mut placed) = (Ratio::default(), Ratio::default());
        for fact in facts {
            let phrases: Vec<Vec<String>> = fact.words.iter().map(|w| normalise(w)).collect();
            let found_in = |tokens: &[String]| phrases.iter().all(|phrase| contains_phrase(tokens, phrase));
            let found_anywhere = found_in(&whole_note);
            let found_in_section = section_text.get(&fact.section).is_some_and(|tokens| found_in(tokens));
            anywhere.total += 1;
            anywhere.hits += usize::from(found_anywhere);
            let by_section = scores.fact_recall_by_section.entry(fact.section).or_default();
            by_section.total += 1;
            by_section.hits += usize::from(found_in_section);
            if found_anywhere {
                placed.total += 1;
                placed.hits += usize::from(found_in_section);
            }
            if !found_in_section {
                scores.missed_facts.push(MissedFact { fact: fact.clone(), found_elsewhere: found_anywhere });
            }
        }
        scores.fact_recall = Some(anywhere);
        scores.section_placement = Some(placed);
    }

    let segments: HashMap<u32, Vec<String>> = transcript.segments.iter().map(|s| (s.id, normalise(&s.text))).collect();
    for section in &draft.sections {
        for statement in &section.statements {
            scores.statement_support.total += 1;
            match unsupported_reason(statement, &segments) {
                None => scores.statement_support.hits += 1,
                Some(reason) => scores.unsupported.push(Unsupported {
                    heading: section.heading.clone(),
                    text: statement.text.clone(),
                    reason,
                }),
            }
        }
    }

    scores.rouge = reference_note.map(|reference| rouge(&normalise(reference), &normalise(&draft.rendered)));
    scores
}

fn contains_phrase(tokens: &[String], phrase: &[String]) -> bool {
    phrase.is_empty()
        || tokens
            .windows(phrase.len())
            .any(|window| window.iter().zip(phrase).all(|(token, word)| phrase_word_matches(word, token)))
}

/// A fact's word matches a note token when equal, or, for a word of five letters or more,
/// when it begins the token: Danish writes compounds as one word, so "psykolog" is in
/// "psykologsamtaler" and "alkohol" in "alkoholoverforbrug". Numbers and short words match
/// only whole ("38" is not in "38,5", "ondt" not in "ondtes").
fn phrase_word_matches(word: &str, token: &str) -> bool {
    word == token || (word.chars().count() >= 5 && word.chars().all(char::is_alphabetic) && token.starts_with(word))
}

/// Function words that carry no content of their own; a statement is judged on the rest.
const STOPWORDS: &[&str] = &[
    "af", "al", "alle", "alt", "at", "bliver", "blev", "da", "de", "dem", "den", "denne", "der", "det", "dette", "du",
    "efter", "eller", "en", "end", "er", "et", "for", "fra", "før", "ham", "han", "hans", "har", "havde", "have",
    "hende", "hun", "hvad", "hvis", "hvor", "i", "ind", "jeg", "kan", "man", "med", "meget", "men", "mig", "min",
    "mit", "når", "nu", "og", "om", "op", "os", "på", "sig", "sin", "sit", "skal", "som", "så", "til", "ud", "under",
    "var", "ved", "vi", "vil", "være", "været", "over", "lidt", "godt", "også", "mod",
];

const NEGATIONS: &[&str] = &["ikke", "ingen", "intet", "nej", "aldrig", "uden"];

fn is_number(token: &str) -> bool {
    token.starts_with(|c: char| c.is_ascii_digit())
}

/// Two words match when equal, or when they share a prefix of at least four characters that
/// leaves at most three characters of the shorter word over: a crude Danish stemmer that lets
/// "synkning" match "synke" and "mandler" match "mandlerne".
fn words_match(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    if is_number(a) || is_number(b) {
        return false;
    }
    let common = a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
    let shorter = a.chars().count().min(b.chars().count());
    common >= 4 && shorter - common <= 3
}

/// Why `statement` is not supported by its evidence, or `None` when it is. The rule:
/// it cites at least one segment and every cited segment exists; every number in it occurs in
/// the evidence; a negation in it is matched by a negation in the evidence; and at least half
/// of its other content words match an evidence word ([`words_match`]).
fn unsupported_reason(statement: &Statement, segments: &HashMap<u32, Vec<String>>) -> Option<String> {
    if statement.evidence.is_empty() {
        return Some("cites no evidence".to_string());
    }
    let mut evidence: Vec<&str> = Vec::new();
    for id in &statement.evidence {
        match segments.get(id) {
            Some(tokens) => evidence.extend(tokens.iter().map(String::as_str)),
            None => {
                return Some(format!("cites segment {id}, which the transcript does not have"));
            }
        }
    }
    let tokens = normalise(&statement.text);
    let content: Vec<&str> = tokens.iter().map(String::as_str).filter(|t| !STOPWORDS.contains(t)).collect();
    if let Some(number) = content.iter().find(|t| is_number(t) && !evidence.contains(t)) {
        return Some(format!("the number {number} is not in the evidence"));
    }
    let negated = |words: &[&str]| words.iter().any(|w| NEGATIONS.contains(w));
    if negated(&content) && !negated(&evidence) {
        return Some("states a negation the evidence does not".to_string());
    }
    let words: Vec<&str> = content.into_iter().filter(|t| !is_number(t) && !NEGATIONS.contains(t)).collect();
    let matched = words.iter().filter(|w| evidence.iter().any(|e| words_match(w, e))).count();
    if matched * 2 < words.len() {
        return Some(format!("only {matched} of {} content words are in the evidence", words.len()));
    }
    None
}

fn ngram_counts(tokens: &[String], n: usize) -> HashMap<&[String], usize> {
    let mut counts = HashMap::new();
    for gram in tokens.windows(n) {
        *counts.entry(gram).or_insert(0) += 1;
    }
    counts
}

fn rouge_n(reference: &[String], hypothesis: &[String], n: usize) -> Prf {
    let reference_counts = ngram_counts(reference, n);
    let hypothesis_counts = ngram_counts(hypothesis, n);
    let overlap: usize = hypothesis_counts
        .iter()
        .map(|(gram, count)| (*count).min(reference_counts.get(gram).copied().unwrap_or(0)))
        .sum();
    let total = |len: usize| (len + 1).saturating_sub(n);
    Prf::from_overlap(overlap, total(hypothesis.len()), total(reference.len()))
}

fn longest_common_subsequence(a: &[String], b: &[String]) -> usize {
    let mut previous = vec![0; b.len() + 1];
    let mut current = vec![0; b.len() + 1];
    for x in a {
        for (j, y) in b.iter().enumerate() {
            current[j + 1] = if x == y { previous[j] + 1 } else { previous[j + 1].max(current[j]) };
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

/// ROUGE-1, ROUGE-2 and ROUGE-L (LCS, β = 1) of normalised token sequences.
pub fn rouge(reference: &[String], hypothesis: &[String]) -> Rouge {
    Rouge {
        rouge1: rouge_n(reference, hypothesis, 1),
        rouge2: rouge_n(reference, hypothesis, 2),
        rouge_l: Prf::from_overlap(
            longest_common_subsequence(reference, hypothesis),
            hypothesis.len(),
            reference.len(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_string).collect()
    }

    fn transcript(lines: &str) -> Transcript {
        Transcript::parse_txt(lines).unwrap()
    }

    fn statement(text: &str, evidence: &[u32]) -> Statement {
        Statement { text: text.into(), evidence: evidence.to_vec() }
    }

    #[test]
    fn rouge_by_hand() {
        // REF: the cat sat on the mat (6 words, 5 bigrams); HYP: the cat on the mat (5, 4).
        // Unigram overlap 5 → P 5/5, R 5/6. Bigram overlap {the cat, on the, the mat} = 3 →
        // P 3/4, R 3/5. LCS = 5 → same as ROUGE-1.
        let r = rouge(&tokens("the cat sat on the mat"), &tokens("the cat on the mat"));
        assert_eq!((r.rouge1.precision, r.rouge1.recall), (1.0, 5.0 / 6.0));
        assert!((r.rouge1.f1 - 10.0 / 11.0).abs() < 1e-12);
        assert_eq!((r.rouge2.precision, r.rouge2.recall), (0.75, 0.6));
        assert!((r.rouge2.f1 - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(r.rouge_l, r.rouge1);
        // Clipping: a repeated hypothesis word counts at most as often as in the reference.
        let r = rouge(&tokens("a b"), &tokens("a a a"));
        assert_eq!((r.rouge1.precision, r.rouge1.recall), (1.0 / 3.0, 0.5));
    }

    #[test]
    fn fact_recall_per_section_overall_and_placement() {
        let t = transcript("Patient: Jeg har haft ondt i halsen i fire dage.\nPatient: Ingen hoste.");
        let draft = Draft {
            sections: vec![
                DraftSection {
                    heading: "Kontaktårsag".into(),
                    statements: vec![statement("Ondt i halsen i 4 dage.", &[0])],
                },
                DraftSection { heading: "Plan".into(), statements: vec![statement("Ingen hoste.", &[1])] },
            ],
            rendered: "Kontaktårsag: Ondt i halsen i 4 dage.\nPlan: Ingen hoste.".into(),
        };
        let facts = vec![
            Fact { section: Section::Kontaktaarsag, words: vec!["ondt i halsen".into()] },
            Fact { section: Section::Anamnese, words: vec!["fire dage".into()] },
            Fact { section: Section::Anamnese, words: vec!["ingen hoste".into()] },
            Fact { section: Section::Anamnese, words: vec!["38,5".into()] },
        ];
        let s = score_note(&draft, &t, Some(&facts), None);
        // Anywhere: ondt i halsen, 4 dage, ingen hoste → 3 of 4.
        assert_eq!(s.fact_recall, Some(Ratio { hits: 3, total: 4 }));
        assert_eq!(s.fact_recall_by_section[&Section::Kontaktaarsag], Ratio { hits: 1, total: 1 });
        // "4 dage" is under Kontaktårsag and "ingen hoste" under Plan: 0 of 3 in Anamnese.
        assert_eq!(s.fact_recall_by_section[&Section::Anamnese], Ratio { hits: 0, total: 3 });
        assert_eq!(s.section_placement, Some(Ratio { hits: 1, total: 3 }));
        let missed: Vec<(&str, bool)> =
            s.missed_facts.iter().map(|m| (m.fact.words[0].as_str(), m.found_elsewhere)).collect();
        assert_eq!(missed, [("fire dage", true), ("ingen hoste", true), ("38,5", false)]);
        assert_eq!(s.statement_support, Ratio { hits: 2, total: 2 });
        assert_eq!(s.rouge, None);
    }

    #[test]
    fn phrases_do_not_match_across_statements() {
        let t = transcript("Patient: ondt\nPatient: i halsen");
        let draft = Draft {
            sections: vec![DraftSection {
                heading: "Anamnese".into(),
                statements: vec![statement("Ondt.", &[0]), statement("I halsen.", &[1])],
            }],
            rendered: String::new(),
        };
        let facts = [Fact { section: Section::Anamnese, words: vec!["ondt i halsen".into()] }];
        assert_eq!(score_note(&draft, &t, Some(&facts), None).fact_recall_by_section[&Section::Anamnese].hits, 0);
    }

    #[test]
    fn statement_support_rules() {
        let t = transcript(
            "Læge: Har du haft feber?\nPatient: Ja, i går aftes målte jeg otteogtredive komma fem.\nPatient: Gør det ondt at synke? Ja, især om morgenen.\nPatient: Jeg hoster.",
        );
        let segments: HashMap<u32, Vec<String>> = t.segments.iter().map(|s| (s.id, normalise(&s.text))).collect();
        let check = |text: &str, evidence: &[u32]| unsupported_reason(&statement(text, evidence), &segments);
        assert_eq!(check("Feber op til 38,5.", &[0, 1]), None);
        assert_eq!(check("Feber op til 39,5.", &[0, 1]).unwrap(), "the number 39,5 is not in the evidence");
        // smerter ✗ synkning ✓ (synke) værst ✗ morgenen ✓: 2 of 4 is enough.
        assert_eq!(check("Smerter ved synkning, værst om morgenen.", &[2]), None);
        assert_eq!(check("Ingen hoste.", &[3]).unwrap(), "states a negation the evidence does not");
        assert_eq!(check("Feber.", &[]).unwrap(), "cites no evidence");
        assert_eq!(check("Feber.", &[9]).unwrap(), "cites segment 9, which the transcript does not have");
        assert_eq!(
            check("Udslæt på armene og benene.", &[0]).unwrap(),
            "only 0 of 3 content words are in the evidence"
        );
    }

    #[test]
    fn fact_words_match_whole_tokens_or_the_start_of_a_compound() {
        assert!(phrase_word_matches("psykolog", "psykologsamtaler"));
        assert!(phrase_word_matches("alkohol", "alkoholoverforbrug"));
        assert!(!phrase_word_matches("38", "38,5"));
        assert!(!phrase_word_matches("ondt", "ondtes"));
        assert!(!phrase_word_matches("hoste", "hos"));
        let tokens = normalise("Psykologsamtaler via arbejdsgiver. Ingen hoste.");
        assert!(contains_phrase(&tokens, &normalise("psykolog")));
        assert!(contains_phrase(&tokens, &normalise("ingen hoste")));
        assert!(!contains_phrase(&tokens, &normalise("ingen feber")));
    }

    #[test]
    fn section_names() {
        assert_eq!(Section::from_name("Kontaktårsag:"), Some(Section::Kontaktaarsag));
        assert_eq!(Section::from_name("kontaktaarsag"), Some(Section::Kontaktaarsag));
        assert_eq!(Section::from_name("PLAN"), Some(Section::Plan));
        assert_eq!(Section::from_name("none"), None);
    }

    #[test]
    fn words_match_is_a_prefix_stem() {
        assert!(words_match("synkning", "synke"));
        assert!(words_match("mandler", "mandlerne"));
        assert!(words_match("hævede", "hævet"));
        assert!(!words_match("hoste", "hoved"));
        assert!(!words_match("38", "38,5"));
    }
}
