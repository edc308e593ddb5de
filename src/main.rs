//! The `stzlab` command line: parses flags, calls the library, maps errors to exit codes
//! (0 success, 1 failure while running, 2 bad input or usage).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use stzlab::report::{data_csv, truth_csv, truth_stz_csv, OutputDir, OutputError};
use stzlab::scenario::{Scenario, ScenarioError};
use stzlab::simulate::simulate;

#[derive(Parser)]
#[command(
    name = "stzlab",
    version,
    about = "Relaxation-time spectra of glasses: simulate, invert, and measure how far to trust the inversion"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Simulate the data of a scenario (one noise realization with the scenario seed) and its truth.
    Simulate {
        /// Scenario file (TOML).
        scenario: PathBuf,
        /// Output folder.
        #[arg(short, long)]
        output: PathBuf,
        /// Overwrite files in a non-empty output folder.
        #[arg(long)]
        force: bool,
    },
}

/// An error with the exit code it maps to.
struct Failure {
    code: u8,
    message: String,
}

impl From<ScenarioError> for Failure {
    fn from(e: ScenarioError) -> Self {
        let code = match e {
            ScenarioError::Io { .. } => 2,
            ScenarioError::Invalid { .. } => 2,
        };
        Self {
            code,
            message: e.to_string(),
        }
    }
}

impl From<OutputError> for Failure {
    fn from(e: OutputError) -> Self {
        let code = match e {
            OutputError::NotEmpty(_) | OutputError::NotADirectory(_) => 2,
            OutputError::Io { .. } => 1,
        };
        Self {
            code,
            message: e.to_string(),
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Self {
            code: 1,
            message: format!("{e:#}"),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("error: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Simulate {
            scenario,
            output,
            force,
        } => simulate_command(&scenario, &output, force),
    }
}

fn simulate_command(
    path: &std::path::Path,
    output: &std::path::Path,
    force: bool,
) -> Result<(), Failure> {
    let scenario = Scenario::load(path)?;
    let sim = simulate(&scenario).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    // Everything is produced in memory first, so a failure cannot leave a partial set of files.
    let mut files = vec![
        ("data.csv".to_string(), data_csv(&sim).into_bytes()),
        (
            "scenario.json".to_string(),
            serde_json::to_string_pretty(&scenario.resolved)
                .map_err(anyhow::Error::from)?
                .into_bytes(),
        ),
    ];
    if !sim.truth.is_empty() {
        files.push(("truth.csv".to_string(), truth_csv(&sim).into_bytes()));
    }
    if let Some(stz) = truth_stz_csv(&sim) {
        files.push(("truth_stz.csv".to_string(), stz.into_bytes()));
    }
    let dir = OutputDir::prepare(output, force)?;
    dir.write_all(&files)?;
    let points: usize = sim.series.iter().map(|s| s.x.len()).sum();
    println!(
        "simulated {} ({} series, {points} points) -> {}",
        scenario.name,
        sim.series.len(),
        dir.path().display()
    );
    for p in &sim.percolation {
        println!(
            "  percolation at {:.3e} s: n0 = {}, sum c = {:.4}, rigid fraction = {:.4}",
            p.observation_time_s,
            p.n0.map_or_else(|| "none".into(), |n| n.to_string()),
            p.active_sum_c,
            p.rigid_fraction
        );
    }
    for (name, _) in &files {
        println!("  wrote {}", dir.file(name).display());
    }
    Ok(())
}
