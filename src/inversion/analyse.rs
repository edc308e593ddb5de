//! One full analysis: the lambda path, every rule's score, each requested rule's choice and peaks.

use serde::Serialize;

use super::path::LambdaPath;
use super::rules::{choose, Choice, PathScores, Rule};
use super::{Problem, Workspace};
use crate::spectrum::{find_peaks, PeakParams, SpectrumPeak};

/// A rule's choice with the peaks of its spectrum.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleResult {
    /// The choice.
    pub choice: Choice,
    /// Peaks of the chosen spectrum, ordered by tau.
    pub peaks: Vec<SpectrumPeak>,
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

/// Computes the path with `lambda_points` values, scores it, and applies each rule.
pub fn analyse(
    problem: &Problem,
    lambda_points: usize,
    rules: &[Rule],
    peak_params: &PeakParams,
    ws: &mut Workspace,
) -> Analysis {
    let path = LambdaPath::compute(problem, lambda_points, peak_params, ws);
    let scores = PathScores::compute_for(problem, &path, rules, ws);
    let mut results = Vec::with_capacity(rules.len());
    let mut undefined = Vec::new();
    for &rule in rules {
        match choose(rule, problem, &path, &scores, ws) {
            Some(choice) => {
                let peaks = find_peaks(problem.grid(), &choice.solution.amplitudes, peak_params);
                results.push(RuleResult { choice, peaks });
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
