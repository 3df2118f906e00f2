//! What was said, shortened to note style, for the sentences no rule reads.

use super::*;

pub(super) const FILLERS: &[&str] =
    &["ja", "jo", "okay", "ok", "øh", "øhm", "hm", "nå", "jamen", "men", "så", "og", "altså", "godt", "fint", "nej"];
pub(super) const SOCIAL: &[&str] = &[
    "tak", "hej", "goddag", "farvel", "selv", "bedring", "god", "dag", "det", "er", "i", "orden", "lægen", "her",
    "kan", "du", "høre", "mig", "jeg", "dig", "ja", "nej", "okay", "fint", "godt", "hav", "hej", "lige", "måde",
];

/// Words that carry no content on their own: a sentence of only these ("Det har jeg ikke.",
/// "Det må være.") means nothing without its question and stays out of the note.
pub(super) const FUNCTION_WORDS: &[&str] = &[
    "det", "den", "de", "dem", "der", "jeg", "du", "han", "hun", "vi", "man", "har", "havde", "er", "var", "ikke",
    "ingen", "aldrig", "ja", "nej", "så", "og", "men", "at", "en", "et", "i", "på", "med", "til", "af", "for", "som",
    "om", "vel", "lidt", "mere", "egentlig", "måske", "bare", "jo", "nok", "sådan", "noget", "nogle", "kan", "skal",
    "vil", "ville", "må", "gør", "gjorde", "have", "haft", "være", "været", "altså", "her", "nu", "da", "også",
    "meget", "sige", "siger", "sagde", "tror", "synes", "ved", "rigtig", "rigtigt", "helt", "lige", "cirka", "ca",
    "næsten", "øh", "hm", "sikkert", "delene", "andet", "ellers", "heller", "hvad", "hvor", "hvis", "når", "end",
    "mig", "dig", "sig", "os", "min", "din", "sin", "vores", "jeres", "deres", "hans", "hendes", "eller", "fra",
];

/// The utterance shortened to note style, where it belongs in a section that summaries serve.
pub(super) fn summary(u: &Utterance, structured: bool, reason_open: bool) -> Option<(Section, String)> {
    let section = u.label.section?;
    let patient = u.segment.speaker != Role::Doctor;
    let wanted = match section {
        Section::Kontaktaarsag => reason_open && !structured,
        Section::Vurdering => !patient,
        Section::Objektivt | Section::Medicin | Section::Plan => true,
        Section::Anamnese => patient,
    };
    if !wanted {
        return None;
    }
    // Where rules found structure, only the sentences they did not read are summarised.
    let sentences = sentences(&u.tokens);
    // The doctor's "Jeg kan se, at anklen er hævet" is a finding on video.
    let findings = section == Section::Objektivt && !patient;
    let kept: Vec<String> = sentences
        .iter()
        .filter(|s| !structured || !read_by_rules(s))
        .filter_map(|s| match observed(s).filter(|_| findings) {
            Some(finding) => {
                telegraphic(finding, false).map(|text| format!("{}, set på video.", text.trim_end_matches('.')))
            }
            None => telegraphic(s, patient),
        })
        .take(if section == Section::Vurdering || section == Section::Kontaktaarsag { 1 } else { 3 })
        .collect();
    (!kept.is_empty()).then(|| (section, kept.join(" ")))
}

/// What the doctor says they see on the video: the sentence after "jeg kan se, at" or "jeg ser,
/// at". Not what they read ("Jeg kan se i journalen, at …", "… at dine prøver er fine"): a
/// sentence naming a record, a result or a picture is no finding on video.
fn observed(sentence: &[Token]) -> Option<&[Token]> {
    const READ: &[&str] = &[
        "journal",
        "svar",
        "prøve",
        "blodprøve",
        "resultat",
        "tal",
        "måling",
        "brev",
        "billede",
        "foto",
        "epikrise",
        "papir",
        "skema",
        "scanning",
        "røntgen",
        "ekg",
        "skrevet",
        "står",
    ];
    let positions: Vec<usize> = (0..sentence.len()).filter(|&i| sentence[i].word().is_some()).collect();
    let word = |n: usize| positions.get(n).and_then(|&i| sentence[i].word());
    let at = match (word(0), word(1), word(2), word(3)) {
        (Some("jeg"), Some("kan"), Some("se"), Some("at")) => positions[3],
        (Some("jeg"), Some("ser"), Some("at"), _) => positions[2],
        _ => return None,
    };
    let rest = &sentence[at + 1..];
    let reads = rest.iter().filter_map(Token::word).any(|w| READ.iter().any(|r| w.starts_with(r)));
    (!reads && !rest.is_empty()).then_some(rest)
}

/// Does the sentence hold something a rule extracts (a symptom, drug, dose, measurement or
/// plan action), so that a summary of it would say the same thing twice?
pub(super) fn read_by_rules(sentence: &[Token]) -> bool {
    const PLAN: &[&str] = &[
        "blodprøve",
        "podning",
        "urinprøve",
        "afføringsprøve",
        "henvis",
        "sygemeld",
        "recept",
        "kontrol",
        "røntgen",
        "ekg",
    ];
    let words: Vec<&str> = sentence.iter().filter_map(Token::word).collect();
    !mentions(sentence).is_empty()
        || words.iter().any(|w| drug_named(w).is_some() || PLAN.iter().any(|p| w.starts_with(p)))
        || words.iter().any(|w| GAUGES.iter().any(|g| g.said.iter().any(|stem| w.starts_with(stem))))
        || sentence.iter().any(|t| matches!(t, Token::Pressure(..)) || t.number().is_some_and(|n| n.fract() != 0.0))
        || (0..sentence.len()).any(|k| {
            sentence[k].number().is_some() && sentence.get(k + 1).and_then(Token::word).and_then(dose_unit).is_some()
        })
}

/// Statement sentences (questions dropped), each without its final punctuation.
pub(super) fn sentences(tokens: &[Token]) -> Vec<&[Token]> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, t) in tokens.iter().enumerate() {
        if t.is_stop() || i + 1 == tokens.len() {
            let end = if t.is_stop() { i } else { i + 1 };
            if *t != Token::Punct('?') && end > start {
                out.push(&tokens[start..end]);
            }
            start = i + 1;
        }
    }
    out
}

/// A sentence in note style, or `None` when it carries too little to stand alone (two content
/// words, or one long one: "Drik rigeligt." and "Det er børneeksem." stay, "Flot." and "Hej
/// Oscar." go).
pub(super) fn telegraphic(sentence: &[Token], patient: bool) -> Option<String> {
    let mut rest = sentence;
    while let Some(first) = rest.first() {
        match first {
            Token::Punct(_) => rest = &rest[1..],
            Token::Word(w) if FILLERS.contains(&w.as_str()) && rest.len() > 2 => rest = &rest[1..],
            _ => break,
        }
    }
    if patient && rest.first().and_then(Token::word) == Some("jeg") && rest.get(1).and_then(Token::word).is_some() {
        rest = &rest[1..];
    }
    let words: Vec<&str> = rest.iter().filter_map(Token::word).collect();
    // A number says something with its unit or noun after it ("3 måneder"); a bare run of
    // numbers is counting aloud.
    let numbers = rest
        .iter()
        .zip(rest.iter().skip(1).map(Some).chain([None]))
        .filter(|(t, next)| {
            matches!(t, Token::Pressure(..))
                || t.number().is_some_and(|n| n.fract() != 0.0 || next.is_some_and(|n| n.word().is_some()))
        })
        .count();
    let content = numbers + words.iter().filter(|w| !FUNCTION_WORDS.contains(w) && !SOCIAL.contains(w)).count();
    // One long word can carry a whole assessment ("Det er børneeksem.").
    let long_word = words.iter().any(|w| !FUNCTION_WORDS.contains(w) && w.chars().count() >= 8);
    if content < 2 && !(content == 1 && long_word) {
        return None;
    }
    Some(sentence_from(rest))
}

pub(super) fn sentence_from(tokens: &[Token]) -> String {
    let mut out = String::new();
    for (i, token) in tokens.iter().enumerate() {
        match token {
            Token::Punct(p) => {
                out.push(*p);
                continue;
            }
            _ if !out.is_empty() => out.push(' '),
            _ => {}
        }
        match token {
            Token::Word(w) if w == "klokken" && tokens.get(i + 1).and_then(Token::number).is_some() => {
                out.push_str("kl.")
            }
            // Units after a number as a note abbreviates them: "2 cm", "500 mg", "94 kg".
            Token::Word(w) if i > 0 && tokens[i - 1].number().is_some() => {
                out.push_str(unit_abbreviation(w).unwrap_or(w))
            }
            Token::Word(w) => out.push_str(w),
            Token::Number(n) => out.push_str(&danish_number(*n)),
            Token::Pressure(a, b) => out.push_str(&pressure_text(*a, *b)),
            Token::Punct(_) => {}
        }
    }
    sentence(out.trim_end_matches([',', ':', ';']))
}

fn unit_abbreviation(word: &str) -> Option<&'static str> {
    Some(match word {
        "centimeter" => "cm",
        "millimeter" => "mm",
        "milligram" => "mg",
        "milliliter" => "ml",
        "kilo" => "kg",
        "procent" => "%",
        _ => return None,
    })
}

pub(crate) fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| first.to_uppercase().chain(chars).collect())
}

pub(super) fn sentence(text: &str) -> String {
    format!("{}.", capitalise(text))
}
