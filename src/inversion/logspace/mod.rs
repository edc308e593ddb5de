//! The regularizer families solved in log space, f = exp(s), so positivity is built in:
//!
//! - **log-smooth**: minimize ||W (K exp(s) + B b - y)||^2 + lambda^2 ||L s||^2 (the logarithm of
//!   the spectrum is smoothed: a narrow peak costs no more than its flanks' slope in ln f, where a
//!   Tikhonov penalty on f pays for every peak's curvature);
//! - **maxent**: minimize ||W r||^2 - 2 lambda^2 S(f; m), S = sum_j (f_j - m_j - f_j ln(f_j / m_j))
//!   (Skilling's entropy, <= 0, zero at the default model m, here flat). In the usual notation
//!   chi^2/2 - alpha S, alpha = lambda^2 / sigma^2. The solver is a Newton method in ln f (the
//!   variables of Bryan, Eur. Biophys. J. 18, 165 (1990), without his singular-space reduction):
//!   the entropy's curvature in ln f is diag(f), so the step solves (D G D + lambda^2 D) d = -g.
//!
//! Each family is solved at each lambda by Gauss-Newton with Levenberg-Marquardt damping, geodesic
//! acceleration (Transtrum and Sethna, arXiv:1201.5885: the step bent along the residual's second
//! derivative, which in ln f is what the data see of a step they cannot see to first order) and a
//! backtracking line search on the objective, from the strongest lambda to the weakest, each solve
//! warm-started from the previous one (continuation). Log-smooth starts at the strongest Tikhonov
//! solution, maxent at its default model. The line search accepts a step by the change of the
//! objective, (c' - c)'(G c' + G c - 2 h) + lambda^2 (p(s') - p(s)), whose rounding error shrinks
//! with the step; the objective itself, y'W'Wy - 2 c'h + c'Gc + ..., carries the rounding of
//! y'W'Wy, which can exceed the change a short step makes (decay data 1e3 times their noise: about
//! 1e-7 in chi^2 units), so such steps would be refused at every length.
//!
//! Everything is computed from the problem's Gram matrix G = A^T A and h = A^T W y (A the weighted
//! design, spectrum then baseline columns): ||W r||^2 = y'W'Wy - 2 c'h + c'Gc with c = (exp(s), b),
//! the half-gradient is (f o (Gc - h)_s + lambda^2 p'(s), (Gc - h)_b) with p'(s) = L'L s
//! (log-smooth) or f o (s - ln m) (maxent), and the Gauss-Newton matrix is J'J + lambda^2 P with
//! J'J = [D G_ss D, D G_sb; G_bs D, G_bb], D = diag(f), P = L'L (log-smooth) or diag(f) (maxent).
//! The effective degrees of freedom of the linearized problem at the solution are
//! tr((J'J + lambda^2 P)^-1 J'J) = N - lambda^2 tr((J'J + lambda^2 P)^-1 P); for maxent this is
//! Skilling's number of good measurements N_good = sum_i e_i / (e_i + lambda^2) (e_i the
//! eigenvalues of D^1/2 G_ss D^1/2) plus one per baseline column.
//!
//! The Bayesian evidence of lambda in the Laplace approximation at the solution (both families;
//! MacKay, Neural Computation 4, 415 (1992); for maxent Gull (1989) and Bryan (1990), whose
//! marginal P(alpha | D) ~ prod_i (alpha / (alpha + e_i))^(1/2) exp(alpha S - chi^2/2) this is):
//!
//!   ln P(D | lambda) = -E / 2 sigma^2 + ln Z_prior(lambda) - (1/2) ln det H - (n/2) ln sigma^2,
//!
//! E = ||W r||^2 + lambda^2 p(s), H = J'J + lambda^2 P in ln f, n = M + r - N; ln Z_prior =
//! (r/2) ln lambda^2 + (1/2) ln pdet(L'L) (log-smooth, r = rank L) or (N_s/2) ln lambda^2 +
//! (1/2) sum_j s_j (maxent, r = N_s: the entropic prior's measure prod f^-1/2). With sigma not given
//! the scale is integrated out as for the Tikhonov evidence. The classic maxent choice is
//! -2 alpha S = N_good (Gull 1989), i.e. lambda^2 p / sigma^2 = N_good.
//!
//! Each path point reports its iterations, the relative decrease of the objective its last step
//! still promised (g'H^-1 g / phi) and whether it converged (as its `info`: `converged` or
//! `max-iterations` in path.csv).

mod solver;

use super::path::{LambdaPath, PathPoint};
use super::{FitStats, Problem};
use crate::spectrum::{find_peaks, PeakParams};
use serde::Serialize;
pub(crate) use solver::Prior;
use solver::{minimize, top_eigenvalue, Factor, Parts, State};

/// The path's lambda^2 range, as multiples of (largest eigenvalue of D G_ss D at the start) /
/// (the penalty's largest curvature in ln f there: the largest eigenvalue of L'L, or maxent's m).
const LAMBDA2_MIN_RATIO: f64 = 1e-10;
/// Maxent's weak end: below it the fit no longer improves (chi^2 within a percent of its floor on
/// the cases of `scenarios/regularizers.toml`) while the Newton iteration, among amplitudes pushed
/// towards the floor, converges only linearly (hundreds of iterations per point).
const ENTROPY_LAMBDA2_MIN_RATIO: f64 = 1e-8;
const LAMBDA2_MAX_RATIO: f64 = 10.0;
/// Log-smooth's strong end with a penalty of order 3 or more, whose null space holds every
/// log-normal peak (a parabola in ln f): the path must reach the fit of that parametric form, which
/// can be the truth. With [`LAMBDA2_MAX_RATIO`] the penalty's softest non-null modes (eigenvalues
/// of L'L down to about (pi / N)^6 of its largest) were barely damped at the strong end, and on
/// the broad log-normal of `scenarios/regularizers.toml` the evidence stopped there in every run
/// (rel_l2 0.013 at sigma 1e-4, against 0.002 with this end; README, "Regularizers").
const NULL_SPACE_LAMBDA2_MAX_RATIO: f64 = 1e6;
/// Amplitudes below this fraction of the largest start at this fraction (ln 0 is not a start).
const START_FLOOR: f64 = 1e-6;

/// What the evidence and the classic maxent choice need at one point of a log-space path.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LogSpaceTerms {
    /// E = ||W r||^2 + lambda^2 p(s).
    pub energy: f64,
    /// lambda^2 p(s) (maxent: -2 alpha S sigma^2).
    pub penalty_energy: f64,
    /// ln Z_prior(lambda) - (1/2) ln det H + ((N - r - M)/2) ln 2 pi (NaN where H has no factor).
    pub ln_occam: f64,
    /// n = M + r - N, the power of 1/sigma in the evidence.
    pub sigma_power: f64,
    /// The spectrum's share of the degrees of freedom (maxent: N_good).
    pub n_good: f64,
}

/// The problem-wide part of the prior's normalization: (r, (1/2) ln pdet(L'L)) for log-smooth;
/// (N_s, 0) for maxent, whose measure term (1/2) sum s_j depends on the point.
fn prior_rank(problem: &Problem, prior: Prior) -> (f64, f64) {
    match prior {
        Prior::Smooth => {
            let (ln_pdet, rank) = problem.penalty_ln_pdet();
            (rank as f64, 0.5 * ln_pdet)
        }
        Prior::Entropy { .. } => (problem.n_spec() as f64, 0.0),
    }
}

/// The linearized problem's matrix H at `st` (N x N, row-major), which the degrees of freedom, the
/// evidence and the peaks' errors read: log-smooth keeps the step's matrix (with the positive
/// diagonal parts); maxent takes J'J + l2 diag(f), whose trace gives Skilling's N_good exactly.
fn linearization(parts: &Parts, st: &State, l2: f64) -> Vec<f64> {
    match parts.prior {
        Prior::Smooth => parts.linearize(st, l2).0,
        Prior::Entropy { .. } => parts.linearized(&parts.coefficients(st), l2),
    }
}

/// The linearized standard error of each of `peaks`' areas (data units) at the log-space
/// `solution` of `prior`: the data's noise carried through the solution at its lambda,
///
///   var(a'f) = s^2 v' H^-1 J'J H^-1 v,  v = (f o a, 0),
///
/// since a change dy of the data moves the solution by H^-1 J' W dy in (ln f, b) and the area by
/// v' of that (a = 1 on the peak's grid points, 1/2 at a minimum shared with a neighbour; H the
/// objective's exact Hessian there, or, where that is not positive definite (a point short of a
/// minimum), the linearization of [`linearization`]; s^2 = `noise_variance` in the weighted units,
/// as for Tikhonov, [`Problem::peak_area_stderr`]). Like that one it leaves out the choice of
/// lambda and the prior's bias; it is first order in the noise. NaN where neither factors.
pub(crate) fn peak_area_stderr(
    problem: &Problem,
    prior: Prior,
    solution: &super::Solution,
    peaks: &[crate::spectrum::SpectrumPeak],
    noise_variance: f64,
) -> Vec<f64> {
    let parts = Parts::of(problem, prior);
    let (n, ns) = (parts.n, parts.ns);
    let c = problem.internal_coefficients(solution);
    let st = State {
        s: c[..ns]
            .iter()
            .map(|v| v.max(f64::MIN_POSITIVE).ln())
            .collect(),
        b: c[ns..].to_vec(),
    };
    let l2 = solution.lambda * solution.lambda;
    let factor = Factor::new(&parts.hessian(&st, l2), n)
        .or_else(|| Factor::new(&linearization(&parts, &st, l2), n));
    let Some(factor) = factor else {
        return vec![f64::NAN; peaks.len()];
    };
    let jj = parts.linearized(&c, 0.0);
    peaks
        .iter()
        .map(|p| {
            let v: Vec<f64> = (0..n)
                .map(|j| if j < ns { c[j] * p.weight(j) } else { 0.0 })
                .collect();
            let w = factor.solve(&v);
            let var: f64 = (0..n)
                .map(|a| w[a] * (0..n).map(|b| jj[a * n + b] * w[b]).sum::<f64>())
                .sum();
            (var * noise_variance).max(0.0).sqrt() * problem.data_scale()
        })
        .collect()
}

/// Fit statistics at `st` (the data misfit, R^2, sqrt p(s), the linearized degrees of freedom) and
/// the evidence terms. `rank` is [`prior_rank`]'s and `m` the number of data points.
fn stats(
    problem: &Problem,
    parts: &Parts,
    st: &State,
    l2: f64,
    ss_tot: f64,
    rank: (f64, f64),
    m: f64,
) -> (FitStats, LogSpaceTerms) {
    let (n, ns) = (parts.n, parts.ns);
    let c = parts.coefficients(st);
    let gc = parts.matvec(&c);
    let weighted_ss = problem.weighted_ss(&c, parts.data2(&c, &gc));
    let factor = Factor::new(&linearization(parts, st, l2), n);
    // dof = N - l2 tr(H^-1 P), P = L'L or diag(f) on the spectrum block.
    let dof = match &factor {
        Some(fac) if l2 > 0.0 => {
            let trace = match parts.prior {
                Prior::Smooth => fac.trace_with(&|i, j| parts.ltl[i * n + j], ns),
                Prior::Entropy { .. } => {
                    fac.trace_with(&|i, j| if i == j { c[j] } else { 0.0 }, ns)
                }
            };
            n as f64 - l2 * trace
        }
        Some(_) => n as f64,
        None => f64::NAN,
    };
    let penalty2 = parts.penalty2(&st.s).max(0.0);
    let ln_det_h = factor.as_ref().map_or(f64::NAN, Factor::ln_det);
    let (r, half_ln_pdet) = rank;
    let measure = match parts.prior {
        Prior::Smooth => half_ln_pdet,
        Prior::Entropy { .. } => 0.5 * st.s.iter().sum::<f64>(),
    };
    let terms = LogSpaceTerms {
        energy: weighted_ss + l2 * penalty2,
        penalty_energy: l2 * penalty2,
        ln_occam: 0.5 * r * l2.ln() + measure - 0.5 * ln_det_h
            + 0.5 * (n as f64 - r - m) * (2.0 * std::f64::consts::PI).ln(),
        sigma_power: m + r - n as f64,
        n_good: dof - (n - ns) as f64,
    };
    let fit = FitStats {
        residual_norm: weighted_ss.sqrt(),
        weighted_ss,
        r2: if ss_tot > 0.0 {
            1.0 - weighted_ss / ss_tot
        } else {
            f64::NAN
        },
        penalty_norm: penalty2.sqrt(),
        dof,
    };
    (fit, terms)
}

/// The log-smooth lambda path with `count` log-spaced values, from the strongest (started at
/// `start`, the internal coefficients of a Tikhonov solution) to the weakest, stored in increasing
/// lambda like the Tikhonov path. lambda here weighs ||L ln f||, so its values are not comparable
/// with a Tikhonov path's.
pub fn log_smooth_path(
    problem: &Problem,
    count: usize,
    start: &[f64],
    peak_params: &PeakParams,
) -> LambdaPath {
    let ns = problem.n_spec();
    let top = start[..ns].iter().fold(0.0_f64, |m, v| m.max(*v));
    let floor = if top > 0.0 { top * START_FLOOR } else { 1.0 };
    let st = State {
        s: start[..ns].iter().map(|v| v.max(floor).ln()).collect(),
        b: start[ns..].to_vec(),
    };
    let e_pen = problem.penalty_top_eigenvalue();
    log_space_path(problem, count, Prior::Smooth, st, e_pen, peak_params)
}

/// The flat default model of maxent for a start: the start's total spectrum amplitude spread
/// evenly over the grid (so the model carries the data's scale and the choice is scale-free).
pub fn default_model(problem: &Problem, start: &[f64]) -> f64 {
    let ns = problem.n_spec();
    let total: f64 = start[..ns].iter().map(|v| v.max(0.0)).sum();
    if total > 0.0 && total.is_finite() {
        total / ns as f64
    } else {
        1.0
    }
}

/// The maxent lambda path (lambda^2 = alpha sigma^2) with `count` log-spaced values, from the
/// strongest, started at the flat default model `model` with the baseline of `start` (internal
/// coefficients of a Tikhonov solution), to the weakest, stored in increasing lambda.
pub fn maxent_path(
    problem: &Problem,
    count: usize,
    start: &[f64],
    model: f64,
    peak_params: &PeakParams,
) -> LambdaPath {
    let ns = problem.n_spec();
    let ln_model = model.ln();
    let st = State {
        s: vec![ln_model; ns],
        b: start[ns..].to_vec(),
    };
    // The entropy's curvature in ln f at the model is m.
    log_space_path(
        problem,
        count,
        Prior::Entropy { ln_model },
        st,
        model,
        peak_params,
    )
}

/// The path of `prior` from `st` at the strongest lambda. Its lambda^2 range runs over fixed
/// multiples of (largest eigenvalue of D G_ss D at the start) / `e_pen` (the penalty's largest
/// curvature in ln f there).
fn log_space_path(
    problem: &Problem,
    count: usize,
    prior: Prior,
    mut st: State,
    e_pen: f64,
    peak_params: &PeakParams,
) -> LambdaPath {
    let ss_tot = problem.sums_of_squares().1;
    let parts = Parts::of(problem, prior);
    let (ns, n, g) = (parts.ns, parts.n, parts.g);
    let f0: Vec<f64> = st.s.iter().map(|v| v.exp()).collect();
    let dgd: Vec<f64> = (0..ns * ns)
        .map(|k| {
            let (i, j) = (k / ns, k % ns);
            f0[i] * g[i * n + j] * f0[j]
        })
        .collect();
    let e_data = top_eigenvalue(&dgd, ns);
    let min_ratio = match prior {
        Prior::Smooth => LAMBDA2_MIN_RATIO,
        Prior::Entropy { .. } => ENTROPY_LAMBDA2_MIN_RATIO,
    };
    let max_ratio = match prior {
        Prior::Smooth if problem.settings().order >= 3 => NULL_SPACE_LAMBDA2_MAX_RATIO,
        _ => LAMBDA2_MAX_RATIO,
    };
    let (lo, hi) = (
        (min_ratio * e_data / e_pen).sqrt(),
        (max_ratio * e_data / e_pen).sqrt(),
    );
    let rank = prior_rank(problem, prior);
    let m = problem.len() as f64;
    let count = count.max(2);
    let mut terms = Vec::with_capacity(count);
    let mut points: Vec<PathPoint> = (0..count)
        .rev()
        .map(|k| {
            let lambda = crate::inversion::path::lambda_at(lo, hi, k, count);
            let l2 = lambda * lambda;
            let info = minimize(&parts, &mut st, l2);
            let (fit, t) = stats(problem, &parts, &st, l2, ss_tot, rank, m);
            terms.push(t);
            let coef = parts.coefficients(&st);
            let solution = problem.solution(lambda, &coef, info, fit);
            let peaks = find_peaks(problem.grid(), &solution.amplitudes, peak_params).len();
            PathPoint {
                solution,
                peaks,
                terms: None,
                penalty_weights: None,
            }
        })
        .collect();
    points.reverse();
    terms.reverse();
    LambdaPath {
        points,
        log_space: terms,
        default_model: match prior {
            Prior::Smooth => None,
            // In the data's unit, as the amplitudes.
            Prior::Entropy { ln_model } => Some(ln_model.exp() * problem.data_scale()),
        },
    }
}

#[cfg(test)]
#[path = "stderr_tests.rs"]
mod stderr_tests;
