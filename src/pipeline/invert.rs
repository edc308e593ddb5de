//! Inverting measured (or simulated) data: one full analysis per series, with the chosen rule, every
//! other rule for comparison, peaks and, given a material, the STZ back-analysis.

use std::path::Path;

use serde::Serialize;

use super::joint::JointSet;
use super::uncertainty::{bootstrap, StzInput, Uncertainty};
use crate::analysis::{back_analysis, BackAnalysis};
use crate::data::{read_data, DataError, MeasuredSeries};
use crate::inversion::nnls::NnlsParams;
pub use crate::inversion::InvertOptions;
use crate::inversion::{analyse, Analysis, Kernel, Problem, ProblemSettings, Workspace};
use crate::scenario::MaterialFile;
use crate::stz::Material;

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
    /// The data window in tau, s: [t_min, t_max] for time data, [1/w_max, 1/w_min] for DMA.
    pub window_s: (f64, f64),
    /// The bootstrap bands and intervals, when `options.uncertainty` asked for them.
    pub uncertainty: Option<Uncertainty>,
    /// The data sets of a joint inversion, in row order (empty for one series).
    pub sets: Vec<JointSet>,
}

/// A chosen fit whose chi^2 exceeds M by more than this many sqrt(2M) is reported with a warning
/// (sigma given): for Gaussian noise of the stated sigma that happens with a probability below 1e-5.
pub const MISFIT_SIGMAS: f64 = 5.0;

/// Why an inversion could not run. Every variant is bad input (the command line exits 2).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InvertError {
    /// The data have no points, or x and y differ in length.
    #[error("{0}")]
    Shape(String),
    /// The tau grid the options give for the data window is unusable.
    #[error("{0}")]
    Grid(String),
    /// Data and settings do not fit together (too few points, bad sigma, ...).
    #[error(transparent)]
    Problem(#[from] crate::inversion::InversionError),
    /// The rule's score is undefined on this path (e.g. `ftest` with fewer points than unknowns).
    #[error("the {rule} rule is undefined on this lambda path")]
    RuleUndefined {
        /// The rule's name.
        rule: String,
    },
    /// The data file could not be read.
    #[error(transparent)]
    Data(#[from] DataError),
    /// A measurement temperature that is not a positive number of kelvin.
    #[error("--temperature-k {0}: must be > 0 and at most {max} K", max = crate::constants::MAX_TEMPERATURE_K)]
    Temperature(f64),
    /// A temperature was given without a material: nothing would use it.
    #[error("--temperature-k is used only by the STZ back-analysis: give --material too")]
    TemperatureWithoutMaterial,
    /// A material was given for data without a temperature.
    #[error("{file}: --material needs --temperature-k (the data have no temperature column)")]
    NeedsTemperature {
        /// The data file.
        file: String,
    },
    /// A joint inversion's sets do not go together (several series in one file, two sets with
    /// one name, loss data joined with strains without a material and temperature).
    #[error("{0}")]
    Joint(String),
    /// One series of a file failed.
    #[error("{file}{}: {source}", temperature_k.map(|t| format!(" at {t} K")).unwrap_or_default())]
    Series {
        /// The data file.
        file: String,
        /// The series' temperature, K.
        temperature_k: Option<f64>,
        /// What failed.
        source: Box<InvertError>,
    },
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
    if x.is_empty() || x.len() != y.len() {
        return Err(InvertError::Shape(format!(
            "{} x values and {} y values: need as many of each, and at least one",
            x.len(),
            y.len()
        )));
    }
    let grid = options
        .grid(x[0], x[x.len() - 1])
        .map_err(InvertError::Grid)?;
    let settings = ProblemSettings {
        kernel: options.kernel,
        grid,
        baseline: options.baseline(),
        baseline_nonnegative: options.baseline_nonnegative,
        order: options.order,
        zero_boundary: options.zero_boundary,
        nnls: NnlsParams::default(),
    };
    Ok(Problem::new(x, y, sigma, settings)?)
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
    let problem = build_problem(&series.x, &series.y, series.sigma.as_deref(), options)?;
    let (x_min, x_max) = (series.x[0], series.x[series.x.len() - 1]);
    let window = options.kernel.window_s(x_min, x_max);
    let loss_units = options.kernel == Kernel::Loss;
    let inversion = Assembled {
        problem,
        temperature_k: series.temperature_k,
        window_s: window,
        loss_units,
        sets: Vec::new(),
    };
    analyse_assembled(inversion, options, material, ws)
}

/// A problem ready for the analysis, with what the results are read against.
pub(crate) struct Assembled {
    pub(crate) problem: Problem,
    pub(crate) temperature_k: Option<f64>,
    /// The data window (the hull of the sets' windows for a joint problem), s.
    pub(crate) window_s: (f64, f64),
    /// Whether peak areas are in Pa (loss data not normalized): the STZ reading divides by E0(T).
    pub(crate) loss_units: bool,
    pub(crate) sets: Vec<JointSet>,
}

/// The analysis (path, rules, peaks), the STZ reading and the bootstrap of an assembled problem.
pub(crate) fn analyse_assembled(
    assembled: Assembled,
    options: &InvertOptions,
    material: Option<(&Material, f64)>,
    ws: &mut Workspace,
) -> Result<SeriesInversion, InvertError> {
    let Assembled {
        problem,
        temperature_k,
        window_s: window,
        loss_units,
        sets,
    } = assembled;
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
        .is_none_or(|r| r.choice.rule != options.rule)
    {
        return Err(InvertError::RuleUndefined {
            rule: options.rule.name(),
        });
    }
    // Peak areas are in data units: volume fractions for strain, E0(T) c in Pa for the loss modulus.
    let stz_input = material.map(|(m, t)| StzInput {
        material: m,
        temperature_k: t,
        window_s: window,
        area_per_c: if loss_units { m.e0_pa(t) } else { 1.0 },
    });
    let stz = stz_input.map(|s| {
        back_analysis(
            &analysis.results[0].peaks,
            s.material,
            s.temperature_k,
            Some(s.window_s),
            s.area_per_c,
        )
    });
    let uncertainty = options
        .uncertainty
        .map(|b| bootstrap(&problem, &analysis.results[0], options, stz_input, b));
    Ok(SeriesInversion {
        temperature_k,
        problem,
        analysis,
        stz,
        window_s: window,
        uncertainty,
        sets,
    })
}

/// The inversion of a data file: one full analysis per series (one per temperature for DMA data).
#[derive(Debug, Clone)]
pub struct DataInversion {
    /// The data file, as given.
    pub file: String,
    /// The options used.
    pub options: InvertOptions,
    /// One inversion per series, in file order.
    pub series: Vec<SeriesInversion>,
    /// The atomic volume, m^3, when the material file gives one (Omega slopes in atomic volumes).
    pub atomic_volume_m3: Option<f64>,
}

/// `summary.json` of an inversion: one series' summary, or the list of them for DMA data.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum InvertSummary {
    /// One series.
    One {
        /// Its summary.
        #[serde(flatten)]
        series: Box<SeriesSummary>,
        /// The kernel's name (`joint` for a joint inversion, whose `sets` name each set's).
        kind: &'static str,
        /// The data file (the files joined by " + " for a joint inversion).
        data: String,
    },
    /// Several series (DMA temperatures).
    Many {
        /// The rule.
        rule: String,
        /// Their summaries in file order.
        series: Vec<SeriesSummary>,
        /// The kernel's name.
        kind: &'static str,
        /// The data file.
        data: String,
    },
}

impl DataInversion {
    /// Each series' summary, in file order.
    pub fn summaries(&self) -> Vec<SeriesSummary> {
        self.series
            .iter()
            .map(|r| r.summary(self.atomic_volume_m3))
            .collect()
    }

    /// The content of `summary.json`.
    pub fn summary(&self) -> InvertSummary {
        let mut summaries = self.summaries();
        let joint = self.series.iter().any(|s| !s.sets.is_empty());
        let kind = if joint {
            "joint"
        } else {
            self.options.kernel.name()
        };
        let data = self.file.clone();
        if summaries.len() == 1 {
            InvertSummary::One {
                series: Box::new(summaries.remove(0)),
                kind,
                data,
            }
        } else {
            InvertSummary::Many {
                rule: self.options.rule.name(),
                series: summaries,
                kind,
                data,
            }
        }
    }
}

/// Reads a data file and inverts each of its series with `options`. With a `material`, each series
/// also gets the STZ back-analysis at its own temperature (DMA) or at `temperature_k`.
///
/// # Errors
/// [`InvertError`]: unreadable data, a bad temperature, a material without a temperature, or a
/// series that cannot be inverted (named by its temperature).
pub fn invert_data(
    path: &Path,
    options: &InvertOptions,
    material: Option<&MaterialFile>,
    temperature_k: Option<f64>,
) -> Result<DataInversion, InvertError> {
    check_temperature(temperature_k, material)?;
    let data = read_data(path)?;
    let file = path.display().to_string();
    let mut ws = Workspace::new();
    let mut series = Vec::with_capacity(data.len());
    for s in &data {
        let stz_input = match (material, s.temperature_k.or(temperature_k)) {
            (Some(m), Some(t)) => Some((&m.material, t)),
            (Some(_), None) => return Err(InvertError::NeedsTemperature { file }),
            (None, _) => None,
        };
        let inversion =
            invert_series(s, options, stz_input, &mut ws).map_err(|e| InvertError::Series {
                file: file.clone(),
                temperature_k: s.temperature_k,
                source: Box::new(e),
            })?;
        series.push(inversion);
    }
    Ok(DataInversion {
        file,
        options: options.clone(),
        series,
        atomic_volume_m3: material.and_then(|m| m.atomic_volume_m3),
    })
}

/// A measurement temperature, if given, is a positive number of kelvin up to the maximum, and comes
/// with a material (nothing else uses it).
pub(crate) fn check_temperature(
    temperature_k: Option<f64>,
    material: Option<&MaterialFile>,
) -> Result<(), InvertError> {
    if let Some(t) = temperature_k {
        if !(t.is_finite() && t > 0.0 && t <= crate::constants::MAX_TEMPERATURE_K) {
            return Err(InvertError::Temperature(t));
        }
        if material.is_none() {
            return Err(InvertError::TemperatureWithoutMaterial);
        }
    }
    Ok(())
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
    /// The bootstrap's resampling, counts and intervals (peaks in the order of `peaks`), when asked
    /// for; the density bands are in `spectrum.csv`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uncertainty: Option<Uncertainty>,
    /// A joint inversion's data sets with their own fit quantities.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sets: Vec<SetSummary>,
}

/// One data set of a joint inversion in the summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SetSummary {
    /// The set as it entered the problem.
    #[serde(flatten)]
    pub set: JointSet,
    /// Its rows' chi^2, sum of ((y - fit) / sigma)^2 (sigma given or estimated for it).
    pub chi2: f64,
    /// Its baseline coefficients by name.
    pub baseline: serde_json::Map<String, serde_json::Value>,
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
    /// Whether the centroid lies inside the data window.
    pub in_window: bool,
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
    /// The chosen rule's result: its lambda, solution and status.
    pub fn choice(&self) -> &crate::inversion::Choice {
        &self.analysis.results[0].choice
    }

    /// The peaks of the chosen spectrum, ordered by tau.
    pub fn peaks(&self) -> &[crate::spectrum::SpectrumPeak] {
        &self.analysis.results[0].peaks
    }

    /// Whether a peak's centroid lies inside the data window (a peak outside it is only
    /// constrained by the data's tail and by the baseline it competes with).
    pub fn in_window(&self, peak: &crate::spectrum::SpectrumPeak) -> bool {
        let (lo, hi) = self.window_s;
        (lo..=hi).contains(&peak.tau_s())
    }

    /// With sigma given, a warning when the chosen fit's chi^2 exceeds M by more than
    /// [`MISFIT_SIGMAS`] standard deviations of a chi^2 with M degrees of freedom (sqrt(2M)).
    fn misfit_warning(&self, chi2: f64) -> Option<String> {
        let m = self.problem.len() as f64;
        let limit = m + MISFIT_SIGMAS * (2.0 * m).sqrt();
        (self.analysis.scores.sigma_given && chi2 > limit).then(|| {
            format!(
                "chi^2 = {chi2:.1} for {m} points is above M + {MISFIT_SIGMAS} sqrt(2M) = {limit:.1}: \
                 the chosen fit misses the data by more than the stated noise (too strong a lambda, \
                 an understated sigma, or a kernel and baseline that cannot fit these data)"
            )
        })
    }

    /// Block `k`'s baseline coefficients of the chosen solution, by name.
    fn block_baseline(&self, k: usize) -> serde_json::Map<String, serde_json::Value> {
        let block = &self.problem.blocks()[k];
        let n_spec = self.problem.grid().len();
        let sol = &self.choice().solution;
        block
            .baseline
            .names()
            .iter()
            .zip(&sol.baseline[block.columns.start - n_spec..block.columns.end - n_spec])
            .map(|(n, v)| (n.to_string(), serde_json::json!(v)))
            .collect()
    }

    /// Each joint set's chi^2 and baseline (empty for one series).
    pub fn set_summaries(&self) -> Vec<SetSummary> {
        let fit = self.problem.fitted(&self.choice().solution);
        let (y, w) = (self.problem.y(), self.problem.weights());
        self.sets
            .iter()
            .zip(self.problem.blocks())
            .enumerate()
            .map(|(k, (set, block))| SetSummary {
                set: set.clone(),
                chi2: block
                    .rows
                    .clone()
                    .map(|i| ((y[i] - fit[i]) * w[i]).powi(2))
                    .sum(),
                baseline: self.block_baseline(k),
            })
            .collect()
    }

    /// The summary, with the slope in atomic volumes when `atomic_volume_m3` is known.
    pub fn summary(&self, atomic_volume_m3: Option<f64>) -> SeriesSummary {
        let chosen = &self.analysis.results[0];
        let sol = &chosen.choice.solution;
        let scores = &self.analysis.scores;
        let sets = self.set_summaries();
        // One set: its coefficients by name; several: each set's, prefixed with its name.
        let baseline = match &sets[..] {
            [] => self.block_baseline(0),
            _ => sets
                .iter()
                .flat_map(|s| {
                    s.baseline
                        .iter()
                        .map(|(n, v)| (format!("{}.{n}", s.set.name), v.clone()))
                        .collect::<Vec<_>>()
                })
                .collect(),
        };
        let (lo, hi) = self.problem.lambda_range();
        let chi2 = sol.stats.weighted_ss / scores.sigma2;
        let gaps = super::joint::window_gaps(&self.sets);
        let gap_warning = (!gaps.is_empty()).then(|| {
            let list: Vec<String> = gaps
                .iter()
                .map(|(a, b)| format!("{a:.3e} s to {b:.3e} s"))
                .collect();
            format!(
                "the data sets' windows leave a gap ({}): a peak there is seen by no set, and peaks \
                 on either side are joined only through the spectrum's smoothness",
                list.join(", ")
            )
        });
        let warning = [
            chosen.choice.warning(),
            self.misfit_warning(chi2),
            gap_warning,
        ]
        .into_iter()
        .flatten()
        .reduce(|a, b| format!("{a}; {b}"));
        SeriesSummary {
            temperature_k: self.temperature_k,
            rule: chosen.choice.rule.name(),
            status: chosen.choice.status.name(),
            fallback: chosen.choice.fallback.map(|f| f.name()),
            warning,
            lambda: sol.lambda,
            stopping_tolerance: chosen.choice.stopping.map(|s| s.0),
            iterations: chosen.choice.stopping.map(|s| s.1),
            lambda_range: [lo, hi],
            r2: sol.stats.r2,
            chi2,
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
                    in_window: self.in_window(p),
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
            uncertainty: self.uncertainty.clone(),
            sets,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_or_ragged_arrays_are_an_error_not_a_panic() {
        let options = InvertOptions::new(Kernel::Decay);
        let mut ws = Workspace::new();
        for (x, y) in [(vec![], vec![]), (vec![1.0, 2.0], vec![1.0])] {
            let series = MeasuredSeries {
                temperature_k: None,
                x,
                y,
                sigma: None,
            };
            let e = invert_series(&series, &options, None, &mut ws).unwrap_err();
            assert!(matches!(e, InvertError::Shape(_)), "{e}");
        }
    }
}
