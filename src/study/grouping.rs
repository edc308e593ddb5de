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
use crate::analysis::fit::{least_squares, Fit};
use crate::constants::{BOLTZMANN_J_PER_K, J_PER_EV};
use crate::files::{fields, Table};
use crate::inversion::Workspace;
use crate::pipeline::simulate::simulate_clean;
use crate::pipeline::trial::run_once;
use crate::scenario::{GroupingParams, Scenario, Truth};
use crate::stz::Material;

/// Most labellings enumerated on one side of T_g.
const MAX_LABELLINGS: usize = 200_000;

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

/// The model: ln tau of size n at T for atomic volume `va` and ln(nu_G / nu_G of the material) `d`.
fn ln_tau_model(material: &Material, n: u32, t_k: f64, va: f64, d: f64) -> f64 {
    material.ln_tau(f64::from(n) * va, t_k) - d
}

/// Fits Eq. 9 to labelled points (n, T, ln tau), starting from `va0`.
fn fit_eq9(material: &Material, points: &[(u32, f64, f64)], va0: f64) -> Eq9Fit {
    let residuals = |p: &[f64]| -> Vec<f64> {
        let va = va0 * p[0].exp();
        points
            .iter()
            .map(|&(n, t, y)| y - ln_tau_model(material, n, t, va, p[1]))
            .collect()
    };
    let f: Fit = least_squares(residuals, &[0.0, 0.0]);
    let va = va0 * f.params[0].exp();
    Eq9Fit {
        atomic_volume_m3: va,
        nu_g_hz: material.params().nu_g_hz * f.params[1].exp(),
        rms_decades: f.rms() / std::f64::consts::LN_10,
        atomic_volume_stderr_m3: va * f.stderr[0],
    }
}

/// The labelled points (n, T, ln tau) of one side.
fn labelled(side: &[TemperaturePeaks], labels: &[Vec<u32>]) -> Vec<(u32, f64, f64)> {
    side.iter()
        .zip(labels)
        .flat_map(|(tp, ls)| {
            tp.peaks
                .iter()
                .zip(ls)
                .map(move |(p, &n)| (n, tp.t_k, p.tau_s.ln()))
        })
        .collect()
}

/// Consecutive labels from the first label of each temperature.
fn consecutive(side: &[TemperaturePeaks], first: &[u32]) -> Vec<Vec<u32>> {
    side.iter()
        .zip(first)
        .map(|(tp, &l)| (l..).take(tp.peaks.len()).collect())
        .collect()
}

/// A starting atomic volume: Eq. 9 inverted for the first peak, over its label.
fn start_volume(material: &Material, side: &[TemperaturePeaks], labels: &[Vec<u32>]) -> f64 {
    let (tp, l) = (&side[0], labels[0][0]);
    let omega = material
        .omega_from_tau(tp.peaks[0].tau_s, tp.t_k)
        .unwrap_or(f64::from(l) * 1e-29);
    omega / f64::from(l)
}

/// The size whose Eq. 9 line under `fit` passes nearest each peak (rounded continuous n; at least 1).
fn nearest_sizes(material: &Material, side: &[TemperaturePeaks], fit: &Eq9Fit) -> Vec<Vec<u32>> {
    let scale = fit.nu_g_hz / material.params().nu_g_hz;
    side.iter()
        .map(|tp| {
            tp.peaks
                .iter()
                .map(|p| {
                    material
                        .omega_from_tau(p.tau_s * scale, tp.t_k)
                        .map_or(1, |omega| {
                            let n = (omega / fit.atomic_volume_m3).round();
                            if n.is_finite() && n >= 1.0 {
                                n.min(f64::from(u32::MAX)) as u32
                            } else {
                                1
                            }
                        })
                })
                .collect()
        })
        .collect()
}

/// Alternates fitting and relabelling each peak with its nearest size until the labels settle
/// (each half-step lowers the misfit, so this ends; at most 20 rounds).
fn refine(
    material: &Material,
    side: &[TemperaturePeaks],
    mut labels: Vec<Vec<u32>>,
) -> (Vec<Vec<u32>>, Eq9Fit) {
    let mut fit = fit_eq9(
        material,
        &labelled(side, &labels),
        start_volume(material, side, &labels),
    );
    for _ in 0..20 {
        if !fit.rms_decades.is_finite() {
            break;
        }
        let next = nearest_sizes(material, side, &fit);
        if next == labels {
            break;
        }
        let next_fit = fit_eq9(material, &labelled(side, &next), fit.atomic_volume_m3);
        if !(next_fit.rms_decades < fit.rms_decades) {
            break;
        }
        labels = next;
        fit = next_fit;
    }
    (labels, fit)
}

/// Whether every matched peak carries its truth size.
fn agrees_with_truth(side: &[TemperaturePeaks], labels: &[Vec<u32>]) -> bool {
    side.iter().zip(labels).all(|(tp, ls)| {
        tp.peaks
            .iter()
            .zip(ls)
            .all(|(p, &n)| p.truth_n.is_none_or(|t| t == n))
    })
}

/// The truth's labelling of a side: matched peaks carry their size; unmatched ones (split or
/// spurious peaks) take the size whose line, fitted to the matched peaks, passes nearest. None when
/// no peak is matched.
fn truth_labelling(
    material: &Material,
    side: &[TemperaturePeaks],
) -> Option<(Vec<Vec<u32>>, Eq9Fit)> {
    let matched: Vec<(u32, f64, f64)> = side
        .iter()
        .flat_map(|tp| {
            tp.peaks
                .iter()
                .filter_map(move |p| p.truth_n.map(|n| (n, tp.t_k, p.tau_s.ln())))
        })
        .collect();
    let &(n0, t0, y0) = matched.first()?;
    let va0 = material
        .omega_from_tau(y0.exp(), t0)
        .unwrap_or(f64::from(n0) * 1e-29)
        / f64::from(n0);
    let on_matched = fit_eq9(material, &matched, va0);
    let nearest = nearest_sizes(material, side, &on_matched);
    let labels: Vec<Vec<u32>> = side
        .iter()
        .zip(nearest)
        .map(|(tp, near)| {
            tp.peaks
                .iter()
                .zip(near)
                .map(|(p, n)| p.truth_n.unwrap_or(n))
                .collect()
        })
        .collect();
    let fit = fit_eq9(
        material,
        &labelled(side, &labels),
        on_matched.atomic_volume_m3,
    );
    Some((labels, fit))
}

/// The candidate labellings of one side: for each first label in range, the steps that fit best;
/// and the truth's labelling.
fn side_labellings(
    material: &Material,
    side: &[TemperaturePeaks],
    p: &GroupingParams,
) -> Result<Vec<Labelling>, StudyError> {
    if side.is_empty() {
        return Ok(Vec::new());
    }
    let choices = p.max_label_step as usize + 1;
    let per_offset = choices
        .checked_pow(u32::try_from(side.len() - 1).unwrap_or(u32::MAX))
        .filter(|&c| c.saturating_mul((p.n_first_max - p.n_first_min + 1) as usize) <= MAX_LABELLINGS)
        .ok_or_else(|| {
            StudyError::Input(format!(
                "{} temperatures on one side of T_g with max_label_step = {} and {} first sizes give more than {MAX_LABELLINGS} labellings; use fewer temperatures or a narrower n_first range",
                side.len(),
                p.max_label_step,
                p.n_first_max - p.n_first_min + 1
            ))
        })?;
    let mut out: Vec<Labelling> = Vec::new();
    for l0 in p.n_first_min..=p.n_first_max {
        let mut best: Option<(Vec<Vec<u32>>, Eq9Fit)> = None;
        for code in 0..per_offset {
            let mut first = vec![l0];
            let mut c = code;
            for _ in 1..side.len() {
                let step = (c % choices) as u32;
                c /= choices;
                first.push(first[first.len() - 1] + step);
            }
            let labels = consecutive(side, &first);
            let fit = fit_eq9(
                material,
                &labelled(side, &labels),
                start_volume(material, side, &labels),
            );
            if !fit.rms_decades.is_finite() {
                continue;
            }
            if best
                .as_ref()
                .is_none_or(|(_, b)| fit.rms_decades < b.rms_decades)
            {
                best = Some((labels, fit));
            }
        }
        let Some((labels, _)) = best else { continue };
        let (labels, fit) = refine(material, side, labels);
        if fit.rms_decades.is_finite() && !out.iter().any(|l| l.labels == labels) {
            let is_truth = agrees_with_truth(side, &labels);
            out.push(Labelling {
                labels,
                fit,
                is_truth,
            });
        }
    }
    if !out.iter().any(|l| l.is_truth) {
        if let Some((labels, fit)) = truth_labelling(material, side) {
            out.push(Labelling {
                labels,
                fit,
                is_truth: true,
            });
        }
    }
    Ok(out)
}

/// log10 tau at T_g of the sizes either side labels, from each side's own fit: the RMS difference.
fn continuity_gap(material: &Material, t_g_k: f64, below: &Labelling, above: &Labelling) -> f64 {
    let (b_lo, b_hi) = below.range();
    let (a_lo, a_hi) = above.range();
    let eval = |l: &Labelling, n: u32| {
        let d = (l.fit.nu_g_hz / material.params().nu_g_hz).ln();
        ln_tau_model(material, n, t_g_k, l.fit.atomic_volume_m3, d) / std::f64::consts::LN_10
    };
    let ns: Vec<u32> = (b_lo.min(a_lo)..=b_hi.max(a_hi)).collect();
    let ss: f64 = ns
        .iter()
        .map(|&n| (eval(below, n) - eval(above, n)).powi(2))
        .sum();
    (ss / ns.len() as f64).sqrt()
}

/// Labels, fits and ranks the groupings of the kept peaks.
///
/// # Errors
/// [`StudyError::Input`] when there are no peaks or too many labellings.
pub fn rank_groupings(
    material: &Material,
    t_g_k: Option<f64>,
    temperatures: Vec<TemperaturePeaks>,
    p: &GroupingParams,
) -> Result<GroupingResult, StudyError> {
    let (below, above): (Vec<_>, Vec<_>) = temperatures
        .into_iter()
        .filter(|tp| !tp.peaks.is_empty())
        .partition(|tp| t_g_k.is_some_and(|g| tp.t_k < g));
    if below.is_empty() && above.is_empty() {
        return Err(StudyError::Input(
            "no peak was recovered inside the frequency window at any temperature".into(),
        ));
    }
    let below_labellings = side_labellings(material, &below, p)?;
    let above_labellings = side_labellings(material, &above, p)?;
    let b_opts: Vec<Option<usize>> = if below.is_empty() {
        vec![None]
    } else {
        (0..below_labellings.len()).map(Some).collect()
    };
    let a_opts: Vec<Option<usize>> = if above.is_empty() {
        vec![None]
    } else {
        (0..above_labellings.len()).map(Some).collect()
    };
    let mut ranked = Vec::new();
    for &b in &b_opts {
        for &a in &a_opts {
            let mut points = Vec::new();
            let mut va0 = f64::NAN;
            if let Some(b) = b {
                points.extend(labelled(&below, &below_labellings[b].labels));
                va0 = below_labellings[b].fit.atomic_volume_m3;
            }
            if let Some(a) = a {
                points.extend(labelled(&above, &above_labellings[a].labels));
                if !va0.is_finite() {
                    va0 = above_labellings[a].fit.atomic_volume_m3;
                }
            }
            let joint = fit_eq9(material, &points, va0);
            let continuity_gap_decades = match (b, a, t_g_k) {
                (Some(b), Some(a), Some(g)) => {
                    continuity_gap(material, g, &below_labellings[b], &above_labellings[a])
                }
                _ => f64::NAN,
            };
            let is_truth = b.is_none_or(|b| below_labellings[b].is_truth)
                && a.is_none_or(|a| above_labellings[a].is_truth);
            ranked.push(Grouping {
                below: b,
                above: a,
                joint,
                continuity_gap_decades,
                is_truth,
            });
        }
    }
    ranked.sort_by(|x, y| {
        x.joint.rms_decades.total_cmp(&y.joint.rms_decades).then(
            x.continuity_gap_decades
                .total_cmp(&y.continuity_gap_decades),
        )
    });
    Ok(GroupingResult {
        below,
        above,
        below_labellings,
        above_labellings,
        ranked,
    })
}

impl GroupingResult {
    /// Every kept peak with its label in grouping `g`: (side, peak, n).
    pub fn labels(&self, g: &Grouping) -> Vec<(&TemperaturePeaks, &PeakPoint, u32)> {
        let mut out = Vec::new();
        for (side, labs, idx) in [
            (&self.below, &self.below_labellings, g.below),
            (&self.above, &self.above_labellings, g.above),
        ] {
            if let Some(i) = idx {
                for (tp, ls) in side.iter().zip(&labs[i].labels) {
                    for (p, &n) in tp.peaks.iter().zip(ls) {
                        out.push((tp, p, n));
                    }
                }
            }
        }
        out
    }

    /// 1-based rank of the truth's grouping (None when the truth implies no consistent labelling).
    pub fn truth_rank(&self) -> Option<usize> {
        self.ranked.iter().position(|g| g.is_truth).map(|i| i + 1)
    }

    /// 1-based rank of the truth's grouping when ordered by the continuity gap alone.
    pub fn truth_rank_by_continuity(&self) -> Option<usize> {
        let truth = self.ranked.iter().find(|g| g.is_truth)?;
        let gap = truth.continuity_gap_decades;
        if !gap.is_finite() {
            return None;
        }
        Some(
            1 + self
                .ranked
                .iter()
                .filter(|g| g.continuity_gap_decades < gap)
                .count(),
        )
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn zr() -> Material {
        crate::stz::zr_test_material()
    }

    /// Exact Eq. 9 peaks of sizes 25..=33 inside 0.01..100 s at each temperature.
    fn exact(material: &Material, va: f64, temps: &[f64]) -> Vec<TemperaturePeaks> {
        temps
            .iter()
            .map(|&t| TemperaturePeaks {
                t_k: t,
                peaks: (25..=33)
                    .map(|n| PeakPoint {
                        t_k: t,
                        tau_s: material.tau_s(f64::from(n) * va, t),
                        area: 1.0,
                        truth_n: Some(n),
                    })
                    .filter(|q| q.tau_s >= 0.01 && q.tau_s <= 100.0)
                    .collect(),
            })
            .collect()
    }

    fn params() -> GroupingParams {
        GroupingParams {
            n_first_min: 22,
            n_first_max: 28,
            max_label_step: 2,
            min_area_fraction: 0.02,
            global_per_decade: 20.0,
        }
    }

    #[test]
    fn exact_peaks_rank_the_true_grouping_first_with_the_true_parameters() {
        let m = zr();
        let temps = [560.0, 575.0, 590.0, 605.0, 620.0, 635.0, 650.0, 665.0];
        let peaks = exact(&m, 10.4e-30, &temps);
        let r = rank_groupings(&m, Some(625.0), peaks, &params()).unwrap();
        assert_eq!(r.truth_rank(), Some(1));
        let best = &r.ranked[0];
        assert!(best.joint.rms_decades < 1e-8, "{}", best.joint.rms_decades);
        assert!((best.joint.atomic_volume_m3 / 10.4e-30 - 1.0).abs() < 1e-8);
        assert!((best.joint.nu_g_hz / 1e13 - 1.0).abs() < 1e-6);
        assert!(best.continuity_gap_decades < 1e-8);
        // A shifted labelling cannot fit exactly: Eq. 9 fixes n through the ratio of each size's
        // activation energy to the spacing of adjacent sizes.
        assert!(r.ranked[1].joint.rms_decades > 1e-3);
    }

    #[test]
    fn shifting_one_side_by_one_size_breaks_continuity_at_t_g() {
        let m = zr();
        let temps = [560.0, 575.0, 590.0, 605.0, 620.0, 635.0, 650.0, 665.0];
        let r = rank_groupings(&m, Some(625.0), exact(&m, 10.4e-30, &temps), &params()).unwrap();
        let truth = r.ranked.iter().find(|g| g.is_truth).unwrap();
        let below_truth = &r.below_labellings[truth.below.unwrap()];
        let above_truth = &r.above_labellings[truth.above.unwrap()];
        // The grouping with the true labelling below and every size above one higher.
        let shifted = r
            .ranked
            .iter()
            .find(|g| {
                g.below == truth.below
                    && r.above_labellings[g.above.unwrap()].labels[0][0]
                        == above_truth.labels[0][0] + 1
            })
            .unwrap();
        assert!(below_truth.fit.rms_decades < 1e-8);
        // One size is about 0.5 decade at T_g; the simultaneous fit cannot hide it.
        assert!(
            shifted.continuity_gap_decades > 0.2,
            "{}",
            shifted.continuity_gap_decades
        );
        assert!(
            shifted.joint.rms_decades > 0.05,
            "{}",
            shifted.joint.rms_decades
        );
    }

    #[test]
    fn a_split_peak_shares_the_size_of_its_neighbour() {
        let m = zr();
        let temps = [560.0, 575.0, 590.0, 605.0, 620.0, 635.0, 650.0, 665.0];
        let mut peaks = exact(&m, 10.4e-30, &temps);
        // At 635 K an unmatched extra peak 0.15 decade above the size-27 peak.
        let tp = &mut peaks[5];
        let at = tp.peaks.iter().position(|q| q.truth_n == Some(27)).unwrap();
        let mut extra = tp.peaks[at].clone();
        extra.tau_s *= 10f64.powf(0.15);
        extra.truth_n = None;
        tp.peaks.insert(at + 1, extra);
        let r = rank_groupings(&m, Some(625.0), peaks, &params()).unwrap();
        assert_eq!(r.truth_rank(), Some(1));
        let best = &r.ranked[0];
        let labels = &r.above_labellings[best.above.unwrap()].labels[0];
        assert_eq!(labels[at], 27);
        assert_eq!(labels[at + 1], 27, "{labels:?}");
        assert_eq!(labels[at + 2], 28);
        assert!((best.joint.atomic_volume_m3 / 10.4e-30 - 1.0).abs() < 1e-3);
    }

    #[test]
    fn truth_labelling_keeps_the_matched_sizes() {
        let m = zr();
        let mut peaks = exact(&m, 10.4e-30, &[560.0, 590.0, 620.0]);
        peaks[1].peaks[1].truth_n = None;
        let (labels, fit) = truth_labelling(&m, &peaks).unwrap();
        assert_eq!(labels[1][..3], [25, 26, 27]);
        assert!(fit.rms_decades < 1e-8);
        assert!(agrees_with_truth(&peaks, &labels));
        let mut shifted = labels.clone();
        shifted[2][0] += 1;
        assert!(!agrees_with_truth(&peaks, &shifted));
    }
}
