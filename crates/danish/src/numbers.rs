//! Danish number words: "fem", "otteogtredive", "to og halvfems", "nitten hundrede og firs",
//! "et tusind to hundrede og tre". The drafter's tokens and the harness's normaliser both read
//! whole numbers here, so a number the drafter wrote is the number the harness scores.

/// Words after which "en"/"et" mean the number one rather than the article ("en uge" is one
/// week, "en patient" is a patient). Singular and plural, written out and abbreviated, since
/// the drafter reads raw text and the normaliser reads it with the abbreviations spelt out.
pub const COUNTED: &[&str] = &[
    "minut",
    "time",
    "dag",
    "døgn",
    "nat",
    "uge",
    "uges",
    "måned",
    "år",
    "gang",
    "tablet",
    "tabletter",
    "pille",
    "kapsel",
    "pust",
    "dråbe",
    "sprøjte",
    "dosis",
    "pakning",
    "glas",
    "kop",
    "øl",
    "genstand",
    "grad",
    "liter",
    "milliliter",
    "g",
    "gram",
    "mg",
    "milligram",
    "mikrogram",
    "kilo",
    "centimeter",
    "meter",
    "procent",
    "million",
];

fn unit_word(word: &str) -> Option<u32> {
    Some(match word {
        "nul" => 0,
        "to" => 2,
        "tre" => 3,
        "fire" => 4,
        "fem" => 5,
        "seks" => 6,
        "syv" => 7,
        "otte" => 8,
        "ni" => 9,
        "ti" => 10,
        "elleve" => 11,
        "tolv" => 12,
        "tretten" => 13,
        "fjorten" => 14,
        "femten" => 15,
        "seksten" => 16,
        "sytten" => 17,
        "atten" => 18,
        "nitten" => 19,
        _ => return None,
    })
}

fn tens_word(word: &str) -> Option<u32> {
    Some(match word {
        "tyve" => 20,
        "tredive" | "tredve" => 30,
        "fyrre" | "fyrretyve" => 40,
        "halvtreds" | "halvtredsindstyve" => 50,
        "tres" | "tresindstyve" => 60,
        "halvfjerds" | "halvfjerdsindstyve" => 70,
        "firs" | "firsindstyve" => 80,
        "halvfems" | "halvfemsindstyve" => 90,
        _ => return None,
    })
}

/// A number written as one word below a hundred that counts on its own (not the articles
/// "en"/"et"): "fem", "tyve", "otteogtredive".
pub(crate) fn small_number_word(word: &str) -> Option<u32> {
    if let Some(n) = unit_word(word).or_else(|| tens_word(word)) {
        return Some(n);
    }
    let (unit, tens) = word.split_once("og")?;
    let unit = match unit {
        "en" | "et" | "én" | "ét" => 1,
        other => unit_word(other).filter(|n| (2..=9).contains(n))?,
    };
    // "toogthalvfjerds" is a common spelling slip for "tooghalvfjerds".
    let tens = tens_word(tens).or_else(|| tens.strip_prefix('t').and_then(tens_word))?;
    Some(unit + tens)
}

/// Reads a whole number in words starting at `words[i]` (`None` is a token that is not a word,
/// such as a digit or punctuation); returns its value and how many words it used. Lower-case
/// words expected. Nonsense such as "hundrede hundrede" reads as separate numbers, and nothing
/// overflows.
pub fn whole_number(words: &[Option<&str>], i: usize) -> Option<(u32, usize)> {
    let word_at = |k: usize| words.get(k).copied().flatten();
    let mut total = 0_u32;
    let mut current = 0_u32;
    let mut used = 0;
    while let Some(word) = word_at(i + used) {
        let tens_next = word_at(i + used + 1).and_then(tens_word);
        match word {
            // "to og halvfems": a unit and its tens written as separate words.
            "og" if used > 0 && (1..=9).contains(&(current % 100)) && tens_next.is_some() => {
                current = current.saturating_add(tens_next.unwrap_or(0));
                used += 1;
            }
            "hundrede" if current >= 100 => break,
            "hundrede" => current = current.max(1).saturating_mul(100),
            // "nul" stands alone: "mellem nul og ti" is two numbers, not ten.
            "nul" if used == 0 => {
                used = 1;
                break;
            }
            "nul" => break,
            "tusind" | "tusinde" if used > 0 && current == 0 => break,
            "tusind" | "tusinde" => {
                total = total.saturating_add(current.max(1).saturating_mul(1000));
                current = 0;
            }
            "og" if used > 0
                && (current.is_multiple_of(100) || total > 0)
                && word_at(i + used + 1)
                    .is_some_and(|w| small_number_word(w).is_some() || matches!(w, "en" | "et")) => {}
            // "hundrede og et"
            "en" | "et" if used > 0 && word_at(i + used - 1) == Some("og") => current = current.saturating_add(1),
            // The stressed "én" is always the number.
            "én" | "ét" if used == 0 => current = 1,
            "en" | "et" if used == 0 => {
                // "en komma tre" is 1,3.
                if !word_at(i + 1)
                    .is_some_and(|next| COUNTED.contains(&next) || matches!(next, "hundrede" | "tusind" | "komma"))
                {
                    return None;
                }
                current = 1;
            }
            _ => match small_number_word(word) {
                Some(n) if current.is_multiple_of(100) => current = current.saturating_add(n),
                _ => break,
            },
        }
        used += 1;
    }
    (used > 0).then(|| (total.saturating_add(current), used))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Vec<u32> {
        let words: Vec<Option<&str>> = text.split(' ').map(Some).collect();
        let mut out = Vec::new();
        let mut i = 0;
        while i < words.len() {
            match whole_number(&words, i) {
                Some((value, used)) => {
                    out.push(value);
                    i += used;
                }
                None => i += 1,
            }
        }
        out
    }

    #[test]
    fn one_reading_of_every_way_a_number_is_said() {
        assert_eq!(read("otteogtredive"), [38]);
        assert_eq!(read("tredve og tredive"), [30, 30]);
        assert_eq!(read("to og halvfems"), [92]);
        assert_eq!(read("hundrede og femogfyrre"), [145]);
        assert_eq!(read("nitten hundrede og firs"), [1980]);
        assert_eq!(read("et tusind to hundrede og tre"), [1203]);
        assert_eq!(read("hundrede og et kilo"), [101]);
        assert_eq!(read("en uge en patient én gang"), [1, 1]);
        assert_eq!(read("to tre gange"), [2, 3]);
        assert_eq!(read("tusind tusind"), [1000, 1000]);
        assert_eq!(read("hundrede hundrede"), [100, 100]);
        assert_eq!(read("mellem nul og ti"), [0, 10]);
        assert_eq!(read("en komma tre"), [1, 3]);
    }
}
