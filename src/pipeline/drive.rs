//! What the sweep and study drivers share: how a run is asked for ([`RunOptions`]), what it reports
//! ([`RunReport`], [`RunError`]), the run record written as `scenario.json`, and the last step that
//! writes `summary.json`.

use std::path::PathBuf;
use std::time::Instant;

use super::simulate::hierarchy_percolation;
use crate::files::{OutputDir, OutputError};
use crate::scenario::Plan;

/// How to run a sweep.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Output folder.
    pub output: PathBuf,
    /// Worker threads (0: all cores).
    pub threads: usize,
    /// This shard, 1-based, and the number of shards.
    pub shard: (usize, usize),
    /// Continue an interrupted run in `output`.
    pub resume: bool,
    /// Overwrite a non-empty `output`.
    pub force: bool,
    /// No progress display.
    pub quiet: bool,
}

/// What a finished sweep or study reports; `S` is its summary (`summary.json`'s content).
#[derive(Debug, Clone)]
pub struct RunReport<S> {
    /// Runs executed now (not counting resumed ones).
    pub executed: usize,
    /// Runs already present when resuming.
    pub resumed: usize,
    /// Seconds spent.
    pub seconds: f64,
    /// Files written.
    pub files: Vec<PathBuf>,
    /// The summary.
    pub summary: S,
}

/// Why a sweep failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Bad options or an output folder that does not belong to this sweep.
    #[error("{0}")]
    Usage(String),
    /// Output folder.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// Anything else (I/O, simulation).
    #[error("{0}")]
    Other(String),
}

/// The content of `scenario.json`.
pub(crate) fn plan_json(plan: &Plan) -> serde_json::Value {
    let mut v = serde_json::to_value(plan.record()).unwrap_or_default();
    // STZ percolation numbers (paper section 12) of every cell with a hierarchy truth.
    let percolation: Vec<serde_json::Value> = plan
        .cells
        .iter()
        .flat_map(|c| {
            hierarchy_percolation(&c.scenario)
                .into_iter()
                .map(move |(t, p)| {
                    let mut e = serde_json::to_value(p).unwrap_or_default();
                    e["cell"] = c.index.into();
                    e["temperature_k"] = t.into();
                    e
                })
        })
        .collect();
    if !percolation.is_empty() {
        v["percolation"] = serde_json::Value::Array(percolation);
    }
    // Axis values as JSON (numbers stay numbers; tables are kept whole).
    if let Some(axes) = v["axes"].as_array_mut() {
        for (a, axis) in axes.iter_mut().zip(&plan.axes) {
            a["values"] = serde_json::Value::Array(
                axis.values
                    .iter()
                    .map(|x| serde_json::to_value(x).unwrap_or_default())
                    .collect(),
            );
        }
    }
    v
}

/// Writes `summary.json` and reports a finished run (files sorted, each once).
pub(crate) fn finish<S: serde::Serialize>(
    dir: &OutputDir,
    mut files: Vec<PathBuf>,
    summary: S,
    executed: usize,
    resumed: usize,
    started: Instant,
) -> Result<RunReport<S>, RunError> {
    let summary_text =
        serde_json::to_string_pretty(&summary).map_err(|e| RunError::Other(e.to_string()))?;
    files.push(dir.write("summary.json", summary_text.as_bytes())?);
    files.sort();
    files.dedup();
    Ok(RunReport {
        executed,
        resumed,
        seconds: started.elapsed().as_secs_f64(),
        files,
        summary,
    })
}

/// Parses `--shard k/N` (1-based).
///
/// # Errors
/// A message when the text is not `k/N` with 1 <= k <= N.
pub fn parse_shard(text: &str) -> Result<(usize, usize), String> {
    let parsed = text
        .split_once('/')
        .and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)));
    match parsed {
        Some((k, n)) if k >= 1 && k <= n => Ok((k, n)),
        _ => Err(format!(
            "--shard {text}: expected k/N with 1 <= k <= N, e.g. 2/8"
        )),
    }
}

/// The default output folder of a run: `results/<name>`, or `results/<name>/shard-k-of-N`.
pub fn default_output(name: &str, shard: (usize, usize)) -> PathBuf {
    let base = PathBuf::from("results").join(name);
    if shard.1 > 1 {
        base.join(format!("shard-{}-of-{}", shard.0, shard.1))
    } else {
        base
    }
}
