//! The figures of an output folder, built from the files a command wrote there (so drawing never
//! touches the inversion), and the report that shows them: `write_report` renders every figure
//! as SVG and writes `index.html`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::html::index_html;
use super::plot::{render, Figure, Panel, Series, Style};
use super::provenance::Provenance;
use crate::files::OutputDir;
use crate::inversion::NOISE_SIGNIFICANCE;
use crate::pipeline::score::{Stats, ORACLE};
use crate::study::StudySummary;
use crate::sweep::SweepSummary;

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

// ---------------------------------------------------------------------------------------------
// stzlab invert

fn data_axis(kind: &str) -> (&'static str, &'static str) {
    match kind {
        "loss" => ("angular frequency (rad/s)", "E'' (Pa)"),
        "loss-global" => ("angular frequency (rad/s)", "E''/E0(T)"),
        "creep" | "creep-stepping" => ("time under load (s)", "strain (data units)"),
        _ => ("time after release (s)", "strain (data units)"),
    }
}

/// The global DMA inversion of the Arrhenius-grouping study: the fit at every temperature, the
/// recovered spectrum against size, and the peaks' areas against the truth's (none without its
/// tables).
fn global_panels(table: &dyn Fn(&str, usize) -> Option<Table>, cell: usize) -> Vec<Panel> {
    let mut panels = Vec::new();
    if let Some(t) = table("global_fit", cell) {
        let mut p = Panel::new(
            "E''/E0(T) and the global fit",
            "angular frequency (rad/s)",
            "E''/E0",
            true,
            true,
        );
        for (i, (key, rows)) in t.groups("temperature_k").iter().enumerate() {
            p.series.push(Series::new(
                t_label(key, "data"),
                t.points(rows, "omega_rad_s", "loss_normalized"),
                Style::Points,
                i + 1,
            ));
            p.series.push(Series::new(
                String::new(),
                t.points(rows, "omega_rad_s", "fit_normalized"),
                Style::Line,
                i + 1,
            ));
        }
        panels.push(p);
    }
    if let Some(t) = table("global_spectrum", cell) {
        let mut p = Panel::new(
            "one spectrum f(dF) from all temperatures",
            "dF at the coldest temperature (eV)",
            "volume fraction per eV",
            false,
            false,
        );
        let rows: Vec<&Vec<String>> = t.rows.iter().collect();
        p.series.push(Series::new(
            "recovered (global)",
            t.points(&rows, "df_ev", "density_per_ev"),
            Style::Line,
            1,
        ));
        panels.push(p);
    }
    if let (Some(found), Some(truth)) = (table("global_peaks", cell), table("global_truth", cell)) {
        let mut p = Panel::new(
            "peak volume fractions",
            "Omega / V_a (true)",
            "volume fraction",
            false,
            false,
        );
        let rows: Vec<&Vec<String>> = found.rows.iter().collect();
        p.series.push(Series::new(
            "recovered peaks (global)",
            found.points(&rows, "n", "area"),
            Style::Markers,
            1,
        ));
        let rows: Vec<&Vec<String>> = truth.rows.iter().collect();
        p.series.push(Series::new(
            "truth",
            truth.points(&rows, "n", "c"),
            Style::Stems,
            0,
        ));
        panels.push(p);
    }
    panels
}

/// A spectrum over an axis other than tau (`x`, its density column `y`, the bands `y_p05`,
/// `y_p95` when the table has them), drawn as `spectrum.svg`.
fn axis_spectrum_figure(
    t: &Table,
    title: &str,
    (x, x_label): (&str, &str),
    (y, y_label): (&str, &str),
    caption: String,
) -> Figure {
    let mut p = Panel::new(title, x_label, y_label, false, false);
    let rows: Vec<&Vec<String>> = t.rows.iter().collect();
    let (lo, hi) = (format!("{y}_p05"), format!("{y}_p95"));
    let banded = t.has(&lo);
    let mut line = Series::new(
        if banded {
            "spectrum (90 % band shaded)"
        } else {
            "spectrum"
        },
        t.points(&rows, x, y),
        Style::Line,
        1,
    );
    if banded {
        line.band = t.band(&rows, x, &lo, &hi);
    }
    p.series.push(line);
    Figure {
        file: "spectrum.svg".into(),
        caption,
        panels: vec![p],
        columns: 1,
        heatmap: None,
    }
}

/// The spectrum of STZ volumes (`--kind loss-global`, or `creep-stepping` with a material), with
/// the sizes the consecutive reading gives its peaks in the caption.
fn volume_spectrum_figure(t: &Table, summary: &Value) -> Figure {
    let v = &summary["volume"];
    let sizes: Vec<String> = v["peaks"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| p["n"].as_u64().map(|n| n.to_string()))
                .collect()
        })
        .unwrap_or_default();
    let source = if summary["kind"].as_str() == Some("loss-global") {
        "from the loss at every temperature at once"
    } else {
        "from the creep through the temperature history"
    };
    let caption = format!(
        "The spectrum of STZ volumes {source} ({} rule, tau of paper Eq. 9 at each temperature){}.",
        summary["rule"].as_str().unwrap_or("?"),
        match v["atomic_volume_m3"].as_f64() {
            Some(va) if !sizes.is_empty() => format!(
                "; its peaks read as consecutive sizes n = {} with V_a = {va:.4e} m^3",
                sizes.join(", ")
            ),
            _ => String::new(),
        }
    );
    axis_spectrum_figure(
        t,
        "one spectrum of STZ volumes",
        ("omega_m3", "Omega (m^3)"),
        ("density", "volume fraction per unit ln tau_ref"),
        caption,
    )
}

/// The spectrum of dF of `--kind creep-stepping`; the range the record resolves is named in the
/// caption.
fn energy_spectrum_figure(t: &Table, summary: &Value) -> Figure {
    let range = &summary["energy"]["resolved_df_ev"];
    let caption = format!(
        "The spectrum of activation energies ({} rule); the record resolves dF from {} to {} eV.",
        summary["rule"].as_str().unwrap_or("?"),
        range[0].as_f64().map_or("?".into(), |v| format!("{v:.3}")),
        range[1].as_f64().map_or("?".into(), |v| format!("{v:.3}")),
    );
    axis_spectrum_figure(
        t,
        "activation-energy spectrum",
        ("df_ev", "dF (eV)"),
        ("density_per_ev", "strain density (1/eV)"),
        caption,
    )
}

fn invert_figures(dir: &Path, summary: &Value) -> Vec<Figure> {
    let kind = summary["kind"].as_str().unwrap_or("decay");
    let (x_label, y_label) = data_axis(kind);
    let loss = kind == "loss";
    let mut figs = Vec::new();
    let joint_fit = Table::read(&dir.join("fit.csv")).filter(|t| t.has("set"));
    if let Some(t) = joint_fit {
        // A joint inversion: each set's data, fit and residuals in its own pair of panels.
        let mut panels = Vec::new();
        let sets = summary["sets"].as_array().cloned().unwrap_or_default();
        for (i, (name, rows)) in t.groups("set").iter().enumerate() {
            let kind = sets
                .iter()
                .find(|s| s["name"].as_str() == Some(name))
                .and_then(|s| s["kind"].as_str())
                .unwrap_or("decay");
            let (x_label, y_label) = data_axis(kind);
            let mut data = Panel::new(
                format!("{name} ({kind}): data and joint fit"),
                x_label,
                y_label,
                true,
                false,
            );
            data.series.push(Series::new(
                "data",
                t.points(rows, "x", "y"),
                Style::Points,
                i + 1,
            ));
            data.series.push(Series::new(
                "joint fit",
                t.points(rows, "x", "fit"),
                Style::Line,
                0,
            ));
            let mut res = Panel::new(
                format!("{name}: residuals"),
                x_label,
                "data - fit",
                true,
                false,
            );
            res.series.push(Series::new(
                "",
                t.points(rows, "x", "residual"),
                Style::Points,
                i + 1,
            ));
            panels.push(data);
            panels.push(res);
        }
        figs.push(Figure {
            file: "fit.svg".into(),
            caption: format!(
                "Each data set with the joint fit (one spectrum, each set's own baseline; {} rule) and its residuals (values as normalized for the inversion: summary.json sets).",
                summary["rule"].as_str().unwrap_or("?")
            ),
            panels,
            columns: 2,
            heatmap: None,
        });
    } else if let Some(t) = Table::read(&dir.join("fit.csv")) {
        let mut data = Panel::new("data and fit", x_label, y_label, true, loss);
        let mut res = Panel::new(
            "residuals",
            x_label,
            &format!("data - fit ({})", if loss { "Pa" } else { "data units" }),
            true,
            false,
        );
        for (i, (key, rows)) in t.groups("temperature_k").iter().enumerate() {
            let c = i + 1;
            let name = t_label(key, "data");
            data.series.push(Series::new(
                name.clone(),
                t.points(rows, "x", "y"),
                Style::Points,
                c,
            ));
            data.series.push(Series::new(
                if key.is_empty() {
                    "fit".into()
                } else {
                    String::new()
                },
                t.points(rows, "x", "fit"),
                Style::Line,
                if key.is_empty() { 0 } else { c },
            ));
            res.series.push(Series::new(
                String::new(),
                t.points(rows, "x", "residual"),
                Style::Points,
                c,
            ));
        }
        figs.push(Figure {
            file: "fit.svg".into(),
            caption: format!(
                "Data with the chosen fit ({} rule) and the residuals.",
                summary["rule"].as_str().unwrap_or("?")
            ),
            panels: vec![data, res],
            columns: 1,
            heatmap: None,
        });
    }
    let spectrum = Table::read(&dir.join("spectrum.csv"));
    if let Some(t) = spectrum.as_ref().filter(|t| t.has("df_ev")) {
        // An inversion in activation energy (--kind creep-stepping).
        figs.push(energy_spectrum_figure(t, summary));
    } else if let Some(t) = spectrum.as_ref().filter(|t| t.has("omega_m3")) {
        // Every temperature at once over STZ volumes (--kind loss-global).
        figs.push(volume_spectrum_figure(t, summary));
    } else if let Some(t) = spectrum {
        let peaks = Table::read(&dir.join("peaks.csv"));
        let mut p = Panel::new(
            "relaxation-time spectrum",
            "tau (s)",
            "density per unit ln tau",
            true,
            false,
        );
        let banded = t.has("density_p05");
        let mut intervals = Panel::new(
            "peaks with their 90 % bootstrap intervals",
            "centroid tau (s)",
            "peak area",
            true,
            true,
        );
        for (i, (key, rows)) in t.groups("temperature_k").iter().enumerate() {
            let mut line = Series::new(
                t_label(
                    key,
                    if banded {
                        "spectrum (90 % band shaded)"
                    } else {
                        "spectrum"
                    },
                ),
                t.points(rows, "tau_s", "density"),
                Style::Line,
                i + 1,
            );
            if banded {
                line.band = t.band(rows, "tau_s", "density_p05", "density_p95");
            }
            p.series.push(line);
            if let Some(pk) = peaks.as_ref().filter(|pk| pk.has("tau_p05_s")) {
                for r in pk
                    .rows
                    .iter()
                    .filter(|r| !pk.has("temperature_k") || pk.s(r, "temperature_k") == key)
                {
                    let (tau, area) = (pk.f(r, "tau_s"), pk.f(r, "area"));
                    let bars = [
                        vec![(pk.f(r, "tau_p05_s"), area), (pk.f(r, "tau_p95_s"), area)],
                        vec![(tau, pk.f(r, "area_p05")), (tau, pk.f(r, "area_p95"))],
                    ];
                    for bar in bars {
                        intervals
                            .series
                            .push(Series::new("", bar, Style::Line, i + 1));
                    }
                    intervals
                        .series
                        .push(Series::new("", vec![(tau, area)], Style::Points, i + 1));
                }
            }
            // The data window: dotted edges at the height of the spectrum.
            let series_summary = match summary["series"].as_array() {
                Some(list) => list
                    .iter()
                    .find(|s| key.parse::<f64>().ok() == s["temperature_k"].as_f64())
                    .unwrap_or(&Value::Null),
                None => summary,
            };
            let top = t
                .points(
                    rows,
                    "tau_s",
                    if banded { "density_p95" } else { "density" },
                )
                .iter()
                .chain(&t.points(rows, "tau_s", "density"))
                .map(|p| p.1)
                .fold(0.0, f64::max);
            if let Some(w) = series_summary["window_s"].as_array() {
                for (k, edge) in w.iter().filter_map(Value::as_f64).enumerate() {
                    p.series.push(Series::new(
                        if i == 0 && k == 0 { "data window" } else { "" },
                        vec![(edge, 0.0), (edge, top)],
                        Style::Dashed,
                        7,
                    ));
                }
            }
            if let Some(pk) = &peaks {
                let prow: Vec<&Vec<String>> = pk
                    .rows
                    .iter()
                    .filter(|r| !pk.has("temperature_k") || pk.s(r, "temperature_k") == key)
                    .collect();
                // `height` is the largest grid weight; on the density axis it is height / step.
                let step = match &rows[..] {
                    [a, b, ..] => t.f(b, "ln_tau") - t.f(a, "ln_tau"),
                    _ => f64::NAN,
                };
                // Peaks in the window whose area is below NOISE_SIGNIFICANCE standard errors
                // open; peaks outside the window (only its tail constrains them) in grey.
                let class = |r: &Vec<String>| {
                    if pk.has("in_window") && pk.s(r, "in_window") != "true" {
                        PeakClass::Outside
                    } else if pk.f(r, "significance") < NOISE_SIGNIFICANCE {
                        PeakClass::Weak
                    } else {
                        PeakClass::Firm
                    }
                };
                let weak_name = format!(
                    "peaks below {NOISE_SIGNIFICANCE} standard errors (noise could make them)"
                );
                for (kind, name, color, style) in [
                    (
                        PeakClass::Firm,
                        "peaks (at their highest density)",
                        i + 1,
                        Style::Markers,
                    ),
                    (
                        PeakClass::Weak,
                        weak_name.as_str(),
                        i + 1,
                        Style::OpenMarkers,
                    ),
                    (
                        PeakClass::Outside,
                        "peaks outside the data window",
                        7,
                        Style::Markers,
                    ),
                ] {
                    let rows: Vec<&Vec<String>> =
                        prow.iter().copied().filter(|r| class(r) == kind).collect();
                    let marks: Vec<(f64, f64)> = pk
                        .points(&rows, "tau_s", "height")
                        .into_iter()
                        .map(|(tau, h)| (tau, h / step))
                        .collect();
                    if !marks.is_empty() {
                        p.series.push(Series::new(
                            if i == 0 { name } else { "" },
                            marks,
                            style,
                            color,
                        ));
                    }
                }
            }
        }
        let mut panels = vec![p];
        let mut caption = String::from(
            "The recovered spectrum (density per unit ln tau) with its peaks marked at their centroid tau.",
        );
        if !intervals.series.is_empty() {
            panels.push(intervals);
            caption.push_str(
                " Shaded: the bootstrap's pointwise 90 % band. Below: each peak's centroid and area \
                 with their 90 % intervals (summary.json: uncertainty).",
            );
        }
        figs.push(Figure {
            file: "spectrum.svg".into(),
            caption,
            panels,
            columns: 1,
            heatmap: None,
        });
    }
    if let Some(t) = Table::read(&dir.join("path.csv")) {
        let groups = t.groups("temperature_k");
        let multi = groups.len() > 1;
        let mut lc = Vec::new();
        for (key, rows) in groups.iter().take(8) {
            let choices = rule_choices(summary, key);
            let mut p = Panel::new(
                t_label(key, "L-curve"),
                "residual norm ||W r||",
                "penalty norm ||L f||",
                true,
                true,
            );
            p.series.push(Series::new(
                "lambda path",
                t.points(rows, "residual_norm", "penalty_norm"),
                Style::Line,
                0,
            ));
            for (k, (rule, lambda)) in choices.iter().enumerate() {
                let at = (
                    t.at(rows, "residual_norm", *lambda),
                    t.at(rows, "penalty_norm", *lambda),
                );
                p.series
                    .push(Series::new(rule.clone(), vec![at], Style::Markers, k + 1));
            }
            lc.push(p);
        }
        let columns = if lc.len() > 1 { 2 } else { 1 };
        figs.push(Figure {
            file: "lcurve.svg".into(),
            caption: format!(
                "The L-curve of the lambda path (log-log) with each rule's choice marked{}.",
                if groups.len() > 8 {
                    " (first 8 temperatures)"
                } else {
                    ""
                }
            ),
            panels: lc,
            columns,
            heatmap: None,
        });
        let mut panels = Vec::new();
        for (col, label, log) in [
            ("gcv", "GCV score", true),
            ("ftest_prob1", "CONTIN PROB1", false),
            ("r2", "1 - R^2", true),
            ("chi2", "chi^2", true),
        ] {
            let y = |v: f64| if col == "r2" { 1.0 - v } else { v };
            let mut p = Panel::new(label, "lambda", label, true, log);
            for (i, (key, rows)) in groups.iter().enumerate() {
                let pts = t
                    .points(rows, "lambda", col)
                    .into_iter()
                    .map(|(l, v)| (l, y(v)))
                    .collect();
                p.series.push(Series::new(
                    t_label(key, "path"),
                    pts,
                    Style::Line,
                    if multi { i + 1 } else { 0 },
                ));
                if !multi {
                    for (k, (rule, lambda)) in rule_choices(summary, key).iter().enumerate() {
                        p.series.push(Series::new(
                            rule.clone(),
                            vec![(*lambda, y(t.at(rows, col, *lambda)))],
                            Style::Markers,
                            k + 1,
                        ));
                    }
                }
            }
            panels.push(p);
        }
        figs.push(Figure {
            file: "scores.svg".into(),
            caption: format!("The rules' scores along the lambda path: GCV, CONTIN's PROB1 (F-test), 1 - R^2 and chi^2{}.", if multi { ", one line per temperature" } else { ", with each rule's choice marked" }),
            panels,
            columns: 2,
            heatmap: None,
        });
    }
    figs
}

/// (rule, lambda) of the chosen rule and every other rule for the series at temperature `key`
/// (empty key: the single series).
fn rule_choices(summary: &Value, key: &str) -> Vec<(String, f64)> {
    let series = match summary["series"].as_array() {
        Some(all) => all
            .iter()
            .find(|s| {
                s["temperature_k"]
                    .as_f64()
                    .is_some_and(|t| key.parse::<f64>().is_ok_and(|k| (k - t).abs() < 1e-9))
            })
            .cloned()
            .unwrap_or(Value::Null),
        None => summary.clone(),
    };
    let mut out = Vec::new();
    let one = |v: &Value| Some((v["rule"].as_str()?.to_string(), v["lambda"].as_f64()?));
    out.extend(one(&series));
    out.extend(
        series["other_rules"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(one),
    );
    out
}

// ---------------------------------------------------------------------------------------------
// stzlab run: inversion sweeps

/// The metrics drawn for each condition when a sweep has several (all of them otherwise).
const FACET_METRICS: [&str; 6] = [
    "rel_l2",
    "regret_l2",
    "spectrum_l1",
    "lambda",
    "peaks",
    "area_error",
];

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

fn sweep_figures(dir: &Path, summary: &SweepSummary) -> Vec<Figure> {
    let mut figs = Vec::new();
    let (labels, numeric, conditions) = cell_axes(summary.cells.iter().map(|c| (c.cell, &c.axes)));
    for (cell, path) in cell_files(dir, "spectrum") {
        let Some(t) = Table::read(&path) else {
            continue;
        };
        let rules: Vec<String> = t
            .header
            .iter()
            .filter_map(|h| h.strip_suffix("_density"))
            .filter(|h| *h != "truth")
            .map(str::to_string)
            .collect();
        let truth = Table::read(&dir.join(format!("truth_cell{cell:04}.csv")));
        let mut panels = Vec::new();
        let title = match labels.get(&(cell as u64)).filter(|s| !s.is_empty()) {
            Some(s) => format!("cell {cell}: {s}"),
            None => format!("cell {cell}"),
        };
        for (key, rows) in t.groups("temperature_k") {
            let mut p = Panel::new(
                if key.is_empty() {
                    title.clone()
                } else {
                    format!("{title}, {}", t_label(&key, ""))
                },
                "tau (s)",
                "density per unit ln tau",
                true,
                false,
            );
            // A truth of delta-like processes is drawn as stems at their exact tau (height: the
            // area over the grid step, as the grid would hold it), not as grid-point spikes.
            let step = match &rows[..] {
                [a, b, ..] => t.f(b, "ln_tau") - t.f(a, "ln_tau"),
                _ => f64::NAN,
            };
            let stems = truth
                .as_ref()
                .filter(|tr| tr.has("delta") && tr.rows.iter().all(|r| tr.s(r, "delta") == "true"))
                .map(|tr| {
                    let own: Vec<&Vec<String>> = tr
                        .rows
                        .iter()
                        .filter(|r| key.is_empty() || tr.s(r, "temperature_k") == key)
                        .collect();
                    let (lo, hi) = (t.f(rows[0], "tau_s"), t.f(rows[rows.len() - 1], "tau_s"));
                    tr.points(&own, "tau_s", "effective_area")
                        .into_iter()
                        .filter(|(tau, a)| *tau >= lo && *tau <= hi && *a > 0.0)
                        .map(|(tau, a)| (tau, a / step))
                        .collect::<Vec<_>>()
                });
            match stems {
                Some(stems) => p.series.push(Series::new(
                    "truth (area / grid step)",
                    stems,
                    Style::Stems,
                    0,
                )),
                None => p.series.push(Series::new(
                    "truth",
                    t.points(&rows, "tau_s", "truth_density"),
                    Style::Line,
                    0,
                )),
            }
            for (k, r) in rules.iter().enumerate() {
                let style = if r == "oracle" {
                    Style::Dashed
                } else {
                    Style::Line
                };
                p.series.push(Series::new(
                    r.clone(),
                    t.points(&rows, "tau_s", &format!("{r}_density")),
                    style,
                    k + 1,
                ));
            }
            // The data window: dashed edges at the first and last grid point inside it.
            if t.has("in_window") {
                let inside: Vec<f64> = rows
                    .iter()
                    .filter(|r| t.s(r, "in_window") == "true")
                    .map(|r| t.f(r, "tau_s"))
                    .collect();
                let top = p
                    .series
                    .iter()
                    .flat_map(|s| s.points.iter().map(|q| q.1))
                    .filter(|v| v.is_finite())
                    .fold(0.0, f64::max);
                if let (Some(&a), Some(&b)) = (inside.first(), inside.last()) {
                    for (k, edge) in [a, b].into_iter().enumerate() {
                        p.series.push(Series::new(
                            if k == 0 { "data window" } else { "" },
                            vec![(edge, 0.0), (edge, top)],
                            Style::Dashed,
                            7,
                        ));
                    }
                }
            }
            panels.push(p);
        }
        let columns = if panels.len() > 1 { 2 } else { 1 };
        let at = labels
            .get(&(cell as u64))
            .filter(|s| !s.is_empty())
            .map_or(String::new(), |s| format!(" ({s})"));
        figs.push(Figure {
            file: format!("spectra_cell{cell:04}.svg"),
            caption: format!("Cell {cell}{at}: the effective truth and each rule's recovered spectrum for the cell's first run (oracle dashed); a truth of single-tau processes is drawn as stems (height: area / grid step); grey dashed: the data window, where the scores are taken. Look for where the rules part from the truth and from each other."),
            panels,
            columns,
            heatmap: None,
        });
    }
    // Metrics against the swept axis (or the cell number), median with the p05-p95 band.
    let cells = &summary.cells;
    let n_cells = labels.len();
    if n_cells > 1 {
        let (x_label, x_of, x_log) = match &numeric {
            Some((path, xs)) => {
                let lo = xs.values().copied().fold(f64::INFINITY, f64::min);
                let hi = xs.values().copied().fold(f64::NEG_INFINITY, f64::max);
                (path.clone(), xs.clone(), lo > 0.0 && hi / lo >= 20.0)
            }
            None => (
                "cell".to_string(),
                labels.keys().map(|&c| (c, c as f64)).collect(),
                false,
            ),
        };
        let (rules, metrics) = (&summary.rules, &summary.metrics);
        // One panel per metric and condition (the values of the other axes): lines join only
        // cells that differ along the x axis. With several conditions, the key metrics only.
        let mut groups: Vec<String> = Vec::new();
        if numeric.is_some() {
            for c in conditions.values() {
                if !groups.contains(c) {
                    groups.push(c.clone());
                }
            }
        }
        if groups.is_empty() {
            groups.push(String::new());
        }
        // A metric no run of this sweep gave (the coverage without a bootstrap, the Omega slope
        // without a hierarchy truth) gets no panel; the caption names it.
        let has_values = |m: &str| {
            cells
                .iter()
                .any(|c| c.metrics.get(m).is_some_and(|s| s.count > 0))
        };
        let empty: Vec<&str> = metrics
            .iter()
            .map(String::as_str)
            .filter(|m| !has_values(m))
            .collect();
        let shown: Vec<&String> = metrics
            .iter()
            .filter(|m| groups.len() == 1 || FACET_METRICS.contains(&m.as_str()))
            .filter(|m| !empty.contains(&m.as_str()))
            .collect();
        let mut panels = Vec::new();
        for m in shown {
            for g in &groups {
                let title = if g.is_empty() {
                    m.clone()
                } else {
                    format!("{m}: {g}")
                };
                let mut p = Panel::new(title, &x_label, m, x_log, m == "lambda");
                p.x_categories = numeric.is_none();
                p.x_integers = x_of.values().all(|x| x.fract() == 0.0);
                // Cells without a numeric axis are unlike conditions: points with p05-p95 bars,
                // each rule shifted a little so that none hides another.
                let shift = |k: usize| {
                    if numeric.is_none() {
                        0.5 * (k as f64 + 0.5) / rules.len() as f64 - 0.25
                    } else {
                        0.0
                    }
                };
                for (k, rule) in rules.iter().enumerate() {
                    let mut pts = Vec::new();
                    let mut band = Vec::new();
                    for c in cells.iter().filter(|c| c.rule == *rule) {
                        let cell = c.cell as u64;
                        if !g.is_empty() && conditions.get(&cell) != Some(g) {
                            continue;
                        }
                        let Some(x) = x_of.get(&cell) else {
                            continue;
                        };
                        let s = c.metrics.get(m).copied().unwrap_or(Stats::of(&[]));
                        let x = x + shift(k);
                        pts.push((x, s.median));
                        band.push((x, s.p05, s.p95));
                    }
                    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                    band.sort_by(|a, b| a.0.total_cmp(&b.0));
                    let style = if numeric.is_none() {
                        Style::Points
                    } else if rule == "oracle" {
                        Style::Dashed
                    } else {
                        Style::Line
                    };
                    let mut s = Series::new(rule.clone(), pts, style, k + 1);
                    s.band = band;
                    s.bars = numeric.is_none();
                    p.series.push(s);
                }
                panels.push(p);
            }
        }
        let faceted = groups.len() > 1;
        figs.push(Figure {
            file: "metrics.svg".into(),
            caption: format!(
                "{} against {x_label} for every rule{}: median over the repeats, {} p05-p95 (README: metric definitions; the cells' axes: the tables above). Look for the rule that stays lowest on rel_l2 and regret_l2 across the conditions.",
                if faceted { "The key metrics" } else { "Every metric" },
                if faceted { ", one column per value of the other axes" } else { "" },
                if numeric.is_some() { "shaded" } else { "bars:" }
            ) + &if empty.is_empty() {
                String::new()
            } else {
                format!(" No run of this sweep gives {}.", empty.join(", "))
            },
            columns: if faceted { groups.len().min(4) } else { 3 },
            panels,
            heatmap: None,
        });
    }
    if let Some(fig) = regret_figure(summary, &labels) {
        figs.push(fig);
    }
    // Omega_m against m with the fitted slope, for the first rule.
    let first_rule = summary.rules.first().cloned().unwrap_or_default();
    let mut panels = Vec::new();
    for (cell, path) in cell_files(dir, "peaks").into_iter().take(12) {
        let Some(t) = Table::read(&path) else {
            continue;
        };
        if !t.has("omega_m3") {
            continue;
        }
        let rows: Vec<&Vec<String>> = t
            .rows
            .iter()
            .filter(|r| t.s(r, "rule") == first_rule)
            .collect();
        let pts: Vec<(f64, f64)> = t
            .points(&rows, "truth_n", "omega_m3")
            .into_iter()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .collect();
        if pts.len() < 2 {
            continue;
        }
        let mut truth: Vec<(f64, f64)> = t
            .points(&rows, "truth_n", "truth_omega_m3")
            .into_iter()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .collect();
        truth.sort_by(|a, b| a.0.total_cmp(&b.0));
        truth.dedup();
        let mut p = Panel::new(
            format!("cell {cell}"),
            "STZ size m (matched truth size)",
            "Omega_m (m^3)",
            false,
            false,
        );
        p.series.push(Series::new("truth", truth, Style::Line, 0));
        if let Some((a, b)) = straight_line(&pts) {
            let (x0, x1) = pts
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), p| {
                    (l.min(p.0), h.max(p.0))
                });
            p.series.push(Series::new(
                format!("fit: slope {b:.3e} m^3"),
                vec![(x0, a + b * x0), (x1, a + b * x1)],
                Style::Dashed,
                2,
            ));
        }
        p.series.push(Series::new(
            format!("{first_rule} peaks"),
            pts,
            Style::Points,
            1,
        ));
        panels.push(p);
    }
    if !panels.is_empty() {
        let columns = if panels.len() > 1 { 2 } else { 1 };
        figs.push(Figure {
            file: "omega.svg".into(),
            caption: format!("STZ volume from each recovered peak's tau (Eq. 9 inverted at its temperature; {first_rule} rule, first run of each cell) against the size of the truth peak it matched, with the least-squares line; its slope is the atomic volume."),
            panels,
            columns,
            heatmap: None,
        });
    }
    figs
}

/// Which rule under which conditions: each cell's median regret per rule as a table figure, with
/// the path's best (the oracle's) absolute spectrum L1 error beside it, flagged when poor.
fn regret_figure(summary: &SweepSummary, labels: &BTreeMap<u64, String>) -> Option<Figure> {
    let rules: Vec<String> = summary
        .rules
        .iter()
        .filter(|r| *r != ORACLE)
        .cloned()
        .collect();
    let median = |cell: u64, rule: &str, metric: &str| {
        summary
            .cells
            .iter()
            .find(|c| c.cell as u64 == cell && c.rule == rule)
            .and_then(|c| c.metrics.get(metric))
            .map_or(f64::NAN, |s| s.median)
    };
    if rules.is_empty() || labels.is_empty() {
        return None;
    }
    let mut rows = Vec::new();
    let mut values = Vec::new();
    let mut notes = Vec::new();
    for (&cell, label) in labels {
        rows.push(if label.is_empty() {
            format!("cell {cell}")
        } else {
            format!("cell {cell}: {label}")
        });
        values.push(rules.iter().map(|r| median(cell, r, "regret")).collect());
        let best = median(cell, ORACLE, "spectrum_l1");
        notes.push(if !best.is_finite() {
            "-".to_string()
        } else if best > crate::report::console::POOR_L1 {
            format!("{best:.2}  poor")
        } else {
            format!("{best:.2}")
        });
    }
    Some(Figure {
        file: "regret.svg".into(),
        caption: format!(
            "Which rule, under which conditions: each cell's median regret per rule (its spectrum L1 \
             error over that of the best point of the lambda path; 1 is the best any rule could do), \
             the row's lowest outlined; at the right, the best point's own L1 error as a fraction of \
             the truth's area in the window, marked poor above {}: there no rule recovers the \
             spectrum, however small its regret.",
            crate::report::console::POOR_L1
        ),
        panels: Vec::new(),
        columns: 1,
        heatmap: Some(super::heatmap::Heatmap {
            title: "Median regret by rule and cell (spectrum L1 / the path's best)".into(),
            rows,
            columns: rules,
            values,
            low: 1.0,
            high: 3.0,
            note: Some(("path's best L1".into(), notes)),
        }),
    })
}

/// Least-squares line y = a + b x (the studies' line fit with equal weights).
fn straight_line(pts: &[(f64, f64)]) -> Option<(f64, f64)> {
    let (x, y): (Vec<f64>, Vec<f64>) = pts.iter().copied().unzip();
    crate::analysis::fit::line(&x, &y, &vec![1.0; x.len()]).map(|l| (l.intercept, l.slope))
}

// ---------------------------------------------------------------------------------------------
// Studies

fn study_figures(dir: &Path, summary: &StudySummary) -> Vec<Figure> {
    let (labels, _, _) = cell_axes(summary.cells.iter().map(|c| (c.cell, &c.axes)));
    let at = |cell: usize| {
        labels
            .get(&(cell as u64))
            .filter(|s| !s.is_empty())
            .map_or(String::new(), |s| format!(" ({s})"))
    };
    let mut figs = Vec::new();
    let table =
        |stem: &str, cell: usize| Table::read(&dir.join(format!("{stem}_cell{cell:04}.csv")));
    let cells: Vec<usize> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            let i = n.find("_cell")?;
            n[i + 5..].strip_suffix(".csv")?.parse().ok()
        })
        .collect::<std::collections::BTreeSet<usize>>()
        .into_iter()
        .collect();
    let study = summary.study.as_str();
    for cell in cells {
        let file = |name: &str| format!("{name}_cell{cell:04}.svg");
        match study {
            "stretched-exponent" => {
                let mut panels = Vec::new();
                for (sp, log) in [("linear", false), ("log", true)] {
                    let Some(t) = table(&format!("fit_{sp}"), cell) else {
                        continue;
                    };
                    let rows: Vec<&Vec<String>> = t.rows.iter().collect();
                    let mut p = Panel::new(
                        format!("{sp} time spacing"),
                        "t (s)",
                        "normalized strain",
                        log,
                        false,
                    );
                    p.series.push(Series::new(
                        "data",
                        t.points(&rows, "t_s", "data"),
                        Style::Points,
                        0,
                    ));
                    p.series.push(Series::new(
                        "x0 exp(-(t/tau_s)^beta), x0 free",
                        t.points(&rows, "t_s", "fit_free"),
                        Style::Line,
                        1,
                    ));
                    p.series.push(Series::new(
                        "x0 = 1",
                        t.points(&rows, "t_s", "fit_x0_pinned"),
                        Style::Dashed,
                        2,
                    ));
                    panels.push(p);
                }
                figs.push(Figure {
                    file: file("stretched"),
                    caption: format!("Cell {cell}{}: the shifted stretched exponent fitted without its shift, on linear and logarithmic time grids (paper Fig. 10).", at(cell)),
                    panels,
                    columns: 2,
                    heatmap: None,
                });
            }
            "tts-master-curve" => {
                let mut panels = Vec::new();
                if let Some(t) = table("curves", cell) {
                    let mut p = Panel::new(
                        "E''(w) at each temperature",
                        "angular frequency (rad/s)",
                        "E'' (Pa)",
                        true,
                        true,
                    );
                    for (i, (key, rows)) in t.groups("temperature_k").iter().enumerate() {
                        p.series.push(Series::new(
                            t_label(key, ""),
                            t.points(rows, "omega_rad_s", "loss_modulus_pa"),
                            Style::Line,
                            i + 1,
                        ));
                    }
                    panels.push(p);
                }
                if let Some(t) = table("master", cell) {
                    let rows: Vec<&Vec<String>> = t.rows.iter().collect();
                    let mut p = Panel::new(
                        "master curve at T_ref",
                        "reduced angular frequency (rad/s)",
                        "E'' (Pa)",
                        true,
                        true,
                    );
                    p.series.push(Series::new(
                        "shifted data",
                        t.points(&rows, "reduced_omega_rad_s", "loss_modulus_pa"),
                        Style::Points,
                        0,
                    ));
                    let mut sorted = rows.clone();
                    sorted.sort_by(|a, b| {
                        t.f(a, "reduced_omega_rad_s")
                            .total_cmp(&t.f(b, "reduced_omega_rad_s"))
                    });
                    p.series.push(Series::new(
                        "Debye",
                        t.points(&sorted, "reduced_omega_rad_s", "debye_pa"),
                        Style::Dashed,
                        2,
                    ));
                    p.series.push(Series::new(
                        "KWW",
                        t.points(&sorted, "reduced_omega_rad_s", "kww_pa"),
                        Style::Line,
                        1,
                    ));
                    panels.push(p);
                }
                if let Some(t) = table("shifts", cell) {
                    let k_ev = 8.617_333_262e-5;
                    let pts: Vec<(f64, f64, f64)> = t
                        .rows
                        .iter()
                        .map(|r| {
                            (
                                1.0 / (k_ev * t.f(r, "temperature_k")),
                                t.f(r, "ln_a"),
                                t.f(r, "ln_a_stderr"),
                            )
                        })
                        .collect();
                    let mut p = Panel::new(
                        "Arrhenius plot of the shifts",
                        "1/kT (1/eV)",
                        "ln a_T",
                        false,
                        false,
                    );
                    let mut s = Series::new(
                        "ln a_T (shaded: +- 1 stderr)",
                        pts.iter().map(|p| (p.0, p.1)).collect(),
                        Style::Points,
                        1,
                    );
                    let mut band: Vec<(f64, f64, f64)> =
                        pts.iter().map(|p| (p.0, p.1 - p.2, p.1 + p.2)).collect();
                    band.sort_by(|a, b| a.0.total_cmp(&b.0));
                    s.band = band;
                    if let Some((a, b)) = straight_line(&s.points) {
                        let (x0, x1) = s
                            .points
                            .iter()
                            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), p| {
                                (l.min(p.0), h.max(p.0))
                            });
                        p.series.push(Series::new(
                            format!("least-squares line: slope {:.3} eV", b.abs()),
                            vec![(x0, a + b * x0), (x1, a + b * x1)],
                            Style::Dashed,
                            2,
                        ));
                    }
                    p.series.push(s);
                    panels.push(p);
                }
                figs.push(Figure {
                    file: file("tts"),
                    caption: format!("Cell {cell}{}: the loss curves, the master curve with Debye and KWW fits, and the Arrhenius plot of the shifts (paper Fig. 9).", at(cell)),
                    panels,
                    columns: 2,
                    heatmap: None,
                });
            }
            "temperature-stepping" => {
                let mut p = Panel::new(
                    "activation-energy spectrum",
                    "dF (eV)",
                    "strain density (1/eV)",
                    false,
                    false,
                );
                if let Some(t) = table("assumed", cell) {
                    let rows: Vec<&Vec<String>> = t.rows.iter().collect();
                    p.series.push(Series::new(
                        "assumed",
                        t.points(&rows, "df_ev", "density_per_ev"),
                        Style::Line,
                        0,
                    ));
                }
                if let Some(t) = table("apparent", cell) {
                    let rows: Vec<&Vec<String>> = t.rows.iter().collect();
                    p.series.push(Series::new(
                        "apparent (Argon-Kuo reading)",
                        t.points(&rows, "df_ev", "density_per_ev"),
                        Style::Points,
                        2,
                    ));
                }
                if let Some(t) = table("inverted", cell) {
                    let rows: Vec<&Vec<String>> = t.rows.iter().collect();
                    p.series.push(Series::new(
                        "inverted (direct, in dF)",
                        t.points(&rows, "df_ev", "density_per_ev"),
                        Style::Dashed,
                        1,
                    ));
                }
                let mut panels = vec![p];
                if let Some(t) = table("record", cell) {
                    let mut r = Panel::new(
                        "the creep record and the inversion's fit",
                        "t (s)",
                        "strain",
                        false,
                        false,
                    );
                    let rows: Vec<&Vec<String>> = t.rows.iter().collect();
                    r.series.push(Series::new(
                        "record (with noise)",
                        t.points(&rows, "t_s", "strain"),
                        Style::Points,
                        0,
                    ));
                    r.series.push(Series::new(
                        "fit",
                        t.points(&rows, "t_s", "strain_fit"),
                        Style::Line,
                        1,
                    ));
                    panels.push(r);
                }
                figs.push(Figure {
                    file: file("stepping"),
                    caption: format!("Cell {cell}{}: the assumed spectrum, the one the temperature-stepping reading gives (paper Fig. 11) and the one the direct inversion of the creep record in dF recovers; right, the record and the inversion's fit.", at(cell)),
                    columns: panels.len(),
                    panels,
                    heatmap: None,
                });
            }
            "arrhenius-grouping" => {
                let mut p = Panel::new(
                    "tau(T) and Eq. 9 of the best grouping",
                    "1/kT (1/eV)",
                    "tau (s)",
                    false,
                    true,
                );
                let k_ev = 8.617_333_262e-5;
                if let Some(lines) = table("lines", cell) {
                    let groups = lines.groups("n");
                    let n0: i64 = groups.first().and_then(|g| g.0.parse().ok()).unwrap_or(0);
                    for (key, rows) in &groups {
                        let c = 1 + (key.parse::<i64>().unwrap_or(n0) - n0).unsigned_abs() as usize;
                        p.series.push(Series::new(
                            format!("n = {key}"),
                            lines.points(rows, "inverse_kt_per_ev", "tau_s"),
                            Style::Line,
                            c,
                        ));
                    }
                    if let Some(t) = table("peaks", cell) {
                        for (key, rows) in t.groups("best_n") {
                            let c =
                                1 + (key.parse::<i64>().unwrap_or(n0) - n0).unsigned_abs() as usize;
                            let pts = rows
                                .iter()
                                .map(|r| (1.0 / (k_ev * t.f(r, "temperature_k")), t.f(r, "tau_s")))
                                .collect();
                            p.series
                                .push(Series::new(String::new(), pts, Style::Points, c));
                        }
                    }
                }
                figs.push(Figure {
                    file: file("grouping"),
                    caption: format!("Cell {cell}{}: recovered peaks (dots, coloured by the size the best grouping gives them) and the simultaneous Eq. 9 fit for each size (paper Fig. 8).", at(cell)),
                    panels: vec![p],
                    columns: 1,
                    heatmap: None,
                });
                let panels = global_panels(&table, cell);
                if !panels.is_empty() {
                    figs.push(Figure {
                        file: file("global"),
                        caption: format!("Cell {cell}{}: the global inversion, every temperature at once with no grouping step: the normalized loss and its fit at each temperature, the one recovered spectrum of STZ volumes, and its peaks' volume fractions against the truth's.", at(cell)),
                        columns: 2,
                        panels,
                        heatmap: None,
                    });
                }
            }
            "nonlinear-bending" => {
                let Some(t) = table("strain", cell) else {
                    continue;
                };
                let rows: Vec<&Vec<String>> = t.rows.iter().collect();
                let mut p = Panel::new(
                    "apparent anelastic strain after release",
                    "constraining surface strain",
                    "anelastic surface strain",
                    false,
                    false,
                );
                p.series.push(Series::new(
                    "model, no scatter",
                    t.points(&rows, "constraining_strain", "anelastic_strain_clean"),
                    Style::Line,
                    7,
                ));
                p.series.push(Series::new(
                    "with scatter",
                    t.points(&rows, "constraining_strain", "anelastic_strain"),
                    Style::Points,
                    0,
                ));
                p.series.push(Series::new(
                    "fitted gamma_T",
                    t.points(&rows, "constraining_strain", "anelastic_strain_fit"),
                    Style::Line,
                    1,
                ));
                p.series.push(Series::new(
                    "linear extrapolation",
                    t.points(&rows, "constraining_strain", "linear_extrapolation"),
                    Style::Dashed,
                    2,
                ));
                figs.push(Figure {
                    file: file("bending"),
                    caption: format!("Cell {cell}{}: anelastic strain against constraining strain with the sinh law, the gamma_T fit and the linear extrapolation (paper Fig. 6).", at(cell)),
                    panels: vec![p],
                    columns: 1,
                    heatmap: None,
                });
            }
            _ => {}
        }
    }
    figs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(rows: &[(f64, f64)]) -> Vec<serde_json::Map<String, Value>> {
        rows.iter()
            .map(|&(order, sigma)| {
                let mut m = serde_json::Map::new();
                m.insert("inversion.order".into(), serde_json::json!(order));
                m.insert("noise.sigma".into(), serde_json::json!(sigma));
                m
            })
            .collect()
    }

    #[test]
    fn the_x_axis_is_the_one_with_most_values_and_whole_numbers_give_way_on_a_tie() {
        // Two orders (listed first) x three noise levels: the noise is the x axis, the order the
        // panels' condition.
        let axes = cells(&[
            (2.0, 3e-5),
            (2.0, 1e-4),
            (2.0, 3e-4),
            (3.0, 3e-5),
            (3.0, 1e-4),
            (3.0, 3e-4),
        ]);
        let (_, numeric, conditions) = cell_axes(axes.iter().enumerate());
        assert_eq!(numeric.unwrap().0, "noise.sigma");
        assert_eq!(conditions[&0], "inversion.order = 2.0");
        // Two values each: the fractional one.
        let axes = cells(&[(2.0, 1e-4), (2.0, 3e-4), (3.0, 1e-4), (3.0, 3e-4)]);
        let (_, numeric, _) = cell_axes(axes.iter().enumerate());
        assert_eq!(numeric.unwrap().0, "noise.sigma");
        // Three orders against two noise levels: the orders.
        let axes = cells(&[
            (1.0, 1e-4),
            (2.0, 1e-4),
            (3.0, 1e-4),
            (1.0, 3e-4),
            (2.0, 3e-4),
            (3.0, 3e-4),
        ]);
        let (_, numeric, _) = cell_axes(axes.iter().enumerate());
        assert_eq!(numeric.unwrap().0, "inversion.order");
    }
}
