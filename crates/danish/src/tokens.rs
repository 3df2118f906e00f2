//! Spoken Danish to tokens a rule can read: words, numbers as values, blood pressures, stops.
//!
//! Speech recognition and the corpus write numbers as words ("otteogtredive komma fem",
//! "hundrede og femogfyrre over halvfems"). Extraction and the verifier both read text through
//! [`tokenize`], so "38,5" in a note and "otteogtredive komma fem" in the evidence are the same
//! number to them.

use std::fmt::Write as _;

use crate::numbers::{small_number_word, whole_number};

#[derive(Debug, Clone, PartialEq)]
pub enum Token {
    Word(String),
    Number(f64),
    /// Systolic over diastolic.
    Pressure(u32, u32),
    /// `.`, `,`, `?`, `!`, `;` or `:`: clause and sentence boundaries matter for negation.
    /// All but the comma end a sentence.
    Punct(char),
}

impl Token {
    pub fn word(&self) -> Option<&str> {
        match self {
            Token::Word(w) => Some(w),
            _ => None,
        }
    }

    pub fn number(&self) -> Option<f64> {
        match self {
            Token::Number(n) => Some(*n),
            _ => None,
        }
    }

    pub fn is_stop(&self) -> bool {
        matches!(self, Token::Punct('.' | '?' | '!' | ';' | ':'))
    }
}

/// A number the way a Danish note writes it: decimal comma, no trailing zeros.
pub fn danish_number(value: f64) -> String {
    let mut text = format!("{:.2}", value);
    while text.ends_with('0') {
        text.pop();
    }
    if text.ends_with('.') {
        text.pop();
    }
    text.replace('.', ",")
}

pub fn pressure_text(systolic: u32, diastolic: u32) -> String {
    let mut out = String::new();
    let _ = write!(out, "{systolic}/{diastolic}");
    out
}

/// Splits into words, digit numbers and punctuation; "38,5" and "145/90" stay one token.
fn raw_tokens(text: &str) -> Vec<Token> {
    let chars: Vec<char> = text.to_lowercase().chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_digit() {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_digit()
                    || (matches!(chars[i], ',' | '.' | '/') && chars.get(i + 1).is_some_and(char::is_ascii_digit)))
            {
                i += 1;
            }
            let literal: String = chars[start..i].iter().collect();
            out.push(digit_token(&literal));
        } else if c.is_alphanumeric() {
            // A hyphen belongs to the word it ends or joins: "p-piller", "hånd-, fod- og mundsyge".
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '-') {
                i += 1;
            }
            out.push(Token::Word(chars[start..i].iter().collect()));
        } else {
            if matches!(c, '.' | ',' | '?' | '!' | ';' | ':') {
                out.push(Token::Punct(c));
            }
            i += 1;
        }
    }
    out
}

fn digit_token(literal: &str) -> Token {
    if let Some((a, b)) = literal.split_once('/')
        && let (Ok(a), Ok(b)) = (a.parse(), b.parse())
    {
        return Token::Pressure(a, b);
    }
    // A dot between digits is a thousands separator in Danish when three digits follow.
    let cleaned = match literal.split_once('.') {
        Some((_, after)) if after.len() == 3 => literal.replace('.', ""),
        _ => literal.replace(',', "."),
    };
    cleaned.parse().map(Token::Number).unwrap_or_else(|_| Token::Word(literal.to_string()))
}

/// Reads a spoken number starting at `i` (with "og en halv" and "komma" decimals); returns its
/// value and how many tokens it used.
fn spoken_number(tokens: &[Token], i: usize) -> Option<(f64, usize)> {
    let words: Vec<Option<&str>> = tokens.iter().map(Token::word).collect();
    let word_at = |k: usize| words.get(k).copied().flatten();
    let (whole, mut used) = whole_number(&words, i)?;
    let mut value = f64::from(whole);
    // "syv og en halv"
    if word_at(i + used) == Some("og") && word_at(i + used + 1) == Some("en") && word_at(i + used + 2) == Some("halv") {
        return Some((value + 0.5, used + 3));
    }
    if word_at(i + used) == Some("komma") {
        let mut decimals = String::new();
        let mut k = i + used + 1;
        // "nul komma en milligram": after "komma", "en" is the digit one.
        let digit = |w: &str| small_number_word(w).or(matches!(w, "en" | "et" | "én").then_some(1));
        while let Some(d) = word_at(k).and_then(digit) {
            decimals.push_str(&d.to_string());
            k += 1;
            if d >= 10 {
                break;
            }
        }
        if let Ok(fraction) = format!("0.{decimals}").parse::<f64>()
            && !decimals.is_empty()
        {
            value += fraction;
            used = k - i;
        }
    }
    Some((value, used))
}

/// Tokens with spoken numbers as values and "X over Y" as a blood pressure.
pub fn tokenize(text: &str) -> Vec<Token> {
    let raw = raw_tokens(text);
    let mut merged = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i].word() == Some("halvanden") {
            merged.push(Token::Number(1.5));
            i += 1;
        } else if let Some((value, used)) = spoken_number(&raw, i) {
            merged.push(Token::Number(value));
            i += used;
        } else if let (Token::Number(whole), Some("komma"), Some(Token::Number(fraction))) =
            (&raw[i], raw.get(i + 1).and_then(Token::word), raw.get(i + 2))
        {
            let digits = danish_number(*fraction).replace(',', "");
            merged.push(Token::Number(format!("{whole}.{digits}").parse().unwrap_or(*whole)));
            i += 3;
        } else {
            merged.push(raw[i].clone());
            i += 1;
        }
    }
    join_pressures(merged)
}

fn join_pressures(tokens: Vec<Token>) -> Vec<Token> {
    let mut out: Vec<Token> = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        if let (Some(high), Some("over"), Some(low)) =
            (tokens[i].number(), tokens.get(i + 1).and_then(Token::word), tokens.get(i + 2).and_then(Token::number))
            && (70.0..=260.0).contains(&high)
            && (30.0..=160.0).contains(&low)
            && high.fract() == 0.0
            && low.fract() == 0.0
        {
            out.push(Token::Pressure(high as u32, low as u32));
            i += 3;
        } else {
            out.push(tokens[i].clone());
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbers(text: &str) -> Vec<f64> {
        tokenize(text).iter().filter_map(Token::number).collect()
    }

    #[test]
    fn spoken_numbers_become_values() {
        assert_eq!(numbers("otteogtredive komma fem"), [38.5]);
        assert_eq!(numbers("i tre dage"), [3.0]);
        assert_eq!(numbers("hundrede og femogfyrre"), [145.0]);
        assert_eq!(numbers("to hundrede og tolv"), [212.0]);
        assert_eq!(numbers("toogthalvfjerds"), [72.0]);
        assert_eq!(numbers("fem hundrede milligram"), [500.0]);
        assert_eq!(numbers("en gang om dagen, en tablet"), [1.0, 1.0]);
        assert_eq!(numbers("en god dag"), Vec::<f64>::new());
        assert_eq!(numbers("38,5 og 1.000 og 7.8"), [38.5, 1000.0, 7.8]);
        assert_eq!(numbers("syv komma otte"), [7.8]);
        assert_eq!(numbers("nul komma en milligram"), [0.1]);
        assert_eq!(numbers("hundrede og et"), [101.0]);
        assert_eq!(numbers("syv og en halv milliliter"), [7.5]);
        assert_eq!(numbers("halvanden uge"), [1.5]);
        assert_eq!(numbers("to tre gange"), [2.0, 3.0]);
        // Unit and tens as separate words, as transcripts sometimes write them.
        assert_eq!(numbers("pulsen er to og halvfems"), [92.0]);
        assert_eq!(numbers("fem og tyve år og to og en halv uge"), [25.0, 2.5]);
    }

    #[test]
    fn pressures_spoken_and_written() {
        let spoken = tokenize("mellem hundrede og femogfyrre over halvfems og 150/95");
        assert!(spoken.contains(&Token::Pressure(145, 90)), "{spoken:?}");
        assert!(spoken.contains(&Token::Pressure(150, 95)));
    }

    #[test]
    fn nonsense_never_panics() {
        let hundreds = "hundrede ".repeat(40);
        let thousands = "tusind ".repeat(40);
        for text in [
            hundreds.as_str(),
            thousands.as_str(),
            "komma komma 38, , ,5 / 99999999999999999999/1 1/99999999999999999999 .5 5.",
            "en og en og halv over over 300 over 20",
            "🙂 ÆØÅ ß İ ǅ 𝟘𝟙 ١٢٣",
        ] {
            let _ = tokenize(text);
        }
    }

    #[test]
    fn numbers_print_the_danish_way() {
        assert_eq!(danish_number(38.5), "38,5");
        assert_eq!(danish_number(4.0), "4");
        assert_eq!(danish_number(7.25), "7,25");
    }
}
