//! `[study]`: the paper's method studies (docs/model.md §5) as scenario kinds.

use crate::inversion::kernel::{MAX_POINTS_PER_DECADE, MIN_POINTS_PER_DECADE};
use serde::{Deserialize, Serialize};

use super::{invalid, Invalid, Protocol, Truth};

/// Which study.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StudyKind {
    /// Paper section 7, Fig. 10: fitting a shifted stretched exponent.
    StretchedExponent,
    /// Paper section 6, Fig. 9: time-temperature superposition of E''(w).
    TtsMasterCurve,
    /// Paper section 8, Fig. 11: the Argon-Kuo reading of temperature-stepped relaxation.
    TemperatureStepping,
    /// Paper section 5, Fig. 6: nonlinear bending and gamma_T.
    NonlinearBending,
    /// Paper section 6, Fig. 8: which peaks tau(T) belong to which STZ size.
    ArrheniusGrouping,
}

impl StudyKind {
    /// The name used in files.
    pub fn name(self) -> &'static str {
        match self {
            Self::StretchedExponent => "stretched-exponent",
            Self::TtsMasterCurve => "tts-master-curve",
            Self::TemperatureStepping => "temperature-stepping",
            Self::NonlinearBending => "nonlinear-bending",
            Self::ArrheniusGrouping => "arrhenius-grouping",
        }
    }
}

/// Shape of the assumed activation-energy spectrum of the temperature-stepping study.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DfShape {
    /// Density rising linearly with dF (from 0 at df_min to its maximum at df_max).
    Rising,
    /// Density falling linearly with dF.
    Falling,
    /// Constant density.
    Flat,
}

/// `[study]` as written; every field but `kind` has a default, and a field the kind does not use is
/// an error.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StudySpec {
    /// The study.
    pub kind: StudyKind,
    /// TTS: reference temperature, K (default 388).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t_ref_k: Option<f64>,
    /// Temperature stepping: lowest activation energy of the assumed spectrum, eV (default 0.8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub df_min_ev: Option<f64>,
    /// Temperature stepping: highest activation energy, eV (default 1.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub df_max_ev: Option<f64>,
    /// Temperature stepping: grid points of the assumed spectrum (default 201).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub df_points: Option<usize>,
    /// Temperature stepping: `rising` (default), `falling` or `flat`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shape: Option<DfShape>,
    /// Temperature stepping: total normalized strain of the assumed spectrum (default 0.01).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_strain: Option<f64>,
    /// Temperature stepping: attempt frequency in tau = exp(dF / kT) / nu, Hz (default 1e13).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt_hz: Option<f64>,
    /// Nonlinear bending: constraining surface strains (default 0.001 .. 0.0155, 8 values).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strains: Option<Vec<f64>>,
    /// Nonlinear bending: time after release at which the curvature is read, s (default 4e6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observe_s: Option<f64>,
    /// Nonlinear bending: layers through the half thickness (default 16).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layers: Option<usize>,
    /// Nonlinear bending: implicit time steps per decade (default 40).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps_per_decade: Option<usize>,
    /// Arrhenius grouping: smallest size the fastest kept peak of each side's coldest temperature
    /// may take (required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n_first_min: Option<u32>,
    /// Arrhenius grouping: largest such size (required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n_first_max: Option<u32>,
    /// Arrhenius grouping: most the first label may rise between neighbouring temperatures
    /// (default 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_label_step: Option<u32>,
    /// Arrhenius grouping: peaks smaller than this fraction of the largest at their temperature are
    /// not used (default 0.02).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_area_fraction: Option<f64>,
    /// Arrhenius grouping: grid points per decade of tau at the highest temperature of the global
    /// inversion (default 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global_per_decade: Option<f64>,
}

/// The validated study.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Study {
    /// Section 7.
    StretchedExponent,
    /// Section 6, Fig. 9.
    TtsMasterCurve {
        /// Reference temperature, K (one of the protocol's).
        t_ref_k: f64,
    },
    /// Section 8.
    TemperatureStepping(SteppingParams),
    /// Section 5.
    NonlinearBending(BendingParams),
    /// Section 6, Fig. 8.
    ArrheniusGrouping(GroupingParams),
}

/// Parameters of the Arrhenius-grouping study.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupingParams {
    /// Range of sizes for the first label of each side of T_g.
    pub n_first_min: u32,
    /// See `n_first_min`.
    pub n_first_max: u32,
    /// Largest rise of the first label between neighbouring temperatures.
    pub max_label_step: u32,
    /// Area threshold, fraction of the largest peak at the temperature.
    pub min_area_fraction: f64,
    /// The global inversion's grid points per decade of tau at the highest temperature.
    pub global_per_decade: f64,
}

/// Default grid density of the grouping study's global inversion: sizes about half a decade of
/// tau apart at the hottest temperature need about ten points between neighbours (README,
/// "Arrhenius grouping"); the eight temperatures' data afford it.
pub const DEFAULT_GLOBAL_PER_DECADE: f64 = 20.0;

/// Parameters of the temperature-stepping study.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SteppingParams {
    /// Assumed spectrum range, eV.
    pub df_min_ev: f64,
    /// Assumed spectrum range, eV.
    pub df_max_ev: f64,
    /// Grid points.
    pub df_points: usize,
    /// Shape.
    pub shape: DfShape,
    /// Total strain.
    pub total_strain: f64,
    /// First hold temperature, K (from the protocol).
    pub start_k: f64,
    /// Step, K (from the protocol).
    pub step_k: f64,
    /// Upward steps (from the protocol).
    pub steps: usize,
    /// Hold, s (from the protocol).
    pub hold_s: f64,
    /// Attempt frequency, Hz.
    pub attempt_hz: f64,
}

/// Parameters of the nonlinear-bending study.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BendingParams {
    /// Constraining surface strains.
    pub strains: Vec<f64>,
    /// Reading time after release, s.
    pub observe_s: f64,
    /// Layers through the half thickness.
    pub layers: usize,
    /// Implicit steps per decade.
    pub steps_per_decade: usize,
}

/// Default constraining strains of the bending study: from the linear range to the paper's 0.0155.
pub const DEFAULT_STRAINS: [f64; 8] = [0.001, 0.003, 0.005, 0.007, 0.009, 0.011, 0.013, 0.0155];

pub(crate) fn resolve_study(
    s: &StudySpec,
    protocol: &Protocol,
    truth: Option<&Truth>,
) -> Result<(StudySpec, Study), Invalid> {
    let kind = s.kind.name();
    let allowed: &[&str] = match s.kind {
        StudyKind::StretchedExponent => &[],
        StudyKind::TtsMasterCurve => &["t_ref_k"],
        StudyKind::TemperatureStepping => &[
            "df_min_ev",
            "df_max_ev",
            "df_points",
            "shape",
            "total_strain",
            "attempt_hz",
        ],
        StudyKind::NonlinearBending => &["strains", "observe_s", "layers", "steps_per_decade"],
        StudyKind::ArrheniusGrouping => &[
            "n_first_min",
            "n_first_max",
            "max_label_step",
            "min_area_fraction",
            "global_per_decade",
        ],
    };
    for (present, field) in [
        (s.t_ref_k.is_some(), "t_ref_k"),
        (s.df_min_ev.is_some(), "df_min_ev"),
        (s.df_max_ev.is_some(), "df_max_ev"),
        (s.df_points.is_some(), "df_points"),
        (s.shape.is_some(), "shape"),
        (s.total_strain.is_some(), "total_strain"),
        (s.attempt_hz.is_some(), "attempt_hz"),
        (s.strains.is_some(), "strains"),
        (s.observe_s.is_some(), "observe_s"),
        (s.layers.is_some(), "layers"),
        (s.steps_per_decade.is_some(), "steps_per_decade"),
        (s.n_first_min.is_some(), "n_first_min"),
        (s.n_first_max.is_some(), "n_first_max"),
        (s.max_label_step.is_some(), "max_label_step"),
        (s.min_area_fraction.is_some(), "min_area_fraction"),
        (s.global_per_decade.is_some(), "global_per_decade"),
    ] {
        if present && !allowed.contains(&field) {
            let takes = if allowed.is_empty() {
                "no options".to_string()
            } else {
                allowed.join(", ")
            };
            return Err(invalid(
                format!("study.{field}"),
                format!("not used by the {kind} study (it takes {takes})"),
            ));
        }
    }
    let positive = |field: &str, v: f64| -> Result<f64, Invalid> {
        if v.is_finite() && v > 0.0 {
            Ok(v)
        } else {
            Err(invalid(
                format!("study.{field}"),
                format!("{v}: must be > 0"),
            ))
        }
    };
    let needs_protocol = |want: &str, ok: bool| -> Result<(), Invalid> {
        if ok {
            Ok(())
        } else {
            Err(invalid(
                "protocol.kind",
                format!("the {kind} study needs the {want} protocol"),
            ))
        }
    };
    let needs_hierarchy = || -> Result<(), Invalid> {
        if matches!(truth, Some(Truth::Hierarchy(_))) {
            Ok(())
        } else {
            Err(invalid(
                "truth.kind",
                format!("the {kind} study needs a hierarchy truth"),
            ))
        }
    };
    let mut filled = s.clone();
    let study = match s.kind {
        StudyKind::StretchedExponent => {
            needs_protocol(
                "stretched-exponent",
                matches!(protocol, Protocol::StretchedExponent { .. }),
            )?;
            Study::StretchedExponent
        }
        StudyKind::TtsMasterCurve => {
            let Protocol::Dma { temperatures_k, .. } = protocol else {
                return Err(invalid(
                    "protocol.kind",
                    format!("the {kind} study needs the dma protocol"),
                ));
            };
            needs_hierarchy()?;
            if temperatures_k.len() < 2 {
                return Err(invalid(
                    "protocol.temperatures_k",
                    "a master curve needs at least two temperatures",
                ));
            }
            let t_ref_k = s.t_ref_k.unwrap_or(388.0);
            if !temperatures_k.iter().any(|t| (t - t_ref_k).abs() < 1e-9) {
                return Err(invalid(
                    "study.t_ref_k",
                    format!("{t_ref_k} K is not one of protocol.temperatures_k"),
                ));
            }
            filled.t_ref_k = Some(t_ref_k);
            Study::TtsMasterCurve { t_ref_k }
        }
        StudyKind::TemperatureStepping => {
            if truth.is_some() {
                return Err(invalid(
                    "truth",
                    "the temperature-stepping study assumes its own spectrum of dF ([study] df_min_ev, df_max_ev, shape); remove [truth]",
                ));
            }
            let Protocol::TemperatureStepping {
                start_k,
                step_k,
                steps,
                hold_s,
            } = *protocol
            else {
                return Err(invalid(
                    "protocol.kind",
                    format!("the {kind} study needs the temperature-stepping protocol"),
                ));
            };
            let p = SteppingParams {
                df_min_ev: positive("df_min_ev", s.df_min_ev.unwrap_or(0.8))?,
                df_max_ev: positive("df_max_ev", s.df_max_ev.unwrap_or(1.3))?,
                df_points: s.df_points.unwrap_or(201),
                shape: s.shape.unwrap_or(DfShape::Rising),
                total_strain: positive("total_strain", s.total_strain.unwrap_or(0.01))?,
                start_k,
                step_k,
                steps,
                hold_s,
                attempt_hz: positive("attempt_hz", s.attempt_hz.unwrap_or(1e13))?,
            };
            if p.df_max_ev <= p.df_min_ev {
                return Err(invalid(
                    "study.df_max_ev",
                    format!(
                        "{} eV must exceed df_min_ev = {} eV",
                        p.df_max_ev, p.df_min_ev
                    ),
                ));
            }
            if p.df_points < 3 {
                return Err(invalid("study.df_points", "at least 3 are needed"));
            }
            filled.df_min_ev = Some(p.df_min_ev);
            filled.df_max_ev = Some(p.df_max_ev);
            filled.df_points = Some(p.df_points);
            filled.shape = Some(p.shape);
            filled.total_strain = Some(p.total_strain);
            filled.attempt_hz = Some(p.attempt_hz);
            Study::TemperatureStepping(p)
        }
        StudyKind::NonlinearBending => {
            needs_protocol("mandrel", matches!(protocol, Protocol::Mandrel { .. }))?;
            needs_hierarchy()?;
            let strains = s
                .strains
                .clone()
                .unwrap_or_else(|| DEFAULT_STRAINS.to_vec());
            if strains.len() < 2 {
                return Err(invalid("study.strains", "at least two strains are needed"));
            }
            for (i, &e) in strains.iter().enumerate() {
                if !(e.is_finite() && e > 0.0 && e < 0.1) {
                    return Err(invalid(
                        format!("study.strains[{i}]"),
                        format!("{e}: a surface strain must lie in (0, 0.1)"),
                    ));
                }
            }
            let p = BendingParams {
                strains,
                observe_s: positive("observe_s", s.observe_s.unwrap_or(4e6))?,
                layers: s.layers.unwrap_or(16),
                steps_per_decade: s.steps_per_decade.unwrap_or(40),
            };
            if p.layers < 2 {
                return Err(invalid("study.layers", "at least 2 layers are needed"));
            }
            if p.steps_per_decade < 5 {
                return Err(invalid("study.steps_per_decade", "at least 5 are needed"));
            }
            filled.strains = Some(p.strains.clone());
            filled.observe_s = Some(p.observe_s);
            filled.layers = Some(p.layers);
            filled.steps_per_decade = Some(p.steps_per_decade);
            Study::NonlinearBending(p)
        }
        StudyKind::ArrheniusGrouping => {
            needs_protocol("dma", matches!(protocol, Protocol::Dma { .. }))?;
            needs_hierarchy()?;
            let required = |field: &str, v: Option<u32>| -> Result<u32, Invalid> {
                match v {
                    Some(v) if v >= 1 => Ok(v),
                    Some(v) => Err(invalid(format!("study.{field}"), format!("{v}: must be >= 1"))),
                    None => Err(invalid(
                        format!("study.{field}"),
                        "required by the arrhenius-grouping study: the range of STZ sizes the fastest peak of each side of T_g may take",
                    )),
                }
            };
            let p = GroupingParams {
                n_first_min: required("n_first_min", s.n_first_min)?,
                n_first_max: required("n_first_max", s.n_first_max)?,
                max_label_step: s.max_label_step.unwrap_or(2),
                min_area_fraction: s.min_area_fraction.unwrap_or(0.02),
                global_per_decade: s.global_per_decade.unwrap_or(DEFAULT_GLOBAL_PER_DECADE),
            };
            if p.n_first_max < p.n_first_min {
                return Err(invalid(
                    "study.n_first_max",
                    format!(
                        "{} must be >= n_first_min = {}",
                        p.n_first_max, p.n_first_min
                    ),
                ));
            }
            if p.n_first_max - p.n_first_min > 200 {
                return Err(invalid(
                    "study.n_first_max",
                    "a range of more than 200 sizes is not a grouping question",
                ));
            }
            if p.max_label_step > 4 {
                return Err(invalid(
                    "study.max_label_step",
                    format!("{}: at most 4", p.max_label_step),
                ));
            }
            if !(p.min_area_fraction.is_finite() && (0.0..1.0).contains(&p.min_area_fraction)) {
                return Err(invalid(
                    "study.min_area_fraction",
                    format!("{}: must lie in [0, 1)", p.min_area_fraction),
                ));
            }
            let (lo, hi) = (MIN_POINTS_PER_DECADE, MAX_POINTS_PER_DECADE);
            if !(p.global_per_decade.is_finite() && (lo..=hi).contains(&p.global_per_decade)) {
                return Err(invalid(
                    "study.global_per_decade",
                    format!("{}: must lie in [{lo}, {hi}]", p.global_per_decade),
                ));
            }
            filled.max_label_step = Some(p.max_label_step);
            filled.min_area_fraction = Some(p.min_area_fraction);
            filled.global_per_decade = Some(p.global_per_decade);
            Study::ArrheniusGrouping(p)
        }
    };
    Ok((filled, study))
}
