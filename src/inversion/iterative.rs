//! The paper's practice as an option: an iterative non-negative least-squares fit without a penalty,
//! started from a flat spectrum, whose stopping tolerance is the regularization. The tolerance is
//! scanned from loose to tight and the R^2-onset rule picks it (docs/model.md §4).
//!
//! The iteration is projected gradient descent (projected Landweber) on ||W (K f + B b - y)||^2 with
//! step 1/L, L the largest eigenvalue of the Gram matrix: the objective falls monotonically, so "stop
//! when an iteration lowers it by less than `tol` of its value" is well defined, and the stopping
//! iteration can only grow as `tol` tightens. One run therefore serves the whole scan: the state is
//! recorded the first time each tolerance is met. Every quantity is scale-free: data multiplied by a
//! constant give iterates multiplied by that constant and the same stopping iterations.

use serde::Serialize;

use super::nnls::{NnlsInfo, NnlsStatus};
use super::problem::largest_eigenvalue;
use super::{Problem, Solution, Workspace};

/// Settings of the iterative mode.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct IterativeParams {
    /// Loosest stopping tolerance (relative decrease of the objective per iteration).
    pub tol_loose: f64,
    /// Tightest stopping tolerance.
    pub tol_tight: f64,
    /// Tolerances per decade in the scan.
    pub per_decade: usize,
    /// Iteration limit of the whole run.
    pub max_iterations: usize,
    /// The R^2-onset threshold that picks the tolerance.
    pub threshold: f64,
}

impl Default for IterativeParams {
    fn default() -> Self {
        Self {
            tol_loose: 1e-1,
            tol_tight: 1e-9,
            per_decade: 4,
            max_iterations: 100_000,
            threshold: super::rules::DEFAULT_R2_THRESHOLD,
        }
    }
}

/// One tolerance of the scan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IterativePoint {
    /// The stopping tolerance.
    pub tolerance: f64,
    /// Iterations taken until it was met.
    pub iterations: usize,
    /// The iterate at that point (lambda = 0: the objective has no penalty).
    pub solution: Solution,
}

/// The scan and the tolerance the R^2-onset rule picks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IterativeScan {
    /// Points from loose to tight; ends early when the iteration limit is reached.
    pub points: Vec<IterativePoint>,
    /// Index of the picked point.
    pub chosen: usize,
}

/// Runs the iterative fit and scans its stopping tolerance.
pub fn iterative_scan(
    problem: &Problem,
    params: &IterativeParams,
    ws: &mut Workspace,
) -> IterativeScan {
    let g = problem.gram();
    let h = problem.aty();
    let constrained = problem.constrained();
    let n = h.len();
    let n_spec = problem.n_spec();
    let (yty, ss_tot) = problem.sums_of_squares();

    // Step 1/L with L the largest eigenvalue of G (power iteration, then a 1 % margin).
    let l = 1.01 * largest_eigenvalue(g, n, n, 1e-10, 500);
    let step = 1.0 / l;

    // Flat start: every amplitude equal, the level fitted by least squares (>= 0); baseline 0.
    let mut c = vec![0.0; n];
    let ones_h: f64 = h[..n_spec].iter().sum();
    let ones_g_ones: f64 = (0..n_spec)
        .map(|i| g[i * n..i * n + n_spec].iter().sum::<f64>())
        .sum();
    let level = if ones_g_ones > 0.0 {
        (ones_h / ones_g_ones).max(0.0)
    } else {
        0.0
    };
    c[..n_spec].fill(level);

    let matvec = |v: &[f64], out: &mut [f64]| {
        for (i, o) in out.iter_mut().enumerate() {
            *o = g[i * n..(i + 1) * n]
                .iter()
                .zip(v)
                .map(|(a, b)| a * b)
                .sum();
        }
    };
    let mut gc = vec![0.0; n];
    matvec(&c, &mut gc);
    let objective = |c: &[f64], gc: &[f64]| -> f64 {
        let cgc: f64 = c.iter().zip(gc).map(|(a, b)| a * b).sum();
        let ch: f64 = c.iter().zip(h).map(|(a, b)| a * b).sum();
        yty - 2.0 * ch + cgc
    };
    let mut phi = objective(&c, &gc);

    let decades = (params.tol_loose / params.tol_tight).log10().max(0.0);
    let count = (decades * params.per_decade as f64).round() as usize + 1;
    let tolerances: Vec<f64> = (0..count)
        .map(|k| params.tol_loose * 10f64.powf(-(k as f64) / params.per_decade as f64))
        .collect();

    let mut points: Vec<IterativePoint> = Vec::with_capacity(count);
    let mut next = 0;
    let mut d = vec![0.0; n];
    let mut gd = vec![0.0; n];
    let mut iterations = 0;
    let h_scale = h
        .iter()
        .fold(0.0f64, |a, v| a.max(v.abs()))
        .max(f64::MIN_POSITIVE);
    let record =
        |c: &[f64], gc: &[f64], tol: f64, iterations: usize, status, ws: &mut Workspace| {
            // KKT violation of the unpenalized problem at this iterate, relative to max |h|.
            let kkt = (0..n)
                .map(|j| {
                    let grad = gc[j] - h[j];
                    if constrained[j] {
                        if c[j] > 0.0 {
                            grad.abs()
                        } else {
                            (-grad).max(0.0)
                        }
                    } else {
                        grad.abs()
                    }
                })
                .fold(0.0f64, f64::max)
                / h_scale;
            let info = NnlsInfo {
                iterations,
                factorizations: 0,
                status,
                kkt_residual: kkt,
                jitter: 0.0,
            };
            IterativePoint {
                tolerance: tol,
                iterations,
                solution: problem.unpenalized_solution(c, info, ws),
            }
        };
    while next < count && iterations < params.max_iterations {
        // c_new = P(c - step * (G c - h)); d = c_new - c.
        for j in 0..n {
            let mut v = c[j] - step * (gc[j] - h[j]);
            if constrained[j] && v < 0.0 {
                v = 0.0;
            }
            d[j] = v - c[j];
        }
        matvec(&d, &mut gd);
        // phi(c + d) - phi(c) = 2 d.(G c - h) + d.G d, exact without cancellation against y'y.
        let change: f64 = (0..n).map(|j| d[j] * (2.0 * (gc[j] - h[j]) + gd[j])).sum();
        for j in 0..n {
            c[j] += d[j];
            gc[j] += gd[j];
        }
        iterations += 1;
        let new_phi = (phi + change).max(0.0);
        let decrease = (-change).max(0.0) / new_phi.max(f64::MIN_POSITIVE);
        phi = new_phi;
        while next < count && decrease < tolerances[next] {
            points.push(record(
                &c,
                &gc,
                tolerances[next],
                iterations,
                NnlsStatus::Converged,
                ws,
            ));
            next += 1;
        }
        if phi == 0.0 {
            break;
        }
    }
    if points.is_empty() {
        // Not even the loosest tolerance was met: report the last iterate as such.
        points.push(record(
            &c,
            &gc,
            tolerances[0],
            iterations,
            NnlsStatus::MaxIterations,
            ws,
        ));
    }
    let chosen = r2_onset(&points, ss_tot, params.threshold);
    IterativeScan { points, chosen }
}

/// Scanning from loose to tight: the first point whose 1 - R^2 is within (1 + threshold) of the
/// smallest 1 - R^2 of the scan (the same definition as the path's R^2-onset rule).
fn r2_onset(points: &[IterativePoint], ss_tot: f64, threshold: f64) -> usize {
    let misfit: Vec<f64> = points
        .iter()
        .map(|p| p.solution.stats.weighted_ss / ss_tot.max(f64::MIN_POSITIVE))
        .collect();
    let best = misfit.iter().copied().fold(f64::INFINITY, f64::min);
    misfit
        .iter()
        .position(|m| *m <= best || (best > 0.0 && m / best - 1.0 <= threshold))
        .unwrap_or(misfit.len() - 1)
}
