//! Arrhenius grouping (paper section 6, Fig. 8): DMA loss data at every temperature, each inverted
//! alone; the recovered peaks tau(T) labelled with STZ sizes n; every candidate labelling fitted
//! with paper Eq. 9 (free atomic volume V_a and attempt frequency nu_G, mu(T) of the material,
//! linear above T_g); the groupings ranked by the misfit of one simultaneous fit over both sides of
//! T_g and by the continuity of the two sides' separate fits at T_g.
//!
//! Candidate labellings of one side of T_g start from consecutive sizes: at each temperature the
//! fastest kept peak takes a size n and the slower ones n + 1, n + 2, ... (sizes order their
//! relaxation times at one temperature); between neighbouring temperatures that first size may rise
//! by 0..=max_label_step (heating brings slower sizes into the frequency window, never faster ones
//! back). For each first size of the coldest temperature the best-fitting steps are kept, then
//! refined by relabelling every peak with the size whose fitted line passes nearest and refitting,
//! until the labels settle: a split or spurious peak then shares a size with its neighbour instead
//! of pushing every slower peak up by one. The labelling the truth implies is always a candidate, so
//! that its rank is measured even when a wrong one fits better.

use rand::{Rng, RngExt};

use crate::inversion::global::density_per_ev;
use crate::pipeline::invert::global::{invert_loss_global, GlobalInversion};
use crate::pipeline::simulate::Simulation;
use crate::pipeline::trial::noisy_data;
use crate::stz::Hierarchy;

use super::{fallback, Outcome, StudyError};
use crate::constants::{BOLTZMANN_J_PER_K, J_PER_EV};
use crate::files::{fields, Table};
use crate::inversion::Workspace;
use crate::pipeline::simulate::simulate_clean;
use crate::pipeline::trial::run_once;
use crate::scenario::{GroupingParams, Scenario, Truth};
use crate::stz::Material;

mod labelling;
#[cfg(test)]
mod tests;

use labelling::ln_tau_model;
pub use labelling::rank_groupings;

/// A recovered peak kept for the grouping.
#[derive(Debug, Clone, PartialEq)]
pub struct PeakPoint {
    /// Temperature, K.
    pub t_k: f64,
    /// Relaxation time (centroid), s.
    pub tau_s: f64,
    /// Area, Pa.
    pub area: f64,
    /// Size of the truth peak it matched, if any.
    pub truth_n: Option<u32>,
}

/// The kept peaks of one temperature, fastest first.
#[derive(Debug, Clone, PartialEq)]
pub struct TemperaturePeaks {
    /// Temperature, K.
    pub t_k: f64,
    /// Peaks, ascending tau.
    pub peaks: Vec<PeakPoint>,
}

/// One side of T_g labelled: a size for every kept peak.
#[derive(Debug, Clone, PartialEq)]
pub struct Labelling {
    /// Sizes per temperature of the side (coldest first), per peak (fastest first).
    pub labels: Vec<Vec<u32>>,
    /// The fit of Eq. 9 to this side alone.
    pub fit: Eq9Fit,
    /// Whether every peak matched to a truth size carries that size.
    pub is_truth: bool,
}

impl Labelling {
    /// The labels written compactly: temperatures separated by `;`, peaks by spaces.
    pub fn text(&self) -> String {
        self.labels
            .iter()
            .map(|t| t.iter().map(u32::to_string).collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
            .join(";")
    }

    /// Smallest and largest size.
    fn range(&self) -> (u32, u32) {
        let all = self.labels.iter().flatten();
        (
            all.clone().copied().min().unwrap_or(0),
            all.copied().max().unwrap_or(0),
        )
    }
}

/// A fit of Eq. 9.
#[derive(Debug, Clone, PartialEq)]
pub struct Eq9Fit {
    /// Atomic volume V_a, m^3.
    pub atomic_volume_m3: f64,
    /// Attempt frequency nu_G, Hz.
    pub nu_g_hz: f64,
    /// RMS residual in log10 tau, decades.
    pub rms_decades: f64,
    /// Standard error of V_a, m^3.
    pub atomic_volume_stderr_m3: f64,
}

/// A grouping: a labelling on each side, fitted together.
#[derive(Debug, Clone, PartialEq)]
pub struct Grouping {
    /// Index into the below-T_g labellings (None without peaks there).
    pub below: Option<usize>,
    /// Index into the above-T_g labellings.
    pub above: Option<usize>,
    /// The simultaneous fit over both sides.
    pub joint: Eq9Fit,
    /// RMS difference at T_g of log10 tau_n between the two sides' own fits, over the sizes either
    /// side labels, decades (NaN with one side only).
    pub continuity_gap_decades: f64,
    /// Whether both sides are the truth's labelling.
    pub is_truth: bool,
}

/// Everything the grouping found.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupingResult {
    /// Kept peaks below T_g (temperatures with peaks), coldest first.
    pub below: Vec<TemperaturePeaks>,
    /// Kept peaks at and above T_g.
    pub above: Vec<TemperaturePeaks>,
    /// Candidate labellings below T_g.
    pub below_labellings: Vec<Labelling>,
    /// Candidate labellings above T_g.
    pub above_labellings: Vec<Labelling>,
    /// Every combination, best (smallest joint misfit) first.
    pub ranked: Vec<Grouping>,
}

/// Inverts the scenario's DMA data at every temperature (one noise draw) and keeps the peaks of the
/// first rule inside the frequency window with at least `min_area_fraction` of the temperature's
/// largest peak area.
fn recovered_peaks(
    scenario: &Scenario,
    p: &GroupingParams,
    clean: &Simulation,
    seed: u64,
) -> Result<(Vec<TemperaturePeaks>, usize), StudyError> {
    let (Some(material), Some(Truth::Hierarchy(h))) = (&scenario.material, &scenario.truth) else {
        return Err(StudyError::Input(
            "the arrhenius-grouping study needs a material and a hierarchy truth".into(),
        ));
    };
    let mut ws = Workspace::default();
    let result = run_once(scenario, clean, seed, true, &mut ws);
    // The temperatures whose rule (the scenario's first) fell back: its status is not ok.
    let fallbacks = result
        .rows
        .iter()
        .filter(|r| r.rule == scenario.rules.first().copied() && r.status != "ok")
        .count();
    let spectra = result.spectra.unwrap_or_default();
    let mut out = Vec::new();
    for (series, s) in clean.series.iter().zip(&spectra) {
        let t_k = series.temperature_k.unwrap_or(f64::NAN);
        let (w_lo, w_hi) = series
            .x
            .iter()
            .fold((f64::INFINITY, 0.0f64), |(a, b), &w| (a.min(w), b.max(w)));
        let window = (1.0 / w_hi, 1.0 / w_lo);
        let levels = h.levels(material, t_k);
        let found = s.peaks.first().cloned().unwrap_or_default();
        let inside: Vec<_> = found
            .into_iter()
            .filter(|q| q.tau_s >= window.0 && q.tau_s <= window.1)
            .collect();
        let biggest = inside.iter().map(|q| q.area).fold(0.0, f64::max);
        let mut peaks: Vec<PeakPoint> = inside
            .into_iter()
            .filter(|q| q.area >= p.min_area_fraction * biggest)
            .map(|q| PeakPoint {
                t_k,
                tau_s: q.tau_s,
                area: q.area,
                truth_n: q.truth.and_then(|(_, truth_tau, _)| {
                    levels
                        .iter()
                        .min_by(|a, b| {
                            (a.tau_s / truth_tau)
                                .ln()
                                .abs()
                                .total_cmp(&(b.tau_s / truth_tau).ln().abs())
                        })
                        .map(|l| l.n)
                }),
            })
            .collect();
        peaks.sort_by(|a, b| a.tau_s.total_cmp(&b.tau_s));
        out.push(TemperaturePeaks { t_k, peaks });
    }
    out.sort_by(|a, b| a.t_k.total_cmp(&b.t_k));
    Ok((out, fallbacks))
}

pub(super) fn run<R: Rng + ?Sized>(
    scenario: &Scenario,
    p: &GroupingParams,
    rng: &mut R,
    keep_tables: bool,
) -> Result<Outcome, StudyError> {
    let (Some(material), Some(Truth::Hierarchy(h))) = (&scenario.material, &scenario.truth) else {
        return Err(StudyError::Input(
            "the arrhenius-grouping study needs a material and a hierarchy truth".into(),
        ));
    };
    let t_g_k = material.params().glass_transition.map(|g| g.t_g_k);
    let clean = simulate_clean(scenario).map_err(|e| StudyError::Input(e.to_string()))?;
    // One noise draw, read both ways: per temperature and grouped, and globally.
    let seed: u64 = rng.random();
    let (temperatures, fallback_temperatures) = recovered_peaks(scenario, p, &clean, seed)?;
    let global = global_reading(scenario, material, &clean, seed, p)?;
    let r = rank_groupings(material, t_g_k, temperatures, p)?;
    let best = &r.ranked[0];
    let truth = r.ranked.iter().find(|g| g.is_truth);
    let labels = r.labels(best);
    let matched: Vec<_> = labels
        .iter()
        .filter(|(_, q, _)| q.truth_n.is_some())
        .collect();
    let correct = matched
        .iter()
        .filter(|(_, q, n)| q.truth_n == Some(*n))
        .count();
    let ns = labels.iter().map(|l| l.2);
    let (n_lo, n_hi) = (ns.clone().min().unwrap_or(0), ns.max().unwrap_or(0));
    let true_va = h.volume().omega_m3(1);
    let mut out = Outcome::default();
    let nan = f64::NAN;
    let rank_f = |r: Option<usize>| r.map_or(nan, |v| v as f64);
    out.push("true_grouping_rank", rank_f(r.truth_rank()));
    out.push(
        "true_grouping_first",
        r.truth_rank().map_or(nan, |k| f64::from(u8::from(k == 1))),
    );
    out.push(
        "true_grouping_rank_by_continuity",
        rank_f(r.truth_rank_by_continuity()),
    );
    out.push("groupings", r.ranked.len() as f64);
    out.push("peaks_used", labels.len() as f64);
    out.push("peaks_matched", matched.len() as f64);
    out.push(
        "best_labels_correct_fraction",
        if matched.is_empty() {
            nan
        } else {
            correct as f64 / matched.len() as f64
        },
    );
    // The best grouping's sizes minus the truth's: the most common offset, and the fraction of
    // matched peaks at that offset (1 when the relative grouping is right, whatever the offset).
    let offsets: Vec<i64> = matched
        .iter()
        .filter_map(|(_, q, n)| q.truth_n.map(|t| i64::from(*n) - i64::from(t)))
        .collect();
    let mode = offsets
        .iter()
        .copied()
        .max_by_key(|o| (offsets.iter().filter(|v| *v == o).count(), -o.abs()));
    out.push("best_size_offset", mode.map_or(nan, |o| o as f64));
    out.push(
        "best_relative_grouping_fraction",
        mode.map_or(nan, |o| {
            offsets.iter().filter(|v| **v == o).count() as f64 / offsets.len() as f64
        }),
    );
    out.push("best_misfit_decades", best.joint.rms_decades);
    out.push(
        "runner_up_misfit_decades",
        r.ranked.get(1).map_or(nan, |g| g.joint.rms_decades),
    );
    out.push(
        "true_misfit_decades",
        truth.map_or(nan, |g| g.joint.rms_decades),
    );
    out.push("best_continuity_gap_decades", best.continuity_gap_decades);
    out.push(
        "true_continuity_gap_decades",
        truth.map_or(nan, |g| g.continuity_gap_decades),
    );
    out.push("best_n_min", f64::from(n_lo));
    out.push("best_n_max", f64::from(n_hi));
    out.push("best_atomic_volume_m3", best.joint.atomic_volume_m3);
    out.push(
        "best_atomic_volume_stderr_m3",
        best.joint.atomic_volume_stderr_m3,
    );
    out.push("best_nu_g_hz", best.joint.nu_g_hz);
    out.push("true_atomic_volume_m3", true_va);
    out.push("true_nu_g_hz", material.params().nu_g_hz);
    let bracket_ev = |va: f64, n: u32, t: f64| material.delta_f_j(f64::from(n) * va, t) / J_PER_EV;
    let t_low = r.below.first().or(r.above.first()).map_or(nan, |tp| tp.t_k);
    out.push(
        "best_df_min_ev",
        bracket_ev(best.joint.atomic_volume_m3, n_lo, t_low),
    );
    out.push(
        "best_df_max_ev",
        bracket_ev(best.joint.atomic_volume_m3, n_hi, t_low),
    );
    // The global inversion of the same data: every temperature at once, no grouping step.
    let truth_sizes: Vec<u32> = h
        .sizes()
        .iter()
        .copied()
        .filter(|&n| {
            let o = h.volume().omega_m3(n);
            (global.window_m3.0..=global.window_m3.1).contains(&o)
        })
        .collect();
    out.push("fallback_temperatures", fallback_temperatures as f64);
    let sized = global.sizes(material, p.min_area_fraction);
    out.push(
        "global_peaks",
        global.peaks_m3(material, p.min_area_fraction).len() as f64,
    );
    out.push(
        "global_atomic_volume_m3",
        sized.as_ref().map_or(nan, |q| q.atomic_volume_m3),
    );
    out.push(
        "global_atomic_volume_error",
        sized
            .as_ref()
            .map_or(nan, |q| q.atomic_volume_m3 / true_va - 1.0),
    );
    out.push(
        "global_n_min",
        sized.as_ref().map_or(nan, |q| f64::from(q.sizes[0])),
    );
    out.push(
        "global_integer_misfit",
        sized.as_ref().map_or(nan, |q| q.integer_misfit),
    );
    out.push(
        "global_sizes_right",
        f64::from(u8::from(
            sized.as_ref().is_some_and(|q| q.sizes == truth_sizes),
        )),
    );
    out.push("global_lambda", global.series.choice().solution.lambda);
    out.push("global_fallback", fallback(global.series.choice()));
    if keep_tables {
        out.tables = tables(material, &r, t_low);
        out.tables
            .extend(global_tables(&global, material, h, &clean));
    }
    Ok(out)
}

/// The global inversion of one noise draw (the one [`run_once`] inverts with `seed`).
fn global_reading(
    scenario: &Scenario,
    material: &Material,
    clean: &Simulation,
    seed: u64,
    p: &GroupingParams,
) -> Result<GlobalInversion, StudyError> {
    let series = noisy_data(scenario, clean, seed);
    // The scenario's inversion settings on the global grid's density.
    let options = crate::inversion::InvertOptions {
        per_decade: p.global_per_decade,
        points: None,
        ..scenario.inversion.clone()
    };
    invert_loss_global(&series, material, &options, &mut Workspace::default(), &())
        .map_err(|e| StudyError::Input(format!("the global inversion: {e}")))
}

/// `global_truth` (`n,omega_m3,c`), `global_spectrum` (the recovered spectrum against Omega, n =
/// Omega / V_a of the truth and dF at the coldest temperature: `omega_m3,n,df_ev,density,
/// density_per_ev,weight`, per unit ln tau_ref and per eV), `global_peaks` (each kept peak with its
/// size) and `global_fit` (the normalized data and fit at every temperature).
fn global_tables(
    g: &GlobalInversion,
    material: &Material,
    h: &Hierarchy,
    clean: &Simulation,
) -> Vec<(String, Table)> {
    let va = h.volume().omega_m3(1);
    let solution = &g.series.choice().solution;
    let step = g.grid.grid.step();
    let coldest = clean
        .series
        .iter()
        .filter_map(|s| s.temperature_k)
        .fold(f64::INFINITY, f64::min);
    let df: Vec<f64> = g
        .grid
        .omega_m3
        .iter()
        .map(|o| material.delta_f_j(*o, coldest) / J_PER_EV)
        .collect();
    let per_ev = density_per_ev(&df, &solution.amplitudes);
    let mut spectrum = Table::new(&[
        "omega_m3",
        "n",
        "df_ev",
        "density",
        "density_per_ev",
        "weight",
    ]);
    for (j, (o, w)) in g.grid.omega_m3.iter().zip(&solution.amplitudes).enumerate() {
        spectrum.push(fields![*o, o / va, df[j], w / step, per_ev[j], *w]);
    }
    let mut peaks = Table::new(&["omega_m3", "n", "area"]);
    for (o, a) in g.peaks_m3(material, 0.0) {
        peaks.push(fields![o, o / va, a]);
    }
    let fit = g.series.problem.fitted(solution);
    let mut rows = Table::new(&[
        "temperature_k",
        "omega_rad_s",
        "loss_normalized",
        "fit_normalized",
    ]);
    let mut i = 0;
    for s in &clean.series {
        for &w in &s.x {
            rows.push(fields![
                s.temperature_k.unwrap_or(f64::NAN),
                w,
                g.series.problem.y()[i],
                fit[i]
            ]);
            i += 1;
        }
    }
    let mut truth = Table::new(&["n", "omega_m3", "c"]);
    for (n, c) in h.sizes().iter().zip(h.c()) {
        truth.push(fields![*n, h.volume().omega_m3(*n), *c]);
    }
    vec![
        ("global_truth".into(), truth),
        ("global_spectrum".into(), spectrum),
        ("global_peaks".into(), peaks),
        ("global_fit".into(), rows),
    ]
}

/// `peaks` (every kept peak with its size in the best and the true grouping), `groupings` (every
/// candidate, ranked) and `lines` (Eq. 9 of the best grouping for each size, for plotting).
fn tables(material: &Material, r: &GroupingResult, t_low: f64) -> Vec<(String, Table)> {
    let best = &r.ranked[0];
    let mut peaks = Table::new(&[
        "temperature_k",
        "side",
        "tau_s",
        "area_pa",
        "truth_n",
        "best_n",
    ]);
    for (tp, q, n) in r.labels(best) {
        let side = if r.below.iter().any(|b| std::ptr::eq(b, tp)) {
            "below"
        } else {
            "above"
        };
        peaks.push(fields![tp.t_k, side, q.tau_s, q.area, q.truth_n, n]);
    }
    let steps = |labs: &[Labelling], i: Option<usize>| i.map(|i| labs[i].text());
    let mut groupings = Table::new(&[
        "rank",
        "below_labels",
        "above_labels",
        "misfit_decades",
        "continuity_gap_decades",
        "atomic_volume_m3",
        "nu_g_hz",
        "is_truth",
    ]);
    for (k, g) in r.ranked.iter().enumerate() {
        groupings.push(fields![
            k + 1,
            steps(&r.below_labellings, g.below),
            steps(&r.above_labellings, g.above),
            g.joint.rms_decades,
            g.continuity_gap_decades,
            g.joint.atomic_volume_m3,
            g.joint.nu_g_hz,
            usize::from(g.is_truth)
        ]);
    }
    let labels = r.labels(best);
    let t_hi = labels.iter().map(|l| l.0.t_k).fold(t_low, f64::max);
    let (n_lo, n_hi) = (
        labels.iter().map(|l| l.2).min().unwrap_or(0),
        labels.iter().map(|l| l.2).max().unwrap_or(0),
    );
    let d = (best.joint.nu_g_hz / material.params().nu_g_hz).ln();
    let mut lines = Table::new(&["n", "temperature_k", "inverse_kt_per_ev", "tau_s"]);
    for n in n_lo..=n_hi {
        for k in 0..=40 {
            let t = t_low + (t_hi - t_low) * f64::from(k) / 40.0;
            let ln_tau = ln_tau_model(material, n, t, best.joint.atomic_volume_m3, d);
            lines.push(fields![
                n,
                t,
                J_PER_EV / (BOLTZMANN_J_PER_K * t),
                ln_tau.exp()
            ]);
        }
    }
    vec![
        ("peaks".into(), peaks),
        ("groupings".into(), groupings),
        ("lines".into(), lines),
    ]
}
