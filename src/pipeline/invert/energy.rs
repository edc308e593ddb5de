//! Inverting creep under a temperature history for the spectrum of activation energies
//! (docs/model.md §8): the record -> the dF grid and its kernel table -> the same analysis as any
//! series (path, rules, peaks, bootstrap) -> the density per eV.

use std::path::Path;

use super::global::{volume_grid, GlobalInversion};
use super::{
    analyse_assembled, problem_settings, Assembled, DataInversion, InvertError, InvertOptions,
    SeriesInversion, SpectrumAxis,
};
use crate::constants::BOLTZMANN_J_PER_K;
use crate::data::{read_data, MeasuredSeries};
use crate::inversion::energy::{
    creep_table, creep_table_with, read_history, ArrheniusLaw, EnergyGrid, TemperatureHistory,
};
use crate::inversion::{Baseline, Kernel, Problem, Workspace};
use crate::pipeline::uncertainty::Observer;
use crate::scenario::MaterialFile;
use crate::stz::Material;

/// Default number of dF grid points.
pub const DEFAULT_DF_POINTS: usize = 200;
/// theta at which a process counts as relaxed: the dF range a record resolves runs from the dF
/// with theta = 1 at its first time to the dF with theta = 1 at its last.
const RELAXED_THETA: f64 = 1.0;
/// The default grid reaches one decade of tau beyond that range on each side (theta x 10 and
/// theta / 10), as the tau grid does beyond a time window.
const EXTEND_THETA: f64 = 10.0;

/// The dF grid of an energy inversion.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EnergyOptions {
    /// The law tau(dF, T).
    pub law: ArrheniusLaw,
    /// Lowest dF of the grid, eV (default: one decade of tau below the resolved range).
    pub df_min_ev: Option<f64>,
    /// Highest dF of the grid, eV (default: one decade above).
    pub df_max_ev: Option<f64>,
    /// Grid points (default [`DEFAULT_DF_POINTS`]).
    pub points: usize,
}

impl EnergyOptions {
    /// The defaults for `law`.
    pub fn new(law: ArrheniusLaw) -> Self {
        Self {
            law,
            df_min_ev: None,
            df_max_ev: None,
            points: DEFAULT_DF_POINTS,
        }
    }
}

/// An inversion in dF.
#[derive(Debug, Clone)]
pub struct EnergyInversion {
    /// The dF grid.
    pub grid: EnergyGrid,
    /// The dF range the record resolves (theta = 1 at its first and at its last time), eV.
    pub resolved_ev: (f64, f64),
    /// The analysis, on the grid's ln tau_ref axis.
    pub series: SeriesInversion,
}

/// How the one series of a [`DataInversion`] in activation energy is read.
#[derive(Debug, Clone, PartialEq)]
pub struct EnergyReading {
    /// The temperature-history file, as given.
    pub history_file: String,
    /// The dF grid.
    pub grid: EnergyGrid,
    /// The dF range the record resolves, eV.
    pub resolved_ev: (f64, f64),
}

/// Reads a creep record (`t_s`-like x column, strain, optional sigma; one series) and its
/// temperature history, and inverts it for the spectrum of dF under the attempt law of `energy`
/// (see [`invert_creep_history`]) or, with a `material`, for the spectrum of STZ volumes under
/// paper Eq. 9 (see [`invert_creep_history_volumes`]).
///
/// # Errors
/// [`InvertError`]: an unreadable file, a refused history, a record with a temperature column or
/// several series, or an inversion that cannot run.
pub fn invert_history_file(
    data: &Path,
    history: &Path,
    energy: &EnergyOptions,
    material: Option<&MaterialFile>,
    options: &InvertOptions,
    observer: &dyn Observer,
) -> Result<DataInversion, InvertError> {
    let file = data.display().to_string();
    let series = read_data(data)?;
    let [record] = series.as_slice() else {
        return Err(InvertError::Shape(format!(
            "{file}: {} series (a temperature column?): a temperature-stepping record is one \
             series of strain against time, its temperatures in --temperature-history",
            series.len()
        )));
    };
    let h = read_history(history)?;
    if let Some(m) = material {
        let g = invert_creep_history_volumes(
            record,
            &h,
            &m.material,
            options,
            &mut Workspace::new(),
            observer,
        )
        .map_err(|e| e.in_file(&file, None))?;
        let row_temperature_k = record
            .x
            .iter()
            .map(|&t| {
                let k = h.holds().partition_point(|hold| hold.end_s < t);
                h.holds()[k.min(h.holds().len() - 1)].temperature_k
            })
            .collect();
        return Ok(g.into_data(file, "creep-stepping", m, options, row_temperature_k));
    }
    let inv = invert_creep_history(record, &h, energy, options, &mut Workspace::new(), observer)
        .map_err(|e| e.in_file(&file, None))?;
    Ok(DataInversion {
        file,
        options: options.clone(),
        series: vec![inv.series],
        atomic_volume_m3: None,
        axis: Some(SpectrumAxis::Energy(EnergyReading {
            history_file: history.display().to_string(),
            grid: inv.grid,
            resolved_ev: inv.resolved_ev,
        })),
    })
}

impl EnergyInversion {
    /// dF of every grid point, eV.
    pub fn df_ev(&self) -> Vec<f64> {
        self.grid.df_ev()
    }

    /// The chosen spectrum as a density per eV (strain per eV for normalized strain).
    pub fn density_per_ev(&self) -> Vec<f64> {
        let step = self.grid.step_ev();
        self.series
            .choice()
            .solution
            .amplitudes
            .iter()
            .map(|a| a / step)
            .collect()
    }

    /// The chosen spectrum's peaks: (dF in eV, area) in dF order.
    pub fn peaks_ev(&self) -> Vec<(f64, f64)> {
        self.series
            .peaks()
            .iter()
            .map(|p| (self.grid.df_of_tau(p.tau_s()), p.area))
            .collect()
    }
}

/// Checks a creep record against its history: as many values as times, times increasing, after
/// loading and within the history. Returns its first and last time, s.
fn check_record(
    record: &MeasuredSeries,
    history: &TemperatureHistory,
) -> Result<(f64, f64), InvertError> {
    let (times_s, y) = (&record.x, &record.y);
    if times_s.is_empty() || times_s.len() != y.len() {
        return Err(InvertError::Shape(format!(
            "{} times and {} values: need as many of each, and at least one",
            times_s.len(),
            y.len()
        )));
    }
    if let Some(i) = (1..times_s.len()).find(|&i| times_s[i] <= times_s[i - 1]) {
        return Err(InvertError::Shape(format!(
            "time {} s at point {} does not follow {} s: times must increase",
            times_s[i],
            i + 1,
            times_s[i - 1]
        )));
    }
    let (first, last) = (times_s[0], times_s[times_s.len() - 1]);
    if !(first > 0.0) || last > history.end_s() {
        return Err(InvertError::Shape(format!(
            "times {first} s .. {last} s: must lie after loading (0 s) and within the temperature \
             history (to {} s)",
            history.end_s()
        )));
    }
    Ok((first, last))
}

/// The volume whose theta over `history` up to `t_s` is `theta` under paper Eq. 9 of `material`
/// (theta falls with Omega above Eq. 9's fastest volume at the hottest temperature), m^3; `None`
/// when even that volume has not reached `theta` or no volume below a million times it has
/// fallen to it.
fn volume_at_theta(
    history: &TemperatureHistory,
    material: &Material,
    t_s: f64,
    theta: f64,
) -> Option<f64> {
    let t_ref = history.max_temperature_k();
    let fastest = 1.0 / (material.delta_f_j(1.0, t_ref) / (BOLTZMANN_J_PER_K * t_ref));
    let theta_of = |omega: f64| history.integral(|t_k| 1.0 / material.tau_s(omega, t_k), t_s);
    let (mut lo, mut hi) = (fastest, 2.0 * fastest);
    if theta_of(lo) < theta {
        return None;
    }
    while theta_of(hi) > theta {
        hi *= 2.0;
        if hi > 1e6 * fastest {
            return None;
        }
    }
    // Bisection to rounding.
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if theta_of(mid) > theta {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some(0.5 * (lo + hi))
}

/// Inverts the creep `record` through `history` for one spectrum of STZ volumes of `material`:
/// tau(Omega, T) of paper Eq. 9 with mu(T), integrated exactly over the holds; the grid is uniform
/// in ln tau at the hottest hold, `options.points` points (else [`DEFAULT_DF_POINTS`]) reaching one
/// decade of tau beyond the volumes the record resolves (theta = 1 at its first and last time).
///
/// # Errors
/// As [`invert_creep_history`], and when no volume relaxes within the record.
pub fn invert_creep_history_volumes(
    record: &MeasuredSeries,
    history: &TemperatureHistory,
    material: &Material,
    options: &InvertOptions,
    ws: &mut Workspace,
    observer: &dyn Observer,
) -> Result<GlobalInversion, InvertError> {
    let (first, last) = check_record(record, history)?;
    let at = |t: f64| volume_at_theta(history, material, t, RELAXED_THETA);
    let (Some(lo), Some(hi)) = (at(first), at(last)) else {
        return Err(InvertError::Grid(
            "no STZ volume relaxes within the record (paper Eq. 9 through the history)".into(),
        ));
    };
    let reference_k = history.max_temperature_k();
    let grid_options = InvertOptions {
        points: Some(options.points.unwrap_or(DEFAULT_DF_POINTS)),
        ..options.clone()
    };
    let grid = volume_grid(material, reference_k, (lo, hi), &grid_options)?;
    let omegas = grid.omega_m3.clone();
    let table = creep_table_with(&record.x, history, omegas.len(), |j, t_k| {
        1.0 / material.tau_s(omegas[j], t_k)
    });
    let baseline = options.baseline.unwrap_or(Baseline::Constant);
    let settings = problem_settings(options, Kernel::Creep, grid.grid, baseline);
    let problem = Problem::tabulated(
        &record.x,
        &record.y,
        record.sigma.as_deref(),
        &table,
        settings,
    )?;
    let assembled = Assembled {
        problem,
        temperature_k: None,
        window_s: (
            material.tau_s(lo, reference_k),
            material.tau_s(hi, reference_k),
        ),
        loss_units: false,
        sets: Vec::new(),
    };
    let series = analyse_assembled(assembled, options, None, ws, observer)?;
    Ok(GlobalInversion {
        grid,
        series,
        window_m3: (lo, hi),
    })
}

/// Inverts the creep `record` (x: times in s after loading, increasing, within the history; y:
/// strain; optional sigma) for the spectrum of dF. The baseline defaults to a constant (the strain of processes
/// too fast for the first time); `options.points`, `per_decade` and the tau limits do not apply
/// (the grid is `energy`'s).
///
/// # Errors
/// [`InvertError`] for mismatched or unordered data, times outside the history, a bad grid, or a
/// problem the inversion refuses.
pub fn invert_creep_history(
    record: &MeasuredSeries,
    history: &TemperatureHistory,
    energy: &EnergyOptions,
    options: &InvertOptions,
    ws: &mut Workspace,
    observer: &dyn Observer,
) -> Result<EnergyInversion, InvertError> {
    let (times_s, y, sigma) = (&record.x, &record.y, record.sigma.as_deref());
    let (first, last) = check_record(record, history)?;
    let law = energy.law;
    let df_at = |t: f64, theta: f64| law.df_at_theta(history, t, theta);
    let resolved = (df_at(first, RELAXED_THETA), df_at(last, RELAXED_THETA));
    let lo = energy
        .df_min_ev
        .unwrap_or_else(|| df_at(first, RELAXED_THETA * EXTEND_THETA));
    let hi = energy
        .df_max_ev
        .unwrap_or_else(|| df_at(last, RELAXED_THETA / EXTEND_THETA));
    let points = options.points.unwrap_or(energy.points);
    let grid = EnergyGrid::new(lo, hi, points, law, history.max_temperature_k())
        .map_err(|e| InvertError::Grid(e.to_string()))?;
    let table = creep_table(times_s, history, &grid);
    let baseline = options.baseline.unwrap_or(Baseline::Constant);
    let settings = problem_settings(options, Kernel::Creep, grid.grid, baseline);
    let problem = Problem::tabulated(times_s, y, sigma, &table, settings)?;
    let assembled = Assembled {
        problem,
        temperature_k: None,
        window_s: (grid.tau_of_df(resolved.0), grid.tau_of_df(resolved.1)),
        loss_units: false,
        sets: Vec::new(),
    };
    let series = analyse_assembled(assembled, options, None, ws, observer)?;
    Ok(EnergyInversion {
        grid,
        resolved_ev: resolved,
        series,
    })
}
