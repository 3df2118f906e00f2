//! Which words are Danish: the hunspell dictionary of Stavekontrolden (Debian's `hunspell-da`,
//! also LibreOffice's), read with `spellbook`, a Rust implementation of hunspell. Its affix and
//! compound rules know the inflections and the compounds Danish writes as one word
//! ("hjemmeblodtryk", "langtidsblodsukker", "ømt", "tissede"). The drafter uses it to keep a
//! garbled recognition ("ont i helsingigthien") from being written into a note as if it had
//! been heard.

use std::path::{Path, PathBuf};

/// Shortest part of a compound the dictionary does not list: shorter ones ("is", "en") would
/// let nearly any garble through.
const MIN_PART: usize = 3;

/// Where Debian's `hunspell-da` installs the dictionary (`.aff` and `.dic` beside each other).
pub const SYSTEM_DICTIONARY: &str = "/usr/share/hunspell/da_DK";

#[derive(Debug, thiserror::Error)]
pub enum WordsError {
    #[error(
        "no Danish dictionary at {}: install it with `apt install hunspell-da` (scripts/setup.sh does), or set [note] dictionary",
        path.display()
    )]
    Missing { path: PathBuf },
    #[error("cannot read the Danish dictionary {}: {reason}", path.display())]
    Unreadable { path: PathBuf, reason: String },
    #[error("{} is not a hunspell dictionary spellbook can read: {reason}", path.display())]
    Malformed { path: PathBuf, reason: String },
}

/// A Danish hunspell dictionary.
pub struct Words {
    dictionary: spellbook::Dictionary,
}

impl Words {
    /// Reads `<dictionary>.aff` and `<dictionary>.dic`, such as [`SYSTEM_DICTIONARY`].
    pub fn load(dictionary: &Path) -> Result<Words, WordsError> {
        let read = |extension: &str| {
            let path = dictionary.with_extension(extension);
            std::fs::read_to_string(&path).map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => WordsError::Missing { path: path.clone() },
                _ => WordsError::Unreadable { path: path.clone(), reason: e.to_string() },
            })
        };
        let (aff, dic) = (read("aff")?, read("dic")?);
        Words::new(&aff, &dic).map_err(|reason| WordsError::Malformed { path: dictionary.to_path_buf(), reason })
    }

    /// A dictionary from the texts of its `.aff` and `.dic` files.
    pub fn new(aff: &str, dic: &str) -> Result<Words, String> {
        // Stavekontrolden quotes three abbreviations with a slash in them ("A/S", "c/o", "I/S"),
        // which the .dic format cannot hold (the slash starts the flags): leave those out.
        let dic: String = dic.lines().filter(|line| !line.starts_with('"')).flat_map(|line| [line, "\n"]).collect();
        let dictionary = spellbook::Dictionary::new(aff, &dic).map_err(|e| e.to_string())?;
        Ok(Words { dictionary })
    }

    /// Whether `word` is Danish as written (a name only capitalised): a word of the
    /// dictionary, an inflection of one, a compound its rules allow, or two words of it written
    /// together, each at least three letters ("hud·klinikken", "lever·tallene": Danish coins
    /// such compounds freely and no dictionary lists them all).
    pub fn knows(&self, word: &str) -> bool {
        if word.is_empty() {
            return false;
        }
        if self.dictionary.check(word) {
            return true;
        }
        let letters = word.chars().count();
        word.char_indices().map(|(i, _)| i).any(|i| {
            let head = word[..i].chars().count();
            head >= MIN_PART
                && letters - head >= MIN_PART
                && self.dictionary.check(&word[..i])
                && self.dictionary.check(&word[i..])
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A dictionary of three words, one of which takes the definite ending.
    fn tiny() -> Words {
        let aff = "SET UTF-8\nFLAG num\nSFX 1 Y 1\nSFX 1 0 en .\n";
        let dic = "3\nhals/1\nondt\n\"A/S\"\ni\n";
        Words::new(aff, dic).unwrap()
    }

    #[test]
    fn words_and_their_inflections_are_known_and_nothing_else() {
        let words = tiny();
        for known in ["hals", "halsen", "ondt", "i", "halsondt"] {
            assert!(words.knows(known), "{known}");
        }
        for unknown in ["helsingigthien", "halsx", "", "A/S", "halsi"] {
            assert!(!words.knows(unknown), "{unknown}");
        }
    }

    #[test]
    fn a_missing_dictionary_is_an_error_that_names_the_fix() {
        let missing = Words::load(Path::new("/nonexistent/da_DK")).err().unwrap().to_string();
        assert!(missing.contains("apt install hunspell-da"), "{missing}");
        assert!(Words::new("FLAG num\n", "1\nord/x\n").is_err());
    }
}
