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
/// The geodesic acceleration a is used when 2 |a| is at most this fraction of the step |d|
/// (Transtrum and Sethna's bound: beyond it the second-order path is no better than the straight
/// one).
const ACCELERATION_RATIO: f64 = 0.75;

/// The state at one lambda: log-amplitudes and baseline (internal units).
pub(super) struct State {
    pub(super) s: Vec<f64>,
    pub(super) b: Vec<f64>,
}

impl State {
    /// The state `alpha` x `step` (log-amplitudes, then baseline) away, with no log-amplitude
    /// stepping below `floor`; one already below it (the floor follows the largest amplitude, so
    /// it can rise past a held one) stays where it is, so that a zero step is the state itself.
    fn stepped(&self, step: &[f64], alpha: f64, floor: f64) -> Self {
        let ns = self.s.len();
        Self {
            s: self
                .s
                .iter()
                .zip(step)
                .map(|(v, d)| (v + alpha * d).max(floor.min(*v)))
                .collect(),
            b: self
                .b
                .iter()
                .zip(&step[ns..])
                .map(|(v, d)| v + alpha * d)
                .collect(),
        }
    }
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

impl<'a> Parts<'a> {
    /// The parts of `problem` under `prior`.
    pub(super) fn of(problem: &'a crate::inversion::Problem, prior: Prior) -> Self {
        let (ns, n) = (problem.n_spec(), problem.zeros().len());
        let (g, ltl) = (problem.gram(), problem.ltl());
        Self {
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
            yty: problem.sums_of_squares().0,
            n,
            ns,
            prior,
        }
    }

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

    /// The coefficients c of `st`, G c and the penalty (the next Gauss-Newton step at an accepted
    /// state starts from them: [`Parts::point_from`]).
    fn evaluate(&self, st: &State) -> Evaluated {
        let c = self.coefficients(st);
        let gc = self.matvec(&c);
        let penalty = self.penalty2(&st.s);
        Evaluated { c, gc, penalty }
    }

    /// The change of the objective from the state of `point` (penalty `penalty`) to the
    /// evaluated state `to`: (c' - c)'(G c' + G c - 2 h) + l2 (p' - p). Its rounding error scales
    /// with the step, where the difference of two objectives y'W'Wy - 2 c'h + c'Gc carries that of
    /// y'W'Wy (up to 1e6 times ||W r||^2): small steps, whose change lies below it, would be
    /// refused at any length and stall the line search.
    fn change(&self, point: &Point, penalty: f64, to: &Evaluated, l2: f64) -> f64 {
        let data: f64 = (0..self.n)
            .map(|j| (to.c[j] - point.c[j]) * (to.gc[j] + point.gc[j] - 2.0 * self.h[j]))
            .sum();
        data + l2 * (to.penalty - penalty)
    }

    /// J'J + l2 P (row-major N x N): the Gauss-Newton matrix of the linearized problem, with P =
    /// L'L (log-smooth) or diag(f) (maxent, the entropy's curvature in ln f at its Newton point).
    pub(super) fn linearized(&self, c: &[f64], l2: f64) -> Vec<f64> {
        let all: Vec<usize> = (0..self.n).collect();
        self.block(c, l2, &all, None)
    }

    /// The exact Hessian of half the objective in (ln f, b) at `st` (row-major N x N): J'J + l2 P
    /// plus the diagonal term of the second derivative of exp(s), the half-gradient's data part
    /// f o (Gc - h)_s (log-smooth) or the whole half-gradient (maxent, whose entropy adds
    /// l2 f o (s - ln m)), with both signs.
    pub(super) fn hessian(&self, st: &State, l2: f64) -> Vec<f64> {
        let point = self.point(st, l2);
        let mut h = self.linearized(&point.c, l2);
        for i in 0..self.ns {
            h[i * self.n + i] += match self.prior {
                Prior::Smooth => point.c[i] * (point.gc[i] - self.h[i]),
                Prior::Entropy { .. } => point.grad[i],
            };
        }
        h
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

    /// The geodesic acceleration of the Gauss-Newton step `step` at `point` (Transtrum and Sethna,
    /// arXiv:1201.5885): a = -H^-1 J' r'', with r'' = A_s (f o d^2) the residual's second
    /// derivative along the step (the baseline enters linearly), solved with the step's own
    /// `factor` on the `moving` coordinates (zero on the `held` ones). In log space a step that
    /// the data cannot see (an oscillation of ln f between neighbours) changes f at second order
    /// in a way they can see; the straight step then overshoots and the line search shortens it
    /// to a crawl, where the curved path s + alpha d + (alpha^2 / 2) a follows the valley. None
    /// when 2 |a| exceeds [`ACCELERATION_RATIO`] |d| (the step is then too long for a
    /// second-order path to help) or is not finite.
    fn acceleration(
        &self,
        point: &Point,
        step: &[f64],
        moving: &[usize],
        held: &[bool],
        factor: &Factor,
    ) -> Option<Vec<f64>> {
        let (n, ns) = (self.n, self.ns);
        let curvature: Vec<f64> = (0..n)
            .map(|j| {
                if j < ns {
                    point.c[j] * step[j] * step[j]
                } else {
                    0.0
                }
            })
            .collect();
        let g_curvature = self.matvec(&curvature);
        let rhs: Vec<f64> = moving
            .iter()
            .map(|&j| match (held[j], j < ns) {
                (true, _) => 0.0,
                (false, true) => -point.c[j] * g_curvature[j],
                (false, false) => -g_curvature[j],
            })
            .collect();
        let a = factor.solve(&rhs);
        let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
        // Negated so that a non-finite acceleration (an overflow) is dropped too.
        if !(2.0 * norm(&a) <= ACCELERATION_RATIO * norm(step)) {
            return None;
        }
        let mut acceleration = vec![0.0; n];
        for (b, &j) in moving.iter().enumerate() {
            acceleration[j] = a[b];
        }
        Some(acceleration)
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

/// The coefficients c = (exp(s), b) of a state, G c and the penalty p(s).
struct Evaluated {
    c: Vec<f64>,
    gc: Vec<f64>,
    penalty: f64,
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
    pub(super) fn solve(&self, b: &[f64]) -> Vec<f64> {
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
    let first = parts.evaluate(st);
    // The objective, kept up to date by the accepted changes ([`Parts::change`]).
    let mut phi = parts.data2(&first.c, &first.gc) + l2 * first.penalty;
    let mut penalty = first.penalty;
    // c and G c of the current state, from the evaluation that accepted it.
    let mut known = Some((first.c, first.gc));
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
        let (step, acceleration, predicted) = loop {
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
                let acceleration = parts.acceleration(&point, &step, &moving, &held, &factor);
                break (step, acceleration, predicted);
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
            // The second-order path s + alpha d + (alpha^2 / 2) a; the straight one without a.
            let bent: Vec<f64>;
            let path: &[f64] = match &acceleration {
                Some(a) => {
                    bent = step
                        .iter()
                        .zip(a)
                        .map(|(d, a)| d + 0.5 * alpha * a)
                        .collect();
                    &bent
                }
                None => &step,
            };
            let trial = st.stepped(path, alpha, floor);
            let to = parts.evaluate(&trial);
            let change = parts.change(&point, penalty, &to, l2);
            // The predicted decrease of the Gauss-Newton model is 2 * predicted for the objective.
            if change.is_finite() && change <= -1e-4 * alpha * 2.0 * predicted {
                *st = trial;
                phi += change;
                penalty = to.penalty;
                known = Some((to.c, to.gc));
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
#[path = "solver_tests.rs"]
mod tests;
