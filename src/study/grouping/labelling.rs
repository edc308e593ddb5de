//! The labellings of the recovered peaks with STZ sizes, each fitted with paper Eq. 9, and the
//! groupings of both sides of T_g ranked by their joint misfit.

use super::super::StudyError;
use super::{Eq9Fit, Grouping, GroupingResult, Labelling, PeakPoint, TemperaturePeaks};
use crate::analysis::fit::{least_squares, Fit};
use crate::scenario::GroupingParams;
use crate::stz::Material;

/// Most labellings enumerated on one side of T_g.
const MAX_LABELLINGS: usize = 200_000;

/// The model: ln tau of size n at T for atomic volume `va` and ln(nu_G / nu_G of the material) `d`.
pub(super) fn ln_tau_model(material: &Material, n: u32, t_k: f64, va: f64, d: f64) -> f64 {
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
pub(super) fn agrees_with_truth(side: &[TemperaturePeaks], labels: &[Vec<u32>]) -> bool {
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
pub(super) fn truth_labelling(
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
