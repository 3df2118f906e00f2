//! The verifier: a statement enters the note only if what it asserts was said.
//!
//! It re-reads the statement and its evidence with the same tokenizer and requires every
//! number (and blood pressure), every drug name, every dose (number with unit) and every
//! negation in the statement to occur in the evidence. It does not trust the rule that wrote
//! the statement: a rule bug shows up as a dropped statement with a reason, not as a note
//! that says something nobody said.

use crate::compose::capitalise;
use crate::lexicon::{DRUGS, NEGATIONS, dose_unit, drug_named, drug_names, is_clinical_term};
use danish::{Token, Words, danish_number, pressure_text, tokenize};

/// `Err` says, in Danish for the doctor, what in `statement` the evidence does not contain.
pub fn verify(statement: &str, evidence: &str) -> Result<(), String> {
    let claimed = tokenize(statement);
    let said = tokenize(evidence);
    let said_number = |n: f64| said.iter().any(|t| t.number().is_some_and(|m| (m - n).abs() < 1e-9));
    let said_dose = |n: f64, unit: &str| {
        said.windows(2).any(|w| {
            w[0].number().is_some_and(|m| (m - n).abs() < 1e-9) && w[1].word().and_then(dose_unit) == Some(unit)
        })
    };
    let mut missing = Vec::new();
    for (i, token) in claimed.iter().enumerate() {
        match token {
            Token::Number(n) => {
                let unit = claimed.get(i + 1).and_then(Token::word).and_then(dose_unit);
                match unit {
                    Some(unit) if !said_dose(*n, unit) => {
                        missing.push(format!("dosis {} {unit}", danish_number(*n)));
                    }
                    None if !said_number(*n) => missing.push(format!("tallet {}", danish_number(*n))),
                    _ => {}
                }
            }
            Token::Pressure(a, b) if !said.contains(token) => {
                missing.push(format!("blodtrykket {}", pressure_text(*a, *b)));
            }
            Token::Word(w) => {
                if let Some(drug) = drug_named(w)
                    && !said.iter().filter_map(Token::word).any(|s| drug_named(s).is_some_and(|d| d.name == drug.name))
                {
                    missing.push(format!("lægemidlet {}", drug.name));
                }
                if NEGATIONS.contains(&w.as_str())
                    && !said.iter().filter_map(Token::word).any(|s| NEGATIONS.contains(&s))
                {
                    missing.push(format!("nægtelsen «{w}»"));
                }
            }
            _ => {}
        }
    }
    if missing.is_empty() { Ok(()) } else { Err(format!("ikke sagt i samtalen: {}", missing.join(", "))) }
}

/// `Err` names the words of `statement` that are neither Danish (`words`) nor a drug or a
/// clinical term the drafter knows: a misrecognition copied into a note ("ont i
/// helsingigthien") would read as something the patient said. A name counts only where the
/// evidence writes it capitalised ("Poul Erik"): the dictionary holds thousands of names
/// ("Sette", "Minne"), and a garble that happens to be one is still a garble.
pub fn heard_as_danish(statement: &str, evidence: &str, words: &Words) -> Result<(), String> {
    let split = |text: &str| {
        text.split(|c: char| !c.is_alphanumeric() && c != '-')
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    // Names as the evidence writes them: capitalised inside a sentence (a recogniser capitalises
    // every sentence's first word, garbles included), and not in capitals throughout.
    let names: Vec<String> = evidence
        .split(['.', '?', '!', '\n'])
        .flat_map(|sentence| split(sentence).into_iter().skip(1))
        .filter(|w| w.chars().next().is_some_and(char::is_uppercase) && w.chars().skip(1).any(char::is_lowercase))
        .map(|w| w.to_lowercase())
        .collect();
    let mut unknown: Vec<String> = Vec::new();
    for word in split(statement) {
        if !heard(&word, &names, words) && !unknown.contains(&word) {
            unknown.push(word);
        }
    }
    if unknown.is_empty() {
        return Ok(());
    }
    let quoted: Vec<String> = unknown.iter().map(|w| format!("«{w}»")).collect();
    Err(format!("ikke danske ord, måske fejlhørt: {}; lyt optagelsen igennem", quoted.join(", ")))
}

/// A word as heard: Danish (in lower case, so a sentence's capital does not make a name of
/// it), a name the evidence capitalises, a number, a drug or clinical term, a drug compound
/// ("hydrocortisoncremen"), or hyphenated parts each of which is ("kol-rehabilitering", the
/// "hånd-" of "hånd-, fod- og mundsyge").
fn heard(word: &str, names: &[String], words: &Words) -> bool {
    let lower = word.to_lowercase();
    let drug_compound = || {
        DRUGS
            .iter()
            .flat_map(drug_names)
            .any(|name| lower.strip_prefix(name).is_some_and(|rest| rest.chars().count() >= 3 && words.knows(rest)))
    };
    word.chars().any(|c| c.is_ascii_digit())
        || is_clinical_term(&lower)
        || words.knows(&lower)
        || (names.contains(&lower) && words.knows(&capitalise(&lower)))
        || drug_compound()
        // "p-piller": a single letter before a hyphen is an abbreviation.
        || (word.contains('-')
            && word
                .split('-')
                .filter(|part| !part.is_empty())
                .all(|part| part.chars().count() == 1 || heard(part, names, words)))
}

#[cfg(test)]
mod tests {
    use super::verify;

    #[test]
    fn spoken_numbers_support_digits() {
        assert!(verify("Feber 38,5.", "Ja, i går aftes målte jeg otteogtredive komma fem.").is_ok());
        assert!(verify("Ondt i halsen i 4 dage.", "ondt i halsen i fire dage nu").is_ok());
        assert!(verify("Blodtryk 145/90.", "hundrede og femogfyrre over halvfems").is_ok());
        assert!(verify("Amlodipin 5 mg, 1 gang dagligt.", "amlodipin fem milligram en gang om dagen").is_ok());
    }

    #[test]
    fn an_unsaid_number_dose_drug_or_negation_fails() {
        let err = verify("Feber 39.", "otteogtredive komma fem").unwrap_err();
        assert!(err.contains("tallet 39"), "{err}");
        let err = verify("Amlodipin 10 mg.", "amlodipin fem milligram, ti tabletter").unwrap_err();
        assert!(err.contains("dosis 10 mg"), "{err}");
        let err = verify("Ibuprofen 400 mg.", "paracetamol fire hundrede milligram").unwrap_err();
        assert!(err.contains("lægemidlet ibuprofen"), "{err}");
        let err = verify("Ingen hoste.", "Ja, jeg hoster meget.").unwrap_err();
        assert!(err.contains("nægtelsen"), "{err}");
        assert!(verify("Blodtryk 150/95.", "hundrede og femogfyrre over halvfems").is_err());
    }

    #[test]
    fn brand_names_support_the_generic_name() {
        assert!(verify("Paracetamol 500 mg.", "to panodiler á fem hundrede milligram").is_ok());
    }
}
