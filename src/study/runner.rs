//! `stzlab run` for a scenario with a `[study]`: every cell and repeat in parallel (results in run
//! order whatever the threads), `runs.csv` with the study's numbers, each cell's tables for its
//! first repeat, and `summary.json` with per-cell statistics and the study's `headline`.

use std::time::Instant;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::{run_study, Outcome};
use crate::files::{Field, Named, OutputDir, Table};
use crate::noise::rng_from_seed;
use crate::pipeline::drive::{finish, plan_json, RunError, RunOptions, RunReport};
use crate::pipeline::progress::Progress;
use crate::pipeline::score::Stats;
use crate::scenario::Plan;

/// `summary.json` of a study: per cell the statistics of each of the study's numbers, and the
/// headline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudySummary {
    /// The scenario's name.
    pub scenario: String,
    /// The study's kind.
    pub study: String,
    /// Runs (cells x repeats).
    pub runs: usize,
    /// Repeats per cell.
    pub repeats: usize,
    /// Axis paths, in order.
    pub axes: Vec<String>,
    /// The median of each number over the first cell's repeats (null where none is finite).
    pub headline: Named<Option<f64>>,
    /// What the headline is ([`HEADLINE_NOTE`]).
    pub headline_note: String,
    /// The study's numbers, in `runs.csv`'s column order.
    pub numbers: Vec<String>,
    /// One entry per cell.
    pub cells: Vec<StudyCell>,
}

/// One cell of a study.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyCell {
    /// Cell index.
    pub cell: usize,
    /// The cell's axis values (numbers, strings or booleans as in the scenario; a table's label).
    pub axes: Map<String, Value>,
    /// Statistics of each number over the cell's repeats.
    pub metrics: Named<Stats>,
}

/// What a study's headline is.
pub const HEADLINE_NOTE: &str = "medians over the first cell's repeats";

/// Runs the study of every cell of `plan` (its scenarios carry a `[study]`).
///
/// # Errors
/// [`RunError`]: `--shard` and `--resume` (studies run in one piece), the output folder, a study
/// that cannot use its input.
pub fn run(plan: &Plan, options: &RunOptions) -> Result<RunReport<StudySummary>, RunError> {
    let started = Instant::now();
    if options.shard != (1, 1) || options.resume {
        return Err(RunError::Usage(
            "--shard and --resume apply to inversion sweeps; a study runs in one piece".into(),
        ));
    }
    let kind = plan
        .resolved
        .study
        .as_ref()
        .map(|s| s.kind.name())
        .unwrap_or_default();
    let mut record = plan_json(plan);
    record["study"] = json!(kind);
    let record_text =
        serde_json::to_string_pretty(&record).map_err(|e| RunError::Other(e.to_string()))?;
    // The folder first: a non-empty one without --force is refused before any work.
    let dir = OutputDir::prepare(&options.output, options.force)?;
    dir.remove_cell_files()?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.threads)
        .build()
        .map_err(|e| RunError::Other(e.to_string()))?;
    let progress = Progress::new(options.quiet, plan.runs(), 0);
    let outcomes: Vec<Result<Outcome, String>> = pool.install(|| {
        (0..plan.runs())
            .into_par_iter()
            .map(|run| {
                let cell = run / plan.repeats;
                let scenario = &plan.cells[cell].scenario;
                let mut rng = rng_from_seed(plan.run_seed(run));
                let outcome = run_study(scenario, &mut rng, run % plan.repeats == 0);
                progress.advance(1);
                outcome.map_err(|e| {
                    let at: Vec<String> = plan
                        .axes
                        .iter()
                        .zip(&plan.cells[cell].labels)
                        .map(|(a, l)| format!("{} = {l}", a.path))
                        .collect();
                    if at.is_empty() {
                        e.to_string()
                    } else {
                        format!("cell {}: {e}", at.join(", "))
                    }
                })
            })
            .collect()
    });
    progress.finish();
    let outcomes: Vec<Outcome> = outcomes
        .into_iter()
        .collect::<Result<_, _>>()
        .map_err(|m| RunError::Usage(format!("{}: {m}", plan.file)))?;
    let names: Vec<String> = outcomes[0].numbers.iter().map(|(n, _)| n.clone()).collect();

    let mut files = vec![dir.write("scenario.json", record_text.as_bytes())?];
    let mut header: Vec<String> = ["run", "cell", "repeat", "seed"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    header.extend(plan.axes.iter().map(|a| a.path.clone()));
    header.extend(names.iter().cloned());
    let mut runs = Table::new(&header);
    for (run, o) in outcomes.iter().enumerate() {
        let cell = run / plan.repeats;
        let mut row = plan.run_fields(run);
        row.extend(
            names
                .iter()
                .map(|n| Field::from(o.get(n).filter(|v| v.is_finite()))),
        );
        runs.push(row);
        for (name, table) in &o.tables {
            files.push(dir.write(
                &format!("{name}_cell{cell:04}.csv"),
                table.to_csv().as_bytes(),
            )?);
        }
    }
    files.push(dir.write("runs.csv", runs.to_csv().as_bytes())?);

    // Summary: statistics per cell and number; the headline is the first cell's medians.
    let mut cells = Vec::new();
    for (c, cell) in plan.cells.iter().enumerate() {
        let runs = &outcomes[c * plan.repeats..(c + 1) * plan.repeats];
        let mut axes = Map::new();
        for (axis, label) in plan.axes.iter().zip(&cell.labels) {
            // Labels are unique within an axis.
            let value = axis
                .labels
                .iter()
                .position(|l| l == label)
                .map(|k| &axis.values[k]);
            let v = match value {
                Some(toml::Value::Integer(i)) => json!(i),
                Some(toml::Value::Float(f)) => json!(f),
                Some(toml::Value::Boolean(b)) => json!(b),
                Some(toml::Value::String(s)) => json!(s),
                _ => json!(label),
            };
            axes.insert(axis.path.clone(), v);
        }
        let metrics = names
            .iter()
            .map(|n| {
                let values: Vec<f64> = runs.iter().map(|o| o.get(n).unwrap_or(f64::NAN)).collect();
                (n.clone(), Stats::of(&values))
            })
            .collect();
        cells.push(StudyCell {
            cell: c,
            axes,
            metrics,
        });
    }
    let headline = names
        .iter()
        .map(|n| {
            let values: Vec<f64> = outcomes[..plan.repeats]
                .iter()
                .map(|o| o.get(n).unwrap_or(f64::NAN))
                .collect();
            let s = Stats::of(&values);
            (n.clone(), (s.count > 0).then_some(s.median))
        })
        .collect();
    let summary = StudySummary {
        scenario: plan.name.clone(),
        study: kind.to_string(),
        runs: plan.runs(),
        repeats: plan.repeats,
        axes: plan.axes.iter().map(|a| a.path.clone()).collect(),
        headline,
        headline_note: HEADLINE_NOTE.to_string(),
        numbers: names,
        cells,
    };
    finish(&dir, files, summary, plan.runs(), 0, started)
}
