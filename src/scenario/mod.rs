//! Scenario files: the TOML schema as written ([`ScenarioFile`]) and the validated [`Scenario`] the
//! engine runs. Every error names the file, the line and column where TOML gives one, and the field.

mod locate;
pub mod plan;
mod schema;
mod study;

use std::fmt;
use std::path::Path;

use serde::Serialize;

pub use plan::{Axis, Cell, Plan};
pub use schema::{
    FreeVolumeSpec, InversionSpec, MaterialSpec, NoiseSpec, OmegaSpec, PeakSpec, ProtocolKind,
    ProtocolSpec, RuleEntry, ScenarioFile, SweepSpec, TimesSpec, TruthKind, TruthSpec,
};
pub use study::{
    BendingParams, DfShape, GroupingParams, SteppingParams, Study, StudyKind, StudySpec,
    DEFAULT_STRAINS,
};

use crate::constants::PA_PER_GPA;
use crate::inversion::InvertOptions;
use crate::inversion::{Kernel, Rule};
use crate::noise::NoiseModel;
use crate::protocol::dma::LossModel;
use crate::protocol::mandrel::Coupling;
use crate::protocol::{AxisGrid, Spacing};
use crate::spectrum::Shape;
use crate::spectrum::{Peak, Spectrum};
use crate::stz::{
    AtomicVolume, FreeVolumeModel, GlassTransition, Hierarchy, Material, MaterialParams,
};

/// The only scenario format version.
pub const SCENARIO_VERSION: u32 = 1;
/// Default measurement temperature of the time-domain protocols, K (the paper's room temperature).
pub const DEFAULT_TEMPERATURE_K: f64 = 295.0;
/// Default seed.
pub const DEFAULT_SEED: u64 = 1;

/// A scenario that could not be read or is not valid.
#[derive(Debug)]
pub enum ScenarioError {
    /// The file could not be read.
    Io {
        /// The file.
        file: String,
        /// What went wrong.
        source: std::io::Error,
    },
    /// Syntax, schema or physics error at a field.
    Invalid {
        /// The file.
        file: String,
        /// 1-based line and column, when the field appears in the file.
        position: Option<(usize, usize)>,
        /// Dotted field path, e.g. `material.nu` or `truth.c[2]`.
        field: String,
        /// What is wrong.
        message: String,
    },
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { file, source } => write!(f, "{file}: cannot read: {source}"),
            Self::Invalid {
                file,
                position,
                field,
                message,
            } => {
                match position {
                    Some((line, col)) => write!(f, "{file}:{line}:{col}: ")?,
                    None => write!(f, "{file}: ")?,
                }
                if field.is_empty() {
                    write!(f, "{message}")
                } else {
                    write!(f, "{field}: {message}")
                }
            }
        }
    }
}

impl std::error::Error for ScenarioError {}

/// A field-level validation failure before it is placed in a file.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Invalid {
    pub field: String,
    pub message: String,
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> Invalid {
    Invalid {
        field: field.into(),
        message: message.into(),
    }
}

/// The assumed spectrum.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Truth {
    /// An STZ hierarchy (needs the material and a temperature to become a spectrum).
    Hierarchy(Hierarchy),
    /// Explicit peaks.
    Spectrum(Spectrum),
}

/// The validated experiment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Protocol {
    /// Constrain for `t_c_s`, release, record the recovery at `times`.
    Mandrel {
        /// Temperature, K.
        temperature_k: f64,
        /// Constraint time, s.
        t_c_s: f64,
        /// Constraint-phase model.
        coupling: Coupling,
        /// Times after release, s.
        times: AxisGrid,
    },
    /// Creep under fixed stress.
    Cantilever {
        /// Temperature, K.
        temperature_k: f64,
        /// Times after loading, s.
        times: AxisGrid,
    },
    /// Loss modulus at several temperatures.
    Dma {
        /// Temperatures, K (strictly increasing).
        temperatures_k: Vec<f64>,
        /// Angular frequencies, rad/s.
        omega: AxisGrid,
        /// Exact or Eq. 7.
        loss_model: LossModel,
        /// E''/E0(T) instead of E'' in Pa.
        normalized: bool,
    },
    /// x0 exp(-((t + t0)/tau)^beta).
    StretchedExponent {
        /// Amplitude.
        x0: f64,
        /// Shift, s.
        t0_s: f64,
        /// Time constant, s.
        tau_s: f64,
        /// Exponent.
        beta: f64,
        /// Times, s.
        times: AxisGrid,
    },
    /// Constant stress, temperature stepped upward and held.
    TemperatureStepping {
        /// First hold temperature, K.
        start_k: f64,
        /// Step, K.
        step_k: f64,
        /// Number of upward steps.
        steps: usize,
        /// Hold at each temperature, s.
        hold_s: f64,
    },
}

impl Protocol {
    /// The temperatures at which the truth is evaluated (none for the stretched exponent).
    pub fn temperatures_k(&self) -> Vec<f64> {
        match self {
            Self::Mandrel { temperature_k, .. } | Self::Cantilever { temperature_k, .. } => {
                vec![*temperature_k]
            }
            Self::Dma { temperatures_k, .. } => temperatures_k.clone(),
            Self::StretchedExponent { .. } => Vec::new(),
            Self::TemperatureStepping {
                start_k,
                step_k,
                steps,
                ..
            } => (0..=*steps).map(|i| start_k + i as f64 * step_k).collect(),
        }
    }
}

/// A validated scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// Name (file stem by default).
    pub name: String,
    /// Seed of every random draw.
    pub seed: u64,
    /// The glass, when given.
    pub material: Option<Material>,
    /// The assumed spectrum (absent for the stretched exponent).
    pub truth: Option<Truth>,
    /// The experiment.
    pub protocol: Protocol,
    /// Measurement noise.
    pub noise: NoiseModel,
    /// How `stzlab run` inverts each run (kernel from the protocol).
    pub inversion: InvertOptions,
    /// The rules `stzlab run` evaluates, in order.
    pub rules: Vec<Rule>,
    /// Peak matching radius, decades.
    pub match_decades: f64,
    /// The method study `stzlab run` performs instead of the inversion sweep, if any.
    pub study: Option<Study>,
    /// The file's content with every default filled in (what `scenario.json` holds).
    pub resolved: ScenarioFile,
}

impl Scenario {
    /// Reads and validates a scenario file. The default name is the file stem.
    ///
    /// # Errors
    /// [`ScenarioError`] naming the file, line and field.
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io {
            file: file.clone(),
            source,
        })?;
        let stem = path.file_stem().map_or_else(
            || "scenario".to_string(),
            |s| s.to_string_lossy().into_owned(),
        );
        Self::from_toml(&text, &file, &stem)
    }

    /// Parses and validates scenario text; `file` is used in error messages.
    ///
    /// # Errors
    /// [`ScenarioError::Invalid`].
    pub fn from_toml(text: &str, file: &str, default_name: &str) -> Result<Self, ScenarioError> {
        let spec: ScenarioFile = parse_located(text, file)?;
        Self::from_spec(spec, default_name).map_err(|e| locate_invalid(text, file, e))
    }

    /// Validates a scenario given as a TOML table (a file's document after overrides); errors name
    /// the field but no line.
    ///
    /// # Errors
    /// [`ScenarioError::Invalid`] without a position.
    pub fn from_table(
        table: toml::Table,
        file: &str,
        default_name: &str,
    ) -> Result<Self, ScenarioError> {
        let at = |field: String, message: String| ScenarioError::Invalid {
            file: file.to_string(),
            position: None,
            field,
            message,
        };
        let spec: ScenarioFile = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| at(String::new(), e.message().trim().to_string()))?;
        Self::from_spec(spec, default_name).map_err(|e| at(e.field, e.message))
    }

    /// Validates a parsed scenario.
    pub(crate) fn from_spec(spec: ScenarioFile, default_name: &str) -> Result<Self, Invalid> {
        if spec.version != SCENARIO_VERSION {
            return Err(invalid(
                "version",
                format!(
                    "unsupported version {}; this stzlab reads version {SCENARIO_VERSION}",
                    spec.version
                ),
            ));
        }
        let mut resolved = spec.clone();
        resolved.name = Some(
            spec.name
                .clone()
                .unwrap_or_else(|| default_name.to_string()),
        );
        let name = resolved.name.clone().unwrap_or_default();
        if name.is_empty() || name.contains(['/', '\\']) || name == "." || name == ".." {
            return Err(invalid(
                "name",
                format!("{name:?} cannot name an output folder"),
            ));
        }
        resolved.seed = Some(spec.seed.unwrap_or(DEFAULT_SEED));

        let material = match &spec.material {
            Some(m) => {
                let (filled, material) = resolve_material(m)?;
                resolved.material = Some(filled);
                Some(material)
            }
            None => None,
        };
        let (protocol_spec, protocol) = resolve_protocol(&spec.protocol)?;
        resolved.protocol = protocol_spec;

        let study_kind = spec.study.as_ref().map(|s| s.kind);
        let truth = match (&spec.truth, &protocol) {
            (None, Protocol::StretchedExponent { .. } | Protocol::TemperatureStepping { .. }) => {
                None
            }
            (Some(_), Protocol::TemperatureStepping { .. }) => {
                return Err(invalid(
                    "truth",
                    "the temperature-stepping protocol assumes its spectrum of dF in [study] (df_min_ev, df_max_ev, shape); remove [truth]",
                ));
            }
            (Some(_), Protocol::StretchedExponent { .. }) => {
                return Err(invalid(
                    "truth",
                    "the stretched-exponent protocol takes no truth",
                ));
            }
            (None, _) => return Err(invalid("truth", "missing table [truth]")),
            (Some(t), _) => {
                let (filled, truth) = resolve_truth(t)?;
                resolved.truth = Some(filled);
                Some(truth)
            }
        };
        match (&truth, &material) {
            (Some(Truth::Hierarchy(_)), None) => {
                return Err(invalid(
                    "material",
                    "a hierarchy truth needs a [material] table",
                ));
            }
            (_, None) if matches!(protocol, Protocol::Dma { .. }) => {
                return Err(invalid(
                    "material",
                    "the dma protocol needs a [material] table for E0 = 2 mu (1 + nu)",
                ));
            }
            _ => {}
        }
        if let Protocol::Dma { temperatures_k, .. } = &protocol {
            if temperatures_k.len() > 1 && matches!(truth, Some(Truth::Spectrum(_))) {
                return Err(invalid(
                    "protocol.temperatures_k",
                    "several temperatures need a hierarchy truth: an explicit spectrum has no temperature dependence",
                ));
            }
        }
        if let Some(m) = &material {
            for (i, t) in protocol.temperatures_k().into_iter().enumerate() {
                let field = match protocol {
                    Protocol::Dma { .. } => format!("protocol.temperatures_k[{i}]"),
                    _ => "protocol.temperature_k".to_string(),
                };
                m.check_temperature(t)
                    .map_err(|e| invalid(field, e.to_string()))?;
                // Every size's relaxation time must be a number a clock can show: an atomic volume
                // given in the wrong unit (16.6 for 16.6e-30 m^3) gives exp(dF/kT) = infinity.
                if let Some(Truth::Hierarchy(h)) = &truth {
                    if let Some(l) = h
                        .levels(m, t)
                        .into_iter()
                        .find(|l| !(l.tau_s.is_finite() && l.tau_s > 0.0 && l.tau_s < MAX_TAU_S))
                    {
                        return Err(invalid(
                            "truth.atomic_volume_m3",
                            format!(
                                "size n = {} has Omega = {:.4e} m^3 and tau = {:.4e} s at {t} K (more than {MAX_TAU_S:e} s): is the atomic volume in m^3 (about 1e-29)?",
                                l.n, l.omega_m3, l.tau_s
                            ),
                        ));
                    }
                }
            }
        }

        let noise_spec = spec.noise.clone().unwrap_or_default();
        let filled_noise = NoiseSpec {
            sigma: Some(noise_spec.sigma.unwrap_or(0.0)),
            relative: Some(noise_spec.relative.unwrap_or(0.0)),
            drift_per_s: Some(noise_spec.drift_per_s.unwrap_or(0.0)),
            ar1_sigma: Some(noise_spec.ar1_sigma.unwrap_or(0.0)),
            ar1_rho: Some(noise_spec.ar1_rho.unwrap_or(0.0)),
            sigma_column: noise_spec.sigma_column,
        };
        let noise = NoiseModel::new(
            filled_noise.sigma.unwrap_or_default(),
            filled_noise.relative.unwrap_or_default(),
            filled_noise.drift_per_s.unwrap_or_default(),
            filled_noise.ar1_sigma.unwrap_or_default(),
            filled_noise.ar1_rho.unwrap_or_default(),
        )
        .map_err(|e| invalid(format!("noise.{}", e.field), e.to_string()))?
        .reporting(filled_noise.sigma_column.unwrap_or_default());
        if noise.drift_per_s != 0.0 && matches!(protocol, Protocol::Dma { .. }) {
            return Err(invalid(
                "noise.drift_per_s",
                "drift is defined in time; the dma protocol has none",
            ));
        }
        resolved.noise = Some(filled_noise);

        let (filled_inversion, inversion, rules, match_decades) =
            resolve_inversion(spec.inversion.as_ref(), &protocol)?;
        resolved.inversion = Some(filled_inversion);

        let study = match &spec.study {
            Some(s) => {
                let (filled, study) = study::resolve_study(s, &protocol, truth.as_ref())?;
                resolved.study = Some(filled);
                Some(study)
            }
            None => None,
        };
        match (&protocol, study_kind) {
            (Protocol::StretchedExponent { .. }, Some(StudyKind::StretchedExponent) | None)
            | (Protocol::TemperatureStepping { .. }, Some(StudyKind::TemperatureStepping)) => {}
            (Protocol::TemperatureStepping { .. }, _) => {
                return Err(invalid(
                    "study.kind",
                    "the temperature-stepping protocol is run by the temperature-stepping study: add [study] kind = \"temperature-stepping\"",
                ))
            }
            _ => {}
        }

        Ok(Self {
            name,
            seed: resolved.seed.unwrap_or(DEFAULT_SEED),
            material,
            truth,
            protocol,
            noise,
            inversion,
            rules,
            match_decades,
            study,
            resolved,
        })
    }
}

/// Default peak matching radius, decades.
pub const DEFAULT_MATCH_DECADES: f64 = 0.5;

/// The name of a shape in `truth.peaks[].shape`.
fn shape_name(shape: &Shape) -> &'static str {
    match shape {
        Shape::LogNormal => "log-normal",
        Shape::Kww { .. } => "kww",
        Shape::ColeCole { .. } => "cole-cole",
        Shape::DavidsonCole { .. } => "davidson-cole",
        Shape::HavriliakNegami { .. } => "havriliak-negami",
    }
}

/// The shape of `truth.peaks[i]` and its log-normal width (0 for closed forms), with every
/// parameter checked against its domain and every parameter of another shape refused.
fn peak_shape(i: usize, p: &PeakSpec) -> Result<(Shape, f64), Invalid> {
    let at = |field: &str| format!("truth.peaks[{i}].{field}");
    let name = p.shape.as_deref().unwrap_or("log-normal");
    let (shape, takes): (Shape, &[&str]) = match name {
        "log-normal" => (Shape::LogNormal, &["width"]),
        "kww" => (
            Shape::Kww {
                beta: p
                    .beta
                    .ok_or_else(|| invalid(at("beta"), "the kww shape needs beta"))?,
                t0_s: p.t0_s.unwrap_or(0.0),
            },
            &["beta", "t0_s"],
        ),
        "cole-cole" => (
            Shape::ColeCole {
                alpha: p
                    .alpha
                    .ok_or_else(|| invalid(at("alpha"), "the cole-cole shape needs alpha"))?,
            },
            &["alpha"],
        ),
        "davidson-cole" => (
            Shape::DavidsonCole {
                gamma: p
                    .gamma
                    .ok_or_else(|| invalid(at("gamma"), "the davidson-cole shape needs gamma"))?,
            },
            &["gamma"],
        ),
        "havriliak-negami" => (
            Shape::HavriliakNegami {
                alpha: p.alpha.ok_or_else(|| {
                    invalid(at("alpha"), "the havriliak-negami shape needs alpha")
                })?,
                gamma: p.gamma.ok_or_else(|| {
                    invalid(at("gamma"), "the havriliak-negami shape needs gamma")
                })?,
            },
            &["alpha", "gamma"],
        ),
        other => {
            return Err(invalid(
                at("shape"),
                format!("unknown shape {other:?}: use log-normal, kww, cole-cole, davidson-cole or havriliak-negami"),
            ))
        }
    };
    for (present, field) in [
        (p.width.is_some(), "width"),
        (p.beta.is_some(), "beta"),
        (p.t0_s.is_some(), "t0_s"),
        (p.alpha.is_some(), "alpha"),
        (p.gamma.is_some(), "gamma"),
    ] {
        if present && !takes.contains(&field) {
            return Err(invalid(
                at(field),
                format!("the {name} shape takes no {field}"),
            ));
        }
    }
    shape
        .check()
        .map_err(|e| invalid(at(e.field), format!("{} {}", e.value, e.requirement)))?;
    let width = p.width.unwrap_or(0.0);
    if !(width >= 0.0) {
        return Err(invalid(at("width"), format!("{width} must be >= 0")));
    }
    Ok((shape, width))
}

/// Longest relaxation time a hierarchy size may have, s (1e12 times the age of the universe).
const MAX_TAU_S: f64 = 1e30;

type ResolvedInversion = (InversionSpec, InvertOptions, Vec<Rule>, f64);

fn resolve_inversion(
    spec: Option<&InversionSpec>,
    protocol: &Protocol,
) -> Result<ResolvedInversion, Invalid> {
    let spec = spec.cloned().unwrap_or_default();
    let kernel = match protocol {
        Protocol::Mandrel { .. } | Protocol::StretchedExponent { .. } => Kernel::Decay,
        Protocol::Cantilever { .. } | Protocol::TemperatureStepping { .. } => Kernel::Creep,
        Protocol::Dma { .. } => Kernel::Loss,
    };
    let mut o = InvertOptions::new(kernel);
    let names: Vec<String> = match &spec.rules {
        Some(entries) => entries
            .iter()
            .enumerate()
            .map(|(i, e)| {
                e.text()
                    .map_err(|m| invalid(format!("inversion.rules[{i}]"), m))
            })
            .collect::<Result<_, _>>()?,
        None => Rule::all_defaults().iter().map(Rule::name).collect(),
    };
    if names.is_empty() {
        return Err(invalid("inversion.rules", "name at least one rule"));
    }
    let mut rules = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        let rule = Rule::parse(name).map_err(|e| invalid(format!("inversion.rules[{i}]"), e))?;
        if rules.iter().any(|r: &Rule| r.name() == rule.name()) {
            return Err(invalid(
                format!("inversion.rules[{i}]"),
                format!("{name} is listed twice"),
            ));
        }
        rules.push(rule);
    }
    o.rule = rules[0];
    if let Some(p) = spec.points {
        if p < 3 {
            return Err(invalid(
                "inversion.points",
                format!("{p} points: at least 3 are needed"),
            ));
        }
        if p > crate::inversion::kernel::MAX_GRID_POINTS {
            return Err(invalid(
                "inversion.points",
                format!(
                    "{p} points: at most {} are accepted",
                    crate::inversion::kernel::MAX_GRID_POINTS
                ),
            ));
        }
        o.points = Some(p);
    }
    if let Some(d) = spec.per_decade {
        let allowed = crate::inversion::kernel::MIN_POINTS_PER_DECADE
            ..=crate::inversion::kernel::MAX_POINTS_PER_DECADE;
        if !allowed.contains(&d) {
            return Err(invalid(
                "inversion.per_decade",
                format!(
                    "{d}: must lie in [{}, {}]",
                    crate::inversion::kernel::MIN_POINTS_PER_DECADE,
                    crate::inversion::kernel::MAX_POINTS_PER_DECADE
                ),
            ));
        }
        o.per_decade = d;
    }
    for (field, v) in [("tau_min_s", spec.tau_min_s), ("tau_max_s", spec.tau_max_s)] {
        if let Some(v) = v {
            if !(v.is_finite() && v > 0.0) {
                return Err(invalid(
                    format!("inversion.{field}"),
                    format!("{v}: must be > 0 s"),
                ));
            }
        }
    }
    if let (Some(a), Some(b)) = (spec.tau_min_s, spec.tau_max_s) {
        if a >= b {
            return Err(invalid(
                "inversion.tau_max_s",
                format!("{b} s must exceed tau_min_s = {a} s"),
            ));
        }
    }
    o.tau_min_s = spec.tau_min_s;
    o.tau_max_s = spec.tau_max_s;
    o.baseline = spec.baseline;
    o.baseline_nonnegative = spec.baseline_nonnegative.unwrap_or(false);
    o.order = spec.order.unwrap_or(2);
    if o.order > 2 {
        return Err(invalid(
            "inversion.order",
            format!("{}: must be 0, 1 or 2", o.order),
        ));
    }
    o.zero_boundary = spec.zero_boundary.unwrap_or(false);
    o.lambda_points = spec
        .lambda_points
        .unwrap_or(crate::inversion::DEFAULT_LAMBDA_POINTS);
    if o.lambda_points < 5 {
        return Err(invalid(
            "inversion.lambda_points",
            format!("{}: at least 5 are needed", o.lambda_points),
        ));
    }
    if let Some(d) = spec.min_dip {
        if !(0.0..1.0).contains(&d) {
            return Err(invalid(
                "inversion.min_dip",
                format!("{d}: must lie in [0, 1)"),
            ));
        }
        o.peaks.min_dip = d;
    }
    if let Some(a) = spec.min_area_fraction {
        if !(0.0..1.0).contains(&a) {
            return Err(invalid(
                "inversion.min_area_fraction",
                format!("{a}: must lie in [0, 1)"),
            ));
        }
        o.peaks.min_area_fraction = a;
    }
    let match_decades = spec.match_decades.unwrap_or(DEFAULT_MATCH_DECADES);
    if !(match_decades.is_finite() && match_decades > 0.0) {
        return Err(invalid(
            "inversion.match_decades",
            format!("{match_decades}: must be > 0"),
        ));
    }
    let filled = InversionSpec {
        rules: Some(rules.iter().map(|r| RuleEntry::Name(r.name())).collect()),
        points: o.points,
        per_decade: Some(o.per_decade),
        tau_min_s: o.tau_min_s,
        tau_max_s: o.tau_max_s,
        baseline: Some(o.baseline()),
        baseline_nonnegative: Some(o.baseline_nonnegative),
        order: Some(o.order),
        zero_boundary: Some(o.zero_boundary),
        lambda_points: Some(o.lambda_points),
        min_dip: Some(o.peaks.min_dip),
        min_area_fraction: Some(o.peaks.min_area_fraction),
        match_decades: Some(match_decades),
    };
    Ok((filled, o, rules, match_decades))
}

/// Deserializes TOML text into `T`, turning syntax, NaN/infinity and schema errors into located
/// [`ScenarioError`]s.
fn parse_located<T: serde::de::DeserializeOwned>(
    text: &str,
    file: &str,
) -> Result<T, ScenarioError> {
    let at = |offset: Option<usize>, field: String, message: String| ScenarioError::Invalid {
        file: file.to_string(),
        position: offset.map(|o| locate::line_col(text, o)),
        field,
        message,
    };
    let doc = toml::de::DeTable::parse(text).map_err(|e| {
        let offset = e.span().map(|s| s.start);
        at(
            offset,
            String::new(),
            format!("TOML syntax: {}", e.message().trim()),
        )
    })?;
    if let Some((path, offset)) = first_non_finite(doc.get_ref()) {
        return Err(at(
            Some(offset),
            path,
            "NaN and infinity are not allowed".into(),
        ));
    }
    toml::from_str(text).map_err(|e| {
        let offset = e.span().map(|s| s.start);
        let mut field = offset
            .and_then(|o| locate::path_at(text, o))
            .unwrap_or_default();
        let message = e.message().trim().to_string();
        if let Some(missing) = message
            .strip_prefix("missing field `")
            .and_then(|m| m.split('`').next())
        {
            field = if field.is_empty() {
                missing.to_string()
            } else {
                format!("{field}.{missing}")
            };
        }
        at(offset, field, message)
    })
}

/// Places a validation failure at its field's line in `text`.
fn locate_invalid(text: &str, file: &str, e: Invalid) -> ScenarioError {
    let offset = locate::span_of(text, &e.field)
        .or_else(|| {
            e.field
                .rsplit_once('.')
                .and_then(|(parent, _)| locate::span_of(text, parent))
        })
        .map(|s| s.start);
    ScenarioError::Invalid {
        file: file.to_string(),
        position: offset.map(|o| locate::line_col(text, o)),
        field: e.field,
        message: e.message,
    }
}

/// The material of a scenario-style file, for back-analysing measured data.
#[derive(Debug, Clone, PartialEq)]
pub struct MaterialFile {
    /// The validated `[material]` table.
    pub material: Material,
    /// `truth.atomic_volume_m3`, when the file has one (to express Omega slopes in atomic volumes).
    pub atomic_volume_m3: Option<f64>,
}

/// Reads the `[material]` table (and `truth.atomic_volume_m3` if present) of a scenario-style file;
/// other tables are not read.
///
/// # Errors
/// [`ScenarioError`], located as for scenarios.
pub fn load_material(path: &Path) -> Result<MaterialFile, ScenarioError> {
    #[derive(serde::Deserialize)]
    struct Partial {
        material: Option<MaterialSpec>,
        truth: Option<PartialTruth>,
    }
    #[derive(serde::Deserialize)]
    struct PartialTruth {
        atomic_volume_m3: Option<f64>,
    }
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io {
        file: file.clone(),
        source,
    })?;
    let partial: Partial = parse_located(&text, &file)?;
    let spec = partial.material.ok_or_else(|| {
        locate_invalid(
            &text,
            &file,
            invalid("material", "missing table [material]"),
        )
    })?;
    let (_, material) = resolve_material(&spec).map_err(|e| locate_invalid(&text, &file, e))?;
    let atomic_volume_m3 = partial.truth.and_then(|t| t.atomic_volume_m3);
    if let Some(v) = atomic_volume_m3 {
        if !(v > 0.0) {
            return Err(locate_invalid(
                &text,
                &file,
                invalid("truth.atomic_volume_m3", format!("{v} must be > 0")),
            ));
        }
    }
    Ok(MaterialFile {
        material,
        atomic_volume_m3,
    })
}

fn resolve_material(m: &MaterialSpec) -> Result<(MaterialSpec, Material), Invalid> {
    let glass_transition = match (m.t_g_k, m.dmu_dt_gpa_per_k) {
        (Some(t_g_k), Some(slope)) => Some(GlassTransition {
            t_g_k,
            dmu_dt_pa_per_k: slope * PA_PER_GPA,
        }),
        (None, None) => None,
        (Some(_), None) => {
            return Err(invalid(
                "material.t_g_k",
                "give dmu_dt_gpa_per_k with t_g_k",
            ))
        }
        (None, Some(_)) => {
            return Err(invalid(
                "material.dmu_dt_gpa_per_k",
                "give t_g_k with dmu_dt_gpa_per_k",
            ))
        }
    };
    let defaults = MaterialParams::default();
    let filled = MaterialSpec {
        mu_gpa: m.mu_gpa,
        nu: m.nu,
        gamma_t: Some(m.gamma_t.unwrap_or(defaults.gamma_t)),
        beta: Some(m.beta.unwrap_or(defaults.beta)),
        sigma_stz_over_mu: Some(m.sigma_stz_over_mu.unwrap_or(defaults.sigma_stz_over_mu)),
        nu_g_hz: Some(m.nu_g_hz.unwrap_or(defaults.nu_g_hz)),
        t_g_k: m.t_g_k,
        dmu_dt_gpa_per_k: m.dmu_dt_gpa_per_k,
    };
    let material = Material::new(MaterialParams {
        mu_pa: filled.mu_gpa * PA_PER_GPA,
        nu: filled.nu,
        gamma_t: filled.gamma_t.unwrap_or_default(),
        beta: filled.beta.unwrap_or_default(),
        sigma_stz_over_mu: filled.sigma_stz_over_mu.unwrap_or_default(),
        nu_g_hz: filled.nu_g_hz.unwrap_or_default(),
        glass_transition,
    })
    .map_err(|e| {
        let field = match &e {
            crate::stz::StzError::OutOfRange { field: "mu", .. } => "mu_gpa",
            crate::stz::StzError::OutOfRange {
                field: "dmu_dt", ..
            } => "dmu_dt_gpa_per_k",
            crate::stz::StzError::OutOfRange { field, .. }
            | crate::stz::StzError::Hierarchy { field, .. } => field,
        };
        invalid(
            format!("material.{field}"),
            e.to_string().replace("mu = ", "mu_pa = "),
        )
    })?;
    Ok((filled, material))
}

fn resolve_truth(t: &TruthSpec) -> Result<(TruthSpec, Truth), Invalid> {
    let unused = |present: bool, field: &str, kind: &str| {
        if present {
            Err(invalid(
                format!("truth.{field}"),
                format!("not used by a {kind} truth"),
            ))
        } else {
            Ok(())
        }
    };
    match t.kind {
        TruthKind::Hierarchy => {
            unused(t.peaks.is_some(), "peaks", "hierarchy")?;
            let sizes =
                t.n.clone()
                    .ok_or_else(|| invalid("truth.n", "missing list of STZ sizes n"))?;
            let v_a = t
                .atomic_volume_m3
                .ok_or_else(|| invalid("truth.atomic_volume_m3", "missing atomic volume, m^3"))?;
            let volume = match (t.n_break, t.atomic_volume2_m3) {
                (None, None) => AtomicVolume::Single { v_a_m3: v_a },
                (Some(n_break), Some(v_a2_m3)) => AtomicVolume::TwoRegime {
                    v_a1_m3: v_a,
                    n_break,
                    v_a2_m3,
                },
                (Some(_), None) => {
                    return Err(invalid(
                        "truth.n_break",
                        "give atomic_volume2_m3 with n_break",
                    ))
                }
                (None, Some(_)) => {
                    return Err(invalid(
                        "truth.atomic_volume2_m3",
                        "give n_break with atomic_volume2_m3",
                    ))
                }
            };
            let (c, free_volume) = match (&t.c, &t.free_volume) {
                (Some(c), None) => (c.clone(), None),
                (None, Some(fv)) => {
                    let filled = FreeVolumeSpec {
                        v1: fv.v1,
                        p: Some(fv.p.unwrap_or(0.22)),
                        mean_free_volume: fv.mean_free_volume,
                        scale: Some(fv.scale.unwrap_or(1.0)),
                    };
                    let model = FreeVolumeModel::new(
                        filled.v1,
                        filled.p.unwrap_or_default(),
                        filled.mean_free_volume,
                        filled.scale.unwrap_or_default(),
                    )
                    .map_err(|e| match e {
                        crate::stz::StzError::OutOfRange { field, .. }
                        | crate::stz::StzError::Hierarchy { field, .. } => {
                            invalid(format!("truth.{field}"), e.to_string())
                        }
                    })?;
                    (model.c(&sizes), Some(filled))
                }
                (Some(_), Some(_)) => {
                    return Err(invalid("truth.c", "give either c or free_volume, not both"))
                }
                (None, None) => {
                    return Err(invalid(
                        "truth.c",
                        "missing c (one volume fraction per size) or [truth.free_volume]",
                    ))
                }
            };
            if let Some(i) = t.c.as_ref().and_then(|c| c.iter().position(|v| *v < 0.0)) {
                return Err(invalid(
                    format!("truth.c[{i}]"),
                    format!("volume fraction {} must be >= 0", c[i]),
                ));
            }
            let width = t.width.unwrap_or(0.0);
            let hierarchy = Hierarchy::new(sizes, c, volume, width).map_err(|e| match e {
                crate::stz::StzError::OutOfRange { field, .. } => {
                    invalid(format!("truth.{field}"), e.to_string())
                }
                crate::stz::StzError::Hierarchy { field, message } => {
                    invalid(format!("truth.{field}"), message)
                }
            })?;
            let filled = TruthSpec {
                width: Some(width),
                free_volume: free_volume.clone(),
                c: if free_volume.is_some() {
                    None
                } else {
                    t.c.clone()
                },
                ..t.clone()
            };
            Ok((filled, Truth::Hierarchy(hierarchy)))
        }
        TruthKind::Spectrum => {
            for (present, field) in [
                (t.n.is_some(), "n"),
                (t.c.is_some(), "c"),
                (t.free_volume.is_some(), "free_volume"),
                (t.atomic_volume_m3.is_some(), "atomic_volume_m3"),
                (t.n_break.is_some(), "n_break"),
                (t.atomic_volume2_m3.is_some(), "atomic_volume2_m3"),
                (t.width.is_some(), "width"),
            ] {
                unused(present, field, "spectrum")?;
            }
            let peaks = t
                .peaks
                .clone()
                .ok_or_else(|| invalid("truth.peaks", "missing list of peaks"))?;
            if peaks.is_empty() {
                return Err(invalid("truth.peaks", "the list of peaks is empty"));
            }
            let mut filled_peaks = Vec::with_capacity(peaks.len());
            let mut out = Vec::with_capacity(peaks.len());
            for (i, p) in peaks.iter().enumerate() {
                if !(p.tau_s > 0.0) {
                    return Err(invalid(
                        format!("truth.peaks[{i}].tau_s"),
                        format!("{} s must be > 0", p.tau_s),
                    ));
                }
                if !(p.area >= 0.0) {
                    return Err(invalid(
                        format!("truth.peaks[{i}].area"),
                        format!("{} must be >= 0", p.area),
                    ));
                }
                let (shape, width) = peak_shape(i, p)?;
                filled_peaks.push(PeakSpec {
                    width: (!shape.is_closed_form()).then_some(width),
                    shape: Some(shape_name(&shape).into()),
                    ..p.clone()
                });
                out.push(Peak {
                    ln_tau: p.tau_s.ln(),
                    area: p.area,
                    width_ln_tau: width,
                    shape,
                });
            }
            let spectrum = Spectrum::new(out).map_err(|e| invalid("truth.peaks", e.to_string()))?;
            let filled = TruthSpec {
                peaks: Some(filled_peaks),
                ..t.clone()
            };
            Ok((filled, Truth::Spectrum(spectrum)))
        }
    }
}

fn resolve_times(times: &Option<TimesSpec>) -> Result<(TimesSpec, AxisGrid), Invalid> {
    let t = times
        .as_ref()
        .ok_or_else(|| invalid("protocol.times", "missing table [protocol.times]"))?;
    let (filled, grid) = resolve_axis(
        "protocol.times",
        ["start_s", "stop_s", "values_s"],
        t.start_s,
        t.stop_s,
        t.points,
        t.spacing,
        t.values_s.as_ref(),
    )?;
    let (start_s, stop_s, points, spacing) = filled;
    let spec = TimesSpec {
        start_s,
        stop_s,
        points,
        spacing,
        values_s: t.values_s.clone(),
    };
    Ok((spec, grid))
}

fn resolve_omega(omega: &Option<OmegaSpec>) -> Result<(OmegaSpec, AxisGrid), Invalid> {
    let o = omega
        .as_ref()
        .ok_or_else(|| invalid("protocol.omega", "missing table [protocol.omega]"))?;
    let (filled, grid) = resolve_axis(
        "protocol.omega",
        ["start_rad_s", "stop_rad_s", "values_rad_s"],
        o.start_rad_s,
        o.stop_rad_s,
        o.points,
        o.spacing,
        o.values_rad_s.as_ref(),
    )?;
    let (start_rad_s, stop_rad_s, points, spacing) = filled;
    let spec = OmegaSpec {
        start_rad_s,
        stop_rad_s,
        points,
        spacing,
        values_rad_s: o.values_rad_s.clone(),
    };
    Ok((spec, grid))
}

type AxisFields = (Option<f64>, Option<f64>, Option<usize>, Option<Spacing>);

fn resolve_axis(
    table: &str,
    names: [&str; 3],
    start: Option<f64>,
    stop: Option<f64>,
    points: Option<usize>,
    spacing: Option<Spacing>,
    values: Option<&Vec<f64>>,
) -> Result<(AxisFields, AxisGrid), Invalid> {
    use crate::protocol::grid_error_index;
    let [start_name, stop_name, values_name] = names;
    match (values, start, stop, points) {
        (Some(v), None, None, None) if spacing.is_none() => {
            let grid = AxisGrid::from_values(v.clone()).map_err(|e| {
                let field = match grid_error_index(&e) {
                    Some(i) => format!("{table}.{values_name}[{i}]"),
                    None => format!("{table}.{values_name}"),
                };
                invalid(field, e.to_string())
            })?;
            Ok(((None, None, None, None), grid))
        }
        (Some(_), ..) => Err(invalid(
            format!("{table}.{values_name}"),
            format!("give either {values_name} or start/stop/points/spacing, not both"),
        )),
        (None, Some(a), Some(b), Some(n)) => {
            if !(a > 0.0) {
                return Err(invalid(
                    format!("{table}.{start_name}"),
                    format!("{a} must be > 0"),
                ));
            }
            if !(b > a) {
                return Err(invalid(
                    format!("{table}.{stop_name}"),
                    format!("{b} must exceed {start_name} = {a}"),
                ));
            }
            if n < 2 {
                return Err(invalid(
                    format!("{table}.points"),
                    format!("{n} must be >= 2"),
                ));
            }
            let spacing = spacing.unwrap_or_default();
            let grid =
                AxisGrid::spaced(a, b, n, spacing).map_err(|e| invalid(table, e.to_string()))?;
            Ok(((Some(a), Some(b), Some(n), Some(spacing)), grid))
        }
        (None, None, _, _) => Err(invalid(
            format!("{table}.{start_name}"),
            "missing (or give values)",
        )),
        (None, _, None, _) => Err(invalid(format!("{table}.{stop_name}"), "missing")),
        (None, _, _, None) => Err(invalid(format!("{table}.points"), "missing")),
    }
}

fn resolve_protocol(p: &ProtocolSpec) -> Result<(ProtocolSpec, Protocol), Invalid> {
    let kind_name = match p.kind {
        ProtocolKind::Mandrel => "mandrel",
        ProtocolKind::Cantilever => "cantilever",
        ProtocolKind::Dma => "dma",
        ProtocolKind::StretchedExponent => "stretched-exponent",
        ProtocolKind::TemperatureStepping => "temperature-stepping",
    };
    let allowed: &[&str] = match p.kind {
        ProtocolKind::Mandrel => &["temperature_k", "t_c_s", "coupling", "times"],
        ProtocolKind::Cantilever => &["temperature_k", "times"],
        ProtocolKind::Dma => &["temperatures_k", "omega", "loss_model", "normalized"],
        ProtocolKind::StretchedExponent => &["times", "x0", "t0_s", "tau_s", "beta"],
        ProtocolKind::TemperatureStepping => &["temperature_k", "step_k", "steps", "hold_s"],
    };
    for (present, field) in [
        (p.temperature_k.is_some(), "temperature_k"),
        (p.temperatures_k.is_some(), "temperatures_k"),
        (p.t_c_s.is_some(), "t_c_s"),
        (p.coupling.is_some(), "coupling"),
        (p.times.is_some(), "times"),
        (p.omega.is_some(), "omega"),
        (p.loss_model.is_some(), "loss_model"),
        (p.normalized.is_some(), "normalized"),
        (p.x0.is_some(), "x0"),
        (p.t0_s.is_some(), "t0_s"),
        (p.tau_s.is_some(), "tau_s"),
        (p.beta.is_some(), "beta"),
        (p.step_k.is_some(), "step_k"),
        (p.steps.is_some(), "steps"),
        (p.hold_s.is_some(), "hold_s"),
    ] {
        if present && !allowed.contains(&field) {
            return Err(invalid(
                format!("protocol.{field}"),
                format!(
                    "not used by the {kind_name} protocol (it takes {})",
                    allowed.join(", ")
                ),
            ));
        }
    }
    let temperature = || -> Result<f64, Invalid> {
        let t = p.temperature_k.unwrap_or(DEFAULT_TEMPERATURE_K);
        if t > 0.0 {
            Ok(t)
        } else {
            Err(invalid(
                "protocol.temperature_k",
                format!("{t} K must be > 0"),
            ))
        }
    };
    let mut filled = p.clone();
    let protocol = match p.kind {
        ProtocolKind::Mandrel => {
            let temperature_k = temperature()?;
            let t_c_s = p
                .t_c_s
                .ok_or_else(|| invalid("protocol.t_c_s", "missing constraint time, s"))?;
            if !(t_c_s > 0.0) {
                return Err(invalid(
                    "protocol.t_c_s",
                    format!("constraint time {t_c_s} s must be > 0"),
                ));
            }
            let (times_spec, times) = resolve_times(&p.times)?;
            let coupling = p.coupling.unwrap_or_default();
            filled.temperature_k = Some(temperature_k);
            filled.coupling = Some(coupling);
            filled.times = Some(times_spec);
            Protocol::Mandrel {
                temperature_k,
                t_c_s,
                coupling,
                times,
            }
        }
        ProtocolKind::Cantilever => {
            let temperature_k = temperature()?;
            let (times_spec, times) = resolve_times(&p.times)?;
            filled.temperature_k = Some(temperature_k);
            filled.times = Some(times_spec);
            Protocol::Cantilever {
                temperature_k,
                times,
            }
        }
        ProtocolKind::Dma => {
            let temps = p.temperatures_k.clone().ok_or_else(|| {
                invalid("protocol.temperatures_k", "missing list of temperatures, K")
            })?;
            if temps.is_empty() {
                return Err(invalid(
                    "protocol.temperatures_k",
                    "the list of temperatures is empty",
                ));
            }
            for (i, &t) in temps.iter().enumerate() {
                if !(t > 0.0) {
                    return Err(invalid(
                        format!("protocol.temperatures_k[{i}]"),
                        format!("{t} K must be > 0"),
                    ));
                }
                if i > 0 && t <= temps[i - 1] {
                    return Err(invalid(
                        format!("protocol.temperatures_k[{i}]"),
                        format!(
                            "temperatures must be strictly increasing: {} then {t}",
                            temps[i - 1]
                        ),
                    ));
                }
            }
            let (omega_spec, omega) = resolve_omega(&p.omega)?;
            let loss_model = p.loss_model.unwrap_or_default();
            filled.omega = Some(omega_spec);
            filled.loss_model = Some(loss_model);
            let normalized = p.normalized.unwrap_or(false);
            if p.normalized.is_some() {
                filled.normalized = Some(normalized);
            }
            Protocol::Dma {
                temperatures_k: temps,
                omega,
                loss_model,
                normalized,
            }
        }
        ProtocolKind::StretchedExponent => {
            let x0 = p.x0.unwrap_or(1.0);
            let t0_s = p.t0_s.unwrap_or(3.0);
            let tau_s = p.tau_s.unwrap_or(30.0);
            let beta = p.beta.unwrap_or(0.5);
            if !(t0_s >= 0.0) {
                return Err(invalid("protocol.t0_s", format!("{t0_s} s must be >= 0")));
            }
            if !(tau_s > 0.0) {
                return Err(invalid("protocol.tau_s", format!("{tau_s} s must be > 0")));
            }
            if !(beta > 0.0 && beta <= 1.0) {
                return Err(invalid(
                    "protocol.beta",
                    format!("{beta} must lie in (0, 1]"),
                ));
            }
            let (times_spec, times) = resolve_times(&p.times)?;
            filled.x0 = Some(x0);
            filled.t0_s = Some(t0_s);
            filled.tau_s = Some(tau_s);
            filled.beta = Some(beta);
            filled.times = Some(times_spec);
            Protocol::StretchedExponent {
                x0,
                t0_s,
                tau_s,
                beta,
                times,
            }
        }
        ProtocolKind::TemperatureStepping => {
            let start_k = temperature()?;
            let step_k = p.step_k.unwrap_or(10.0);
            let steps = p.steps.unwrap_or(20);
            let hold_s = p.hold_s.unwrap_or(3600.0);
            if !(step_k.is_finite() && step_k > 0.0) {
                return Err(invalid(
                    "protocol.step_k",
                    format!("{step_k} K must be > 0"),
                ));
            }
            if steps < 2 {
                return Err(invalid("protocol.steps", "at least 2 steps are needed"));
            }
            if !(hold_s.is_finite() && hold_s > 0.0) {
                return Err(invalid(
                    "protocol.hold_s",
                    format!("{hold_s} s must be > 0"),
                ));
            }
            filled.temperature_k = Some(start_k);
            filled.step_k = Some(step_k);
            filled.steps = Some(steps);
            filled.hold_s = Some(hold_s);
            Protocol::TemperatureStepping {
                start_k,
                step_k,
                steps,
                hold_s,
            }
        }
    };
    Ok((filled, protocol))
}

/// The first NaN or infinite float in the document, with its path and byte offset.
fn first_non_finite(table: &toml::de::DeTable<'_>) -> Option<(String, usize)> {
    fn visit(value: &toml::Spanned<toml::de::DeValue<'_>>, path: &str) -> Option<(String, usize)> {
        match value.get_ref() {
            toml::de::DeValue::Float(f) => {
                let raw = f.as_str().to_ascii_lowercase();
                (raw.contains("nan") || raw.contains("inf"))
                    .then(|| (path.to_string(), value.span().start))
            }
            toml::de::DeValue::Table(t) => t
                .iter()
                .find_map(|(k, v)| visit(v, &join(path, k.get_ref()))),
            toml::de::DeValue::Array(a) => a
                .iter()
                .enumerate()
                .find_map(|(i, v)| visit(v, &format!("{path}[{i}]"))),
            _ => None,
        }
    }
    fn join(prefix: &str, key: &str) -> String {
        if prefix.is_empty() {
            key.to_string()
        } else {
            format!("{prefix}.{key}")
        }
    }
    table.iter().find_map(|(k, v)| visit(v, k.get_ref()))
}
