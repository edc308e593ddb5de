//! The lambda path: one warm-started solve per lambda, from the penalty-dominated end to the
//! data-dominated end, with the quantities every rule needs.

use serde::Serialize;

use super::logspace::LogSpaceTerms;
use super::terms::FactorTerms;
use super::{Problem, Solution, Workspace};
use crate::spectrum::{find_peaks, PeakParams};

/// Default number of lambda values on the path.
pub const DEFAULT_LAMBDA_POINTS: usize = 60;

/// The `k`-th of `count` lambda values log-spaced from `lo` (k = 0) to `hi` (k = count - 1).
pub(crate) fn lambda_at(lo: f64, hi: f64, k: usize, count: usize) -> f64 {
    (lo.ln() + (hi.ln() - lo.ln()) * k as f64 / (count - 1) as f64).exp()
}

/// One point of the path.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PathPoint {
    /// The solution at this lambda.
    pub solution: Solution,
    /// Number of peaks of the spectrum.
    pub peaks: usize,
    /// The factor's terms of the linearized problem at this point, when the path was computed for
    /// rules that need them (Tikhonov only).
    #[serde(skip)]
    pub(crate) terms: Option<FactorTerms>,
    /// The penalty's row weights of a total-variation point (its linearized problem's; `None` for
    /// the other families).
    #[serde(skip)]
    pub(crate) penalty_weights: Option<Vec<f64>>,
}

impl PathPoint {
    /// lambda.
    pub fn lambda(&self) -> f64 {
        self.solution.lambda
    }
}

/// Solutions on log-spaced lambda, stored in increasing lambda (index 0 is the weakest
/// regularization).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LambdaPath {
    /// The points.
    pub points: Vec<PathPoint>,
    /// The evidence terms of each point of a log-space family's path (log-smooth, maxent; empty
    /// for Tikhonov, whose terms come from the active set).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub log_space: Vec<LogSpaceTerms>,
    /// Maxent's flat default model m (amplitude per grid point; `None` for the other families).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_model: Option<f64>,
}

impl LambdaPath {
    /// Solves on `count` log-spaced lambda over the problem's range, warm-starting each solve from
    /// the previous (stronger) one.
    pub fn compute(
        problem: &Problem,
        count: usize,
        peak_params: &PeakParams,
        ws: &mut Workspace,
    ) -> Self {
        Self::compute_with(problem, count, peak_params, false, ws)
    }

    /// [`LambdaPath::compute`], keeping each point's factor terms when `terms` is set (for the
    /// evidence, robust GCV and consensus rules, which would otherwise refactor every point).
    pub(crate) fn compute_with(
        problem: &Problem,
        count: usize,
        peak_params: &PeakParams,
        terms: bool,
        ws: &mut Workspace,
    ) -> Self {
        Self::sweep(problem, count, peak_params, |lambda, coef| {
            let (solution, terms) = problem.solve_with(lambda, coef, terms, ws);
            (solution, terms, None)
        })
    }

    /// The path of `solve` (one lambda from the coefficients of the previous, stronger point, which
    /// it replaces by its own: the solution, its factor terms and its penalty weights) on `count`
    /// log-spaced lambda over the problem's range, from the strong end.
    pub(crate) fn sweep(
        problem: &Problem,
        count: usize,
        peak_params: &PeakParams,
        mut solve: impl FnMut(f64, &mut [f64]) -> (Solution, Option<FactorTerms>, Option<Vec<f64>>),
    ) -> Self {
        let (lo, hi) = problem.lambda_range();
        let count = count.max(2);
        let mut coef = problem.zeros();
        let mut points: Vec<PathPoint> = (0..count)
            .rev()
            .map(|k| {
                let (solution, terms, penalty_weights) =
                    solve(lambda_at(lo, hi, k, count), &mut coef);
                let peaks = find_peaks(problem.grid(), &solution.amplitudes, peak_params).len();
                PathPoint {
                    solution,
                    peaks,
                    terms,
                    penalty_weights,
                }
            })
            .collect();
        points.reverse();
        Self {
            points,
            log_space: Vec::new(),
            default_model: None,
        }
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.points.len()
    }

    /// True for an empty path.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// The coefficient vector (spectrum then internal baseline) of point `k`, for warm starts.
    pub(crate) fn coefficients(&self, problem: &Problem, k: usize) -> Vec<f64> {
        problem.internal_coefficients(&self.points[k].solution)
    }
}
