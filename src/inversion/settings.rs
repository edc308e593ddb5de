//! The settings of one inversion (kernel, grid, baseline, penalty, path, rule, peak splitting) with
//! the command line's defaults, and the tau grid they give for a data window.

use super::kernel::{
    default_grid, DEFAULT_EXTEND_DECADES, DEFAULT_POINTS_PER_DECADE, MAX_GRID_POINTS,
    MIN_POINTS_PER_DECADE,
};
use super::{Baseline, Kernel, Rule};
use crate::spectrum::{LnTauGrid, PeakParams};

/// Options of an inversion, with the command line's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct InvertOptions {
    /// The kernel.
    pub kernel: Kernel,
    /// The rule whose choice is reported.
    pub rule: Rule,
    /// Grid points (overrides `per_decade`).
    pub points: Option<usize>,
    /// Grid density, points per decade.
    pub per_decade: f64,
    /// Grid start, s (default: data window minus one decade).
    pub tau_min_s: Option<f64>,
    /// Grid end, s (default: data window plus one decade).
    pub tau_max_s: Option<f64>,
    /// Baseline (default: constant for decay, constant+linear for creep, none for loss).
    pub baseline: Option<Baseline>,
    /// Impose baseline coefficients >= 0.
    pub baseline_nonnegative: bool,
    /// Difference order r.
    pub order: usize,
    /// CONTIN's zero boundary beyond the grid.
    pub zero_boundary: bool,
    /// Lambda path length.
    pub lambda_points: usize,
    /// Peak splitting.
    pub peaks: PeakParams,
}

impl InvertOptions {
    /// Defaults for a kernel.
    pub fn new(kernel: Kernel) -> Self {
        Self {
            kernel,
            // Chosen by measurement over scenarios/validation-suite.toml (README, "Choosing lambda").
            rule: Rule::Consensus {
                rss: super::rules::CONSENSUS_RSS_FACTOR,
            },
            points: None,
            per_decade: DEFAULT_POINTS_PER_DECADE,
            tau_min_s: None,
            tau_max_s: None,
            baseline: None,
            baseline_nonnegative: false,
            order: 2,
            zero_boundary: false,
            lambda_points: super::DEFAULT_LAMBDA_POINTS,
            peaks: PeakParams::default(),
        }
    }

    /// The baseline in effect.
    pub fn baseline(&self) -> Baseline {
        self.baseline.unwrap_or(match self.kernel {
            Kernel::Decay => Baseline::Constant,
            Kernel::Creep => Baseline::ConstantLinear,
            Kernel::Loss => Baseline::None,
        })
    }

    /// The grid for data at `x_min..x_max`.
    ///
    /// # Errors
    /// A message when the grid is empty, reversed, or coarser than 2 points per decade.
    pub fn grid(&self, x_min: f64, x_max: f64) -> Result<LnTauGrid, String> {
        let auto = default_grid(
            self.kernel,
            x_min,
            x_max,
            self.per_decade,
            DEFAULT_EXTEND_DECADES,
        )
        .map_err(|e| e.to_string())?;
        let lo = self.tau_min_s.unwrap_or_else(|| auto.tau_s(0));
        let hi = self.tau_max_s.unwrap_or_else(|| auto.tau_s(auto.len() - 1));
        if !(lo > 0.0 && hi > lo) {
            return Err(format!(
                "tau grid {lo} s .. {hi} s: need 0 < tau_min < tau_max"
            ));
        }
        let grid = match self.points {
            Some(n) => LnTauGrid::new(lo, hi, n),
            None => LnTauGrid::with_density(lo, hi, self.per_decade),
        }
        .map_err(|e| e.to_string())?;
        if grid.len() > MAX_GRID_POINTS {
            return Err(format!(
                "the tau grid has {} points; at most {} are accepted",
                grid.len(),
                MAX_GRID_POINTS
            ));
        }
        if grid.per_decade() < MIN_POINTS_PER_DECADE - 1e-9 {
            return Err(format!(
                "the tau grid has {:.2} points per decade; at least {MIN_POINTS_PER_DECADE} are needed",
                grid.per_decade()
            ));
        }
        Ok(grid)
    }

    /// Every rule evaluated: the chosen one first, then the other defaults.
    pub fn rules(&self) -> Vec<Rule> {
        let mut rules = vec![self.rule];
        rules.extend(
            Rule::all_on_path()
                .into_iter()
                .filter(|r| r.name() != self.rule.name()),
        );
        rules
    }
}
