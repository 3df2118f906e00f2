//! The whole of `autonotar audit verify | report | checkpoint | public-key`: each function takes the
//! command-line values as given and returns what to print and whether to exit with success.

use std::fs;
use std::path::Path;

use crate::report::{Report, ReportFormat, ReportOptions};
use crate::{
    AuditConfig, AuditError, AuditKey, Id, PublicKey, Result, Timestamp, Trust, Verification, VerifyOptions,
    read_checkpoints, read_checkpoints_if_present,
};

/// What a command prints, and whether it succeeded (exit code 0) or found a problem (non-zero).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandOutput {
    pub text: String,
    pub ok: bool,
}

/// The audit key must already exist: a fresh key could verify nothing.
fn existing_key(config: &AuditConfig, data_dir: &Path) -> Result<AuditKey> {
    AuditKey::load(&config.key_path(data_dir)?)
}

fn parse_time(text: Option<&str>) -> Result<Option<Timestamp>> {
    text.map(Timestamp::parse).transpose()
}

/// The options of `autonotar audit verify`, as typed on the command line.
#[derive(Clone, Debug, Default)]
pub struct VerifyArgs<'a> {
    pub from: Option<&'a str>,
    /// A checkpoint file exported earlier (one or more lines), checked besides the automatic one.
    pub checkpoint: Option<&'a Path>,
    /// Verify with the public key (its 64 hex digits, or a file holding them) instead of the
    /// audit key, which then need not be on this machine.
    pub public_key: Option<&'a str>,
}

/// `autonotar audit verify [--from DATE] [--checkpoint FILE] [--public-key KEY|FILE]`: prints
/// `OK: N records, head H`, or `FAIL: ` and the first bad record with what is wrong. The
/// automatic checkpoint file (`[audit] checkpoint_file`) is checked whenever it exists.
pub fn verify_command(config: &AuditConfig, data_dir: &Path, args: &VerifyArgs<'_>) -> Result<CommandOutput> {
    let mut checkpoints = read_checkpoints_if_present(&config.checkpoint_path(data_dir))?;
    if let Some(path) = args.checkpoint {
        checkpoints.extend(read_checkpoints(path)?);
    }
    let options = VerifyOptions { from: parse_time(args.from)?, checkpoints };
    let dir = config.log_dir(data_dir);
    let verification = match args.public_key {
        Some(given) => crate::verify(&dir, Trust::Public(&public_key_from(given)?), &options)?,
        None => crate::verify(&dir, &existing_key(config, data_dir)?, &options)?,
    };
    Ok(match verification {
        Verification::Intact { records, checked, head } => {
            let since = options.from.map(|from| format!(" ({checked} since {from})")).unwrap_or_default();
            let vouched = match options.checkpoints.len() {
                0 => String::new(),
                count => format!(", checked against {count} checkpoints"),
            };
            CommandOutput { text: format!("OK: {records} records{since}, head {head}{vouched}"), ok: true }
        }
        Verification::Broken(fault) => CommandOutput { text: format!("FAIL: {fault}"), ok: false },
    })
}

/// A public key given on the command line: a file holding it, or the hex digits themselves.
fn public_key_from(given: &str) -> Result<PublicKey> {
    let path = Path::new(given);
    if path.is_file() {
        PublicKey::parse(&fs::read_to_string(path).map_err(AuditError::io("reading public key", path))?)
    } else {
        PublicKey::parse(given)
    }
}

/// `autonotar audit public-key`: the 64 hex digits to give the DPO for `verify --public-key`.
pub fn public_key_command(config: &AuditConfig, data_dir: &Path) -> Result<CommandOutput> {
    Ok(CommandOutput { text: existing_key(config, data_dir)?.public_key().to_string(), ok: true })
}

/// `autonotar audit checkpoint OUT`: verifies the log, then writes a signed checkpoint of its
/// head to `out`, to be kept where the log's writers cannot reach (and given to
/// `verify --checkpoint` later).
pub fn checkpoint_command(config: &AuditConfig, data_dir: &Path, out: &Path) -> Result<CommandOutput> {
    let key = existing_key(config, data_dir)?;
    match crate::verify(&config.log_dir(data_dir), &key, &VerifyOptions::default())? {
        Verification::Intact { records, head, .. } => {
            let checkpoint = crate::Checkpoint::sign(&key, records, head, Timestamp::now());
            fs::write(out, checkpoint.to_json() + "\n").map_err(AuditError::io("writing checkpoint", out))?;
            Ok(CommandOutput {
                text: format!(
                    "Checkpoint of {records} records, head {}, written to {}",
                    checkpoint.head,
                    out.display()
                ),
                ok: true,
            })
        }
        Verification::Broken(fault) => {
            Ok(CommandOutput { text: format!("FAIL: no checkpoint written, the log is broken: {fault}"), ok: false })
        }
    }
}

/// The options of `autonotar audit report`, as typed on the command line.
#[derive(Clone, Debug, Default)]
pub struct ReportArgs<'a> {
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
    pub consultation: Option<&'a str>,
    /// `md` (default), `html` or `csv`.
    pub format: Option<&'a str>,
    /// Judge deadlines as of this time instead of now (a simulated clock).
    pub now: Option<&'a str>,
}

/// `autonotar audit report [--from] [--to] [--consultation ID] [--format md|html|csv]`: renders
/// the DPO report from the log files alone. Not ok when the log fails verification or a
/// retention deadline was missed, so a scheduled run can alert.
pub fn report_command(config: &AuditConfig, data_dir: &Path, args: &ReportArgs<'_>) -> Result<CommandOutput> {
    let format: ReportFormat = args.format.unwrap_or("md").parse()?;
    let options = ReportOptions {
        from: parse_time(args.from)?,
        to: parse_time(args.to)?,
        consultation: args.consultation.map(Id::new).transpose()?,
        now: parse_time(args.now)?.unwrap_or_else(Timestamp::now),
    };
    let key = existing_key(config, data_dir)?;
    let dir = config.log_dir(data_dir);
    let integrity = crate::verify(&dir, &key, &VerifyOptions::default())?;
    let (records, unreadable) = crate::read_records(&dir)?;
    let report = Report::build(&records, unreadable, &integrity, config, &options);
    Ok(CommandOutput { text: report.render(format), ok: report.log_intact() && report.violations() == 0 })
}
