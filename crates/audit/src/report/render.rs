//! One document model, three renderings: Markdown, self-contained HTML, and CSV (every table in
//! one rectangular sheet, a column naming the section).

/// The report's output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportFormat {
    Markdown,
    Html,
    Csv,
}

#[derive(Debug)]
pub(super) enum Block {
    Heading(u8, String),
    Paragraph(String),
    Table(Table),
}

#[derive(Debug)]
pub(super) struct Table {
    /// Machine name of the section, for the CSV.
    section: &'static str,
    columns: Vec<Column>,
    rows: Vec<Row>,
}

impl Table {
    pub fn new(section: &'static str, columns: &[Column], rows: Vec<Row>) -> Table {
        Table { section, columns: columns.to_vec(), rows }
    }
}

/// Everything a row of any table may show; each table picks its columns.
#[derive(Debug, Default)]
pub(super) struct Row {
    pub time: String,
    pub consultation: String,
    pub artefact: String,
    pub actor: String,
    pub what: String,
    /// The event's `type` as in the log, for machine filtering of the CSV.
    pub kind: &'static str,
    pub deadline: String,
    pub status: String,
    pub items: Vec<String>,
    /// Highlight the row (a violation).
    pub alert: bool,
}

#[derive(Clone, Copy, Debug)]
pub(super) enum Column {
    Time,
    Created,
    Consultation,
    Artefact,
    Actor,
    What,
    Kind,
    /// What became of an artefact (deleted when, under which policy; or still held).
    Fate,
    Field,
    Deadline,
    Status,
    Items,
}

impl Column {
    fn heading(self) -> &'static str {
        match self {
            Column::Time => "Tidspunkt (UTC)",
            Column::Created => "Oprettet (UTC)",
            Column::Consultation => "Konsultation",
            Column::Artefact => "Artefakt",
            Column::Actor => "Aktør",
            Column::What => "Hændelse",
            Column::Fate => "Sletning",
            Column::Kind => "Type",
            Column::Field => "Felt",
            Column::Deadline => "Slettefrist (UTC)",
            Column::Status => "Status",
            Column::Items => "Indhold",
        }
    }

    fn cell(self, row: &Row) -> Vec<&str> {
        let text = match self {
            Column::Time | Column::Created => &row.time,
            Column::Consultation => &row.consultation,
            Column::Artefact => &row.artefact,
            Column::Actor => &row.actor,
            Column::What | Column::Fate | Column::Field => &row.what,
            Column::Deadline => &row.deadline,
            Column::Kind => return vec![row.kind],
            Column::Status => &row.status,
            Column::Items => return row.items.iter().map(String::as_str).collect(),
        };
        vec![text.as_str()]
    }
}

pub(super) fn render(blocks: &[Block], format: ReportFormat) -> String {
    match format {
        ReportFormat::Markdown => markdown(blocks),
        ReportFormat::Html => html(blocks),
        ReportFormat::Csv => csv(blocks),
    }
}

fn markdown(blocks: &[Block]) -> String {
    let cell = |parts: Vec<&str>| {
        parts.iter().map(|part| part.replace('|', "\\|").replace('\n', " ")).collect::<Vec<_>>().join("<br>")
    };
    let mut out = String::new();
    for block in blocks {
        match block {
            Block::Heading(level, text) => out.push_str(&format!("{} {text}\n\n", "#".repeat(usize::from(*level)))),
            Block::Paragraph(text) => out.push_str(&format!("{text}\n\n")),
            Block::Table(table) => {
                let headings: Vec<&str> = table.columns.iter().map(|column| column.heading()).collect();
                out.push_str(&format!("| {} |\n", headings.join(" | ")));
                out.push_str(&format!("|{}\n", " --- |".repeat(headings.len())));
                for row in &table.rows {
                    let cells: Vec<String> = table.columns.iter().map(|column| cell(column.cell(row))).collect();
                    out.push_str(&format!("| {} |\n", cells.join(" | ")));
                }
                out.push('\n');
            }
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:75em;padding:0 1em;color:#222}\
table{border-collapse:collapse;margin:0.5em 0 1.5em;width:100%}\
th,td{border:1px solid #bbb;padding:0.3em 0.6em;text-align:left;vertical-align:top}\
th{background:#eee}td:first-child{white-space:nowrap}tr.alert td{background:#fdd;font-weight:bold}\
h2{border-bottom:2px solid #444;margin-top:2em}@media print{h2{page-break-before:auto}}";

fn html(blocks: &[Block]) -> String {
    let title = blocks
        .iter()
        .find_map(|block| match block {
            Block::Heading(1, text) => Some(text.as_str()),
            _ => None,
        })
        .unwrap_or("Auditrapport");
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"da\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        escape::html(title)
    );
    for block in blocks {
        match block {
            Block::Heading(level, text) => out.push_str(&format!("<h{level}>{}</h{level}>\n", escape::html(text))),
            Block::Paragraph(text) => out.push_str(&format!("<p>{}</p>\n", escape::html(text))),
            Block::Table(table) => {
                out.push_str("<table>\n<tr>");
                for column in &table.columns {
                    out.push_str(&format!("<th>{}</th>", escape::html(column.heading())));
                }
                out.push_str("</tr>\n");
                for row in &table.rows {
                    out.push_str(if row.alert { "<tr class=\"alert\">" } else { "<tr>" });
                    for column in &table.columns {
                        let parts: Vec<String> = column.cell(row).into_iter().map(escape::html).collect();
                        out.push_str(&format!("<td>{}</td>", parts.join("<br>")));
                    }
                    out.push_str("</tr>\n");
                }
                out.push_str("</table>\n");
            }
        }
    }
    out.push_str("</body>\n</html>\n");
    out
}

/// The columns of the CSV sheet, after `afsnit` (section).
const CSV_COLUMNS: [(Column, &str); 9] = [
    (Column::Time, "tidspunkt_utc"),
    (Column::Consultation, "konsultation"),
    (Column::Artefact, "artefakt"),
    (Column::Actor, "aktoer"),
    (Column::What, "haendelse"),
    (Column::Kind, "type"),
    (Column::Deadline, "slettefrist_utc"),
    (Column::Status, "status"),
    (Column::Items, "indhold"),
];

fn csv(blocks: &[Block]) -> String {
    // The byte-order mark lets spreadsheet programs read æ, ø and å as UTF-8.
    let mut out = String::from("\u{feff}afsnit");
    for (_, name) in CSV_COLUMNS {
        out.push(',');
        out.push_str(name);
    }
    out.push_str("\r\n");
    for block in blocks {
        let Block::Table(table) = block else { continue };
        for row in &table.rows {
            out.push_str(table.section);
            for (column, _) in CSV_COLUMNS {
                out.push(',');
                out.push_str(&escape::csv_field(&column.cell(row).join("; ")));
            }
            out.push_str("\r\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Block> {
        let row =
            Row { what: "a|b, \"c\" <d>".into(), items: vec!["x".into(), "y".into()], alert: true, ..Row::default() };
        vec![
            Block::Heading(1, "Titel".into()),
            Block::Table(Table::new("demo", &[Column::What, Column::Items], vec![row])),
        ]
    }

    #[test]
    fn each_format_escapes_its_special_characters() {
        let markdown = render(&sample(), ReportFormat::Markdown);
        assert!(markdown.contains(r#"| a\|b, "c" <d> | x<br>y |"#), "{markdown}");
        let html = render(&sample(), ReportFormat::Html);
        assert!(
            html.contains("<tr class=\"alert\"><td>a|b, &quot;c&quot; &lt;d&gt;</td><td>x<br>y</td></tr>"),
            "{html}"
        );
        let csv = render(&sample(), ReportFormat::Csv);
        assert!(csv.contains("demo,,,,,\"a|b, \"\"c\"\" <d>\",,,,x; y\r\n"), "{csv}");
    }
}
