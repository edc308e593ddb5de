//! Joint inversion (docs/model.md §7): several data sets, possibly of different kinds, share one
//! spectrum on one grid covering all their windows; each keeps its own baseline terms and its own
//! weights. The paper built each spectrum this way from cantilever creep (1.5e-3 s to 200 s) and
//! mandrel recovery (10 s to 1e8 s).
//!
//! - **Weights.** A set with sigma uses it. A set without sigma, inverted with others, gets its own
//!   noise level from its own inversion first (the chosen fit's sqrt(||r||^2 / (M - dof))), which
//!   then weighs its rows; so chi^2 and the degrees of freedom of every rule run over all sets.
//!   Alone, a set is inverted exactly as `invert` does.
//! - **Normalization.** Strains are taken as given, divided by the elastic strain (the paper's
//!   normalization: a peak's area is its volume fraction). Loss moduli (Pa) mixed with strains are
//!   divided by E0(T) of the material at the measurement temperature (paper Eq. 7), so that every
//!   set's spectrum is in volume fractions; loss data alone stay in Pa.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::invert::{
    analyse_assembled, check_temperature, stz_reading, Assembled, DataInversion, InvertError,
};
use super::uncertainty::Observer;
use crate::data::read_data;
use crate::inversion::nnls::NnlsParams;
use crate::inversion::{DataBlock, InvertOptions, Kernel, Problem, ProblemSettings, Workspace};
use crate::pipeline::simulate::EffectiveTruth;
use crate::scenario::MaterialFile;
use crate::spectrum::VoigtUnits;

/// One data set of a joint inversion, as it entered the problem.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JointSet {
    /// Its name: the file's stem.
    pub name: String,
    /// Its kernel (`kind` in summary.json).
    #[serde(rename = "kind")]
    pub kernel: Kernel,
    /// The data file.
    pub file: String,
    /// Number of points.
    pub points: usize,
    /// `given` (from the file) or `estimated` (from the set's own inversion).
    pub sigma: &'static str,
    /// The estimated noise level (data units after normalization), when estimated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sigma_estimate: Option<f64>,
    /// How its values were scaled before the inversion.
    pub normalization: String,
    /// Its window in tau, s.
    pub window_s: [f64; 2],
}

/// Reads the data sets `(kernel, file)` and inverts them jointly with `options` (its kernel and
/// baseline are each set's own: the baseline option when given, else the kernel's default),
/// telling `observer` how a bootstrap progresses (`&()`: nothing).
///
/// # Errors
/// [`InvertError`]: unreadable data, a file with several series, two sets with one name, loss data
/// mixed with strain data without a material and temperature, or an unusable problem.
pub fn invert_joint(
    sets: &[(Kernel, PathBuf)],
    options: &InvertOptions,
    material: Option<&MaterialFile>,
    temperature_k: Option<f64>,
    observer: &dyn Observer,
) -> Result<DataInversion, InvertError> {
    check_temperature(temperature_k, material)?;
    if sets.is_empty() {
        return Err(InvertError::Joint("no data sets given".into()));
    }
    let mut read = Vec::with_capacity(sets.len());
    for (kernel, path) in sets {
        let file = path.display().to_string();
        let mut data = read_data(path)?;
        if data.len() != 1 {
            return Err(InvertError::Joint(format!(
                "{file}: holds {} temperatures; a joint data set is one series",
                data.len()
            )));
        }
        let name = stem(path);
        if let Some((_, other, _)) = read
            .iter()
            .find(|(n, _, _): &&(String, String, _)| *n == name)
        {
            return Err(InvertError::Joint(format!(
                "two data sets are named {name} ({other} and {file}): sets are named by their file's stem"
            )));
        }
        read.push((name, file, (*kernel, data.remove(0))));
    }
    let temperature = read
        .iter()
        .find_map(|(_, _, (_, s))| s.temperature_k)
        .or(temperature_k);
    let has_loss = read.iter().any(|(_, _, (k, _))| *k == Kernel::Loss);
    let all_loss = read.iter().all(|(_, _, (k, _))| *k == Kernel::Loss);
    // Loss moduli join strains only in volume fractions: divided by E0(T).
    let e0 =
        if has_loss && !all_loss {
            match (material, temperature) {
                (Some(m), Some(t)) => Some(m.material.e0_pa(t)),
                _ => return Err(InvertError::Joint(
                    "loss data (Pa) joined with strain data need --material and --temperature-k: \
                     they are divided by E0(T) to share the spectrum in volume fractions"
                        .into(),
                )),
            }
        } else {
            None
        };
    let single = read.len() == 1;
    let mut ws = Workspace::new();
    let mut prepared = Vec::with_capacity(read.len());
    for (name, file, (kernel, mut series)) in read {
        let own = InvertOptions {
            kernel,
            uncertainty: None,
            ..options.clone()
        };
        let normalization = match (kernel, e0) {
            (Kernel::Loss, Some(e0)) => {
                series.y.iter_mut().for_each(|v| *v /= e0);
                if let Some(s) = series.sigma.as_mut() {
                    s.iter_mut().for_each(|v| *v /= e0);
                }
                format!("divided by E0(T) = {e0:.6e} Pa (paper Eq. 7): volume fractions")
            }
            (Kernel::Loss, None) => "as given (Pa)".to_string(),
            _ => "as given (strain divided by the elastic strain)".to_string(),
        };
        let mut sigma_estimate = None;
        let given = series.sigma.is_some();
        if !given && !single {
            let alone = super::invert::invert_series(&series, &own, None, &mut ws)
                .map_err(|e| e.in_file(&file, series.temperature_k))?;
            let stats = alone.choice().solution.stats;
            let m = series.x.len() as f64;
            // The fit statistics belong to the data divided by the problem's data scale.
            let level =
                (stats.weighted_ss / (m - stats.dof).max(1.0)).sqrt() * alone.problem.data_scale();
            if !(level > 0.0 && level.is_finite()) {
                return Err(InvertError::Joint(format!(
                    "{file}: its own fit leaves no residual to estimate its noise level from; give a sigma column"
                )));
            }
            series.sigma = Some(vec![level; series.x.len()]);
            sigma_estimate = Some(level);
        }
        let (x0, x1) = (series.x[0], series.x[series.x.len() - 1]);
        let window = kernel.window_s(x0, x1);
        let set = JointSet {
            name,
            kernel,
            file,
            points: series.x.len(),
            sigma: if given { "given" } else { "estimated" },
            sigma_estimate,
            normalization,
            window_s: [window.0, window.1],
        };
        prepared.push((set, own, series));
    }
    let blocks: Vec<DataBlock<'_>> = prepared
        .iter()
        .map(|(_, own, s)| DataBlock {
            kernel: own.kernel,
            baseline: own.baseline(),
            x: &s.x,
            y: &s.y,
            sigma: s.sigma.as_deref(),
        })
        .collect();
    let problem = joint_problem(&blocks, options)?;
    let window = hull(prepared.iter().map(|p| (p.0.window_s[0], p.0.window_s[1])));
    let sets: Vec<JointSet> = prepared.into_iter().map(|p| p.0).collect();
    let stz_temperature = stz_reading(material, temperature, &sets[0].file)?;
    let options = InvertOptions {
        kernel: sets[0].kernel,
        ..options.clone()
    };
    let assembled = Assembled {
        problem,
        temperature_k: temperature,
        window_s: window,
        loss_units: all_loss,
        sets,
    };
    let inversion = analyse_assembled(assembled, &options, stz_temperature, &mut ws, observer)?;
    Ok(DataInversion {
        file: inversion
            .sets
            .iter()
            .map(|s| s.file.as_str())
            .collect::<Vec<_>>()
            .join(" + "),
        options,
        series: vec![inversion],
        atomic_volume_m3: material.and_then(|m| m.atomic_volume_m3),
        axis: None,
    })
}

/// The problem of data sets `blocks` sharing one spectrum under `options`: one grid reaching over
/// every set's own grid (the options' grid with its ends at their hull), the options' penalty.
///
/// # Errors
/// [`InvertError`] for an unusable grid or problem.
pub fn joint_problem(
    blocks: &[DataBlock<'_>],
    options: &InvertOptions,
) -> Result<Problem, InvertError> {
    let mut ends = (f64::INFINITY, 0.0f64);
    for b in blocks {
        if b.x.is_empty() {
            return Err(InvertError::Shape("a data set has no points".into()));
        }
        let own = InvertOptions {
            kernel: b.kernel,
            ..options.clone()
        };
        let grid = own
            .grid(b.x[0], b.x[b.x.len() - 1])
            .map_err(InvertError::Grid)?;
        ends = (
            ends.0.min(grid.tau_s(0)),
            ends.1.max(grid.tau_s(grid.len() - 1)),
        );
    }
    let first = blocks
        .first()
        .ok_or_else(|| InvertError::Joint("no data sets given".into()))?;
    let hull = InvertOptions {
        kernel: first.kernel,
        tau_min_s: Some(ends.0),
        tau_max_s: Some(ends.1),
        ..options.clone()
    };
    let grid = hull
        .grid(first.x[0], first.x[first.x.len() - 1])
        .map_err(InvertError::Grid)?;
    let settings = ProblemSettings {
        kernel: first.kernel,
        grid,
        baseline: first.baseline,
        baseline_nonnegative: options.baseline_nonnegative,
        order: options.order,
        zero_boundary: options.zero_boundary,
        nnls: NnlsParams::default(),
        maxent_model: options.maxent_model,
        edge_scale: options.edge_scale,
    };
    Ok(Problem::joint(blocks, settings)?)
}

/// The effective truth of a joint experiment: each truth peak as the experiment that sees it
/// carries it, the last whose window (`windows`, s) holds the peak's tau, else the first (a
/// mandrel's constraint time leaves its slowest sizes partly loaded; creep shows them in full).
pub fn joint_truth(truths: &[&EffectiveTruth], windows: &[(f64, f64)]) -> Option<EffectiveTruth> {
    let first = truths.first()?;
    let mut tau = Vec::new();
    let mut c = Vec::new();
    let mut owner = Vec::new();
    let mut peak_area = Vec::new();
    for (k, &t) in first.peak_tau_s.iter().enumerate() {
        let from = (0..truths.len())
            .rev()
            .find(|&j| (windows[j].0..=windows[j].1).contains(&t))
            .unwrap_or(0);
        let e = truths[from];
        peak_area.push(*e.peak_area.get(k)?);
        for (i, _) in e.owner.iter().enumerate().filter(|(_, o)| **o == k) {
            tau.push(e.units.tau_s[i]);
            c.push(e.units.c[i]);
            owner.push(k);
        }
    }
    Some(EffectiveTruth {
        units: VoigtUnits::new(tau, c).ok()?,
        owner,
        peak_tau_s: first.peak_tau_s.clone(),
        peak_area,
    })
}

/// The smallest interval holding every window (lo, hi), s.
pub fn hull(windows: impl IntoIterator<Item = (f64, f64)>) -> (f64, f64) {
    windows
        .into_iter()
        .fold((f64::INFINITY, 0.0), |(lo, hi), w| {
            (lo.min(w.0), hi.max(w.1))
        })
}

/// A file's stem, the name of its data set.
fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Windows (tau, s) that neither overlap nor touch, as (end of one, start of the next): a peak in
/// such a gap is seen by no set.
pub fn window_gaps(sets: &[JointSet]) -> Vec<(f64, f64)> {
    let mut w: Vec<[f64; 2]> = sets.iter().map(|s| s.window_s).collect();
    w.sort_by(|a, b| a[0].total_cmp(&b[0]));
    let mut gaps = Vec::new();
    let mut reach = w.first().map_or(0.0, |x| x[1]);
    for x in w.iter().skip(1) {
        if x[0] > reach {
            gaps.push((reach, x[0]));
        }
        reach = reach.max(x[1]);
    }
    gaps
}
