//! `summary.json` from `runs.csv`, streaming: runs are stored cell by cell, so only one cell's
//! values are held at a time. The same function serves `run`, `--resume` and `merge`, which is what
//! makes a merged summary byte-identical to the unsharded one.

use std::io::BufRead;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::files::Named;
use crate::pipeline::score::{Stats, METRICS, ORACLE};

/// Metrics summarized over the whole sweep per rule (`overall` in summary.json).
pub const OVERALL_METRICS: [&str; 4] = ["regret_l2", "rel_l2", "regret", "spectrum_l1"];

/// Column layout of `runs.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// Axis paths, in order.
    pub axes: Vec<String>,
}

impl Layout {
    /// The header fields.
    pub fn header(&self) -> Vec<String> {
        let mut h: Vec<String> = ["run", "cell", "repeat", "seed"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        h.extend(self.axes.iter().cloned());
        h.push("temperature_k".into());
        h.push("rule".into());
        h.extend(METRICS.iter().map(|s| s.to_string()));
        h.push("status".into());
        h
    }

    fn metric_start(&self) -> usize {
        4 + self.axes.len() + 2
    }
}

/// Why `runs.csv` could not be summarized.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct SummaryError {
    /// The runs file.
    pub file: String,
    /// What is wrong with it (I/O, CSV syntax, header, an unknown rule, a bad number).
    pub message: String,
}

/// `summary.json` of a sweep: per cell and rule the statistics of every metric, each cell's best
/// rule, each rule over the whole sweep, and the bootstrap coverage where runs carry it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepSummary {
    /// The scenario's name.
    pub scenario: String,
    /// Runs found in `runs.csv`.
    pub runs: usize,
    /// Runs the plan has (a shard's summary covers only its own).
    pub runs_planned: usize,
    /// Whether every planned run is in.
    pub complete: bool,
    /// Repeats per cell.
    pub repeats: usize,
    /// Axis paths, in order.
    pub axes: Vec<String>,
    /// Rules that ran, in order, the oracle last.
    pub rules: Vec<String>,
    /// The metrics of `runs.csv`, in its column order ([`METRICS`]).
    pub metrics: Vec<String>,
    /// One entry per cell and rule.
    pub cells: Vec<CellRule>,
    /// Each cell's rule of lowest median regret.
    pub best_rule: Vec<BestRule>,
    /// Each rule over every run of the sweep.
    pub overall: Vec<OverallRule>,
    /// STZ percolation numbers of the cells with a hierarchy truth, as in `scenario.json` (null
    /// when none).
    #[serde(default)]
    pub percolation: Value,
    /// Coverage of the bootstrap intervals, per cell (left out when no run has uncertainty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub coverage: Vec<Coverage>,
}

/// One rule in one cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellRule {
    /// Cell index.
    pub cell: usize,
    /// The cell's axis values (numbers, strings or booleans as in the scenario; a table's label).
    pub axes: Map<String, Value>,
    /// Rule name (with its parameters), or `oracle`.
    pub rule: String,
    /// Statistics of each metric over the cell's runs.
    pub metrics: Named<Stats>,
    /// How many runs ended in each status (none for the oracle).
    pub status: Named<usize>,
}

/// A cell's best rule by median regret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BestRule {
    /// Cell index.
    pub cell: usize,
    /// The cell's axis values.
    pub axes: Map<String, Value>,
    /// The rule (none when no rule gave a regret).
    pub rule: Option<String>,
    /// Its median regret.
    pub median_regret: Option<f64>,
    /// The cell's representative spectra.
    pub spectrum_file: String,
}

/// A rule over the whole sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OverallRule {
    /// Rule name.
    pub rule: String,
    /// Each overall metric (`regret_l2`, `rel_l2`, `regret`, `spectrum_l1`) over every run.
    pub metrics: Named<OverallMetric>,
    /// How many runs ended in each status (none for the oracle).
    pub status: Named<usize>,
}

/// One metric of a rule over the whole sweep.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OverallMetric {
    /// Statistics of the runs that gave a value.
    pub stats: Stats,
    /// Runs where the rule gave no value.
    pub missing: usize,
}

/// A cell's coverage of the nominal bootstrap intervals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Coverage {
    /// Cell index.
    pub cell: usize,
    /// The cell's axis values.
    pub axes: Map<String, Value>,
    /// The rule the bootstrap ran for.
    pub rule: String,
    /// The intervals' nominal level.
    pub nominal: f64,
    /// Per quantity (density, tau, area, slope): the mean fraction of truths inside.
    pub coverage: Named<CoverageMean>,
}

/// The mean coverage of one quantity.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CoverageMean {
    /// Mean over the runs of the fraction of truths inside the intervals.
    pub mean: f64,
    /// Runs that gave it.
    pub runs: usize,
}

/// Builds the summary from `scenario.json`'s content and `runs.csv`.
///
/// # Errors
/// I/O and parse errors, with the file named.
pub fn summarize(record: &Value, runs_csv: &Path) -> Result<SweepSummary, SummaryError> {
    let bad = |message: String| SummaryError {
        file: runs_csv.display().to_string(),
        message,
    };
    let axes: Vec<(String, Vec<Value>, Vec<String>)> = record["axes"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|ax| {
                    (
                        ax["path"].as_str().unwrap_or_default().to_string(),
                        ax["values"].as_array().cloned().unwrap_or_default(),
                        ax["labels"]
                            .as_array()
                            .map(|l| {
                                l.iter()
                                    .map(|s| s.as_str().unwrap_or_default().to_string())
                                    .collect()
                            })
                            .unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let mut rules: Vec<String> = record["scenario"]["inversion"]["rules"]
        .as_array()
        .map(|r| {
            r.iter()
                .map(|s| s.as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default();
    rules.push(ORACLE.into());
    let layout = Layout {
        axes: axes.iter().map(|a| a.0.clone()).collect(),
    };
    let file = std::fs::File::open(runs_csv).map_err(|e| bad(e.to_string()))?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(std::io::BufReader::new(file));
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| bad(e.to_string()))?
        .iter()
        .map(str::to_string)
        .collect();
    if header != layout.header() {
        return Err(bad("unexpected header".into()));
    }
    let start = layout.metric_start();
    let rule_col = start - 1;
    let mut cells = Vec::new();
    let mut best = Vec::new();
    let mut runs_seen = std::collections::BTreeSet::new();
    // values[rule][metric] for the current cell.
    let mut current: Option<usize> = None;
    let mut values: Vec<Vec<Vec<f64>>> = vec![vec![Vec::new(); METRICS.len()]; rules.len()];
    // Over the whole sweep: every value of the overall metrics per rule, and every status.
    let overall_metrics: Vec<usize> = OVERALL_METRICS
        .iter()
        .map(|m| METRICS.iter().position(|n| n == m).expect("a metric"))
        .collect();
    let mut overall: Vec<Vec<Vec<f64>>> =
        vec![vec![Vec::new(); OVERALL_METRICS.len()]; rules.len()];
    let mut overall_status: Vec<Named<usize>> = vec![Named::default(); rules.len()];
    // statuses[rule]: the counts of the current cell.
    let mut statuses: Vec<Named<usize>> = vec![Named::default(); rules.len()];
    // Rows per rule over the whole sweep: a rule no cell ran (the base list under an axis that
    // sets inversion.rules) is left out of the summary.
    let mut rows_of: Vec<usize> = vec![0; rules.len()];
    let mut coverage = Vec::new();
    let mut flush = |cell: usize,
                     rules: &[String],
                     values: &mut Vec<Vec<Vec<f64>>>,
                     statuses: &mut Vec<Named<usize>>,
                     cells: &mut Vec<CellRule>,
                     best: &mut Vec<BestRule>| {
        let mut cell_axes = Map::new();
        let mut rest = cell;
        let mut picks = vec![0; axes.len()];
        for (k, (_, vals, _)) in axes.iter().enumerate().rev() {
            let len = vals.len().max(1);
            picks[k] = rest % len;
            rest /= len;
        }
        for ((path, vals, labels), &p) in axes.iter().zip(&picks) {
            let v = match vals.get(p) {
                Some(v @ (Value::Number(_) | Value::String(_) | Value::Bool(_))) => v.clone(),
                _ => Value::String(labels.get(p).cloned().unwrap_or_default()),
            };
            cell_axes.insert(path.clone(), v);
        }
        let mut best_rule: Option<(String, f64)> = None;
        for (r, rule) in rules.iter().enumerate() {
            // A rule this cell did not run (an axis over a rule parameter).
            if values[r][0].is_empty() {
                continue;
            }
            if let Some(c) = coverage_entry(cell, &cell_axes, rule, &values[r]) {
                coverage.push(c);
            }
            let metrics: Named<Stats> = METRICS
                .iter()
                .enumerate()
                .map(|(m, name)| (name.to_string(), Stats::of(&values[r][m])))
                .collect();
            if rule != ORACLE {
                if let Some(s) = metrics.get("regret").filter(|s| s.count > 0) {
                    if best_rule.as_ref().is_none_or(|(_, b)| s.median < *b) {
                        best_rule = Some((rule.clone(), s.median));
                    }
                }
            }
            cells.push(CellRule {
                cell,
                axes: cell_axes.clone(),
                rule: rule.clone(),
                metrics,
                status: std::mem::take(&mut statuses[r]),
            });
            for v in values[r].iter_mut() {
                v.clear();
            }
        }
        best.push(BestRule {
            cell,
            axes: cell_axes,
            rule: best_rule.as_ref().map(|b| b.0.clone()),
            median_regret: best_rule.as_ref().map(|b| b.1),
            spectrum_file: spectrum_file_name(cell),
        });
    };
    for record in reader.records() {
        let record = record.map_err(|e| bad(e.to_string()))?;
        let run: usize = record[0]
            .parse()
            .map_err(|e| bad(format!("run {:?}: {e}", &record[0])))?;
        let cell: usize = record[1]
            .parse()
            .map_err(|e| bad(format!("cell {:?}: {e}", &record[1])))?;
        runs_seen.insert(run);
        if current != Some(cell) {
            if let Some(c) = current {
                flush(c, &rules, &mut values, &mut statuses, &mut cells, &mut best);
            }
            current = Some(cell);
        }
        let name = &record[rule_col];
        let r = match rules.iter().position(|n| n == name) {
            Some(r) => r,
            // An axis over a rule parameter: each value is its own rule instance (its name carries
            // the parameter); it joins the list before the oracle.
            None if crate::inversion::Rule::parse(name).is_ok() => {
                let r = rules.len() - 1;
                rules.insert(r, name.to_string());
                values.insert(r, vec![Vec::new(); METRICS.len()]);
                overall.insert(r, vec![Vec::new(); OVERALL_METRICS.len()]);
                overall_status.insert(r, Named::default());
                statuses.insert(r, Named::default());
                rows_of.insert(r, 0);
                r
            }
            None => return Err(bad(format!("unknown rule {name:?} in run {run}"))),
        };
        rows_of[r] += 1;
        for m in 0..METRICS.len() {
            let text = &record[start + m];
            let v = if text.is_empty() {
                f64::NAN
            } else {
                text.parse::<f64>()
                    .map_err(|e| bad(format!("{text:?} in run {run}: {e}")))?
            };
            values[r][m].push(v);
        }
        for (k, &m) in overall_metrics.iter().enumerate() {
            overall[r][k].push(*values[r][m].last().expect("just pushed"));
        }
        let status = &record[start + METRICS.len()];
        if !status.is_empty() {
            statuses[r].count(status);
            overall_status[r].count(status);
        }
    }
    if let Some(c) = current {
        flush(c, &rules, &mut values, &mut statuses, &mut cells, &mut best);
    }
    let total = record["runs"].as_u64().unwrap_or(0) as usize;
    // The whole sweep's table, rule by rule: each overall metric's statistics over every run (a
    // run where the rule gave no value counts in `missing`, not in the statistics).
    let ran: Vec<usize> = (0..rules.len()).filter(|&r| rows_of[r] > 0).collect();
    let overall = ran
        .iter()
        .map(|&r| OverallRule {
            rule: rules[r].clone(),
            metrics: OVERALL_METRICS
                .iter()
                .zip(&overall[r])
                .map(|(name, v)| {
                    let stats = Stats::of(v);
                    let missing = v.len() - stats.count;
                    (name.to_string(), OverallMetric { stats, missing })
                })
                .collect(),
            status: overall_status[r].clone(),
        })
        .collect();
    Ok(SweepSummary {
        scenario: record["scenario"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        runs: runs_seen.len(),
        runs_planned: total,
        complete: runs_seen.len() == total,
        repeats: record["repeats"].as_u64().unwrap_or(0) as usize,
        axes: layout.axes,
        rules: ran.iter().map(|&r| rules[r].clone()).collect(),
        metrics: METRICS.iter().map(|m| m.to_string()).collect(),
        cells,
        best_rule: best,
        overall,
        percolation: record.get("percolation").cloned().unwrap_or(Value::Null),
        coverage,
    })
}

/// The coverage metrics, in [`METRICS`] order of their columns.
const COVERAGE: [(&str, &str); 4] = [
    ("density", "cover_density"),
    ("tau", "cover_tau"),
    ("area", "cover_area"),
    ("slope", "cover_slope"),
];

/// A cell's coverage table for `rule` (the one the bootstrap ran for), when its runs carry
/// coverage: for each quantity the mean over the runs of the fraction of truths inside the nominal
/// 90 % intervals, and the number of runs that gave it.
fn coverage_entry(
    cell: usize,
    axes: &Map<String, Value>,
    rule: &str,
    values: &[Vec<f64>],
) -> Option<Coverage> {
    let table: Named<CoverageMean> = COVERAGE
        .iter()
        .filter_map(|(name, metric)| {
            let m = METRICS.iter().position(|n| n == metric).expect("a metric");
            let s = Stats::of(&values[m]);
            (s.count > 0).then(|| {
                (
                    name.to_string(),
                    CoverageMean {
                        mean: s.mean,
                        runs: s.count,
                    },
                )
            })
        })
        .collect();
    (!table.0.is_empty()).then(|| Coverage {
        cell,
        axes: axes.clone(),
        rule: rule.to_string(),
        nominal: crate::pipeline::uncertainty::NOMINAL_LEVEL,
        coverage: table,
    })
}

/// The representative spectrum file of a cell.
pub fn spectrum_file_name(cell: usize) -> String {
    format!("spectrum_cell{cell:04}.csv")
}

/// Reads the run indices whose rows are complete (`rows_per_run` rows each) from a `runs.csv`
/// prefix, returning the bytes up to the last complete run.
///
/// # Errors
/// When the header differs from `header` (another scenario's results), or a damaged line is
/// followed by complete rows (dropping them silently would lose finished runs).
pub fn complete_prefix(
    text: &[u8],
    header: &str,
    rows_per_run: impl Fn(usize) -> usize,
) -> Result<(usize, Vec<usize>), String> {
    let mut reader = std::io::BufReader::new(text);
    let mut line = String::new();
    let mut offset = 0usize;
    reader.read_line(&mut line).map_err(|e| e.to_string())?;
    if line.trim_end_matches('\n') != header {
        return Err(
            "runs.csv has a different header: these results come from another scenario".into(),
        );
    }
    offset += line.len();
    let mut good_end = offset;
    let mut runs = Vec::new();
    let mut pending: Option<(usize, usize)> = None;
    let mut number = 1;
    loop {
        line.clear();
        let n = reader.read_line(&mut line).map_err(|e| e.to_string())?;
        if n == 0 || !line.ends_with('\n') {
            break;
        }
        offset += n;
        number += 1;
        let run = line.split(',').next().and_then(|r| r.parse::<usize>().ok());
        let problem = match (run, pending) {
            (None, _) => Some("it does not start with a run index"),
            (Some(run), Some((r, _))) if run != r => {
                Some("it starts a new run before the previous one is complete")
            }
            _ => None,
        };
        if let Some(problem) = problem {
            // A torn end (an interrupted write) is dropped and redone; damage with complete rows
            // after it would silently lose those rows, so it is refused.
            line.clear();
            let rest = reader.read_line(&mut line).map_err(|e| e.to_string())?;
            if rest > 0 && line.ends_with('\n') {
                return Err(format!(
                    "runs.csv line {number}: {problem}, and complete rows follow it: the file was \
                     damaged or edited; repair or delete that line, or start again with --force"
                ));
            }
            break;
        }
        let run = run.expect("checked above");
        pending = match pending {
            Some((r, k)) => Some((r, k + 1)),
            None => Some((run, 1)),
        };
        if let Some((r, k)) = pending {
            if k == rows_per_run(r) {
                runs.push(r);
                good_end = offset;
                pending = None;
            }
        }
    }
    Ok((good_end, runs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_damaged_middle_line_is_refused_not_truncated() {
        let text = b"run,x\n0,a\n0,b\nXX,a\n1,b\n2,a\n2,b\n";
        let e = complete_prefix(text, "run,x", |_| 2).unwrap_err();
        assert!(
            e.contains("line 4") && e.contains("complete rows follow"),
            "{e}"
        );
        let text = b"run,x\n0,a\n1,a\n1,b\n";
        assert!(complete_prefix(text, "run,x", |_| 2).is_err());
        // Damage on the last line alone is an interrupted write: dropped.
        let text = b"run,x\n0,a\n0,b\n#junk\n";
        let (end, runs) = complete_prefix(text, "run,x", |_| 2).unwrap();
        assert_eq!((runs, end), (vec![0], 14));
    }

    #[test]
    fn a_torn_last_run_is_dropped() {
        let text = b"run,x\n0,a\n0,b\n1,a\n1,b\n2,a\n2,";
        let (end, runs) = complete_prefix(text, "run,x", |_| 2).unwrap();
        assert_eq!(runs, [0, 1]);
        assert_eq!(&text[..end], b"run,x\n0,a\n0,b\n1,a\n1,b\n");
        assert!(complete_prefix(text, "run,y", |_| 2).is_err());
    }

    #[test]
    fn runs_may_have_different_row_counts() {
        // Run 0 has one row, runs 1 and 2 three (say, more DMA temperatures in their cell).
        let text = b"run,x\n0,a\n1,a\n1,b\n1,c\n2,a\n2,b\n";
        let rows = |run: usize| if run == 0 { 1 } else { 3 };
        let (end, runs) = complete_prefix(text, "run,x", rows).unwrap();
        assert_eq!(runs, [0, 1]);
        assert_eq!(&text[..end], b"run,x\n0,a\n1,a\n1,b\n1,c\n");
    }
}
