//! The discretized inverse problem: weighted design [W K, W B], its Gram matrix, the penalty and the
//! scale of lambda, built once and solved for many lambda.

use faer::Mat;
use serde::{Deserialize, Serialize};

use super::dense::row_sums;
use super::kernel::Kernel;
use super::nnls::{self, factor_block, NnlsInfo, NnlsParams, NnlsWorkspace};
use super::penalty::{difference_operator, extremal_eigenvalues, gram_of};
use super::terms::{
    ln_pdet_gram, penalty_trace, ActiveSetTerms, FactorTerms, KeptColumns, PriorTerms,
};
use super::PathPoint;
use crate::spectrum::LnTauGrid;

/// Unregularized background terms fitted with the spectrum (docs/model.md §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Baseline {
    /// No background.
    None,
    /// c_inf: processes far slower than the window (the paper's mandrel fit).
    #[default]
    Constant,
    /// c_inf + B x: adds a linear term (the paper's cantilever fit).
    #[serde(rename = "constant+linear")]
    ConstantLinear,
}

impl Baseline {
    /// Number of baseline columns.
    pub fn columns(self) -> usize {
        match self {
            Self::None => 0,
            Self::Constant => 1,
            Self::ConstantLinear => 2,
        }
    }

    /// Names of the coefficients, in column order, with units.
    pub fn names(self) -> &'static [&'static str] {
        match self {
            Self::None => &[],
            Self::Constant => &["c_inf"],
            Self::ConstantLinear => &["c_inf", "slope_per_x"],
        }
    }
}

/// Why a problem could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InversionError {
    /// Data and settings do not fit together.
    #[error("{0}")]
    Invalid(String),
}

/// Settings of the discretization and the solver.
#[derive(Debug, Clone, PartialEq)]
pub struct ProblemSettings {
    /// The kernel.
    pub kernel: Kernel,
    /// The tau grid.
    pub grid: LnTauGrid,
    /// Background terms.
    pub baseline: Baseline,
    /// Impose baseline coefficients >= 0.
    pub baseline_nonnegative: bool,
    /// Order r of the difference penalty (0, 1, 2).
    pub order: usize,
    /// Take the amplitudes as zero beyond the grid ends (CONTIN).
    pub zero_boundary: bool,
    /// NNLS settings.
    pub nnls: NnlsParams,
    /// The maxent family's flat default model m as a multiple of its default (the strongest
    /// Tikhonov solution's total amplitude spread evenly over the grid), > 0; other families do
    /// not use it.
    pub maxent_model: f64,
    /// The total-variation family's rounding scale as a fraction of the largest difference of the
    /// Tikhonov solution at each lambda, > 0 ([`crate::inversion::edge::EDGE_SCALE`] by default);
    /// other families do not use it.
    pub edge_scale: f64,
}

impl ProblemSettings {
    /// The defaults on `grid`: no baseline, second differences (r = 2), no zero boundary, the
    /// default solver settings. Change a field with struct update syntax:
    /// `ProblemSettings { baseline: Baseline::Constant, ..ProblemSettings::new(kernel, grid) }`.
    pub fn new(kernel: Kernel, grid: LnTauGrid) -> Self {
        Self {
            kernel,
            grid,
            baseline: Baseline::None,
            baseline_nonnegative: false,
            order: 2,
            zero_boundary: false,
            nnls: NnlsParams::default(),
            maxent_model: 1.0,
            edge_scale: super::edge::EDGE_SCALE,
        }
    }
}

/// One data set of a joint problem (see [`Problem::joint`]).
#[derive(Debug, Clone, Copy)]
pub struct DataBlock<'a> {
    /// Its kernel.
    pub kernel: Kernel,
    /// Its own baseline terms.
    pub baseline: Baseline,
    /// Abscissae (s, or rad/s for the loss kernel).
    pub x: &'a [f64],
    /// Data.
    pub y: &'a [f64],
    /// Standard deviations, if known.
    pub sigma: Option<&'a [f64]>,
}

/// Where a data set sits in a (joint) problem.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockInfo {
    /// Its kernel.
    pub kernel: Kernel,
    /// Its baseline.
    pub baseline: Baseline,
    /// Its rows among the problem's data.
    pub rows: std::ops::Range<usize>,
    /// Its baseline coefficients' positions in the coefficient vector (spectrum first); subtract
    /// the grid length for their positions in [`Solution::baseline`].
    pub columns: std::ops::Range<usize>,
    /// Largest |x| of the set: its linear term's internal scale.
    linear_scale: f64,
}

/// The assembled problem.
///
/// Its numerics run on the data divided by [`Problem::data_scale`] (a power of two, so exactly):
/// amplitudes, baselines and fits come back in the data's unit, while lambda and the fit
/// statistics ([`FitStats`], the rules' scores) are those of the scaled problem.
#[derive(Debug, Clone)]
pub struct Problem {
    settings: ProblemSettings,
    x: Vec<f64>,
    /// The data as given.
    y: Vec<f64>,
    /// 1 / sigma as given, or 1.
    weights: Vec<f64>,
    /// The data divided by `scale`.
    scaled_y: Vec<f64>,
    /// The weights of the scaled data: `scale` / sigma, or 1 when no sigma is given.
    scaled_weights: Vec<f64>,
    /// A power of two; 1 unless the data's largest |y| leaves [`UNSCALED_Y`].
    scale: f64,
    sigma_given: bool,
    /// Shared by the problems [`Problem::with_data`] makes (M x N, the largest part).
    design: std::sync::Arc<Mat<f64>>,
    n_spec: usize,
    n: usize,
    gram: Vec<f64>,
    aty: Vec<f64>,
    yty: f64,
    ss_tot: f64,
    penalty_rows: usize,
    penalty: Vec<f64>,
    ltl: Vec<f64>,
    constrained: Vec<bool>,
    blocks: Vec<BlockInfo>,
    lambda_max: f64,
    lambda_min: f64,
    /// Largest eigenvalue of L^T L on the spectrum block.
    penalty_top: f64,
}

/// One solution at one lambda.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Solution {
    /// lambda of the objective.
    pub lambda: f64,
    /// Spectrum amplitudes (weights of the grid points), in the data's unit.
    pub amplitudes: Vec<f64>,
    /// Baseline coefficients in data units (c_inf; slope per unit x).
    pub baseline: Vec<f64>,
    /// Solver report.
    pub info: NnlsInfo,
    /// Fit statistics.
    pub stats: FitStats,
}

/// Statistics of a fit, of the data divided by [`Problem::data_scale`] (the same as the data's
/// own unless their largest |y| leaves [`UNSCALED_Y`]; chi^2 with sigma given is the same always).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FitStats {
    /// ||W r||, weighted residual norm (plain when no sigma is given).
    pub residual_norm: f64,
    /// ||W r||^2: chi-square when sigma is given.
    pub weighted_ss: f64,
    /// Coefficient of determination 1 - ||W r||^2 / ||W (y - weighted mean)||^2.
    pub r2: f64,
    /// ||L f||.
    pub penalty_norm: f64,
    /// Effective degrees of freedom: trace of the influence matrix on the free (non-zero) set.
    pub dof: f64,
}

/// Data whose largest |y| lies in this range are solved as they are; beyond it, they are divided by
/// the power of two nearest their largest |y| (issue 15: any scale from 1e-300 to 1e300 gives the
/// same choice, and the squares and determinants of the rules stay inside f64's range).
pub const UNSCALED_Y: std::ops::RangeInclusive<f64> = 1e-100..=1e100;

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

/// Below this fraction of ||W y||^2, ||W r||^2 is formed from the residual itself
/// ([`Problem::weighted_ss`]).
const DIRECT_RESIDUAL_BELOW: f64 = 1e-9;

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
    /// that are not a function of x and tau alone (a temperature history: [`super::energy`]).
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
        if settings.order > super::settings::MAX_ORDER {
            return Err(InversionError::Invalid(format!(
                "difference order {} must be 0, 1, 2 or {}",
                settings.order,
                super::settings::MAX_ORDER
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

    /// The data sets in row order (one for a problem built by [`Problem::new`]).
    pub fn blocks(&self) -> &[BlockInfo] {
        &self.blocks
    }

    /// Settings the problem was built with.
    pub fn settings(&self) -> &ProblemSettings {
        &self.settings
    }

    /// The tau grid.
    pub fn grid(&self) -> &LnTauGrid {
        &self.settings.grid
    }

    /// Number of data points M.
    pub fn len(&self) -> usize {
        self.x.len()
    }

    /// Always false: a problem has data.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Whether sigma was given (the weighted sum of squares is then a chi-square).
    pub fn sigma_given(&self) -> bool {
        self.sigma_given
    }

    /// The data abscissae.
    pub fn x(&self) -> &[f64] {
        &self.x
    }

    /// The data.
    pub fn y(&self) -> &[f64] {
        &self.y
    }

    /// Weights 1/sigma (1 when no sigma is given).
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// The power of two the data are divided by for the numerics (1 unless their largest |y|
    /// leaves [`UNSCALED_Y`]): lambda, the fit statistics and the rules' scores are those of the
    /// data divided by it (chi^2 with sigma given is the same either way).
    pub fn data_scale(&self) -> f64 {
        self.scale
    }

    /// The lambda range derived from the problem: (data-dominated end, penalty-dominated end).
    pub fn lambda_range(&self) -> (f64, f64) {
        (self.lambda_min, self.lambda_max)
    }

    /// A fresh coefficient vector (spectrum then baseline), all zero.
    pub fn zeros(&self) -> Vec<f64> {
        vec![0.0; self.n]
    }

    /// Solves at `lambda`, warm-started from `coef` (spectrum then baseline, internal scaling), which
    /// receives the solution.
    pub fn solve(&self, lambda: f64, coef: &mut [f64], ws: &mut Workspace) -> Solution {
        self.solve_with(lambda, coef, false, ws).0
    }

    /// [`Problem::solve`], with the factor's terms of the linearized problem on the free set when
    /// `terms` is set (the rules' evidence and robust GCV; from the factor the degrees of freedom
    /// use, at the cost of one more product).
    pub(crate) fn solve_with(
        &self,
        lambda: f64,
        coef: &mut [f64],
        terms: bool,
        ws: &mut Workspace,
    ) -> (Solution, Option<FactorTerms>) {
        self.solve_penalized(
            lambda,
            (&self.penalty, &self.ltl),
            &self.aty,
            coef,
            terms,
            ws,
        )
    }

    /// One NNLS solve of G + lambda^2 L^T L against `h`, with the fit statistics (and with
    /// `terms` the factor's terms) of the penalty: its rows L and their Gram matrix L^T L.
    fn solve_penalized(
        &self,
        lambda: f64,
        (penalty, ltl): (&[f64], &[f64]),
        h: &[f64],
        coef: &mut [f64],
        terms: bool,
        ws: &mut Workspace,
    ) -> (Solution, Option<FactorTerms>) {
        let l2 = lambda * lambda;
        ws.q.clear();
        ws.q.extend(self.gram.iter().zip(ltl).map(|(g, l)| g + l2 * l));
        let info = nnls::solve(
            &ws.q,
            h,
            &self.constrained,
            coef,
            &self.settings.nnls,
            &mut ws.nnls,
        );
        let (stats, terms) = self.stats_with_q(coef, l2, terms, penalty, ws);
        (self.solution(lambda, coef, info, stats), terms)
    }

    /// The penalty's rows each scaled by the square root of its weight: the penalty
    /// sum_r w_r (L f)_r^2 is ||L_w f||^2.
    pub(crate) fn weighted_penalty(&self, weights: &[f64]) -> Vec<f64> {
        let n = self.n;
        let mut rows = self.penalty.clone();
        for (row, w) in rows.chunks_mut(n).zip(weights) {
            let s = w.sqrt();
            row.iter_mut().for_each(|v| *v *= s);
        }
        rows
    }

    /// L^T v for one value per penalty row.
    pub(crate) fn penalty_transpose(&self, v: &[f64], out: &mut Vec<f64>) {
        out.clear();
        out.resize(self.n, 0.0);
        for (row, &x) in self.penalty.chunks(self.n).zip(v) {
            if x != 0.0 {
                out.iter_mut().zip(row).for_each(|(o, l)| *o += l * x);
            }
        }
    }

    /// The penalty differences L f of the coefficients `coef` (internal scaling), one per row.
    pub(crate) fn penalty_differences(&self, coef: &[f64], out: &mut Vec<f64>) {
        out.clear();
        out.extend(
            self.penalty
                .chunks(self.n)
                .map(|row| row.iter().zip(coef).map(|(l, c)| l * c).sum::<f64>()),
        );
    }

    /// [`Problem::solve_with`] with the penalty sum_r w_r (L f)_r^2 of row weights `weights`
    /// (one per penalty row, > 0) and, with `shift`, the linear term K^T W^2 y - shift: the fit
    /// statistics and factor terms are those of this weighted problem.
    pub(crate) fn solve_weighted(
        &self,
        lambda: f64,
        weights: &[f64],
        shift: Option<&[f64]>,
        coef: &mut [f64],
        terms: bool,
        ws: &mut Workspace,
    ) -> (Solution, Option<FactorTerms>) {
        let rows = self.weighted_penalty(weights);
        let ltl = gram_of(self.penalty_rows, self.n, &rows);
        let h: std::borrow::Cow<[f64]> = match shift {
            Some(s) => self.aty.iter().zip(s).map(|(a, s)| a - s).collect(),
            None => (&self.aty[..]).into(),
        };
        self.solve_penalized(lambda, (&rows, &ltl), &h, coef, terms, ws)
    }

    pub(crate) fn solution(
        &self,
        lambda: f64,
        coef: &[f64],
        info: NnlsInfo,
        stats: FitStats,
    ) -> Solution {
        let mut baseline = coef[self.n_spec..].to_vec();
        for b in &self.blocks {
            if b.baseline == Baseline::ConstantLinear {
                baseline[b.columns.start + 1 - self.n_spec] /= b.linear_scale;
            }
        }
        baseline.iter_mut().for_each(|v| *v *= self.scale);
        Solution {
            lambda,
            amplitudes: coef[..self.n_spec].iter().map(|v| v * self.scale).collect(),
            baseline,
            info,
            stats,
        }
    }

    /// Fit statistics of `coef` at lambda^2 = `l2`, and with `terms` the factor's terms of the free
    /// set; `ws.q` must hold G + l2 L^T L.
    fn stats_with_q(
        &self,
        coef: &[f64],
        l2: f64,
        terms: bool,
        penalty: &[f64],
        ws: &mut Workspace,
    ) -> (FitStats, Option<FactorTerms>) {
        let n = self.n;
        // ||W r||^2 = y'y - 2 x'h + x'Gx (see [`Problem::weighted_ss`]).
        ws.idx.clear();
        ws.idx.extend((0..n).filter(|&i| coef[i] != 0.0));
        ws.col.resize(ws.idx.len(), 0.0);
        row_sums(&self.gram, n, |k| ws.idx[k], coef, &mut ws.col);
        let mut xgx = 0.0;
        for (&i, s) in ws.idx.iter().zip(&ws.col) {
            xgx += coef[i] * s;
        }
        let xh: f64 = coef.iter().zip(&self.aty).map(|(a, b)| a * b).sum();
        let weighted_ss = self.weighted_ss(coef, self.yty - 2.0 * xh + xgx);
        ws.col.resize(self.penalty_rows, 0.0);
        row_sums(penalty, n, |r| r, coef, &mut ws.col);
        let penalty_norm = ws.col.iter().map(|s| s.powi(2)).sum::<f64>().sqrt();
        // dof = trace((Q_PP)^-1 G_PP) = |P| - l2 tr(X) on the free set P (module `terms`).
        ws.idx.clear();
        ws.idx
            .extend((0..n).filter(|&j| !self.constrained[j] || coef[j] > 0.0));
        let k = ws.idx.len();
        let mut dof = k as f64;
        let mut factor_terms = None;
        if k > 0 && l2 > 0.0 {
            // The solver's last factor is the one needed when its passive set is the free set.
            let reused = ws.nnls.last_factor().filter(|(idx, _)| *idx == &ws.idx[..]);
            let (chol, jitter): (&[f64], f64) = match reused {
                Some((_, factor)) => (factor, 0.0),
                None => {
                    ws.chol.resize(k * k, 0.0);
                    let jitter = factor_block(&ws.q, n, &ws.idx, &mut ws.chol);
                    (&ws.chol, jitter)
                }
            };
            let keep = (terms && jitter == 0.0).then_some(&mut ws.kept);
            let trace_x = penalty_trace(
                penalty,
                self.penalty_rows,
                n,
                &ws.idx,
                chol,
                &mut ws.col,
                keep,
            );
            dof -= l2 * trace_x;
            if terms {
                factor_terms = Some(if jitter == 0.0 {
                    FactorTerms::of(chol, k, l2, trace_x, ws.kept.trace_of_square(k))
                } else {
                    FactorTerms::singular(k)
                });
            }
        }
        let stats = FitStats {
            residual_norm: weighted_ss.sqrt(),
            weighted_ss,
            r2: if self.ss_tot > 0.0 {
                1.0 - weighted_ss / self.ss_tot
            } else {
                f64::NAN
            },
            penalty_norm,
            dof,
        };
        (stats, factor_terms)
    }

    /// Quantities of the linearized problem on the free set of a path point (the rules' evidence
    /// and robust GCV): the factor's terms the path kept, or else from a factorization of
    /// Q_PP = G_PP + lambda^2 (L^T L)_PP; the prior's from `priors`.
    pub(crate) fn active_set_terms(
        &self,
        point: &PathPoint,
        priors: &mut PriorTerms,
        ws: &mut Workspace,
    ) -> ActiveSetTerms {
        let n = self.n;
        let solution = &point.solution;
        let mut coef = solution.amplitudes.clone();
        coef.extend(&solution.baseline);
        ws.idx.clear();
        ws.idx
            .extend((0..n).filter(|&j| !self.constrained[j] || coef[j] > 0.0));
        let spectrum: Vec<usize> = ws
            .idx
            .iter()
            .copied()
            .filter(|&j| j < self.n_spec)
            .collect();
        let prior = match &point.penalty_weights {
            // Total variation: the prior of its linearized problem at this point.
            Some(w) => ln_pdet_gram(&self.weighted_penalty(w), self.penalty_rows, n, &spectrum),
            None => priors.of(&self.penalty, self.penalty_rows, n, &spectrum),
        };
        let factor = match point.terms {
            Some(terms) => terms,
            None => self.factor_terms(solution.lambda, point.penalty_weights.as_deref(), ws),
        };
        ActiveSetTerms::new(factor, prior)
    }

    /// The factor's terms on the free set in `ws.idx`, from a new factorization.
    /// With `weights` (total variation) the penalty rows are weighted as at the path point.
    fn factor_terms(
        &self,
        lambda: f64,
        weights: Option<&[f64]>,
        ws: &mut Workspace,
    ) -> FactorTerms {
        let (n, k) = (self.n, ws.idx.len());
        let l2 = lambda * lambda;
        if k == 0 {
            return FactorTerms::of(&[], 0, l2, 0.0, 0.0);
        }
        let weighted = weights.map(|w| self.weighted_penalty(w));
        let (penalty, ltl) = match &weighted {
            Some(rows) => (
                &rows[..],
                std::borrow::Cow::Owned(gram_of(self.penalty_rows, n, rows)),
            ),
            None => (&self.penalty[..], std::borrow::Cow::Borrowed(&self.ltl[..])),
        };
        ws.q.clear();
        ws.q.extend(self.gram.iter().zip(ltl.iter()).map(|(g, l)| g + l2 * l));
        ws.chol.resize(k * k, 0.0);
        if factor_block(&ws.q, n, &ws.idx, &mut ws.chol) > 0.0 {
            return FactorTerms::singular(k);
        }
        let trace_x = penalty_trace(
            penalty,
            self.penalty_rows,
            n,
            &ws.idx,
            &ws.chol,
            &mut ws.col,
            Some(&mut ws.kept),
        );
        FactorTerms::of(&ws.chol, k, l2, trace_x, ws.kept.trace_of_square(k))
    }

    /// k-fold cross-validation: for each lambda (solved from the largest down, warm-started), the
    /// summed weighted squared prediction error of the held-out rows over `folds` folds, where row i
    /// is held out in fold i mod `folds`. Each fold's normal equations are the full ones less the
    /// held-out rows' contributions.
    pub(crate) fn kfold_errors(
        &self,
        lambdas: &[f64],
        folds: usize,
        ws: &mut Workspace,
    ) -> Vec<f64> {
        let (m, n) = (self.len(), self.n);
        let mut errors = vec![0.0; lambdas.len()];
        let yw = self.weighted_y();
        for fold in 0..folds {
            let held: Vec<usize> = (fold..m).step_by(folds).collect();
            let mut gram = self.gram.clone();
            let mut aty = self.aty.clone();
            for &i in &held {
                for a in 0..n {
                    let va = self.design[(i, a)];
                    if va == 0.0 {
                        continue;
                    }
                    aty[a] -= va * yw[i];
                    for b in 0..n {
                        gram[a * n + b] -= va * self.design[(i, b)];
                    }
                }
            }
            let mut coef = self.zeros();
            for k in (0..lambdas.len()).rev() {
                let l2 = lambdas[k] * lambdas[k];
                ws.q.clear();
                ws.q.extend(gram.iter().zip(&self.ltl).map(|(g, l)| g + l2 * l));
                nnls::solve(
                    &ws.q,
                    &aty,
                    &self.constrained,
                    &mut coef,
                    &self.settings.nnls,
                    &mut ws.nnls,
                );
                errors[k] += held
                    .iter()
                    .map(|&i| {
                        let fit: f64 = (0..n).map(|j| self.design[(i, j)] * coef[j]).sum();
                        (yw[i] - fit).powi(2)
                    })
                    .sum::<f64>();
            }
        }
        errors
    }

    /// Gram matrix A^T A of the weighted design (row-major, n x n; spectrum then baseline).
    pub(crate) fn gram(&self) -> &[f64] {
        &self.gram
    }

    /// A^T W y.
    pub(crate) fn aty(&self) -> &[f64] {
        &self.aty
    }

    /// Which coefficients are constrained >= 0.
    pub(crate) fn constrained(&self) -> &[bool] {
        &self.constrained
    }

    /// The weighted design A = [W K, W B] (M x N, internal scaling; for tests that form residuals
    /// directly).
    #[cfg(test)]
    pub(crate) fn design(&self) -> &Mat<f64> {
        &self.design
    }

    /// W y of the scaled data (the right-hand side the weighted design is fitted to).
    pub(crate) fn weighted_y(&self) -> Vec<f64> {
        self.scaled_y
            .iter()
            .zip(&self.scaled_weights)
            .map(|(y, w)| y * w)
            .collect()
    }

    /// L^T L in the N x N layout of the coefficients (zero outside the spectrum block).
    pub(crate) fn ltl(&self) -> &[f64] {
        &self.ltl
    }

    /// The largest eigenvalue of L^T L on the spectrum block (from the full eigensolve that sets
    /// the lambda range).
    pub(crate) fn penalty_top_eigenvalue(&self) -> f64 {
        self.penalty_top
    }

    /// ||W y||^2 and the weighted total sum of squares about the weighted mean.
    pub(crate) fn sums_of_squares(&self) -> (f64, f64) {
        (self.yty, self.ss_tot)
    }

    /// ln pdet(L'L) over the whole spectrum block and the rank of L.
    pub(crate) fn penalty_ln_pdet(&self) -> (f64, usize) {
        let cols: Vec<usize> = (0..self.n_spec).collect();
        ln_pdet_gram(&self.penalty, self.penalty_rows, self.zeros().len(), &cols)
    }

    /// Number of spectrum amplitudes.
    pub(crate) fn n_spec(&self) -> usize {
        self.n_spec
    }

    /// A solution for given coefficients (internal scaling) of the unpenalized objective, as produced
    /// by a method other than the penalized NNLS (the iterative mode): lambda is 0 and the degrees of
    /// freedom count the free coefficients.
    pub(crate) fn unpenalized_solution(
        &self,
        coef: &[f64],
        info: NnlsInfo,
        ws: &mut Workspace,
    ) -> Solution {
        ws.q.clear();
        ws.q.extend_from_slice(&self.gram);
        let (stats, _) = self.stats_with_q(coef, 0.0, false, &self.penalty, ws);
        self.solution(0.0, coef, info, stats)
    }

    /// Converts a coefficient vector from data units (slope per unit x) to the internal scaling.
    pub(crate) fn to_internal(&self, coef: &mut [f64]) {
        coef.iter_mut().for_each(|v| *v /= self.scale);
        for b in &self.blocks {
            if b.baseline == Baseline::ConstantLinear {
                coef[b.columns.start + 1] *= b.linear_scale;
            }
        }
    }

    /// A solution's coefficient vector (spectrum, then baseline) in the internal scaling.
    pub(crate) fn internal_coefficients(&self, solution: &Solution) -> Vec<f64> {
        let mut coef = solution.amplitudes.clone();
        coef.extend(&solution.baseline);
        self.to_internal(&mut coef);
        coef
    }

    /// The weighted residuals W (y - K f - B b) of a solution, of the data divided by
    /// [`Problem::data_scale`] (their squares sum to the solution's ||W r||^2).
    pub fn weighted_residuals(&self, solution: &Solution) -> Vec<f64> {
        self.weighted_residuals_of(&self.internal_coefficients(solution))
    }

    /// ||W r||^2 of internal coefficients `coef` from `expanded` = y'y - 2 x'h + x'Gx: cheap, and
    /// its rounding error, a few 1e-16 of ||W y||^2, stays below 1e-6 of ||W r||^2 while ||W r||^2
    /// is at least 1e-9 of ||W y||^2 (noisy data always). Below that (noise-free data the grid can
    /// represent, where the expansion can even come out negative) the residual is formed from the
    /// design.
    pub(crate) fn weighted_ss(&self, coef: &[f64], expanded: f64) -> f64 {
        if expanded >= DIRECT_RESIDUAL_BELOW * self.yty {
            return expanded;
        }
        let r = self.weighted_residuals_of(coef);
        r.iter().map(|v| v * v).sum()
    }

    /// The linearized standard error of each peak's area (data units) of a Tikhonov `solution`:
    /// on its free set P, with Q_PP = G_PP + lambda^2 (L^T L)_PP, the area a'f of a peak (a: 1 on
    /// its grid points, 1/2 at a minimum it shares with a neighbouring peak, as [`find_peaks`]
    /// counts it) is linear in the data near the solution, with variance
    /// s^2 a_P' Q_PP^-1 G_PP Q_PP^-1 a_P: the noise of the data carried through the solve at the
    /// chosen lambda and free set. `noise_variance` is s^2 in the weighted units of the problem's
    /// scaled data: 1 with sigma given; without it, an estimate from a fit that follows the data
    /// (the path's weakest-lambda fit, [`crate::inversion::PathScores`]'s `sigma2`), not from the
    /// chosen fit, whose misfit would count as noise. It leaves out the choice of lambda and the
    /// free set's changes: the bootstrap includes them. NaN for every peak when Q_PP cannot be
    /// factored.
    ///
    /// [`find_peaks`]: crate::spectrum::find_peaks
    pub fn peak_area_stderr(
        &self,
        solution: &Solution,
        peaks: &[crate::spectrum::SpectrumPeak],
        noise_variance: f64,
    ) -> Vec<f64> {
        let n = self.n;
        let coef = self.internal_coefficients(solution);
        let free: Vec<usize> = (0..n)
            .filter(|&j| !self.constrained[j] || coef[j] > 0.0)
            .collect();
        let k = free.len();
        let l2 = solution.lambda * solution.lambda;
        let q = Mat::<f64>::from_fn(k, k, |a, b| {
            let (i, j) = (free[a], free[b]);
            self.gram[i * n + j] + l2 * self.ltl[i * n + j]
        });
        let g = Mat::<f64>::from_fn(k, k, |a, b| self.gram[free[a] * n + free[b]]);
        let Ok(llt) = q.llt(faer::Side::Lower) else {
            return vec![f64::NAN; peaks.len()];
        };
        peaks
            .iter()
            .map(|p| {
                let a = Mat::<f64>::from_fn(k, 1, |row, _| {
                    let j = free[row];
                    if j < self.n_spec {
                        p.weight(j)
                    } else {
                        0.0
                    }
                });
                let x = faer::linalg::solvers::Solve::solve(&llt, &a);
                let var = (x.transpose() * &g * &x)[(0, 0)] * noise_variance;
                var.max(0.0).sqrt() * self.scale
            })
            .collect()
    }

    /// W (y - A x) of internal coefficients `coef`, formed from the design's columns.
    fn weighted_residuals_of(&self, coef: &[f64]) -> Vec<f64> {
        let mut r = self.weighted_y();
        for (j, &c) in coef.iter().enumerate() {
            if c != 0.0 {
                let column = self.design.col(j);
                let column = column
                    .try_as_col_major()
                    .expect("a Mat's columns are contiguous");
                for (ri, a) in r.iter_mut().zip(column.as_slice()) {
                    *ri -= a * c;
                }
            }
        }
        r
    }

    /// Model values K f + B b at the data points (unweighted), for a solution.
    pub fn fitted(&self, solution: &Solution) -> Vec<f64> {
        let coef = self.internal_coefficients(solution);
        (0..self.len())
            .map(|i| {
                (0..self.n)
                    .map(|j| self.design[(i, j)] * coef[j])
                    .sum::<f64>()
                    / self.scaled_weights[i]
                    * self.scale
            })
            .collect()
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

/// Per-thread buffers for [`Problem::solve`].
#[derive(Debug, Clone, Default)]
pub struct Workspace {
    q: Vec<f64>,
    chol: Vec<f64>,
    col: Vec<f64>,
    idx: Vec<usize>,
    kept: KeptColumns,
    nnls: NnlsWorkspace,
}

impl Workspace {
    /// Empty buffers; they grow to the problem size on first use.
    pub fn new() -> Self {
        Self::default()
    }
}
