//! Command-line parsing (CONTRACT §3) and dispatch. Flags override the configuration file,
//! which overrides built-in defaults.

use crate::config::{Config, ProcessEnv};
use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use loginwatch_gen::score;
use loginwatch_model::{AlertFormat, Format};
use loginwatch_replay::{normalize, StateFiles, Translator};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Flags suspicious account logins: impossible travel, concurrent IPs, laptop farms, VPN hopping.
#[derive(Parser, Debug)]
#[command(name = "loginwatch", version, about)]
pub struct Cli {
    /// Log as JSON lines instead of readable text.
    #[arg(long, global = true)]
    pub log_json: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a built-in scenario end to end (no broker, no download) and print what was found.
    Demo,
    /// Read events as JSON lines, write alerts as JSON lines, print a summary on stderr.
    Replay(ReplayArgs),
    /// The Kafka service: consume events, publish alerts, serve /metrics, /healthz, /readyz.
    Run {
        /// Configuration file (TOML).
        #[arg(long)]
        config: Option<PathBuf>,
        /// The input records' format; overrides `input.format`.
        #[arg(long, value_name = "F", help = FORMAT_HELP)]
        format: Option<Format>,
        /// Static group membership for this member; overrides `kafka.group_instance_id`
        /// (e.g. `--group-instance-id "$(POD_NAME)"` in a StatefulSet).
        #[arg(long, value_name = "ID")]
        group_instance_id: Option<String>,
        /// Alert records: `loginwatch` (the alert JSON) or `ocsf` (an OCSF Detection Finding);
        /// overrides `output.format`.
        #[arg(long, value_name = "F")]
        output_format: Option<AlertFormat>,
    },
    /// Write the contract events (JSON lines) a vendor's login records become, to see how
    /// they are read; skips counted on stderr, rejected records to the dead letters.
    Normalize(NormalizeArgs),
    /// Write a reproducible synthetic event stream with planted, labelled anomalies.
    Gen(GenArgs),
    /// Precision and recall of an alert file against a label file (as `gen --labels` writes).
    Score {
        /// Labels: JSON lines with `account_id` and `kind`.
        #[arg(long)]
        labels: PathBuf,
        /// Alerts: JSON lines as `replay` writes them.
        #[arg(long)]
        alerts: PathBuf,
    },
    /// Validate a configuration file (with the LOGINWATCH_… variables over it) and print every
    /// problem at once.
    CheckConfig {
        /// Print the merged configuration (defaults < file < environment) as TOML, secret
        /// values redacted, when it is valid.
        #[arg(long)]
        effective: bool,
        /// Configuration file (TOML).
        file: PathBuf,
    },
}

/// `--format`'s help: the names it takes.
const FORMAT_HELP: &str = "The input records' format: loginwatch (CONTRACT §1, the default), \
okta, entra, auth0, cloudtrail, google-workspace or keycloak; overrides `input.format`";

/// Flags of `replay`.
#[derive(clap::Args, Debug)]
pub struct ReplayArgs {
    /// Configuration file (TOML).
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[arg(long, value_name = "F", help = FORMAT_HELP)]
    pub format: Option<Format>,
    /// Events, one JSON object per line; `-` or absent = stdin.
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Alerts, one JSON object per line; `-` or absent = stdout.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Alerts as `loginwatch` (the alert JSON) or `ocsf` (OCSF Detection Findings); overrides
    /// `output.format`.
    #[arg(long, value_name = "F")]
    pub output_format: Option<AlertFormat>,
    /// City database (.mmdb); overrides `geoip.city`. Repeat it for databases of both address
    /// families (DB-IP's IPv4 and IPv6 files). Without one, the embedded demo database.
    #[arg(long)]
    pub geoip_city: Vec<PathBuf>,
    /// ASN database (.mmdb, GeoLite2-ASN layout); overrides `geoip.asn`.
    #[arg(long)]
    pub geoip_asn: Option<PathBuf>,
    /// Anonymous-IP database (.mmdb); overrides `geoip.anonymous`.
    #[arg(long)]
    pub geoip_anonymous: Option<PathBuf>,
    /// Where rejected lines go (JSON lines with reason and original bytes); default stderr.
    #[arg(long)]
    pub dead_letters: Option<PathBuf>,
    /// Worker threads (accounts sharded by hash); overrides `replay.workers`; 0 = one per core.
    #[arg(long)]
    pub workers: Option<usize>,
    /// Start from the detection state saved by an earlier `--state-out` (refused, with a
    /// non-zero exit, when damaged or written by another format version).
    #[arg(long, value_name = "F")]
    pub state_in: Option<PathBuf>,
    /// Write the whole detection state here at the end of the input (every account and
    /// shared_ip network), for a later `--state-in`.
    #[arg(long, value_name = "F")]
    pub state_out: Option<PathBuf>,
}

/// Flags of `normalize`.
#[derive(clap::Args, Debug)]
pub struct NormalizeArgs {
    #[arg(long, value_name = "F", help = FORMAT_HELP)]
    pub format: Option<Format>,
    /// Configuration file (TOML), for `input.format` and `input.max_event_bytes`.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Vendor records, one JSON object per line; `-` or absent = stdin.
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Contract events, one JSON object per line; `-` or absent = stdout.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Where rejected records go (JSON lines with reason and original bytes); default stderr.
    #[arg(long)]
    pub dead_letters: Option<PathBuf>,
}

/// Flags of `gen`.
#[derive(clap::Args, Debug)]
pub struct GenArgs {
    /// Number of accounts.
    #[arg(long)]
    pub accounts: u64,
    /// Number of events.
    #[arg(long)]
    pub events: u64,
    /// Random seed; the same seed gives the same bytes.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output file; `-` or absent = stdout.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Draw IPs from this city database instead of the embedded demo database.
    #[arg(long)]
    pub geoip_city: Option<PathBuf>,
    /// Write the ground truth (planted account, kind) as JSON lines here.
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// Share of accounts with a planted anomaly.
    #[arg(long, default_value_t = 0.02)]
    pub anomaly_rate: f64,
    /// Carriers whose subscribers share a carrier-grade NAT pool (benign, unlabelled); 0 = none.
    #[arg(long, default_value_t = 3)]
    pub carriers: u32,
    /// Shared venues (coworking spaces, internet cafés, universities; benign, unlabelled);
    /// 0 = none.
    #[arg(long, default_value_t = 6)]
    pub venues: u32,
}

/// Entry point of the binary: parse, run, map errors to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // Only fails when a subscriber is already installed, which is harmless.
    let _ = loginwatch_service::init_tracing(cli.log_json);
    match dispatch(cli.command) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("loginwatch: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(command: Command) -> Result<ExitCode> {
    match command {
        Command::Demo => crate::demo::run(&mut io::stdout().lock()).map(|()| ExitCode::SUCCESS),
        Command::Replay(args) => run_replay(args).map(|()| ExitCode::SUCCESS),
        Command::Run {
            config,
            format,
            group_instance_id,
            output_format,
        } => run_service(config.as_deref(), format, group_instance_id, output_format),
        Command::Normalize(args) => run_normalize(args).map(|()| ExitCode::SUCCESS),
        Command::Gen(args) => crate::gen_cmd::run(args).map(|()| ExitCode::SUCCESS),
        Command::Score { labels, alerts } => {
            let labels = score::read_jsonl(&mut *open_input(Some(&labels))?)?;
            let alerts = score::read_jsonl(&mut *open_input(Some(&alerts))?)?;
            print!("{}", score::score(&labels, &alerts));
            Ok(ExitCode::SUCCESS)
        }
        Command::CheckConfig { file, effective } => Ok(check_config(&file, effective)),
    }
}

/// The configuration: `path` (none: the defaults) with the `LOGINWATCH_…` variables over it;
/// every problem in one error.
pub fn load_config(path: Option<&Path>) -> Result<Config> {
    Config::load(path, &ProcessEnv).map_err(|problems| {
        let lines: Vec<String> = problems.iter().map(|p| format!("  {p}")).collect();
        let source = path.map_or("the configuration".into(), |p| p.display().to_string());
        anyhow::anyhow!(
            "{source} has {} problem(s):\n{}",
            problems.len(),
            lines.join("\n")
        )
    })
}

fn check_config(file: &Path, effective: bool) -> ExitCode {
    let (config, mut problems) = Config::check(Some(file), &ProcessEnv);
    problems.extend(crate::wiring::check_files(&config));
    if problems.is_empty() {
        if !effective {
            println!("{}: ok", file.display());
            return ExitCode::SUCCESS;
        }
        return match config.effective_toml() {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("cannot print the configuration: {e}");
                ExitCode::FAILURE
            }
        };
    }
    println!("{}: {} problem(s)", file.display(), problems.len());
    for p in &problems {
        println!("  {p}");
    }
    ExitCode::FAILURE
}

/// Opens `path` for reading, or stdin for `-`/absent.
pub fn open_input(path: Option<&Path>) -> Result<Box<dyn io::BufRead>> {
    Ok(match path {
        None => Box::new(BufReader::with_capacity(1 << 20, io::stdin())),
        Some(p) if p == Path::new("-") => Box::new(BufReader::with_capacity(1 << 20, io::stdin())),
        Some(p) => Box::new(BufReader::with_capacity(
            1 << 20,
            File::open(p).with_context(|| format!("cannot open {}", p.display()))?,
        )),
    })
}

/// Opens `path` for writing, or stdout for `-`/absent.
pub fn open_output(path: Option<&Path>) -> Result<Box<dyn Write + Send>> {
    Ok(match path {
        None => Box::new(BufWriter::with_capacity(1 << 16, io::stdout())),
        Some(p) if p == Path::new("-") => Box::new(BufWriter::with_capacity(1 << 16, io::stdout())),
        Some(p) => Box::new(BufWriter::with_capacity(
            1 << 16,
            File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        )),
    })
}

fn run_replay(args: ReplayArgs) -> Result<()> {
    let mut config = load_config(args.config.as_deref())?;
    if let Some(f) = args.format {
        config.input.format = f;
    }
    if !args.geoip_city.is_empty() {
        config.geoip.city = args.geoip_city;
    }
    if let Some(p) = args.geoip_asn {
        config.geoip.asn = Some(p);
    }
    if let Some(p) = args.geoip_anonymous {
        config.geoip.anonymous = Some(p);
    }
    if let Some(w) = args.workers {
        config.replay.workers = w;
    }
    if let Some(f) = args.output_format {
        config.output.format = f;
    }
    let mut input = open_input(args.input.as_deref())?;
    let mut output = open_output(args.output.as_deref())?;
    let mut dead = open_dead_letters(args.dead_letters.as_deref())?;
    let files = StateFiles {
        input: args.state_in,
        output: args.state_out,
    };
    let replayed =
        crate::wiring::replay_with_state(&config, &mut *input, &mut *output, &mut *dead, &files)?;
    eprintln!("{}", replayed.summary);
    // The process ends here: the system takes the engines' memory back at once, where
    // dropping them frees every account one by one (~0.7 s for 1 M accounts).
    std::mem::forget(replayed.pipelines);
    Ok(())
}

/// The dead-letter output: `path`, or stderr.
fn open_dead_letters(path: Option<&Path>) -> Result<Box<dyn Write + Send>> {
    match path {
        Some(p) => open_output(Some(p)),
        None => Ok(Box::new(io::stderr())),
    }
}

fn run_normalize(args: NormalizeArgs) -> Result<()> {
    let config = load_config(args.config.as_deref())?;
    let format = args.format.unwrap_or(config.input.format);
    let mut input = open_input(args.input.as_deref())?;
    let mut output = open_output(args.output.as_deref())?;
    let mut dead = open_dead_letters(args.dead_letters.as_deref())?;
    let mut translator = Translator::rewriting(format, config.input.max_event_bytes);
    let summary =
        normalize(&mut translator, &mut *input, &mut *output, &mut *dead).context("normalize")?;
    eprintln!("{summary}");
    Ok(())
}

fn run_service(
    config: Option<&Path>,
    format: Option<Format>,
    group_instance_id: Option<String>,
    output_format: Option<AlertFormat>,
) -> Result<ExitCode> {
    let mut config = load_config(config)?;
    if let Some(f) = format {
        config.input.format = f;
    }
    if let Some(id) = group_instance_id {
        config.service.kafka.group_instance_id = Some(id);
    }
    if let Some(f) = output_format {
        config.output.format = f;
    }
    crate::run_cmd::run_service(config)?;
    Ok(ExitCode::SUCCESS)
}
