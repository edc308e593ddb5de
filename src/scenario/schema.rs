//! The scenario file as written (TOML, `version = 1`). Every field documents its unit; every table
//! rejects unknown keys. [`super::Scenario`] is the validated form the engine runs; its `resolved`
//! copy of this struct has every default filled in and is what `scenario.json` holds.

use serde::{Deserialize, Serialize};

use crate::protocol::dma::LossModel;
use crate::protocol::mandrel::Coupling;
use crate::protocol::Spacing;

/// A whole scenario file.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// Format version; must be 1.
    pub version: u32,
    /// Scenario name (default: the file stem). Used for the default output folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Seed of every random draw (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// The glass (needed for hierarchies and for DMA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub material: Option<MaterialSpec>,
    /// The assumed spectrum (not used by the stretched-exponent protocol).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truth: Option<TruthSpec>,
    /// The experiment.
    pub protocol: ProtocolSpec,
    /// Measurement noise (default none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise: Option<NoiseSpec>,
    /// How `stzlab run` inverts the data (defaults as `stzlab invert`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inversion: Option<InversionSpec>,
    /// The grid of conditions `stzlab run` sweeps (default: one cell, one repeat).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<SweepSpec>,
    /// A method study instead of the inversion sweep (docs/model.md §5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub study: Option<super::study::StudySpec>,
}

/// `[inversion]`: the analysis of every run.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct InversionSpec {
    /// Rules to evaluate on each run's path (default: discrepancy, gcv, lcurve, ftest, r2-onset):
    /// names with optional parameters (`"r2-onset:threshold=0.03"`) or tables
    /// (`{ rule = "r2-onset", threshold = 0.03 }`); `iterative` and `fixed=LAMBDA` are accepted too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<Vec<RuleEntry>>,
    /// Number of tau grid points (default: `per_decade` points per decade).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub points: Option<usize>,
    /// Grid density, points per decade (default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_decade: Option<f64>,
    /// Grid start, s (default: one decade below the data window).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tau_min_s: Option<f64>,
    /// Grid end, s (default: one decade above the data window).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tau_max_s: Option<f64>,
    /// `none`, `constant` or `constant+linear` (default by kernel: constant for decay,
    /// constant+linear for creep, none for loss).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<crate::inversion::Baseline>,
    /// Constrain baseline coefficients >= 0 (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_nonnegative: Option<bool>,
    /// Difference order of the penalty, 0 to 3 (default 2; 3 for log-smooth).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<usize>,
    /// Zero boundary beyond the grid ends (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zero_boundary: Option<bool>,
    /// Points on the lambda path (default 60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lambda_points: Option<usize>,
    /// Peak splitting: relative dip below which a minimum does not split (default 0.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_dip: Option<f64>,
    /// Peak splitting: smallest peak area as a fraction of the total (default 0.001).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_area_fraction: Option<f64>,
    /// Peaks of a Tikhonov, log-smooth or maxent choice whose area is below this many linearized
    /// standard errors are left out of the reading (default 0: every peak is kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_significance: Option<f64>,
    /// Peak matching radius, decades: a recovered peak farther than this from a true one does not
    /// match it (default 0.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_decades: Option<f64>,
    /// Bootstrap resamples per run (20 to 100000; default none): each run's first rule is
    /// re-analysed on this many resampled data sets and the coverage of its 90 % intervals is scored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uncertainty: Option<usize>,
    /// The regularizer family: `tikhonov` (default, smooths f), `log-smooth` (smooths ln f) or
    /// `maxent` (entropy relative to a flat default model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regularizer: Option<String>,
    /// Maxent's flat default model as a multiple of its default (> 0; default 1): the strongest
    /// Tikhonov solution's total amplitude spread evenly over the grid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maxent_model: Option<f64>,
    /// Total variation's rounding scale, a fraction of the largest difference of the Tikhonov
    /// solution at each lambda (> 0; default 0.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edge_scale: Option<f64>,
}

/// One entry of `inversion.rules`: a rule name with optional parameters, or a table with the key
/// `rule` and one key per parameter.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum RuleEntry {
    /// `"NAME"` or `"NAME:key=value,..."`.
    Name(String),
    /// `{ rule = "NAME", key = value, ... }`.
    Table(toml::Table),
}

impl RuleEntry {
    /// The entry as the text [`crate::inversion::Rule::parse`] reads.
    ///
    /// # Errors
    /// A table without a string `rule` or with a value that is not a number.
    pub fn text(&self) -> Result<String, String> {
        match self {
            Self::Name(n) => Ok(n.clone()),
            Self::Table(t) => {
                let Some(toml::Value::String(name)) = t.get("rule") else {
                    return Err("a rule table needs rule = \"NAME\"".into());
                };
                let mut params = Vec::new();
                for (k, v) in t.iter().filter(|(k, _)| k.as_str() != "rule") {
                    let value = match v {
                        toml::Value::Float(x) => x.to_string(),
                        toml::Value::Integer(x) => x.to_string(),
                        other => return Err(format!("{k} = {other}: a number is needed")),
                    };
                    params.push(format!("{k}={value}"));
                }
                Ok(if params.is_empty() {
                    name.clone()
                } else {
                    format!("{name}:{}", params.join(","))
                })
            }
        }
    }
}

/// `[sweep]`: axes over scenario parameters and noise repeats.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SweepSpec {
    /// Noise realizations per cell (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeats: Option<u32>,
    /// `[sweep.axes]`: a dotted scenario path mapped to the list of values it takes, e.g.
    /// `"noise.sigma" = [1e-5, 1e-4]`. A value may be a whole table (e.g. for `"truth"`), with an
    /// optional `label` key naming it in outputs; `{ label = "...", value = X }` labels any value X.
    /// Cells are the Cartesian product, first axis slowest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub axes: Option<toml::Table>,
}

/// `[material]`: Argon-model parameters (docs/model.md §1).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MaterialSpec {
    /// Shear modulus at and below T_g, GPa.
    pub mu_gpa: f64,
    /// Poisson's ratio, in (0, 0.5).
    pub nu: f64,
    /// Unconstrained transformation shear strain gamma_T (default 0.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gamma_t: Option<f64>,
    /// Dilatation factor beta (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beta: Option<f64>,
    /// STZ shear resistance over mu (default 0.025).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sigma_stz_over_mu: Option<f64>,
    /// Attempt frequency, Hz (default 1e13).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nu_g_hz: Option<f64>,
    /// Glass transition temperature, K; with `dmu_dt_gpa_per_k`, mu falls linearly above it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t_g_k: Option<f64>,
    /// Slope of mu above T_g, GPa/K (negative for softening).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dmu_dt_gpa_per_k: Option<f64>,
}

/// What the truth is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TruthKind {
    /// An STZ hierarchy evaluated with the material at the protocol temperature(s).
    Hierarchy,
    /// Explicit peaks in tau.
    Spectrum,
}

/// `[truth]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TruthSpec {
    /// `hierarchy` or `spectrum`.
    pub kind: TruthKind,
    /// Hierarchy: STZ sizes n (atoms), strictly increasing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<Vec<u32>>,
    /// Hierarchy: volume fraction c_n of each size (or give `free_volume`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub c: Option<Vec<f64>>,
    /// Hierarchy: c_n from the free-volume model instead of a list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub free_volume: Option<FreeVolumeSpec>,
    /// Hierarchy: atomic volume V_a, m^3 (Omega_n = n V_a).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub atomic_volume_m3: Option<f64>,
    /// Hierarchy, two regimes: size n_b above which the second atomic volume applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n_break: Option<u32>,
    /// Hierarchy, two regimes: atomic volume above n_b, m^3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub atomic_volume2_m3: Option<f64>,
    /// Hierarchy: Gaussian width of every peak, standard deviation in ln tau (default 0: deltas).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<f64>,
    /// Spectrum: the peaks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peaks: Option<Vec<PeakSpec>>,
}

/// `[truth.free_volume]`: c_n = scale * P(Poisson(n mean_free_volume) > v1 n^p).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FreeVolumeSpec {
    /// Threshold prefactor, free-volume quanta.
    pub v1: f64,
    /// Threshold exponent (default 0.22).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p: Option<f64>,
    /// Mean free volume per atom, quanta.
    pub mean_free_volume: f64,
    /// Proportionality constant (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<f64>,
}

/// One entry of `truth.peaks`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PeakSpec {
    /// Peak centre (median of the log-normal; tau0 or tau_K of a closed form), s.
    pub tau_s: f64,
    /// Peak area c (normalized strain); a closed form's own area multiplies it.
    pub area: f64,
    /// Standard deviation in ln tau (log-normal only; default 0: a delta).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<f64>,
    /// `log-normal` (default), `kww`, `cole-cole`, `davidson-cole` or `havriliak-negami`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shape: Option<String>,
    /// KWW stretching exponent, 0 < beta <= 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beta: Option<f64>,
    /// KWW time shift t0 >= 0, s: exp(-((t + t0)/tau)^beta) (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t0_s: Option<f64>,
    /// Cole-Cole or Havriliak-Negami broadening exponent, 0 < alpha < 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpha: Option<f64>,
    /// Davidson-Cole (0 < gamma < 1) or Havriliak-Negami (0 < gamma <= 1) asymmetry exponent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gamma: Option<f64>,
}

/// The experiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProtocolKind {
    /// Constrain for t_c, release, record the recovery (decay kernel).
    Mandrel,
    /// Fixed stress from t = 0 (creep kernel).
    Cantilever,
    /// Loss modulus against angular frequency at one or more temperatures.
    Dma,
    /// x0 exp(-((t + t0)/tau)^beta) (paper section 7).
    StretchedExponent,
    /// Constant stress with the temperature stepped upward and held (paper section 8; the
    /// temperature-stepping study).
    TemperatureStepping,
    /// Several experiments on one sample (`sets`: mandrel and cantilever protocols), inverted
    /// jointly for one spectrum (docs/model.md §7).
    Joint,
}

/// `[protocol]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProtocolSpec {
    /// `mandrel`, `cantilever`, `dma` or `stretched-exponent`.
    pub kind: ProtocolKind,
    /// Mandrel, cantilever: measurement temperature, K (default 295).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature_k: Option<f64>,
    /// DMA: temperatures, K.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperatures_k: Option<Vec<f64>>,
    /// Mandrel: constraint time, s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t_c_s: Option<f64>,
    /// Mandrel: `coupled` (exact, default) or `uncoupled` constraint phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coupling: Option<Coupling>,
    /// Time-domain protocols: the times after release / loading, s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<TimesSpec>,
    /// DMA: the angular frequencies, rad/s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub omega: Option<OmegaSpec>,
    /// DMA: `exact` (Im 1/J*, default) or `eq7` (paper Eq. 7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss_model: Option<LossModel>,
    /// DMA: report E''/E0(T) (dimensionless, peak areas are c) instead of E'' in Pa (default
    /// false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normalized: Option<bool>,
    /// Stretched exponent: amplitude x0 (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x0: Option<f64>,
    /// Stretched exponent: time shift t0, s (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t0_s: Option<f64>,
    /// Stretched exponent: tau, s (default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tau_s: Option<f64>,
    /// Stretched exponent: exponent beta in (0, 1] (default 0.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beta: Option<f64>,
    /// Temperature stepping: temperature step, K (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_k: Option<f64>,
    /// Temperature stepping: number of upward steps (default 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<usize>,
    /// Temperature stepping: hold time at each temperature, s (default 3600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_s: Option<f64>,
    /// Joint: the experiments, each a protocol table of kind `mandrel` or `cantilever`
    /// (`[[protocol.sets]]`), at one temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sets: Option<Vec<ProtocolSpec>>,
}

/// `[protocol.times]`: `values_s`, or `start_s`, `stop_s`, `points` and `spacing`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TimesSpec {
    /// First time, s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_s: Option<f64>,
    /// Last time, s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_s: Option<f64>,
    /// Number of points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub points: Option<usize>,
    /// `log` (default) or `linear`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spacing: Option<Spacing>,
    /// Explicit times, s (instead of the four fields above).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values_s: Option<Vec<f64>>,
}

/// `[protocol.omega]`: `values_rad_s`, or `start_rad_s`, `stop_rad_s`, `points` and `spacing`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OmegaSpec {
    /// Lowest angular frequency, rad/s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_rad_s: Option<f64>,
    /// Highest angular frequency, rad/s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_rad_s: Option<f64>,
    /// Number of points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub points: Option<usize>,
    /// `log` (default) or `linear`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spacing: Option<Spacing>,
    /// Explicit angular frequencies, rad/s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values_rad_s: Option<Vec<f64>>,
}

/// `[noise]`: all default to 0 (noise-free).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct NoiseSpec {
    /// White noise standard deviation, data units (normalized strain, or Pa for DMA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sigma: Option<f64>,
    /// White noise standard deviation relative to |y|.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relative: Option<f64>,
    /// Linear drift, data units per second of measurement time (time-domain protocols only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift_per_s: Option<f64>,
    /// AR(1) noise marginal standard deviation, data units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ar1_sigma: Option<f64>,
    /// AR(1) lag-one correlation between consecutive points, in [0, 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ar1_rho: Option<f64>,
    /// What the data's sigma column states: `total` (default: the whole random part), `white`
    /// (only the white part, as real data often do), or `none` (no sigma; the inversion
    /// estimates the noise level).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sigma_column: Option<crate::noise::SigmaReport>,
}
