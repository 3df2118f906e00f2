//! `autonotar link`: the signed, single-use, expiring address the practice system's button opens
//! to bring a doctor into the review app.

use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};
use clap::Args;

use crate::config::{Config, Paths};

/// Longer-lived links would outlast the working day they are made for.
const MAX_TTL: Duration = Duration::from_secs(24 * 3600);

#[derive(Args)]
pub struct LinkArgs {
    /// The doctor's id as the practice system knows it (letters, digits, - _ . :).
    #[arg(long, value_name = "ID")]
    doctor: String,
    /// Open this consultation's draft straight away instead of the day's list.
    #[arg(long, value_name = "ID")]
    consultation: Option<String>,
    /// How long the link works, e.g. 10m, 1h (at most 24h). It works once.
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = humantime::parse_duration)]
    ttl: Duration,
}

pub fn run(args: LinkArgs, config: &Config, paths: &Paths) -> anyhow::Result<ExitCode> {
    if args.ttl.is_zero() || args.ttl > MAX_TTL {
        bail!("--ttl must be between 1s and 24h");
    }
    let doctor = audit::Id::new(&args.doctor).context("--doctor is not a valid id")?;
    let consultation = args.consultation.map(audit::Id::new).transpose().context("--consultation is not a valid id")?;
    let secret = review::LinkSecret::load_or_create(&review::LinkSecret::path_for(&paths.data_dir))?;
    let url = review::sign_link(
        &secret,
        &config.server.public_url()?,
        &doctor,
        consultation.as_ref(),
        SystemTime::now(),
        args.ttl,
    )?;
    println!("{url}");
    Ok(ExitCode::SUCCESS)
}
