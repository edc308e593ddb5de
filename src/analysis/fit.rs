//! Small nonlinear least squares (Levenberg-Marquardt with a numerical Jacobian) and weighted
//! straight-line fits, with parameter standard errors from the curvature of the misfit.

/// A least-squares fit.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    /// Parameters at the minimum.
    pub params: Vec<f64>,
    /// Standard errors: sqrt(diag(s^2 (J^T J)^-1)), s^2 = RSS / (M - P) (NaN when M <= P or J^T J
    /// is singular).
    pub stderr: Vec<f64>,
    /// Residual sum of squares.
    pub rss: f64,
    /// Number of residuals.
    pub m: usize,
    /// Whether the relative decrease of the RSS fell below the tolerance.
    pub converged: bool,
}

impl Fit {
    /// Root-mean-square residual.
    pub fn rms(&self) -> f64 {
        (self.rss / self.m as f64).sqrt()
    }
}

/// Minimizes the sum of squares of `residuals(p)` from `start`. Steps that give non-finite
/// residuals are refused (the damping grows), so a model can reject a parameter range by returning
/// NaN.
pub fn least_squares(residuals: impl Fn(&[f64]) -> Vec<f64>, start: &[f64]) -> Fit {
    let n = start.len();
    let mut p = start.to_vec();
    let mut r = residuals(&p);
    let m = r.len();
    let ss = |r: &[f64]| -> f64 {
        if r.iter().all(|v| v.is_finite()) {
            r.iter().map(|v| v * v).sum()
        } else {
            f64::INFINITY
        }
    };
    let mut rss = ss(&r);
    let mut mu = 1e-3;
    let mut converged = false;
    for _ in 0..500 {
        let j = jacobian(&residuals, &p, &r);
        let (jtj, jtr) = normal_equations(&j, &r, n);
        let mut improved = false;
        for _ in 0..40 {
            let mut a = jtj.clone();
            for k in 0..n {
                a[k * n + k] += mu * jtj[k * n + k].max(1e-300);
            }
            let Some(step) = solve(&a, &jtr.iter().map(|v| -v).collect::<Vec<_>>(), n) else {
                mu *= 10.0;
                continue;
            };
            let trial: Vec<f64> = p.iter().zip(&step).map(|(a, b)| a + b).collect();
            let rt = residuals(&trial);
            let rss_t = ss(&rt);
            if rss_t < rss {
                let decrease = (rss - rss_t) / rss.max(1e-300);
                p = trial;
                r = rt;
                rss = rss_t;
                mu = (mu / 3.0).max(1e-12);
                improved = true;
                if decrease < 1e-12 {
                    converged = true;
                }
                break;
            }
            mu *= 4.0;
        }
        if !improved {
            // No step lowers the misfit: a minimum to working precision.
            converged = true;
        }
        if converged {
            break;
        }
    }
    let j = jacobian(&residuals, &p, &r);
    let (jtj, _) = normal_equations(&j, &r, n);
    let stderr = if m > n {
        let s2 = rss / (m - n) as f64;
        match invert(&jtj, n) {
            Some(inv) => (0..n).map(|k| (s2 * inv[k * n + k]).sqrt()).collect(),
            None => vec![f64::NAN; n],
        }
    } else {
        vec![f64::NAN; n]
    };
    Fit {
        params: p,
        stderr,
        rss,
        m,
        converged,
    }
}

/// Central-difference Jacobian, row-major m x n (one-sided where a side is not finite).
fn jacobian(f: &impl Fn(&[f64]) -> Vec<f64>, p: &[f64], r: &[f64]) -> Vec<f64> {
    let n = p.len();
    let m = r.len();
    let mut j = vec![0.0; m * n];
    for k in 0..n {
        let h = 1e-6 * p[k].abs().max(1e-8);
        let mut up = p.to_vec();
        up[k] += h;
        let mut down = p.to_vec();
        down[k] -= h;
        let (ru, rd) = (f(&up), f(&down));
        let fu = ru.iter().all(|v| v.is_finite());
        let fd = rd.iter().all(|v| v.is_finite());
        for i in 0..m {
            j[i * n + k] = match (fu, fd) {
                (true, true) => (ru[i] - rd[i]) / (2.0 * h),
                (true, false) => (ru[i] - r[i]) / h,
                (false, true) => (r[i] - rd[i]) / h,
                (false, false) => 0.0,
            };
        }
    }
    j
}

fn normal_equations(j: &[f64], r: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    let m = r.len();
    let mut jtj = vec![0.0; n * n];
    let mut jtr = vec![0.0; n];
    for i in 0..m {
        let row = &j[i * n..(i + 1) * n];
        for a in 0..n {
            jtr[a] += row[a] * r[i];
            for b in 0..n {
                jtj[a * n + b] += row[a] * row[b];
            }
        }
    }
    (jtj, jtr)
}

/// Solves the small dense system a x = b by Gaussian elimination with partial pivoting.
pub fn solve(a: &[f64], b: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut a = a.to_vec();
    let mut x = b.to_vec();
    for c in 0..n {
        let piv = (c..n).max_by(|&i, &k| a[i * n + c].abs().total_cmp(&a[k * n + c].abs()))?;
        if !(a[piv * n + c].abs() > 0.0) || !a[piv * n + c].is_finite() {
            return None;
        }
        if piv != c {
            for k in 0..n {
                a.swap(c * n + k, piv * n + k);
            }
            x.swap(c, piv);
        }
        for i in c + 1..n {
            let f = a[i * n + c] / a[c * n + c];
            for k in c..n {
                a[i * n + k] -= f * a[c * n + k];
            }
            x[i] -= f * x[c];
        }
    }
    for c in (0..n).rev() {
        let s: f64 = (c + 1..n).map(|k| a[c * n + k] * x[k]).sum();
        x[c] = (x[c] - s) / a[c * n + c];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

fn invert(a: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut inv = vec![0.0; n * n];
    for c in 0..n {
        let mut e = vec![0.0; n];
        e[c] = 1.0;
        let col = solve(a, &e, n)?;
        for r in 0..n {
            inv[r * n + c] = col[r];
        }
    }
    Some(inv)
}

/// Golden-section search for the minimum of `score(eval(x))` over [a, b], assumed unimodal:
/// `iterations` reductions of the bracket by the golden ratio, then the better of the two interior
/// evaluations (x and its evaluation).
pub fn golden_section<T>(
    mut a: f64,
    mut b: f64,
    iterations: usize,
    eval: impl Fn(f64) -> T,
    score: impl Fn(&T) -> f64,
) -> (f64, T) {
    let g = (5f64.sqrt() - 1.0) / 2.0;
    let (mut x1, mut x2) = (b - g * (b - a), a + g * (b - a));
    let (mut f1, mut f2) = (eval(x1), eval(x2));
    for _ in 0..iterations {
        if score(&f1) < score(&f2) {
            b = x2;
            x2 = x1;
            f2 = f1;
            x1 = b - g * (b - a);
            f1 = eval(x1);
        } else {
            a = x1;
            x1 = x2;
            f1 = f2;
            x2 = a + g * (b - a);
            f2 = eval(x2);
        }
    }
    if score(&f1) < score(&f2) {
        (x1, f1)
    } else {
        (x2, f2)
    }
}

/// A weighted straight line y = a + b x.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Line {
    /// Intercept.
    pub intercept: f64,
    /// Slope.
    pub slope: f64,
    /// Standard error of the slope (from the scatter about the line when `weights` are relative).
    pub slope_stderr: f64,
}

/// Weighted least-squares line through (x, y) with weights w (1/variance, up to a common factor);
/// the slope's error is scaled by the scatter about the line. None with fewer than 2 points.
pub fn line(x: &[f64], y: &[f64], w: &[f64]) -> Option<Line> {
    let sw: f64 = w.iter().sum();
    if x.len() < 2 || !(sw > 0.0) {
        return None;
    }
    let mx = x.iter().zip(w).map(|(a, b)| a * b).sum::<f64>() / sw;
    let my = y.iter().zip(w).map(|(a, b)| a * b).sum::<f64>() / sw;
    let sxx: f64 = x.iter().zip(w).map(|(a, b)| b * (a - mx).powi(2)).sum();
    let sxy: f64 = x
        .iter()
        .zip(y)
        .zip(w)
        .map(|((a, c), b)| b * (a - mx) * (c - my))
        .sum();
    if !(sxx > 0.0) {
        return None;
    }
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    let chi2: f64 = x
        .iter()
        .zip(y)
        .zip(w)
        .map(|((a, c), b)| b * (c - my - slope * (a - mx)).powi(2))
        .sum();
    let dof = x.len().saturating_sub(2);
    let slope_stderr = if dof > 0 {
        (chi2 / dof as f64 / sxx).sqrt()
    } else {
        f64::NAN
    };
    Some(Line {
        intercept,
        slope,
        slope_stderr,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exact_exponential_is_recovered() {
        let t: Vec<f64> = (0..50).map(|i| i as f64 * 0.2).collect();
        let y: Vec<f64> = t.iter().map(|t| 2.5 * (-t / 1.7).exp()).collect();
        let fit = least_squares(
            |p| {
                t.iter()
                    .zip(&y)
                    .map(|(t, y)| p[0] * (-t / p[1]).exp() - y)
                    .collect()
            },
            &[1.0, 5.0],
        );
        assert!(fit.converged);
        assert!((fit.params[0] - 2.5).abs() < 1e-8, "{:?}", fit.params);
        assert!((fit.params[1] - 1.7).abs() < 1e-8, "{:?}", fit.params);
        assert!(fit.rss < 1e-16);
    }

    #[test]
    fn standard_errors_match_the_closed_form_of_a_linear_model() {
        // y = a x with residual scatter: se(a) = s / sqrt(sum x^2).
        let x = [1.0, 2.0, 3.0, 4.0];
        let y = [1.1, 1.9, 3.2, 3.9];
        let fit = least_squares(
            |p| x.iter().zip(&y).map(|(x, y)| p[0] * x - y).collect(),
            &[0.0],
        );
        let sxx: f64 = x.iter().map(|v| v * v).sum();
        let a = x.iter().zip(&y).map(|(a, b)| a * b).sum::<f64>() / sxx;
        let rss: f64 = x.iter().zip(&y).map(|(x, y)| (a * x - y).powi(2)).sum();
        let se = (rss / 3.0 / sxx).sqrt();
        assert!((fit.params[0] - a).abs() < 1e-9);
        assert!(
            (fit.stderr[0] / se - 1.0).abs() < 1e-5,
            "{} {se}",
            fit.stderr[0]
        );
    }

    #[test]
    fn golden_section_finds_a_parabola_minimum() {
        let (x, v) = golden_section(-1.0, 4.0, 80, |x| (x - 1.3).powi(2) + 2.0, |v| *v);
        assert!((x - 1.3).abs() < 1e-7, "{x}");
        assert!((v - 2.0).abs() < 1e-14);
    }

    #[test]
    fn lines_fit_exactly_and_report_their_scatter() {
        let l = line(&[0.0, 1.0, 2.0], &[1.0, 3.0, 5.0], &[1.0; 3]).unwrap();
        assert!((l.slope - 2.0).abs() < 1e-14 && (l.intercept - 1.0).abs() < 1e-14);
        assert!(l.slope_stderr.abs() < 1e-7);
        // y = [0, 1, 1]: slope 0.5, residuals -1/6, 1/3, -1/6, chi2 1/6, sxx 2 -> se sqrt(1/12).
        let l = line(&[0.0, 1.0, 2.0], &[0.0, 1.0, 1.0], &[1.0; 3]).unwrap();
        assert!((l.slope_stderr - (1.0f64 / 12.0).sqrt()).abs() < 1e-14);
        assert!(line(&[1.0, 1.0], &[0.0, 1.0], &[1.0; 2]).is_none());
    }
}
