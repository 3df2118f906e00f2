//! Numbers measured at home or read out from results, each read by the gauge named near it.

use super::*;

/// Something a patient or carer measures at home, and how its numbers look.
pub(super) struct Gauge {
    pub(super) name: &'static str,
    /// As the note writes it ("TSH").
    pub(super) shown: &'static str,
    /// Word beginnings that name it.
    pub(super) said: &'static [&'static str],
    pub(super) range: std::ops::RangeInclusive<f64>,
    /// Unit words one of which must follow the number; empty: none needed.
    pub(super) units: &'static [&'static str],
    pub(super) unit: Option<&'static str>,
}

pub(super) const GAUGES: &[Gauge] = &[
    gauge("temperatur", "Temperatur", &["temperatur", "feber", "grader", "termometer", "målt", "målte"], 35.0..=43.0),
    gauge("iltmætning", "Iltmætning", &["iltmætning", "saturation", "mætning", "iltapparat", "iltmåler"], 50.0..=100.0),
    gauge("langtidsblodsukker", "Langtidsblodsukker", &["langtidsblodsukker", "hba1c"], 20.0..=200.0),
    gauge("blodsukker", "Blodsukker", &["blodsukker", "morgenblodsukker"], 1.0..=40.0),
    gauge("puls", "Puls", &["puls"], 30.0..=220.0),
    gauge("peak flow", "Peak flow", &["peak", "peakflow"], 50.0..=900.0),
    gauge("tsh", "TSH", &["tsh"], 0.01..=100.0),
    gauge("alat", "ALAT", &["alat"], 1.0..=5000.0),
    gauge("ggt", "GGT", &["ggt"], 1.0..=5000.0),
    gauge("crp", "CRP", &["crp"], 1.0..=500.0),
    gauge("ldl", "LDL", &["ldl"], 0.5..=15.0),
    gauge("kolesterol", "Kolesterol", &["kolesterol"], 1.0..=20.0),
    gauge("kalium", "Kalium", &["kalium"], 1.5..=9.0),
    gauge("kreatinin", "Kreatinin", &["kreatinin"], 10.0..=2000.0),
    gauge("hæmoglobin", "Hæmoglobin", &["hæmoglobin", "blodprocent"], 2.0..=15.0),
    Gauge {
        name: "vægt",
        shown: "Vægt",
        said: &["vejer", "vægt", "vejet", "kilo", "kg"],
        range: 2.0..=350.0,
        units: &["kg", "kilo"],
        unit: Some("kg"),
    },
    Gauge {
        name: "livvidde",
        shown: "Livvidde",
        said: &["livvidde", "taljemål"],
        range: 40.0..=250.0,
        units: &["cm", "centimeter"],
        unit: Some("cm"),
    },
];

pub(super) const fn gauge(
    name: &'static str,
    shown: &'static str,
    said: &'static [&'static str],
    range: std::ops::RangeInclusive<f64>,
) -> Gauge {
    Gauge { name, shown, said, range, units: &[], unit: None }
}

/// The gauge a number at `at` reads: named near it in its sentence, else in the question.
pub(super) fn gauge_for(u: &Utterance, question: Option<&Utterance>, at: usize, n: f64) -> Option<&'static Gauge> {
    let next = u.tokens.get(at + 1).and_then(Token::word);
    let fits = |g: &Gauge| g.range.contains(&n) && (g.units.is_empty() || next.is_some_and(|w| g.units.contains(&w)));
    let names = |g: &Gauge, w: &str| g.said.iter().any(|stem| w.starts_with(stem));
    let (start, end) = {
        let sentence_start = u.tokens[..at].iter().rposition(Token::is_stop).map_or(0, |p| p + 1);
        let sentence_end = u.tokens[at..].iter().position(Token::is_stop).map_or(u.tokens.len(), |p| at + p);
        (sentence_start.max(at.saturating_sub(8)), sentence_end.min(at + 4))
    };
    // Named near the number, the nearest name winning ("ALAT er 95, og GGT er 180"); else
    // earlier in the utterance ("HbA1c er 63. For tre måneder siden var det 54."); else in the
    // question before it.
    let nearest = (start..end)
        .filter_map(|k| {
            let word = u.tokens[k].word()?;
            let gauge = GAUGES.iter().find(|g| fits(g) && names(g, word))?;
            Some((k.abs_diff(at), k > at, gauge))
        })
        .min_by_key(|(distance, after, _)| (*distance, *after))
        .map(|(_, _, gauge)| gauge);
    let earlier: Vec<&str> = u.tokens[..at].iter().filter_map(Token::word).collect();
    nearest
        .or_else(|| {
            let last = earlier.iter().rev().find_map(|w| GAUGES.iter().find(|g| names(g, w)))?;
            fits(last).then_some(last)
        })
        .or_else(|| GAUGES.iter().find(|g| fits(g) && question.is_some_and(|q| q.words().any(|w| names(g, w)))))
        // "I morges havde han otteogtredive komma tre": nothing else reads like that.
        .or_else(|| {
            (n.fract() != 0.0 && (35.0..=42.5).contains(&n))
                .then(|| GAUGES.iter().find(|g| g.name == "temperatur"))
                .flatten()
        })
}

/// Measurements in the utterance (the gauge may be named in the question before it). Returns
/// whether a temperature was found, so "Feber" is not said twice.
pub(super) fn measurements(u: &Utterance, question: Option<&Utterance>, push: &mut Push) -> bool {
    if u.segment.speaker == Role::Doctor && u.label.section != Some(Section::Objektivt) {
        return false;
    }
    let mut read: Vec<(&'static str, String)> = Vec::new();
    for (at, token) in u.tokens.iter().enumerate() {
        // "Eller fem hundrede og tredive?": a number asked about is not a reading.
        if in_question(&u.tokens, at) {
            continue;
        }
        let before = at.checked_sub(1).and_then(|p| u.tokens[p].word());
        let next = u.tokens.get(at + 1).and_then(Token::word);
        match token {
            Token::Pressure(a, b) => read.push(("blodtryk", pressure_text(*a, *b))),
            Token::Number(n) => {
                let counts_something = next.is_some_and(|w| {
                    time_unit(w).is_some()
                        || w.starts_with("gang")
                        || w.starts_with("tablet")
                        || dose_unit(w).is_some_and(|d| d != "%")
                });
                let threshold_or_clock = before.is_some_and(|w| matches!(w, "under" | "over" | "kl" | "klokken"));
                // "Jeg har tabt mig tre kilo" is a change in weight, not a weight.
                let weight_change = u.tokens[at.saturating_sub(3)..at]
                    .iter()
                    .filter_map(Token::word)
                    .any(|w| matches!(w, "tabt" | "taget" | "mistet" | "tager" | "taber" | "ned" | "op"));
                if !counts_something
                    && !threshold_or_clock
                    && let Some(gauge) = gauge_for(u, question, at, *n)
                    && !(gauge.name == "vægt" && weight_change)
                {
                    read.push((gauge.name, danish_number(*n)));
                }
            }
            _ => {}
        }
    }
    let fever_talk = u.words().chain(question.into_iter().flat_map(|q| q.words())).any(|w| w.starts_with("feber"));
    let mut names: Vec<&str> = Vec::new();
    for (name, _) in &read {
        if !names.contains(name) {
            names.push(name);
        }
    }
    for name in &names {
        let mut values: Vec<String> = Vec::new();
        for (_, value) in read.iter().filter(|r| r.0 == *name) {
            // Said again after a correction ("Nej, fem hundrede og tyve"): once is enough.
            if !values.contains(value) {
                values.push(value.clone());
            }
        }
        let gauge = GAUGES.iter().find(|g| g.name == *name);
        let unit = gauge.and_then(|g| g.unit);
        // A temperature told as history ("i morges havde han 38,3") is Anamnese, as the
        // classifier hears it; every other home measurement is Objektivt.
        let history = matches!(u.label.section, Some(Section::Anamnese | Section::Kontaktaarsag));
        let section = if *name == "temperatur" && history { Section::Anamnese } else { Section::Objektivt };
        // Measured by the patient or a carer, not in the clinic: a GP's note says so, unless
        // the value comes from somewhere else they were ("på sygehuset målte de 39,8").
        // ("Hvad målte de på sygehuset?" – "Niogtredive komma otte."). A lab value the patient
        // repeats ("Mit TSH var …") was never measured at home at all.
        let said = u.words().chain(question.into_iter().flat_map(|q| q.words()));
        let elsewhere = said.into_iter().any(|w| ELSEWHERE.iter().any(|place| w.starts_with(place)));
        let home_gauge = gauge.is_none_or(|g| HOME_GAUGES.contains(&g.name));
        let home = u.segment.speaker != Role::Doctor && !elsewhere && home_gauge;
        let label = match (*name, gauge) {
            ("temperatur", _) if fever_talk => "Feber",
            (_, Some(g)) => g.shown,
            (_, None) if home => "Hjemmeblodtryk",
            (_, None) => "Blodtryk",
        };
        let shown: Vec<String> =
            values.iter().map(|v| unit.map_or_else(|| v.clone(), |unit| format!("{v} {unit}"))).collect();
        // "mellem otte og ti" is a range, not two readings.
        let shown = match range(&u.tokens) {
            Some((low, high)) => {
                match (values.iter().position(|v| *v == low), values.iter().position(|v| *v == high)) {
                    (Some(l), Some(h)) if h == l + 1 => {
                        let mut ranged = shown.clone();
                        ranged[l] = format!("mellem {} og {}", shown[l], shown[h]);
                        ranged.remove(h);
                        ranged
                    }
                    _ => shown,
                }
            }
            None => shown,
        };
        let place = if home && gauge.is_some() { " målt hjemme" } else { "" };
        let data = values
            .iter()
            .map(|v| Value::Measurement { name: name.to_string(), value: v.clone(), unit: unit.map(str::to_string) })
            .collect();
        let asked: Vec<usize> = question.map(|q| q.index).into_iter().collect();
        push(section, format!("{label} {}{place}.", shown.join(" og ")), Kind::Measurement, data, &asked);
    }
    names.contains(&"temperatur")
}

/// What a patient or carer measures at home (blood pressure has no gauge of its own); the rest
/// are laboratory values.
const HOME_GAUGES: &[&str] = &["temperatur", "iltmætning", "blodsukker", "puls", "peak flow", "vægt", "livvidde"];

/// Places a patient or carer may report a measurement from that are not their home.
const ELSEWHERE: &[&str] = &[
    "plejecenter",
    "plejehjem",
    "praksis",
    "læge",
    "sygehus",
    "hospital",
    "afdeling",
    "børneafdeling",
    "skadestue",
    "lægevagt",
    "akutmodtag",
    "ambulance",
    "klinik",
    "apotek",
    "tandlæge",
    "speciallæge",
    "journal",
];

/// The two ends of a range said as "mellem N og M", as the note writes numbers.
fn range(tokens: &[Token]) -> Option<(String, String)> {
    tokens.windows(4).find_map(|w| match w {
        [Token::Word(between), Token::Number(low), Token::Word(and), Token::Number(high)]
            if between == "mellem" && and == "og" && low < high =>
        {
            Some((danish_number(*low), danish_number(*high)))
        }
        _ => None,
    })
}
