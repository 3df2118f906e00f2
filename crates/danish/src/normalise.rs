//! The Danish text normaliser every text metric runs through first.
//!
//! A recogniser writes "38,5", a person dictating says "otteogtredive komma fem", a journal note
//! writes "ca." where speech has "cirka". None of these differences is an error in what was
//! heard or written down, so both sides of every comparison are normalised the same way:
//!
//! 1. lower case;
//! 2. a short table of journal abbreviations is spelt out (`ca.` → `cirka`, `mg` → `milligram`,
//!    see [`ABBREVIATIONS`]), also before a full stop (`104 cm.`);
//! 3. punctuation is dropped, except inside numbers: `38,5` and `38.5` both become `38,5`,
//!    `1.000` becomes `1000`, and a slash between numbers is read aloud (`145/90` → `145 over
//!    90`); hyphens split words (`covid-19` → `covid 19`);
//! 4. Danish number words become digits, read by [`crate::numbers`] exactly as the drafter reads
//!    them (`otteogtredive` → `38`, `fem hundrede` → `500`, `to og halvfems` → `92`), `halvanden`
//!    → `1,5`, and `N komma M` becomes `N,M`. The articles `en`/`et` are numbers only in front of
//!    `hundrede`/`tusind` or a unit that notes count in ([`crate::numbers::COUNTED`]: "en uge" →
//!    `1 uge`, "et gram" → `1 gram`), and after `hundrede og` (`hundrede og et` → `101`);
//!    elsewhere they stay words ("en patient", "et par"). The stressed `én`/`ét` is always 1.
//!    Ordinals are left alone.

use crate::numbers::whole_number;

/// Journal abbreviations and their spoken forms. Matched against a whole word (after lower
/// casing, ignoring trailing `,;:!?)`), so "ca." and "ca" both match but "cafe" does not.
pub const ABBREVIATIONS: &[(&str, &str)] = &[
    ("ca.", "cirka"),
    ("ca", "cirka"),
    ("f.eks.", "for eksempel"),
    ("f.eks", "for eksempel"),
    ("fx", "for eksempel"),
    ("bl.a.", "blandt andet"),
    ("dvs.", "det vil sige"),
    ("pga.", "på grund af"),
    ("osv.", "og så videre"),
    ("evt.", "eventuelt"),
    ("kl.", "klokken"),
    ("mg", "milligram"),
    ("ml", "milliliter"),
    ("kg", "kilo"),
    ("g", "gram"),
    ("cm", "centimeter"),
    ("mio.", "million"),
    ("mdr.", "måneder"),
    ("%", "procent"),
];

/// Normalises `text` to the token sequence every metric compares.
pub fn normalise(text: &str) -> Vec<String> {
    let lowered = text.to_lowercase();
    let mut spelt = String::with_capacity(lowered.len());
    for word in lowered.split_whitespace() {
        let bare = word.trim_end_matches([',', ';', ':', '!', '?', ')']);
        let bare = bare.trim_start_matches('(');
        // "cm." at the end of a sentence is "cm" and a full stop.
        let known = |candidate: &str| ABBREVIATIONS.iter().find(|(abbreviation, _)| *abbreviation == candidate);
        match known(bare).or_else(|| known(bare.strip_suffix('.')?)) {
            Some((_, spoken)) => spelt.push_str(spoken),
            None => spelt.push_str(word),
        }
        spelt.push(' ');
    }
    merge_decimals(numbers_to_digits(tokenise(&spelt)))
}

/// The normalised text as one string, tokens joined by single spaces (what CER compares).
pub fn normalise_to_string(text: &str) -> String {
    normalise(text).join(" ")
}

/// Splits into words and numbers, keeping a number's decimal comma and reading `/` between
/// numbers as "over".
fn tokenise(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut current = String::new();
    let flush = |current: &mut String, tokens: &mut Vec<String>| {
        if !current.is_empty() {
            tokens.push(std::mem::take(current));
        }
    };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let in_number = current.chars().next_back().is_some_and(|last| last.is_ascii_digit())
            && current.chars().all(|d| d.is_ascii_digit() || d == ',');
        let next_is_digit = chars.get(i + 1).is_some_and(char::is_ascii_digit);
        if c.is_alphanumeric() {
            current.push(c);
        } else if in_number && next_is_digit && (c == ',' || c == '.') {
            let digits_after = chars[i + 1..].iter().take_while(|d| d.is_ascii_digit()).count();
            let thousands = c == '.' && digits_after == 3 && !current.contains(',');
            if !thousands {
                current.push(',');
            }
        } else if in_number && next_is_digit && c == '/' {
            flush(&mut current, &mut tokens);
            tokens.push("over".to_string());
        } else {
            flush(&mut current, &mut tokens);
        }
        i += 1;
    }
    flush(&mut current, &mut tokens);
    tokens
}

fn is_digits(token: &str) -> bool {
    !token.is_empty() && token.chars().all(|c| c.is_ascii_digit())
}

fn numbers_to_digits(tokens: Vec<String>) -> Vec<String> {
    let words: Vec<Option<&str>> = tokens.iter().map(|t| Some(t.as_str())).collect();
    let mut out = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        if tokens[i] == "halvanden" {
            out.push("1,5".to_string());
            i += 1;
        } else if let Some((value, used)) = whole_number(&words, i) {
            out.push(value.to_string());
            i += used;
        } else {
            out.push(tokens[i].clone());
            i += 1;
        }
    }
    out
}

/// `38 komma 5` → `38,5`; after "komma", "en"/"et" is the digit 1 (`37 komma en` → `37,1`), as
/// the drafter reads it.
fn merge_decimals(tokens: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        let whole = out.last().is_some_and(|t| is_digits(t));
        let fraction = tokens.get(i + 1).and_then(|t| match t.as_str() {
            "en" | "et" | "én" | "ét" => Some("1"),
            digits if is_digits(digits) => Some(digits),
            _ => None,
        });
        if whole
            && tokens[i] == "komma"
            && let Some(fraction) = fraction
        {
            if let Some(last) = out.last_mut() {
                last.push(',');
                last.push_str(fraction);
            }
            i += 2;
        } else {
            out.push(tokens[i].clone());
            i += 1;
        }
    }
    out.into_iter().map(without_trailing_zeros).collect()
}

/// `4,0` → `4` and `7,50` → `7,5`: the same value however many decimals were written or said.
fn without_trailing_zeros(token: String) -> String {
    match token.split_once(',') {
        Some((whole, fraction)) if is_digits(whole) && is_digits(fraction) => {
            let fraction = fraction.trim_end_matches('0');
            if fraction.is_empty() { whole.to_string() } else { format!("{whole},{fraction}") }
        }
        _ => token,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(text: &str) -> String {
        normalise_to_string(text)
    }

    #[test]
    fn case_and_punctuation() {
        assert_eq!(n("Goddag, det er lægen. Kan du høre mig?"), "goddag det er lægen kan du høre mig");
        assert_eq!(n("Covid-19 (igen)!"), "covid 19 igen");
    }

    #[test]
    fn spoken_and_written_numbers_meet() {
        assert_eq!(n("otteogtredive komma fem"), "38,5");
        assert_eq!(n("38,5"), "38,5");
        assert_eq!(n("38.5 grader"), "38,5 grader");
        assert_eq!(n("syvogtredive komma en"), "37,1");
        assert_eq!(n("kalium fire komma nul og 4,0 og 7,50"), "kalium 4 og 4 og 7,5");
        assert_eq!(n("i fire dage"), "i 4 dage");
        assert_eq!(n("to tabletter af fem hundrede milligram"), "2 tabletter af 500 milligram");
        assert_eq!(n("2 tabletter af 500 mg"), "2 tabletter af 500 milligram");
        assert_eq!(n("hundrede og femogfyrre over halvfems"), "145 over 90");
        assert_eq!(n("145/90"), "145 over 90");
        assert_eq!(n("et tusind to hundrede og tre"), "1203");
        assert_eq!(n("1.000 kr."), "1000 kr");
        assert_eq!(n("halvanden uge"), "1,5 uge");
        assert_eq!(n("nitten hundrede og firs"), "1980");
        assert_eq!(n("hundrede og et kilo"), "101 kilo");
        assert_eq!(n("Pulsen er to og halvfems"), "pulsen er 92");
        assert_eq!(n("om en uge, en tablet et gram"), "om 1 uge 1 tablet 1 gram");
        assert_eq!(n("1 g og 104 cm."), "1 gram og 104 centimeter");
    }

    #[test]
    fn articles_stay_words_and_separate_numbers_stay_separate() {
        assert_eq!(n("en patient et par gange"), "en patient et par gange");
        assert_eq!(n("én tablet"), "1 tablet");
        assert_eq!(n("to tre gange"), "2 3 gange");
    }

    #[test]
    fn odd_input_never_panics() {
        for text in [
            "",
            " ",
            "komma",
            "38,",
            ",5",
            "1.2.3",
            "//",
            "hundrede og",
            "tusind tusind",
            "én og",
            "ÅÆØ ß 😀",
            "99999999999999999999999",
        ] {
            let _ = normalise(text);
        }
        assert_eq!(n("tusind tusind"), "1000 1000");
        assert_eq!(n("99999999999999999999999"), "99999999999999999999999");
    }

    #[test]
    fn abbreviations_are_spelt_out() {
        assert_eq!(n("Ca. 3 uger, f.eks. kl. 8"), "cirka 3 uger for eksempel klokken 8");
        assert_eq!(n("cirka tre uger"), "cirka 3 uger");
        assert_eq!(n("cafe"), "cafe");
    }
}
