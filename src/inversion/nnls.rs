//! Active-set non-negative least squares on the normal equations (Lawson-Hanson, in the form of
//! Bro and de Jong's fast NNLS), with free (sign-unconstrained) variables and warm starts.
//!
//! # Problem
//! minimize 1/2 x^T Q x - h^T x  subject to x_i >= 0 for every constrained i,
//! with Q = A^T A + lambda^2 L^T L symmetric positive (semi)definite and h = A^T y; this is
//! min ||A x - y||^2 + lambda^2 ||L x||^2 up to a constant.
//!
//! # KKT conditions at the solution
//! with the gradient residual w = h - Q x: w_i = 0 on the passive set (x_i > 0 or free), and w_i <= 0
//! where a constrained x_i = 0. [`NnlsInfo::kkt_residual`] reports the largest violation relative to
//! max |h|.

use serde::Serialize;

use super::dense::{cholesky, cholesky_from, cholesky_solve, dot, row_sums};

/// Solver settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NnlsParams {
    /// A zero variable enters the passive set only if its w_i exceeds `tolerance * max|h|`.
    pub tolerance: f64,
    /// Outer iterations allowed, as a multiple of the number of variables.
    pub max_iterations_per_variable: usize,
}

impl Default for NnlsParams {
    fn default() -> Self {
        Self {
            tolerance: 1e-11,
            max_iterations_per_variable: 5,
        }
    }
}

/// How the solve ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NnlsStatus {
    /// The KKT conditions hold within the tolerance.
    Converged,
    /// The variable that should enter could not make progress (its w_i is at the rounding floor).
    RoundingFloor,
    /// The iteration limit was reached.
    MaxIterations,
}

/// What the solve did.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct NnlsInfo {
    /// Outer iterations (variables added).
    pub iterations: usize,
    /// Cholesky factorizations performed.
    pub factorizations: usize,
    /// How it ended.
    pub status: NnlsStatus,
    /// Largest KKT violation relative to max |h|.
    pub kkt_residual: f64,
    /// Diagonal shift added when the passive block was numerically singular (0 normally).
    pub jitter: f64,
}

impl NnlsInfo {
    /// The solve's status in outputs: `converged`, `rounding-floor`, `max-iterations`, or
    /// `shifted` when the passive block needed a diagonal shift to factorize.
    pub fn status_name(&self) -> &'static str {
        if self.jitter > 0.0 {
            return "shifted";
        }
        match self.status {
            NnlsStatus::Converged => "converged",
            NnlsStatus::RoundingFloor => "rounding-floor",
            NnlsStatus::MaxIterations => "max-iterations",
        }
    }
}

/// Reusable buffers: one per thread, sized for the largest problem.
#[derive(Debug, Clone, Default)]
pub struct NnlsWorkspace {
    chol: Vec<f64>,
    rhs: Vec<f64>,
    s: Vec<f64>,
    w: Vec<f64>,
    idx: Vec<usize>,
    /// The set `chol` is the unshifted factor of the current Q on, increasing (empty: none).
    factored: Vec<usize>,
    /// The next factor while it is built from `chol`.
    next: Vec<f64>,
    /// Each variable's position in `factored` (`usize::MAX`: not in it); all `usize::MAX`
    /// between calls.
    position: Vec<usize>,
}

impl NnlsWorkspace {
    /// Buffers for up to `n` variables.
    pub fn new(n: usize) -> Self {
        Self {
            chol: vec![0.0; n * n],
            rhs: vec![0.0; n],
            s: vec![0.0; n],
            w: vec![0.0; n],
            idx: Vec::with_capacity(n),
            factored: Vec::with_capacity(n),
            next: vec![0.0; n * n],
            position: vec![usize::MAX; n],
        }
    }

    /// Factors Q on the passive set `idx` into `chol` (with a diagonal shift if the block is
    /// numerically singular; returns the shift). When `chol` holds the unshifted factor of the same
    /// Q on `factored`, the rows before the first variable in which the two sets differ are kept,
    /// and so are the entries of the later rows in those leading columns for the variables that
    /// stay: each is a function of the leading block alone, computed by the same operations in the
    /// same order as a full factorization, so the factor is the full one to the last bit at a
    /// cost of the trailing block only (issue 11: a change near the end of the set costs O(k^2)).
    fn factor_passive(&mut self, q: &[f64], n: usize) -> f64 {
        let k = self.idx.len();
        let kept = self
            .factored
            .iter()
            .zip(&self.idx)
            .take_while(|(a, b)| a == b)
            .count();
        if kept > 0 && self.extend_factor(q, n, kept) {
            std::mem::swap(&mut self.chol, &mut self.next);
            self.factored.clone_from(&self.idx);
            return 0.0;
        }
        let jitter = factor_block(q, n, &self.idx, &mut self.chol[..k * k]);
        self.factored.clear();
        if jitter == 0.0 {
            self.factored.extend_from_slice(&self.idx);
        }
        jitter
    }

    /// Builds the factor on `idx` in `next` from the factor in `chol` on `factored`, whose first
    /// `kept` variables are those of `idx`. False when a pivot is not positive (the caller then
    /// factors from scratch, shifting the diagonal as needed).
    fn extend_factor(&mut self, q: &[f64], n: usize, kept: usize) -> bool {
        let (k, old) = (self.idx.len(), self.factored.len());
        for (a, &v) in self.factored.iter().enumerate() {
            self.position[v] = a;
        }
        let (chol, next) = (&self.chol, &mut self.next[..k * k]);
        for (a, &v) in self.idx.iter().enumerate() {
            let row = a * k;
            let from = self.position[v];
            if a < kept {
                next[row..=row + a].copy_from_slice(&chol[from * old..=from * old + a]);
                continue;
            }
            for (b, &u) in self.idx[..=a].iter().enumerate() {
                next[row + b] = q[v * n + u];
            }
            if from != usize::MAX {
                // A staying variable: its leading entries depend on the leading block only.
                next[row..row + kept].copy_from_slice(&chol[from * old..from * old + kept]);
            } else {
                // An entering one: the leading columns as the factorization computes them.
                for j in 0..kept {
                    let (above, here) = next.split_at_mut(row);
                    let d = above[j * k + j];
                    here[j] = (here[j] - dot(&here[..j], &above[j * k..j * k + j])) / d;
                }
            }
        }
        for &v in &self.factored {
            self.position[v] = usize::MAX;
        }
        cholesky_from(next, k, kept)
    }

    fn ensure(&mut self, n: usize) {
        if self.rhs.len() < n {
            *self = Self::new(n);
        }
    }
}

impl NnlsWorkspace {
    /// The set (increasing) the last [`solve`] last factored Q on without a shift, and that
    /// factor (k x k, row-major, lower); `None` when that factorization needed a shift. The caller
    /// checks that the set is the one it needs (the solution's free set).
    pub(crate) fn last_factor(&self) -> Option<(&[usize], &[f64])> {
        let k = self.factored.len();
        (k > 0).then(|| (&self.factored[..], &self.chol[..k * k]))
    }
}

/// Factorizes Q restricted to `idx` (with a growing diagonal shift if it is numerically singular)
/// and leaves the factor in `chol`. Returns the shift used.
pub(crate) fn factor_block(q: &[f64], n: usize, idx: &[usize], chol: &mut [f64]) -> f64 {
    let k = idx.len();
    let max_diag = idx.iter().map(|&i| q[i * n + i]).fold(0.0, f64::max);
    let mut jitter = 0.0;
    for attempt in 0..8 {
        for (a, &i) in idx.iter().enumerate() {
            for (b, &j) in idx.iter().enumerate() {
                chol[a * k + b] = q[i * n + j];
            }
            chol[a * k + a] += jitter;
        }
        if cholesky(&mut chol[..k * k], k) {
            return jitter;
        }
        jitter = max_diag * 1e-14 * 100f64.powi(attempt);
    }
    jitter
}

/// Solves the problem in the module docs.
///
/// `q` is n x n row-major, `h` has n entries, `constrained[i]` says whether x_i >= 0 is imposed.
/// On entry `x` is a warm start (negative constrained entries are clipped to zero; pass zeros for a
/// cold start); on exit it holds the solution.
pub fn solve(
    q: &[f64],
    h: &[f64],
    constrained: &[bool],
    x: &mut [f64],
    params: &NnlsParams,
    ws: &mut NnlsWorkspace,
) -> NnlsInfo {
    let n = h.len();
    debug_assert_eq!(q.len(), n * n);
    ws.ensure(n);
    let h_scale = h
        .iter()
        .fold(0.0f64, |m, v| m.max(v.abs()))
        .max(f64::MIN_POSITIVE);
    let tol = params.tolerance * h_scale;
    let mut passive: Vec<bool> = (0..n).map(|i| !constrained[i] || x[i] > 0.0).collect();
    for i in 0..n {
        if constrained[i] && x[i] < 0.0 {
            x[i] = 0.0;
        }
    }
    let mut info = NnlsInfo {
        iterations: 0,
        factorizations: 0,
        status: NnlsStatus::Converged,
        kkt_residual: 0.0,
        jitter: 0.0,
    };
    let max_iter = params.max_iterations_per_variable * n.max(1);
    // A new Q: no factor of it yet.
    ws.factored.clear();
    let mut entering: Option<usize> = None;
    loop {
        // Inner loop: solve on the passive set, stepping back toward x until feasible.
        loop {
            ws.idx.clear();
            ws.idx.extend((0..n).filter(|&i| passive[i]));
            let k = ws.idx.len();
            ws.s[..n].iter_mut().for_each(|v| *v = 0.0);
            if k > 0 {
                let jitter = ws.factor_passive(q, n);
                info.jitter = info.jitter.max(jitter);
                info.factorizations += 1;
                for (a, &i) in ws.idx.iter().enumerate() {
                    ws.rhs[a] = h[i];
                }
                cholesky_solve(&ws.chol[..k * k], k, &mut ws.rhs[..k]);
                for (a, &i) in ws.idx.iter().enumerate() {
                    ws.s[i] = ws.rhs[a];
                }
            }
            if let Some(t) = entering.take() {
                if ws.s[t] <= 0.0 {
                    // In exact arithmetic s_t > 0 whenever w_t > 0; here w_t sits at rounding level.
                    passive[t] = false;
                    info.status = NnlsStatus::RoundingFloor;
                    break;
                }
            }
            let mut alpha = 1.0f64;
            for &i in &ws.idx {
                if constrained[i] && ws.s[i] <= 0.0 {
                    let denom = x[i] - ws.s[i];
                    let a = if denom > 0.0 { x[i] / denom } else { 0.0 };
                    alpha = alpha.min(a);
                }
            }
            if alpha >= 1.0 {
                x[..n].copy_from_slice(&ws.s[..n]);
                break;
            }
            for &i in &ws.idx {
                x[i] += alpha * (ws.s[i] - x[i]);
                if constrained[i]
                    && (x[i] <= 0.0 || (ws.s[i] <= 0.0 && x[i] <= f64::EPSILON * ws.s[i].abs()))
                {
                    x[i] = 0.0;
                    passive[i] = false;
                }
            }
            // Guarantee progress: drop at least the blocking variable.
            for &i in &ws.idx {
                if constrained[i] && ws.s[i] <= 0.0 && x[i] <= 0.0 {
                    passive[i] = false;
                    x[i] = 0.0;
                }
            }
        }
        if info.status == NnlsStatus::RoundingFloor {
            break;
        }
        // Outer: the most violated KKT condition among the zero variables.
        gradient_residual(q, h, x, &mut ws.w[..n]);
        let mut best: Option<(usize, f64)> = None;
        for i in 0..n {
            if constrained[i]
                && !passive[i]
                && ws.w[i] > tol
                && best.is_none_or(|(_, v)| ws.w[i] > v)
            {
                best = Some((i, ws.w[i]));
            }
        }
        let Some((t, _)) = best else {
            break;
        };
        if info.iterations >= max_iter {
            info.status = NnlsStatus::MaxIterations;
            break;
        }
        info.iterations += 1;
        passive[t] = true;
        entering = Some(t);
    }
    gradient_residual(q, h, x, &mut ws.w[..n]);
    info.kkt_residual = (0..n)
        .map(|i| {
            if constrained[i] && x[i] == 0.0 {
                ws.w[i].max(0.0)
            } else {
                ws.w[i].abs()
            }
        })
        .fold(0.0, f64::max)
        / h_scale;
    info
}

/// w = h - Q x.
pub fn gradient_residual(q: &[f64], h: &[f64], x: &[f64], w: &mut [f64]) {
    let n = h.len();
    row_sums(q, n, |i| i, x, &mut w[..n]);
    for (w, h) in w.iter_mut().zip(h) {
        *w = h - *w;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_four_row_gradient_is_the_one_row_one_to_the_last_bit() {
        let n = 23;
        let q: Vec<f64> = (0..n * n)
            .map(|ij| ((ij * 7919 % 113) as f64 - 56.0) * 1e-3f64.powi((ij % 3) as i32))
            .collect();
        let x: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).cos()).collect();
        let h: Vec<f64> = (0..n).map(|i| (i as f64 * 1.1).sin()).collect();
        let mut w = vec![0.0; n];
        gradient_residual(&q, &h, &x, &mut w);
        for i in 0..n {
            let one = h[i]
                - q[i * n..(i + 1) * n]
                    .iter()
                    .zip(&x)
                    .map(|(a, b)| a * b)
                    .sum::<f64>();
            assert_eq!(w[i].to_bits(), one.to_bits(), "row {i}");
        }
    }

    #[test]
    fn a_reused_factor_is_the_full_factorization_to_the_last_bit() {
        // Q = B^T B + I for a fixed pseudo-random 16 x 12 B: positive definite.
        let (n, rows) = (12, 16);
        let mut state = 12345u64;
        let b: Vec<f64> = (0..rows * n)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
            })
            .collect();
        let q: Vec<f64> = (0..n * n)
            .map(|ij| {
                let (i, j) = (ij / n, ij % n);
                let g: f64 = (0..rows).map(|r| b[r * n + i] * b[r * n + j]).sum();
                g + if i == j { 1.0 } else { 0.0 }
            })
            .collect();
        // Entering and leaving variables at the start, middle and end, one or several at once.
        let sets: [&[usize]; 8] = [
            &[1, 4, 7],
            &[1, 4, 5, 7],
            &[1, 4, 5, 7, 11],
            &[0, 1, 4, 5, 7, 11],
            &[0, 1, 5, 11],
            &[0, 1, 2, 3, 5, 6, 8, 9, 10, 11],
            &[0, 1, 2, 9, 10],
            &[0, 1, 2, 9, 10, 11],
        ];
        let mut ws = NnlsWorkspace::new(n);
        let mut reused = 0;
        for set in sets {
            let k = set.len();
            let kept = ws
                .factored
                .iter()
                .zip(set)
                .take_while(|(a, b)| a == b)
                .count();
            reused += usize::from(kept > 0);
            ws.idx.clear();
            ws.idx.extend_from_slice(set);
            assert_eq!(ws.factor_passive(&q, n), 0.0);
            let mut full = vec![0.0; k * k];
            assert_eq!(factor_block(&q, n, set, &mut full), 0.0);
            for a in 0..k {
                for c in 0..=a {
                    assert_eq!(
                        ws.chol[a * k + c].to_bits(),
                        full[a * k + c].to_bits(),
                        "{set:?} ({a}, {c})"
                    );
                }
            }
        }
        // Every set but the first and the one that gains variable 0 reuses a leading part.
        assert_eq!(reused, 6);
    }

    #[test]
    fn bound_becomes_active_and_free_variable_goes_negative() {
        // min (x0 - (-1))^2 + (x1 - 2)^2 + (x2 + 3)^2 with x0, x1 >= 0 and x2 free.
        let q = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0];
        let h = [-1.0, 2.0, -3.0];
        let mut x = [0.0; 3];
        let mut ws = NnlsWorkspace::new(3);
        let info = solve(
            &q,
            &h,
            &[true, true, false],
            &mut x,
            &NnlsParams::default(),
            &mut ws,
        );
        assert_eq!(x, [0.0, 2.0, -3.0]);
        assert_eq!(info.status, NnlsStatus::Converged);
        assert!(info.kkt_residual < 1e-15);
    }
}
