//! Inverting measured (or simulated) data: one full analysis per series, with the chosen rule, every
//! other rule for comparison, peaks and, given a material, the STZ back-analysis.

use std::path::Path;

use super::joint::JointSet;
use super::uncertainty::{bootstrap, Observer, StzInput, Uncertainty};
use crate::analysis::BackAnalysis;
use crate::data::{read_data, DataError, MeasuredSeries};
use crate::inversion::nnls::NnlsParams;
pub use crate::inversion::InvertOptions;
use crate::inversion::{analyse, Analysis, Kernel, Problem, ProblemSettings, Workspace};
use crate::pipeline::cost::{analysis_seconds, AnalysisSize};
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
    /// The regularizer family of the path.
    pub regularizer: crate::inversion::Regularizer,
    /// The linearized standard error of each chosen peak's area, data units
    /// ([`Problem::peak_area_stderr`] for Tikhonov, the log-space families' counterpart through
    /// the objective's Hessian: the noise carried through the solve at the chosen lambda; not the
    /// choice of lambda, not the bias). `None` for the edge families.
    pub area_stderr: Option<Vec<f64>>,
    /// The linearized standard error of each baseline coefficient, in the order and units of the
    /// chosen solution's baseline ([`Problem::baseline_stderr`]; Tikhonov only, `None` for the
    /// other families).
    pub baseline_stderr: Option<Vec<f64>>,
}

/// A chosen fit whose chi^2 exceeds M by more than this many sqrt(2M) is reported with a warning
/// (sigma given): for Gaussian noise of the stated sigma that happens with a probability below 1e-5.
pub const MISFIT_SIGMAS: f64 = 5.0;

/// Why an inversion could not run. Every variant is bad input (the command line exits 2).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InvertError {
    /// A setting out of its domain ([`InvertOptions::check`]).
    #[error(transparent)]
    Setting(#[from] crate::inversion::SettingError),
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

impl InvertError {
    /// This error as the failure of the series at `temperature_k` of data file `file`.
    pub(crate) fn in_file(self, file: &str, temperature_k: Option<f64>) -> Self {
        Self::Series {
            file: file.to_string(),
            temperature_k,
            source: Box::new(self),
        }
    }
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
    options.check()?;
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
    let settings = problem_settings(options, options.kernel, grid, options.baseline());
    Ok(Problem::new(x, y, sigma, settings)?)
}

/// The problem settings `options` give on `grid` for `kernel` with `baseline` (the penalty, the
/// boundary and the default solver).
pub(crate) fn problem_settings(
    options: &InvertOptions,
    kernel: Kernel,
    grid: crate::spectrum::LnTauGrid,
    baseline: crate::inversion::Baseline,
) -> ProblemSettings {
    ProblemSettings {
        kernel,
        grid,
        baseline,
        baseline_nonnegative: options.baseline_nonnegative,
        order: options.order,
        zero_boundary: options.zero_boundary,
        nnls: NnlsParams::default(),
        maxent_model: options.maxent_model,
        edge_scale: options.edge_scale,
    }
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
    observed(series, options, material, ws, &())
}

/// [`invert_series`], telling `observer` how a bootstrap progresses.
fn observed(
    series: &MeasuredSeries,
    options: &InvertOptions,
    material: Option<(&Material, f64)>,
    ws: &mut Workspace,
    observer: &dyn Observer,
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
    analyse_assembled(inversion, options, material, ws, observer)
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
    observer: &dyn Observer,
) -> Result<SeriesInversion, InvertError> {
    options.check()?;
    let started = std::time::Instant::now();
    let Assembled {
        problem,
        temperature_k,
        window_s: window,
        loss_units,
        sets,
    } = assembled;
    // A rule the data cannot carry (k-fold with more folds than points) is refused before the
    // analysis is announced.
    for rule in options.rules() {
        rule.check_points(problem.len())
            .map_err(|e| InvertError::Shape(format!("{}: {e}", rule.name())))?;
    }
    let size = AnalysisSize {
        points: problem.grid().len(),
        data: problem.len(),
        lambda_points: options.lambda_points,
    };
    observer.analysing(
        size,
        analysis_seconds(size, &options.rules(), options.regularizer),
    );
    let analysis = analyse(
        &problem,
        options.lambda_points,
        &options.rules(),
        &options.peaks,
        options.regularizer,
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
    let stz_input = material.map(|(m, t)| StzInput::new(m, t, window, loss_units));
    let stz = stz_input.map(|s| s.read(&analysis.results[0].peaks));
    let uncertainty = options.uncertainty.map(|b| {
        observer.starting(b.resamples, started.elapsed().as_secs_f64());
        bootstrap(
            &problem,
            &analysis.results[0],
            options,
            stz_input,
            b,
            observer,
        )
    });
    let chosen = &analysis.results[0];
    let area_stderr = crate::inversion::peak_area_stderr(
        &problem,
        (options.regularizer, analysis.path.default_model),
        &chosen.choice.solution,
        &chosen.peaks,
        analysis.scores.sigma2,
    );
    let baseline_stderr = (options.regularizer == crate::inversion::Regularizer::Tikhonov)
        .then(|| problem.baseline_stderr(&chosen.choice.solution, analysis.scores.sigma2));
    Ok(SeriesInversion {
        temperature_k,
        problem,
        analysis,
        stz,
        window_s: window,
        uncertainty,
        sets,
        regularizer: options.regularizer,
        area_stderr,
        baseline_stderr,
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
    /// How the one series is read when its spectrum is not over tau (`--kind creep-stepping`,
    /// `--kind loss-global`): it then runs on the grid's ln tau_ref axis.
    pub axis: Option<SpectrumAxis>,
}

/// The axis of a spectrum inverted over something other than the relaxation time.
#[derive(Debug, Clone, PartialEq)]
pub enum SpectrumAxis {
    /// Activation energy dF (creep through a temperature history).
    Energy(energy::EnergyReading),
    /// STZ volume Omega (loss data at every temperature at once).
    Volume(global::VolumeReading),
}

/// Reads a data file and inverts each of its series with `options`. With a `material`, each series
/// also gets the STZ back-analysis at its own temperature (DMA) or at `temperature_k`. `observer`
/// hears how a bootstrap progresses (`&()`: nothing).
///
/// # Errors
/// [`InvertError`]: unreadable data, a bad temperature, a material without a temperature, or a
/// series that cannot be inverted (named by its temperature).
pub fn invert_data(
    path: &Path,
    options: &InvertOptions,
    material: Option<&MaterialFile>,
    temperature_k: Option<f64>,
    observer: &dyn Observer,
) -> Result<DataInversion, InvertError> {
    check_temperature(temperature_k, material)?;
    let data = read_data(path)?;
    let file = path.display().to_string();
    let mut ws = Workspace::new();
    let mut series = Vec::with_capacity(data.len());
    for s in &data {
        let stz_input = stz_reading(material, s.temperature_k.or(temperature_k), &file)?;
        let inversion = observed(s, options, stz_input, &mut ws, observer)
            .map_err(|e| e.in_file(&file, s.temperature_k))?;
        series.push(inversion);
    }
    Ok(DataInversion {
        file,
        options: options.clone(),
        series,
        atomic_volume_m3: material.and_then(|m| m.atomic_volume_m3),
        axis: None,
    })
}

/// The material and temperature of the STZ reading of `file`'s data: none without a material; a
/// material needs a temperature.
pub(crate) fn stz_reading<'m>(
    material: Option<&'m MaterialFile>,
    temperature_k: Option<f64>,
    file: &str,
) -> Result<Option<(&'m Material, f64)>, InvertError> {
    match (material, temperature_k) {
        (Some(m), Some(t)) => Ok(Some((&m.material, t))),
        (Some(_), None) => Err(InvertError::NeedsTemperature {
            file: file.to_string(),
        }),
        (None, _) => Ok(None),
    }
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

impl SeriesInversion {
    /// The chosen rule's result: its lambda, solution and status.
    pub fn choice(&self) -> &crate::inversion::Choice {
        &self.analysis.results[0].choice
    }

    /// The peaks of the chosen spectrum, ordered by tau.
    pub fn peaks(&self) -> &[crate::spectrum::SpectrumPeak] {
        &self.analysis.results[0].peaks
    }

    /// Each chosen peak's linearized area error ([`SeriesInversion::area_stderr`]) where it is
    /// finite; `None` for the edge families.
    pub fn peak_area_errors(&self) -> Vec<Option<f64>> {
        match &self.area_stderr {
            Some(errors) => errors
                .iter()
                .map(|se| se.is_finite().then_some(*se))
                .collect(),
            None => vec![None; self.peaks().len()],
        }
    }

    /// Each chosen peak's significance ([`crate::inversion::significance`]); `None` where its
    /// error is not defined (the edge families, an error that is not finite or is zero).
    pub fn significance(&self) -> Vec<Option<f64>> {
        self.peaks()
            .iter()
            .zip(self.peak_area_errors())
            .map(|(p, se)| se.and_then(|se| crate::inversion::significance(p.area, se)))
            .collect()
    }

    /// Whether a peak's centroid lies inside the data window (a peak outside it is only
    /// constrained by the data's tail and by the baseline it competes with).
    pub fn in_window(&self, peak: &crate::spectrum::SpectrumPeak) -> bool {
        let (lo, hi) = self.window_s;
        (lo..=hi).contains(&peak.tau_s())
    }
}

pub(crate) mod baseline;
pub mod energy;
pub mod global;
mod summary;
pub use summary::{InvertSummary, OtherRule, PeakSummary, SeriesSummary, SetSummary, StzSummary};

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

    #[test]
    fn the_library_refuses_settings_out_of_their_domain() {
        let x: Vec<f64> = (0..50).map(|i| 10f64.powf(i as f64 / 10.0)).collect();
        let y: Vec<f64> = x.iter().map(|t| (-t / 30.0).exp()).collect();
        let series = MeasuredSeries {
            temperature_k: None,
            x: x.clone(),
            y: y.clone(),
            sigma: None,
        };
        let mut options = InvertOptions::new(Kernel::Decay);
        options.order = 4;
        let e = invert_series(&series, &options, None, &mut Workspace::new()).unwrap_err();
        assert!(
            matches!(&e, InvertError::Setting(s) if s.field == "order"),
            "{e}"
        );
        let e = build_problem(&x, &y, None, &options).unwrap_err();
        assert!(matches!(e, InvertError::Setting(_)), "{e}");
        options.order = 2;
        assert!(invert_series(&series, &options, None, &mut Workspace::new()).is_ok());
    }
}
