//! Scenario to data: evaluate the truth at the protocol temperature(s), run the forward model, add
//! one noise realization, and tabulate the truth for comparison.

use rand::Rng;
use serde::Serialize;

use crate::noise::{rng_from_seed, NoiseModel};
use crate::protocol::mandrel::{recovery_amplitudes, recovery_curve, Coupling, MandrelError};
use crate::protocol::{cantilever, dma, kww};
use crate::scenario::{Protocol, Scenario, Truth};
use crate::spectrum::{LnTauGrid, Spectrum, VoigtUnits};
use crate::stz::{percolation, Percolation, StzLevel};

/// Points per decade of the grid on which truths are tabulated.
pub const TRUTH_GRID_PER_DECADE: f64 = 20.0;

/// Units lighter than this fraction of the heaviest do not widen the truth table's grid.
const TABLE_WEIGHT_FRACTION: f64 = 1e-6;

/// What the data are, which fixes the inversion kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DataKind {
    /// Recovery after release: kernel exp(-t/tau); x in s.
    Decay,
    /// Creep under load: kernel 1 - exp(-t/tau); x in s.
    Creep,
    /// Loss modulus: kernel w tau / (1 + (w tau)^2); x in rad/s, y in Pa.
    Loss,
}

/// One measured curve.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Series {
    /// Temperature, K (DMA; the protocol temperature for time-domain data; none for the stretched exponent).
    pub temperature_k: Option<f64>,
    /// Times (s) or angular frequencies (rad/s).
    pub x: Vec<f64>,
    /// Noise-free values.
    pub y_clean: Vec<f64>,
    /// Values with noise.
    pub y: Vec<f64>,
    /// Standard deviation of the random noise at each point; `None` for noise-free data.
    pub sigma: Option<Vec<f64>>,
    /// The spectrum as the inversion kernel sees it in these data (none for the stretched exponent).
    #[serde(skip)]
    pub effective: Option<EffectiveTruth>,
}

/// The truth as the data's kernel sees it, in data units: for the mandrel the amplitudes the
/// recovery actually shows (a_m, short of c_m for slow units), for creep c_m, for DMA E0(T) c_m (the
/// linear reading of paper Eq. 7; the exact 1/J* loss differs from it by the coupling of the units).
/// This is what a perfect inversion would return, and what `stzlab run` scores against.
#[derive(Debug, Clone, PartialEq)]
pub struct EffectiveTruth {
    /// Units: relaxation times (s) and amplitudes (data units).
    pub units: VoigtUnits,
    /// Index of the truth peak each unit belongs to.
    pub owner: Vec<usize>,
    /// Centre (median in ln tau) of each truth peak, s.
    pub peak_tau_s: Vec<f64>,
    /// Effective area of each truth peak (sum of its units), data units.
    pub peak_area: Vec<f64>,
}

impl EffectiveTruth {
    fn new(units: VoigtUnits, owner: Vec<usize>, spectrum: &Spectrum) -> Self {
        let mut peak_area = vec![0.0; spectrum.peaks().len()];
        for (a, &p) in units.c.iter().zip(&owner) {
            peak_area[p] += a;
        }
        Self {
            peak_tau_s: spectrum.peaks().iter().map(|p| p.ln_tau.exp()).collect(),
            peak_area,
            units,
            owner,
        }
    }

    /// Weights on `grid` (hat-function projection of the units, area and centroid exact).
    pub fn weights_on(&self, grid: &LnTauGrid) -> Vec<f64> {
        let peaks = self
            .units
            .tau_s
            .iter()
            .zip(&self.units.c)
            .map(|(t, a)| crate::spectrum::Peak {
                ln_tau: t.ln(),
                area: *a,
                width_ln_tau: 0.0,
                shape: crate::spectrum::Shape::LogNormal,
            })
            .collect();
        match Spectrum::new(peaks) {
            Ok(s) => s.project(grid),
            Err(_) => vec![0.0; grid.len()],
        }
    }
}

/// A truth tabulated on a grid at one temperature.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TruthTable {
    /// Temperature, K (none for an explicit spectrum measured without a material).
    pub temperature_k: Option<f64>,
    /// The grid.
    pub grid: LnTauGrid,
    /// Weight (area) of each grid point; density per unit ln tau = weight / grid step.
    pub weights: Vec<f64>,
    /// The spectrum itself.
    pub spectrum: Spectrum,
}

/// One STZ size at one temperature, with what the mandrel achieves of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StzRow {
    /// Temperature, K.
    pub temperature_k: f64,
    /// Size, volume, dF, tau and c.
    pub level: StzLevel,
    /// Mandrel: recovered amplitude of this peak with the exact coupled constraint phase.
    pub amplitude_coupled: Option<f64>,
    /// Mandrel: the same with the uncoupled approximation.
    pub amplitude_uncoupled: Option<f64>,
}

/// Everything one simulation produces.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Simulation {
    /// The kernel the data call for.
    pub kind: DataKind,
    /// One series (or one per DMA temperature).
    pub series: Vec<Series>,
    /// The truth on a grid, per temperature.
    pub truth: Vec<TruthTable>,
    /// STZ rows for hierarchy truths.
    pub stz: Vec<StzRow>,
    /// Percolation numbers per temperature for hierarchy truths, at the longest observation time
    /// (last time; 1 / lowest angular frequency for DMA).
    pub percolation: Vec<Percolation>,
    /// A joint protocol's experiments, one per series: (name, kind); empty otherwise. The truth,
    /// STZ rows and percolation are the first experiment's.
    pub sets: Vec<(String, DataKind)>,
}

/// Why a scenario could not be simulated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimulateError {
    /// The mandrel solver rejected its input.
    #[error(transparent)]
    Mandrel(#[from] MandrelError),
    /// A protocol that only a study runs.
    #[error("the {0} protocol is simulated by its study: use `stzlab run`")]
    StudyOnly(&'static str),
}

/// Simulates the scenario with its own seed.
///
/// # Errors
/// [`SimulateError`].
pub fn simulate(scenario: &Scenario) -> Result<Simulation, SimulateError> {
    let mut sim = simulate_clean(scenario)?;
    add_noise(&mut sim, &scenario.noise, &mut rng_from_seed(scenario.seed));
    Ok(sim)
}

/// Adds one noise realization to every series (in order), replacing `y` and `sigma`.
pub fn add_noise<R: Rng + ?Sized>(sim: &mut Simulation, noise: &NoiseModel, rng: &mut R) {
    for s in &mut sim.series {
        if noise.is_zero() {
            s.y = s.y_clean.clone();
            s.sigma = None;
        } else {
            let noisy = noise.apply(&s.x, &s.y_clean, rng);
            s.y = noisy.y;
            s.sigma = noise.reports_sigma().then_some(noisy.sigma);
        }
    }
}

/// The noise-free simulation (deterministic; noise is added by [`add_noise`]).
///
/// # Errors
/// [`SimulateError`].
pub fn simulate_clean(scenario: &Scenario) -> Result<Simulation, SimulateError> {
    if let Protocol::Joint { sets } = &scenario.protocol {
        // Each experiment on its own, the same sample: series in order, named by their kind.
        let mut joint: Option<Simulation> = None;
        for set in sets {
            let one = Scenario {
                protocol: set.clone(),
                ..scenario.clone()
            };
            let mut part = simulate_clean(&one)?;
            let kind = part.kind;
            let base = match set {
                Protocol::Mandrel { .. } => "mandrel",
                _ => "cantilever",
            };
            let taken = joint.as_ref().map_or(0, |j| {
                j.sets.iter().filter(|(n, _)| n.starts_with(base)).count()
            });
            let name = if taken == 0 {
                base.to_string()
            } else {
                format!("{base}-{}", taken + 1)
            };
            match joint.as_mut() {
                None => {
                    part.sets = vec![(name, kind)];
                    joint = Some(part);
                }
                Some(j) => {
                    j.series.append(&mut part.series);
                    j.sets.push((name, kind));
                }
            }
        }
        // Percolation at the longest time any experiment sees.
        if let Some(j) = joint.as_mut() {
            j.percolation = hierarchy_percolation(scenario)
                .into_iter()
                .map(|(_, p)| p)
                .collect();
        }
        return joint.ok_or(SimulateError::StudyOnly("joint without sets"));
    }
    let (kind, x) = match &scenario.protocol {
        Protocol::Mandrel { times, .. } => (DataKind::Decay, times.values().to_vec()),
        Protocol::Cantilever { times, .. } => (DataKind::Creep, times.values().to_vec()),
        Protocol::Dma { omega, .. } => (DataKind::Loss, omega.values().to_vec()),
        Protocol::StretchedExponent { times, .. } => (DataKind::Decay, times.values().to_vec()),
        Protocol::TemperatureStepping { .. } => {
            return Err(SimulateError::StudyOnly("temperature-stepping"))
        }
        Protocol::Joint { .. } => unreachable!("handled above"),
    };
    let mut sim = Simulation {
        kind,
        series: Vec::new(),
        truth: Vec::new(),
        stz: Vec::new(),
        percolation: Vec::new(),
        sets: Vec::new(),
    };
    if let Protocol::StretchedExponent {
        x0,
        t0_s,
        tau_s,
        beta,
        ..
    } = scenario.protocol
    {
        // The data are the closed form; the truth is its exact spectrum, the KWW density times
        // exp(-t0/tau) (paper section 7), of area x0 exp(-(t0/tau)^beta).
        let y = kww::stretched_exponent(x0, t0_s, tau_s, beta, &x);
        let spectrum = Spectrum::new(vec![crate::spectrum::Peak {
            ln_tau: tau_s.ln(),
            area: x0,
            width_ln_tau: 0.0,
            shape: crate::spectrum::Shape::Kww { beta, t0_s },
        }])
        .expect("validated stretched-exponent parameters");
        let (units, owner) = spectrum.units_by_peak();
        let mut s = series(None, x.clone(), y);
        s.effective = Some(EffectiveTruth::new(units.clone(), owner, &spectrum));
        sim.series.push(s);
        sim.truth
            .push(tabulate(None, spectrum, &units, x[0], x[x.len() - 1]));
        return Ok(sim);
    }
    let truth = scenario
        .truth
        .as_ref()
        .expect("validated: every protocol but the stretched exponent has a truth");
    // The data window in tau: [t_min, t_max], or [1/w_max, 1/w_min].
    let (window_lo, window_hi) = match kind {
        DataKind::Loss => (1.0 / x[x.len() - 1], 1.0 / x[0]),
        _ => (x[0], x[x.len() - 1]),
    };
    let temperatures: Vec<Option<f64>> = match truth {
        Truth::Hierarchy(_) => scenario
            .protocol
            .temperatures_k()
            .into_iter()
            .map(Some)
            .collect(),
        Truth::Spectrum(_) => match &scenario.protocol {
            Protocol::Dma { temperatures_k, .. } => vec![Some(temperatures_k[0])],
            _ => vec![scenario.protocol.temperatures_k().first().copied()],
        },
    };
    for temperature_k in temperatures {
        let (spectrum, levels) = match truth {
            Truth::Hierarchy(h) => {
                let material = scenario
                    .material
                    .as_ref()
                    .expect("validated: hierarchies have a material");
                let t = temperature_k.expect("hierarchy protocols have temperatures");
                (h.spectrum(material, t), Some(h.levels(material, t)))
            }
            Truth::Spectrum(s) => (s.clone(), None),
        };
        let (units, owner) = spectrum.units_by_peak();
        let effective: Option<VoigtUnits>;
        let y = match &scenario.protocol {
            Protocol::Mandrel {
                t_c_s, coupling, ..
            } => {
                let chosen = recovery_amplitudes(&units, *t_c_s, *coupling)?;
                if let Some(levels) = &levels {
                    let coupled = recovery_amplitudes(&units, *t_c_s, Coupling::Coupled)?;
                    let uncoupled = recovery_amplitudes(&units, *t_c_s, Coupling::Uncoupled)?;
                    let per_peak = |a: &[f64]| -> Vec<f64> {
                        let mut sums = vec![0.0; levels.len()];
                        for (amp, &peak) in a.iter().zip(&owner) {
                            sums[peak] += amp;
                        }
                        sums
                    };
                    let (pc, pu) = (
                        per_peak(&coupled.amplitudes),
                        per_peak(&uncoupled.amplitudes),
                    );
                    push_stz_rows(&mut sim, temperature_k, levels, Some((&pc, &pu)));
                }
                effective = Some(VoigtUnits {
                    tau_s: units.tau_s.clone(),
                    c: chosen.amplitudes.clone(),
                });
                recovery_curve(&units.tau_s, &chosen.amplitudes, &x)
            }
            Protocol::Cantilever { .. } => {
                if let Some(levels) = &levels {
                    push_stz_rows(&mut sim, temperature_k, levels, None);
                }
                effective = Some(units.clone());
                cantilever::creep(&units, &x)
            }
            Protocol::Dma {
                loss_model,
                normalized,
                ..
            } => {
                if let Some(levels) = &levels {
                    push_stz_rows(&mut sim, temperature_k, levels, None);
                }
                let material = scenario
                    .material
                    .as_ref()
                    .expect("validated: dma has a material");
                let t = temperature_k.expect("dma has temperatures");
                let e0 = if *normalized { 1.0 } else { material.e0_pa(t) };
                effective = Some(VoigtUnits {
                    tau_s: units.tau_s.clone(),
                    c: units.c.iter().map(|c| e0 * c).collect(),
                });
                dma::loss_modulus(&units, e0, &x, *loss_model)
            }
            Protocol::StretchedExponent { .. }
            | Protocol::TemperatureStepping { .. }
            | Protocol::Joint { .. } => {
                unreachable!("handled above")
            }
        };
        if let Some(levels) = &levels {
            sim.percolation.push(percolation(levels, window_hi));
        }
        let mut s = series(temperature_k, x.clone(), y);
        s.effective = effective.map(|u| EffectiveTruth::new(u, owner.clone(), &spectrum));
        sim.series.push(s);
        sim.truth.push(tabulate(
            temperature_k,
            spectrum,
            &units,
            window_lo,
            window_hi,
        ));
    }
    Ok(sim)
}

fn series(temperature_k: Option<f64>, x: Vec<f64>, y: Vec<f64>) -> Series {
    Series {
        temperature_k,
        x,
        y_clean: y.clone(),
        y,
        sigma: None,
        effective: None,
    }
}

fn push_stz_rows(
    sim: &mut Simulation,
    temperature_k: Option<f64>,
    levels: &[StzLevel],
    mandrel: Option<(&[f64], &[f64])>,
) {
    for (i, level) in levels.iter().enumerate() {
        sim.stz.push(StzRow {
            temperature_k: temperature_k.expect("hierarchy truths are evaluated at a temperature"),
            level: *level,
            amplitude_coupled: mandrel.map(|(c, _)| c[i]),
            amplitude_uncoupled: mandrel.map(|(_, u)| u[i]),
        });
    }
}

/// Tabulates a spectrum on a grid covering the data window plus one decade each side and every peak.
fn tabulate(
    temperature_k: Option<f64>,
    spectrum: Spectrum,
    units: &VoigtUnits,
    window_lo: f64,
    window_hi: f64,
) -> TruthTable {
    let (mut lo, mut hi) = (window_lo / 10.0, window_hi * 10.0);
    // Units carrying a visible weight widen the table (not the far tails of closed forms).
    let largest = units.c.iter().copied().fold(0.0, f64::max);
    for (&tau, &c) in units.tau_s.iter().zip(&units.c) {
        if c >= TABLE_WEIGHT_FRACTION * largest {
            lo = lo.min(tau / 3.0);
            hi = hi.max(tau * 3.0);
        }
    }
    let grid = LnTauGrid::with_density(lo, hi, TRUTH_GRID_PER_DECADE)
        .expect("window and units are positive");
    let weights = spectrum.project(&grid);
    TruthTable {
        temperature_k,
        grid,
        weights,
        spectrum,
    }
}

/// The STZ percolation numbers (paper section 12) of a hierarchy scenario: at each temperature, for
/// an observation time equal to the longest time the protocol sees (t_max, or 1/w_min for DMA).
/// Empty for other truths.
pub fn hierarchy_percolation(scenario: &Scenario) -> Vec<(f64, Percolation)> {
    let (Some(Truth::Hierarchy(h)), Some(material)) = (&scenario.truth, &scenario.material) else {
        return Vec::new();
    };
    let observation_s = match &scenario.protocol {
        Protocol::Mandrel { times, .. } | Protocol::Cantilever { times, .. } => times.last(),
        Protocol::Dma { omega, .. } => 1.0 / omega.first(),
        Protocol::Joint { sets } => sets
            .iter()
            .filter_map(|p| match p {
                Protocol::Mandrel { times, .. } | Protocol::Cantilever { times, .. } => {
                    Some(times.last())
                }
                _ => None,
            })
            .fold(0.0, f64::max),
        Protocol::StretchedExponent { .. } | Protocol::TemperatureStepping { .. } => {
            return Vec::new()
        }
    };
    scenario
        .protocol
        .temperatures_k()
        .into_iter()
        .map(|t| (t, percolation(&h.levels(material, t), observation_s)))
        .collect()
}
