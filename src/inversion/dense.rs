//! Dense kernels of the NNLS (row-major, lower-triangular factors): the Cholesky factorization,
//! its substitutions and dot products. The four-row forms run four independent chains of the same
//! operations in the same order as the one-row forms, so their results are those of the one-row
//! forms to the last bit (tested) at a fraction of the latency.

/// In-place Cholesky of the k x k leading block of `a` (row-major, stride k). Returns false when a
/// pivot is not positive.
pub(crate) fn cholesky(a: &mut [f64], k: usize) -> bool {
    cholesky_from(a, k, 0)
}

/// [`cholesky`] of a block whose columns before `start` are already factored (in every row):
/// finishes columns `start..k`.
pub(crate) fn cholesky_from(a: &mut [f64], k: usize, start: usize) -> bool {
    let a = &mut a[..k * k];
    for j in start..k {
        // Row j, then the rows below it (row-major, lower triangle).
        let (row_j, below) = a[j * k..].split_at_mut(k);
        let d = row_j[j] - dot(&row_j[..j], &row_j[..j]);
        if d.is_nan() || d <= 0.0 {
            return false;
        }
        let d = d.sqrt();
        row_j[j] = d;
        // Four rows at a time: four independent reductions in flight (each the same as [`dot`]).
        let mut quads = below.chunks_exact_mut(4 * k);
        for quad in &mut quads {
            let (r0, rest) = quad.split_at_mut(k);
            let (r1, rest) = rest.split_at_mut(k);
            let (r2, r3) = rest.split_at_mut(k);
            let s = dot4([&r0[..j], &r1[..j], &r2[..j], &r3[..j]], &row_j[..j]);
            for (row_i, s) in [r0, r1, r2, r3].into_iter().zip(s) {
                row_i[j] = (row_i[j] - s) / d;
            }
        }
        for row_i in quads.into_remainder().chunks_exact_mut(k) {
            row_i[j] = (row_i[j] - dot(&row_i[..j], &row_j[..j])) / d;
        }
    }
    true
}

/// [`dot`] of four vectors with one: the same operations in the same order for each, so each
/// result is [`dot`]'s to the last bit.
#[inline]
pub(crate) fn dot4(a: [&[f64]; 4], b: &[f64]) -> [f64; 4] {
    let n = b.len();
    let mut acc = [[0.0f64; 4]; 4];
    for c in 0..n / 4 {
        let y = &b[4 * c..4 * c + 4];
        for (acc, a) in acc.iter_mut().zip(a) {
            let x = &a[4 * c..4 * c + 4];
            acc[0] += x[0] * y[0];
            acc[1] += x[1] * y[1];
            acc[2] += x[2] * y[2];
            acc[3] += x[3] * y[3];
        }
    }
    let mut out = [0.0; 4];
    for ((out, acc), a) in out.iter_mut().zip(acc).zip(a) {
        let mut tail = 0.0;
        for i in 4 * (n / 4)..n {
            tail += a[i] * b[i];
        }
        *out = (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail;
    }
    out
}

/// Dot product with four accumulators (lets the compiler vectorize the reduction).
#[inline]
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
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

/// Solves (L L^T) x = b in place with the factor from [`cholesky`].
pub(crate) fn cholesky_solve(l: &[f64], k: usize, b: &mut [f64]) {
    // Forward: rows four at a time, their common leading part as four chains at once, then the
    // triangle among them; each row subtracts in increasing p, as one row at a time does.
    let mut i = 0;
    while i + 4 <= k {
        let mut v = [b[i], b[i + 1], b[i + 2], b[i + 3]];
        for p in 0..i {
            for (g, v) in v.iter_mut().enumerate() {
                *v -= l[(i + g) * k + p] * b[p];
            }
        }
        for g in 0..4 {
            for p in i..i + g {
                v[g] -= l[(i + g) * k + p] * b[p];
            }
            b[i + g] = v[g] / l[(i + g) * k + i + g];
        }
        i += 4;
    }
    for i in i..k {
        let mut v = b[i];
        for p in 0..i {
            v -= l[i * k + p] * b[p];
        }
        b[i] = v / l[i * k + i];
    }
    back_substitute(l, k, b);
}

/// Solves L^T x = b in place (the second half of [`cholesky_solve`]).
fn back_substitute(l: &[f64], k: usize, b: &mut [f64]) {
    for i in (0..k).rev() {
        let mut v = b[i];
        for p in i + 1..k {
            v -= l[p * k + i] * b[p];
        }
        b[i] = v / l[i * k + i];
    }
}

/// out[k] = the iterator sum of a[i][j] x[j] over j for row i = `row_of(k)` of the row-major
/// matrix `a` (rows of length n), four rows at a time (each to the last bit the one-row sum).
pub(crate) fn row_sums(
    a: &[f64],
    n: usize,
    row_of: impl Fn(usize) -> usize,
    x: &[f64],
    out: &mut [f64],
) {
    let row = |k: usize| {
        let i = row_of(k);
        &a[i * n..(i + 1) * n]
    };
    let m = out.len();
    let mut k = 0;
    while k + 4 <= m {
        let s = sums_of_products4([row(k), row(k + 1), row(k + 2), row(k + 3)], x);
        out[k..k + 4].copy_from_slice(&s);
        k += 4;
    }
    for (k, out) in out.iter_mut().enumerate().skip(k) {
        *out = row(k).iter().zip(x).map(|(a, b)| a * b).sum::<f64>();
    }
}

/// `rows[g].iter().zip(x).map(|(a, b)| a * b).sum::<f64>()` for four rows of equal length at once:
/// four independent chains of the same additions in the same order, so each is the iterator's sum
/// to the last bit.
fn sums_of_products4(rows: [&[f64]; 4], x: &[f64]) -> [f64; 4] {
    let zero: f64 = std::iter::empty::<f64>().sum();
    let len = rows.iter().map(|r| r.len()).fold(x.len(), usize::min);
    let mut s = [zero; 4];
    for p in 0..len {
        for (s, r) in s.iter_mut().zip(rows) {
            *s += r[p] * x[p];
        }
    }
    s
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
    fn four_dot_products_at_once_are_each_the_single_one_to_the_last_bit() {
        for n in [0, 1, 3, 4, 7, 8, 13, 64, 101] {
            let v = |seed: f64| -> Vec<f64> {
                (0..n)
                    .map(|i| (seed * (i as f64 + 1.0)).sin() * 1e3f64.powf((i % 5) as f64 - 2.0))
                    .collect()
            };
            let (a, b, c, d, y) = (v(0.7), v(1.3), v(2.9), v(0.11), v(5.3));
            let four = dot4([&a, &b, &c, &d], &y);
            for (x, got) in [&a, &b, &c, &d].into_iter().zip(four) {
                assert_eq!(got.to_bits(), dot(x, &y).to_bits(), "n = {n}");
            }
        }
    }

    #[test]
    fn the_four_row_forward_substitution_is_the_one_row_one_to_the_last_bit() {
        let n = 23;
        let q: Vec<f64> = (0..n * n)
            .map(|ij| ((ij * 7919 % 113) as f64 - 56.0) * 1e-3f64.powi((ij % 3) as i32))
            .collect();
        let h: Vec<f64> = (0..n).map(|i| (i as f64 * 1.1).sin()).collect();
        // A lower-triangular factor with a positive diagonal: the forward substitution one row at a
        // time, then the shared back substitution.
        let l: Vec<f64> = (0..n * n)
            .map(|ij| match (ij / n, ij % n) {
                (a, b) if a == b => 1.0 + a as f64 * 0.1,
                (a, b) if b < a => q[ij] * 0.1,
                _ => 0.0,
            })
            .collect();
        let mut fast = h.clone();
        cholesky_solve(&l, n, &mut fast);
        let mut one = h.clone();
        for i in 0..n {
            let mut v = one[i];
            for p in 0..i {
                v -= l[i * n + p] * one[p];
            }
            one[i] = v / l[i * n + i];
        }
        back_substitute(&l, n, &mut one);
        for i in 0..n {
            assert_eq!(fast[i].to_bits(), one[i].to_bits(), "entry {i}");
        }
    }
}
