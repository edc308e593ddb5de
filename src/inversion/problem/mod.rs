//! The discretized inverse problem: weighted design [W K, W B], its Gram matrix, the penalty and the
//! scale of lambda, built once and solved for many lambda.
//!
//! Here the problem's settings, its solution types and its accessors; in `build` the problem's
//! construction; in `solve` the solves and the statistics of their solutions.

use faer::Mat;
use serde::{Deserialize, Serialize};

use super::kernel::Kernel;
use super::nnls::{NnlsInfo, NnlsParams, NnlsWorkspace};
use super::terms::{ln_pdet_gram, KeptColumns};
use crate::spectrum::LnTauGrid;

mod build;
mod solve;

pub(crate) use build::largest_eigenvalue;

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

impl Problem {
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
