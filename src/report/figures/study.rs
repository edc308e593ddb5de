//! The figures of the method studies (`stzlab run` on a study scenario), one set per study.

use std::path::Path;

use super::super::plot::{Figure, Panel, Series, Style};
use super::invert::global_panels;
use super::{cell_axes, straight_line, t_label, Table};
use crate::study::StudySummary;

pub(super) fn study_figures(dir: &Path, summary: &StudySummary) -> Vec<Figure> {
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
