//! The figures of `stzlab run`: each condition's spectra and peaks, the metrics against the
//! sweep's axes and every rule's regret.

use std::collections::BTreeMap;
use std::path::Path;

use super::super::plot::{Figure, Panel, Series, Style};
use super::{cell_axes, cell_files, straight_line, t_label, Table};
use crate::pipeline::score::{Stats, ORACLE};
use crate::sweep::SweepSummary;

/// The metrics drawn for each condition when a sweep has several (all of them otherwise).
const FACET_METRICS: [&str; 6] = [
    "rel_l2",
    "regret_l2",
    "spectrum_l1",
    "lambda",
    "peaks",
    "area_error",
];

/// Metrics that are 1 or 0 in each run: drawn as their mean, the fraction of the runs, without a
/// p05-p95 band (which would span 0 to 1 whenever both occur).
const FRACTION_METRICS: [&str; 2] = ["baseline_traded", "cover_slope"];

pub(super) fn sweep_figures(dir: &Path, summary: &SweepSummary) -> Vec<Figure> {
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
                let fraction = FRACTION_METRICS.contains(&m.as_str());
                let name = if fraction {
                    format!("{m} (fraction of runs)")
                } else {
                    m.clone()
                };
                let title = if g.is_empty() {
                    name
                } else {
                    format!("{name}: {g}")
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
                        if fraction {
                            pts.push((x, s.mean));
                        } else {
                            pts.push((x, s.median));
                            band.push((x, s.p05, s.p95));
                        }
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
                "{} against {x_label} for every rule{}: median over the repeats, {} p05-p95 (a 1-or-0 metric, such as baseline_traded: the fraction of the runs; README: metric definitions; the cells' axes: the tables above). Look for the rule that stays lowest on rel_l2 and regret_l2 across the conditions.",
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
        heatmap: Some(super::super::heatmap::Heatmap {
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
