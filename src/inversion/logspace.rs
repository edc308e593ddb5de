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
//! Each family is solved at each lambda by Gauss-Newton with Levenberg-Marquardt damping and a
//! backtracking line search on the objective, from the strongest lambda to the weakest, each solve
//! warm-started from the previous one (continuation). Log-smooth starts at the strongest Tikhonov
//! solution, maxent at its default model.
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
//! Each path point reports its iterations, the final gradient norm relative to the first and whether
//! it converged (as its `info`: `converged` or `max-iterations` in path.csv).

use super::nnls::{NnlsInfo, NnlsStatus};
use super::path::{LambdaPath, PathPoint};
use super::{FitStats, Problem};
use crate::spectrum::{find_peaks, PeakParams};
use faer::linalg::solvers::Solve;
use serde::Serialize;

/// Gauss-Newton iterations allowed per lambda.
const MAX_ITERATIONS: usize = 300;
/// Converged when the step's predicted decrease of the objective is below this fraction of it.
const DECREASE_TOL: f64 = 1e-10;
/// The largest change of any ln f_j in one step (a trust region in log space: a factor e^3).
const MAX_LOG_STEP: f64 = 3.0;
/// The path's lambda^2 range, as multiples of (largest eigenvalue of D G_ss D at the start) /
/// (largest eigenvalue of L'L).
const LAMBDA2_MIN_RATIO: f64 = 1e-10;
/// Maxent's weak end: below it the fit no longer improves (chi^2 within a percent of its floor on
/// the cases of `scenarios/regularizers.toml`) while the line search along the Newton steps crawls
/// (hundreds of iterations per point).
const ENTROPY_LAMBDA2_MIN_RATIO: f64 = 1e-8;
const LAMBDA2_MAX_RATIO: f64 = 10.0;
/// Amplitudes below this fraction of the largest start at this fraction (ln 0 is not a start).
const START_FLOOR: f64 = 1e-6;
/// ln f is kept above ln(this fraction of the largest amplitude): below it a grid point carries
/// nothing the data can see, and letting ln f run off to -infinity only slows the iteration.
const FLOOR: f64 = 1e-12;
/// Converged too when the objective falls by less than this fraction over [`STALL_ITERATIONS`].
const STALL_TOL: f64 = 1e-10;
const STALL_ITERATIONS: usize = 5;

/// The state at one lambda: log-amplitudes and baseline (internal units).
struct State {
    s: Vec<f64>,
    b: Vec<f64>,
}

/// The prior of a log-space family.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Prior {
    /// ||L s||^2 (log-smooth).
    Smooth,
    /// -2 S(f; m) with the flat default model m = exp(`ln_model`) (maxent).
    Entropy {
        /// ln m.
        ln_model: f64,
    },
}

/// What is fixed along the path: the problem's matrices and the prior.
struct Parts<'a> {
    g: &'a [f64],
    /// G as a matrix, for the products G c (the line search's cost).
    gmat: faer::Mat<f64>,
    h: &'a [f64],
    ltl: &'a [f64],
    /// The non-zero entries (j, value) of each row of L'L's spectrum block (a difference penalty
    /// couples only neighbours).
    ltl_rows: Vec<Vec<(usize, f64)>>,
    yty: f64,
    n: usize,
    ns: usize,
    prior: Prior,
}

impl Parts<'_> {
    fn coefficients(&self, st: &State) -> Vec<f64> {
        st.s.iter()
            .map(|v| v.exp())
            .chain(st.b.iter().copied())
            .collect()
    }

    fn matvec(&self, c: &[f64]) -> Vec<f64> {
        let gc = &self.gmat * faer::ColRef::from_slice(c);
        (0..self.n).map(|i| gc[i]).collect()
    }

    /// (L'L s)_i.
    fn ltl_row(&self, s: &[f64], i: usize) -> f64 {
        self.ltl_rows[i].iter().map(|&(j, v)| v * s[j]).sum()
    }

    /// The penalty p(s) >= 0: s' L'L s (log-smooth) or -2 S(exp(s); m) (maxent).
    fn penalty2(&self, s: &[f64]) -> f64 {
        match self.prior {
            Prior::Smooth => (0..self.ns).map(|i| s[i] * self.ltl_row(s, i)).sum(),
            Prior::Entropy { ln_model } => {
                let m = ln_model.exp();
                2.0 * s
                    .iter()
                    .map(|&v| {
                        let f = v.exp();
                        f * (v - ln_model) - f + m
                    })
                    .sum::<f64>()
            }
        }
    }

    /// Half the gradient of p(s) in s_i.
    fn penalty_half_gradient(&self, s: &[f64], i: usize) -> f64 {
        match self.prior {
            Prior::Smooth => self.ltl_row(s, i),
            Prior::Entropy { ln_model } => s[i].exp() * (s[i] - ln_model),
        }
    }

    /// ||W r||^2 at the coefficients c (with Gc given).
    fn data2(&self, c: &[f64], gc: &[f64]) -> f64 {
        let ch: f64 = c.iter().zip(self.h).map(|(a, b)| a * b).sum();
        let cgc: f64 = c.iter().zip(gc).map(|(a, b)| a * b).sum();
        (self.yty - 2.0 * ch + cgc).max(0.0)
    }

    fn objective(&self, st: &State, l2: f64) -> f64 {
        let c = self.coefficients(st);
        let gc = self.matvec(&c);
        self.data2(&c, &gc) + l2 * self.penalty2(&st.s)
    }

    /// J'J + l2 P (row-major N x N): the Gauss-Newton matrix of the linearized problem, with P =
    /// L'L (log-smooth) or diag(f) (maxent, the entropy's curvature in ln f at its Newton point).
    fn linearized(&self, c: &[f64], l2: f64) -> Vec<f64> {
        let (n, ns) = (self.n, self.ns);
        let scale = |i: usize| if i < ns { c[i] } else { 1.0 };
        let mut h = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                h[i * n + j] = scale(i) * self.g[i * n + j] * scale(j);
            }
        }
        for i in 0..ns {
            match self.prior {
                Prior::Smooth => {
                    for &(j, v) in &self.ltl_rows[i] {
                        h[i * n + j] += l2 * v;
                    }
                }
                Prior::Entropy { .. } => h[i * n + i] += l2 * c[i],
            }
        }
        h
    }

    /// The matrix of the Newton steps and the half-gradient at `st`: J'J + l2 P plus the positive
    /// part of the exact Hessian's diagonal term, which keeps the matrix positive definite and
    /// restores the curvature of amplitudes pushed down. Log-smooth: that term is
    /// diag(f o (Gc - h)_s). Maxent: it is diag(f o (Gc - h)_s + l2 f o (s - ln m)), the
    /// half-gradient itself, which vanishes at the minimum: there the matrix is the exact Hessian
    /// and the steps converge quadratically.
    fn linearize(&self, st: &State, l2: f64) -> (Vec<f64>, Vec<f64>) {
        let (n, ns) = (self.n, self.ns);
        let c = self.coefficients(st);
        let gc = self.matvec(&c);
        let mut grad: Vec<f64> = (0..n).map(|i| gc[i] - self.h[i]).collect();
        for i in 0..ns {
            grad[i] = c[i] * grad[i] + l2 * self.penalty_half_gradient(&st.s, i);
        }
        let mut h = self.linearized(&c, l2);
        for i in 0..ns {
            let extra = match self.prior {
                Prior::Smooth => c[i] * (gc[i] - self.h[i]),
                // f o (Gc - h)_s + l2 f o (s - ln m): the half-gradient itself.
                Prior::Entropy { .. } => grad[i],
            };
            if extra > 0.0 {
                h[i * n + i] += extra;
            }
        }
        (h, grad)
    }
}

/// The largest eigenvalue of a symmetric k x k matrix (row-major), by a full symmetric eigensolve
/// (once per path), as the problem finds L'L's: a power iteration from a flat start can land in a
/// null space (L'L's holds the flat vector).
fn top_eigenvalue(a: &[f64], k: usize) -> f64 {
    let m = faer::Mat::<f64>::from_fn(k, k, |i, j| a[i * k + j]);
    m.self_adjoint_eigenvalues(faer::Side::Lower)
        .ok()
        .and_then(|e| e.last().copied())
        .filter(|v| v.is_finite() && *v > 0.0)
        .unwrap_or(f64::MIN_POSITIVE)
}

/// The Cholesky factor of a symmetric positive definite matrix (row-major n x n), or None.
struct Factor {
    llt: faer::linalg::solvers::Llt<f64>,
    n: usize,
}

impl Factor {
    fn new(a: &[f64], n: usize) -> Option<Self> {
        let m = faer::Mat::<f64>::from_fn(n, n, |i, j| a[i * n + j]);
        let llt = m.llt(faer::Side::Lower).ok()?;
        let l = llt.L();
        (0..n)
            .all(|i| l[(i, i)].is_finite() && l[(i, i)] > 0.0)
            .then_some(Self { llt, n })
    }

    /// Solves A x = b.
    fn solve(&self, b: &[f64]) -> Vec<f64> {
        let x = self.llt.solve(faer::Col::<f64>::from_fn(self.n, |i| b[i]));
        (0..self.n).map(|i| x[i]).collect()
    }

    /// ln det A.
    fn ln_det(&self) -> f64 {
        let l = self.llt.L();
        2.0 * (0..self.n).map(|i| l[(i, i)].ln()).sum::<f64>()
    }

    /// tr(A^-1 P) for the symmetric `p` (row-major n x n) restricted to its leading `k` x `k` block.
    fn trace_with(&self, p: &dyn Fn(usize, usize) -> f64, k: usize) -> f64 {
        let rhs = faer::Mat::<f64>::from_fn(self.n, k, |i, j| if i < k { p(i, j) } else { 0.0 });
        let x = self.llt.solve(rhs);
        (0..k).map(|j| x[(j, j)]).sum()
    }
}

/// Minimizes the objective at lambda^2 = `l2` from `st` (updated in place). Returns the solver
/// report: Gauss-Newton iterations, status, and the final half-gradient norm relative to the first
/// (as `kkt_residual`).
fn minimize(parts: &Parts, st: &mut State, l2: f64) -> NnlsInfo {
    let (n, ns) = (parts.n, parts.ns);
    let mut phi = parts.objective(st, l2);
    let mut mu = 1e-8;
    let mut first_grad = f64::NAN;
    let mut grad_norm = f64::NAN;
    let mut status = NnlsStatus::MaxIterations;
    let mut iterations = 0;
    let mut factorizations = 0;
    let mut history = vec![phi];
    while iterations < MAX_ITERATIONS {
        let top = st.s.iter().fold(f64::NEG_INFINITY, |m, v| m.max(*v));
        let floor = top + FLOOR.ln();
        iterations += 1;
        let (h, grad) = parts.linearize(st, l2);
        // The projected gradient: a log-amplitude held at the floor with the gradient pushing it
        // further down is at its bound (the KKT condition there), not unconverged.
        grad_norm = grad
            .iter()
            .enumerate()
            .filter(|&(j, g)| !(j < ns && st.s[j] <= floor && *g > 0.0))
            .map(|(_, g)| g * g)
            .sum::<f64>()
            .sqrt();
        if first_grad.is_nan() {
            first_grad = grad_norm.max(f64::MIN_POSITIVE);
        }
        // Log-amplitudes at the floor that the gradient pushes further down are held there (a
        // projected Newton step): their rows and columns leave the system.
        let held: Vec<bool> = (0..n)
            .map(|j| j < ns && st.s[j] <= floor && grad[j] > 0.0)
            .collect();
        // Levenberg-Marquardt: H + mu diag(H), mu raised until the factor exists.
        let (step, predicted) = loop {
            let mut damped = h.clone();
            for i in 0..n {
                damped[i * n + i] += mu * h[i * n + i].abs().max(f64::MIN_POSITIVE);
            }
            for j in (0..n).filter(|&j| held[j]) {
                for k in 0..n {
                    damped[j * n + k] = 0.0;
                    damped[k * n + j] = 0.0;
                }
                damped[j * n + j] = 1.0;
            }
            factorizations += 1;
            if let Some(factor) = Factor::new(&damped, n) {
                let neg: Vec<f64> = grad
                    .iter()
                    .zip(&held)
                    .map(|(g, h)| if *h { 0.0 } else { -g })
                    .collect();
                let d = factor.solve(&neg);
                let predicted: f64 = neg.iter().zip(&d).map(|(g, v)| g * v).sum();
                break (d, predicted);
            }
            mu *= 10.0;
            if mu > 1e12 {
                return info(iterations, factorizations, status, grad_norm / first_grad);
            }
        };
        // A non-finite step (overflow in exp(s)) is a failure, reported as not converged.
        if !predicted.is_finite() {
            break;
        }
        if predicted <= DECREASE_TOL * phi.max(f64::MIN_POSITIVE) {
            status = NnlsStatus::Converged;
            break;
        }
        // Trust region in ln f, then backtracking (Armijo) on the objective.
        let largest = step[..ns].iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        let mut alpha = if largest > MAX_LOG_STEP {
            MAX_LOG_STEP / largest
        } else {
            1.0
        };
        let mut accepted = false;
        for _ in 0..40 {
            let trial = State {
                s: st
                    .s
                    .iter()
                    .zip(&step)
                    .map(|(v, d)| (v + alpha * d).max(floor))
                    .collect(),
                b: st
                    .b
                    .iter()
                    .zip(&step[ns..])
                    .map(|(v, d)| v + alpha * d)
                    .collect(),
            };
            let phi_trial = parts.objective(&trial, l2);
            // The predicted decrease of the Gauss-Newton model is 2 * predicted for the objective.
            if phi_trial.is_finite() && phi_trial <= phi - 1e-4 * alpha * 2.0 * predicted {
                *st = trial;
                phi = phi_trial;
                accepted = true;
                break;
            }
            alpha *= 0.5;
        }
        if accepted {
            mu = (mu / 3.0).max(1e-12);
            history.push(phi);
            if history.len() > STALL_ITERATIONS {
                let before = history[history.len() - 1 - STALL_ITERATIONS];
                if before - phi <= STALL_TOL * before {
                    status = NnlsStatus::Converged;
                    break;
                }
            }
        } else {
            mu *= 10.0;
            if mu > 1e12 {
                break;
            }
        }
    }
    info(iterations, factorizations, status, grad_norm / first_grad)
}

fn info(iterations: usize, factorizations: usize, status: NnlsStatus, rel_grad: f64) -> NnlsInfo {
    NnlsInfo {
        iterations,
        factorizations,
        status,
        kkt_residual: rel_grad,
        jitter: 0.0,
    }
}

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

/// Fit statistics at `st` (the data misfit, R^2, sqrt p(s), the linearized degrees of freedom) and
/// the evidence terms. `rank` is [`prior_rank`]'s and `m` the number of data points.
fn stats(
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
    let weighted_ss = parts.data2(&c, &gc);
    // Log-smooth keeps the step's matrix (with the positive diagonal parts) as its linearization;
    // maxent takes J'J + l2 diag(f), whose trace gives Skilling's N_good exactly.
    let h = match parts.prior {
        Prior::Smooth => parts.linearize(st, l2).0,
        Prior::Entropy { .. } => parts.linearized(&c, l2),
    };
    let factor = Factor::new(&h, n);
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
    let ns = problem.n_spec();
    let g = problem.gram();
    let n = problem.zeros().len();
    let (yty, ss_tot) = problem.sums_of_squares();
    let ltl = problem.ltl();
    let parts = Parts {
        g,
        gmat: faer::Mat::<f64>::from_fn(n, n, |i, j| g[i * n + j]),
        h: problem.aty(),
        ltl,
        ltl_rows: (0..ns)
            .map(|i| {
                (0..ns)
                    .filter(|&j| ltl[i * n + j] != 0.0)
                    .map(|j| (j, ltl[i * n + j]))
                    .collect()
            })
            .collect(),
        yty,
        n,
        ns,
        prior,
    };
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
    let (lo, hi) = (
        (min_ratio * e_data / e_pen).sqrt(),
        (LAMBDA2_MAX_RATIO * e_data / e_pen).sqrt(),
    );
    let rank = prior_rank(problem, prior);
    let m = problem.len() as f64;
    let count = count.max(2);
    let mut terms = Vec::with_capacity(count);
    let mut points: Vec<PathPoint> = (0..count)
        .rev()
        .map(|k| {
            let lambda = (lo.ln() + (hi.ln() - lo.ln()) * k as f64 / (count - 1) as f64).exp();
            let l2 = lambda * lambda;
            let info = minimize(&parts, &mut st, l2);
            let (fit, t) = stats(&parts, &st, l2, ss_tot, rank, m);
            terms.push(t);
            let coef = parts.coefficients(&st);
            let solution = problem.solution(lambda, &coef, info, fit);
            let peaks = find_peaks(problem.grid(), &solution.amplitudes, peak_params).len();
            PathPoint { solution, peaks }
        })
        .collect();
    points.reverse();
    terms.reverse();
    LambdaPath {
        points,
        log_space: terms,
        default_model: match prior {
            Prior::Smooth => None,
            Prior::Entropy { ln_model } => Some(ln_model.exp()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_top_eigenvalue_of_a_difference_penalty_is_found() {
        // Second differences on 5 points: L'L has the flat and linear vectors in its null space,
        // where a flat-started power iteration stays; the eigensolve finds the top all the same.
        let n = 5;
        let (rows, l) = crate::inversion::penalty::difference_operator(n, 2, false);
        let ltl = crate::inversion::penalty::gram_of(rows, n, &l);
        let top = top_eigenvalue(&ltl, n);
        // Rayleigh quotient of the alternating vector: a lower bound well above 0.
        let v = [1.0, -1.0, 1.0, -1.0, 1.0];
        let lv: f64 = (0..n)
            .map(|i| v[i] * (0..n).map(|j| ltl[i * n + j] * v[j]).sum::<f64>())
            .sum::<f64>()
            / 5.0;
        assert!(top >= lv - 1e-12 && lv > 5.0, "{top} vs {lv}");
        assert!(
            top <= 16.0,
            "Gershgorin: rows of L'L sum to at most 16 in absolute value"
        );
    }

    #[test]
    fn the_factor_solves_a_known_system() {
        // [[4, 2], [2, 3]] x = [2, 1] has x = [0.5, 0]; det = 8; A^-1 = [[3, -2], [-2, 4]] / 8.
        let f = Factor::new(&[4.0, 2.0, 2.0, 3.0], 2).unwrap();
        let x = f.solve(&[2.0, 1.0]);
        assert!((x[0] - 0.5).abs() < 1e-15 && x[1].abs() < 1e-15);
        assert!((f.ln_det() - 8f64.ln()).abs() < 1e-14);
        // tr(A^-1 diag(1, 0)) on the leading 1 x 1 block: 3/8.
        let t = f.trace_with(&|i, j| if i == j { 1.0 } else { 0.0 }, 1);
        assert!((t - 0.375).abs() < 1e-15);
        assert!(Factor::new(&[1.0, 2.0, 2.0, 1.0], 2).is_none());
    }
}
