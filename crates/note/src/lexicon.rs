//! The Danish vocabulary the rules know: symptoms, drugs with ATC codes, units and cue words.

/// A symptom, complaint or habit and the ways a patient says it.
pub struct Symptom {
    /// How the note names it ("ondt i halsen").
    pub name: &'static str,
    /// How the note says it is absent: "Ingen feber.", "Intet vægttab.", "Ikke ondt i halsen.",
    /// "Ryger ikke."
    pub absent: Absent,
    /// Word sequences that mean it, lowercase; a trailing `*` matches any ending. A leading `!`
    /// marks a phrase that says the symptom is absent ("!løber ikke noget ud"); a negation
    /// inside any other phrase is part of the complaint ("kan ikke sove").
    pub said: &'static [&'static str],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Absent {
    /// "Ingen" before a common-gender or plural noun.
    Ingen,
    /// "Intet" before a neuter noun.
    Intet,
    /// "Ikke" before a phrase.
    Ikke,
    /// "ikke" after a verb.
    IkkeAfter,
}

const fn noun(name: &'static str, said: &'static [&'static str]) -> Symptom {
    Symptom { name, absent: Absent::Ingen, said }
}

const fn neuter(name: &'static str, said: &'static [&'static str]) -> Symptom {
    Symptom { name, absent: Absent::Intet, said }
}

const fn phrase(name: &'static str, said: &'static [&'static str]) -> Symptom {
    Symptom { name, absent: Absent::Ikke, said }
}

const fn habit(name: &'static str, said: &'static [&'static str]) -> Symptom {
    Symptom { name, absent: Absent::IkkeAfter, said }
}

pub const SYMPTOMS: &[Symptom] = &[
    phrase("ondt i halsen", &["ondt i halsen", "halsen gør ondt", "ondt i svælget"]),
    noun("feber", &["feber*", "febril"]),
    noun("hoste", &["hoste", "hoster", "hostet", "hosten"]),
    noun("snue", &["snue", "løbende næse", "tilstoppet næse"]),
    noun("hovedpine", &["hovedpine", "ondt i hovedet"]),
    noun("åndenød", &["åndenød", "svært ved at få vejret", "stakåndet", "forpustet", "kortåndet"]),
    noun("trykken for brystet", &["trykken for brystet", "trykken i brystet"]),
    noun("brystsmerter", &["brystsmerter", "ondt i brystet", "smerter i brystet"]),
    noun("hjertebanken", &["hjertebanken", "hjertet banker", "hjertet hamrer"]),
    noun("hævede ankler", &["hævede ankler", "ankler hævede", "anklerne hævede", "ankler er hævede", "ankler hæver"]),
    noun("muskelsmerter", &["muskelsmerter", "ondt i musklerne", "ondt i muskler"]),
    noun("kvalme", &["kvalme", "dårlig tilpas i maven"]),
    noun("opkastning", &["kastet op", "kaster op", "opkast*"]),
    noun("diarré", &["diarré", "diarre", "tynd mave", "tynd afføring"]),
    noun("mavesmerter", &["mavesmerter", "ondt i maven"]),
    noun("blod i afføringen", &["blod i afføringen", "blod i afføring"]),
    noun("sort afføring", &["sort afføring", "afføringen været sort", "afføringen er sort", "afføringen sort"]),
    noun("blodig opkastning", &["kastet blod op", "kaster blod op", "blod i opkastet"]),
    noun("svimmelhed", &["svimmel", "svimmelhed"]),
    noun("træthed", &["træt", "træthed", "udmattet"]),
    neuter("udslæt", &["udslæt*"]),
    noun("kløe", &["kløe", "klør", "kløende"]),
    noun("lændesmerter", &["lændesmerter", "ondt i lænden", "smerter i lænden"]),
    noun("smerter i ryggen", &["ondt i ryggen", "smerter i ryggen", "rygsmerter"]),
    noun("kulderystelser", &["kulderystelser", "kulderystelse"]),
    noun("besvimelse", &["besvimet", "besvime", "besvimelse", "besvimelser"]),
    noun("snorken", &["snorken", "snorker"]),
    noun("depression", &["depression", "depressioner"]),
    noun("epilepsi", &["epilepsi"]),
    noun("blodpropper", &["blodprop", "blodpropper"]),
    noun("morgendrink", &["morgendrink", "morgendrinks"]),
    habit("ryger", &["ryger", "ryge"]),
    noun("udstråling", &["udstråling", "stråler*"]),
    noun("føleforstyrrelser", &["føleforstyrrelser", "prikken", "snurren", "følelsesløs*", "sovende fornemmelse"]),
    noun("kraftnedsættelse", &["kraftnedsættelse", "svag i benet", "svag i benene", "mistet kraften"]),
    noun("svie ved vandladning", &["svie ved vandladning", "svier når jeg tisser", "svie når jeg tisser"]),
    noun("hyppig vandladning", &["hyppig vandladning", "tisse tit", "tisser tit", "tisse hele tiden"]),
    noun("blod i urinen", &["blod i urinen", "blod i tisset"]),
    neuter("flåd", &["flåd", "udflåd", "løber der noget ud", "løber noget ud", "!løber ikke noget ud"]),
    noun("synkebesvær", &["synkebesvær", "svært ved at synke"]),
    noun("ørepine", &["ørepine", "ondt i øret", "ondt i ørerne"]),
    noun(
        "søvnbesvær",
        &[
            "søvnbesvær",
            "sover dårligt",
            "svært ved at sove",
            "svært ved at falde i søvn",
            "kan ikke sove",
            "kan ikke falde i søvn",
        ],
    ),
    noun("forvirring", &["forvirret", "forvirring", "konfus"]),
    noun("stress", &["stress", "stresset"]),
    noun(
        "selvmordstanker",
        &[
            "selvmordstanker",
            "tanker om at tage mit eget liv",
            "tanker om selvmord",
            "gøre en ende på det",
            "skade på dig selv",
            "skade på mig selv",
            "tage dit eget liv",
            "tanker om at dø",
            "selvmord",
        ],
    ),
    noun("nedtrykthed", &["nedtrykt", "nedtrykthed"]),
    phrase("ked af det", &["ked af det"]),
    neuter("vægttab", &["vægttab", "tabt mig", "tabt dig", "taget af"]),
    noun("blødning", &["blødning", "bløder", "blødninger"]),
    noun("hævelse", &["hævelse", "hævelser"]),
    noun("lysfølsomhed", &["lysfølsomhed", "lysfølsom", "lyset generer"]),
    noun("sår", &["sår"]),
    noun("låsning", &["låsning", "låser", "går i baglås"]),
    noun("migræne", &["migræne"]),
    noun("tab af smagssans", &["mistet smagssansen", "smager ikke", "ingen smagssans"]),
];

/// A drug a Danish GP commonly prescribes, with the ATC code the note's data carries.
pub struct Drug {
    pub name: &'static str,
    pub atc: &'static str,
    /// Other names a patient or doctor may use (brands, short forms), lowercase.
    pub aliases: &'static [&'static str],
}

const fn drug(name: &'static str, atc: &'static str, aliases: &'static [&'static str]) -> Drug {
    Drug { name, atc, aliases }
}

pub const DRUGS: &[Drug] = &[
    drug("paracetamol", "N02BE01", &["panodil", "pamol", "pinex", "panodiler"]),
    drug("ibuprofen", "M01AE01", &["ipren", "ibumetin", "brufen"]),
    drug("diclofenac", "M01AB05", &["voltaren"]),
    drug("naproxen", "M01AE02", &[]),
    drug("tramadol", "N02AX02", &[]),
    drug("morfin", "N02AA01", &[]),
    drug("sumatriptan", "N02CC01", &["imigran"]),
    drug("acetylsalicylsyre", "B01AC06", &["hjertemagnyl", "magnyl"]),
    drug("apixaban", "B01AF02", &["eliquis"]),
    drug("rivaroxaban", "B01AF01", &["xarelto"]),
    drug("warfarin", "B01AA03", &["marevan"]),
    drug("amlodipin", "C08CA01", &["norvasc"]),
    drug("losartan", "C09CA01", &["cozaar"]),
    drug("enalapril", "C09AA02", &[]),
    drug("ramipril", "C09AA05", &[]),
    drug("lisinopril", "C09AA03", &[]),
    drug("bendroflumethiazid", "C03AB01", &["centyl"]),
    drug("furosemid", "C03CA01", &["furix"]),
    drug("metoprolol", "C07AB02", &["selo-zok", "selozok"]),
    drug("bisoprolol", "C07AB07", &[]),
    drug("simvastatin", "C10AA01", &["zocor"]),
    drug("atorvastatin", "C10AA05", &["lipitor"]),
    drug("metformin", "A10BA02", &["glucophage"]),
    drug("insulin", "A10AE04", &[]),
    drug("levothyroxin", "H03AA01", &["eltroxin", "euthyrox"]),
    drug("penicillin", "J01CE02", &["phenoxymethylpenicillin", "vepicombin", "primcillin"]),
    drug("amoxicillin", "J01CA04", &["imacillin"]),
    drug("dicloxacillin", "J01CF01", &["diclocil"]),
    drug("pivmecillinam", "J01CA08", &["selexid"]),
    drug("sulfamethizol", "J01EB02", &["lucosil"]),
    drug("nitrofurantoin", "J01XE01", &["furadantin"]),
    drug("clarithromycin", "J01FA09", &[]),
    drug("azithromycin", "J01FA10", &[]),
    drug("doxycyclin", "J01AA02", &[]),
    drug("metronidazol", "P01AB01", &["flagyl"]),
    drug("sertralin", "N06AB06", &["zoloft"]),
    drug("escitalopram", "N06AB10", &["cipralex"]),
    drug("citalopram", "N06AB04", &[]),
    drug("mirtazapin", "N06AX11", &[]),
    drug("zopiclon", "N05CF01", &["imovane"]),
    drug("omeprazol", "A02BC01", &["losec"]),
    drug("pantoprazol", "A02BC02", &[]),
    drug("salbutamol", "R03AC02", &["ventoline", "airomir"]),
    drug("terbutalin", "R03AC03", &["bricanyl"]),
    drug("budesonid", "R03BA02", &["pulmicort", "spirocort"]),
    drug("cetirizin", "R06AE07", &[]),
    drug("loratadin", "R06AX13", &[]),
    drug("prednisolon", "H02AB06", &[]),
    drug("hydrocortison", "D07AA02", &["hydrocortisoncreme"]),
    drug("mometason", "D07AC13", &["elocon"]),
    drug("fusidinsyre", "D06AX01", &["fucidin"]),
    drug("terbinafin", "D01AE15", &["lamisil"]),
    drug("allopurinol", "M04AA01", &[]),
    drug("colchicin", "M04AC01", &[]),
    drug("methotrexat", "L04AX03", &[]),
    drug("levonorgestrel", "G03AC03", &[]),
    drug("p-piller", "G03AA07", &["ppiller", "p-pille", "pillen"]),
    drug("melatonin", "N05CH01", &["circadin"]),
    drug("thiamin", "A11DA01", &["b1-vitamin"]),
    drug("vareniclin", "N07BA03", &["champix"]),
    drug("nikotin", "N07BA01", &["nicorette", "nicotinell", "nikotinplaster", "nikotintyggegummi"]),
];

/// The dose units a statement may attach to a number, as the note writes them.
pub fn dose_unit(word: &str) -> Option<&'static str> {
    Some(match word {
        "mg" | "milligram" => "mg",
        "mikrogram" | "mcg" | "µg" | "ug" => "mikrogram",
        "g" | "gram" => "g",
        "ml" | "milliliter" => "ml",
        "%" | "procent" => "%",
        "ie" | "enheder" => "enheder",
        _ => return None,
    })
}

/// Clinical words a general Danish word list lacks: lab values and the abbreviations notes use
/// for them, scales and questionnaires. With the drug names, these count as heard words.
pub const CLINICAL_TERMS: &[&str] = &[
    "hba1c",
    "egfr",
    "tsh",
    "t4",
    "inr",
    "ekg",
    "fev1",
    "fvc",
    "crp",
    "ldl",
    "hdl",
    "psa",
    "alat",
    "ggt",
    "kreatinin",
    "kolesterol",
    "kolesterolen",
    "urinstiks",
    "stix",
    "mdi",
    "asrs",
    "pn",
    "atc",
    "kol",
    "adhd",
    "covid",
    "fmk",
    "helicobacter",
    "impetigo",
    "peak",
    "spacer",
    "mg",
    "ml",
    "kg",
    "cm",
    "mmol",
    "µg",
    "ie",
    "kl",
    "ca",
    "pga",
    "evt",
    "dvs",
];

/// Whether `word` (lower case) is a drug name or a clinical term the drafter knows.
pub fn is_clinical_term(word: &str) -> bool {
    CLINICAL_TERMS.contains(&word) || drug_named(word).is_some()
}

/// Words that negate what follows in their clause.
pub const NEGATIONS: &[&str] = &["ingen", "ikke", "intet", "aldrig", "hverken", "uden", "nej", "ingenting"];

/// Time units after a number, singular and plural as a note writes them.
pub fn time_unit(word: &str) -> Option<(&'static str, &'static str)> {
    Some(match word {
        "dag" | "dage" | "dags" | "dages" => ("dag", "dage"),
        "døgn" => ("døgn", "døgn"),
        "uge" | "uger" | "uges" => ("uge", "uger"),
        "måned" | "måneder" | "måneds" => ("måned", "måneder"),
        "år" => ("år", "år"),
        "time" | "timer" => ("time", "timer"),
        _ => return None,
    })
}

/// Does `word` match the lexicon pattern word (`*` at the end: any ending)?
pub fn word_matches(pattern: &str, word: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(stem) => word.starts_with(stem),
        None => pattern == word,
    }
}

/// Endings a drug's name takes in speech: definite, plural, genitive, and "creme" written on.
pub const DRUG_ENDINGS: &[&str] = &["", "n", "en", "et", "s", "ns", "ens", "r", "rne", "erne", "creme"];

/// The drug `word` names, allowing Danish definite and plural endings ("penicillinen",
/// "Ventolinen").
pub fn drug_named(word: &str) -> Option<&'static Drug> {
    DRUGS
        .iter()
        .find(|d| drug_names(d).any(|name| word.strip_prefix(name).is_some_and(|rest| DRUG_ENDINGS.contains(&rest))))
}

/// A drug's generic name and its aliases.
pub fn drug_names(drug: &Drug) -> impl Iterator<Item = &'static str> {
    std::iter::once(drug.name).chain(drug.aliases.iter().copied())
}

/// The drug names the drafter knows, generic then brand, for priming Whisper
/// (`[asr] prime_with_lexicon`): the words a general-purpose model hears worst in a GP's call.
/// Inflected or colloquial aliases ("pillen", "panodiler") are left out: Whisper spells those
/// from ordinary Danish.
pub fn priming_words() -> Vec<&'static str> {
    let brands = DRUGS.iter().flat_map(|d| d.aliases.iter().copied()).filter(|alias| {
        !DRUGS.iter().any(|d| alias.starts_with(d.name) || (d.name.starts_with(alias) && alias != &d.name))
            && !matches!(*alias, "pillen" | "p-pille" | "ppiller" | "panodiler")
    });
    DRUGS.iter().map(|d| d.name).chain(brands).collect()
}
