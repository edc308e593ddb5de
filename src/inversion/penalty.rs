//! The regularizer L: the r-th difference operator on the spectrum amplitudes (docs/model.md §4).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

/// Rows of the r-th difference operator on `n` amplitudes, as dense row-major (rows x n).
///
/// Without `zero_boundary` L has n - r rows (the plain difference, whose null space holds the
/// polynomials of degree < r). With `zero_boundary` the amplitudes are taken as zero for r points
/// beyond each end, as CONTIN assumes, giving n + r rows and no null space.
pub fn difference_operator(n: usize, order: usize, zero_boundary: bool) -> (usize, Vec<f64>) {
    // Binomial coefficients of the r-th difference: (-1)^(r-k) C(r, k).
    let mut coef = vec![1.0f64];
    for _ in 0..order {
        let mut next = vec![0.0; coef.len() + 1];
        for (k, c) in coef.iter().enumerate() {
            next[k] -= c;
            next[k + 1] += c;
        }
        coef = next;
    }
    // Row i applies coef to the extended index range [start, start + r].
    let (first, rows) = if zero_boundary {
        (-(order as isize), n + order)
    } else {
        (0, n.saturating_sub(order))
    };
    let mut l = vec![0.0; rows * n];
    for row in 0..rows {
        let start = first + row as isize;
        for (k, &c) in coef.iter().enumerate() {
            let j = start + k as isize;
            if (0..n as isize).contains(&j) {
                l[row * n + j as usize] = c;
            }
        }
    }
    (rows, l)
}

/// L^T L (n x n, row-major).
pub fn gram_of(rows: usize, n: usize, l: &[f64]) -> Vec<f64> {
    let mut g = vec![0.0; n * n];
    for r in 0..rows {
        let row = &l[r * n..(r + 1) * n];
        for (i, &a) in row.iter().enumerate().filter(|(_, a)| **a != 0.0) {
            for (j, &b) in row.iter().enumerate() {
                g[i * n + j] += a * b;
            }
        }
    }
    g
}

/// The smallest eigenvalue of L^T L above 1e-10 of the largest (the smallest of its non-null
/// space), and the largest, for the r-th difference operator on `n` points: they set the lambda
/// range. They depend on (n, order, boundary) only, so each is computed once per process (a sweep
/// builds the same grid for every run; the eigensolve is O(n^3)). `None` when the eigensolve does
/// not converge.
pub fn extremal_eigenvalues(n: usize, order: usize, zero_boundary: bool) -> Option<(f64, f64)> {
    type Known = HashMap<(usize, usize, bool), Option<(f64, f64)>>;
    static KNOWN: OnceLock<Mutex<Known>> = OnceLock::new();
    let known = KNOWN.get_or_init(Default::default);
    let key = (n, order, zero_boundary);
    if let Some(v) = known.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return *v;
    }
    let (rows, l) = difference_operator(n, order, zero_boundary);
    let ltl = gram_of(rows, n, &l);
    let matrix = faer::Mat::<f64>::from_fn(n, n, |i, j| ltl[i * n + j]);
    let v = matrix
        .self_adjoint_eigenvalues(faer::Side::Lower)
        .ok()
        .map(|eig| {
            let top = eig.last().copied().unwrap_or(1.0).max(f64::MIN_POSITIVE);
            let bottom = eig
                .iter()
                .copied()
                .find(|v| *v > 1e-10 * top)
                .unwrap_or(top);
            (bottom, top)
        });
    known
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key, v);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_extremal_eigenvalues_of_the_first_difference_are_the_closed_form() {
        // D^T D of the first difference on n points (free ends) has eigenvalues
        // 4 sin^2(k pi / (2 n)), k = 0 .. n-1: 0 (the flat vector), then k = 1 and k = n - 1.
        for n in [5, 40, 61] {
            let (bottom, top) = extremal_eigenvalues(n, 1, false).unwrap();
            let at = |k: f64| 4.0 * (k * std::f64::consts::PI / (2.0 * n as f64)).sin().powi(2);
            assert!((bottom - at(1.0)).abs() < 1e-12, "n {n}: {bottom}");
            assert!((top - at(n as f64 - 1.0)).abs() < 1e-12, "n {n}: {top}");
            // The second call is the cached value.
            assert_eq!(extremal_eigenvalues(n, 1, false), Some((bottom, top)));
        }
    }

    #[test]
    fn second_difference_rows() {
        let (rows, l) = difference_operator(5, 2, false);
        assert_eq!(rows, 3);
        assert_eq!(&l[0..5], &[1.0, -2.0, 1.0, 0.0, 0.0]);
        assert_eq!(&l[10..15], &[0.0, 0.0, 1.0, -2.0, 1.0]);
        let (rows, l) = difference_operator(4, 2, true);
        assert_eq!(rows, 6);
        // First row sees only the first amplitude: 0 - 2*0 + f0.
        assert_eq!(&l[0..4], &[1.0, 0.0, 0.0, 0.0]);
        assert_eq!(&l[4..8], &[-2.0, 1.0, 0.0, 0.0]);
        assert_eq!(&l[20..24], &[0.0, 0.0, 0.0, 1.0]);
        let (rows, l) = difference_operator(3, 0, false);
        assert_eq!(rows, 3);
        assert_eq!(l, vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]);
    }

    #[test]
    fn polynomials_of_low_degree_are_not_penalized() {
        let (rows, l) = difference_operator(8, 2, false);
        let line: Vec<f64> = (0..8).map(|i| 3.0 + 0.5 * i as f64).collect();
        for r in 0..rows {
            let v: f64 = (0..8).map(|j| l[r * 8 + j] * line[j]).sum();
            assert!(v.abs() < 1e-14);
        }
        // Third differences: every parabola is free (a log-normal peak's ln f in ln tau), a cubic
        // is not; the rows are the binomial coefficients -1, 3, -3, 1.
        let (rows, l) = difference_operator(8, 3, false);
        assert_eq!(rows, 5);
        assert_eq!(&l[0..8], &[-1.0, 3.0, -3.0, 1.0, 0.0, 0.0, 0.0, 0.0]);
        let at =
            |p: &dyn Fn(f64) -> f64, r: usize| (0..8).map(|j| l[r * 8 + j] * p(j as f64)).sum();
        for r in 0..rows {
            let v: f64 = at(&|x| -0.5 * (x - 3.2) * (x - 3.2) + 1.0, r);
            assert!(v.abs() < 1e-12, "{v}");
            // The third difference of x^3 is 3! = 6 everywhere.
            let v: f64 = at(&|x| x * x * x, r);
            assert!((v - 6.0).abs() < 1e-12, "{v}");
        }
    }
}
