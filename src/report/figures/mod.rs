//! The figures of an output folder, built from the files a command wrote there (so drawing never
//! touches the inversion), and the report that shows them: `write_report` renders every figure
//! as SVG and writes `index.html`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::html::index_html;
use super::plot::{render, Figure};
use super::provenance::Provenance;
use crate::files::OutputDir;

mod invert;
mod study;
mod sweep;
#[cfg(test)]
mod tests;

use invert::invert_figures;
use study::study_figures;
use sweep::sweep_figures;

/// How a recovered peak is drawn on the spectrum figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PeakClass {
    /// In the data window, its area at least [`NOISE_SIGNIFICANCE`] standard errors (or no error).
    Firm,
    /// In the data window, its area below [`NOISE_SIGNIFICANCE`] standard errors.
    Weak,
    /// Outside the data window.
    Outside,
}

/// A CSV file read as text cells.
struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn read(path: &Path) -> Option<Self> {
        let mut r = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_path(path)
            .ok()?;
        let header = r.headers().ok()?.iter().map(str::to_string).collect();
        let rows = r
            .records()
            .filter_map(Result::ok)
            .map(|rec| rec.iter().map(str::to_string).collect())
            .collect();
        Some(Self { header, rows })
    }

    fn has(&self, name: &str) -> bool {
        self.header.iter().any(|h| h == name)
    }

    fn s<'a>(&'a self, row: &'a [String], name: &str) -> &'a str {
        self.header
            .iter()
            .position(|h| h == name)
            .and_then(|i| row.get(i))
            .map_or("", String::as_str)
    }

    fn f(&self, row: &[String], name: &str) -> f64 {
        self.s(row, name).parse().unwrap_or(f64::NAN)
    }

    /// Rows grouped by the text of column `key` (one group of all rows without it), in order of
    /// first appearance.
    fn groups(&self, key: &str) -> Vec<(String, Vec<&Vec<String>>)> {
        let mut out: Vec<(String, Vec<&Vec<String>>)> = Vec::new();
        for row in &self.rows {
            let k = if self.has(key) {
                self.s(row, key).to_string()
            } else {
                String::new()
            };
            match out.iter_mut().find(|(g, _)| *g == k) {
                Some((_, rows)) => rows.push(row),
                None => out.push((k, vec![row])),
            }
        }
        out
    }

    /// Column `col` at `lambda`, linear in ln lambda between the rows (rows ascending in lambda);
    /// the end value outside.
    fn at(&self, rows: &[&Vec<String>], col: &str, lambda: f64) -> f64 {
        let pts: Vec<(f64, f64)> = self
            .points(rows, "lambda", col)
            .into_iter()
            .filter(|(l, v)| *l > 0.0 && v.is_finite())
            .map(|(l, v)| (l.ln(), v))
            .collect();
        let x = lambda.ln();
        match pts.iter().position(|p| p.0 >= x) {
            None => pts.last().map_or(f64::NAN, |p| p.1),
            Some(0) => pts[0].1,
            Some(k) => {
                let (a, b) = (pts[k - 1], pts[k]);
                a.1 + (b.1 - a.1) * (x - a.0) / (b.0 - a.0)
            }
        }
    }

    fn points(&self, rows: &[&Vec<String>], x: &str, y: &str) -> Vec<(f64, f64)> {
        rows.iter().map(|r| (self.f(r, x), self.f(r, y))).collect()
    }

    /// (x, lower, upper) of a shaded band.
    fn band(&self, rows: &[&Vec<String>], x: &str, lo: &str, hi: &str) -> Vec<(f64, f64, f64)> {
        rows.iter()
            .map(|r| (self.f(r, x), self.f(r, lo), self.f(r, hi)))
            .collect()
    }
}

/// "560 K" for a temperature group key, or the fallback.
fn t_label(key: &str, fallback: &str) -> String {
    if key.is_empty() {
        fallback.to_string()
    } else {
        format!("{key} K")
    }
}

/// The cell files `<stem>_cellNNNN.csv` of a folder, by cell number.
fn cell_files(dir: &Path, stem: &str) -> Vec<(usize, PathBuf)> {
    let mut out: Vec<(usize, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let cell = name
                .strip_prefix(&format!("{stem}_cell"))?
                .strip_suffix(".csv")?
                .parse()
                .ok()?;
            Some((cell, e.path()))
        })
        .collect();
    out.sort();
    out
}

/// What a folder holds, from its summary.json.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Invert,
    Sweep,
    Study,
}

fn kind_of(summary: &Value) -> Option<Kind> {
    if summary.get("study").is_some() {
        Some(Kind::Study)
    } else if summary.get("cells").is_some() && summary.get("rules").is_some() {
        Some(Kind::Sweep)
    } else if summary.get("rule").is_some() && summary.get("kind").is_some() {
        Some(Kind::Invert)
    } else {
        None
    }
}

/// The figures for the output folder `dir` (from its files; none when it holds no summary.json).
///
/// # Errors
/// A sweep's or study's summary.json that does not read as [`SweepSummary`] or [`StudySummary`]
/// (a damaged file, or one from another version).
pub fn figures_for(dir: &Path) -> Result<Vec<Figure>, String> {
    let Some(summary) = read_summary(dir) else {
        return Ok(Vec::new());
    };
    let typed = |e: serde_json::Error| format!("{}: {e}", dir.join("summary.json").display());
    Ok(match kind_of(&summary) {
        Some(Kind::Invert) => invert_figures(dir, &summary),
        Some(Kind::Sweep) => sweep_figures(dir, &serde_json::from_value(summary).map_err(typed)?),
        Some(Kind::Study) => study_figures(dir, &serde_json::from_value(summary).map_err(typed)?),
        None => Vec::new(),
    })
}

fn read_summary(dir: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(dir.join("summary.json")).ok()?;
    serde_json::from_str(&text).ok()
}

/// Renders the folder's figures and writes them with `index.html`. A figure that cannot be drawn is
/// reported in the returned warnings and left out; the numbers are never touched. The page's
/// header shows the folder's provenance.json (see [`Provenance::write`]) when it has one.
///
/// # Errors
/// When the folder cannot be written.
pub fn write_report(dir: &Path) -> Result<(Vec<PathBuf>, Vec<String>), crate::files::OutputError> {
    let out = OutputDir::open(dir)?;
    let provenance = Provenance::read(dir);
    let summary = read_summary(dir).unwrap_or(Value::Null);
    let mut files = Vec::new();
    let mut warnings = Vec::new();
    let mut shown = Vec::new();
    let figs = figures_for(dir).unwrap_or_else(|e| {
        warnings.push(format!("no figures: {e}"));
        Vec::new()
    });
    // Figures of an earlier run into this folder (say, one with more cells) that this one does not
    // draw would sit next to the new ones unshown: only stzlab's own figure names are removed.
    for entry in std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if is_figure_name(&name) && !figs.iter().any(|f| f.file == name) {
            std::fs::remove_file(entry.path()).map_err(|source| crate::files::OutputError::Io {
                path: entry.path(),
                source,
            })?;
        }
    }
    for fig in figs {
        match render(&fig) {
            Ok(svg) => {
                files.push(out.write(&fig.file, svg.as_bytes())?);
                shown.push(fig);
            }
            Err(e) => warnings.push(format!("figure {} not drawn: {e}", fig.file)),
        }
    }
    // The scenario (run) or the data file (invert) names the page, not the folder, so that a
    // merged sweep's page is the unsharded one's.
    let title = summary["scenario"]
        .as_str()
        .or(summary["data"].as_str())
        .map(str::to_string)
        .or_else(|| dir.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "stzlab".to_string());
    // Every table of the folder, linked from the page (sorted: the listing order is the file
    // system's).
    let mut tables: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".csv") || n.ends_with(".json"))
        .collect();
    tables.sort();
    files.push(out.write(
        "index.html",
        index_html(&title, &summary, &shown, &tables, provenance.as_ref()).as_bytes(),
    )?);
    Ok((files, warnings))
}

/// Whether `name` is one of the figure files stzlab writes.
fn is_figure_name(name: &str) -> bool {
    let Some(stem) = name.strip_suffix(".svg") else {
        return false;
    };
    if [
        "fit", "spectrum", "lcurve", "scores", "metrics", "omega", "regret",
    ]
    .contains(&stem)
    {
        return true;
    }
    stem.rsplit_once("_cell").is_some_and(|(kind, n)| {
        n.len() == 4
            && n.bytes().all(|b| b.is_ascii_digit())
            && [
                "spectra",
                "stretched",
                "tts",
                "stepping",
                "grouping",
                "bending",
            ]
            .contains(&kind)
    })
}

/// A numeric axis: its path and each cell's value.
type NumericAxis = (String, BTreeMap<u64, f64>);

/// Each cell's axis values as text; a numeric axis (of those whose value is a number in every cell,
/// with at least two distinct values, the one with the most values) and each cell's condition: the values of the other axes
/// as text (empty with one axis). Cells of one condition differ only along the numeric axis.
fn cell_axes<'a>(
    cells: impl Iterator<Item = (usize, &'a serde_json::Map<String, Value>)>,
) -> (
    BTreeMap<u64, String>,
    Option<NumericAxis>,
    BTreeMap<u64, String>,
) {
    let mut text = BTreeMap::new();
    let mut paths: Vec<String> = Vec::new();
    let mut all: BTreeMap<u64, serde_json::Map<String, Value>> = BTreeMap::new();
    for (cell, axes) in cells {
        let cell = cell as u64;
        for k in axes.keys() {
            if !paths.contains(k) {
                paths.push(k.clone());
            }
        }
        let label: Vec<String> = axes
            .iter()
            .map(|(k, v)| format!("{k} = {}", short(v)))
            .collect();
        text.insert(cell, label.join(", "));
        all.insert(cell, axes.clone());
    }
    // The x axis: the numeric axis with the most distinct values; among equals one of fractional
    // values (a noise level) before one of whole numbers (a penalty order), then the first.
    let numeric = paths
        .iter()
        .enumerate()
        .filter_map(|(rank, p)| {
            let xs: BTreeMap<u64, f64> = all
                .iter()
                .filter_map(|(c, axes)| axes.get(p).and_then(Value::as_f64).map(|x| (*c, x)))
                .collect();
            let mut distinct: Vec<f64> = xs.values().copied().collect();
            distinct.sort_by(f64::total_cmp);
            distinct.dedup();
            let whole = distinct.iter().all(|x| x.fract() == 0.0);
            (xs.len() == all.len() && !xs.is_empty() && distinct.len() >= 2).then(|| {
                (
                    (distinct.len(), !whole, std::cmp::Reverse(rank)),
                    (p.clone(), xs),
                )
            })
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, axis)| axis);
    let condition = all
        .iter()
        .map(|(c, axes)| {
            let others: Vec<String> = axes
                .iter()
                .filter(|(k, _)| numeric.as_ref().is_none_or(|(p, _)| p != *k))
                .map(|(k, v)| format!("{k} = {}", short(v)))
                .collect();
            (*c, others.join(", "))
        })
        .collect();
    (text, numeric, condition)
}

fn short(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Object(o) => o.get("label").map_or_else(|| "{...}".to_string(), short),
        other => other.to_string(),
    }
}

/// Least-squares line y = a + b x (the studies' line fit with equal weights).
fn straight_line(pts: &[(f64, f64)]) -> Option<(f64, f64)> {
    let (x, y): (Vec<f64>, Vec<f64>) = pts.iter().copied().unzip();
    crate::analysis::fit::line(&x, &y, &vec![1.0; x.len()]).map(|l| (l.intercept, l.slope))
}
