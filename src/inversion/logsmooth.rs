//! The log-smooth regularizer: the spectrum is f = exp(s) and the penalty smooths its logarithm,
//!
//!   minimize  ||W (K exp(s) + B b - y)||^2 + lambda^2 ||L s||^2,
//!
//! so positivity is built in and a narrow peak costs no more than its flanks' slope in ln f (a
//! Tikhonov penalty on f pays for every peak's curvature). Solved at each lambda by Gauss-Newton
//! with Levenberg-Marquardt damping and a backtracking line search on the objective, from the
//! strongest lambda (started at the Tikhonov solution there) to the weakest, each solve warm-started
//! from the previous one (continuation).
//!
//! Everything is computed from the problem's Gram matrix G = A^T A and h = A^T W y (A the weighted
//! design, spectrum then baseline columns): ||W r||^2 = y'W'Wy - 2 c'h + c'Gc with c = (exp(s), b),
//! the half-gradient is (f o (Gc - h)_s + lambda^2 L'L s, (Gc - h)_b), and the Gauss-Newton matrix is
//! J'J + lambda^2 P with J'J = [D G_ss D, D G_sb; G_bs D, G_bb], D = diag(f), P = [L'L, 0; 0, 0].
//! The effective degrees of freedom of the linearized problem at the solution are
//! tr((J'J + lambda^2 P)^-1 J'J) = N - lambda^2 tr((J'J + lambda^2 P)^-1 P).
//!
//! Each path point reports its iterations, the final gradient norm relative to the first and whether
//! it converged (as its `info`: `converged` or `max-iterations` in path.csv).

use super::nnls::{NnlsInfo, NnlsStatus};
use super::path::{LambdaPath, PathPoint};
use super::{FitStats, Problem};
use crate::spectrum::{find_peaks, PeakParams};

/// Gauss-Newton iterations allowed per lambda.
const MAX_ITERATIONS: usize = 300;
/// Converged when the step's predicted decrease of the objective is below this fraction of it.
const DECREASE_TOL: f64 = 1e-10;
/// The largest change of any ln f_j in one step (a trust region in log space: a factor e^3).
const MAX_LOG_STEP: f64 = 3.0;
/// The path's lambda^2 range, as multiples of (largest eigenvalue of D G_ss D at the start) /
/// (largest eigenvalue of L'L).
const LAMBDA2_MIN_RATIO: f64 = 1e-10;
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

/// What is fixed along the path: the problem's matrices.
struct Parts<'a> {
    g: &'a [f64],
    h: &'a [f64],
    ltl: &'a [f64],
    yty: f64,
    n: usize,
    ns: usize,
}

impl Parts<'_> {
    fn coefficients(&self, st: &State) -> Vec<f64> {
        st.s.iter()
            .map(|v| v.exp())
            .chain(st.b.iter().copied())
            .collect()
    }

    fn matvec(&self, c: &[f64]) -> Vec<f64> {
        (0..self.n)
            .map(|i| {
                self.g[i * self.n..(i + 1) * self.n]
                    .iter()
                    .zip(c)
                    .map(|(a, b)| a * b)
                    .sum()
            })
            .collect()
    }

    /// s' L'L s.
    fn penalty2(&self, s: &[f64]) -> f64 {
        (0..self.ns)
            .map(|i| {
                s[i] * (0..self.ns)
                    .map(|j| self.ltl[i * self.n + j] * s[j])
                    .sum::<f64>()
            })
            .sum()
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

    /// The Gauss-Newton matrix J'J + l2 P (row-major N x N) and the half-gradient at `st`.
    fn linearize(&self, st: &State, l2: f64) -> (Vec<f64>, Vec<f64>) {
        let (n, ns) = (self.n, self.ns);
        let c = self.coefficients(st);
        let gc = self.matvec(&c);
        let mut grad: Vec<f64> = (0..n).map(|i| gc[i] - self.h[i]).collect();
        for i in 0..ns {
            let lts: f64 = (0..ns).map(|j| self.ltl[i * n + j] * st.s[j]).sum();
            grad[i] = c[i] * grad[i] + l2 * lts;
        }
        let scale = |i: usize| if i < ns { c[i] } else { 1.0 };
        let mut h = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                let mut v = scale(i) * self.g[i * n + j] * scale(j);
                if i < ns && j < ns {
                    v += l2 * self.ltl[i * n + j];
                }
                h[i * n + j] = v;
            }
        }
        // The exact Hessian in s adds diag(f o (Gc - h)_s); its positive part keeps the matrix
        // positive definite and restores the curvature of amplitudes the data push down.
        for i in 0..ns {
            let extra = c[i] * (gc[i] - self.h[i]);
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

/// Cholesky factor (lower, row-major) of a symmetric positive definite matrix, or None. (The
/// NNLS has its own, with a four-way dot product; its different rounding moves this non-convex
/// path's choices, so the two are kept apart until the regularizer table is re-measured.)
fn cholesky(a: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let mut v = a[i * n + j];
            for k in 0..j {
                v -= l[i * n + k] * l[j * n + k];
            }
            if i == j {
                if v <= 0.0 || !v.is_finite() {
                    return None;
                }
                l[i * n + i] = v.sqrt();
            } else {
                l[i * n + j] = v / l[j * n + j];
            }
        }
    }
    Some(l)
}

/// Solves L L' x = b.
fn cholesky_solve(l: &[f64], n: usize, b: &[f64]) -> Vec<f64> {
    let mut y = b.to_vec();
    for i in 0..n {
        for k in 0..i {
            y[i] -= l[i * n + k] * y[k];
        }
        y[i] /= l[i * n + i];
    }
    for i in (0..n).rev() {
        for k in i + 1..n {
            y[i] -= l[k * n + i] * y[k];
        }
        y[i] /= l[i * n + i];
    }
    y
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
            if let Some(l) = cholesky(&damped, n) {
                let neg: Vec<f64> = grad
                    .iter()
                    .zip(&held)
                    .map(|(g, h)| if *h { 0.0 } else { -g })
                    .collect();
                let d = cholesky_solve(&l, n, &neg);
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

/// Fit statistics at `st`: the data misfit, R^2, ||L s|| and the linearized degrees of freedom.
fn stats(parts: &Parts, st: &State, l2: f64, ss_tot: f64) -> FitStats {
    let (n, ns) = (parts.n, parts.ns);
    let c = parts.coefficients(st);
    let gc = parts.matvec(&c);
    let weighted_ss = parts.data2(&c, &gc);
    let (h, _) = parts.linearize(st, l2);
    // dof = N - l2 tr(H^-1 P), P = L'L on the spectrum block.
    let dof = match cholesky(&h, n) {
        Some(l) if l2 > 0.0 => {
            let mut trace = 0.0;
            for j in 0..ns {
                let column: Vec<f64> = (0..n)
                    .map(|i| if i < ns { parts.ltl[i * n + j] } else { 0.0 })
                    .collect();
                trace += cholesky_solve(&l, n, &column)[j];
            }
            n as f64 - l2 * trace
        }
        Some(_) => n as f64,
        None => f64::NAN,
    };
    FitStats {
        residual_norm: weighted_ss.sqrt(),
        weighted_ss,
        r2: if ss_tot > 0.0 {
            1.0 - weighted_ss / ss_tot
        } else {
            f64::NAN
        },
        penalty_norm: parts.penalty2(&st.s).max(0.0).sqrt(),
        dof,
    }
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
    let g = problem.gram();
    let n = problem.zeros().len();
    let (yty, ss_tot) = problem.sums_of_squares();
    let parts = Parts {
        g,
        h: problem.aty(),
        ltl: problem.ltl(),
        yty,
        n,
        ns,
    };
    let top = start[..ns].iter().fold(0.0_f64, |m, v| m.max(*v));
    let floor = if top > 0.0 { top * START_FLOOR } else { 1.0 };
    let mut st = State {
        s: start[..ns].iter().map(|v| v.max(floor).ln()).collect(),
        b: start[ns..].to_vec(),
    };
    // The range of lambda^2 from the data part at the start and the penalty's largest eigenvalue.
    let f0: Vec<f64> = st.s.iter().map(|v| v.exp()).collect();
    let dgd: Vec<f64> = (0..ns * ns)
        .map(|k| {
            let (i, j) = (k / ns, k % ns);
            f0[i] * g[i * n + j] * f0[j]
        })
        .collect();
    let e_data = top_eigenvalue(&dgd, ns);
    let e_pen = problem.penalty_top_eigenvalue();
    let (lo, hi) = (
        (LAMBDA2_MIN_RATIO * e_data / e_pen).sqrt(),
        (LAMBDA2_MAX_RATIO * e_data / e_pen).sqrt(),
    );
    let count = count.max(2);
    let mut points: Vec<PathPoint> = (0..count)
        .rev()
        .map(|k| {
            let lambda = (lo.ln() + (hi.ln() - lo.ln()) * k as f64 / (count - 1) as f64).exp();
            let l2 = lambda * lambda;
            let info = minimize(&parts, &mut st, l2);
            let fit = stats(&parts, &st, l2, ss_tot);
            let coef = parts.coefficients(&st);
            let solution = problem.solution(lambda, &coef, info, fit);
            let peaks = find_peaks(problem.grid(), &solution.amplitudes, peak_params).len();
            PathPoint { solution, peaks }
        })
        .collect();
    points.reverse();
    LambdaPath { points }
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
    fn cholesky_solves_a_known_system() {
        // [[4, 2], [2, 3]] x = [2, 1] has x = [0.5, 0].
        let l = cholesky(&[4.0, 2.0, 2.0, 3.0], 2).unwrap();
        let x = cholesky_solve(&l, 2, &[2.0, 1.0]);
        assert!((x[0] - 0.5).abs() < 1e-15 && x[1].abs() < 1e-15);
        assert!(cholesky(&[1.0, 2.0, 2.0, 1.0], 2).is_none());
    }
}
