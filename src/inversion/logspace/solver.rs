//! The Gauss-Newton solver of the log-space families at one lambda (see the parent module for the
//! objectives and the method).

use super::super::nnls::{NnlsInfo, NnlsStatus};
use faer::linalg::solvers::Solve;

/// Gauss-Newton iterations allowed per lambda.
const MAX_ITERATIONS: usize = 300;
/// Converged when the step's predicted decrease of the objective is below this fraction of it.
const DECREASE_TOL: f64 = 1e-10;
/// The largest change of any ln f_j in one step (a trust region in log space: a factor e^3).
const MAX_LOG_STEP: f64 = 3.0;
/// ln f is kept above ln(this fraction of the largest amplitude): below it a grid point carries
/// nothing the data can see, and letting ln f run off to -infinity only slows the iteration.
const FLOOR: f64 = 1e-12;
/// Converged too when the objective falls by less than this fraction over [`STALL_ITERATIONS`].
const STALL_TOL: f64 = 1e-10;
const STALL_ITERATIONS: usize = 5;

/// The state at one lambda: log-amplitudes and baseline (internal units).
pub(super) struct State {
    pub(super) s: Vec<f64>,
    pub(super) b: Vec<f64>,
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
pub(super) struct Parts<'a> {
    pub(super) g: &'a [f64],
    /// G as a matrix, for the products G c (the line search's cost).
    pub(super) gmat: faer::Mat<f64>,
    pub(super) h: &'a [f64],
    pub(super) ltl: &'a [f64],
    /// The non-zero entries (j, value) of each row of L'L's spectrum block (a difference penalty
    /// couples only neighbours).
    pub(super) ltl_rows: Vec<Vec<(usize, f64)>>,
    pub(super) yty: f64,
    pub(super) n: usize,
    pub(super) ns: usize,
    pub(super) prior: Prior,
}

impl Parts<'_> {
    pub(super) fn coefficients(&self, st: &State) -> Vec<f64> {
        st.s.iter()
            .map(|v| v.exp())
            .chain(st.b.iter().copied())
            .collect()
    }

    pub(super) fn matvec(&self, c: &[f64]) -> Vec<f64> {
        let gc = &self.gmat * faer::ColRef::from_slice(c);
        (0..self.n).map(|i| gc[i]).collect()
    }

    /// (L'L s)_i.
    fn ltl_row(&self, s: &[f64], i: usize) -> f64 {
        self.ltl_rows[i].iter().map(|&(j, v)| v * s[j]).sum()
    }

    /// The penalty p(s) >= 0: s' L'L s (log-smooth) or -2 S(exp(s); m) (maxent).
    pub(super) fn penalty2(&self, s: &[f64]) -> f64 {
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
    pub(super) fn data2(&self, c: &[f64], gc: &[f64]) -> f64 {
        let ch: f64 = c.iter().zip(self.h).map(|(a, b)| a * b).sum();
        let cgc: f64 = c.iter().zip(gc).map(|(a, b)| a * b).sum();
        (self.yty - 2.0 * ch + cgc).max(0.0)
    }

    /// The objective at `st` with the coefficients c and G c it was computed from (the next
    /// Gauss-Newton step at an accepted state starts from them: [`Parts::point_from`]).
    fn evaluate(&self, st: &State, l2: f64) -> (f64, Vec<f64>, Vec<f64>) {
        let c = self.coefficients(st);
        let gc = self.matvec(&c);
        let phi = self.data2(&c, &gc) + l2 * self.penalty2(&st.s);
        (phi, c, gc)
    }

    /// J'J + l2 P (row-major N x N): the Gauss-Newton matrix of the linearized problem, with P =
    /// L'L (log-smooth) or diag(f) (maxent, the entropy's curvature in ln f at its Newton point).
    pub(super) fn linearized(&self, c: &[f64], l2: f64) -> Vec<f64> {
        let all: Vec<usize> = (0..self.n).collect();
        self.block(c, l2, &all, None)
    }

    /// The matrix of the Newton steps and the half-gradient at `st`: J'J + l2 P plus the positive
    /// part of the exact Hessian's diagonal term, which keeps the matrix positive definite and
    /// restores the curvature of amplitudes pushed down. Log-smooth: that term is
    /// diag(f o (Gc - h)_s). Maxent: it is diag(f o (Gc - h)_s + l2 f o (s - ln m)), the
    /// half-gradient itself, which vanishes at the minimum: there the matrix is the exact Hessian
    /// and the steps converge quadratically.
    pub(super) fn linearize(&self, st: &State, l2: f64) -> (Vec<f64>, Vec<f64>) {
        let point = self.point(st, l2);
        let all: Vec<usize> = (0..self.n).collect();
        (self.step_matrix(&point, l2, &all), point.grad)
    }

    /// The coefficients, G c and the half-gradient at `st`.
    pub(super) fn point(&self, st: &State, l2: f64) -> Point {
        let c = self.coefficients(st);
        let gc = self.matvec(&c);
        self.point_from(st, l2, c, gc)
    }

    /// [`Parts::point`] from the coefficients c of `st` and G c, already computed.
    fn point_from(&self, st: &State, l2: f64, c: Vec<f64>, gc: Vec<f64>) -> Point {
        let (n, ns) = (self.n, self.ns);
        let mut grad: Vec<f64> = (0..n).map(|i| gc[i] - self.h[i]).collect();
        for i in 0..ns {
            grad[i] = c[i] * grad[i] + l2 * self.penalty_half_gradient(&st.s, i);
        }
        Point { c, gc, grad }
    }

    /// The rows and columns `idx` (increasing) of [`Parts::linearize`]'s matrix at `point`
    /// (k x k, row-major): each entry by the same operations in the same order as in the whole
    /// matrix, so a block is the whole matrix's to the last bit.
    pub(super) fn step_matrix(&self, point: &Point, l2: f64, idx: &[usize]) -> Vec<f64> {
        self.block(&point.c, l2, idx, Some(point))
    }

    /// The rows and columns `idx` (increasing) of J'J + l2 P at the coefficients `c` (k x k,
    /// row-major), plus, given the `point` of `c`, the positive part of the exact Hessian's
    /// diagonal term ([`Parts::linearize`]).
    fn block(&self, c: &[f64], l2: f64, idx: &[usize], point: Option<&Point>) -> Vec<f64> {
        let (n, ns, k) = (self.n, self.ns, idx.len());
        let scale = |i: usize| if i < ns { c[i] } else { 1.0 };
        let mut position = vec![usize::MAX; n];
        for (a, &i) in idx.iter().enumerate() {
            position[i] = a;
        }
        let scales: Vec<f64> = idx.iter().map(|&j| scale(j)).collect();
        // Every entry is written below: no zeroing first. A contiguous set (nothing held) reads
        // G's rows as slices, which vectorizes; the arithmetic is the same either way.
        let contiguous = idx.windows(2).all(|w| w[1] == w[0] + 1);
        let mut h = Vec::with_capacity(k * k);
        for (a, &i) in idx.iter().enumerate() {
            let (si, g) = (scales[a], &self.g[i * n..(i + 1) * n]);
            if contiguous && k > 0 {
                let g = &g[idx[0]..idx[0] + k];
                h.extend(g.iter().zip(&scales).map(|(gj, sj)| si * gj * sj));
            } else {
                h.extend(idx.iter().zip(&scales).map(|(&j, sj)| si * g[j] * sj));
            }
            let row = &mut h[a * k..(a + 1) * k];
            if i >= ns {
                continue;
            }
            match self.prior {
                Prior::Smooth => {
                    for &(j, v) in &self.ltl_rows[i] {
                        let b = position[j];
                        if b != usize::MAX {
                            row[b] += l2 * v;
                        }
                    }
                }
                Prior::Entropy { .. } => row[a] += l2 * c[i],
            }
            let Some(point) = point else {
                continue;
            };
            let extra = match self.prior {
                Prior::Smooth => c[i] * (point.gc[i] - self.h[i]),
                // f o (Gc - h)_s + l2 f o (s - ln m): the half-gradient itself.
                Prior::Entropy { .. } => point.grad[i],
            };
            if extra > 0.0 {
                row[a] += extra;
            }
        }
        h
    }
}

/// The coefficients c = (exp(s), b), G c and the half-gradient at a state.
pub(super) struct Point {
    c: Vec<f64>,
    gc: Vec<f64>,
    pub(super) grad: Vec<f64>,
}

/// The largest eigenvalue of a symmetric k x k matrix (row-major), by a full symmetric eigensolve
/// (once per path), as the problem finds L'L's: a power iteration from a flat start can land in a
/// null space (L'L's holds the flat vector).
pub(super) fn top_eigenvalue(a: &[f64], k: usize) -> f64 {
    let m = faer::Mat::<f64>::from_fn(k, k, |i, j| a[i * k + j]);
    m.self_adjoint_eigenvalues(faer::Side::Lower)
        .ok()
        .and_then(|e| e.last().copied())
        .filter(|v| v.is_finite() && *v > 0.0)
        .unwrap_or(f64::MIN_POSITIVE)
}

/// The Cholesky factor of a symmetric positive definite matrix (row-major n x n), or None.
pub(super) struct Factor {
    llt: faer::linalg::solvers::Llt<f64>,
    n: usize,
}

impl Factor {
    pub(super) fn new(a: &[f64], n: usize) -> Option<Self> {
        // A row-major view: the factorization copies it into its own storage (no copy here).
        let m = faer::MatRef::from_row_major_slice(&a[..n * n], n, n);
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
    pub(super) fn ln_det(&self) -> f64 {
        let l = self.llt.L();
        2.0 * (0..self.n).map(|i| l[(i, i)].ln()).sum::<f64>()
    }

    /// tr(A^-1 P) for the symmetric `p` (row-major n x n) restricted to its leading `k` x `k` block.
    pub(super) fn trace_with(&self, p: &dyn Fn(usize, usize) -> f64, k: usize) -> f64 {
        let rhs = faer::Mat::<f64>::from_fn(self.n, k, |i, j| if i < k { p(i, j) } else { 0.0 });
        let x = self.llt.solve(rhs);
        (0..k).map(|j| x[(j, j)]).sum()
    }
}

/// Minimizes the objective at lambda^2 = `l2` from `st` (updated in place). Returns the solver
/// report: Gauss-Newton iterations, status, and as `kkt_residual` half the decrease of the
/// objective that the last step's Gauss-Newton model promised, relative to the objective (the
/// quantity the convergence test compares with [`DECREASE_TOL`]; scale-free, unlike a gradient norm, in which the baseline's
/// stiff coordinate in data units would dominate; NaN when no step was computed).
pub(super) fn minimize(parts: &Parts, st: &mut State, l2: f64) -> NnlsInfo {
    let (n, ns) = (parts.n, parts.ns);
    let (mut phi, c0, gc0) = parts.evaluate(st, l2);
    // c and G c of the current state, from the objective's evaluation that accepted it.
    let mut known = Some((c0, gc0));
    let mut mu = 1e-8;
    let mut decrement = f64::NAN;
    let mut status = NnlsStatus::MaxIterations;
    let mut iterations = 0;
    let mut factorizations = 0;
    let mut history = vec![phi];
    while iterations < MAX_ITERATIONS {
        let top = st.s.iter().fold(f64::NEG_INFINITY, |m, v| m.max(*v));
        let floor = top + FLOOR.ln();
        iterations += 1;
        let point = match known.take() {
            Some((c, gc)) => parts.point_from(st, l2, c, gc),
            None => parts.point(st, l2),
        };
        let grad = &point.grad;
        // Log-amplitudes at the floor that the gradient pushes further down are held there (a
        // projected Newton step): their rows and columns leave the system.
        let held: Vec<bool> = (0..n)
            .map(|j| j < ns && st.s[j] <= floor && grad[j] > 0.0)
            .collect();
        // Levenberg-Marquardt: H + mu diag(H), mu raised until the factor exists, on the
        // coordinates that move: the held ones have a zero step. Maxent factors only those (at the
        // weak end of its path, where many amplitudes sit at the floor, a much smaller system).
        // Log-smooth factors the whole matrix with the held rows and columns set to the identity:
        // the two are equal in exact arithmetic, but its non-convex path follows the rounding, and
        // its measured table (README) and tests were made with this form.
        let moving: Vec<usize> = match parts.prior {
            Prior::Entropy { .. } => (0..n).filter(|&j| !held[j]).collect(),
            Prior::Smooth => (0..n).collect(),
        };
        let k = moving.len();
        let neg: Vec<f64> = moving
            .iter()
            .map(|&j| if held[j] { 0.0 } else { -grad[j] })
            .collect();
        // The step matrix on the moving coordinates only (k x k).
        // H on the moving coordinates; a held one (log-smooth) gets an identity row and column.
        // Each damping below rewrites the diagonal from H's own, kept apart.
        let mut damped = parts.step_matrix(&point, l2, &moving);
        let diagonal: Vec<f64> = (0..k).map(|a| damped[a * k + a]).collect();
        for (a, &i) in moving.iter().enumerate() {
            if held[i] {
                for b in 0..k {
                    damped[a * k + b] = 0.0;
                    damped[b * k + a] = 0.0;
                }
            }
        }
        let (step, predicted) = loop {
            for (a, &i) in moving.iter().enumerate() {
                damped[a * k + a] = if held[i] {
                    1.0
                } else {
                    diagonal[a] + mu * diagonal[a].abs().max(f64::MIN_POSITIVE)
                };
            }
            factorizations += 1;
            if let Some(factor) = Factor::new(&damped, k) {
                let d = factor.solve(&neg);
                let predicted: f64 = neg.iter().zip(&d).map(|(g, v)| g * v).sum();
                let mut step = vec![0.0; n];
                for (a, &j) in moving.iter().enumerate() {
                    step[j] = d[a];
                }
                break (step, predicted);
            }
            mu *= 10.0;
            if mu > 1e12 {
                return info(iterations, factorizations, status, decrement);
            }
        };
        // A non-finite step (overflow in exp(s)) is a failure, reported as not converged.
        if !predicted.is_finite() {
            break;
        }
        decrement = predicted / phi.max(f64::MIN_POSITIVE);
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
            let (phi_trial, c, gc) = parts.evaluate(&trial, l2);
            // The predicted decrease of the Gauss-Newton model is 2 * predicted for the objective.
            if phi_trial.is_finite() && phi_trial <= phi - 1e-4 * alpha * 2.0 * predicted {
                *st = trial;
                phi = phi_trial;
                known = Some((c, gc));
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
    info(iterations, factorizations, status, decrement)
}

fn info(iterations: usize, factorizations: usize, status: NnlsStatus, decrement: f64) -> NnlsInfo {
    NnlsInfo {
        iterations,
        factorizations,
        status,
        kkt_residual: decrement,
        jitter: 0.0,
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
