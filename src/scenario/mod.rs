//! Scenario files: the TOML schema as written ([`ScenarioFile`]) and the validated [`Scenario`] the
//! engine runs. Every error names the file, the line and column where TOML gives one, and the field.

mod inversion;
mod locate;
mod material;
pub mod plan;
mod protocol;
mod schema;
mod study;
mod truth;

use inversion::resolve_inversion;
use locate::{locate_invalid, parse_located};
use material::resolve_material;
pub use material::{load_material, MaterialFile};
use protocol::resolve_protocol;
use truth::resolve_truth;

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
    DEFAULT_GLOBAL_PER_DECADE, DEFAULT_STRAINS,
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
                    write!(f, "{}", one_line(message))
                } else {
                    write!(f, "{}: {}", one_line(field), one_line(message))
                }
            }
        }
    }
}

impl std::error::Error for ScenarioError {}

/// Longest message shown, characters: an error may echo a value from the file, which can be long.
const MAX_MESSAGE_CHARS: usize = 300;

/// `text` on one line (line breaks written as `\n`), cut to [`MAX_MESSAGE_CHARS`] with `...`: an
/// error is one line, whatever value it quotes.
fn one_line(text: &str) -> String {
    let flat = text.replace('\r', "").replace('\n', "\\n");
    match flat.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}...", &flat[..cut]),
        None => flat,
    }
}

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
    /// Several experiments (mandrel, cantilever) on one sample, inverted jointly.
    Joint {
        /// The experiments, in order.
        sets: Vec<Protocol>,
    },
}

impl Protocol {
    /// The kernel that inverts this experiment's data (a joint protocol: its first set's).
    pub fn kernel(&self) -> Kernel {
        match self {
            Self::Mandrel { .. } | Self::StretchedExponent { .. } => Kernel::Decay,
            Self::Cantilever { .. } | Self::TemperatureStepping { .. } => Kernel::Creep,
            Self::Dma { .. } => Kernel::Loss,
            Self::Joint { sets } => sets.first().map_or(Kernel::Decay, Self::kernel),
        }
    }

    /// Data points of the smallest data set one inversion sees (a DMA temperature's series; a
    /// joint protocol's sets together); None for the temperature-stepping study's record.
    pub fn inverted_points(&self) -> Option<usize> {
        match self {
            Self::Mandrel { times, .. }
            | Self::Cantilever { times, .. }
            | Self::StretchedExponent { times, .. } => Some(times.values().len()),
            Self::Dma { omega, .. } => Some(omega.values().len()),
            Self::Joint { sets } => sets.iter().map(Self::inverted_points).sum(),
            Self::TemperatureStepping { .. } => None,
        }
    }

    /// The temperatures at which the truth is evaluated (none for the stretched exponent).
    pub fn temperatures_k(&self) -> Vec<f64> {
        match self {
            Self::Joint { sets } => sets.first().map(Self::temperatures_k).unwrap_or_default(),
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

/// Longest relaxation time a hierarchy size may have, s (1e12 times the age of the universe).
const MAX_TAU_S: f64 = 1e30;

/// Default peak matching radius, decades.
pub const DEFAULT_MATCH_DECADES: f64 = 0.5;
