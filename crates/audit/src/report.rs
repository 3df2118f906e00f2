//! The DPO's report, built from the log alone: per-consultation data-flow timelines, retention
//! compliance, access per doctor, refused sessions, other system events and the GDPR art. 30
//! record of processing activities. Headings are Danish; times are UTC.

mod render;

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use crate::{
    Actor, AuditConfig, AuditError, Event, Id, IngestRefusal, LoginFailure, Purpose, Record, RefusalReason, Timestamp,
    Verification,
};
pub use render::ReportFormat;
use render::{Block, Column, Row, Table};

/// Which part of the log to report on, and when "now" is (a simulated clock may move it).
#[derive(Clone, Debug)]
pub struct ReportOptions {
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    pub consultation: Option<Id>,
    /// Deadlines are judged against this time.
    pub now: Timestamp,
}

/// A finished report, ready to render.
#[derive(Debug)]
pub struct Report {
    blocks: Vec<Block>,
    violations: usize,
    intact: bool,
}

impl Report {
    /// Builds the report from every record of the log (`records`, in log order) and the
    /// verification result of that same log.
    pub fn build(
        records: &[Record],
        unreadable: u64,
        integrity: &Verification,
        config: &AuditConfig,
        options: &ReportOptions,
    ) -> Report {
        let in_scope = |record: &&Record| {
            options.from.is_none_or(|from| record.time >= from)
                && options.to.is_none_or(|to| record.time <= to)
                && options.consultation.as_ref().is_none_or(|wanted| record.event.consultation() == Some(wanted))
        };
        let selected: Vec<&Record> = records.iter().filter(in_scope).collect();
        let lifetimes = lifetimes(records, options);
        let violations = lifetimes.iter().filter(|lifetime| lifetime.status.is_violation()).count();
        let intact = matches!(integrity, Verification::Intact { .. }) && unreadable == 0;

        let mut blocks = vec![Block::Heading(1, "Auditrapport – Autonotar".into())];
        blocks.push(Block::Paragraph(scope_text(options)));
        blocks.push(Block::Paragraph(integrity_text(integrity, unreadable)));
        blocks.push(Block::Paragraph(format!(
            "{} hændelser i perioden; {} overtrædelse(r) af slettefrister.",
            selected.len(),
            violations
        )));
        timelines(&mut blocks, &selected);
        retention(&mut blocks, &lifetimes, violations, options.now);
        access(&mut blocks, &selected);
        refused(&mut blocks, &selected);
        system_events(&mut blocks, &selected);
        processing_record(&mut blocks, config, &selected);
        Report { blocks, violations, intact }
    }

    /// Artefacts deleted late or still held past their deadline.
    pub fn violations(&self) -> usize {
        self.violations
    }

    /// Whether the log verified and every line could be read.
    pub fn log_intact(&self) -> bool {
        self.intact
    }

    pub fn render(&self, format: ReportFormat) -> String {
        render::render(&self.blocks, format)
    }
}

fn scope_text(options: &ReportOptions) -> String {
    let bound =
        |time: Option<Timestamp>, open: &str| time.map_or(open.to_owned(), |time| format!("{} UTC", time.human()));
    let mut text = format!(
        "Periode: {} – {}. Dannet: {} UTC.",
        bound(options.from, "logstart"),
        bound(options.to, "nu"),
        options.now.human()
    );
    if let Some(consultation) = &options.consultation {
        text.push_str(&format!(" Kun konsultation {consultation}."));
    }
    text
}

fn integrity_text(integrity: &Verification, unreadable: u64) -> String {
    let mut text = match integrity {
        Verification::Intact { records, head, .. } => {
            format!("Integritet: OK – {records} poster, kæden er ubrudt (hoved {head}).")
        }
        Verification::Broken(fault) => {
            format!("ADVARSEL – loggens integritet er brudt: {fault}. Rapporten bygger på en log, der kan være ændret.")
        }
    };
    if unreadable > 0 {
        text.push_str(&format!(" {unreadable} linje(r) kunne ikke læses og er udeladt."));
    }
    text
}

fn actor_text(actor: &Actor) -> String {
    match actor {
        Actor::System => "System".into(),
        Actor::Doctor(id) => format!("Læge {id}"),
        Actor::Researcher(id) => format!("Forsker {id}"),
        Actor::Anonymous => "Ikke logget ind".into(),
    }
}

fn deadline_text(delete_by: Option<Timestamp>) -> String {
    delete_by.map_or_else(String::new, |by| format!(" (slettes senest {} UTC)", by.human()))
}

/// What happened, in Danish, for a person.
fn describe(event: &Event) -> String {
    match event {
        Event::ConsultationStarted { ingest_key: Some(key), .. } => {
            format!("Optagelse startet (samtykke givet) af videoplatformen med nøgle {key}")
        }
        Event::ConsultationStarted { ingest_key: None, .. } => {
            "Optagelse startet (samtykke givet) fra lægens browser".into()
        }
        Event::ConsultationResumed { .. } => "Optagelse genoptaget efter afbrudt forbindelse".into(),
        Event::StorageFailed { .. } => "Transskription og udkast kunne ikke gemmes (findes ikke på disk)".into(),
        Event::IngestRefused { reason, key, suppressed } => format!(
            "Forbindelse til optagelse afvist: {}{}{}",
            ingest_refusal_text(*reason),
            key.as_ref().map_or_else(String::new, |key| format!(" (nøgle {key})")),
            suppressed_text(*suppressed)
        ),
        Event::IngestKeyCreated { key } => format!("Optagenøgle {key} oprettet"),
        Event::IngestKeyRevoked { key } => format!("Optagenøgle {key} tilbagekaldt"),
        Event::ConsultationRefused { reason, ingest_key, .. } => format!(
            "Afvist: {}{}",
            refusal_text(*reason),
            ingest_key.as_ref().map_or_else(String::new, |key| format!(" (nøgle {key})"))
        ),
        Event::AudioReceived { duration_ms, .. } => {
            format!("Lyd modtaget, {} (kun i arbejdshukommelsen)", duration_text(Duration::from_millis(*duration_ms)))
        }
        Event::AudioStored { delete_by, .. } => {
            format!("Lyd gemt krypteret{}", deadline_text(Some(*delete_by)))
        }
        Event::RetentionChanged { artefacts, delete_by, policy, .. } => format!(
            "Slettefrist ændret (politik {policy}) for {} artefakt(er){}",
            artefacts.len(),
            deadline_text(Some(*delete_by))
        ),
        Event::TranscriptProduced { delete_by, .. } => {
            format!("Transskription dannet og krypteret{}", deadline_text(Some(*delete_by)))
        }
        Event::DraftProduced { delete_by, .. } => {
            format!("Notatudkast dannet og krypteret{}", deadline_text(Some(*delete_by)))
        }
        Event::LiveTranscriptViewed { .. } => "Transskription fulgt direkte under samtalen".into(),
        Event::InterimDraftViewed { ingest_key: None, .. } => "Foreløbig kladde vist under samtalen".into(),
        Event::InterimDraftViewed { ingest_key: Some(key), .. } => {
            format!("Foreløbig kladde sendt til videoplatformen (nøgle {key}) under samtalen")
        }
        Event::DraftViewed(used) => format!("Udkast set{}", deadline_text(used.delete_by)),
        Event::DraftEdited(used) => format!("Udkast redigeret{}", deadline_text(used.delete_by)),
        Event::DraftApproved(used) => format!("Udkast godkendt{}", deadline_text(used.delete_by)),
        Event::DraftExported(used) => {
            format!("Kopieret til lægepraksissystemet{}", deadline_text(used.delete_by))
        }
        Event::DraftDiscarded(used) => format!("Udkast kasseret{}", deadline_text(used.delete_by)),
        Event::ArtefactDeleted { policy, .. } => format!("Slettet (politik {policy})"),
        Event::KeyShredded { key, artefacts, policy, .. } => {
            format!("Datanøgle {key} krypto-slettet (politik {policy}); {} artefakt(er) ulæselige", artefacts.len())
        }
        Event::KeyRotated { key, rewrapped } => {
            format!("Nøglekrypteringsnøgle roteret til {key}; {rewrapped} datanøgler ompakket")
        }
        Event::RetentionSweepRan { examined, deleted, shredded } => {
            format!("Sletterutine kørt: {examined} gennemgået, {deleted} slettet, {shredded} nøgler krypto-slettet")
        }
        Event::ResearchExportMade { consultations, delete_by, .. } => {
            format!("Pseudonymiseret forskningsudtræk af {consultations} konsultation(er){}", deadline_text(*delete_by))
        }
        Event::LoginSucceeded { .. } => "Logget ind".into(),
        Event::LoginFailed { reason, suppressed, .. } => {
            format!("Mislykket log-ind: {}{}", login_failure_text(*reason), suppressed_text(*suppressed))
        }
        Event::LogRecovered { dropped_bytes } => {
            format!("Loggen genoptaget efter nedbrud; {dropped_bytes} byte ufærdig linje fjernet")
        }
    }
}

fn refusal_text(reason: RefusalReason) -> &'static str {
    match reason {
        RefusalReason::ConsentMissing => "samtykke mangler",
        RefusalReason::ConsentWithdrawn => "samtykke trukket tilbage",
        RefusalReason::NotOwner => "forsøg på at overtage en andens optagelse",
        RefusalReason::AlreadyExists => "konsultations-id findes allerede",
    }
}

fn ingest_refusal_text(reason: IngestRefusal) -> &'static str {
    match reason {
        IngestRefusal::MissingKey => "ingen nøgle",
        IngestRefusal::UnknownKey => "ukendt eller tilbagekaldt nøgle",
        IngestRefusal::ForeignOrigin => "fremmed oprindelse (Origin)",
    }
}

/// What a throttled record says about the ones not written one by one before it.
fn suppressed_text(suppressed: u64) -> String {
    match suppressed {
        0 => String::new(),
        n => format!("; {n} lignende afvisninger før denne ikke skrevet enkeltvis"),
    }
}

fn login_failure_text(reason: LoginFailure) -> &'static str {
    match reason {
        LoginFailure::InvalidSignature => "ugyldig signatur på link",
        LoginFailure::LinkExpired => "link udløbet",
        LoginFailure::LinkAlreadyUsed => "link allerede brugt",
        LoginFailure::SessionInvalid => "ugyldig session",
        LoginFailure::UnknownDoctor => "ukendt læge",
    }
}

fn purpose_text(purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::Care => "Patientbehandling og journalføring",
        Purpose::Retention => "Sletning til tiden",
        Purpose::Security => "Informationssikkerhed",
        Purpose::Research => "Forskning",
    }
}

/// `2 d 3 t`, `4 t 10 min`, `12:34 min`.
fn duration_text(duration: Duration) -> String {
    let seconds = duration.as_secs();
    let (days, hours, minutes) = (seconds / 86_400, seconds % 86_400 / 3600, seconds % 3600 / 60);
    if days > 0 {
        format!("{days} d {hours} t")
    } else if hours > 0 {
        format!("{hours} t {minutes} min")
    } else {
        format!("{minutes}:{:02} min", seconds % 60)
    }
}

fn event_row(record: &Record) -> Row {
    Row {
        time: record.time.human(),
        consultation: record.event.consultation().map(Id::to_string).unwrap_or_default(),
        artefact: record.event.artefacts().iter().map(|id| id.as_str()).collect::<Vec<_>>().join(", "),
        actor: actor_text(&record.actor),
        what: describe(&record.event),
        kind: record.event.kind(),
        ..Row::default()
    }
}

fn timelines(blocks: &mut Vec<Block>, selected: &[&Record]) {
    blocks.push(Block::Heading(2, "1. Dataflow pr. konsultation".into()));
    let mut by_consultation: BTreeMap<&Id, Vec<&Record>> = BTreeMap::new();
    for record in selected {
        if let Some(consultation) = record.event.consultation() {
            by_consultation.entry(consultation).or_default().push(record);
        }
    }
    grouped_tables(
        blocks,
        by_consultation,
        ("Konsultation", "dataflow"),
        &[Column::Time, Column::What, Column::Actor, Column::Artefact],
        "Ingen konsultationer i perioden.",
    );
}

/// A table per group (consultation, doctor) under a heading naming it, or `empty` if none.
fn grouped_tables(
    blocks: &mut Vec<Block>,
    groups: BTreeMap<&Id, Vec<&Record>>,
    (heading, section): (&str, &'static str),
    columns: &[Column],
    empty: &str,
) {
    if groups.is_empty() {
        blocks.push(Block::Paragraph(empty.into()));
    }
    for (id, records) in groups {
        blocks.push(Block::Heading(3, format!("{heading} {id}")));
        let rows = records.into_iter().map(event_row).collect();
        blocks.push(Block::Table(Table::new(section, columns, rows)));
    }
}

/// One artefact's life as the log tells it.
#[derive(Debug)]
struct Lifetime {
    artefact: Id,
    consultation: Option<Id>,
    created: Option<Timestamp>,
    /// The most recently promised deadline.
    deadline: Option<Timestamp>,
    deleted: Option<(Timestamp, Id)>,
    status: Status,
}

#[derive(Debug, PartialEq, Eq)]
enum Status {
    DeletedInTime,
    DeletedLate(Duration),
    DeletedWithoutDeadline,
    Held,
    HeldPastDeadline(Duration),
}

impl Status {
    fn is_violation(&self) -> bool {
        matches!(self, Status::DeletedLate(_) | Status::HeldPastDeadline(_))
    }

    fn text(&self) -> String {
        match self {
            Status::DeletedInTime => "Slettet rettidigt".into(),
            Status::DeletedLate(late) => {
                format!("OVERTRÆDELSE: slettet {} for sent", duration_text(*late))
            }
            Status::DeletedWithoutDeadline => "Slettet (ingen frist registreret)".into(),
            Status::Held => "Opbevares inden for fristen".into(),
            Status::HeldPastDeadline(late) => {
                format!("OVERTRÆDELSE: fristen er overskredet med {}, stadig opbevaret", duration_text(*late))
            }
        }
    }
}

fn millis_between(earlier: Timestamp, later: Timestamp) -> Duration {
    Duration::from_millis(later.millis().saturating_sub(earlier.millis()))
}

/// Every artefact's lifetime from the whole log up to `now`, limited to the report's scope.
fn lifetimes(records: &[Record], options: &ReportOptions) -> Vec<Lifetime> {
    let mut lifetimes: BTreeMap<Id, Lifetime> = BTreeMap::new();
    for record in records.iter().filter(|record| record.time <= options.now) {
        let consultation = record.event.consultation();
        for (artefact, deadline) in record.event.promised_deadlines() {
            let lifetime = lifetime_of(&mut lifetimes, artefact, consultation);
            lifetime.created.get_or_insert(record.time);
            lifetime.deadline = Some(deadline);
        }
        if let Some((artefacts, policy)) = record.event.deleted_artefacts() {
            for artefact in artefacts {
                let lifetime = lifetime_of(&mut lifetimes, artefact, consultation);
                lifetime.deleted.get_or_insert((record.time, policy.clone()));
            }
        }
    }
    let in_scope = |lifetime: &Lifetime| {
        options.consultation.as_ref().is_none_or(|wanted| lifetime.consultation.as_ref() == Some(wanted))
            && options.to.is_none_or(|to| lifetime.created.is_none_or(|created| created <= to))
            && options.from.is_none_or(|from| lifetime.deleted.as_ref().is_none_or(|(deleted, _)| *deleted >= from))
    };
    lifetimes
        .into_values()
        .filter(in_scope)
        .map(|mut lifetime| {
            lifetime.status = match (&lifetime.deleted, lifetime.deadline) {
                (Some((deleted, _)), Some(deadline)) if *deleted > deadline => {
                    Status::DeletedLate(millis_between(deadline, *deleted))
                }
                (Some(_), Some(_)) => Status::DeletedInTime,
                (Some(_), None) => Status::DeletedWithoutDeadline,
                (None, Some(deadline)) if options.now > deadline => {
                    Status::HeldPastDeadline(millis_between(deadline, options.now))
                }
                (None, _) => Status::Held,
            };
            lifetime
        })
        .collect()
}

fn lifetime_of<'a>(
    lifetimes: &'a mut BTreeMap<Id, Lifetime>,
    artefact: &Id,
    consultation: Option<&Id>,
) -> &'a mut Lifetime {
    lifetimes.entry(artefact.clone()).or_insert_with(|| Lifetime {
        artefact: artefact.clone(),
        consultation: consultation.cloned(),
        created: None,
        deadline: None,
        deleted: None,
        status: Status::Held,
    })
}

fn lifetime_row(lifetime: &Lifetime) -> Row {
    Row {
        time: lifetime.created.map(Timestamp::human).unwrap_or_default(),
        consultation: lifetime.consultation.as_ref().map(Id::to_string).unwrap_or_default(),
        artefact: lifetime.artefact.to_string(),
        what: lifetime.deleted.as_ref().map_or_else(
            || "Opbevares krypteret".into(),
            |(time, policy)| format!("Slettet {} UTC (politik {policy})", time.human()),
        ),
        deadline: lifetime.deadline.map(Timestamp::human).unwrap_or_default(),
        status: lifetime.status.text(),
        alert: lifetime.status.is_violation(),
        ..Row::default()
    }
}

fn retention(blocks: &mut Vec<Block>, lifetimes: &[Lifetime], violations: usize, now: Timestamp) {
    blocks.push(Block::Heading(2, "2. Overholdelse af slettefrister".into()));
    blocks.push(Block::Paragraph(format!(
        "Hver artefakt skal være slettet senest ved den seneste frist, opbevaringspolitikken lovede i loggen. \
         Bedømt pr. {} UTC: {violations} overtrædelse(r).",
        now.human()
    )));
    let columns =
        [Column::Artefact, Column::Consultation, Column::Created, Column::Deadline, Column::Fate, Column::Status];
    type Belongs = fn(&Status) -> bool;
    let groups: [(&str, &str, Belongs); 3] = [
        ("Overtrædelser", "overtraedelse", Status::is_violation),
        ("Opbevares stadig", "opbevares", |status| *status == Status::Held),
        ("Slettet", "slettet", |status| matches!(status, Status::DeletedInTime | Status::DeletedWithoutDeadline)),
    ];
    for (title, section, belongs) in groups {
        let rows: Vec<Row> = lifetimes.iter().filter(|lifetime| belongs(&lifetime.status)).map(lifetime_row).collect();
        blocks.push(Block::Heading(3, format!("{title} ({})", rows.len())));
        if rows.is_empty() {
            blocks.push(Block::Paragraph("Ingen.".into()));
        } else {
            blocks.push(Block::Table(Table::new(section, &columns, rows)));
        }
    }
}

fn access(blocks: &mut Vec<Block>, selected: &[&Record]) {
    blocks.push(Block::Heading(2, "3. Adgang pr. læge".into()));
    let mut by_doctor: BTreeMap<&Id, Vec<&Record>> = BTreeMap::new();
    let mut failed = Vec::new();
    for record in selected {
        match (&record.actor, &record.event) {
            (_, Event::LoginFailed { .. }) => failed.push(*record),
            (Actor::Doctor(doctor), _) => by_doctor.entry(doctor).or_default().push(record),
            _ => {}
        }
    }
    grouped_tables(
        blocks,
        by_doctor,
        ("Læge", "adgang"),
        &[Column::Time, Column::What, Column::Consultation, Column::Artefact],
        "Ingen lægeadgang i perioden.",
    );
    blocks.push(Block::Heading(3, format!("Mislykkede log-ind ({})", failed.len())));
    if failed.is_empty() {
        blocks.push(Block::Paragraph("Ingen.".into()));
    } else {
        let rows = failed
            .into_iter()
            .map(|record| {
                let claimed = match &record.event {
                    Event::LoginFailed { doctor: Some(doctor), .. } => format!("Angivet som læge {doctor}"),
                    _ => actor_text(&record.actor),
                };
                Row { actor: claimed, ..event_row(record) }
            })
            .collect();
        blocks.push(Block::Table(Table::new("mislykket_login", &[Column::Time, Column::What, Column::Actor], rows)));
    }
}

fn refused(blocks: &mut Vec<Block>, selected: &[&Record]) {
    let rows: Vec<Row> = selected
        .iter()
        .filter(|record| matches!(record.event, Event::ConsultationRefused { .. }))
        .map(|record| event_row(record))
        .collect();
    blocks.push(Block::Heading(2, format!("4. Afviste konsultationer ({})", rows.len())));
    if rows.is_empty() {
        blocks.push(Block::Paragraph("Ingen konsultationer blev afvist.".into()));
    } else {
        blocks.push(Block::Table(Table::new(
            "afvist",
            &[Column::Time, Column::Consultation, Column::Actor, Column::What],
            rows,
        )));
    }
}

fn system_events(blocks: &mut Vec<Block>, selected: &[&Record]) {
    let rows: Vec<Row> = selected
        .iter()
        .filter(|record| {
            record.event.consultation().is_none()
                && !matches!(record.event, Event::LoginSucceeded { .. } | Event::LoginFailed { .. })
        })
        .map(|record| event_row(record))
        .collect();
    blocks.push(Block::Heading(2, format!("5. Nøgler, sletterutiner og forskningsudtræk ({})", rows.len())));
    if rows.is_empty() {
        blocks.push(Block::Paragraph("Ingen.".into()));
    } else {
        blocks.push(Block::Table(Table::new(
            "system",
            &[Column::Time, Column::What, Column::Actor, Column::Artefact],
            rows,
        )));
    }
}

fn processing_record(blocks: &mut Vec<Block>, config: &AuditConfig, selected: &[&Record]) {
    let processing = &config.processing;
    blocks.push(Block::Heading(2, "6. Fortegnelse over behandlingsaktiviteter (GDPR art. 30)".into()));
    let mut counts: BTreeMap<Purpose, usize> = BTreeMap::new();
    for record in selected {
        *counts.entry(record.purpose).or_default() += 1;
    }
    let legal_bases = Purpose::ALL
        .iter()
        .map(|&purpose| format!("{}: {}", purpose_text(purpose), config.legal_basis.for_purpose(purpose)))
        .collect();
    let observed = Purpose::ALL
        .iter()
        .map(|&purpose| format!("{}: {}", purpose_text(purpose), counts.get(&purpose).copied().unwrap_or(0)))
        .collect();
    let fields: Vec<(&str, Vec<String>)> = vec![
        ("Dataansvarlig", vec![processing.controller.clone()]),
        ("Databeskyttelsesrådgiver", vec![processing.dpo_contact.clone()]),
        ("Formål", processing.purposes.clone()),
        ("Retsgrundlag", legal_bases),
        ("Kategorier af registrerede", processing.data_subjects.clone()),
        ("Kategorier af personoplysninger", processing.data_categories.clone()),
        ("Modtagere", processing.recipients.clone()),
        ("Overførsel til tredjelande", vec![processing.third_country_transfers.clone()]),
        ("Slettefrister", processing.retention.clone()),
        ("Tekniske og organisatoriske sikkerhedsforanstaltninger", processing.security_measures.clone()),
        ("Loggede hændelser i perioden pr. formål", observed),
    ];
    let rows = fields
        .into_iter()
        .map(|(field, values)| Row { what: field.to_owned(), items: values, ..Row::default() })
        .collect();
    blocks.push(Block::Table(Table::new("art30", &[Column::Field, Column::Items], rows)));
}

impl FromStr for ReportFormat {
    type Err = AuditError;
    fn from_str(text: &str) -> Result<ReportFormat, AuditError> {
        match text.to_ascii_lowercase().as_str() {
            "md" | "markdown" => Ok(ReportFormat::Markdown),
            "html" => Ok(ReportFormat::Html),
            "csv" => Ok(ReportFormat::Csv),
            _ => Err(AuditError::Config("report format must be md, html or csv".into())),
        }
    }
}
