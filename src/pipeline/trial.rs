//! One trial: a cell's clean data -> noise -> one analysis (the lambda path once, every rule on it,
//! the oracle) -> the recovery metrics of each choice against the effective truth
//! ([`super::score`]).

use std::borrow::Cow;

use serde::Serialize;

use super::invert::build_problem;
use super::invert::InvertError;
use super::joint::{hull, joint_problem, joint_truth};
use super::score::{Metrics, Scorer, NOT_FOR_REGULARIZER, ORACLE, UNDEFINED};
use super::simulate::{EffectiveTruth, Series, Simulation};
use super::uncertainty::bootstrap;
use crate::inversion::{
    analyse, peak_area_stderr, significant_peaks, Bootstrap, DataBlock, Problem, Rule, Solution,
    Workspace,
};
use crate::noise::{rng_from_seed, splitmix64};
use crate::scenario::{Protocol, Scenario};
use crate::spectrum::{find_peaks, SpectrumPeak};

/// One row of `runs.csv` without its run/cell/axis prefix.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleRow {
    /// Temperature of the series (DMA), K.
    pub temperature_k: Option<f64>,
    /// The rule; `None` for the oracle (the path point nearest the truth).
    pub rule: Option<Rule>,
    /// The metrics (NaN where undefined).
    pub metrics: Metrics,
    /// The rule's status (`ok`, `at-path-end`, `target-unreachable`, `no-corner`), `undefined`
    /// when the rule made no choice, empty for the oracle.
    pub status: &'static str,
}

impl RuleRow {
    /// The rule's name as written in `runs.csv` (`oracle` for the oracle).
    pub fn rule_name(&self) -> String {
        self.rule.map_or_else(|| ORACLE.to_string(), |r| r.name())
    }
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
    /// Whether each grid tau lies inside the data window (the scores' domain).
    pub in_window: Vec<bool>,
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

/// One noisy realization of every series of `clean`, drawn series by series from `rng`: from
/// `rng_from_seed(seed)` the data [`run_once`] inverts with `seed`.
pub fn draw_noise(
    scenario: &Scenario,
    clean: &Simulation,
    rng: &mut impl rand::Rng,
) -> Vec<crate::noise::NoisySeries> {
    clean
        .series
        .iter()
        .map(|s| scenario.noise.apply(&s.x, &s.y_clean, rng))
        .collect()
}

/// The noisy realization [`run_once`] inverts with `seed`, as measured series (with their
/// temperatures, and sigma when the noise model reports it).
pub fn noisy_data(
    scenario: &Scenario,
    clean: &Simulation,
    seed: u64,
) -> Vec<crate::data::MeasuredSeries> {
    let noisy = draw_noise(scenario, clean, &mut rng_from_seed(seed));
    clean
        .series
        .iter()
        .zip(noisy)
        .map(|(s, n)| crate::data::MeasuredSeries {
            temperature_k: s.temperature_k,
            x: s.x.clone(),
            y: n.y,
            sigma: scenario.noise.reports_sigma().then_some(n.sigma),
        })
        .collect()
}

/// The problems of one noisy realization, each with the series its recovery is scored against:
/// one per series, or for a joint protocol one joint problem scored against the experiments'
/// joint effective truth (a series spanning their windows). The noise is drawn series by series.
fn problems<'a>(
    scenario: &Scenario,
    clean: &'a Simulation,
    rng: &mut impl rand::Rng,
) -> Vec<(Cow<'a, Series>, Result<Problem, InvertError>)> {
    let noisy = draw_noise(scenario, clean, rng);
    let sigma = |k: usize| {
        scenario
            .noise
            .reports_sigma()
            .then_some(&noisy[k].sigma[..])
    };
    let Protocol::Joint { sets } = &scenario.protocol else {
        return clean
            .series
            .iter()
            .enumerate()
            .map(|(k, s)| {
                let problem = build_problem(&s.x, &noisy[k].y, sigma(k), &scenario.inversion);
                (Cow::Borrowed(s), problem)
            })
            .collect();
    };
    let blocks: Vec<DataBlock<'_>> = sets
        .iter()
        .zip(&clean.series)
        .enumerate()
        .map(|(k, (set, s))| DataBlock {
            kernel: set.kernel(),
            baseline: scenario.inversion.baseline_for(set.kernel()),
            x: &s.x,
            y: &noisy[k].y,
            sigma: sigma(k),
        })
        .collect();
    let windows: Vec<(f64, f64)> = blocks
        .iter()
        .map(|b| b.kernel.window_s(b.x[0], b.x[b.x.len() - 1]))
        .collect();
    let truths: Vec<&EffectiveTruth> = clean
        .series
        .iter()
        .filter_map(|s| s.effective.as_ref())
        .collect();
    let (lo, hi) = hull(windows.iter().copied());
    let joint = Series {
        temperature_k: clean.series.first().and_then(|s| s.temperature_k),
        x: vec![lo, hi],
        y_clean: vec![0.0; 2],
        y: vec![0.0; 2],
        sigma: None,
        effective: (truths.len() == clean.series.len())
            .then(|| joint_truth(&truths, &windows))
            .flatten(),
    };
    vec![(
        Cow::Owned(joint),
        joint_problem(&blocks, &scenario.inversion),
    )]
}

/// Mixed into a run's seed to seed its bootstrap, so that the resamples' noise is not the run's.
const BOOTSTRAP_STREAM: u64 = 0x5354_5a42_4f4f_5453;

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
    for (series, problem) in problems(scenario, clean, &mut rng) {
        let series: &Series = &series;
        let problem = match problem {
            Ok(p) => p,
            Err(_) => {
                // An unusable grid: every metric undefined (counted in the summary as missing).
                let rules = scenario.rules.iter().map(|r| Some(*r));
                for rule in rules.chain([None]) {
                    rows.push(RuleRow {
                        temperature_k: series.temperature_k,
                        rule,
                        metrics: Metrics::UNDEFINED,
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
            scenario.inversion.regularizer,
            ws,
        );
        // The oracle: the path point nearest the truth in the spectrum L1 metric.
        let oracle_k = (0..analysis.path.len())
            .map(|k| (k, scorer.l1(&analysis.path.points[k].solution.amplitudes)))
            .filter(|(_, v)| v.is_finite())
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(k, _)| k);
        let family = (scenario.inversion.regularizer, analysis.path.default_model);
        // Each choice's peak area errors (for the `weak` metrics).
        let errors_of = |sol: &Solution, peaks: &[SpectrumPeak]| {
            peak_area_stderr(&problem, family, sol, peaks, analysis.scores.sigma2)
        };
        let oracle = oracle_k.map(|k| {
            let sol = &analysis.path.points[k].solution;
            let peaks = find_peaks(problem.grid(), &sol.amplitudes, &scenario.inversion.peaks);
            // The rules' reading: with `min_significance`, insignificant peaks left out.
            let (peaks, _) = significant_peaks(
                &problem,
                family,
                analysis.scores.sigma2,
                sol,
                peaks,
                &scenario.inversion.peaks,
            );
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
        // With uncertainty, the bootstrap of the first rule's choice (its own stream of seeds).
        let primary = scenario.inversion.rule;
        let uncertainty = scenario.inversion.uncertainty.and_then(|b| {
            let chosen = analysis.results.iter().find(|r| r.choice.rule == primary)?;
            let settings = Bootstrap {
                seed: splitmix64(seed ^ BOOTSTRAP_STREAM),
                ..b
            };
            let u = bootstrap(
                &problem,
                chosen,
                &scenario.inversion,
                scorer.stz_input(),
                settings,
                &(),
            );
            Some((u, &chosen.peaks))
        });
        let mut recovered = Vec::new();
        let mut followed = Vec::new();
        for rule in &scenario.rules {
            let found = analysis.results.iter().find(|r| r.choice.rule == *rule);
            let metrics = match found {
                Some(r) => {
                    let errors = errors_of(&r.choice.solution, &r.peaks);
                    let peaks = (&r.peaks[..], errors.as_deref());
                    scorer.score(&r.choice.solution, peaks, sigma2, oracles)
                }
                None => Metrics::UNDEFINED,
            };
            let metrics = match &uncertainty {
                Some((u, reference)) if *rule == primary => {
                    scorer.with_coverage(metrics, u, reference)
                }
                _ => metrics,
            };
            if let (Some(r), Some(_)) = (found, spectra.as_ref()) {
                recovered.push((rule.name(), r.choice.solution.amplitudes.clone()));
                followed.push(scorer.follow(&r.peaks));
            }
            rows.push(RuleRow {
                temperature_k: series.temperature_k,
                rule: Some(*rule),
                metrics,
                status: match found {
                    Some(r) => r.choice.status.name(),
                    None if !scenario.inversion.regularizer.applies(*rule) => NOT_FOR_REGULARIZER,
                    None => UNDEFINED,
                },
            });
        }
        let metrics = match &oracle {
            Some((sol, peaks)) => {
                let errors = errors_of(sol, peaks);
                scorer.score(sol, (&peaks[..], errors.as_deref()), sigma2, oracles)
            }
            None => Metrics::UNDEFINED,
        };
        rows.push(RuleRow {
            temperature_k: series.temperature_k,
            rule: None,
            metrics,
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
                in_window: scorer.inside.clone(),
                truth: scorer.truth.clone(),
                recovered,
                peaks: followed,
            });
        }
    }
    RunResult { rows, spectra }
}
