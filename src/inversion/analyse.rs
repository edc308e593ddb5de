//! One full analysis: the lambda path, every rule's score, each requested rule's choice and peaks.

use serde::Serialize;

use super::logspace::{default_model, log_smooth_path, maxent_path};
use super::nnls::NnlsStatus;
use super::path::LambdaPath;
use super::rules::{choose, Choice, PathScores, Rule, RuleStatus};
use super::{Problem, Regularizer, Solution, Workspace};
use crate::spectrum::{find_peaks, PeakParams, SpectrumPeak};

/// A rule's choice with the peaks of its spectrum.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleResult {
    /// The choice.
    pub choice: Choice,
    /// Peaks of the chosen spectrum, ordered by tau.
    pub peaks: Vec<SpectrumPeak>,
    /// Peaks left out of `peaks` because their area is below [`PeakParams::min_significance`]
    /// linearized standard errors, with that error (data units).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub insignificant: Vec<(SpectrumPeak, f64)>,
}

/// The result of [`analyse`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analysis {
    /// The path.
    pub path: LambdaPath,
    /// Every rule's score along it.
    pub scores: PathScores,
    /// One result per requested rule whose score was defined, in request order.
    pub results: Vec<RuleResult>,
    /// Rules whose score was undefined on this path.
    pub undefined: Vec<Rule>,
}

/// Computes the path of `regularizer` with `lambda_points` values, scores it, and applies each rule.
/// A rule that does not apply to the family ([`Regularizer::applies`]) is listed as undefined.
pub fn analyse(
    problem: &Problem,
    lambda_points: usize,
    rules: &[Rule],
    peak_params: &PeakParams,
    regularizer: Regularizer,
    ws: &mut Workspace,
) -> Analysis {
    let path = match regularizer {
        Regularizer::Tikhonov => {
            let terms = rules.iter().any(Rule::needs_terms);
            LambdaPath::compute_with(problem, lambda_points, peak_params, terms, ws)
        }
        Regularizer::TotalVariation | Regularizer::Lorentzian => {
            let lorentzian = regularizer == Regularizer::Lorentzian;
            super::edge::path(problem, lorentzian, lambda_points, peak_params, ws)
        }
        Regularizer::LogSmooth | Regularizer::MaxEnt => {
            // Continuation from the strongest Tikhonov solution (smooth and broad); maxent's
            // default model spreads its total amplitude flat over the grid.
            let mut start = problem.zeros();
            problem.solve(problem.lambda_range().1, &mut start, ws);
            if regularizer == Regularizer::MaxEnt {
                let model = default_model(problem, &start) * problem.settings().maxent_model;
                maxent_path(problem, lambda_points, &start, model, peak_params)
            } else {
                log_smooth_path(problem, lambda_points, &start, peak_params)
            }
        }
    };
    let applicable: Vec<Rule> = rules
        .iter()
        .copied()
        .filter(|r| regularizer.applies(*r))
        .collect();
    let scores = PathScores::compute_for(problem, &path, &applicable, ws);
    let mut results = Vec::with_capacity(rules.len());
    let mut undefined = Vec::new();
    for &rule in rules {
        let choice = if !regularizer.applies(rule) {
            None
        } else if let (false, Rule::Discrepancy { factor }) = (regularizer.refits(), rule) {
            discrepancy_on_path(rule, factor, problem, &path, &scores)
        } else {
            choose(rule, problem, &path, &scores, ws)
        };
        // A point whose solve did not converge is never chosen silently.
        let choice = choice.map(|mut c| {
            if c.status == RuleStatus::Ok && c.solution.info.status == NnlsStatus::MaxIterations {
                c.status = RuleStatus::NotConverged;
            }
            c
        });
        match choice {
            Some(choice) => {
                let peaks = find_peaks(problem.grid(), &choice.solution.amplitudes, peak_params);
                let (peaks, insignificant) = significant_peaks(
                    problem,
                    (regularizer, path.default_model),
                    scores.sigma2,
                    &choice.solution,
                    peaks,
                    peak_params,
                );
                results.push(RuleResult {
                    choice,
                    peaks,
                    insignificant,
                });
            }
            None => undefined.push(rule),
        }
    }
    Analysis {
        path,
        scores,
        results,
        undefined,
    }
}

/// A peak whose area is below this many of its linearized standard errors could have been made by
/// the noise alone (the area a peak that is not there would show scatters about zero with that
/// error, and NNLS keeps only the positive draws): `invert` names every such peak in the data
/// window in a warning and draws it open, whatever `min_significance` (which leaves peaks below
/// its own level out of the reading) is set to.
pub const NOISE_SIGNIFICANCE: f64 = 2.0;

/// A peak's significance: its area over its linearized standard error `stderr`; `None` where the
/// error is not finite and positive.
pub fn significance(area: f64, stderr: f64) -> Option<f64> {
    (stderr.is_finite() && stderr > 0.0).then(|| area / stderr)
}

/// Peaks kept, and peaks left out with their area's standard error.
type SplitPeaks = (Vec<SpectrumPeak>, Vec<(SpectrumPeak, f64)>);

/// Each of `peaks`' linearized area errors, data units, at `solution` on `regularizer`'s path
/// (whose maxent default model, data units, is `default_model`): Tikhonov's on the solution's
/// free set ([`Problem::peak_area_stderr`]), the log-space families' through the objective's
/// Hessian ([`super::logspace::peak_area_stderr`]), both with the noise variance
/// `noise_variance` of the path's [`PathScores`]. `None` for the edge families.
pub(crate) fn peak_area_stderr(
    problem: &Problem,
    (regularizer, default_model): (Regularizer, Option<f64>),
    solution: &Solution,
    peaks: &[SpectrumPeak],
    noise_variance: f64,
) -> Option<Vec<f64>> {
    use super::logspace::{self, Prior};
    let prior = match (regularizer, default_model) {
        (Regularizer::Tikhonov, _) => {
            return Some(problem.peak_area_stderr(solution, peaks, noise_variance))
        }
        (Regularizer::LogSmooth, _) => Prior::Smooth,
        // The entropy's curvature in ln f, diag(f), is all the errors read of the model.
        (Regularizer::MaxEnt, Some(m)) => Prior::Entropy {
            ln_model: (m / problem.data_scale()).ln(),
        },
        _ => return None,
    };
    Some(logspace::peak_area_stderr(
        problem,
        prior,
        solution,
        peaks,
        noise_variance,
    ))
}

/// The peaks of a solution split by their area's significance: those below `min_significance`
/// linearized standard errors ([`peak_area_stderr`]) go to the second list with their error.
/// Every peak is kept when the setting is 0, for the edge families and where the error is
/// undefined.
pub(crate) fn significant_peaks(
    problem: &Problem,
    family: (Regularizer, Option<f64>),
    noise_variance: f64,
    solution: &Solution,
    peaks: Vec<SpectrumPeak>,
    params: &PeakParams,
) -> SplitPeaks {
    let z = params.min_significance;
    if z <= 0.0 || peaks.is_empty() {
        return (peaks, Vec::new());
    }
    let Some(errors) = peak_area_stderr(problem, family, solution, &peaks, noise_variance) else {
        return (peaks, Vec::new());
    };
    let (kept, left): (Vec<_>, Vec<_>) = peaks
        .into_iter()
        .zip(errors)
        .partition(|(p, se)| !(p.area < z * se));
    (kept.into_iter().map(|(p, _)| p).collect(), left)
}

/// The discrepancy principle on a path without refits: the strongest path point whose chi^2 is at
/// most `factor` M, flagged as the Tikhonov rule flags its ends.
fn discrepancy_on_path(
    rule: Rule,
    factor: f64,
    problem: &Problem,
    path: &LambdaPath,
    scores: &PathScores,
) -> Option<Choice> {
    let target = factor * problem.len() as f64;
    let below = (0..path.len()).rev().find(|&k| scores.chi2[k] <= target);
    let (k, status) = match below {
        None => (0, RuleStatus::TargetUnreachable),
        Some(k) if k + 1 == path.len() => (k, RuleStatus::TargetUnreachable),
        Some(k) => (k, RuleStatus::Ok),
    };
    Some(Choice {
        rule,
        index: Some(k),
        solution: path.points.get(k)?.solution.clone(),
        stopping: None,
        status,
        fallback: None,
        screen: None,
        disagreement: None,
    })
}
