//! The files a run leaves in its output directory: `results.json`, `per_consultation.csv`,
//! `report.md`, `report.html` and the SVG plots they show.
//!
//! Both reports are rendered from one document model, so they always say the same thing.

use std::fmt::Write as _;

use plotters::prelude::*;
use transcript::Role;

use crate::note::Section;
use crate::out_dir::{OutDir, RunError};
use crate::record::ConsultationResult;
use crate::results::{RunResults, per_consultation_csv};
use crate::speed::Summary;

enum Block {
    Heading(String),
    Paragraph(String),
    Table {
        head: Vec<String>,
        rows: Vec<Vec<String>>,
    },
    /// A plot: its file under the output directory and its SVG text (inlined in HTML).
    Plot {
        file: String,
        title: String,
        svg: String,
    },
    List(Vec<String>),
}

const PRIVACY: &str = "Privacy: this directory holds the consultations' transcripts and draft notes in plaintext \
(transcripts/, alignments/, notes/, results.json). The harness wrote nothing outside it, not even temporary \
files. Store and delete it under the same rules as the corpus it was made from.";

fn percent(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_string(), |v| format!("{:.1} %", v * 100.0))
}

fn seconds(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_string(), |v| format!("{v:.2} s"))
}

fn plain(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_string(), |v| format!("{v:.3}"))
}

fn mebibytes(bytes: Option<f64>) -> String {
    bytes.map_or_else(|| "–".to_string(), |b| format!("{:.0} MiB", b / 1_048_576.0))
}

/// A row of the per-consultation distribution table: name, summary, how to show a value.
type Distribution = (&'static str, Option<Summary>, fn(Option<f64>) -> String);

fn summary_cells(summary: Option<Summary>, format: fn(Option<f64>) -> String) -> Vec<String> {
    match summary {
        Some(s) => vec![format(Some(s.mean)), format(Some(s.p50)), format(Some(s.p95)), s.count.to_string()],
        None => vec!["–".into(), "–".into(), "–".into(), "0".into()],
    }
}

fn row(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|c| c.to_string()).collect()
}

/// A bar chart of labelled values; `None` when there is nothing to draw. With many bars, each
/// label is shortened to its first part (`c01-ondt-i-halsen` → `c01`) so they stay legible;
/// the tables beside the plot carry the full names.
fn bar_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    labels: &[String],
    values: &[f64],
) -> Result<Option<String>, String> {
    if values.is_empty() {
        return Ok(None);
    }
    let labels: Vec<&str> = if labels.len() > 10 {
        labels.iter().map(|l| l.split('-').next().unwrap_or(l)).collect()
    } else {
        labels.iter().map(String::as_str).collect()
    };
    let top = values.iter().copied().fold(0.0_f64, f64::max);
    let y_max = if top > 0.0 { top * 1.1 } else { 1.0 };
    let mut svg = String::new();
    {
        // Wide enough for every bar's label up to ~90 bars; beyond that plotters labels a subset.
        let width = (120 + 26 * values.len() as u32).clamp(860, 2400);
        let root = SVGBackend::with_string(&mut svg, (width, 420)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(70)
            .y_label_area_size(60)
            // An integer range is inclusive in plotters: 0..n-1 gives exactly n bars.
            .build_cartesian_2d((0..values.len() - 1).into_segmented(), 0.0..y_max)
            .map_err(|e| e.to_string())?;
        let label_of = |value: &SegmentValue<usize>| match value {
            SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => {
                labels.get(*i).map(|l| l.to_string()).unwrap_or_default()
            }
            SegmentValue::Last => String::new(),
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(values.len().min(90))
            .x_label_formatter(&label_of)
            .x_desc(x_label)
            .y_desc(y_label)
            .draw()
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(
                Histogram::vertical(&chart)
                    .style(RGBColor(52, 101, 164).filled())
                    .margin(6)
                    .data(values.iter().enumerate().map(|(i, v)| (i, *v))),
            )
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(Some(svg))
}

/// Counts of `values` in ten equal bins from the smallest to the largest, with bin labels.
fn histogram_bins(values: &[f64]) -> (Vec<String>, Vec<f64>) {
    let (low, high) = values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(*v), h.max(*v)));
    if values.is_empty() {
        return (Vec::new(), Vec::new());
    }
    let bins = if high > low { 10 } else { 1 };
    let width = if high > low { (high - low) / bins as f64 } else { 1.0 };
    let mut counts = vec![0.0; bins];
    for v in values {
        let bin = (((v - low) / width) as usize).min(bins - 1);
        counts[bin] += 1.0;
    }
    // Each bin is labelled with its lower edge, with enough decimals to tell neighbours apart.
    let decimals = ((-width.log10()).ceil() as i64 + 1).clamp(1, 6) as usize;
    let labels = (0..bins).map(|b| format!("{:.decimals$}", low + b as f64 * width)).collect();
    (labels, counts)
}

fn plot(
    blocks: &mut Vec<Block>,
    file: &str,
    title: &str,
    chart: Result<Option<String>, String>,
) -> Result<(), RunError> {
    let path = std::path::PathBuf::from(file);
    match chart.map_err(|reason| RunError::Plot { path, reason })? {
        Some(svg) => blocks.push(Block::Plot { file: file.to_string(), title: title.to_string(), svg }),
        None => blocks.push(Block::Paragraph(format!("{title}: no data in this run."))),
    }
    Ok(())
}

fn header_blocks(results: &RunResults, blocks: &mut Vec<Block>) {
    let h = &results.header;
    blocks.push(Block::Heading(format!("Evaluation of {}", h.corpus.name)));
    blocks.push(Block::Paragraph(PRIVACY.to_string()));
    let status = if h.complete {
        "complete".to_string()
    } else {
        format!(
            "interrupted: {} consultation(s) not yet evaluated; run again with the same --out to resume",
            results.pending.len()
        )
    };
    let mut rows = vec![
        row(&["Status", &status]),
        row(&["Git revision", h.git_revision.as_deref().unwrap_or("unknown (not a git checkout)")]),
        row(&["Pipeline", &h.pipeline]),
        row(&[
            "Corpus",
            &format!(
                "{} ({} consultations), {} sha256 {}",
                h.corpus.name,
                h.corpus.consultations,
                h.corpus.manifest.display(),
                h.corpus.manifest_sha256
            ),
        ]),
        row(&["Stages", &format!("{}{}", h.stages, if h.streaming { ", streaming and offline" } else { ", offline" })]),
        row(&["Seed", &h.seed.to_string()]),
        row(&["Jobs", &h.jobs.to_string()]),
        row(&[
            "Config",
            &h.config.as_ref().map_or_else(
                || "defaults".to_string(),
                |c| {
                    format!(
                        "{} sha256 {}",
                        c.path.as_ref().map_or_else(|| "(given inline)".to_string(), |p| p.display().to_string()),
                        c.sha256
                    )
                },
            ),
        ]),
    ];
    for model in &h.models {
        rows.push(row(&[
            "Model file",
            &format!("{} ({} bytes) sha256 {}", model.path.display(), model.bytes, model.sha256),
        ]));
    }
    let m = &h.machine;
    rows.push(row(&[
        "Machine",
        &format!(
            "{}, {} cores, {} GiB memory, Linux {}",
            m.cpu_model.as_deref().unwrap_or("unknown CPU"),
            m.cores,
            m.memory_bytes.map_or_else(|| "?".to_string(), |b| format!("{:.1}", b as f64 / 1_073_741_824.0)),
            m.kernel.as_deref().unwrap_or("?")
        ),
    ]));
    rows.push(row(&["Started", &h.started]));
    rows.push(row(&["Finished", h.finished.as_deref().unwrap_or("–")]));
    rows.push(row(&["Harness", &format!("eval {}", h.harness_version)]));
    if let Some(description) = &h.corpus.description {
        rows.insert(4, row(&["Corpus description", description]));
    }
    blocks.push(Block::Heading("Reproducibility".into()));
    blocks.push(Block::Table { head: row(&["Recorded", "Value"]), rows });
}

fn summary_blocks(results: &RunResults, blocks: &mut Vec<Block>) {
    let s = &results.summary;
    blocks.push(Block::Heading("Summary".into()));
    blocks.push(Block::Paragraph(format!(
        "{} consultation(s) evaluated, {} failed, {} pending. Error rates and fact recall are over the whole corpus \
         (all errors over all reference words); other scores are summarised over consultations.",
        s.evaluated,
        s.failed,
        results.pending.len()
    )));
    let mut rows = vec![row(&["WER", &percent(s.wer)]), row(&["CER", &percent(s.cer)])];
    for (role, wer) in &s.wer_by_speaker {
        rows.push(row(&[&format!("WER, {}", role.danish()), &percent(Some(*wer))]));
    }
    rows.extend([
        row(&["Streaming vs. offline WER", &percent(s.streaming_vs_offline_wer)]),
        row(&["Fact recall", &percent(s.fact_recall)]),
        row(&["Section placement", &percent(s.section_placement)]),
        row(&["Statement precision", &percent(s.statement_precision)]),
        row(&["Unsupported statements", &format!("{} of {}", s.unsupported_statements, s.statements)]),
    ]);
    blocks.push(Block::Table { head: row(&["Metric", "Value"]), rows });
    let distributions: [Distribution; 8] = [
        ("WER per consultation", s.wer_per_consultation, percent),
        ("Streaming − offline WER", s.streaming_wer_difference, percent),
        ("ROUGE-1 F1", s.rouge1_f1, plain),
        ("ROUGE-2 F1", s.rouge2_f1, plain),
        ("ROUGE-L F1", s.rouge_l_f1, plain),
        ("Real-time factor", s.real_time_factor, plain),
        ("Hang-up to draft", s.hangup_to_draft_seconds, seconds),
        ("Peak memory", s.peak_memory_bytes, mebibytes),
    ];
    let rows = distributions
        .into_iter()
        .map(|(name, summary, format)| {
            let mut cells = vec![name.to_string()];
            cells.extend(summary_cells(summary, format));
            cells
        })
        .collect();
    blocks.push(Block::Table { head: row(&["Per consultation", "mean", "p50", "p95", "n"]), rows });
    let rows = s
        .by_topic
        .iter()
        .map(|(topic, t)| {
            vec![
                topic.clone(),
                t.consultations.to_string(),
                percent(t.wer),
                percent(t.fact_recall),
                percent(t.statement_precision),
            ]
        })
        .collect();
    blocks.push(Block::Table { head: row(&["Topic", "n", "WER", "Fact recall", "Statement precision"]), rows });
}

fn transcription_blocks(ok: &[&ConsultationResult], blocks: &mut Vec<Block>) -> Result<(), RunError> {
    blocks.push(Block::Heading("Transcription".into()));
    blocks.push(Block::Paragraph(
        "After the Danish normaliser (eval/README.md). S, D, I: substitutions, deletions, insertions; N: reference words. \
         Word alignments are in alignments/<id>.txt."
            .into(),
    ));
    let scored: Vec<&&ConsultationResult> = ok.iter().filter(|c| c.transcription.is_some()).collect();
    let rows = scored
        .iter()
        .filter_map(|c| {
            let t = c.transcription.as_ref()?;
            let w = t.overall.words;
            let speaker = |role| percent(t.by_speaker.get(&role).and_then(|r| r.wer()));
            Some(vec![
                c.id.clone(),
                percent(t.overall.wer()),
                percent(t.overall.cer()),
                w.substitutions.to_string(),
                w.deletions.to_string(),
                w.insertions.to_string(),
                w.reference_len.to_string(),
                speaker(Role::Doctor),
                speaker(Role::Patient),
                speaker(Role::Other),
                percent(c.streaming.as_ref().and_then(|s| s.wer_difference)),
            ])
        })
        .collect();
    blocks.push(Block::Table {
        head: row(&[
            "Consultation",
            "WER",
            "CER",
            "S",
            "D",
            "I",
            "N",
            "Læge",
            "Patient",
            "Anden",
            "Streaming − offline",
        ]),
        rows,
    });
    let labels: Vec<String> = scored.iter().map(|c| c.id.clone()).collect();
    let values: Vec<f64> = scored.iter().filter_map(|c| c.transcription.as_ref()?.overall.wer()).collect();
    plot(
        blocks,
        "plots/wer_per_consultation.svg",
        "WER per consultation",
        bar_chart("WER per consultation", "consultation", "WER", &labels, &values),
    )
}

fn note_blocks(results: &RunResults, ok: &[&ConsultationResult], blocks: &mut Vec<Block>) -> Result<(), RunError> {
    blocks.push(Block::Heading("Note".into()));
    let by_section = &results.summary.fact_recall_by_section;
    let rows = by_section
        .iter()
        .map(|(section, ratio)| {
            vec![section.heading().to_string(), format!("{} of {}", ratio.hits, ratio.total), percent(ratio.value())]
        })
        .collect();
    blocks.push(Block::Table { head: row(&["Section", "Facts found in the section", "Recall"]), rows });
    let (labels, values): (Vec<String>, Vec<f64>) =
        Section::ALL.iter().filter_map(|s| Some((s.heading().to_string(), by_section.get(s)?.value()?))).unzip();
    plot(
        blocks,
        "plots/fact_recall_by_section.svg",
        "Fact recall per section",
        bar_chart("Fact recall per section", "section", "recall", &labels, &values),
    )?;
    let rows = ok
        .iter()
        .filter_map(|c| {
            let n = c.note.as_ref()?;
            let rouge = |pick: fn(&crate::note::Rouge) -> f64| plain(n.rouge.as_ref().map(pick));
            Some(vec![
                c.id.clone(),
                percent(n.fact_recall.and_then(|r| r.value())),
                percent(n.section_placement.and_then(|r| r.value())),
                percent(n.statement_support.value()),
                n.unsupported.len().to_string(),
                rouge(|r| r.rouge1.f1),
                rouge(|r| r.rouge2.f1),
                rouge(|r| r.rouge_l.f1),
            ])
        })
        .collect();
    blocks.push(Block::Table {
        head: row(&[
            "Consultation",
            "Fact recall",
            "Placement",
            "Statement precision",
            "Unsupported",
            "ROUGE-1",
            "ROUGE-2",
            "ROUGE-L",
        ]),
        rows,
    });
    let unsupported: Vec<String> = ok
        .iter()
        .filter_map(|c| Some((c, c.note.as_ref()?)))
        .flat_map(|(c, n)| {
            n.unsupported.iter().map(move |u| format!("{} — {}: \"{}\" ({})", c.id, u.heading, u.text, u.reason))
        })
        .collect();
    if !unsupported.is_empty() {
        blocks.push(Block::Paragraph("Unsupported statements (eval/README.md gives the rule):".into()));
        blocks.push(Block::List(unsupported));
    }
    Ok(())
}

fn speed_blocks(ok: &[&ConsultationResult], streaming: bool, blocks: &mut Vec<Block>) -> Result<(), RunError> {
    blocks.push(Block::Heading("Speed and memory".into()));
    blocks.push(Block::Paragraph(
        "Real-time factor: transcription wall time over audio length. Hang-up to draft: transcription time after the \
         end of the audio plus drafting time. Peak memory is the process's peak resident size during the consultation; \
         with more than one job it is shared by the consultations running at once (an upper bound)."
            .into(),
    ));
    if streaming {
        // The streaming numbers measure a replay, not a batch job: say so where they are read.
        blocks.push(Block::Paragraph(
            "Streaming: real-time factor and hang-up to draft are those of the streaming path. Replayed to the live \
             service, transcription lasts as long as the replay at the pace the header's pipeline names, so its \
             real-time factor is about one over that pace plus the finalising, not the recogniser's speed (the offline \
             path's is streaming.offline_real_time_factor in results.json); hang-up to draft runs from the replay's \
             stop to the service's draft_ready, plus drafting."
                .into(),
        ));
    }
    let rows = ok
        .iter()
        .map(|c| {
            let s = &c.speed;
            vec![
                c.id.clone(),
                seconds(Some(s.audio_seconds)),
                seconds(Some(s.transcribe_seconds)),
                plain(s.real_time_factor),
                seconds(s.draft_seconds),
                seconds(s.hangup_to_draft_seconds),
                mebibytes(s.peak_memory_bytes.map(|b| b as f64)),
            ]
        })
        .collect();
    blocks.push(Block::Table {
        head: row(&["Consultation", "Audio", "Transcription", "RTF", "Drafting", "Hang-up to draft", "Peak memory"]),
        rows,
    });
    let latencies: Vec<f64> = ok.iter().filter_map(|c| c.speed.hangup_to_draft_seconds).collect();
    let (labels, counts) = histogram_bins(&latencies);
    plot(
        blocks,
        "plots/latency_distribution.svg",
        "Hang-up to draft latency (seconds)",
        bar_chart("Hang-up to draft latency", "seconds (lower edge of each bin)", "consultations", &labels, &counts),
    )
}

fn document(results: &RunResults) -> Result<Vec<Block>, RunError> {
    let mut blocks = Vec::new();
    header_blocks(results, &mut blocks);
    summary_blocks(results, &mut blocks);
    let ok: Vec<&ConsultationResult> = results.consultations.iter().filter(|c| c.error.is_none()).collect();
    transcription_blocks(&ok, &mut blocks)?;
    note_blocks(results, &ok, &mut blocks)?;
    speed_blocks(&ok, results.header.streaming, &mut blocks)?;
    let failed: Vec<String> =
        results.consultations.iter().filter_map(|c| Some(format!("{}: {}", c.id, c.error.as_ref()?))).collect();
    if !failed.is_empty() {
        blocks.push(Block::Heading("Failed consultations".into()));
        blocks.push(Block::List(failed));
    }
    if !results.pending.is_empty() {
        blocks.push(Block::Heading("Not yet evaluated (run interrupted)".into()));
        blocks.push(Block::List(results.pending.clone()));
    }
    Ok(blocks)
}

fn markdown_cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn to_markdown(blocks: &[Block]) -> String {
    let mut out = String::new();
    for (index, block) in blocks.iter().enumerate() {
        match block {
            Block::Heading(text) if index == 0 => {
                let _ = writeln!(out, "# {text}\n");
            }
            Block::Heading(text) => {
                let _ = writeln!(out, "## {text}\n");
            }
            Block::Paragraph(text) => {
                let _ = writeln!(out, "{text}\n");
            }
            Block::Table { head, rows } => {
                let _ = writeln!(out, "| {} |", head.iter().map(|h| markdown_cell(h)).collect::<Vec<_>>().join(" | "));
                let _ = writeln!(out, "|{}", "---|".repeat(head.len()));
                for r in rows {
                    let _ = writeln!(out, "| {} |", r.iter().map(|c| markdown_cell(c)).collect::<Vec<_>>().join(" | "));
                }
                out.push('\n');
            }
            Block::Plot { file, title, .. } => {
                let _ = writeln!(out, "![{title}]({file})\n");
            }
            Block::List(items) => {
                for item in items {
                    let _ = writeln!(out, "- {}", item.replace('\n', " "));
                }
                out.push('\n');
            }
        }
    }
    out
}

fn to_html(blocks: &[Block]) -> String {
    let mut out = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Evaluation report</title>\n<style>\
         body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}\
         table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}\
         th{background:#f3f3f3}figure{margin:1em 0}</style>\n</head>\n<body>\n",
    );
    for (index, block) in blocks.iter().enumerate() {
        match block {
            Block::Heading(text) => {
                let level = if index == 0 { 1 } else { 2 };
                let _ = writeln!(out, "<h{level}>{}</h{level}>", escape::html(text));
            }
            Block::Paragraph(text) => {
                let _ = writeln!(out, "<p>{}</p>", escape::html(text));
            }
            Block::Table { head, rows } => {
                out.push_str("<table>\n<tr>");
                for h in head {
                    let _ = write!(out, "<th>{}</th>", escape::html(h));
                }
                out.push_str("</tr>\n");
                for r in rows {
                    out.push_str("<tr>");
                    for c in r {
                        let _ = write!(out, "<td>{}</td>", escape::html(c));
                    }
                    out.push_str("</tr>\n");
                }
                out.push_str("</table>\n");
            }
            Block::Plot { title, svg, .. } => {
                let _ = writeln!(out, "<figure>{svg}<figcaption>{}</figcaption></figure>", escape::html(title));
            }
            Block::List(items) => {
                out.push_str("<ul>\n");
                for item in items {
                    let _ = writeln!(out, "<li>{}</li>", escape::html(item));
                }
                out.push_str("</ul>\n");
            }
        }
    }
    out.push_str("</body>\n</html>\n");
    out
}

/// Writes every output file of a run from its results.
pub(crate) fn write_all(out: &OutDir, results: &RunResults) -> Result<(), RunError> {
    out.write_json("results.json", results)?;
    out.write("per_consultation.csv", per_consultation_csv(&results.consultations).as_bytes())?;
    let blocks = document(results)?;
    for block in &blocks {
        if let Block::Plot { file, svg, .. } = block {
            out.write(file, svg.as_bytes())?;
        }
    }
    out.write("report.md", to_markdown(&blocks).as_bytes())?;
    out.write("report.html", to_html(&blocks).as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_bins_by_hand() {
        // 1..=5 → ten bins of width 0.4 from 1.0: 1 in bin 0, 2 in bin 2, 3 in bin 5, 4 in
        // bin 7, 5 (the maximum) in the last bin.
        let (labels, counts) = histogram_bins(&[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(counts, [1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0]);
        assert_eq!(labels[..2], ["1.00", "1.40"]);
        let (labels, counts) = histogram_bins(&[2.0, 2.0]);
        assert_eq!((labels.len(), counts), (1, vec![2.0]));
        assert!(histogram_bins(&[]).0.is_empty());
    }

    #[test]
    fn bar_chart_writes_svg_text_without_system_fonts() {
        let svg =
            bar_chart("WER", "consultation", "WER", &["c01".into(), "c02".into()], &[0.1, 0.25]).unwrap().unwrap();
        assert!(svg.starts_with("<svg"), "{svg}");
        // The SVG backend writes labels as <text> for the viewer to lay out: no font files needed.
        assert!(svg.contains("\nc01\n</text>") && svg.contains("\nWER\n</text>"), "{svg}");
        assert_eq!(bar_chart("x", "x", "y", &[], &[]).unwrap(), None);
        assert!(bar_chart("one", "x", "y", &["c01".into()], &[0.5]).unwrap().is_some());
    }
}
