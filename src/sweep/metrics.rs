//! One run of a sweep: noise on a cell's clean data, one analysis (the lambda path once, every rule
//! on it, the oracle), and the recovery metrics of each choice against the effective truth.

use serde::Serialize;

use crate::analysis::{back_analysis, find_peaks, linear_slope, SpectrumPeak};
use crate::inversion::{analyse, Baseline, Kernel, Problem, Solution, Workspace};
use crate::invert::build_problem;
use crate::noise::rng_from_seed;
use crate::scenario::{Scenario, Truth};
use crate::simulate::{EffectiveTruth, Series, Simulation};
use crate::spectrum::LnTauGrid;

/// Names of the metrics, in column order (documented in the README).
pub const METRICS: [&str; 17] = [
    "lambda",
    "r2",
    "chi2",
    "peaks",
    "spectrum_l1",
    "spectrum_l2",
    "area_error",
    "baseline_error",
    "slope_error",
    "centroid_error_decades",
    "peak_area_error",
    "missed",
    "spurious",
    "omega_slope_error",
    "regret",
    "rel_l2",
    "regret_l2",
];

/// Points, uniform in ln tau over the data window, at which `rel_l2` compares densities.
pub const REL_L2_POINTS: usize = 200;

/// The status of a rule that made no choice (its score undefined on the path).
pub const UNDEFINED: &str = "undefined";

/// The oracle's name in outputs.
pub const ORACLE: &str = "oracle";

/// One row of `runs.csv` without its run/cell/axis prefix.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleRow {
    /// Temperature of the series (DMA), K.
    pub temperature_k: Option<f64>,
    /// Rule name, or `oracle`.
    pub rule: String,
    /// Metric values in [`METRICS`] order (NaN where undefined).
    pub values: [f64; METRICS.len()],
    /// The rule's status (`ok`, `at-path-end`, `target-unreachable`, `no-corner`), `undefined`
    /// when the rule made no choice, empty for the oracle.
    pub status: &'static str,
}

/// The representative spectra of one series: truth and each choice on the inversion grid.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesSpectra {
    /// Temperature (DMA), K.
    pub temperature_k: Option<f64>,
    /// Grid tau values, s.
    pub tau_s: Vec<f64>,
    /// Grid step in ln tau.
    pub step: f64,
    /// Effective truth weights on the grid.
    pub truth: Vec<f64>,
    /// (name, weights) for each rule and the oracle.
    pub recovered: Vec<(String, Vec<f64>)>,
    /// The recovered peaks of each choice, in the order of `recovered`.
    pub peaks: Vec<Vec<FollowedPeak>>,
}

/// A recovered peak and the truth peak it was matched to (the peak following of a series of
/// states: truth peaks keep their index across cells, so joining on it follows a peak).
#[derive(Debug, Clone, PartialEq)]
pub struct FollowedPeak {
    /// Centroid tau, s.
    pub tau_s: f64,
    /// Area (c_m; Pa for loss data).
    pub area: f64,
    /// The matched truth peak, if any: 1-based index (as in `truth_cell*.csv`), its tau in s and
    /// its effective area.
    pub truth: Option<(usize, f64, f64)>,
}

/// Everything one run produces.
#[derive(Debug, Clone, PartialEq)]
pub struct RunResult {
    /// Rows, series by series, rules in scenario order then the oracle.
    pub rows: Vec<RuleRow>,
    /// Spectra, when asked for.
    pub spectra: Option<Vec<SeriesSpectra>>,
}

/// Runs one noisy realization of `clean` (the cell's noise-free simulation) with `seed`.
pub fn run_once(
    scenario: &Scenario,
    clean: &Simulation,
    seed: u64,
    keep_spectra: bool,
    ws: &mut Workspace,
) -> RunResult {
    let mut rng = rng_from_seed(seed);
    let mut rows = Vec::new();
    let mut spectra = keep_spectra.then(Vec::new);
    for series in &clean.series {
        let noisy = scenario.noise.apply(&series.x, &series.y_clean, &mut rng);
        let sigma = scenario.noise.reports_sigma().then_some(&noisy.sigma[..]);
        let problem = match build_problem(&series.x, &noisy.y, sigma, &scenario.inversion) {
            Ok(p) => p,
            Err(_) => {
                // An unusable grid: every metric undefined (counted in the summary as missing).
                for name in rule_names(scenario) {
                    rows.push(RuleRow {
                        temperature_k: series.temperature_k,
                        rule: name,
                        values: [f64::NAN; METRICS.len()],
                        status: UNDEFINED,
                    });
                }
                continue;
            }
        };
        let scorer = Scorer::new(scenario, series, &problem);
        let analysis = analyse(
            &problem,
            scenario.inversion.lambda_points,
            &scenario.rules,
            &scenario.inversion.peaks,
            ws,
        );
        // The oracle: the path point nearest the truth in the spectrum L1 metric.
        let oracle_k = (0..analysis.path.len())
            .map(|k| (k, scorer.l1(&analysis.path.points[k].solution.amplitudes)))
            .filter(|(_, v)| v.is_finite())
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(k, _)| k);
        let oracle = oracle_k.map(|k| {
            let sol = &analysis.path.points[k].solution;
            let peaks = find_peaks(problem.grid(), &sol.amplitudes, &scenario.inversion.peaks);
            (sol, peaks)
        });
        let oracle_l1 = oracle
            .as_ref()
            .map_or(f64::NAN, |(s, _)| scorer.l1(&s.amplitudes));
        // The best rel-L2 anywhere on the path (the denominator of regret_l2).
        let oracle_l2 = analysis
            .path
            .points
            .iter()
            .map(|p| scorer.rel_l2(&p.solution.amplitudes))
            .filter(|v| v.is_finite())
            .fold(f64::NAN, f64::min);
        let oracles = (oracle_l1, oracle_l2);
        let sigma2 = analysis.scores.sigma2;
        let mut recovered = Vec::new();
        let mut followed = Vec::new();
        for rule in &scenario.rules {
            let name = rule.name();
            let found = analysis
                .results
                .iter()
                .find(|r| r.choice.rule.name() == name);
            let values = match found {
                Some(r) => scorer.score(&r.choice.solution, &r.peaks, sigma2, oracles),
                None => [f64::NAN; METRICS.len()],
            };
            if let (Some(r), Some(_)) = (found, spectra.as_ref()) {
                recovered.push((name.clone(), r.choice.solution.amplitudes.clone()));
                followed.push(scorer.follow(&r.peaks));
            }
            rows.push(RuleRow {
                temperature_k: series.temperature_k,
                rule: name,
                values,
                status: found.map_or(UNDEFINED, |r| r.choice.status.name()),
            });
        }
        let values = match &oracle {
            Some((sol, peaks)) => scorer.score(sol, peaks, sigma2, oracles),
            None => [f64::NAN; METRICS.len()],
        };
        rows.push(RuleRow {
            temperature_k: series.temperature_k,
            rule: ORACLE.into(),
            values,
            status: "",
        });
        if let Some(spectra) = spectra.as_mut() {
            if let Some((sol, peaks)) = &oracle {
                recovered.push((ORACLE.into(), sol.amplitudes.clone()));
                followed.push(scorer.follow(peaks));
            }
            spectra.push(SeriesSpectra {
                temperature_k: series.temperature_k,
                tau_s: problem.grid().taus_s(),
                step: problem.grid().step(),
                truth: scorer.truth.clone(),
                recovered,
                peaks: followed,
            });
        }
    }
    RunResult { rows, spectra }
}

/// Rule names in row order (rules, then the oracle).
pub fn rule_names(scenario: &Scenario) -> Vec<String> {
    let mut names: Vec<String> = scenario.rules.iter().map(|r| r.name()).collect();
    names.push(ORACLE.into());
    names
}

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
struct TruthPeak {
    /// 0-based index among the series' truth peaks.
    index: usize,
    tau_s: f64,
    area: f64,
}

/// Scores solutions of one series against its effective truth.
struct Scorer<'a> {
    scenario: &'a Scenario,
    series: &'a Series,
    kernel: Kernel,
    baseline: Baseline,
    window: (f64, f64),
    /// Grid points inside the window.
    inside: Vec<bool>,
    step: f64,
    truth: Vec<f64>,
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
    fn new(scenario: &'a Scenario, series: &'a Series, problem: &Problem) -> Self {
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
            baseline: problem.settings().baseline,
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
    fn rel_l2(&self, f: &[f64]) -> f64 {
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
    fn l1(&self, f: &[f64]) -> f64 {
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

    fn score(
        &self,
        sol: &Solution,
        peaks: &[SpectrumPeak],
        sigma2: f64,
        (oracle_l1, oracle_l2): (f64, f64),
    ) -> [f64; METRICS.len()] {
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
        let (centroid_error, peak_area_error) = if matched > 0 {
            (centroid_sum / matched as f64, area_sum / matched as f64)
        } else {
            (f64::NAN, f64::NAN)
        };
        let omega_slope_error = match (
            self.true_slope_m3,
            &self.scenario.material,
            self.series.temperature_k,
        ) {
            (Some(truth), Some(m), Some(t)) => {
                let area_per_c = match self.kernel {
                    Kernel::Loss => m.e0_pa(t),
                    _ => 1.0,
                };
                back_analysis(peaks, m, t, Some(self.window), area_per_c)
                    .slope_m3
                    .map_or(f64::NAN, |s| s / truth - 1.0)
            }
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
        [
            sol.lambda,
            sol.stats.r2,
            sol.stats.weighted_ss / sigma2,
            peaks.len() as f64,
            l1,
            l2,
            area_error,
            baseline_error,
            slope_error,
            centroid_error,
            peak_area_error,
            missed,
            spurious,
            omega_slope_error,
            regret,
            rel_l2,
            regret_l2,
        ]
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
    fn follow(&self, peaks: &[SpectrumPeak]) -> Vec<FollowedPeak> {
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
