//! Traces and determinants of the linearized problem on a solution's free set P, from the
//! Cholesky factor C of Q_PP = G_PP + lambda^2 (L^T L)_PP (C C^T = Q_PP) and the penalty rows
//! restricted to P, L_P (so that (L^T L)_PP = L_P^T L_P):
//!
//! - Z = C^-1 L_P^T, one forward substitution per penalty row, started at the row's first non-zero
//!   on P (the rows are banded);
//! - with X = Q_PP^-1 (L^T L)_PP: tr(X) = ||Z||_F^2 and tr(X^2) = ||Z^T Z||_F^2 (X is similar to
//!   Z Z^T, whose non-zero eigenvalues are those of Z^T Z);
//! - the degrees of freedom tr(Q_PP^-1 G_PP) = |P| - lambda^2 tr(X), and tr(A^2) of the influence
//!   matrix A = W K_P Q_PP^-1 K_P^T W, |P| - 2 lambda^2 tr(X) + lambda^4 tr(X^2);
//! - ln det Q_PP = 2 sum ln C_aa.

use std::collections::HashMap;

use faer::Mat;

use super::dense::{dot, dot4};

/// The factor-dependent terms of one path point (all but the prior's determinant).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct FactorTerms {
    /// |P|, the free coefficients (spectrum and baseline).
    pub free: usize,
    /// ln det Q_PP (NaN when Q_PP is numerically singular).
    pub ln_det_q: f64,
    /// tr(A^2) of the influence matrix (NaN when Q_PP is numerically singular).
    pub trace_a2: f64,
}

impl FactorTerms {
    /// The terms of a singular Q_PP: the determinant and trace are undefined.
    pub fn singular(free: usize) -> Self {
        Self {
            free,
            ln_det_q: f64::NAN,
            trace_a2: f64::NAN,
        }
    }

    /// The terms from the factor `chol` (k x k, row-major, lower) of Q_PP, tr(X) and tr(X^2).
    pub fn of(chol: &[f64], k: usize, l2: f64, trace_x: f64, trace_x2: f64) -> Self {
        let kf = k as f64;
        Self {
            free: k,
            ln_det_q: 2.0 * (0..k).map(|a| chol[a * k + a].ln()).sum::<f64>(),
            trace_a2: kf - 2.0 * l2 * trace_x + l2 * l2 * trace_x2,
        }
    }
}

/// Determinants and traces of the linearized problem on a solution's free set P.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ActiveSetTerms {
    /// |P|, the free coefficients (spectrum and baseline).
    pub free: usize,
    /// ln det Q_PP (NaN when Q_PP is numerically singular).
    pub ln_det_q: f64,
    /// ln of the product of the non-zero eigenvalues of L_S^T L_S (S: the free spectrum points).
    pub ln_pdet_prior: f64,
    /// The rank of L_S.
    pub prior_rank: usize,
    /// tr(A^2) of the influence matrix A = W K_P Q_PP^-1 K_P^T W.
    pub trace_a2: f64,
}

impl ActiveSetTerms {
    /// The factor's terms with the prior's (ln pdet, rank).
    pub fn new(factor: FactorTerms, prior: (f64, usize)) -> Self {
        Self {
            free: factor.free,
            ln_det_q: factor.ln_det_q,
            ln_pdet_prior: prior.0,
            prior_rank: prior.1,
            trace_a2: factor.trace_a2,
        }
    }
}

/// Z = C^-1 L_P^T kept column by column (penalty row by row) for tr(X^2): column r is zero above
/// its start.
#[derive(Debug, Clone, Default)]
pub(crate) struct KeptColumns {
    columns: Vec<f64>,
    starts: Vec<usize>,
}

impl KeptColumns {
    /// tr(X^2) = ||Z^T Z||_F^2: each product of two columns summed from the later start (the
    /// entries above a column's start are zero), four columns against one at a time.
    pub fn trace_of_square(&self, k: usize) -> f64 {
        let p = self.starts.len();
        let column = |r: usize| &self.columns[r * k..(r + 1) * k];
        let mut sum = 0.0;
        for r in 0..p {
            let zr = column(r);
            let diagonal = dot(&zr[self.starts[r]..], &zr[self.starts[r]..]);
            sum += diagonal * diagonal;
            let mut s = r + 1;
            while s + 4 <= p {
                let from = (s..s + 4).map(|c| self.starts[c]).min().unwrap_or(0);
                let from = from.max(self.starts[r]);
                let v = dot4(
                    [
                        &column(s)[from..],
                        &column(s + 1)[from..],
                        &column(s + 2)[from..],
                        &column(s + 3)[from..],
                    ],
                    &zr[from..],
                );
                sum += 2.0 * v.iter().map(|v| v * v).sum::<f64>();
                s += 4;
            }
            for s in s..p {
                let from = self.starts[r].max(self.starts[s]);
                let v = dot(&zr[from..], &column(s)[from..]);
                sum += 2.0 * v * v;
            }
        }
        sum
    }
}

/// tr(X) = ||C^-1 L_P^T||_F^2 for the factor C (k x k, row-major, lower) of Q on the free set
/// `idx` and the `rows` x `n` row-major penalty restricted to it: one forward substitution per
/// penalty row, started at the row's first non-zero on the set. Four rows advance together, each
/// in its own lane of `z` (4 k values), so that four independent chains of the same operations in
/// the same order run at once: the result is that of one row at a time to the last bit, at about a
/// quarter of its latency. With `keep`, Z's columns are kept for [`KeptColumns::trace_of_square`].
pub(crate) fn penalty_trace(
    penalty: &[f64],
    rows: usize,
    n: usize,
    idx: &[usize],
    chol: &[f64],
    z: &mut Vec<f64>,
    mut keep: Option<&mut KeptColumns>,
) -> f64 {
    const LANES: usize = 4;
    let k = idx.len();
    let started: Vec<(usize, usize)> = (0..rows)
        .filter_map(|r| {
            let row = &penalty[r * n..(r + 1) * n];
            idx.iter().position(|&j| row[j] != 0.0).map(|s| (r, s))
        })
        .collect();
    if let Some(kept) = keep.as_deref_mut() {
        kept.starts.clear();
        kept.starts.extend(started.iter().map(|&(_, s)| s));
        kept.columns.clear();
        kept.columns.resize(started.len() * k, 0.0);
    }
    z.clear();
    z.resize(LANES * k, 0.0);
    let mut trace = 0.0;
    for (chunk, group) in started.chunks(LANES).enumerate() {
        z.iter_mut().for_each(|v| *v = 0.0);
        let first = group.iter().map(|g| g.1).min().unwrap_or(k);
        let last = group.iter().map(|g| g.1).max().unwrap_or(k);
        for a in first..k {
            let c = &chol[a * k..a * k + a];
            let mut v = [0.0; LANES];
            // Each lane alone up to the last lane's start, then all together.
            for (g, &(r, s)) in group.iter().enumerate() {
                if a < s {
                    continue;
                }
                let mut x = penalty[r * n + idx[a]];
                for p in s..last.min(a) {
                    x -= c[p] * z[p * LANES + g];
                }
                v[g] = x;
            }
            if a > last {
                for p in last..a {
                    let zp = &z[p * LANES..(p + 1) * LANES];
                    for g in 0..LANES {
                        v[g] -= c[p] * zp[g];
                    }
                }
            }
            for (g, &(_, s)) in group.iter().enumerate() {
                if a >= s {
                    z[a * LANES + g] = v[g] / chol[a * k + a];
                }
            }
        }
        for (g, &(_, s)) in group.iter().enumerate() {
            for a in s..k {
                let v = z[a * LANES + g];
                trace += v * v;
            }
        }
        if let Some(kept) = keep.as_deref_mut() {
            for (g, &(_, s)) in group.iter().enumerate() {
                let column = (chunk * LANES + g) * k;
                for a in s..k {
                    kept.columns[column + a] = z[a * LANES + g];
                }
            }
        }
    }
    trace
}

/// ln pdet(L_S^T L_S) and the rank of L_S for sets S of spectrum columns, each computed once: along
/// a path the free set repeats (at the strong end it is often the whole grid).
#[derive(Debug, Default)]
pub(crate) struct PriorTerms {
    known: HashMap<Vec<usize>, (f64, usize)>,
}

impl PriorTerms {
    /// ln pdet(L_S^T L_S) and the rank of L_S for the columns `cols` of the `rows` x `n` row-major
    /// `penalty` (the same penalty at every call).
    pub fn of(&mut self, penalty: &[f64], rows: usize, n: usize, cols: &[usize]) -> (f64, usize) {
        if let Some(v) = self.known.get(cols) {
            return *v;
        }
        let v = ln_pdet_gram(penalty, rows, n, cols);
        self.known.insert(cols.to_vec(), v);
        v
    }
}

/// ln pdet(L_S^T L_S) and the rank of L_S, where L_S holds the columns `cols` of the `rows` x `n`
/// row-major `penalty`: the Cholesky factor of the smaller of L_S L_S^T (rows with a non-zero entry)
/// and L_S^T L_S, with eigenvalues when that Gram matrix is singular.
pub(crate) fn ln_pdet_gram(penalty: &[f64], rows: usize, n: usize, cols: &[usize]) -> (f64, usize) {
    let kept: Vec<usize> = (0..rows)
        .filter(|&r| cols.iter().any(|&j| penalty[r * n + j] != 0.0))
        .collect();
    let (p, k) = (kept.len(), cols.len());
    if p == 0 || k == 0 {
        return (0.0, 0);
    }
    let restricted = Mat::<f64>::from_fn(p, k, |a, b| penalty[kept[a] * n + cols[b]]);
    let gram = if p <= k {
        &restricted * restricted.transpose()
    } else {
        restricted.transpose() * &restricted
    };
    let size = gram.nrows();
    if let Ok(llt) = gram.llt(faer::Side::Lower) {
        let l = llt.L();
        let diag_max = (0..size).map(|a| l[(a, a)]).fold(0.0, f64::max);
        if (0..size).all(|a| l[(a, a)] > 1e-7 * diag_max) {
            let ln_det = 2.0 * (0..size).map(|a| l[(a, a)].ln()).sum::<f64>();
            return (ln_det, size);
        }
    }
    match gram.self_adjoint_eigenvalues(faer::Side::Lower) {
        Ok(eig) => {
            let top = eig.iter().copied().fold(0.0, f64::max);
            let kept: Vec<f64> = eig.into_iter().filter(|v| *v > 1e-10 * top).collect();
            (kept.iter().map(|v| v.ln()).sum(), kept.len())
        }
        Err(_) => (f64::NAN, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inversion::dense::cholesky;
    use crate::inversion::penalty::difference_operator;
    use faer::linalg::solvers::Solve;

    /// tr(X), tr(X^2) and ln det Q from the kept columns against X = Q^-1 L^T L formed densely.
    #[test]
    fn traces_from_the_kept_columns_match_the_dense_product() {
        let n = 9;
        let (rows, penalty) = difference_operator(n, 2, false);
        // Q = B^T B + l2 L^T L on the free set {0, 1, 3, 4, 5, 7, 8}.
        let idx = [0usize, 1, 3, 4, 5, 7, 8];
        let k = idx.len();
        let l2 = 0.37;
        let b = Mat::<f64>::from_fn(12, n, |i, j| ((i * 5 + j * 3) % 7) as f64 / 7.0 - 0.3);
        let ltl = Mat::<f64>::from_fn(n, n, |i, j| {
            (0..rows)
                .map(|r| penalty[r * n + i] * penalty[r * n + j])
                .sum()
        });
        let g = b.transpose() * &b;
        let q = Mat::<f64>::from_fn(k, k, |a, c| {
            g[(idx[a], idx[c])] + l2 * ltl[(idx[a], idx[c])]
        });
        let mut chol: Vec<f64> = (0..k * k).map(|ac| q[(ac / k, ac % k)]).collect();
        assert!(cholesky(&mut chol, k));
        let mut kept = KeptColumns::default();
        let trace_x = penalty_trace(
            &penalty,
            rows,
            n,
            &idx,
            &chol,
            &mut Vec::new(),
            Some(&mut kept),
        );
        let trace_x2 = kept.trace_of_square(k);
        let ltl_p = Mat::<f64>::from_fn(k, k, |a, c| ltl[(idx[a], idx[c])]);
        let x = q.partial_piv_lu().solve(&ltl_p);
        let dense_x: f64 = (0..k).map(|a| x[(a, a)]).sum();
        let dense_x2: f64 = (0..k)
            .map(|a| (0..k).map(|c| x[(a, c)] * x[(c, a)]).sum::<f64>())
            .sum();
        assert!(
            (trace_x - dense_x).abs() < 1e-12 * dense_x,
            "{trace_x} {dense_x}"
        );
        assert!(
            (trace_x2 - dense_x2).abs() < 1e-12 * dense_x2,
            "{trace_x2} {dense_x2}"
        );
        let terms = FactorTerms::of(&chol, k, l2, trace_x, trace_x2);
        let det = q.determinant();
        assert!((terms.ln_det_q - det.ln()).abs() < 1e-12 * det.ln().abs().max(1.0));
        // Without keeping, the trace is the same to the last bit.
        let alone = penalty_trace(&penalty, rows, n, &idx, &chol, &mut Vec::new(), None);
        assert_eq!(alone.to_bits(), trace_x.to_bits());
    }
}
