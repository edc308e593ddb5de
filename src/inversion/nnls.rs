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
    /// Whether `chol` holds the factor of Q on `idx` for the solution's passive set.
    factor_valid: bool,
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
            factor_valid: false,
        }
    }

    fn ensure(&mut self, n: usize) {
        if self.rhs.len() < n {
            *self = Self::new(n);
        }
    }
}

/// In-place Cholesky of the k x k leading block of `a` (row-major, stride k). Returns false when a
/// pivot is not positive.
pub(crate) fn cholesky(a: &mut [f64], k: usize) -> bool {
    let a = &mut a[..k * k];
    for j in 0..k {
        // Row j, then the rows below it (row-major, lower triangle).
        let (row_j, below) = a[j * k..].split_at_mut(k);
        let d = row_j[j] - dot(&row_j[..j], &row_j[..j]);
        if d.is_nan() || d <= 0.0 {
            return false;
        }
        let d = d.sqrt();
        row_j[j] = d;
        for row_i in below.chunks_exact_mut(k) {
            row_i[j] = (row_i[j] - dot(&row_i[..j], &row_j[..j])) / d;
        }
    }
    true
}

/// Dot product with four accumulators (lets the compiler vectorize the reduction).
#[inline]
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f64; 4];
    let chunks = n / 4;
    for c in 0..chunks {
        let (x, y) = (&a[4 * c..4 * c + 4], &b[4 * c..4 * c + 4]);
        acc[0] += x[0] * y[0];
        acc[1] += x[1] * y[1];
        acc[2] += x[2] * y[2];
        acc[3] += x[3] * y[3];
    }
    let mut tail = 0.0;
    for i in 4 * chunks..n {
        tail += a[i] * b[i];
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

impl NnlsWorkspace {
    /// The Cholesky factor (k x k, row-major, lower) of Q on the passive set of the last
    /// [`solve`], with that set in increasing order, when the solve ended with it factored.
    pub(crate) fn last_factor(&self) -> Option<(&[usize], &[f64])> {
        let k = self.idx.len();
        self.factor_valid
            .then(|| (&self.idx[..], &self.chol[..k * k]))
    }
}

/// Solves (L L^T) x = b in place with the factor from [`cholesky`].
pub(crate) fn cholesky_solve(l: &[f64], k: usize, b: &mut [f64]) {
    for i in 0..k {
        let mut v = b[i];
        for p in 0..i {
            v -= l[i * k + p] * b[p];
        }
        b[i] = v / l[i * k + i];
    }
    for i in (0..k).rev() {
        let mut v = b[i];
        for p in i + 1..k {
            v -= l[p * k + i] * b[p];
        }
        b[i] = v / l[i * k + i];
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
    ws.factor_valid = false;
    let mut entering: Option<usize> = None;
    loop {
        // Inner loop: solve on the passive set, stepping back toward x until feasible.
        loop {
            ws.idx.clear();
            ws.idx.extend((0..n).filter(|&i| passive[i]));
            let k = ws.idx.len();
            ws.s[..n].iter_mut().for_each(|v| *v = 0.0);
            if k > 0 {
                let jitter = factor_block(q, n, &ws.idx, &mut ws.chol);
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
            // The last inner solve factored exactly the final passive set.
            ws.factor_valid = info.jitter == 0.0;
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
    for i in 0..n {
        let row = &q[i * n..(i + 1) * n];
        w[i] = h[i] - row.iter().zip(x).map(|(a, b)| a * b).sum::<f64>();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_solves_a_small_system() {
        let q = [4.0, 2.0, 2.0, 3.0];
        let mut l = q;
        assert!(cholesky(&mut l, 2));
        let mut b = [2.0, 1.0];
        cholesky_solve(&l, 2, &mut b);
        assert!((4.0 * b[0] + 2.0 * b[1] - 2.0).abs() < 1e-15);
        assert!((2.0 * b[0] + 3.0 * b[1] - 1.0).abs() < 1e-15);
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
