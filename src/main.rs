//! The `stzlab` command line: parses flags, calls the library, maps errors to exit codes
//! (0 success, 1 failure while running, 2 bad input or usage).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use stzlab::data::{read_data, DataError};
use stzlab::inversion::{Baseline, Kernel, Rule, Workspace};
use stzlab::invert::{invert_series, InvertError, InvertOptions};
use stzlab::report::{
    data_csv, fit_csv, path_csv, peaks_csv, spectrum_csv, stz_csv, truth_csv, truth_stz_csv,
    OutputDir, OutputError,
};
use stzlab::scenario::{load_material, Scenario, ScenarioError};
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
    /// Invert data (CSV: x, y[, sigma], or temperature_k, x, y[, sigma] with a header) to a spectrum.
    Invert(InvertArgs),
    /// Run a scenario's sweep: many noisy inversions scored against the known truth.
    Run(RunArgs),
    /// Join the folders of a sharded run into what the unsharded run writes.
    Merge {
        /// Shard folders (each written by `stzlab run --shard k/N`).
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Output folder.
        #[arg(short, long)]
        output: PathBuf,
        /// Overwrite files in a non-empty output folder.
        #[arg(long)]
        force: bool,
        /// Write no SVG figures and no index.html.
        #[arg(long)]
        no_figures: bool,
    },
    /// Draw the figures and index.html of an output folder of invert, run or merge (again).
    Report {
        /// The output folder.
        dir: PathBuf,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    /// Scenario file (TOML) with optional [inversion] and [sweep] sections.
    scenario: PathBuf,
    /// Output folder (default: results/<scenario name>, or results/<name>/shard-k-of-N with --shard).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Worker threads (default: all cores).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Run only shard k of N (1-based): the runs whose index modulo N is k - 1.
    #[arg(long)]
    shard: Option<String>,
    /// Continue an interrupted run in the output folder.
    #[arg(long, conflicts_with = "force")]
    resume: bool,
    /// Overwrite files in a non-empty output folder.
    #[arg(long)]
    force: bool,
    /// No progress bar and no summary table on stdout.
    #[arg(long)]
    quiet: bool,
    /// Override a scenario value, e.g. --set noise.sigma=1e-3 --set sweep.repeats=200 (repeatable).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    sets: Vec<String>,
    /// Write no SVG figures and no index.html (large sweeps; `stzlab report DIR` draws them later).
    #[arg(long)]
    no_figures: bool,
}

#[derive(clap::Args)]
struct InvertArgs {
    /// Data file (CSV).
    data: PathBuf,
    /// Kernel: decay (recovery, x = t in s), creep (x = t in s), loss (x = omega in rad/s).
    #[arg(long, value_parser = ["decay", "creep", "loss"])]
    kind: String,
    /// Output folder.
    #[arg(short, long)]
    output: PathBuf,
    /// Overwrite files in a non-empty output folder.
    #[arg(long)]
    force: bool,
    /// Rule for lambda, with optional parameters as NAME:key=value[,key=value]: consensus[:rss=R]
    /// (the median lambda of lcurve, quasi-optimality and evidence; the default), discrepancy[:factor=F],
    /// gcv, rgcv[:gamma=G], lcurve, ftest[:level=P], r2-onset[:threshold=T], quasi-optimality,
    /// evidence[:sigma=free], kfold[:folds=K], fixed=LAMBDA, or iterative[:threshold=T] (the paper's practice: no
    /// penalty, an iterative fit stopped at a scanned tolerance).
    #[arg(long, default_value = "consensus")]
    rule: String,
    /// Number of tau grid points (default: 5 per decade).
    #[arg(long)]
    points: Option<usize>,
    /// Grid start, s (default: one decade below the data window).
    #[arg(long)]
    tau_min: Option<f64>,
    /// Grid end, s (default: one decade above the data window).
    #[arg(long)]
    tau_max: Option<f64>,
    /// Baseline: none, constant, constant+linear (default: constant for decay, constant+linear
    /// for creep, none for loss).
    #[arg(long, value_parser = ["none", "constant", "constant+linear"])]
    baseline: Option<String>,
    /// Constrain the baseline coefficients to be >= 0.
    #[arg(long)]
    baseline_nonnegative: bool,
    /// Order of the difference penalty (0, 1 or 2).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(0..=2))]
    order: u8,
    /// Take the spectrum as zero beyond the grid ends (CONTIN).
    #[arg(long)]
    zero_boundary: bool,
    /// Number of lambda values on the path.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(5..=10_000))]
    lambda_points: u32,
    /// Scenario-style file whose [material] gives the STZ back-analysis (stz.csv).
    #[arg(long)]
    material: Option<PathBuf>,
    /// Measurement temperature for the back-analysis, K (DMA data carry their own).
    #[arg(long)]
    temperature_k: Option<f64>,
    /// Write no SVG figures and no index.html.
    #[arg(long)]
    no_figures: bool,
}

/// Prints a line to stdout, ignoring a closed pipe (`stzlab run ... | head -1`): the files are the
/// product, the printout only reports them, so a reader that stops early must not stop the run.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
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

impl From<DataError> for Failure {
    fn from(e: DataError) -> Self {
        Self {
            code: 2,
            message: e.to_string(),
        }
    }
}

impl From<InvertError> for Failure {
    fn from(e: InvertError) -> Self {
        Self {
            code: 2,
            message: e.to_string(),
        }
    }
}

fn usage(message: String) -> Failure {
    Failure { code: 2, message }
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
        Command::Invert(args) => invert_command(&args),
        Command::Run(args) => run_command(&args),
        Command::Merge {
            dirs,
            output,
            force,
            no_figures,
        } => {
            let files = stzlab::sweep::merge(&dirs, &output, force)?;
            say!("merged {} shards -> {}", dirs.len(), output.display());
            for f in files {
                say!("  wrote {}", f.display());
            }
            if !no_figures {
                figures(&output, false)?;
            }
            Ok(())
        }
        Command::Report { dir } => {
            if !dir.join("summary.json").is_file() {
                return Err(usage(format!(
                    "{}: no summary.json; give a folder written by stzlab invert, run or merge",
                    dir.display()
                )));
            }
            figures(&dir, false)
        }
    }
}

impl From<stzlab::sweep::RunError> for Failure {
    fn from(e: stzlab::sweep::RunError) -> Self {
        let code = match &e {
            stzlab::sweep::RunError::Usage(_) => 2,
            stzlab::sweep::RunError::Output(o) => match o {
                OutputError::NotEmpty(_) | OutputError::NotADirectory(_) => 2,
                OutputError::Io { .. } => 1,
            },
            stzlab::sweep::RunError::Other(_) => 1,
        };
        Self {
            code,
            message: e.to_string(),
        }
    }
}

fn run_command(args: &RunArgs) -> Result<(), Failure> {
    let shard = match &args.shard {
        None => (1, 1),
        Some(text) => {
            let parsed = text
                .split_once('/')
                .and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)));
            match parsed {
                Some((k, n)) if k >= 1 && k <= n => (k, n),
                _ => {
                    return Err(usage(format!(
                        "--shard {text}: expected k/N with 1 <= k <= N, e.g. 2/8"
                    )))
                }
            }
        }
    };
    let plan = stzlab::sweep::Plan::load(&args.scenario, &args.sets)?;
    let output = args.output.clone().unwrap_or_else(|| {
        let base = PathBuf::from("results").join(&plan.name);
        if shard.1 > 1 {
            base.join(format!("shard-{}-of-{}", shard.0, shard.1))
        } else {
            base
        }
    });
    if !args.quiet {
        say!(
            "{}: {} cells x {} repeats = {} runs{}",
            plan.name,
            plan.cells.len(),
            plan.repeats,
            plan.runs(),
            if shard.1 > 1 {
                format!(", shard {}/{}", shard.0, shard.1)
            } else {
                String::new()
            }
        );
    }
    let options = stzlab::sweep::RunOptions {
        output: output.clone(),
        threads: args.threads,
        shard,
        resume: args.resume,
        force: args.force,
        quiet: args.quiet,
    };
    if plan.cells[0].scenario.study.is_some() {
        let report = stzlab::study::runner::run(&plan, &options)?;
        if !args.quiet {
            say!(
                "ran {} runs in {:.2} s -> {}",
                report.executed,
                report.seconds,
                output.display()
            );
            print_headline(&report.summary);
        }
        if !args.no_figures {
            figures(&output, args.quiet)?;
        }
        return Ok(());
    }
    let report = stzlab::sweep::run(&plan, &options)?;
    if !args.quiet {
        say!(
            "ran {} runs in {:.2} s{} -> {}",
            report.executed,
            report.seconds,
            if report.resumed > 0 {
                format!(" ({} already done)", report.resumed)
            } else {
                String::new()
            },
            output.display()
        );
        print_best(&report.summary);
    }
    // A shard's figures would show a part of the sweep: they are drawn after the merge.
    if !args.no_figures && shard.1 == 1 {
        figures(&output, args.quiet)?;
    }
    Ok(())
}

/// A study's headline numbers.
fn print_headline(summary: &serde_json::Value) {
    let Some(h) = summary["headline"].as_object() else {
        return;
    };
    say!(
        "headline ({}):",
        summary["headline_note"].as_str().unwrap_or("")
    );
    for (k, v) in h {
        match v.as_f64() {
            Some(x) => say!("  {k:<40} {x:.6}"),
            None => say!("  {k:<40} -"),
        }
    }
}

/// A short table: each cell's best rule by median regret.
fn print_best(summary: &serde_json::Value) {
    let Some(best) = summary["best_rule"].as_array() else {
        return;
    };
    let shown = best.len().min(40);
    say!("best rule per cell (median regret = rule's spectrum L1 error / oracle's):");
    for b in &best[..shown] {
        let axes: Vec<String> = b["axes"]
            .as_object()
            .map(|m| m.iter().map(|(k, v)| format!("{k}={v}")).collect())
            .unwrap_or_default();
        say!(
            "  cell {:>4}  {:<40}  {:<12} {}",
            b["cell"],
            axes.join(" "),
            b["rule"].as_str().unwrap_or("-"),
            b["median_regret"]
                .as_f64()
                .map_or("-".to_string(), |r| format!("{r:.3}"))
        );
    }
    if best.len() > shown {
        say!("  ... {} more cells in summary.json", best.len() - shown);
    }
    let Some(overall) = summary["overall"].as_array() else {
        return;
    };
    say!("over the whole sweep (rel_l2: density error over the data window; regret_l2: rel_l2 / the path's best):");
    say!(
        "  {:<24} {:>12} {:>12} {:>12} {:>12}",
        "rule",
        "median regret",
        "p95 regret",
        "median rel_l2",
        "p95 rel_l2"
    );
    for row in overall {
        let get = |metric: &str, stat: &str| {
            row["metrics"][metric]["stats"][stat]
                .as_f64()
                .map_or("-".to_string(), |v| format!("{v:.3}"))
        };
        say!(
            "  {:<24} {:>12} {:>12} {:>12} {:>12}",
            row["rule"].as_str().unwrap_or("-"),
            get("regret_l2", "median"),
            get("regret_l2", "p95"),
            get("rel_l2", "median"),
            get("rel_l2", "p95")
        );
    }
}

fn simulate_command(
    path: &std::path::Path,
    output: &std::path::Path,
    force: bool,
) -> Result<(), Failure> {
    let scenario = Scenario::load(path)?;
    let sim = simulate(&scenario).map_err(|e| {
        let message = format!("{}: {e}", path.display());
        match e {
            stzlab::simulate::SimulateError::StudyOnly(_) => usage(message),
            _ => anyhow::anyhow!(message).into(),
        }
    })?;
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
    dir.remove_stale(
        &["data.csv", "scenario.json", "truth.csv", "truth_stz.csv"],
        &files,
    )?;
    let points: usize = sim.series.iter().map(|s| s.x.len()).sum();
    say!(
        "simulated {} ({} series, {points} points) -> {}",
        scenario.name,
        sim.series.len(),
        dir.path().display()
    );
    for p in &sim.percolation {
        say!(
            "  percolation at {:.3e} s: n0 = {}, sum c = {:.4}, rigid fraction = {:.4}",
            p.observation_time_s,
            p.n0.map_or_else(|| "none".into(), |n| n.to_string()),
            p.active_sum_c,
            p.rigid_fraction
        );
    }
    for (name, _) in &files {
        say!("  wrote {}", dir.file(name).display());
    }
    Ok(())
}

/// Every file `stzlab invert` may write.
const INVERT_OUTPUTS: &[&str] = &[
    "spectrum.csv",
    "fit.csv",
    "path.csv",
    "peaks.csv",
    "stz.csv",
    "summary.json",
    "fit.svg",
    "spectrum.svg",
    "lcurve.svg",
    "scores.svg",
    "index.html",
];

fn invert_command(args: &InvertArgs) -> Result<(), Failure> {
    let kernel = match args.kind.as_str() {
        "decay" => Kernel::Decay,
        "creep" => Kernel::Creep,
        _ => Kernel::Loss,
    };
    let mut options = InvertOptions::new(kernel);
    options.rule = Rule::parse(&args.rule).map_err(usage)?;
    options.points = args.points;
    options.tau_min_s = args.tau_min;
    options.tau_max_s = args.tau_max;
    options.baseline = args.baseline.as_deref().map(|b| match b {
        "none" => Baseline::None,
        "constant" => Baseline::Constant,
        _ => Baseline::ConstantLinear,
    });
    options.baseline_nonnegative = args.baseline_nonnegative;
    options.order = usize::from(args.order);
    options.zero_boundary = args.zero_boundary;
    options.lambda_points = args.lambda_points as usize;
    if let Some(t) = args.temperature_k {
        if !(t.is_finite() && t > 0.0) {
            return Err(usage(format!("--temperature-k {t}: must be > 0")));
        }
    }
    let material = args.material.as_deref().map(load_material).transpose()?;
    let series = read_data(&args.data)?;
    let file = args.data.display().to_string();
    let mut ws = Workspace::new();
    let mut results = Vec::with_capacity(series.len());
    for s in &series {
        let temperature = s.temperature_k.or(args.temperature_k);
        let stz_input = match (&material, temperature) {
            (Some(m), Some(t)) => Some((&m.material, t)),
            (Some(_), None) => {
                return Err(usage(format!(
                    "{file}: --material needs --temperature-k (the data have no temperature column)"
                )))
            }
            (None, _) => None,
        };
        let inversion = invert_series(s, &options, stz_input, &mut ws).map_err(|e| {
            let at = s
                .temperature_k
                .map(|t| format!(" at {t} K"))
                .unwrap_or_default();
            usage(format!("{file}{at}: {e}"))
        })?;
        results.push(inversion);
    }
    let atomic_volume = material.as_ref().and_then(|m| m.atomic_volume_m3);
    let summaries: Vec<_> = results.iter().map(|r| r.summary(atomic_volume)).collect();
    let mut summary = if summaries.len() == 1 {
        serde_json::to_value(&summaries[0]).map_err(anyhow::Error::from)?
    } else {
        serde_json::json!({ "rule": options.rule.name(), "series": summaries })
    };
    summary["kind"] = serde_json::json!(kernel.name());
    summary["data"] = serde_json::json!(file);
    let mut files = vec![
        (
            "spectrum.csv".to_string(),
            spectrum_csv(&results).into_bytes(),
        ),
        ("fit.csv".to_string(), fit_csv(&results).into_bytes()),
        ("path.csv".to_string(), path_csv(&results).into_bytes()),
        ("peaks.csv".to_string(), peaks_csv(&results).into_bytes()),
        (
            "summary.json".to_string(),
            serde_json::to_string_pretty(&summary)
                .map_err(anyhow::Error::from)?
                .into_bytes(),
        ),
    ];
    if let Some(stz) = stz_csv(&results, atomic_volume) {
        files.push(("stz.csv".to_string(), stz.into_bytes()));
    }
    let dir = OutputDir::prepare(&args.output, args.force)?;
    dir.write_all(&files)?;
    dir.remove_stale(INVERT_OUTPUTS, &files)?;
    for s in &summaries {
        if let Some(w) = &s.warning {
            let at = s
                .temperature_k
                .map(|t| format!(" at {t} K"))
                .unwrap_or_default();
            eprintln!("warning: {file}{at}: {w}");
        }
        let at = s
            .temperature_k
            .map(|t| format!(" at {t} K"))
            .unwrap_or_default();
        say!(
            "inverted {file}{at}: rule {} lambda {:.4e}, R^2 {:.6}, chi^2 {:.1} ({} sigma, {} points), {} peaks",
            s.rule,
            s.lambda,
            s.r2,
            s.chi2,
            s.sigma,
            s.points,
            s.peaks.len()
        );
        if let Some(stz) = &s.stz {
            if let (Some(v), e) = (
                stz.omega_slope_atomic_volumes,
                stz.omega_slope_stderr_atomic_volumes,
            ) {
                say!(
                    "  Omega slope {v:.4} atomic volumes (standard error {})",
                    e.map_or("n/a".into(), |e| format!("{e:.4}"))
                );
            }
        }
    }
    for (name, _) in &files {
        say!("  wrote {}", dir.file(name).display());
    }
    if !args.no_figures {
        figures(dir.path(), false)?;
    }
    Ok(())
}

/// Draws the folder's figures and writes index.html (a figure that fails is a warning, not an error:
/// the numbers are already written).
fn figures(dir: &std::path::Path, quiet: bool) -> Result<(), Failure> {
    let (files, warnings) = stzlab::report::write_report(dir)?;
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    if !quiet {
        say!(
            "  wrote {} figures and {}",
            files.len() - 1,
            dir.join("index.html").display()
        );
    }
    Ok(())
}
