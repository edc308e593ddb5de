//! Building a problem: the weighted design, its Gram matrix, the penalty and the lambda range,
//! once per data set (and cheaply again for resampled data of the same points).

use faer::Mat;

use super::super::kernel::Kernel;
use super::super::penalty::{difference_operator, extremal_eigenvalues, gram_of};
use super::{BlockInfo, DataBlock, InversionError, Problem, ProblemSettings, UNSCALED_Y};

/// The power of two by which data whose largest |y| is `largest` are divided: 1 inside
/// [`UNSCALED_Y`] (and for zero or non-finite data, which other checks refuse).
fn data_scale_for(largest: f64) -> f64 {
    if UNSCALED_Y.contains(&largest) || !(largest.is_finite() && largest > 0.0) {
        return 1.0;
    }
    2f64.powi(largest.log2().round() as i32)
}

/// Multiple of the data-dominated scale below which lambda is not taken (penalty 1e-12 of the data
/// term in the strongest direction).
const LAMBDA_MIN_RATIO: f64 = 1e-12;
/// Multiple at the penalty-dominated end: every penalized mode is damped tenfold beyond the data.
const LAMBDA_MAX_RATIO: f64 = 10.0;

impl Problem {
    /// Builds the problem for data `y` at `x` with optional standard deviations `sigma`.
    ///
    /// # Errors
    /// [`InversionError`] for mismatched lengths, too few points for the unknowns, or bad sigma.
    pub fn new(
        x: &[f64],
        y: &[f64],
        sigma: Option<&[f64]>,
        settings: ProblemSettings,
    ) -> Result<Self, InversionError> {
        let block = DataBlock {
            kernel: settings.kernel,
            baseline: settings.baseline,
            x,
            y,
            sigma,
        };
        Self::joint(&[block], settings)
    }

    /// Builds one problem for several data sets that share the spectrum (docs/model.md §7): their
    /// rows are stacked in order, each with its own kernel, weights and baseline columns (in that
    /// order after the spectrum). Either every set gives sigma or none does. `settings.kernel` and
    /// `settings.baseline` are replaced by the first set's; [`Problem::blocks`] describes all.
    ///
    /// # Errors
    /// [`InversionError`] for no sets, mismatched lengths, a set with too few points for its
    /// baseline, sigma on some sets only, or bad sigma.
    pub fn joint(
        blocks: &[DataBlock<'_>],
        settings: ProblemSettings,
    ) -> Result<Self, InversionError> {
        let taus = settings.grid.taus_s();
        Self::assemble(blocks, settings, |k, _, x, j| k.eval(x, taus[j]))
    }

    /// Builds the problem for data `y` at `x` whose kernel is given as a table: `kernel[(i, j)]`
    /// is the response at data point i to a unit amplitude at grid point j (M x N), for kernels
    /// that are not a function of x and tau alone (a temperature history: [`crate::inversion::energy`]).
    /// `settings.kernel` names the response's family (creep, loss) for reports only.
    ///
    /// # Errors
    /// As [`Problem::new`], and for a table whose shape is not M x N or holds a non-finite value.
    pub fn tabulated(
        x: &[f64],
        y: &[f64],
        sigma: Option<&[f64]>,
        kernel: &Mat<f64>,
        settings: ProblemSettings,
    ) -> Result<Self, InversionError> {
        if kernel.nrows() != x.len() || kernel.ncols() != settings.grid.len() {
            return Err(InversionError::Invalid(format!(
                "a kernel table of {} x {} for {} data points and {} grid points",
                kernel.nrows(),
                kernel.ncols(),
                x.len(),
                settings.grid.len()
            )));
        }
        if (0..kernel.ncols()).any(|j| kernel.col(j).iter().any(|v| !v.is_finite())) {
            return Err(InversionError::Invalid(
                "the kernel table holds a non-finite value".into(),
            ));
        }
        let block = DataBlock {
            kernel: settings.kernel,
            baseline: settings.baseline,
            x,
            y,
            sigma,
        };
        Self::assemble(&[block], settings, |_, i, _, j| kernel[(i, j)])
    }

    /// The assembly shared by [`Problem::joint`] and [`Problem::tabulated`]: `kernel(k, i, x, j)`
    /// is the unweighted response of row i (at `x`, of a block with kernel k) to grid point j.
    fn assemble<F>(
        blocks: &[DataBlock<'_>],
        settings: ProblemSettings,
        kernel: F,
    ) -> Result<Self, InversionError>
    where
        F: Fn(Kernel, usize, f64, usize) -> f64,
    {
        let Some(first) = blocks.first() else {
            return Err(InversionError::Invalid("no data sets".into()));
        };
        let settings = ProblemSettings {
            kernel: first.kernel,
            baseline: first.baseline,
            ..settings
        };
        if settings.order > super::super::settings::MAX_ORDER {
            return Err(InversionError::Invalid(format!(
                "difference order {} must be 0, 1, 2 or {}",
                settings.order,
                super::super::settings::MAX_ORDER
            )));
        }
        let sigma_given = first.sigma.is_some();
        if blocks.iter().any(|b| b.sigma.is_some() != sigma_given) {
            return Err(InversionError::Invalid(
                "either every data set gives sigma or none does".into(),
            ));
        }
        let n_spec = settings.grid.len();
        let (mut x, mut y, mut weights) = (Vec::new(), Vec::new(), Vec::new());
        let mut infos = Vec::with_capacity(blocks.len());
        let mut columns = n_spec;
        for b in blocks {
            let m = b.x.len();
            if b.y.len() != m || b.sigma.is_some_and(|s| s.len() != m) {
                return Err(InversionError::Invalid(
                    "x, y and sigma must have equal lengths".into(),
                ));
            }
            let n_base = b.baseline.columns();
            if m <= n_base + 1 {
                return Err(InversionError::Invalid(format!(
                    "{m} points cannot determine {n_base} baseline terms and a spectrum"
                )));
            }
            if let Some(s) = b.sigma {
                if let Some((i, v)) = s
                    .iter()
                    .enumerate()
                    .find(|(_, v)| !(v.is_finite() && **v > 0.0))
                {
                    return Err(InversionError::Invalid(format!(
                        "sigma[{i}] = {v} must be > 0"
                    )));
                }
                weights.extend(s.iter().map(|v| 1.0 / v));
            } else {
                weights.extend(std::iter::repeat_n(1.0, m));
            }
            infos.push(BlockInfo {
                kernel: b.kernel,
                baseline: b.baseline,
                rows: x.len()..x.len() + m,
                columns: columns..columns + n_base,
                linear_scale: b
                    .x
                    .iter()
                    .fold(0.0f64, |a, v| a.max(v.abs()))
                    .max(f64::MIN_POSITIVE),
            });
            columns += n_base;
            x.extend_from_slice(b.x);
            y.extend_from_slice(b.y);
        }
        // The scaled data (exact: the scale is a power of two) and their weights.
        let scale = data_scale_for(y.iter().fold(0.0f64, |a, v| a.max(v.abs())));
        let scaled_y: Vec<f64> = y.iter().map(|v| v / scale).collect();
        let scaled_weights: Vec<f64> = if sigma_given {
            weights.iter().map(|w| w * scale).collect()
        } else {
            weights.clone()
        };
        let (m, n) = (x.len(), columns);
        let row_block: Vec<usize> = infos
            .iter()
            .enumerate()
            .flat_map(|(k, b)| std::iter::repeat_n(k, b.rows.len()))
            .collect();
        let design = Mat::<f64>::from_fn(m, n, |i, j| {
            let b = &infos[row_block[i]];
            let v = if j < n_spec {
                kernel(b.kernel, i, x[i], j)
            } else if !b.columns.contains(&j) {
                0.0
            } else if j == b.columns.start {
                1.0
            } else {
                x[i] / b.linear_scale
            };
            scaled_weights[i] * v
        });
        let g = design.transpose() * &design;
        let gram: Vec<f64> = (0..n * n).map(|k| g[(k / n, k % n)]).collect();
        let DataTerms { aty, yty, ss_tot } = DataTerms::of(&design, &scaled_weights, &scaled_y);
        if !(yty.is_finite() && g.norm_max().is_finite()) {
            return Err(InversionError::Invalid(
                "the weighted data leave the range of f64: sigma is too small or too large for y \
                 (their ratio must lie within about 1e150)"
                    .into(),
            ));
        }

        let (penalty_rows, l_spec) =
            difference_operator(n_spec, settings.order, settings.zero_boundary);
        let mut penalty = vec![0.0; penalty_rows * n];
        for r in 0..penalty_rows {
            penalty[r * n..r * n + n_spec].copy_from_slice(&l_spec[r * n_spec..(r + 1) * n_spec]);
        }
        let ltl = gram_of(penalty_rows, n, &penalty);

        // lambda range from the spectra of the data and penalty Gram matrices.
        // A scale, not a precise number.
        let e_data = largest_eigenvalue(&gram, n, n_spec, 1e-6, 100);
        let (e_pen_min, e_pen_max) =
            extremal_eigenvalues(n_spec, settings.order, settings.zero_boundary).ok_or_else(
                || InversionError::Invalid("eigenvalues of L^T L did not converge".into()),
            )?;
        if !(e_data > 0.0) {
            return Err(InversionError::Invalid(
                "the kernel is zero at every data point".into(),
            ));
        }
        let lambda_max = (LAMBDA_MAX_RATIO * e_data / e_pen_min).sqrt();
        let lambda_min = (LAMBDA_MIN_RATIO * e_data / e_pen_max).sqrt();

        let constrained = (0..n)
            .map(|j| j < n_spec || settings.baseline_nonnegative)
            .collect();
        Ok(Self {
            settings,
            x,
            y,
            weights,
            scaled_y,
            scaled_weights,
            scale,
            sigma_given,
            blocks: infos,
            design: std::sync::Arc::new(design),
            n_spec,
            n,
            gram,
            aty,
            yty,
            ss_tot,
            penalty_rows,
            penalty,
            ltl,
            constrained,
            lambda_max,
            lambda_min,
            penalty_top: e_pen_max,
        })
    }

    /// The same problem for other data `y` at the same points, with the same sigma: the design,
    /// penalty and lambda range are reused, so a resample costs O(M N) instead of a rebuild.
    ///
    /// # Errors
    /// [`InversionError::Invalid`] when `y` has a different length.
    pub fn with_data(&self, y: &[f64]) -> Result<Self, InversionError> {
        if y.len() != self.len() {
            return Err(InversionError::Invalid(format!(
                "{} new data values for a problem of {} points",
                y.len(),
                self.len()
            )));
        }
        let scaled: Vec<f64> = y.iter().map(|v| v / self.scale).collect();
        let DataTerms { aty, yty, ss_tot } =
            DataTerms::of(&self.design, &self.scaled_weights, &scaled);
        Ok(Self {
            scaled_y: scaled,
            y: y.to_vec(),
            aty,
            yty,
            ss_tot,
            ..self.clone()
        })
    }
}

/// The terms of a problem that depend on the data: A^T W y, ||W y||^2 and the weighted total sum
/// of squares about the weighted mean (the denominator of R^2).
struct DataTerms {
    aty: Vec<f64>,
    yty: f64,
    ss_tot: f64,
}

impl DataTerms {
    fn of(design: &Mat<f64>, weights: &[f64], y: &[f64]) -> Self {
        let yw: Vec<f64> = y.iter().zip(weights).map(|(a, w)| a * w).collect();
        let aty = (0..design.ncols())
            .map(|j| (0..y.len()).map(|i| design[(i, j)] * yw[i]).sum())
            .collect();
        let yty = yw.iter().map(|v| v * v).sum();
        let w2: f64 = weights.iter().map(|w| w * w).sum();
        let mean = y.iter().zip(weights).map(|(a, w)| a * w * w).sum::<f64>() / w2;
        let ss_tot = y
            .iter()
            .zip(weights)
            .map(|(a, w)| (w * (a - mean)).powi(2))
            .sum();
        Self { aty, yty, ss_tot }
    }
}

/// Largest eigenvalue of the leading `k` x `k` block of a symmetric positive semidefinite n x n
/// matrix, by power iteration: stops when successive estimates agree to `rel_tol` or after
/// `max_iter` steps. The estimate approaches the eigenvalue from below.
pub(crate) fn largest_eigenvalue(
    a: &[f64],
    n: usize,
    k: usize,
    rel_tol: f64,
    max_iter: usize,
) -> f64 {
    let mut v = vec![1.0 / (k as f64).sqrt(); k];
    let mut value = 0.0;
    for _ in 0..max_iter {
        let w: Vec<f64> = (0..k)
            .map(|i| (0..k).map(|j| a[i * n + j] * v[j]).sum())
            .collect();
        let norm = w.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm == 0.0 {
            return 0.0;
        }
        let converged = (norm - value).abs() <= rel_tol * norm;
        value = norm;
        v = w.into_iter().map(|x| x / norm).collect();
        if converged {
            break;
        }
    }
    value
}
