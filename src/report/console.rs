//! What the commands print: one line per fact, built here so that the command line only prints.
//! Warnings are returned apart from the lines (they go to stderr).

use crate::pipeline::invert::DataInversion;
use crate::pipeline::score::{Stats, ORACLE};
use crate::study::StudySummary;
use crate::sweep::SweepSummary;

/// A cell whose oracle (the lambda path's best point) has a median spectrum L1 error above this
/// fraction of the truth's area is reported as poor: no rule recovers the spectrum there.
pub const POOR_L1: f64 = 0.3;
use crate::pipeline::simulate::Simulation;

fn at(temperature_k: Option<f64>) -> String {
    temperature_k
        .map(|t| format!(" at {t} K"))
        .unwrap_or_default()
}

/// The report of an inversion: (warnings, lines).
pub fn invert_lines(inv: &DataInversion) -> (Vec<String>, Vec<String>) {
    let file = &inv.file;
    let mut warnings = Vec::new();
    let mut lines = Vec::new();
    for s in inv.summaries() {
        let at = at(s.temperature_k);
        if let Some(w) = &s.warning {
            warnings.push(format!("{file}{at}: {w}"));
        }
        // Peaks outside the data window are constrained only by the data's tail: counted apart.
        let inside = s.peaks.iter().filter(|p| p.in_window).count();
        let outside = match s.peaks.len() - inside {
            0 => String::new(),
            k => format!(" (+{k} outside it)"),
        };
        let plural = if inside == 1 { "" } else { "s" };
        lines.push(format!(
            "inverted {file}{at}: rule {} lambda {:.4e}, R^2 {:.6}, chi^2 {:.1} ({} sigma, {} points), {inside} peak{plural} in the data window{outside}",
            s.rule,
            s.lambda,
            s.r2,
            s.chi2,
            s.sigma,
            s.points,
        ));
        if let Some(w) = s.whiteness.filter(|w| w.excluded > 0) {
            lines.push(format!(
                "  whiteness screen: {} fits within the residual restriction left out, their residual's lag-one autocorrelation above {:.3} (path.csv: residual_lag1)",
                w.excluded,
                w.ceiling.unwrap_or(f64::NAN)
            ));
        }
        if let Some(u) = &s.uncertainty {
            let failed = match u.failed {
                0 => String::new(),
                k => format!(", {k} without a choice"),
            };
            lines.push(format!(
                "  bootstrap: {} {} resamples (seed {}){failed}; 90 % intervals in spectrum.csv, peaks.csv and summary.json",
                u.resamples,
                u.resampling.name(),
                u.seed
            ));
            let rare = u.peaks.iter().filter(|p| p.appearance < 0.9).count();
            if rare > 0 {
                warnings.push(format!(
                    "{file}{at}: {rare} of {} peaks appear in fewer than 90 % of the bootstrap resamples (peaks.csv: appearance)",
                    u.peaks.len()
                ));
            }
        }
        if let Some(stz) = &s.stz {
            if let Some(v) = stz.omega_slope_atomic_volumes {
                let interval = s
                    .uncertainty
                    .as_ref()
                    .and_then(|u| u.omega_slope_m3)
                    .zip(inv.atomic_volume_m3)
                    .map(|(i, va)| {
                        format!(", 90 % interval {:.4} .. {:.4}", i.p05 / va, i.p95 / va)
                    })
                    .unwrap_or_default();
                lines.push(format!(
                    "  Omega slope {v:.4} atomic volumes (standard error {}{interval})",
                    stz.omega_slope_stderr_atomic_volumes
                        .map_or("n/a".into(), |e| format!("{e:.4}"))
                ));
            }
        }
    }
    (warnings, lines)
}

/// The report of a simulation (before the list of files written).
pub fn simulate_lines(name: &str, sim: &Simulation, dir: &std::path::Path) -> Vec<String> {
    let points: usize = sim.series.iter().map(|s| s.x.len()).sum();
    let mut lines = vec![format!(
        "simulated {name} ({} series, {points} points) -> {}",
        sim.series.len(),
        dir.display()
    )];
    for p in &sim.percolation {
        lines.push(format!(
            "  percolation at {:.3e} s: n0 = {}, sum c = {:.4}, rigid fraction = {:.4}",
            p.observation_time_s,
            p.n0.map_or_else(|| "none".into(), |n| n.to_string()),
            p.active_sum_c,
            p.rigid_fraction
        ));
    }
    lines
}

/// A study's headline numbers.
pub fn headline_lines(summary: &StudySummary) -> Vec<String> {
    let mut lines = vec![format!("headline ({}):", summary.headline_note)];
    for (k, v) in &summary.headline.0 {
        lines.push(match v {
            Some(x) => format!("  {k:<40} {x:.6}"),
            None => format!("  {k:<40} -"),
        });
    }
    // A study's direct inversions flag a rule that fell back (`*_fallback`, 1 per flagged run):
    // their count over every cell, which the headline's median would hide.
    for name in summary.numbers.iter().filter(|n| n.ends_with("_fallback")) {
        let (mut flagged, mut runs) = (0.0, 0);
        for cell in &summary.cells {
            if let Some(s) = cell.metrics.get(name).filter(|s| s.count > 0) {
                flagged += s.mean * s.count as f64;
                runs += s.count;
            }
        }
        lines.push(format!(
            "{name}: the inversion's rule fell back (its status is not ok: an optimum at a path \
             end, no corner, ...) in {} of {runs} runs, flagged per run in runs.csv",
            flagged.round()
        ));
    }
    lines
}

/// A sweep's short table: each cell's best rule by median regret, then each rule over the sweep.
pub fn sweep_lines(summary: &SweepSummary) -> Vec<String> {
    let mut lines = Vec::new();
    let best = &summary.best_rule;
    let shown = best.len().min(40);
    lines.push(
        "best rule per cell: median regret (its spectrum L1 error / the path's best point's) and the \
         absolute median L1 error (fraction of the truth's area in the window; path's best in brackets):"
            .to_string(),
    );
    let l1 = |cell: usize, rule: &str| {
        summary
            .cells
            .iter()
            .find(|c| c.cell == cell && c.rule == rule)
            .and_then(|c| c.metrics.get("spectrum_l1"))
            .filter(|s| s.count > 0)
            .map(|s| s.median)
    };
    let fmt = |v: Option<f64>| v.map_or("-".to_string(), |r| format!("{r:.3}"));
    let mut poor = 0;
    for b in &best[..shown] {
        let axes: Vec<String> = b.axes.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let rule = b.rule.as_deref().unwrap_or("-");
        let oracle = l1(b.cell, ORACLE);
        let flag = if oracle.is_some_and(|o| o > POOR_L1) {
            poor += 1;
            "  poor: even the path's best point"
        } else {
            ""
        };
        lines.push(format!(
            "  cell {:>4}  {:<40}  {:<12} {:>6}  L1 {} [{}]{flag}",
            b.cell,
            axes.join(" "),
            rule,
            fmt(b.median_regret),
            fmt(l1(b.cell, rule)),
            fmt(oracle),
        ));
    }
    if poor > 0 {
        lines.push(format!(
            "  {poor} cell(s) marked poor: the best spectrum anywhere on the lambda path misses more than \
             {POOR_L1} of the truth's area there (spectrum_l1), so no rule can recover it under those conditions"
        ));
    }
    if best.len() > shown {
        lines.push(format!(
            "  ... {} more cells in summary.json",
            best.len() - shown
        ));
    }
    if !summary.coverage.is_empty() {
        lines.push(
            "coverage of the nominal 90 % bootstrap intervals (fraction of truths inside; runs):"
                .to_string(),
        );
        for c in summary.coverage.iter().take(shown) {
            let cell: Vec<String> = ["density", "tau", "area", "slope"]
                .iter()
                .map(|q| match c.coverage.get(q) {
                    Some(e) => format!("{q} {:.3} ({})", e.mean, e.runs),
                    None => format!("{q} -"),
                })
                .collect();
            lines.push(format!(
                "  cell {:>4}  {:<12} {}",
                c.cell,
                c.rule,
                cell.join("  ")
            ));
        }
    }
    lines.push("over the whole sweep (rel_l2: density error over the data window; regret_l2: rel_l2 / the path's best):".to_string());
    lines.push(format!(
        "  {:<24} {:>12} {:>12} {:>12} {:>12}",
        "rule", "median regret", "p95 regret", "median rel_l2", "p95 rel_l2"
    ));
    for row in &summary.overall {
        let get = |metric: &str, stat: fn(&Stats) -> f64| {
            row.metrics
                .get(metric)
                .filter(|m| m.stats.count > 0)
                .map_or("-".to_string(), |m| format!("{:.3}", stat(&m.stats)))
        };
        lines.push(format!(
            "  {:<24} {:>12} {:>12} {:>12} {:>12}",
            row.rule,
            get("regret_l2", |s| s.median),
            get("regret_l2", |s| s.p95),
            get("rel_l2", |s| s.median),
            get("rel_l2", |s| s.p95)
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::Named;
    use crate::pipeline::score::Stats;
    use crate::study::{StudyCell, HEADLINE_NOTE};

    #[test]
    fn a_study_counts_its_fallbacks_over_every_cell() {
        let cell = |k: usize, flags: &[f64]| StudyCell {
            cell: k,
            axes: serde_json::Map::new(),
            metrics: Named(vec![
                ("inverted_lambda".to_string(), Stats::of(&[1.0, 2.0])),
                ("inverted_fallback".to_string(), Stats::of(flags)),
            ]),
        };
        let summary = StudySummary {
            scenario: "s".into(),
            study: "temperature-stepping".into(),
            runs: 7,
            repeats: 4,
            axes: vec![],
            headline: Named(vec![("inverted_fallback".to_string(), Some(0.0))]),
            headline_note: HEADLINE_NOTE.to_string(),
            numbers: vec!["inverted_lambda".into(), "inverted_fallback".into()],
            cells: vec![
                cell(0, &[0.0, 1.0, 0.0, 0.0]),
                cell(1, &[1.0, 1.0, f64::NAN]),
            ],
        };
        let lines = headline_lines(&summary);
        let last = lines.last().unwrap();
        assert!(last.starts_with("inverted_fallback:"), "{last}");
        // 1 + 2 flagged of 4 + 2 runs with a value; the headline's median (0) would hide them.
        assert!(last.contains("in 3 of 6 runs"), "{last}");
        assert!(!lines.iter().any(|l| l.starts_with("inverted_lambda:")));
    }
}
