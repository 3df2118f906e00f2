//! Symptoms, complaints and habits: negation, yes/no answers, duration and onset; allergies.

use super::*;

pub(super) struct SymptomFinding {
    pub(super) symptom: &'static Symptom,
    pub(super) present: bool,
    pub(super) duration: Option<String>,
    pub(super) onset: Option<String>,
    /// Found in the doctor's question and answered yes or no.
    pub(super) from_question: bool,
}

impl SymptomFinding {
    pub(super) fn text(&self) -> String {
        if !self.present {
            return match self.symptom.absent {
                Absent::Ingen => format!("Ingen {}.", self.symptom.name),
                Absent::Intet => format!("Intet {}.", self.symptom.name),
                Absent::Ikke => format!("Ikke {}.", self.symptom.name),
                Absent::IkkeAfter => format!("{} ikke.", capitalise(self.symptom.name)),
            };
        }
        let mut text = capitalise(self.symptom.name);
        for detail in [&self.duration, &self.onset].into_iter().flatten() {
            text.push(' ');
            text.push_str(detail);
        }
        text.push('.');
        text
    }

    pub(super) fn value(&self) -> Value {
        Value::Symptom {
            name: self.symptom.name.to_string(),
            present: self.present,
            duration: self.duration.clone(),
            onset: self.onset.clone(),
        }
    }
}

/// Where the words of `pattern` (space-separated, `*` endings) occur in a row, commas between
/// them allowed ("svier, når jeg tisser"): each match's first and one-past-last token.
pub(super) fn find_phrase(tokens: &[Token], pattern: &str) -> Vec<(usize, usize)> {
    let parts: Vec<&str> = pattern.split(' ').collect();
    let mut found = Vec::new();
    for start in 0..tokens.len() {
        let mut at = start;
        let mut matched = 0;
        while matched < parts.len() {
            match tokens.get(at) {
                Some(Token::Word(w)) if word_matches(parts[matched], w) => matched += 1,
                Some(Token::Punct(',')) if matched > 0 => {}
                _ => break,
            }
            at += 1;
        }
        if matched == parts.len() {
            found.push((start, at));
        }
    }
    found
}

pub(super) fn clause_bounds(tokens: &[Token], at: usize) -> (usize, usize) {
    let start = tokens[..at].iter().rposition(|t| matches!(t, Token::Punct(_))).map_or(0, |p| p + 1);
    let end = tokens[at..].iter().position(|t| matches!(t, Token::Punct(_))).map_or(tokens.len(), |p| at + p);
    (start, end)
}

/// Is the symptom at `at` negated? A negation counts before it in its clause, back to an
/// "og" or "men" ("får kvalme og kan ikke tåle lys" keeps the nausea), or right after it when
/// it opens the clause ("feber har jeg ikke haft"). A negated wish ("vil ikke tisse hele
/// tiden") is not a negated symptom.
///
/// `None` when the negation only grades it ("ikke mere forvirret end vanligt"): the symptom is
/// there as usual, and neither "Ingen forvirring." nor "Forvirring." would say what was said.
pub(super) fn negated(tokens: &[Token], at: usize, span_end: usize) -> Option<bool> {
    // Negations inside the matched phrase belong to the phrase: see `Symptom::said`.
    let (start, end) = clause_bounds(tokens, at);
    let cue = |k: usize| {
        tokens[k].word().is_some_and(|w| lexicon::NEGATIONS.contains(&w) && w != "nej")
            && !k.checked_sub(1).and_then(|p| tokens[p].word()).is_some_and(|w| MODALS.contains(&w))
    };
    let grading = |k: usize| tokens.get(k + 1).and_then(Token::word).is_some_and(|w| DEGREES.contains(&w));
    for k in (start..at).rev() {
        if matches!(tokens[k].word(), Some("og" | "men")) {
            break;
        }
        if cue(k) {
            return if grading(k) { None } else { Some(true) };
        }
    }
    let opens_clause =
        tokens[start..at].iter().filter_map(Token::word).all(|w| FILLERS.contains(&w) || PRONOUNS.contains(&w));
    match (span_end..end.min(span_end + 4)).find(|&k| cue(k)) {
        Some(k) if opens_clause => {
            if grading(k) {
                None
            } else {
                Some(true)
            }
        }
        _ => Some(false),
    }
}

/// Words after a negation that make it a matter of degree ("ikke så", "ikke mere").
pub(super) const DEGREES: &[&str] = &["mere", "så", "særlig", "specielt", "længere", "værre", "helt"];

pub(super) const PRONOUNS: &[&str] = &["det", "den", "de", "jeg", "du", "hun", "han", "vi", "der"];

pub(super) const MODALS: &[&str] = &["vil", "gider", "tør", "kan", "må"];

/// Verbs a question about having a symptom opens with ("Har du feber?", "Får du kvalme?").
/// Other questions ("Er det den værste hovedpine?") ask about something else, so a "nej" to
/// them does not deny the symptom.
pub(super) const ASKING: &[&str] =
    &["har", "havde", "får", "fik", "mærker", "mærkede", "oplever", "føler", "gør", "hoster", "kaster", "kan"];

/// Does the question ask whether the symptom at `at` is there?
pub(super) fn asks_about(tokens: &[Token], at: usize) -> bool {
    let start = tokens[..at].iter().rposition(Token::is_stop).map_or(0, |p| p + 1);
    let words: Vec<&str> =
        tokens[start..at].iter().filter_map(Token::word).skip_while(|w| FILLERS.contains(w)).collect();
    match words.as_slice() {
        [] => true,
        [first, ..] if ASKING.contains(first) => true,
        ["er", who, ..] => matches!(*who, "du" | "han" | "hun" | "der" | "i"),
        _ => false,
    }
}

/// Symptoms said in `tokens`, first mention of each, with negation.
pub(super) fn mentions(tokens: &[Token]) -> Vec<(&'static Symptom, usize, bool)> {
    let mut found: Vec<(&'static Symptom, usize, bool)> = Vec::new();
    let mut covered = vec![false; tokens.len()];
    for symptom in SYMPTOMS {
        for said in symptom.said {
            let (pattern, absent) = match said.strip_prefix('!') {
                Some(pattern) => (pattern, true),
                None => (*said, false),
            };
            for (at, end) in find_phrase(tokens, pattern) {
                if covered[at..end].iter().any(|&c| c) || found.iter().any(|f| std::ptr::eq(f.0, symptom)) {
                    continue;
                }
                covered[at..end].iter_mut().for_each(|c| *c = true);
                // A graded mention ("ikke mere forvirret end vanligt") states neither way.
                if let Some(denied) = negated(tokens, at, end) {
                    found.push((symptom, at, absent || denied));
                }
            }
        }
    }
    found.sort_by_key(|f| f.1);
    found
}

pub(super) enum Answer {
    Yes,
    No,
    Unclear,
}

/// A yes or no to a question: the first word, else a negation in the first sentence.
pub(super) fn answer(tokens: &[Token]) -> Answer {
    let first_sentence: Vec<&str> = tokens.iter().take_while(|t| !t.is_stop()).filter_map(Token::word).collect();
    match first_sentence.first().copied() {
        Some("nej" | "næ" | "nope") => Answer::No,
        Some("ja" | "jo" | "jah" | "jep") => Answer::Yes,
        // "Det har jeg ikke.", "Ikke rigtig.": short, and nothing said but the denial.
        _ if first_sentence.len() <= 5 && first_sentence.iter().any(|w| lexicon::NEGATIONS.contains(w)) => Answer::No,
        _ => Answer::Unclear,
    }
}

pub(super) fn symptom_findings(u: &Utterance, question: Option<&Utterance>) -> Vec<SymptomFinding> {
    if u.segment.speaker == Role::Doctor {
        return Vec::new();
    }
    // A relayed question ("Gør det ondt i brystet, Erna?") states nothing.
    let mut findings: Vec<SymptomFinding> = mentions(&u.tokens)
        .into_iter()
        .filter(|(_, at, _)| !in_question(&u.tokens, *at))
        .map(|(symptom, at, negated)| {
            // The nearest time said: in the clause, else the sentence, else the utterance.
            let (clause_start, clause_end) = clause_bounds(&u.tokens, at);
            let (duration, onset) =
                match (when(&u.tokens[clause_start..clause_end]), when(sentence_around(&u.tokens, at))) {
                    _ if negated => (None, None),
                    ((None, None), (None, None)) => when(&u.tokens),
                    ((None, None), sentence) => sentence,
                    (clause, _) => clause,
                };
            SymptomFinding { symptom, present: !negated, duration, onset, from_question: false }
        })
        .collect();
    let (duration, onset) = when(&u.tokens);
    let Some(q) = question else { return findings };
    let reply = answer(&u.tokens);
    for (symptom, at, _) in mentions(&q.tokens) {
        if findings.iter().any(|f| std::ptr::eq(f.symptom, symptom)) || !asks_about(&q.tokens, at) {
            continue;
        }
        let present = match (&reply, findings.is_empty()) {
            (Answer::No, _) => false,
            (Answer::Yes, true) => true,
            _ => continue,
        };
        findings.push(SymptomFinding {
            symptom,
            present,
            duration: duration.clone().filter(|_| present),
            onset: onset.clone().filter(|_| present),
            from_question: true,
        });
    }
    findings
}

/// Does the sentence holding position `at` end in a question mark?
pub(super) fn in_question(tokens: &[Token], at: usize) -> bool {
    tokens[at..].iter().find(|t| t.is_stop()) == Some(&Token::Punct('?'))
}

/// The sentence of `tokens` that contains position `at`.
pub(super) fn sentence_around(tokens: &[Token], at: usize) -> &[Token] {
    let start = tokens[..at].iter().rposition(Token::is_stop).map_or(0, |p| p + 1);
    let end = tokens[at..].iter().position(Token::is_stop).map_or(tokens.len(), |p| at + p);
    &tokens[start..end]
}

/// How long or since when: a duration if one is said, else an onset.
pub(super) fn when(tokens: &[Token]) -> (Option<String>, Option<String>) {
    match duration(tokens) {
        Some(d) => (Some(d), None),
        None => (None, onset(tokens)),
    }
}

pub(super) fn time_phrase(n: f64, unit: (&str, &str)) -> String {
    let noun = if n == 1.0 { unit.0 } else { unit.1 };
    format!("{} {noun}", danish_number(n))
}

/// "i tre dage" → "i 3 dage", "for to uger siden" → "for 2 uger siden".
pub(super) fn duration(tokens: &[Token]) -> Option<String> {
    duration_at(tokens).map(|(_, d)| d)
}

pub(super) fn duration_at(tokens: &[Token]) -> Option<(usize, String)> {
    (0..tokens.len()).find_map(|i| {
        let n = tokens[i].number()?;
        let unit = time_unit(tokens.get(i + 1)?.word()?)?;
        let before = i.checked_sub(1).and_then(|p| tokens[p].word());
        let after = tokens.get(i + 2).and_then(Token::word);
        let said = match (before, after) {
            (Some("for"), Some("siden")) => format!("for {} siden", time_phrase(n, unit)),
            (Some("er" | "været"), Some("siden")) => format!("i {}", time_phrase(n, unit)),
            (Some("i" | "sidste" | "snart" | "næsten" | "over" | "ca" | "cirka" | "omkring"), _) => {
                format!("i {}", time_phrase(n, unit))
            }
            _ => return None,
        };
        Some((i, said))
    })
}

/// Words with which a speaker takes back what they just said.
pub(super) const CORRECTIONS: &[&str] = &["undskyld", "passer", "mener", "rettere"];

pub(super) const WEEKDAYS: &[&str] = &[
    "mandags",
    "tirsdags",
    "onsdags",
    "torsdags",
    "fredags",
    "lørdags",
    "søndags",
    "går",
    "forgårs",
    "weekenden",
    "morges",
];

/// "siden i søndags", "i går morges", kept as said.
pub(super) fn onset(tokens: &[Token]) -> Option<String> {
    let words: Vec<&str> = tokens.iter().map(|t| t.word().unwrap_or("")).collect();
    // "i torsdags, nej undskyld, i fredags": the speaker's correction wins.
    let corrected = words.iter().any(|w| CORRECTIONS.contains(w));
    let mut starts: Box<dyn Iterator<Item = usize>> =
        if corrected { Box::new((0..words.len()).rev()) } else { Box::new(0..words.len()) };
    starts.find_map(|i| {
        if i > 0 && words[i - 1] == "siden" {
            return None;
        }
        let (lead, at) = if words[i] == "siden" { ("siden ", i + 1) } else { ("", i) };
        if words.get(at) != Some(&"i") || !words.get(at + 1).is_some_and(|w| WEEKDAYS.contains(w)) {
            return None;
        }
        let mut phrase = format!("{lead}i {}", words[at + 1]);
        if words[at + 1] == "går"
            && let Some(part @ ("morges" | "aftes" | "eftermiddags")) = words.get(at + 2).copied()
        {
            phrase = format!("{phrase} {part}");
        }
        Some(phrase)
    })
}

pub(super) fn allergy(u: &Utterance, question: Option<&Utterance>, push: &mut Push) {
    let allergic = |x: &Utterance| x.has_word(|w| w.starts_with("allergi") || w == "tåler");
    if u.segment.speaker == Role::Doctor {
        return;
    }
    let stated =
        u.tokens.iter().enumerate().any(|(k, t)| {
            t.word().is_some_and(|w| w.starts_with("allergi") || w == "tåler") && !in_question(&u.tokens, k)
        });
    if stated && !negated_anywhere(&u.tokens) {
        let words: Vec<&str> = u.words().collect();
        let substance = words
            .iter()
            .position(|w| *w == "for" || *w == "overfor")
            .and_then(|p| words.get(p + 1))
            .map(|w| w.to_string());
        let text = match &substance {
            Some(s) => format!("Allergi over for {s}."),
            None => "Allergi.".to_string(),
        };
        push(Section::Anamnese, text, Kind::Allergy, vec![Value::Allergy { substance, present: true }], &[]);
    } else if question.is_some_and(allergic) && matches!(answer(&u.tokens), Answer::No) {
        push(
            Section::Anamnese,
            "Ingen kendt allergi.".into(),
            Kind::Allergy,
            vec![Value::Allergy { substance: None, present: false }],
            &question.map(|q| q.index).into_iter().collect::<Vec<_>>(),
        );
    }
}

pub(super) fn negated_anywhere(tokens: &[Token]) -> bool {
    tokens.iter().filter_map(Token::word).any(|w| lexicon::NEGATIONS.contains(&w))
}
