//! Edge-preserving regularization: total variation of the spectrum rounded below a scale, and the
//! Lorentzian penalty, which does not charge a jump its height.
//!
//! The penalty is lambda^2 / 2 sum_r rho(d_r) over the differences d = L f (first differences by
//! default, [`super::Regularizer::default_order`]), with
//!
//! rho(d) = 2 e sqrt(d^2 + e^2) - 2 e^2,
//!
//! d^2 for |d| << e (Tikhonov's penalty) and 2 e |d| for |d| >> e (total variation). A jump of
//! height h costs about 2 e h however steep it is, where Tikhonov's d^2 charges its steepness: a
//! spectrum that falls off a cliff (the rising dF spectrum of the temperature-stepping study) is
//! kept sharp instead of rounded over the smoothing width. The price: a smooth ramp seen through
//! noise comes back as a staircase.
//!
//! The scale e is [`EDGE_SCALE`] times the largest |d| of the Tikhonov solution at the same
//! lambda (warm-started from the previous, stronger path point), so that data x 100 gives a
//! spectrum x 100 at the same lambda.
//!
//! **Solver: primal-dual Newton** (T. F. Chan, G. H. Golub and P. Mulet, "A nonlinear
//! primal-dual method for total variation-based image restoration", SIAM J. Sci. Comput. 20
//! (1999) 1964), with positivity. The stationarity conditions of
//! J(f) = ||W (K f - y)||^2 / 2 + lambda^2 / 2 sum_r rho(d_r) are written with the dual variable
//! u_r = d_r / sqrt(d_r^2 + e^2):
//!
//! G f - h + lambda^2 e L^T u = 0 (on the free set), sqrt(d^2 + e^2) u - d = 0.
//!
//! Linearizing both and eliminating the dual step leaves a Tikhonov problem with row weights
//! w_r = e (1 - u_r d_r / r_r) / r_r (r = sqrt(d^2 + e^2)) and a shifted linear term
//! (`primal_dual_model`), solved by NNLS so that f >= 0; the dual then takes the step the
//! linearization gives, shortened to keep |u| <= 1. Where primal Newton (u = d / r throughout)
//! overshoots at every jump and crawls (dozens of halved steps per lambda), this converges in
//! at most about 20 steps, each lambda starting from the Tikhonov solution there. It stops when
//! the optimality conditions of J over f >= 0 hold to [`EDGE_TOLERANCE`] of the gradient's
//! largest part, or stall below [`EDGE_STALL`], or after [`EDGE_MAX_ITERATIONS`] steps (status
//! `max-iterations`: the point is never chosen silently); the residual is reported as the
//! point's `kkt_residual`.
//!
//! **Rules.** The point reported at each lambda is the minimizer of Newton's quadratic model at
//! the converged iterate (one more NNLS solve, with weights rho''/2 = e^3 / r^3): the rules read
//! that linearized problem, the Laplace approximation at the solution. chi^2, its degrees of
//! freedom tr((G + lambda^2 L^T W L)^-1 G) on the free set, ||W^1/2 L f|| for the L-curve, and
//! the evidence with the Gaussian prior of precision lambda^2 L^T W L. No rule refits between
//! path points (k-fold, a fixed lambda and the iterative mode do not apply).
//!
//! **The Lorentzian** (`--regularizer lorentzian`): rho(d) = e^2 ln(1 + d^2 / e^2), again d^2
//! below the scale e but only logarithmic above it (the Lorentzian, or Cauchy, potential of
//! edge-preserving half-quadratic regularization: P. Charbonnier, L. Blanc-Feraud, G. Aubert and
//! M. Barlaud, "Deterministic edge-preserving regularization in computed imaging", IEEE Trans.
//! Image Process. 6 (1997) 298). Total variation still charges a jump 2 e per unit of height, so
//! its solution lowers the top of a spectrum that ends in a jump (on the stepping study's rising
//! spectrum, the last 0.02-0.03 eV below the jump); the Lorentzian's charge grows only with the
//! logarithm of the height, and the top stays where it is. The objective is not convex. It is
//! minimized by majorize-minimize steps from the Tikhonov solution at the same lambda (the same
//! scale e): ln(1 + z / e^2) lies below its tangent in z = d^2, so the weighted Tikhonov problem
//! with w_r = e^2 / (d_r^2 + e^2) at the current differences majorizes J, and its NNLS minimizer
//! lowers J (Charbonnier et al.'s ARTUR iteration, with positivity). Each step is extrapolated
//! along its direction, the stretch doubled while J keeps falling (a linear rate's steps are too
//! short by a constant factor). The result is the stationary point this descent reaches, not
//! necessarily the global minimum; it stops on the optimality conditions as total variation does
//! (or after [`LORENTZIAN_MAX_ITERATIONS`] steps, status `max-iterations`), and the point reported
//! is the weighted Tikhonov solution at its final weights, which the rules read as for total
//! variation.

use super::dense::row_sums;
use super::nnls::NnlsStatus;
use super::path::LambdaPath;
use super::terms::FactorTerms;
use super::{Problem, Solution, Workspace};
use crate::spectrum::PeakParams;

/// The default rounding scale e as a fraction of the largest |L f| of the Tikhonov solution that
/// starts each lambda (`--edge-scale`, `inversion.edge_scale`). On the stepping study's record
/// (10 K steps, 1 h holds, 0.1 % noise, the evidence) 0.3, 0.1, 0.03 and 0.01 gave median
/// relative L2 0.039, 0.020, 0.216 and 0.233: smaller scales are nearer pure total variation,
/// whose staircases cost accuracy, though they put the top within 0.02 eV of the jump (20 and 18
/// of 20 repeats at 0.03 and 0.01, against 0 at 0.1).
pub const EDGE_SCALE: f64 = 0.1;
/// The iteration stops when the optimality conditions of J over f >= 0 hold to this fraction
/// of the gradient's largest part (`optimality`).
pub const EDGE_TOLERANCE: f64 = 1e-9;
/// ... or when it stalls below this (five steps without halving it: the rounding floor of an
/// ill-conditioned problem, about 1e-7 at the strong end of a stepped creep record's path).
pub const EDGE_STALL: f64 = 1e-6;
const EDGE_STALL_STEPS: usize = 5;
/// Most primal-dual steps per lambda.
pub const EDGE_MAX_ITERATIONS: usize = 60;
/// Most majorize-minimize steps per lambda of the Lorentzian, whose convergence is linear (on the
/// stepping study's records 0 to 40 per lambda).
pub const LORENTZIAN_MAX_ITERATIONS: usize = 200;

/// How far `coef` is from a minimum of J over f >= 0: the largest violation of the optimality
/// conditions, g_j = 0 where f_j > 0 (and on the unconstrained baseline) and g_j >= 0 where
/// f_j = 0, for the gradient g = G f - h + L^T s with the penalty's slope s = lambda^2 rho'(d) / 2
/// per difference, relative to the largest of its three parts (whose rounding errors set the
/// floor it can reach).
fn optimality(problem: &Problem, coef: &[f64], slope: &[f64]) -> f64 {
    let n = coef.len();
    let mut g = Vec::new();
    problem.penalty_transpose(slope, &mut g);
    let mut gf = vec![0.0; n];
    row_sums(problem.gram(), n, |i| i, coef, &mut gf);
    let (h, constrained) = (problem.aty(), problem.constrained());
    // The gradient's parts cancel at a minimum; each carries rounding of its own size.
    let largest = |v: &[f64]| v.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let scale = largest(h).max(largest(&gf)).max(largest(&g));
    let worst = (0..n).fold(0.0f64, |m, j| {
        let gj = gf[j] - h[j] + g[j];
        let violation = if constrained[j] && coef[j] <= 0.0 {
            (-gj).max(0.0)
        } else {
            gj.abs()
        };
        m.max(violation)
    });
    if scale > 0.0 {
        worst / scale
    } else {
        worst
    }
}

/// Total variation's slope lambda^2 rho'(d) / 2 = lambda^2 e d / sqrt(d^2 + e^2) per difference.
fn rounded_slope(l2: f64, e: f64, d: &[f64]) -> Vec<f64> {
    d.iter()
        .map(|&v| l2 * e * v / (v * v + e * e).sqrt())
        .collect()
}

/// The quadratic model of one primal-dual Newton step at the differences `d` and dual `u`: the
/// row weights w = e (1 - u d / r) / r, r = sqrt(d^2 + e^2), of G + lambda^2 L^T diag(w) L, and the
/// shift lambda^2 L^T (e d / r - w d) of the linear term. With u = d / r it is Newton's own model
/// (w = e^3 / r^3 = rho'' / 2).
fn primal_dual_model(
    problem: &Problem,
    l2: f64,
    e: f64,
    d: &[f64],
    u: &[f64],
    weights: &mut Vec<f64>,
    shift: &mut Vec<f64>,
) {
    weights.clear();
    let mut residual = Vec::with_capacity(d.len());
    for (&v, &uv) in d.iter().zip(u) {
        let r = (v * v + e * e).sqrt();
        let w = e * (1.0 - uv * v / r) / r;
        weights.push(w);
        residual.push(l2 * (e * v / r - w * v));
    }
    problem.penalty_transpose(&residual, shift);
}

/// The stopping test both edge solvers share: the optimality residual at most [`EDGE_TOLERANCE`],
/// or a stall (no halving of the best residual in `EDGE_STALL_STEPS` steps, below [`EDGE_STALL`]).
struct Stopping {
    best: f64,
    since_best: usize,
}

impl Stopping {
    /// The test at the starting residual `kkt`, and whether that already meets the tolerance.
    fn new(kkt: f64) -> (Self, bool) {
        let stopping = Self {
            best: kkt,
            since_best: 0,
        };
        (stopping, kkt <= EDGE_TOLERANCE)
    }

    /// Whether to stop after a step that left the residual `kkt`.
    fn after_step(&mut self, kkt: f64) -> bool {
        if kkt < 0.5 * self.best {
            (self.best, self.since_best) = (kkt, 0);
        } else {
            self.since_best += 1;
        }
        kkt <= EDGE_TOLERANCE || (self.best <= EDGE_STALL && self.since_best >= EDGE_STALL_STEPS)
    }
}

/// Completes the solver report of the point `solution` (with coefficients `coef`): its steps,
/// every factorization, its optimality residual for the penalty slope `slope` of its own
/// differences, and `max-iterations` when the steps ran out before the test was met.
fn report(
    problem: &Problem,
    solution: &mut Solution,
    coef: &[f64],
    slope: &[f64],
    (iterations, factorizations): (usize, usize),
    converged: bool,
) {
    solution.info.iterations = iterations;
    solution.info.factorizations += factorizations;
    solution.info.kkt_residual = optimality(problem, coef, slope);
    if !converged && solution.info.status == NnlsStatus::Converged {
        solution.info.status = NnlsStatus::MaxIterations;
    }
}

/// How an edge family's solve at one lambda starts.
enum Start {
    /// The scale e, the differences d of the Tikhonov solution and its factorizations.
    Scale(f64, Vec<f64>, usize),
    /// No differences to round (all zero, or a polynomial of the penalty's null space): rho is
    /// d^2 to within a constant factor there, and the Tikhonov solution is the point.
    Flat(Solution, Option<FactorTerms>, Vec<f64>),
}

/// The Tikhonov solve at `lambda` (warm from the previous point's iterate in `coef`) that starts
/// both edge families and sets the scale e: [`crate::inversion::ProblemSettings::edge_scale`] of
/// its largest |L f|. Starting from the previous point's solution instead saves a third of the
/// steps, but towards the weak end, where the misfit is flat in the directions the data do not
/// see, the iteration then stops at a different, rougher point of that flat valley (total
/// variation: relative L2 1.7-1.9 against 0.13-0.23 at the weak end of noise-free stepped
/// records; the Lorentzian, started from whichever of the two has the lower objective: 0.051
/// against 0.020 at 10 K steps with 0.1 % noise, a lower objective but a rougher spectrum).
fn start(
    problem: &Problem,
    lambda: f64,
    coef: &mut [f64],
    terms: bool,
    ws: &mut Workspace,
) -> Start {
    let first = problem.solve(lambda, coef, ws);
    let mut d = Vec::new();
    problem.penalty_differences(coef, &mut d);
    let e = problem.settings().edge_scale * d.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if e <= 0.0 || !e.is_finite() {
        let w = vec![1.0; d.len()];
        let (solution, t) = problem.solve_weighted(lambda, &w, None, coef, terms, ws);
        return Start::Flat(solution, t, w);
    }
    Start::Scale(e, d, first.info.factorizations)
}

/// The solution at `lambda` from the iterate `coef` (internal scaling; it receives the solution),
/// with the factor's terms when `terms` is set and the row weights of the final Hessian.
///
/// Each primal-dual step minimizes its quadratic model over f >= 0 by NNLS (module docs). The
/// point reported is the minimizer of Newton's model at the converged iterate, so that its
/// statistics and terms are those of its own linearized problem.
pub(crate) fn solve(
    problem: &Problem,
    lambda: f64,
    coef: &mut [f64],
    terms: bool,
    ws: &mut Workspace,
) -> (Solution, Option<FactorTerms>, Vec<f64>) {
    solve_limited(problem, lambda, coef, terms, EDGE_MAX_ITERATIONS, ws)
}

/// [`solve`] with at most `limit` primal-dual steps.
fn solve_limited(
    problem: &Problem,
    lambda: f64,
    coef: &mut [f64],
    terms: bool,
    limit: usize,
    ws: &mut Workspace,
) -> (Solution, Option<FactorTerms>, Vec<f64>) {
    let l2 = lambda * lambda;
    let (e, mut d, mut factorizations) = match start(problem, lambda, coef, terms, ws) {
        Start::Scale(e, d, factorizations) => (e, d, factorizations),
        Start::Flat(solution, t, w) => return (solution, t, w),
    };
    let (mut w, mut shift) = (Vec::new(), Vec::new());
    // The dual variable u = d / sqrt(d^2 + e^2), |u| <= 1, of Chan, Golub and Mulet.
    let mut u: Vec<f64> = d.iter().map(|&v| v / (v * v + e * e).sqrt()).collect();
    let mut trial = coef.to_vec();
    let (mut stopping, mut converged) =
        Stopping::new(optimality(problem, coef, &rounded_slope(l2, e, &d)));
    let mut iterations = 0;
    while iterations < limit && !converged {
        iterations += 1;
        primal_dual_model(problem, l2, e, &d, &u, &mut w, &mut shift);
        trial.copy_from_slice(coef);
        let (step, _) = problem.solve_weighted(lambda, &w, Some(&shift), &mut trial, false, ws);
        factorizations += step.info.factorizations;
        // The dual step from the primal one, as long as it keeps |u| <= 1 (times 0.99).
        let mut d_new = Vec::with_capacity(d.len());
        problem.penalty_differences(&trial, &mut d_new);
        let du: Vec<f64> = d
            .iter()
            .zip(&d_new)
            .zip(&u)
            .map(|((&v, &vn), &uv)| {
                let r = (v * v + e * e).sqrt();
                ((1.0 - uv * v / r) * (vn - v) - (r * uv - v)) / r
            })
            .collect();
        let mut t: f64 = 1.0;
        for (&uv, &dv) in u.iter().zip(&du) {
            if uv + dv > 1.0 {
                t = t.min(0.99 * (1.0 - uv) / dv);
            } else if uv + dv < -1.0 {
                t = t.min(0.99 * (-1.0 - uv) / dv);
            }
        }
        u.iter_mut().zip(&du).for_each(|(uv, dv)| *uv += t * dv);
        coef.copy_from_slice(&trial);
        d = d_new;
        converged = stopping.after_step(optimality(problem, coef, &rounded_slope(l2, e, &d)));
    }
    // The model's minimizer at the final iterate, with its statistics and terms.
    let exact: Vec<f64> = d.iter().map(|&v| v / (v * v + e * e).sqrt()).collect();
    primal_dual_model(problem, l2, e, &d, &exact, &mut w, &mut shift);
    let (mut solution, t) = problem.solve_weighted(lambda, &w, Some(&shift), coef, terms, ws);
    problem.penalty_differences(coef, &mut d);
    let slope = rounded_slope(l2, e, &d);
    report(
        problem,
        &mut solution,
        coef,
        &slope,
        (iterations, factorizations),
        converged,
    );
    (solution, t, w)
}

/// The Lorentzian's slope lambda^2 rho'(d) / 2 = lambda^2 e^2 d / (d^2 + e^2) per difference.
fn lorentzian_slope(l2: f64, e: f64, d: &[f64]) -> Vec<f64> {
    d.iter()
        .map(|&v| l2 * e * e * v / (v * v + e * e))
        .collect()
}

/// The Lorentzian's objective J = f^T G f / 2 - h^T f + lambda^2 / 2 sum_r e^2 ln(1 + d_r^2 / e^2)
/// (the misfit ||W (K f - y)||^2 / 2 less its constant y^T W^2 y / 2), with the differences of
/// `coef` in `d`.
fn lorentzian_objective(problem: &Problem, l2: f64, e: f64, coef: &[f64], d: &mut Vec<f64>) -> f64 {
    let n = coef.len();
    let mut gf = vec![0.0; n];
    row_sums(problem.gram(), n, |i| i, coef, &mut gf);
    let misfit: f64 = (0..n)
        .map(|j| coef[j] * (0.5 * gf[j] - problem.aty()[j]))
        .sum();
    problem.penalty_differences(coef, d);
    let penalty: f64 = d.iter().map(|&v| e * e * (v * v / (e * e)).ln_1p()).sum();
    misfit + 0.5 * l2 * penalty
}

/// The Lorentzian's half-quadratic weights e^2 / (d^2 + e^2): the penalty's majorizer at `d`.
fn lorentzian_weights(e: f64, d: &[f64], w: &mut Vec<f64>) {
    w.clear();
    w.extend(d.iter().map(|&v| e * e / (v * v + e * e)));
}

/// One majorize-minimize step from `coef` (which receives the result): the weighted Tikhonov
/// problem with the majorizer's weights at `d`, which never raises J, extrapolated along its
/// direction with the stretch doubled while J falls (the step of a linear rate is too short by
/// the same factor each time), clipped at f = 0. Returns the factorizations.
fn majorize_minimize(
    problem: &Problem,
    lambda: f64,
    e: f64,
    d: &[f64],
    coef: &mut [f64],
    w: &mut Vec<f64>,
    ws: &mut Workspace,
) -> usize {
    let l2 = lambda * lambda;
    let previous = coef.to_vec();
    let mut trial = coef.to_vec();
    lorentzian_weights(e, d, w);
    let (step, _) = problem.solve_weighted(lambda, w, None, coef, false, ws);
    let mut scratch = Vec::new();
    let mut lowest = lorentzian_objective(problem, l2, e, coef, &mut scratch);
    let mut stretch = 2.0;
    while stretch <= 1024.0 {
        for j in 0..coef.len() {
            let v = previous[j] + stretch * (coef[j] - previous[j]);
            trial[j] = if problem.constrained()[j] {
                v.max(0.0)
            } else {
                v
            };
        }
        let value = lorentzian_objective(problem, l2, e, &trial, &mut scratch);
        if value >= lowest {
            break;
        }
        lowest = value;
        coef.copy_from_slice(&trial);
        stretch *= 2.0;
    }
    step.info.factorizations
}

/// The Lorentzian point at `lambda` from the iterate `coef` (it receives the solution), with the
/// factor's terms when `terms` is set and the half-quadratic weights of the final solve.
///
/// Each step minimizes the majorizer lambda^2 / 2 sum_r w_r d_r^2, w = e^2 / (d0^2 + e^2) at the
/// previous differences d0, over f >= 0 by NNLS (module docs), so that J never rises. The
/// point reported is the minimizer at the converged weights: its statistics and terms are those
/// of that weighted Tikhonov problem, of which it is the exact solution.
pub(crate) fn solve_lorentzian(
    problem: &Problem,
    lambda: f64,
    coef: &mut [f64],
    terms: bool,
    ws: &mut Workspace,
) -> (Solution, Option<FactorTerms>, Vec<f64>) {
    solve_lorentzian_limited(problem, lambda, coef, terms, LORENTZIAN_MAX_ITERATIONS, ws)
}

/// [`solve_lorentzian`] with at most `limit` steps.
fn solve_lorentzian_limited(
    problem: &Problem,
    lambda: f64,
    coef: &mut [f64],
    terms: bool,
    limit: usize,
    ws: &mut Workspace,
) -> (Solution, Option<FactorTerms>, Vec<f64>) {
    let l2 = lambda * lambda;
    let (e, mut d, mut factorizations) = match start(problem, lambda, coef, terms, ws) {
        Start::Scale(e, d, factorizations) => (e, d, factorizations),
        Start::Flat(solution, t, w) => return (solution, t, w),
    };
    let mut w = Vec::new();
    let (mut stopping, mut converged) =
        Stopping::new(optimality(problem, coef, &lorentzian_slope(l2, e, &d)));
    let mut iterations = 0;
    while iterations < limit && !converged {
        iterations += 1;
        factorizations += majorize_minimize(problem, lambda, e, &d, coef, &mut w, ws);
        problem.penalty_differences(coef, &mut d);
        converged = stopping.after_step(optimality(problem, coef, &lorentzian_slope(l2, e, &d)));
    }
    lorentzian_weights(e, &d, &mut w);
    let (mut solution, t) = problem.solve_weighted(lambda, &w, None, coef, terms, ws);
    problem.penalty_differences(coef, &mut d);
    let slope = lorentzian_slope(l2, e, &d);
    report(
        problem,
        &mut solution,
        coef,
        &slope,
        (iterations, factorizations),
        converged,
    );
    (solution, t, w)
}

/// An edge family's path (`lorentzian` for the Lorentzian, else total variation):
/// [`LambdaPath::compute`]'s log-spaced lambda from the strong end, each point warm-started from
/// the previous one, with every point's factor terms and weights.
pub(crate) fn path(
    problem: &Problem,
    lorentzian: bool,
    count: usize,
    peak_params: &PeakParams,
    ws: &mut Workspace,
) -> LambdaPath {
    LambdaPath::sweep(problem, count, peak_params, |lambda, coef| {
        let (solution, terms, w) = if lorentzian {
            solve_lorentzian(problem, lambda, coef, true, ws)
        } else {
            solve(problem, lambda, coef, true, ws)
        };
        (solution, terms, Some(w))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inversion::{Kernel, ProblemSettings};
    use crate::spectrum::LnTauGrid;

    /// Decay data at `m` times over 0.1..1e4 s of a box (amplitude 0.05 on grid points `from..to`
    /// of `n` over 1e-2..1e5 s), with a fixed zigzag of size `noise` added and sigma `sigma`, under
    /// first differences.
    fn box_problem(
        n: usize,
        m: usize,
        (from, to): (usize, usize),
        noise: f64,
        sigma: f64,
    ) -> Problem {
        let grid = LnTauGrid::new(1e-2, 1e5, n).unwrap();
        let t: Vec<f64> = (0..m)
            .map(|i| 10f64.powf(-1.0 + 5.0 * i as f64 / (m - 1) as f64))
            .collect();
        let y: Vec<f64> = t
            .iter()
            .enumerate()
            .map(|(i, &x)| {
                let clean: f64 = (from..to).map(|j| 0.05 * (-x / grid.tau_s(j)).exp()).sum();
                clean + noise * ((i * 7 % 11) as f64 / 5.0 - 1.0)
            })
            .collect();
        let settings = ProblemSettings {
            order: 1,
            ..ProblemSettings::new(Kernel::Decay, grid)
        };
        Problem::new(&t, &y, Some(&vec![sigma; m]), settings).unwrap()
    }

    /// A step limit reached before convergence is reported as `max-iterations`, which the
    /// analysis never chooses silently; without the limit the same point converges.
    #[test]
    fn a_point_stopped_by_the_step_limit_says_so() {
        // A box: equal amplitudes on the middle third of the grid, no noise.
        let p = box_problem(30, 80, (10, 20), 0.0, 1e-4);
        let lambda = (p.lambda_range().0 * p.lambda_range().1).sqrt();
        let mut ws = Workspace::new();
        let mut coef = p.zeros();
        let (stopped, _, _) = solve_limited(&p, lambda, &mut coef, false, 1, &mut ws);
        assert_eq!(stopped.info.status_name(), "max-iterations");
        assert_eq!(stopped.info.iterations, 1);
        let mut coef = p.zeros();
        let (done, terms, w) = solve(&p, lambda, &mut coef, true, &mut ws);
        assert_eq!(done.info.status_name(), "converged", "{:?}", done.info);
        assert!(done.info.iterations > 1 && done.info.iterations < EDGE_MAX_ITERATIONS);
        // The weights are rho''/2 = e^3 / r^3 in (0, 1], and the factor's terms are defined.
        assert!(w.iter().all(|w| *w > 0.0 && *w <= 1.0));
        assert!(terms.is_some_and(|t| t.ln_det_q.is_finite()));
    }

    /// The same for the Lorentzian, whose majorize-minimize steps also never raise J: one step
    /// is `max-iterations`, the converged point lies below the Tikhonov start and its weights
    /// e^2 / (d^2 + e^2) are in (0, 1].
    #[test]
    fn a_lorentzian_point_stopped_by_the_step_limit_says_so() {
        let p = box_problem(30, 80, (10, 20), 0.0, 1e-4);
        let lambda = (p.lambda_range().0 * p.lambda_range().1).sqrt();
        let mut ws = Workspace::new();
        let mut coef = p.zeros();
        let (stopped, _, _) = solve_lorentzian_limited(&p, lambda, &mut coef, false, 1, &mut ws);
        assert_eq!(stopped.info.status_name(), "max-iterations");
        let mut tikhonov = p.zeros();
        p.solve(lambda, &mut tikhonov, &mut ws);
        let mut coef = p.zeros();
        let (done, terms, w) = solve_lorentzian(&p, lambda, &mut coef, true, &mut ws);
        assert_eq!(done.info.status_name(), "converged", "{:?}", done.info);
        assert!(done.info.iterations > 1 && done.info.kkt_residual <= EDGE_STALL);
        let mut d = Vec::new();
        p.penalty_differences(&tikhonov, &mut d);
        let e = p.settings().edge_scale * d.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let l2 = lambda * lambda;
        let at = |f: &[f64]| lorentzian_objective(&p, l2, e, f, &mut Vec::new());
        assert!(
            at(&coef) < at(&tikhonov),
            "{} against {}",
            at(&coef),
            at(&tikhonov)
        );
        assert!(w.iter().all(|w| *w > 0.0 && *w <= 1.0));
        assert!(terms.is_some_and(|t| t.ln_det_q.is_finite()));
    }

    /// The rules' terms of a point whose factor terms were not kept are recomputed from its
    /// weighted penalty: the same ln det Q and tr(A^2) to rounding.
    #[test]
    fn terms_recomputed_from_the_weights_match_the_kept_ones() {
        let p = box_problem(24, 60, (8, 16), 1e-3, 1e-3);
        let mut ws = Workspace::new();
        let kept = path(&p, false, 12, &PeakParams::default(), &mut ws);
        let mut priors = super::super::terms::PriorTerms::default();
        for point in &kept.points {
            let a = p.active_set_terms(point, &mut priors, &mut ws);
            let mut bare = point.clone();
            bare.terms = None;
            let b = p.active_set_terms(&bare, &mut priors, &mut ws);
            assert_eq!(a.free, b.free);
            assert!((a.ln_det_q - b.ln_det_q).abs() <= 1e-9 * a.ln_det_q.abs().max(1.0));
            assert!((a.trace_a2 - b.trace_a2).abs() <= 1e-9 * a.trace_a2.abs().max(1.0));
            assert_eq!(a.ln_pdet_prior, b.ln_pdet_prior);
        }
    }
}
