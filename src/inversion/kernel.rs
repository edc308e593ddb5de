//! Kernels of the inverse problem (docs/model.md §4) and the default tau grid.

use serde::{Deserialize, Serialize};

use crate::spectrum::{LnTauGrid, SpectrumError};

/// The kernel K(x, tau) relating a unit amplitude at tau to the data at x.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kernel {
    /// Recovery after release: exp(-t / tau); x = t in s.
    Decay,
    /// Creep under load: 1 - exp(-t / tau); x = t in s.
    Creep,
    /// Loss modulus (paper Eq. 8): w tau / (1 + (w tau)^2); x = w in rad/s.
    Loss,
}

impl Kernel {
    /// K(x, tau).
    pub fn eval(self, x: f64, tau_s: f64) -> f64 {
        match self {
            Self::Decay => (-x / tau_s).exp(),
            Self::Creep => -(-x / tau_s).exp_m1(),
            Self::Loss => {
                let wt = x * tau_s;
                wt / (1.0 + wt * wt)
            }
        }
    }

    /// The window of relaxation times the data at `x_min..x_max` probe, s.
    pub fn window_s(self, x_min: f64, x_max: f64) -> (f64, f64) {
        match self {
            Self::Decay | Self::Creep => (x_min, x_max),
            Self::Loss => (1.0 / x_max, 1.0 / x_min),
        }
    }

    /// Name as used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Decay => "decay",
            Self::Creep => "creep",
            Self::Loss => "loss",
        }
    }
}

/// Default grid density, points per decade of tau (docs/model.md: about 5).
pub const DEFAULT_POINTS_PER_DECADE: f64 = 5.0;
/// Default extension of the grid beyond the data window, decades on each side.
pub const DEFAULT_EXTEND_DECADES: f64 = 1.0;
/// The coarsest grid accepted, points per decade.
pub const MIN_POINTS_PER_DECADE: f64 = 2.0;
/// Most tau grid points an inversion accepts: the N x N normal equations of a path of 60 lambdas
/// stay within seconds and megabytes (N = 2000: 32 MB per matrix).
pub const MAX_GRID_POINTS: usize = 2000;
/// Most grid points per decade (a 10-decade grid at this density is 2001 points).
pub const MAX_POINTS_PER_DECADE: f64 = 200.0;

/// The default grid for data at `x_min..x_max`: the probed window extended by `extend_decades` on
/// each side, at `per_decade` points per decade.
///
/// # Errors
/// [`SpectrumError`] for a non-positive window or density.
pub fn default_grid(
    kernel: Kernel,
    x_min: f64,
    x_max: f64,
    per_decade: f64,
    extend_decades: f64,
) -> Result<LnTauGrid, SpectrumError> {
    let (lo, hi) = kernel.window_s(x_min, x_max);
    let f = 10f64.powf(extend_decades);
    LnTauGrid::with_density(lo / f, hi * f, per_decade)
}
