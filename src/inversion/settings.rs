//! The settings of one inversion (kernel, grid, baseline, penalty, path, rule, peak splitting) with
//! the command line's defaults, and the tau grid they give for a data window.

use super::kernel::{
    default_grid, DEFAULT_EXTEND_DECADES, DEFAULT_POINTS_PER_DECADE, MAX_GRID_POINTS,
    MAX_POINTS_PER_DECADE, MIN_POINTS_PER_DECADE,
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
    /// Difference order r. [`InvertOptions::new`] sets Tikhonov's, 2; the command line and
    /// scenarios default it to the family's [`Regularizer::default_order`].
    pub order: usize,
    /// CONTIN's zero boundary beyond the grid.
    pub zero_boundary: bool,
    /// Lambda path length.
    pub lambda_points: usize,
    /// Peak splitting.
    pub peaks: PeakParams,
    /// Bootstrap uncertainty: the number of resampled data sets re-analysed and their seed
    /// (`None`: no uncertainty, the default).
    pub uncertainty: Option<Bootstrap>,
    /// The regularizer family (Tikhonov on f by default).
    pub regularizer: Regularizer,
    /// Maxent's flat default model as a multiple of its default (1; see
    /// [`crate::inversion::ProblemSettings::maxent_model`]).
    pub maxent_model: f64,
    /// The total-variation family's rounding scale (see
    /// [`crate::inversion::ProblemSettings::edge_scale`]).
    pub edge_scale: f64,
}

/// What the penalty smooths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub enum Regularizer {
    /// lambda^2 ||L f||^2 with f >= 0 (NNLS): the default.
    #[default]
    Tikhonov,
    /// f = exp(s), lambda^2 ||L s||^2: the logarithm of the spectrum is smoothed
    /// (see [`crate::inversion::logspace`]).
    LogSmooth,
    /// Maximum entropy: f = exp(s), -2 lambda^2 S(f; m) with a flat default model m
    /// (see [`crate::inversion::logspace`]).
    MaxEnt,
    /// Edge-preserving: lambda^2 sum_r rho(d_r) over the differences d = L f with f >= 0, where
    /// rho is total variation rounded below a scale (see [`crate::inversion::edge`]): a jump of f
    /// costs its height, not its steepness.
    TotalVariation,
    /// Edge-preserving without lowering the level before a jump: lambda^2 sum_r e^2 ln(1 + d_r^2 / e^2) over the
    /// differences d = L f with f >= 0 (see [`crate::inversion::edge`]): d^2 for small
    /// differences, only logarithmic for large ones, so that a jump is not lowered to save
    /// penalty.
    Lorentzian,
}

impl Regularizer {
    /// Every family.
    pub const ALL: [Regularizer; 5] = [
        Regularizer::Tikhonov,
        Regularizer::LogSmooth,
        Regularizer::MaxEnt,
        Regularizer::TotalVariation,
        Regularizer::Lorentzian,
    ];

    /// The name in files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Tikhonov => "tikhonov",
            Self::LogSmooth => "log-smooth",
            Self::MaxEnt => "maxent",
            Self::TotalVariation => "total-variation",
            Self::Lorentzian => "lorentzian",
        }
    }

    /// The family of a name.
    ///
    /// # Errors
    /// A message naming the families for an unknown name.
    pub fn parse(name: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|r| r.name() == name)
            .ok_or_else(|| {
                format!("unknown regularizer \"{name}\": use tikhonov, log-smooth, maxent, total-variation or lorentzian")
            })
    }

    /// The rule `invert` reports when none is named, chosen by measurement: consensus for
    /// Tikhonov (the validation suite); over the four shapes of `scenarios/regularizers.toml` at 20
    /// and 5 points per decade, evidence for log-smooth (the lowest mean rel_l2 over both grids,
    /// and the right number of peaks in every run) and ftest for maxent (mean rel_l2 within 2 % of
    /// the lowest, and the right number of peaks in every run; README, "Regularizers"); evidence
    /// for total variation (on the stepping study's record at 10 K / 3600 s / 0.1 %, 20 repeats,
    /// median relative L2 0.020, as consensus; gcv 0.021, discrepancy 0.034, lcurve 0.050) and for
    /// the Lorentzian (on the same record 0.020 with the top within 0.02 eV of the jump in 20 of
    /// 20 repeats; consensus 0.016 and 20, gcv 0.025 and 19, discrepancy 0.047 and 16, lcurve
    /// 0.106 and 7).
    pub fn default_rule(self) -> Rule {
        match self {
            // Over scenarios/validation-suite.toml (README, "Choosing lambda").
            Self::Tikhonov => Rule::Consensus {
                rss: super::rules::CONSENSUS_RSS_FACTOR,
                white: super::rules::CONSENSUS_WHITE,
            },
            Self::LogSmooth => Rule::Evidence { free_scale: false },
            Self::MaxEnt => Rule::Ftest {
                level: super::rules::DEFAULT_FTEST_LEVEL,
            },
            Self::TotalVariation | Self::Lorentzian => Rule::Evidence { free_scale: false },
        }
    }

    /// The penalty's difference order when none is given, chosen by measurement: 2 for Tikhonov
    /// (order 3 on f rounds narrow peaks less at low noise but over-fits them at sigma 3e-4 and is
    /// worse on a broad log-normal) and for maxent (whose entropy does not use it; only its
    /// Tikhonov start does); 3 for log-smooth, under which every log-normal peak (a parabola in
    /// ln f) costs nothing: over the validation suite its median rel_l2 is then 0.045 against
    /// Tikhonov's 0.048, and on the regularizer cases it is the most accurate family on narrow
    /// peaks and broad log-normals and within 1.1x of Tikhonov on KWW (README, "Regularizers");
    /// 1 for total variation, whose rounded |L f| then charges a jump its height (order 2 charges
    /// a jump as two kinks and draws it as a slope: on the same stepping record 0.090 against
    /// 0.020), and for the Lorentzian (order 2, with e = 0.1: 0.086 against 0.020 there, the top
    /// within 0.02 eV in 15 of 20 repeats against 20).
    pub fn default_order(self) -> usize {
        match self {
            Self::Tikhonov | Self::MaxEnt => 2,
            Self::LogSmooth => 3,
            Self::TotalVariation | Self::Lorentzian => 1,
        }
    }

    /// Whether the family is solved in ln f ([`crate::inversion::logspace`]).
    pub fn in_log_space(self) -> bool {
        matches!(self, Self::LogSmooth | Self::MaxEnt)
    }

    /// Whether the family preserves edges (total variation, the Lorentzian): solved in f with a
    /// rounding scale ([`crate::inversion::ProblemSettings::edge_scale`]).
    pub fn is_edge(self) -> bool {
        matches!(self, Self::TotalVariation | Self::Lorentzian)
    }

    /// Whether a rule may refit at a lambda between path points (Tikhonov only: the other
    /// families' rules choose among the path's points).
    pub fn refits(self) -> bool {
        self == Self::Tikhonov
    }

    /// Whether `rule` can choose on this family's path. The log-space paths (log-smooth, maxent)
    /// have no active set (robust GCV), no refits (k-fold, fixed lambda) and no iterative mode;
    /// their discrepancy choice is the path point nearest the target from below, their evidence
    /// the Laplace approximation at each point. The classic maxent rule applies to maxent only.
    /// Total variation's path has the active set of its linearized problem (robust GCV applies)
    /// but no refits either.
    pub fn applies(self, rule: Rule) -> bool {
        match self {
            Self::Tikhonov => !matches!(rule, Rule::Classic),
            Self::LogSmooth | Self::MaxEnt | Self::TotalVariation | Self::Lorentzian => {
                match rule {
                    Rule::Classic => self == Self::MaxEnt,
                    Rule::RobustGcv { .. } => self.is_edge(),
                    Rule::Gcv
                    | Rule::Lcurve
                    | Rule::Ftest { .. }
                    | Rule::R2Onset { .. }
                    | Rule::QuasiOptimality
                    | Rule::Discrepancy { .. }
                    | Rule::Evidence { .. }
                    | Rule::Consensus { .. } => true,
                    _ => false,
                }
            }
        }
    }
}

/// Checks total variation's rounding scale.
///
/// # Errors
/// A message when `scale` is not a finite number > 0.
pub fn check_edge_scale(scale: f64) -> Result<f64, String> {
    if scale.is_finite() && scale > 0.0 {
        Ok(scale)
    } else {
        Err(format!(
            "{scale}: the rounding scale must be a finite number > 0 (a fraction of the largest \
             difference)"
        ))
    }
}

/// Checks maxent's default-model factor.
///
/// # Errors
/// A message when `factor` is not a finite number > 0.
pub fn check_maxent_model(factor: f64) -> Result<f64, String> {
    if factor.is_finite() && factor > 0.0 {
        Ok(factor)
    } else {
        Err(format!(
            "{factor}: the default model's factor must be a finite number > 0"
        ))
    }
}

/// Fewest bootstrap resamples accepted: with fewer than 20 the 5th and 95th percentiles are the
/// extreme values of the sample.
pub const MIN_RESAMPLES: usize = 20;
/// Most bootstrap resamples accepted (each is a whole analysis).
pub const MAX_RESAMPLES: usize = 100_000;

/// How many bootstrap resamples are re-analysed, and the seed their noise is drawn from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bootstrap {
    /// Number of resampled data sets, [`MIN_RESAMPLES`]..=[`MAX_RESAMPLES`].
    pub resamples: usize,
    /// Seed of resample 0; resample b draws from its own stream, so that the result does not
    /// depend on the number of threads.
    pub seed: u64,
}

impl Bootstrap {
    /// Checked settings.
    ///
    /// # Errors
    /// A message when `resamples` lies outside [`MIN_RESAMPLES`]..=[`MAX_RESAMPLES`].
    pub fn new(resamples: usize, seed: u64) -> Result<Self, String> {
        if !(MIN_RESAMPLES..=MAX_RESAMPLES).contains(&resamples) {
            return Err(format!(
                "{resamples} resamples: must lie in [{MIN_RESAMPLES}, {MAX_RESAMPLES}] (below \
                 {MIN_RESAMPLES} the 90 % interval is the sample's extremes)"
            ));
        }
        Ok(Self { resamples, seed })
    }
}

/// Most lambda values on a path.
pub const MAX_LAMBDA_POINTS: usize = 10_000;
/// Fewest lambda values on a path (the rules need neighbours on both sides).
pub const MIN_LAMBDA_POINTS: usize = 5;
/// Fewest grid points.
pub const MIN_GRID_POINTS: usize = 3;
/// Highest difference order of the penalty. Order r leaves the polynomials of degree < r free; with
/// r = 3 and log-smooth, every log-normal peak (a parabola in ln f) costs nothing.
pub const MAX_ORDER: usize = 3;

/// A setting out of its domain: the field (its key under a scenario's `[inversion]`; the command
/// line names its flag) and why, starting with the bad value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct SettingError {
    /// The scenario key under `[inversion]`, e.g. `order`.
    pub field: &'static str,
    /// What is wrong, starting with the value.
    pub message: String,
}

impl InvertOptions {
    /// Defaults for a kernel.
    pub fn new(kernel: Kernel) -> Self {
        Self {
            kernel,
            rule: Regularizer::Tikhonov.default_rule(),
            points: None,
            per_decade: DEFAULT_POINTS_PER_DECADE,
            tau_min_s: None,
            tau_max_s: None,
            baseline: None,
            baseline_nonnegative: false,
            order: Regularizer::Tikhonov.default_order(),
            zero_boundary: false,
            lambda_points: super::DEFAULT_LAMBDA_POINTS,
            peaks: PeakParams::default(),
            uncertainty: None,
            regularizer: Regularizer::Tikhonov,
            maxent_model: 1.0,
            edge_scale: super::edge::EDGE_SCALE,
        }
    }

    /// The one check of these settings, made by the scenario loader, the command line and
    /// [`crate::pipeline::invert`] alike: grid points and density, tau range, penalty order, path
    /// length, peak splitting and maxent's model factor. What depends on the data (the grid the
    /// window gives, the rule's fit to the regularizer) is checked where the data are known.
    ///
    /// # Errors
    /// The first field out of its domain.
    pub fn check(&self) -> Result<(), SettingError> {
        let bad = |field, message| Err(SettingError { field, message });
        if let Some(p) = self.points {
            if p < MIN_GRID_POINTS {
                return bad(
                    "points",
                    format!("{p}: at least {MIN_GRID_POINTS} grid points are needed"),
                );
            }
            if p > MAX_GRID_POINTS {
                return bad(
                    "points",
                    format!("{p}: at most {MAX_GRID_POINTS} grid points are accepted"),
                );
            }
        }
        let d = self.per_decade;
        if !(MIN_POINTS_PER_DECADE..=MAX_POINTS_PER_DECADE).contains(&d) {
            return bad(
                "per_decade",
                format!("{d}: must lie in [{MIN_POINTS_PER_DECADE}, {MAX_POINTS_PER_DECADE}]"),
            );
        }
        for (field, v) in [("tau_min_s", self.tau_min_s), ("tau_max_s", self.tau_max_s)] {
            if let Some(v) = v.filter(|v| !(v.is_finite() && *v > 0.0)) {
                return bad(field, format!("{v}: must be > 0 s"));
            }
        }
        if let (Some(a), Some(b)) = (self.tau_min_s, self.tau_max_s) {
            if a >= b {
                return bad(
                    "tau_max_s",
                    format!("{b} s: must exceed the grid start, {a} s"),
                );
            }
        }
        if self.order > MAX_ORDER {
            return bad(
                "order",
                format!("{}: must be 0, 1, 2 or {MAX_ORDER}", self.order),
            );
        }
        let n = self.lambda_points;
        if n < MIN_LAMBDA_POINTS {
            return bad(
                "lambda_points",
                format!("{n}: at least {MIN_LAMBDA_POINTS} are needed"),
            );
        }
        if n > MAX_LAMBDA_POINTS {
            return bad(
                "lambda_points",
                format!("{n}: at most {MAX_LAMBDA_POINTS} are accepted"),
            );
        }
        for (field, v) in [
            ("min_dip", self.peaks.min_dip),
            ("min_area_fraction", self.peaks.min_area_fraction),
        ] {
            if !(0.0..1.0).contains(&v) {
                return bad(field, format!("{v}: must lie in [0, 1)"));
            }
        }
        let z = self.peaks.min_significance;
        if !(z.is_finite() && z >= 0.0) {
            return bad("min_significance", format!("{z}: must be >= 0"));
        }
        if z > 0.0 && self.regularizer.is_edge() {
            return bad(
                "min_significance",
                format!(
                    "applies to the tikhonov, log-smooth and maxent regularizers, not {}",
                    self.regularizer.name()
                ),
            );
        }
        check_maxent_model(self.maxent_model).map_err(|message| SettingError {
            field: "maxent_model",
            message,
        })?;
        check_edge_scale(self.edge_scale).map_err(|message| SettingError {
            field: "edge_scale",
            message,
        })?;
        Ok(())
    }

    /// The baseline in effect.
    pub fn baseline(&self) -> Baseline {
        self.baseline_for(self.kernel)
    }

    /// The baseline in effect for data of `kernel` (a joint inversion's sets differ in kind).
    pub fn baseline_for(&self, kernel: Kernel) -> Baseline {
        self.baseline.unwrap_or(match kernel {
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

    /// Every rule evaluated: the chosen one first, then the other defaults that apply to the
    /// regularizer family.
    pub fn rules(&self) -> Vec<Rule> {
        let mut rules = vec![self.rule];
        rules.extend(
            Rule::all_on_path()
                .into_iter()
                .filter(|r| r.name() != self.rule.name() && self.regularizer.applies(*r)),
        );
        rules
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each field out of its domain is refused under its own name, the defaults pass, and the
    /// edges of each domain are where the documentation puts them.
    #[test]
    fn check_names_the_first_bad_field() {
        let base = InvertOptions::new(Kernel::Decay);
        assert_eq!(base.check(), Ok(()));
        let field = |edit: &dyn Fn(&mut InvertOptions)| {
            let mut o = base.clone();
            edit(&mut o);
            o.check().err().map(|e| e.field)
        };
        assert_eq!(field(&|o| o.points = Some(2)), Some("points"));
        assert_eq!(field(&|o| o.points = Some(3)), None);
        assert_eq!(
            field(&|o| o.points = Some(MAX_GRID_POINTS + 1)),
            Some("points")
        );
        assert_eq!(field(&|o| o.per_decade = 1.5), Some("per_decade"));
        assert_eq!(field(&|o| o.per_decade = f64::NAN), Some("per_decade"));
        assert_eq!(field(&|o| o.per_decade = MAX_POINTS_PER_DECADE), None);
        assert_eq!(field(&|o| o.tau_min_s = Some(0.0)), Some("tau_min_s"));
        assert_eq!(
            field(&|o| o.tau_max_s = Some(f64::INFINITY)),
            Some("tau_max_s")
        );
        let reversed = |o: &mut InvertOptions| {
            o.tau_min_s = Some(10.0);
            o.tau_max_s = Some(10.0);
        };
        assert_eq!(field(&reversed), Some("tau_max_s"));
        assert_eq!(field(&|o| o.order = 4), Some("order"));
        assert_eq!(field(&|o| o.order = 3), None);
        assert_eq!(field(&|o| o.order = 0), None);
        assert_eq!(field(&|o| o.lambda_points = 4), Some("lambda_points"));
        assert_eq!(field(&|o| o.lambda_points = MAX_LAMBDA_POINTS), None);
        assert_eq!(
            field(&|o| o.lambda_points = MAX_LAMBDA_POINTS + 1),
            Some("lambda_points")
        );
        assert_eq!(field(&|o| o.peaks.min_dip = 1.0), Some("min_dip"));
        assert_eq!(
            field(&|o| o.peaks.min_area_fraction = -0.1),
            Some("min_area_fraction")
        );
        assert_eq!(field(&|o| o.maxent_model = 0.0), Some("maxent_model"));
        // The message starts with the bad value.
        let mut o = base.clone();
        o.order = 7;
        assert_eq!(
            o.check().unwrap_err().to_string(),
            "order: 7: must be 0, 1, 2 or 3"
        );
    }
}
