//! The figures of `stzlab invert`: the fit, the spectrum with its peaks, the lambda path and
//! the rules' choices (and the joint, energy and global DMA inversions' own panels).

use std::path::Path;

use serde_json::Value;

use super::super::plot::{Figure, Panel, Series, Style};
use super::{t_label, PeakClass, Table};
use crate::inversion::NOISE_SIGNIFICANCE;

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
pub(super) fn global_panels(
    table: &dyn Fn(&str, usize) -> Option<Table>,
    cell: usize,
) -> Vec<Panel> {
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

pub(super) fn invert_figures(dir: &Path, summary: &Value) -> Vec<Figure> {
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
