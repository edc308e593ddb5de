//! The recovery metrics: how far a chosen spectrum is from the effective truth (spectrum L1 and
//! relative L2 over the data window, areas, baselines, peak matching, the Omega slope), and the
//! statistics (median, p05, p95) that summarize them over repeats.

use serde::Serialize;

use super::invert::baseline::BaselineTrade;
use super::trial::FollowedPeak;
use super::uncertainty::{PeakUncertainty, StzInput, Uncertainty};
use crate::analysis::linear_slope;
use crate::inversion::{significance, Baseline, Kernel, Problem, Solution, NOISE_SIGNIFICANCE};
use crate::pipeline::simulate::{EffectiveTruth, Series};
use crate::scenario::{Scenario, Truth};
use crate::spectrum::{LnTauGrid, SpectrumPeak};

pub use super::stats::{quantile, Stats};

/// Declares [`Metrics`] and [`METRICS`] from one list, so that the struct, the column names and
/// the column order cannot drift apart.
macro_rules! metrics {
    ($($(#[doc = $doc:literal])* $name:ident,)*) => {
        /// The recovery metrics of one choice against the truth (NaN where undefined), the columns of
        /// `runs.csv` in declaration order (definitions and units also in the README).
        #[derive(Debug, Clone, Copy, PartialEq, Serialize)]
        pub struct Metrics {
            $($(#[doc = $doc])* pub $name: f64,)*
        }

        /// Names of the metrics, in column order.
        pub const METRICS: [&str; [$(stringify!($name)),*].len()] = [$(stringify!($name)),*];

        impl Metrics {
            /// Every metric undefined (a rule that made no choice, an unusable grid).
            pub const UNDEFINED: Self = Self { $($name: f64::NAN,)* };

            /// The values in [`METRICS`] order.
            pub fn values(&self) -> [f64; METRICS.len()] {
                [$(self.$name),*]
            }
        }
    };
}

metrics! {
    /// Chosen lambda, of the weighted objective (0 for the iterative mode).
    lambda,
    /// R^2 of the fit.
    r2,
    /// chi^2 = ||W r||^2 / sigma^2 (sigma from the noise model, else estimated).
    chi2,
    /// Number of peaks of the chosen spectrum.
    peaks,
    /// Integral over the data window W of |density difference| d ln tau, over the truth's area in W.
    spectrum_l1,
    /// sqrt(integral over W of (density difference)^2 d ln tau) / truth's area in W, (ln tau)^-1/2.
    spectrum_l2,
    /// Recovered area in W / the truth's area in W - 1.
    area_error,
    /// Fitted constant / total effective area.
    baseline_error,
    /// (Fitted linear term - true drift) x t_max / total effective area.
    slope_error,
    /// 1 when the fit's baseline is negative and paid for by the spectrum beyond the window (the
    /// rule of `invert`'s warning, README "Failures are values"), else 0; NaN without a
    /// single baseline (loss data, joint problems).
    baseline_traded,
    /// Mean |log10(tau_recovered / tau_true)| over matched peaks, decades.
    centroid_error_decades,
    /// Mean |area_recovered / area_true - 1| over matched peaks.
    peak_area_error,
    /// True peaks in W without a match (count).
    missed,
    /// Recovered peaks in W matching no true peak (count).
    spurious,
    /// Recovered peaks in W whose area is below [`NOISE_SIGNIFICANCE`] of its linearized standard
    /// errors, the ones `invert` names in a warning (count; NaN for the edge families, which have
    /// no such errors).
    weak,
    /// Those of the `weak` peaks that match no true peak (count).
    weak_spurious,
    /// Back-analysed Omega slope / true slope - 1 (hierarchy truths).
    omega_slope_error,
    /// This choice's spectrum_l1 / the oracle's.
    regret,
    /// Relative L2 error of the density over 200 points uniform in ln tau over W.
    rel_l2,
    /// This choice's rel_l2 / the smallest rel_l2 on the lambda path.
    regret_l2,
    /// With uncertainty, on the first rule's row: fraction of the rel_l2 points where the truth's
    /// density lies inside the bootstrap's 5-95 % band.
    cover_density,
    /// With uncertainty: fraction of the interior truth peaks (in the window, neither the fastest
    /// nor the slowest there) whose tau lies inside the matched peak's 90 % interval.
    cover_tau,
    /// With uncertainty: the same for the peak areas.
    cover_area,
    /// With uncertainty: 1 when the true Omega slope lies inside its 90 % interval, else 0.
    cover_slope,
}

/// The fraction of `true` values (NaN for none).
fn fraction(v: &[bool]) -> f64 {
    if v.is_empty() {
        f64::NAN
    } else {
        v.iter().filter(|b| **b).count() as f64 / v.len() as f64
    }
}

/// Points, uniform in ln tau over the data window, at which `rel_l2` compares densities.
pub const REL_L2_POINTS: usize = 200;

/// The status of a rule that made no choice (its score undefined on the path).
pub const UNDEFINED: &str = "undefined";

/// The status of a rule that does not apply to the run's regularizer family (see
/// [`crate::inversion::Regularizer::applies`]).
pub const NOT_FOR_REGULARIZER: &str = "not-for-regularizer";

/// The oracle's name in outputs.
pub const ORACLE: &str = "oracle";

/// The density per unit ln tau of an effective truth at the (uniformly spaced) `ln_tau`: its units
/// projected with hat functions onto a uniform grid, extended two decades beyond the points so that
/// mass beyond them does not pile up on the end points, whose step is the larger of `step` and the
/// widest spacing between neighbouring units of one peak (a broad peak's units may lie farther
/// apart than the points), then interpolated linearly at the points.
fn truth_density(e: &EffectiveTruth, ln_tau: &[f64], step: f64) -> Vec<f64> {
    let (lo, hi) = (ln_tau[0], ln_tau[ln_tau.len() - 1]);
    let mut spacing = step;
    for k in 1..e.units.tau_s.len() {
        if e.owner[k] == e.owner[k - 1] {
            let (a, b) = (e.units.tau_s[k - 1].ln(), e.units.tau_s[k].ln());
            if a.max(b) >= lo && a.min(b) <= hi {
                spacing = spacing.max((b - a).abs());
            }
        }
    }
    let pad = 100f64.ln();
    let points = (((hi - lo) + 2.0 * pad) / spacing).ceil() as usize + 1;
    let Ok(grid) = LnTauGrid::new((lo - pad).exp(), (hi + pad).exp(), points.max(2)) else {
        return vec![0.0; ln_tau.len()];
    };
    let weights = e.weights_on(&grid);
    let h = grid.step();
    ln_tau
        .iter()
        .map(|&u| {
            let (i, frac) = grid.locate(u);
            (weights[i] * (1.0 - frac) + weights[i + 1] * frac) / h
        })
        .collect()
}

/// A truth peak inside the data window.
pub(crate) struct TruthPeak {
    /// 0-based index among the series' truth peaks.
    index: usize,
    tau_s: f64,
    area: f64,
}

/// Scores solutions of one series against its effective truth.
pub(crate) struct Scorer<'a> {
    scenario: &'a Scenario,
    series: &'a Series,
    kernel: Kernel,
    baseline: Baseline,
    window: (f64, f64),
    /// Grid points inside the window.
    pub(crate) inside: Vec<bool>,
    step: f64,
    pub(crate) truth: Vec<f64>,
    truth_window_area: f64,
    truth_total_area: f64,
    peaks: Vec<TruthPeak>,
    /// True slope of Omega against n over the in-window levels, m^3.
    true_slope_m3: Option<f64>,
    x_max: f64,
    match_decades: f64,
    /// ln tau of the `REL_L2_POINTS` comparison points, and the truth's density there.
    fine_ln_tau: Vec<f64>,
    fine_truth: Vec<f64>,
    grid: LnTauGrid,
}

impl<'a> Scorer<'a> {
    pub(crate) fn new(scenario: &'a Scenario, series: &'a Series, problem: &Problem) -> Self {
        let grid = *problem.grid();
        let x = &series.x;
        let kernel = problem.settings().kernel;
        let window = kernel.window_s(x[0], x[x.len() - 1]);
        let inside: Vec<bool> = (0..grid.len())
            .map(|j| {
                let t = grid.tau_s(j);
                t >= window.0 * (1.0 - 1e-12) && t <= window.1 * (1.0 + 1e-12)
            })
            .collect();
        let effective = series.effective.as_ref();
        let truth = effective.map_or_else(|| vec![0.0; grid.len()], |e| e.weights_on(&grid));
        // The truth's density at points uniform in ln tau over the window.
        let (fine_ln_tau, fine_truth) =
            match (LnTauGrid::new(window.0, window.1, REL_L2_POINTS), effective) {
                (Ok(fine), Some(e)) => {
                    let ln = fine.ln_taus();
                    let density = truth_density(e, &ln, fine.step());
                    (ln, density)
                }
                (Ok(fine), None) => (fine.ln_taus(), vec![0.0; REL_L2_POINTS]),
                (Err(_), _) => (Vec::new(), Vec::new()),
            };
        let truth_window_area = truth
            .iter()
            .zip(&inside)
            .filter(|(_, i)| **i)
            .map(|(w, _)| w)
            .sum();
        let truth_total_area = effective.map_or(0.0, |e| e.units.c.iter().sum());
        let peaks = effective.map_or_else(Vec::new, |e| {
            e.peak_tau_s
                .iter()
                .zip(&e.peak_area)
                .enumerate()
                .filter(|(_, (t, a))| **a > 0.0 && **t >= window.0 && **t <= window.1)
                .map(|(index, (&tau_s, &area))| TruthPeak { index, tau_s, area })
                .collect()
        });
        let true_slope_m3 = match (&scenario.truth, series.temperature_k, &scenario.material) {
            (Some(Truth::Hierarchy(h)), Some(t), Some(m)) => {
                let points: Vec<(f64, f64)> = h
                    .levels(m, t)
                    .iter()
                    .filter(|l| l.tau_s >= window.0 && l.tau_s <= window.1)
                    .map(|l| (f64::from(l.n), l.omega_m3))
                    .collect();
                linear_slope(&points).0
            }
            _ => None,
        };
        Self {
            scenario,
            series,
            kernel,
            // A joint problem's baselines are each set's own: no single baseline to score.
            baseline: if problem.blocks().len() > 1 {
                Baseline::None
            } else {
                problem.settings().baseline
            },
            window,
            inside,
            step: grid.step(),
            truth,
            truth_window_area,
            truth_total_area,
            peaks,
            true_slope_m3,
            x_max: x[x.len() - 1],
            match_decades: scenario.match_decades,
            fine_ln_tau,
            fine_truth,
            grid,
        }
    }

    /// ||rho - rho_true|| / ||rho_true|| over `REL_L2_POINTS` points uniform in ln tau over the
    /// data window, rho = amplitudes / step interpolated linearly in ln tau on the inversion grid
    /// and held constant beyond its ends (the accuracy metric of the validation suite).
    pub(crate) fn rel_l2(&self, f: &[f64]) -> f64 {
        let norm = self.fine_truth.iter().map(|v| v * v).sum::<f64>().sqrt();
        if !(norm > 0.0) {
            return f64::NAN;
        }
        let h = self.grid.step();
        let diff = self
            .fine_ln_tau
            .iter()
            .zip(&self.fine_truth)
            .map(|(&u, &t)| {
                let (i, frac) = self.grid.locate(u);
                let rho = (f[i] * (1.0 - frac) + f[i + 1] * frac) / h;
                (rho - t).powi(2)
            })
            .sum::<f64>()
            .sqrt();
        diff / norm
    }

    /// Spectrum L1 error inside the window, over the truth's area there.
    pub(crate) fn l1(&self, f: &[f64]) -> f64 {
        if !(self.truth_window_area > 0.0) {
            return f64::NAN;
        }
        f.iter()
            .zip(&self.truth)
            .zip(&self.inside)
            .filter(|(_, i)| **i)
            .map(|((a, b), _)| (a - b).abs())
            .sum::<f64>()
            / self.truth_window_area
    }

    /// The metrics of a choice: its solution, its peaks with their linearized area errors
    /// (`errors`, where the family has them), the noise variance and the oracle's (L1, rel_l2).
    pub(crate) fn score(
        &self,
        sol: &Solution,
        (peaks, errors): (&[SpectrumPeak], Option<&[f64]>),
        sigma2: f64,
        (oracle_l1, oracle_l2): (f64, f64),
    ) -> Metrics {
        let f = &sol.amplitudes;
        let a_w = self.truth_window_area;
        let in_window = |j: usize| self.inside[j];
        let l1 = self.l1(f);
        let l2 = if a_w > 0.0 {
            (0..f.len())
                .filter(|&j| in_window(j))
                .map(|j| (f[j] - self.truth[j]).powi(2) / self.step)
                .sum::<f64>()
                .sqrt()
                / a_w
        } else {
            f64::NAN
        };
        let area = (0..f.len())
            .filter(|&j| in_window(j))
            .map(|j| f[j])
            .sum::<f64>();
        let area_error = if a_w > 0.0 {
            area / a_w - 1.0
        } else {
            f64::NAN
        };
        let total = self.truth_total_area;
        let (baseline_error, slope_error) = match self.baseline {
            Baseline::None => (f64::NAN, f64::NAN),
            Baseline::Constant => (sol.baseline[0] / total, f64::NAN),
            Baseline::ConstantLinear => (
                sol.baseline[0] / total,
                (sol.baseline[1] - self.true_drift()) * self.x_max / total,
            ),
        };
        let baseline_traded = match (self.baseline, self.kernel) {
            (Baseline::None, _) | (_, Kernel::Loss) => f64::NAN,
            (b, kernel) => {
                let trade = BaselineTrade {
                    kernel,
                    window_s: self.window,
                    grid: &self.grid,
                    amplitudes: f,
                    c_inf: sol.baseline.first().copied(),
                    slope: (b == Baseline::ConstantLinear).then(|| sol.baseline[1]),
                };
                f64::from(u8::from(trade.traded()))
            }
        };
        let matches = self.matches(peaks);
        let mut used_t = vec![false; self.peaks.len()];
        let (mut centroid_sum, mut area_sum, mut matched) = (0.0, 0.0, 0usize);
        for (j, m) in matches.iter().enumerate() {
            if let Some((i, d)) = *m {
                used_t[i] = true;
                centroid_sum += d;
                area_sum += (peaks[j].area / self.peaks[i].area - 1.0).abs();
                matched += 1;
            }
        }
        let recovered: Vec<f64> = peaks.iter().map(SpectrumPeak::tau_s).collect();
        let used_r: Vec<bool> = matches.iter().map(Option::is_some).collect();
        let missed = used_t.iter().filter(|u| !**u).count() as f64;
        let spurious = recovered
            .iter()
            .zip(&used_r)
            .filter(|(t, u)| !**u && **t >= self.window.0 && **t <= self.window.1)
            .count() as f64;
        let inside_window = |p: &SpectrumPeak| (self.window.0..=self.window.1).contains(&p.tau_s());
        let (weak, weak_spurious) = match errors {
            Some(errors) => {
                let weak: Vec<bool> = peaks
                    .iter()
                    .zip(errors)
                    .map(|(p, se)| {
                        inside_window(p)
                            && significance(p.area, *se).is_some_and(|z| z < NOISE_SIGNIFICANCE)
                    })
                    .collect();
                let unmatched = weak.iter().zip(&used_r).filter(|(w, u)| **w && !**u);
                (
                    weak.iter().filter(|w| **w).count() as f64,
                    unmatched.count() as f64,
                )
            }
            None => (f64::NAN, f64::NAN),
        };
        let (centroid_error, peak_area_error) = if matched > 0 {
            (centroid_sum / matched as f64, area_sum / matched as f64)
        } else {
            (f64::NAN, f64::NAN)
        };
        let omega_slope_error = match (self.true_slope_m3, self.stz_input()) {
            (Some(truth), Some(s)) => s.read(peaks).slope_m3.map_or(f64::NAN, |v| v / truth - 1.0),
            _ => f64::NAN,
        };
        let regret = if oracle_l1 > 0.0 {
            l1 / oracle_l1
        } else {
            f64::NAN
        };
        let rel_l2 = self.rel_l2(f);
        let regret_l2 = if oracle_l2 > 0.0 {
            rel_l2 / oracle_l2
        } else {
            f64::NAN
        };
        Metrics {
            lambda: sol.lambda,
            r2: sol.stats.r2,
            chi2: sol.stats.weighted_ss / sigma2,
            peaks: peaks.len() as f64,
            spectrum_l1: l1,
            spectrum_l2: l2,
            area_error,
            baseline_error,
            slope_error,
            baseline_traded,
            centroid_error_decades: centroid_error,
            peak_area_error,
            missed,
            spurious,
            weak,
            weak_spurious,
            omega_slope_error,
            regret,
            rel_l2,
            regret_l2,
            cover_density: f64::NAN,
            cover_tau: f64::NAN,
            cover_area: f64::NAN,
            cover_slope: f64::NAN,
        }
    }

    /// The STZ back-analysis input of this series, when the scenario has a material and the
    /// series a temperature.
    pub(crate) fn stz_input(&self) -> Option<StzInput<'a>> {
        let (m, t) = self
            .scenario
            .material
            .as_ref()
            .zip(self.series.temperature_k)?;
        Some(StzInput::new(
            m,
            t,
            self.window,
            self.kernel == Kernel::Loss,
        ))
    }

    /// How often the truth lies inside the bootstrap's intervals `u` of the chosen spectrum with
    /// peaks `reference`: `metrics` with the `cover_*` fields set (NaN where undefined).
    pub(crate) fn with_coverage(
        &self,
        metrics: Metrics,
        u: &Uncertainty,
        reference: &[SpectrumPeak],
    ) -> Metrics {
        let band_at = |u_ln: f64, pick: fn(&super::uncertainty::Interval) -> f64| {
            let (i, frac) = self.grid.locate(u_ln);
            pick(&u.density[i]) * (1.0 - frac) + pick(&u.density[i + 1]) * frac
        };
        let inside: Vec<bool> = self
            .fine_ln_tau
            .iter()
            .zip(&self.fine_truth)
            .map(|(&x, &t)| (band_at(x, |i| i.p05)..=band_at(x, |i| i.p95)).contains(&t))
            .collect();
        let cover_density = fraction(&inside);
        // Interior truth peaks: in the window, neither the fastest nor the slowest there.
        let mut order: Vec<usize> = (0..self.peaks.len()).collect();
        order.sort_by(|&a, &b| self.peaks[a].tau_s.total_cmp(&self.peaks[b].tau_s));
        let interior = order.get(1..order.len().saturating_sub(1)).unwrap_or(&[]);
        let matches = self.matches(reference);
        let image = |i: usize| matches.iter().position(|m| m.is_some_and(|(t, _)| t == i));
        let covered = |f: &dyn Fn(&PeakUncertainty, &TruthPeak) -> bool| -> Vec<bool> {
            interior
                .iter()
                .map(|&i| image(i).is_some_and(|k| f(&u.peaks[k], &self.peaks[i])))
                .collect()
        };
        let cover_tau = fraction(&covered(&|p, t| p.tau_s.contains(t.tau_s)));
        let cover_area = fraction(&covered(&|p, t| p.area.contains(t.area)));
        let cover_slope = match (self.true_slope_m3, u.omega_slope_m3) {
            (Some(truth), Some(i)) => f64::from(u8::from(i.contains(truth))),
            (Some(_), None) => 0.0,
            _ => f64::NAN,
        };
        Metrics {
            cover_density,
            cover_tau,
            cover_area,
            cover_slope,
            ..metrics
        }
    }

    /// Peak matching, closest pairs first, one to one, within the matching radius: for each
    /// recovered peak, the matched truth peak (position in `self.peaks`) and the distance in decades.
    fn matches(&self, peaks: &[SpectrumPeak]) -> Vec<Option<(usize, f64)>> {
        let mut pairs: Vec<(f64, usize, usize)> = Vec::new();
        for (i, t) in self.peaks.iter().enumerate() {
            for (j, r) in peaks.iter().enumerate() {
                let d = (r.tau_s() / t.tau_s).log10().abs();
                if d <= self.match_decades {
                    pairs.push((d, i, j));
                }
            }
        }
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        let mut used_t = vec![false; self.peaks.len()];
        let mut out = vec![None; peaks.len()];
        for (d, i, j) in pairs {
            if used_t[i] || out[j].is_some() {
                continue;
            }
            used_t[i] = true;
            out[j] = Some((i, d));
        }
        out
    }

    /// The recovered peaks with the 1-based index of their matched truth peak.
    pub(crate) fn follow(&self, peaks: &[SpectrumPeak]) -> Vec<FollowedPeak> {
        self.matches(peaks)
            .iter()
            .zip(peaks)
            .map(|(m, p)| FollowedPeak {
                tau_s: p.tau_s(),
                area: p.area,
                truth: m.map(|(i, _)| {
                    let t = &self.peaks[i];
                    (t.index + 1, t.tau_s, t.area)
                }),
            })
            .collect()
    }

    /// The linear term the data truly contain: the noise model's drift.
    fn true_drift(&self) -> f64 {
        self.scenario.noise.drift_per_s
    }
}
