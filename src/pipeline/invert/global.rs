//! Loss-modulus data at every temperature inverted at once for one spectrum of STZ volumes
//! (docs/model.md §8): the series -> E''/E0(T) -> the volume grid and its kernel table -> the same
//! analysis as any series -> peaks as volumes and sizes.

use std::path::Path;

use serde::Serialize;

use super::{
    analyse_assembled, problem_settings, Assembled, DataInversion, InvertError, InvertOptions,
    SeriesInversion, SpectrumAxis,
};
use crate::constants::j_to_ev;
use crate::data::{read_data, MeasuredSeries};
use crate::inversion::global::{loss_global_table, quantize, Quantized, VolumeGrid};
use crate::inversion::kernel::DEFAULT_EXTEND_DECADES;
use crate::inversion::{Baseline, Kernel, Problem, Workspace};
use crate::pipeline::uncertainty::Observer;
use crate::scenario::MaterialFile;
use crate::spectrum::LnTauGrid;
use crate::stz::Material;

/// An inversion of loss data at several temperatures for one spectrum of volumes.
#[derive(Debug, Clone)]
pub struct GlobalInversion {
    /// The volume grid.
    pub grid: VolumeGrid,
    /// The analysis, on the grid's ln tau_ref axis (data E''/E0(T), amplitudes volume fractions).
    pub series: SeriesInversion,
    /// The volumes the data probe: from the shortest to the longest window edge mapped through
    /// Eq. 9 at each temperature, m^3.
    pub window_m3: (f64, f64),
}

/// A peak of a spectrum over volumes, before its reading.
struct VolumeCentroid {
    omega_m3: f64,
    area: f64,
    in_window: bool,
    /// Inside the window with at least the area fraction of the largest there: read for sizes.
    kept: bool,
}

/// The chosen peaks of `s` as volumes on `grid`, in order; those inside `window_m3` with at least
/// `min_area_fraction` of the largest one there are kept for the size reading.
fn volume_centroids(
    s: &SeriesInversion,
    grid: &VolumeGrid,
    material: &Material,
    window_m3: (f64, f64),
    min_area_fraction: f64,
) -> Vec<VolumeCentroid> {
    let (lo, hi) = window_m3;
    let mut peaks: Vec<VolumeCentroid> = s
        .peaks()
        .iter()
        .filter_map(|p| {
            let omega_m3 = grid.omega_of_tau(material, p.tau_s())?;
            Some(VolumeCentroid {
                omega_m3,
                area: p.area,
                in_window: (lo..=hi).contains(&omega_m3),
                kept: false,
            })
        })
        .collect();
    let biggest = peaks
        .iter()
        .filter(|p| p.in_window)
        .map(|p| p.area)
        .fold(0.0, f64::max);
    for p in &mut peaks {
        p.kept = p.in_window && p.area >= min_area_fraction * biggest;
    }
    peaks
}

impl GlobalInversion {
    /// The chosen spectrum's peaks inside the probed volumes with at least `min_area_fraction` of
    /// the largest one's area: (volume in m^3, volume fraction), ascending.
    pub fn peaks_m3(&self, material: &Material, min_area_fraction: f64) -> Vec<(f64, f64)> {
        let all = volume_centroids(
            &self.series,
            &self.grid,
            material,
            self.window_m3,
            min_area_fraction,
        );
        all.into_iter()
            .filter(|p| p.kept)
            .map(|p| (p.omega_m3, p.area))
            .collect()
    }

    /// The kept peaks read as one consecutive hierarchy (see [`Quantized`]).
    pub fn sizes(&self, material: &Material, min_area_fraction: f64) -> Option<Quantized> {
        let omegas: Vec<f64> = self
            .peaks_m3(material, min_area_fraction)
            .iter()
            .map(|p| p.0)
            .collect();
        quantize(&omegas)
    }
}

/// How the one series of a [`DataInversion`] over STZ volumes is read.
#[derive(Debug, Clone, PartialEq)]
pub struct VolumeReading {
    /// The data's kind (`loss-global`, `creep-stepping`).
    pub kind: &'static str,
    /// The material file's atomic volume, m^3, when it gives one (each peak's implied n).
    pub atomic_volume_m3: Option<f64>,
    /// The material.
    pub material: Material,
    /// The volume grid.
    pub grid: VolumeGrid,
    /// The volumes the data probe, m^3.
    pub window_m3: (f64, f64),
    /// The temperature of every data row, K.
    pub row_temperature_k: Vec<f64>,
    /// Peaks below this fraction of the largest are left out of the size reading.
    pub min_area_fraction: f64,
}

/// One peak of a spectrum of volumes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VolumePeak {
    /// Centroid volume, m^3.
    pub omega_m3: f64,
    /// Volume fraction.
    pub area: f64,
    /// Its activation energy dF (paper Eq. 2) at the reference temperature, eV.
    pub df_ref_ev: f64,
    /// Omega over the material file's atomic volume, when it gives one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n_implied: Option<f64>,
    /// Its size in the consecutive-size reading (kept peaks only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
    /// Whether the volume lies within the probed ones.
    pub in_window: bool,
}

/// The reading over STZ volumes in `summary.json` (`--kind loss-global`, docs/model.md §8).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VolumeSummary {
    /// The reference temperature of the ln tau_ref axis (the highest), K.
    pub reference_k: f64,
    /// The volumes the data probe, m^3.
    pub window_m3: [f64; 2],
    /// Grid points.
    pub grid_points: usize,
    /// V_a from the consecutive-size reading of the kept peaks, m^3.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub atomic_volume_m3: Option<f64>,
    /// rms of Omega / V_a - n over the kept peaks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub integer_misfit: Option<f64>,
    /// The chosen spectrum's peaks.
    pub peaks: Vec<VolumePeak>,
}

impl VolumeReading {
    /// dF (paper Eq. 2) of a volume at the reference temperature, eV.
    pub fn df_ref_ev(&self, omega_m3: f64) -> f64 {
        j_to_ev(self.material.delta_f_j(omega_m3, self.grid.reference_k))
    }

    /// The peaks of `s` (this reading's inversion) as volumes, with the sizes of the kept ones.
    pub fn peaks(&self, s: &SeriesInversion) -> Vec<VolumePeak> {
        self.read(s).0
    }

    /// The peaks of `s` with the consecutive-size reading of the kept ones.
    fn read(&self, s: &SeriesInversion) -> (Vec<VolumePeak>, Option<Quantized>) {
        let centroids = volume_centroids(
            s,
            &self.grid,
            &self.material,
            self.window_m3,
            self.min_area_fraction,
        );
        let kept: Vec<f64> = centroids
            .iter()
            .filter(|p| p.kept)
            .map(|p| p.omega_m3)
            .collect();
        let q = quantize(&kept);
        let mut sizes = q.iter().flat_map(|q| q.sizes.iter().copied());
        let peaks = centroids
            .iter()
            .map(|p| VolumePeak {
                omega_m3: p.omega_m3,
                area: p.area,
                df_ref_ev: self.df_ref_ev(p.omega_m3),
                n_implied: self.atomic_volume_m3.map(|va| p.omega_m3 / va),
                n: if p.kept { sizes.next() } else { None },
                in_window: p.in_window,
            })
            .collect();
        (peaks, q)
    }

    /// The summary of `s`, the inversion this reading belongs to.
    pub fn summary(&self, s: &SeriesInversion) -> VolumeSummary {
        let (peaks, q) = self.read(s);
        VolumeSummary {
            reference_k: self.grid.reference_k,
            window_m3: [self.window_m3.0, self.window_m3.1],
            grid_points: self.grid.omega_m3.len(),
            atomic_volume_m3: q.as_ref().map(|q| q.atomic_volume_m3),
            integer_misfit: q.as_ref().map(|q| q.integer_misfit),
            peaks,
        }
    }
}

/// Reads DMA data (a `temperature_k` column, one series per temperature, E'' in Pa) and inverts
/// every temperature at once for one spectrum of STZ volumes of `material` (see
/// [`invert_loss_global`]).
///
/// # Errors
/// [`InvertError`]: no material, an unreadable file, data without temperatures, or an inversion
/// that cannot run.
pub fn invert_global_file(
    data: &Path,
    material: Option<&MaterialFile>,
    options: &InvertOptions,
    observer: &dyn Observer,
) -> Result<DataInversion, InvertError> {
    let material = material.ok_or_else(|| {
        InvertError::Shape(
            "--kind loss-global needs --material FILE.toml: tau(Omega, T) is paper Eq. 9".into(),
        )
    })?;
    let file = data.display().to_string();
    let series = read_data(data)?;
    if series.iter().any(|s| s.temperature_k.is_none()) {
        return Err(InvertError::Shape(format!(
            "{file}: --kind loss-global needs a temperature_k column (one series per temperature)"
        )));
    }
    let g = invert_loss_global(
        &series,
        &material.material,
        options,
        &mut Workspace::new(),
        observer,
    )
    .map_err(|e| e.in_file(&file, None))?;
    let row_temperature_k = series
        .iter()
        .flat_map(|s| std::iter::repeat_n(s.temperature_k.unwrap_or(f64::NAN), s.x.len()))
        .collect();
    Ok(g.into_data(file, "loss-global", material, options, row_temperature_k))
}

impl GlobalInversion {
    /// The inversion of data file `file` (of `kind`, rows at `row_temperature_k`) this is.
    pub(crate) fn into_data(
        self,
        file: String,
        kind: &'static str,
        material: &MaterialFile,
        options: &InvertOptions,
        row_temperature_k: Vec<f64>,
    ) -> DataInversion {
        DataInversion {
            file,
            options: options.clone(),
            series: vec![self.series],
            atomic_volume_m3: material.atomic_volume_m3,
            axis: Some(SpectrumAxis::Volume(VolumeReading {
                kind,
                atomic_volume_m3: material.atomic_volume_m3,
                material: material.material,
                grid: self.grid,
                window_m3: self.window_m3,
                row_temperature_k,
                min_area_fraction: options.peaks.min_area_fraction,
            })),
        }
    }
}

/// The volume grid over `window_m3` and one decade of tau beyond it at `reference_k` (not below
/// Eq. 9's shortest time there): `options.points` points, else `options.per_decade` per decade.
pub(crate) fn volume_grid(
    material: &Material,
    reference_k: f64,
    window_m3: (f64, f64),
    options: &InvertOptions,
) -> Result<VolumeGrid, InvertError> {
    let f = 10f64.powf(DEFAULT_EXTEND_DECADES);
    let edge = material.tau_s(window_m3.0, reference_k);
    let hi = material.tau_s(window_m3.1, reference_k) * f;
    let mut lo = edge / f;
    while material.omega_from_tau(lo, reference_k).is_none() && lo < edge {
        lo *= 10f64.powf(0.1);
    }
    let grid = match options.points {
        Some(n) => LnTauGrid::new(lo, hi, n),
        None => LnTauGrid::with_density(lo, hi, options.per_decade),
    }
    .map_err(|e| InvertError::Grid(e.to_string()))?;
    VolumeGrid::new(grid, material, reference_k).map_err(InvertError::Grid)
}

/// Inverts loss-modulus `series` (x: w in rad/s, y: E'' in Pa, optional sigma; each with its
/// temperature) for one spectrum of STZ volumes of `material`: every row is divided by E0(T) of its
/// temperature, the grid is uniform in ln tau at the highest temperature and reaches one decade
/// beyond the probed times there (`options.points` points, else `options.per_decade` per decade),
/// no baseline unless `options.baseline` says otherwise.
///
/// # Errors
/// [`InvertError`] for a series without a temperature, an unusable temperature or grid, or a
/// problem the inversion refuses.
pub fn invert_loss_global(
    series: &[MeasuredSeries],
    material: &Material,
    options: &InvertOptions,
    ws: &mut Workspace,
    observer: &dyn Observer,
) -> Result<GlobalInversion, InvertError> {
    let mut temps = Vec::with_capacity(series.len());
    for s in series {
        let t = s.temperature_k.ok_or_else(|| {
            InvertError::Shape("a global loss inversion needs each series' temperature".into())
        })?;
        material
            .check_temperature(t)
            .map_err(|e| InvertError::Shape(e.to_string()))?;
        if s.x.is_empty() || s.x.len() != s.y.len() {
            return Err(InvertError::Shape(format!(
                "the series at {t} K has no data"
            )));
        }
        temps.push(t);
    }
    if temps.is_empty() {
        return Err(InvertError::Shape("no series".into()));
    }
    let reference_k = temps.iter().copied().fold(0.0, f64::max);
    // The probed volumes: each series' window 1/w_max .. 1/w_min through Eq. 9 at its temperature.
    let mut window_m3 = (f64::INFINITY, 0.0f64);
    for (s, &t) in series.iter().zip(&temps) {
        let (w_lo, w_hi) =
            s.x.iter()
                .fold((f64::INFINITY, 0.0f64), |(a, b), &w| (a.min(w), b.max(w)));
        let shortest = material.omega_from_tau(1.0 / w_hi, t);
        let longest = material.omega_from_tau(1.0 / w_lo, t);
        if let (Some(a), Some(b)) = (shortest, longest) {
            window_m3 = (window_m3.0.min(a), window_m3.1.max(b));
        }
    }
    if !(window_m3.1 > window_m3.0) {
        return Err(InvertError::Grid(
            "no STZ volume relaxes within the data's frequency windows (paper Eq. 9)".into(),
        ));
    }
    let grid = volume_grid(material, reference_k, window_m3, options)?;
    let (mut x, mut y, mut t_rows) = (Vec::new(), Vec::new(), Vec::new());
    let given = series.iter().all(|s| s.sigma.is_some());
    let mut sigma = given.then(Vec::new);
    for (s, &t) in series.iter().zip(&temps) {
        let e0 = material.e0_pa(t);
        x.extend_from_slice(&s.x);
        y.extend(s.y.iter().map(|v| v / e0));
        t_rows.extend(std::iter::repeat_n(t, s.x.len()));
        if let (Some(out), Some(sd)) = (sigma.as_mut(), &s.sigma) {
            out.extend(sd.iter().map(|v| v / e0));
        }
    }
    let table = loss_global_table(&x, &t_rows, &grid, material);
    let baseline = options.baseline.unwrap_or(Baseline::None);
    let settings = problem_settings(options, Kernel::Loss, grid.grid, baseline);
    let problem = Problem::tabulated(&x, &y, sigma.as_deref(), &table, settings)?;
    let assembled = Assembled {
        problem,
        temperature_k: None,
        window_s: (
            material.tau_s(window_m3.0, reference_k),
            material.tau_s(window_m3.1, reference_k),
        ),
        loss_units: false,
        sets: Vec::new(),
    };
    let series = analyse_assembled(assembled, options, None, ws, observer)?;
    Ok(GlobalInversion {
        grid,
        series,
        window_m3,
    })
}
