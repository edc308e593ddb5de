//! The `stzlab` command line: parses flags, calls the library, prints what it reports and maps
//! errors to exit codes (0 success, 1 failure while running, 2 bad input or usage).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;

mod args;
mod progress;
use args::{Cli, Command, InvertArgs, Out, RunArgs};
use progress::StderrProgress;

use stzlab::files::{OutputDir, OutputError};
use stzlab::pipeline::drive::{default_output, parse_shard, RunError, RunOptions};
use stzlab::pipeline::invert::invert_data;
use stzlab::pipeline::invert::{energy::invert_history_file, global::invert_global_file};
use stzlab::pipeline::{joint::invert_joint, simulate, simulate::SimulateError};
use stzlab::report;
use stzlab::scenario::{load_material, Plan, Scenario};

/// Prints lines to stdout, ignoring a closed pipe (`stzlab run ... | head -1`): the files are the
/// product, the printout only reports them, so a reader that stops early must not stop the run.
fn say<S: AsRef<str>>(lines: impl IntoIterator<Item = S>) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    for line in lines {
        let _ = writeln!(out, "{}", line.as_ref());
    }
}

/// An error with its exit code: 2 for bad input or usage, 1 for a failure while running.
struct Failure(u8, String);

fn bad(e: impl std::fmt::Display) -> Failure {
    Failure(2, e.to_string())
}

fn output_failure(e: OutputError) -> Failure {
    match e {
        OutputError::Io { .. } => Failure(1, e.to_string()),
        OutputError::NotEmpty(_) | OutputError::NotADirectory(_) => bad(e),
    }
}

fn run_failure(e: RunError) -> Failure {
    match e {
        RunError::Usage(_) => bad(e),
        RunError::Output(o) => output_failure(o),
        RunError::Other(_) => Failure(1, e.to_string()),
    }
}

fn main() -> ExitCode {
    let started = Instant::now();
    let result = match Cli::parse().command {
        Command::Simulate { scenario, out } => simulate_command(&scenario, &out),
        Command::Invert(args) => invert_command(&args, started),
        Command::Run(args) => run_command(&args, started),
        Command::Merge {
            dirs,
            out,
            no_figures,
        } => merge_command(&dirs, &out, no_figures, started).map_err(run_failure),
        Command::Report { dir } if !dir.join("summary.json").is_file() => Err(bad(format!(
            "{}: no summary.json; give a folder written by stzlab invert, run or merge",
            dir.display()
        ))),
        Command::Report { dir } => figures(&dir, false).map_err(output_failure),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(code, message)) => {
            eprintln!("error: {message}");
            ExitCode::from(code)
        }
    }
}

fn merge_command(
    dirs: &[PathBuf],
    out: &Out,
    no_figures: bool,
    started: Instant,
) -> Result<(), RunError> {
    let files = stzlab::sweep::merge(dirs, &out.output, out.force)?;
    record(&out.output, started)?;
    say([format!(
        "merged {} shards -> {}",
        dirs.len(),
        out.output.display()
    )]);
    say(files.iter().map(|f| format!("  wrote {}", f.display())));
    if !no_figures {
        figures(&out.output, false)?;
    }
    Ok(())
}

fn run_command(args: &RunArgs, started: Instant) -> Result<(), Failure> {
    let shard = args
        .shard
        .as_deref()
        .map_or(Ok((1, 1)), parse_shard)
        .map_err(bad)?;
    let plan = Plan::load(&args.scenario, &args.sets).map_err(bad)?;
    let output = (args.output.clone()).unwrap_or_else(|| default_output(&plan.name, shard));
    let sharded = if shard.1 > 1 {
        format!(", shard {}/{}", shard.0, shard.1)
    } else {
        String::new()
    };
    if !args.quiet {
        let (cells, repeats, runs) = (plan.cells.len(), plan.repeats, plan.runs());
        say([format!(
            "{}: {cells} cells x {repeats} repeats = {runs} runs{sharded}",
            plan.name
        )]);
    }
    let options = RunOptions {
        output: output.clone(),
        threads: args.threads,
        shard,
        resume: args.resume,
        force: args.force,
        quiet: args.quiet,
    };
    let study = plan.cells[0].scenario.study.is_some();
    // The summary's short table: a study's headline, or each cell's best rule.
    let (report, lines) = if study {
        let r = stzlab::study::run(&plan, &options).map_err(run_failure)?;
        let lines = report::headline_lines(&r.summary);
        ((r.executed, r.resumed, r.seconds), lines)
    } else {
        let r = stzlab::sweep::run(&plan, &options).map_err(run_failure)?;
        let lines = report::sweep_lines(&r.summary);
        ((r.executed, r.resumed, r.seconds), lines)
    };
    record(&output, started).map_err(output_failure)?;
    if !args.quiet {
        let (executed, resumed, seconds) = report;
        let resumed = match resumed {
            0 => String::new(),
            n => format!(" ({n} already done)"),
        };
        say([format!(
            "ran {executed} runs in {seconds:.2} s{resumed} -> {}",
            output.display()
        )]);
        say(lines);
    }
    // A shard's figures would show a part of the sweep: they are drawn after the merge.
    if !args.no_figures && shard.1 == 1 {
        figures(&output, args.quiet).map_err(output_failure)?;
    }
    Ok(())
}

fn simulate_command(path: &Path, out: &Out) -> Result<(), Failure> {
    let scenario = Scenario::load(path).map_err(bad)?;
    let sim = simulate(&scenario).map_err(|e| {
        let code = if matches!(e, SimulateError::StudyOnly(_)) {
            2
        } else {
            1
        };
        Failure(code, format!("{}: {e}", path.display()))
    })?;
    // Everything is produced in memory first, so a failure cannot leave a partial set of files.
    let files = report::simulation_files(&scenario, &sim).map_err(|e| Failure(1, e.to_string()))?;
    write_files(&out.output, out.force, &files, report::SIMULATE_OUTPUTS)?;
    say(report::simulate_lines(&scenario.name, &sim, &out.output));
    say(files
        .iter()
        .map(|(name, _)| format!("  wrote {}", out.output.join(name).display())));
    Ok(())
}

fn invert_command(args: &InvertArgs, started: Instant) -> Result<(), Failure> {
    let options = args.options().map_err(bad)?;
    let material = args.material.as_deref().map(load_material).transpose();
    let material = material.map_err(bad)?;
    let (m, t, progress) = (material.as_ref(), args.temperature_k, StderrProgress::new());
    let global = args.kind == Some(args::KindArg::LossGlobal);
    let inversion = match (&args.data, args.energy().map_err(bad)?) {
        (Some(data), Some((h, e))) => invert_history_file(data, &h, &e, m, &options, &progress),
        (Some(d), None) if global => invert_global_file(d, m, &options, &progress),
        (Some(data), None) => invert_data(data, &options, m, t, &progress),
        (None, _) => invert_joint(&args.joint_sets(), &options, m, t, &progress),
    };
    let inversion = inversion.map_err(bad)?;
    let files = report::invert_files(&inversion).map_err(|e| Failure(1, e.to_string()))?;
    write_files(
        &args.out.output,
        args.out.force,
        &files,
        report::INVERT_OUTPUTS,
    )?;
    record(&args.out.output, started).map_err(output_failure)?;
    let (warnings, lines) = report::invert_lines(&inversion);
    for w in warnings {
        eprintln!("warning: {w}");
    }
    say(lines);
    say(files
        .iter()
        .map(|(name, _)| format!("  wrote {}", args.out.output.join(name).display())));
    if !args.no_figures {
        figures(&args.out.output, false).map_err(output_failure)?;
    }
    Ok(())
}

/// Writes `files` into a prepared folder and removes what an earlier run left of `outputs`.
fn write_files(
    dir: &Path,
    force: bool,
    files: &[(String, Vec<u8>)],
    outputs: &[&str],
) -> Result<(), Failure> {
    let dir = OutputDir::prepare(dir, force).map_err(output_failure)?;
    dir.write_all(files).map_err(output_failure)?;
    dir.remove_stale(outputs, files).map_err(output_failure)?;
    Ok(())
}

/// Writes provenance.json: command line, version, time, run time so far (figures not counted).
fn record(dir: &Path, started: Instant) -> Result<PathBuf, OutputError> {
    report::Provenance::now(std::env::args(), started.elapsed().as_secs_f64()).write(dir)
}

/// Draws the folder's figures and writes index.html (a figure that fails is a warning, not an error:
/// the numbers are already written).
fn figures(dir: &Path, quiet: bool) -> Result<(), OutputError> {
    let (files, warnings) = report::write_report(dir)?;
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    if !quiet {
        say([format!(
            "  wrote {} figures and {}",
            files.len() - 1,
            dir.join("index.html").display()
        )]);
    }
    Ok(())
}
