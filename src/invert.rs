//! Inverting measured (or simulated) data: one full analysis per series, with the chosen rule, every
//! other rule for comparison, peaks and, given a material, the STZ back-analysis.

use serde::Serialize;

use crate::analysis::{back_analysis, BackAnalysis, PeakParams};
use crate::data::MeasuredSeries;
use crate::inversion::kernel::{
    default_grid, DEFAULT_EXTEND_DECADES, DEFAULT_POINTS_PER_DECADE, MIN_POINTS_PER_DECADE,
};
use crate::inversion::nnls::NnlsParams;
use crate::inversion::{
    analyse, Analysis, Baseline, Kernel, Problem, ProblemSettings, Rule, Workspace,
};
use crate::spectrum::LnTauGrid;
use crate::stz::Material;

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
                rss: crate::inversion::rules::CONSENSUS_RSS_FACTOR,
            },
            points: None,
            per_decade: DEFAULT_POINTS_PER_DECADE,
            tau_min_s: None,
            tau_max_s: None,
            baseline: None,
            baseline_nonnegative: false,
            order: 2,
            zero_boundary: false,
            lambda_points: crate::inversion::DEFAULT_LAMBDA_POINTS,
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
        if grid.len() > crate::inversion::kernel::MAX_GRID_POINTS {
            return Err(format!(
                "the tau grid has {} points; at most {} are accepted",
                grid.len(),
                crate::inversion::kernel::MAX_GRID_POINTS
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

/// The inversion of one series.
#[derive(Debug, Clone)]
pub struct SeriesInversion {
    /// Temperature of the series, K.
    pub temperature_k: Option<f64>,
    /// The assembled problem.
    pub problem: Problem,
    /// Path, scores and every rule's result; `analysis.results[0]` is the chosen rule's.
    pub analysis: Analysis,
    /// STZ back-analysis of the chosen spectrum, when a material was given.
    pub stz: Option<BackAnalysis>,
}

/// Why an inversion could not run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InvertError {
    /// Settings or data unusable.
    #[error("{0}")]
    Invalid(String),
}

/// The discretized problem for data `y` (with optional `sigma`) at increasing `x` under `options`.
///
/// # Errors
/// [`InvertError`] for an unusable grid or problem.
pub fn build_problem(
    x: &[f64],
    y: &[f64],
    sigma: Option<&[f64]>,
    options: &InvertOptions,
) -> Result<Problem, InvertError> {
    let grid = options
        .grid(x[0], x[x.len() - 1])
        .map_err(InvertError::Invalid)?;
    let settings = ProblemSettings {
        kernel: options.kernel,
        grid,
        baseline: options.baseline(),
        baseline_nonnegative: options.baseline_nonnegative,
        order: options.order,
        zero_boundary: options.zero_boundary,
        nnls: NnlsParams::default(),
    };
    Problem::new(x, y, sigma, settings).map_err(|e| InvertError::Invalid(e.to_string()))
}

/// Inverts one series. `material` with the temperature gives the STZ table.
///
/// # Errors
/// [`InvertError`] for an unusable grid or problem, or a rule whose score is undefined.
pub fn invert_series(
    series: &MeasuredSeries,
    options: &InvertOptions,
    material: Option<(&Material, f64)>,
    ws: &mut Workspace,
) -> Result<SeriesInversion, InvertError> {
    let (x_min, x_max) = (series.x[0], series.x[series.x.len() - 1]);
    let problem = build_problem(&series.x, &series.y, series.sigma.as_deref(), options)?;
    let analysis = analyse(
        &problem,
        options.lambda_points,
        &options.rules(),
        &options.peaks,
        ws,
    );
    if analysis
        .results
        .first()
        .is_none_or(|r| r.choice.rule.name() != options.rule.name())
    {
        return Err(InvertError::Invalid(format!(
            "the {} rule is undefined on this lambda path",
            options.rule.name()
        )));
    }
    let window = options.kernel.window_s(x_min, x_max);
    // Peak areas are in data units: volume fractions for strain, E0(T) c in Pa for the loss modulus.
    let stz = material.map(|(m, t)| {
        let area_per_c = match options.kernel {
            Kernel::Loss => m.e0_pa(t),
            Kernel::Decay | Kernel::Creep => 1.0,
        };
        back_analysis(&analysis.results[0].peaks, m, t, Some(window), area_per_c)
    });
    Ok(SeriesInversion {
        temperature_k: series.temperature_k,
        problem,
        analysis,
        stz,
    })
}

/// The summary of one series' inversion (what `summary.json` holds per series).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesSummary {
    /// Temperature, K.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature_k: Option<f64>,
    /// The rule.
    pub rule: String,
    /// Whether its criterion was met (`ok`) or what it did instead (`at-path-end`,
    /// `target-unreachable`, `no-corner`).
    pub status: &'static str,
    /// The rule whose choice was returned instead, when the status names a fallback.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
    /// A warning when the status is not ok.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
    /// Chosen lambda (0 for the iterative mode, whose objective has no penalty).
    pub lambda: f64,
    /// The iterative mode's chosen stopping tolerance (relative objective decrease per iteration).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopping_tolerance: Option<f64>,
    /// The iterative mode's iterations up to that tolerance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iterations: Option<usize>,
    /// The path's lambda range (data-dominated end, penalty-dominated end).
    pub lambda_range: [f64; 2],
    /// R^2 of the chosen fit.
    pub r2: f64,
    /// chi^2 with sigma given; ||r||^2 / sigma_hat^2 with sigma estimated.
    pub chi2: f64,
    /// `given` or `estimated`.
    pub sigma: &'static str,
    /// Number of data points.
    pub points: usize,
    /// Effective degrees of freedom.
    pub dof: f64,
    /// Baseline coefficients by name.
    pub baseline: serde_json::Map<String, serde_json::Value>,
    /// Peaks of the chosen spectrum.
    pub peaks: Vec<PeakSummary>,
    /// Solver report of the chosen solve.
    pub nnls: crate::inversion::nnls::NnlsInfo,
    /// The other rules' choices.
    pub other_rules: Vec<OtherRule>,
    /// STZ slope, when a material was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stz: Option<StzSummary>,
}

/// A peak in the summary.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PeakSummary {
    /// Centroid tau, s.
    pub tau_s: f64,
    /// Median tau, s.
    pub tau_median_s: f64,
    /// Area.
    pub area: f64,
}

/// Another rule's choice, for comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OtherRule {
    /// The rule.
    pub rule: String,
    /// Its status (as [`SeriesSummary::status`]).
    pub status: &'static str,
    /// Its fallback rule, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
    /// Its lambda.
    pub lambda: f64,
    /// R^2.
    pub r2: f64,
    /// Number of peaks.
    pub peaks: usize,
}

/// The slope of Omega_m against m.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct StzSummary {
    /// Temperature used, K.
    pub temperature_k: f64,
    /// Slope, m^3.
    pub omega_slope_m3: Option<f64>,
    /// Standard error, m^3.
    pub omega_slope_stderr_m3: Option<f64>,
    /// Slope in atomic volumes (when the atomic volume is known).
    pub omega_slope_atomic_volumes: Option<f64>,
    /// Its standard error in atomic volumes.
    pub omega_slope_stderr_atomic_volumes: Option<f64>,
}

impl SeriesInversion {
    /// The summary, with the slope in atomic volumes when `atomic_volume_m3` is known.
    pub fn summary(&self, atomic_volume_m3: Option<f64>) -> SeriesSummary {
        let chosen = &self.analysis.results[0];
        let sol = &chosen.choice.solution;
        let scores = &self.analysis.scores;
        let names = self.problem.settings().baseline.names();
        let baseline = names
            .iter()
            .zip(&sol.baseline)
            .map(|(n, v)| (n.to_string(), serde_json::json!(v)))
            .collect();
        let (lo, hi) = self.problem.lambda_range();
        SeriesSummary {
            temperature_k: self.temperature_k,
            rule: chosen.choice.rule.name(),
            status: chosen.choice.status.name(),
            fallback: chosen.choice.fallback.map(|f| f.name()),
            warning: chosen.choice.warning(),
            lambda: sol.lambda,
            stopping_tolerance: chosen.choice.stopping.map(|s| s.0),
            iterations: chosen.choice.stopping.map(|s| s.1),
            lambda_range: [lo, hi],
            r2: sol.stats.r2,
            chi2: sol.stats.weighted_ss / scores.sigma2,
            sigma: if scores.sigma_given {
                "given"
            } else {
                "estimated"
            },
            points: self.problem.len(),
            dof: sol.stats.dof,
            baseline,
            peaks: chosen
                .peaks
                .iter()
                .map(|p| PeakSummary {
                    tau_s: p.tau_s(),
                    tau_median_s: p.tau_median_s(),
                    area: p.area,
                })
                .collect(),
            nnls: sol.info,
            other_rules: self.analysis.results[1..]
                .iter()
                .map(|r| OtherRule {
                    rule: r.choice.rule.name(),
                    status: r.choice.status.name(),
                    fallback: r.choice.fallback.map(|f| f.name()),
                    lambda: r.choice.solution.lambda,
                    r2: r.choice.solution.stats.r2,
                    peaks: r.peaks.len(),
                })
                .collect(),
            stz: self.stz.as_ref().map(|b| {
                let va = atomic_volume_m3.and_then(|v| b.slope_in_atomic_volumes(v));
                StzSummary {
                    temperature_k: b.temperature_k,
                    omega_slope_m3: b.slope_m3,
                    omega_slope_stderr_m3: b.slope_stderr_m3,
                    omega_slope_atomic_volumes: va.map(|v| v.0),
                    omega_slope_stderr_atomic_volumes: va.and_then(|v| v.1),
                }
            }),
        }
    }
}
