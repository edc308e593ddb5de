//! Executing a sweep: every pool thread takes the next run when it is free, and the rows are
//! appended to `runs.csv` in run order and synced every few runs (so the file is always a valid
//! prefix); representative spectra, resume, shards.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use rayon::prelude::*;

use super::rows::{rows_per_run, writer_rows, InOrder};
use super::summary::{complete_prefix, summarize, Layout, SweepSummary};
use crate::files::{csv_line, OutputDir};
use crate::inversion::Workspace;
use crate::pipeline::cost::{run_seconds, AnalysisSize};
use crate::pipeline::drive::{finish, plan_json, RunError, RunOptions, RunReport};
use crate::pipeline::progress::Progress;
use crate::pipeline::simulate::{simulate_clean, Simulation};
use crate::pipeline::trial::{run_once, RunResult};
use crate::scenario::Plan;

/// Runs per thread between syncs of runs.csv: rows reach the disk at least this often.
const CHUNK_PER_THREAD: usize = 16;

/// Runs the sweep (or this shard of it).
///
/// # Errors
/// [`RunError`].
pub fn run(plan: &Plan, options: &RunOptions) -> Result<RunReport<SweepSummary>, RunError> {
    let started = Instant::now();
    let (k, n) = options.shard;
    if n == 0 || k == 0 || k > n {
        return Err(RunError::Usage(format!(
            "--shard {k}/{n}: expected k/N with 1 <= k <= N"
        )));
    }
    let record = plan_json(plan);
    let record_text =
        serde_json::to_string_pretty(&record).map_err(|e| RunError::Other(e.to_string()))?;
    let shard_text = (n > 1).then(|| {
        serde_json::to_string_pretty(&serde_json::json!({ "shard": k, "shards": n }))
            .unwrap_or_default()
    });
    let dir = if options.resume {
        let dir = OutputDir::open(&options.output)?;
        check_same(&dir, "scenario.json", &record_text)?;
        if let Some(s) = &shard_text {
            check_same(&dir, "shard.json", s)?;
        } else if dir.file("shard.json").exists() {
            return Err(RunError::Usage(format!(
                "{}: holds a shard; resume it with its --shard",
                options.output.display()
            )));
        }
        dir
    } else {
        let dir = OutputDir::prepare(&options.output, options.force)?;
        dir.remove_cell_files()?;
        dir
    };
    let mut files = vec![dir.write("scenario.json", record_text.as_bytes())?];
    if let Some(s) = &shard_text {
        files.push(dir.write("shard.json", s.as_bytes())?);
    }

    let layout = Layout {
        axes: plan.axes.iter().map(|a| a.path.clone()).collect(),
    };
    let header = csv_line(&layout.header());
    let mine: Vec<usize> = (0..plan.runs()).filter(|r| r % n == k - 1).collect();
    let runs_path = dir.file("runs.csv");
    let mut done = 0usize;
    if options.resume && runs_path.exists() {
        let text = std::fs::read(&runs_path)
            .map_err(|e| RunError::Other(format!("{}: {e}", runs_path.display())))?;
        let (end, runs) = complete_prefix(&text, header.trim_end(), |run| rows_per_run(plan, run))
            .map_err(|m| RunError::Usage(format!("{}: {m}", runs_path.display())))?;
        if runs.iter().zip(&mine).any(|(a, b)| a != b) || runs.len() > mine.len() {
            return Err(RunError::Usage(format!(
                "{}: its runs are not this sweep's (or this shard's) in order",
                runs_path.display()
            )));
        }
        done = runs.len();
        dir.write("runs.csv", &text[..end])?;
    } else {
        dir.write("runs.csv", header.as_bytes())?;
    }
    let resumed = done;

    // Noise-free data of every cell, once.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.threads)
        .build()
        .map_err(|e| RunError::Other(e.to_string()))?;
    let clean: Vec<Simulation> = pool
        .install(|| {
            plan.cells
                .par_iter()
                .map(|c| simulate_clean(&c.scenario))
                .collect::<Result<_, _>>()
        })
        .map_err(|e| RunError::Other(format!("{}: {e}", plan.file)))?;

    let chunk = CHUNK_PER_THREAD * pool.current_num_threads().max(1);
    let progress = Progress::new(options.quiet, mine.len(), done);
    // The expected cost of the runs left, from the problem sizes, before any of them runs.
    let per_cell: Vec<(f64, Option<AnalysisSize>)> = plan
        .cells
        .iter()
        .zip(&clean)
        .map(|(c, sim)| run_seconds(&c.scenario.inversion, &c.scenario.rules, sim))
        .collect();
    let seconds: f64 = mine[done..]
        .iter()
        .map(|&run| per_cell[run / plan.repeats].0)
        .sum::<f64>()
        / pool.current_num_threads().max(1) as f64;
    if let Some(big) = per_cell.iter().filter_map(|c| c.1).max_by_key(|s| s.points) {
        progress.announce_upfront(
            seconds,
            &format!(
                "from the problem sizes, up to {} grid points x {} data points x {} lambdas",
                big.points, big.data, big.lambda_points
            ),
        );
    }
    if progress.on_terminal() && done < mine.len() {
        eprintln!(
            "(interrupt at any time: the same command with --resume continues from the last finished runs)"
        );
    }
    let mut out = OpenOptions::new()
        .append(true)
        .open(&runs_path)
        .map_err(|e| RunError::Other(format!("{}: {e}", runs_path.display())))?;
    // Each pool thread takes the next run as soon as it is free (no barrier between chunks), and
    // this thread writes the results in run order as they arrive, syncing the file every `chunk`
    // runs: both cores compute all the time, while the file stays a valid prefix.
    let next = AtomicUsize::new(done);
    let stop = AtomicBool::new(false);
    let (sender, results) = std::sync::mpsc::channel::<(usize, RunResult)>();
    let written = pool.in_place_scope(|scope| {
        for _ in 0..pool.current_num_threads().max(1) {
            let (sender, next, stop, mine, clean, progress) =
                (sender.clone(), &next, &stop, &mine, &clean, &progress);
            scope.spawn(move |_| {
                let mut ws = Workspace::new();
                while !stop.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&run) = mine.get(i) else { break };
                    let (cell, repeat) = (run / plan.repeats, run % plan.repeats);
                    let scenario = &plan.cells[cell].scenario;
                    let result = run_once(
                        scenario,
                        &clean[cell],
                        plan.run_seed(run),
                        repeat == 0,
                        &mut ws,
                    );
                    progress.advance(1);
                    if sender.send((i, result)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(sender);
        let mut writer = InOrder::new(done);
        let outcome = results.iter().try_for_each(|(i, result)| {
            writer.add(i, result, |i, result| {
                writer_rows(plan, mine[i], result, &clean, &dir, &mut files)
            })?;
            if writer.unsynced() >= chunk {
                writer.sync(&mut out, &runs_path)?;
            }
            Ok(())
        });
        // On an error the workers stop after their current run; the file keeps the synced prefix.
        stop.store(true, Ordering::Relaxed);
        drop(results);
        outcome.and_then(|()| writer.sync(&mut out, &runs_path))?;
        if writer.written() == mine.len() {
            Ok(())
        } else {
            Err(RunError::Other(format!(
                "{}: {} of {} runs finished; the file holds them in order, --resume continues",
                runs_path.display(),
                writer.written(),
                mine.len()
            )))
        }
    });
    written?;
    progress.finish();
    files.push(runs_path.clone());
    let summary = summarize(&record, &runs_path).map_err(|e| RunError::Other(e.to_string()))?;
    finish(&dir, files, summary, mine.len() - resumed, resumed, started)
}

fn check_same(dir: &OutputDir, name: &str, expected: &str) -> Result<(), RunError> {
    let path = dir.file(name);
    match std::fs::read_to_string(&path) {
        Ok(text) if text == expected => Ok(()),
        Ok(text) => {
            let fields = differing_fields(&text, expected);
            let what = if fields.is_empty() {
                String::new()
            } else {
                format!(" ({})", fields.join("; "))
            };
            Err(RunError::Usage(format!(
                "{}: differs from this run's{what}; --resume continues only the same scenario, overrides and shard",
                path.display()
            )))
        }
        Err(_) => Err(RunError::Usage(format!(
            "{}: missing; nothing to resume here",
            path.display()
        ))),
    }
}

/// The first few fields (JSON paths) whose values differ between the recorded `was` and the
/// `now` of this run, each with both values.
fn differing_fields(was: &str, now: &str) -> Vec<String> {
    fn walk(path: &str, a: &serde_json::Value, b: &serde_json::Value, out: &mut Vec<String>) {
        use serde_json::Value;
        if out.len() >= 3 || a == b {
            return;
        }
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                let mut keys: Vec<&String> = x.keys().collect();
                keys.extend(y.keys().filter(|k| !x.contains_key(*k)));
                for k in keys {
                    let null = Value::Null;
                    let sub = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    walk(
                        &sub,
                        x.get(k).unwrap_or(&null),
                        y.get(k).unwrap_or(&null),
                        out,
                    );
                }
            }
            (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
                for (i, (u, v)) in x.iter().zip(y).enumerate() {
                    walk(&format!("{path}[{i}]"), u, v, out);
                }
            }
            _ => {
                let short = |v: &Value| {
                    let t = v.to_string();
                    if t.len() > 60 {
                        format!(
                            "{}...",
                            &t[..t.char_indices().nth(57).map_or(t.len(), |c| c.0)]
                        )
                    } else {
                        t
                    }
                };
                out.push(format!(
                    "{path}: {} in the folder, {} now",
                    short(a),
                    short(b)
                ));
            }
        }
    }
    let mut out = Vec::new();
    if let (Ok(a), Ok(b)) = (serde_json::from_str(was), serde_json::from_str(now)) {
        walk("", &a, &b, &mut out);
    }
    out
}

/// Joins shard folders into what the unsharded run writes.
///
/// # Errors
/// [`RunError`] when the folders are not the complete shards of one sweep.
pub fn merge(dirs: &[PathBuf], output: &Path, force: bool) -> Result<Vec<PathBuf>, RunError> {
    if dirs.is_empty() {
        return Err(RunError::Usage("merge needs at least one folder".into()));
    }
    // Writing into a shard would overwrite the input being read (and break later merges).
    let canonical = |p: &Path| std::fs::canonicalize(p).ok();
    if let Some(out) = canonical(output) {
        if let Some(d) = dirs.iter().find(|d| canonical(d).as_ref() == Some(&out)) {
            return Err(RunError::Usage(format!(
                "-o {}: is the shard folder {} itself; merge into another folder",
                output.display(),
                d.display()
            )));
        }
    }
    let read = |p: PathBuf| {
        std::fs::read_to_string(&p).map_err(|e| RunError::Usage(format!("{}: {e}", p.display())))
    };
    let record_text = read(dirs[0].join("scenario.json"))?;
    let mut shards = Vec::new();
    for d in dirs {
        if read(d.join("scenario.json"))? != record_text {
            return Err(RunError::Usage(format!(
                "{}: scenario.json differs from {}'s: not shards of one sweep",
                d.display(),
                dirs[0].display()
            )));
        }
        let (k, n) = match std::fs::read_to_string(d.join("shard.json")) {
            Ok(t) => {
                let v: serde_json::Value = serde_json::from_str(&t)
                    .map_err(|e| RunError::Usage(format!("{}: {e}", d.display())))?;
                (
                    v["shard"].as_u64().unwrap_or(0) as usize,
                    v["shards"].as_u64().unwrap_or(0) as usize,
                )
            }
            Err(_) => (1, 1),
        };
        shards.push((k, n, d.clone()));
    }
    shards.sort_by_key(|s| s.0);
    let n = shards[0].1;
    let mut ks: Vec<usize> = shards.iter().map(|s| s.0).collect();
    ks.sort_unstable();
    if shards.iter().any(|s| s.1 != n) || ks != (1..=n).collect::<Vec<_>>() {
        return Err(RunError::Usage(format!(
            "shards {ks:?} of {n}: give every shard 1..{n} exactly once"
        )));
    }
    let record: serde_json::Value =
        serde_json::from_str(&record_text).map_err(|e| RunError::Other(e.to_string()))?;
    let total = record["runs"].as_u64().unwrap_or(0) as usize;
    // k-way merge by run index: each shard's runs.csv is in run order.
    let mut readers = Vec::new();
    let mut header: Option<String> = None;
    for (k, _, d) in &shards {
        let text = read(d.join("runs.csv"))?;
        let mut lines = text
            .lines()
            .map(str::to_string)
            .collect::<Vec<_>>()
            .into_iter();
        let h = lines.next().unwrap_or_default();
        if header.as_ref().is_some_and(|x| *x != h) {
            return Err(RunError::Usage(format!(
                "{}: runs.csv header differs",
                d.display()
            )));
        }
        header = Some(h);
        readers.push((*k, lines.peekable()));
    }
    let mut text = format!("{}\n", header.unwrap_or_default());
    for run in 0..total {
        let (_, lines) = &mut readers[run % n];
        let mut any = false;
        while let Some(line) = lines.peek() {
            if line.split(',').next().and_then(|r| r.parse::<usize>().ok()) == Some(run) {
                text.push_str(line);
                text.push('\n');
                lines.next();
                any = true;
            } else {
                break;
            }
        }
        if !any {
            return Err(RunError::Usage(format!(
                "run {run} is missing from shard {}: finish it with --resume before merging",
                run % n + 1
            )));
        }
    }
    let dir = OutputDir::prepare(output, force)?;
    dir.remove_cell_files()?;
    let mut files = vec![dir.write("scenario.json", record_text.as_bytes())?];
    files.push(dir.write("runs.csv", text.as_bytes())?);
    for (_, _, d) in &shards {
        let entries =
            std::fs::read_dir(d).map_err(|e| RunError::Other(format!("{}: {e}", d.display())))?;
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if ["spectrum_cell", "truth_cell", "peaks_cell"]
                .iter()
                .any(|p| name.starts_with(p))
                && name.ends_with(".csv")
            {
                let bytes = std::fs::read(e.path())
                    .map_err(|err| RunError::Other(format!("{}: {err}", e.path().display())))?;
                files.push(dir.write(&name, &bytes)?);
            }
        }
    }
    let summary =
        summarize(&record, &dir.file("runs.csv")).map_err(|e| RunError::Other(e.to_string()))?;
    let summary_text =
        serde_json::to_string_pretty(&summary).map_err(|e| RunError::Other(e.to_string()))?;
    files.push(dir.write("summary.json", summary_text.as_bytes())?);
    files.sort();
    Ok(files)
}
