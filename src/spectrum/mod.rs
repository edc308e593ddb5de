//! Spectra on ln tau: log-spaced grids, peaked spectra, their discretization into Voigt units and
//! their area-preserving projection onto a grid (docs/model.md §1 and §4).

pub mod peaks;
pub mod shapes;

pub use peaks::{find_peaks, PeakParams, SpectrumPeak};
pub use shapes::Shape;

use serde::Serialize;
use statrs::function::erf::erf;
use std::f64::consts::{LN_10, SQRT_2};

/// Why a spectrum or grid was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpectrumError {
    /// A value outside its range.
    #[error("{field} = {value}: {requirement}")]
    OutOfRange {
        /// Field name.
        field: &'static str,
        /// Rejected value.
        value: f64,
        /// What it must satisfy.
        requirement: &'static str,
    },
    /// A spectrum with no peaks or units.
    #[error("{0} is empty")]
    Empty(&'static str),
}

fn check(
    field: &'static str,
    value: f64,
    ok: bool,
    req: &'static str,
) -> Result<(), SpectrumError> {
    if value.is_finite() && ok {
        Ok(())
    } else {
        Err(SpectrumError::OutOfRange {
            field,
            value,
            requirement: req,
        })
    }
}

/// A grid's ends: 0 < tau_min_s < tau_max_s, both finite.
fn check_range(tau_min_s: f64, tau_max_s: f64) -> Result<(), SpectrumError> {
    check("tau_min_s", tau_min_s, tau_min_s > 0.0, "must be > 0")?;
    check(
        "tau_max_s",
        tau_max_s,
        tau_max_s > tau_min_s,
        "must exceed tau_min_s",
    )
}

/// N points equally spaced in ln tau from `tau_min_s` to `tau_max_s` inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LnTauGrid {
    ln_tau_min: f64,
    ln_tau_max: f64,
    points: usize,
}

impl LnTauGrid {
    /// Validates 0 < tau_min < tau_max and points >= 2.
    ///
    /// # Errors
    /// [`SpectrumError::OutOfRange`].
    pub fn new(tau_min_s: f64, tau_max_s: f64, points: usize) -> Result<Self, SpectrumError> {
        check_range(tau_min_s, tau_max_s)?;
        check("points", points as f64, points >= 2, "must be >= 2")?;
        Ok(Self {
            ln_tau_min: tau_min_s.ln(),
            ln_tau_max: tau_max_s.ln(),
            points,
        })
    }

    /// A grid from `tau_min_s` to `tau_max_s` with at least `per_decade` points per decade; the
    /// ends are kept exactly.
    ///
    /// # Errors
    /// As [`LnTauGrid::new`], and for `per_decade` <= 0.
    pub fn with_density(
        tau_min_s: f64,
        tau_max_s: f64,
        per_decade: f64,
    ) -> Result<Self, SpectrumError> {
        check("per_decade", per_decade, per_decade > 0.0, "must be > 0")?;
        check_range(tau_min_s, tau_max_s)?;
        let decades = (tau_max_s / tau_min_s).log10();
        let points = (decades * per_decade).ceil() as usize + 1;
        Self::new(tau_min_s, tau_max_s, points.max(2))
    }

    /// Number of grid points.
    pub fn len(&self) -> usize {
        self.points
    }

    /// Always false: a grid has at least two points.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Spacing in ln tau.
    pub fn step(&self) -> f64 {
        (self.ln_tau_max - self.ln_tau_min) / (self.points - 1) as f64
    }

    /// Points per decade of tau.
    pub fn per_decade(&self) -> f64 {
        LN_10 / self.step()
    }

    /// Where `ln_tau` falls on the grid: the point i below it and the fraction of the step to
    /// point i + 1 (clamped to the grid, so values beyond an end sit on that end).
    pub fn locate(&self, ln_tau: f64) -> (usize, f64) {
        let n = self.points;
        let u = ((ln_tau - self.ln_tau(0)) / self.step()).clamp(0.0, (n - 1) as f64);
        let i = (u.floor() as usize).min(n - 2);
        (i, u - i as f64)
    }

    /// ln tau of point `i`.
    pub fn ln_tau(&self, i: usize) -> f64 {
        if i + 1 == self.points {
            self.ln_tau_max
        } else {
            self.ln_tau_min + self.step() * i as f64
        }
    }

    /// tau of point `i`, s.
    pub fn tau_s(&self, i: usize) -> f64 {
        self.ln_tau(i).exp()
    }

    /// All ln tau values.
    pub fn ln_taus(&self) -> Vec<f64> {
        (0..self.points).map(|i| self.ln_tau(i)).collect()
    }

    /// All tau values, s.
    pub fn taus_s(&self) -> Vec<f64> {
        (0..self.points).map(|i| self.tau_s(i)).collect()
    }
}

/// One peak of a spectrum: a delta (`width_ln_tau` = 0) or a Gaussian in ln tau (a log-normal in tau).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Peak {
    /// Centre ln tau (tau in s).
    pub ln_tau: f64,
    /// Area (the c_m of the peak, paper Eq. 6).
    pub area: f64,
    /// Standard deviation in ln tau; 0 for a delta (log-normal shape only).
    pub width_ln_tau: f64,
    /// The shape: log-normal (or delta), or a closed-form relaxation function with characteristic
    /// time e^`ln_tau` and area `area` times the shape's own area.
    pub shape: Shape,
}

impl Peak {
    /// A log-normal peak (a delta for `width_ln_tau` = 0).
    pub fn log_normal(ln_tau: f64, area: f64, width_ln_tau: f64) -> Self {
        Self {
            ln_tau,
            area,
            width_ln_tau,
            shape: Shape::LogNormal,
        }
    }

    /// All of the peak's area at one tau: a log-normal of width 0 or a KWW of beta = 1.
    pub fn is_delta(&self) -> bool {
        match self.shape {
            Shape::LogNormal => self.width_ln_tau == 0.0,
            Shape::Kww { beta, .. } => beta == 1.0,
            _ => false,
        }
    }
}

/// A non-negative spectrum f(ln tau) made of peaks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Spectrum {
    peaks: Vec<Peak>,
}

/// Quadrature step for Gaussian peaks, in units of their width, and its cap in ln tau: the
/// trapezoid rule on a Gaussian is spectrally accurate, and 0.2 in ln tau resolves every kernel.
const GAUSS_STEP_PER_WIDTH: f64 = 0.25;
const GAUSS_STEP_MAX_LN_TAU: f64 = 0.2;
/// Gaussian peaks are discretized over +- this many widths.
const GAUSS_HALF_SPAN_WIDTHS: f64 = 6.0;

impl Spectrum {
    /// Validates finite centres, areas >= 0, widths >= 0, at least one peak.
    ///
    /// # Errors
    /// [`SpectrumError`].
    pub fn new(peaks: Vec<Peak>) -> Result<Self, SpectrumError> {
        if peaks.is_empty() {
            return Err(SpectrumError::Empty("the list of peaks"));
        }
        for p in &peaks {
            check("tau_s", p.ln_tau, true, "must be finite and > 0")?;
            check("area", p.area, p.area >= 0.0, "must be >= 0")?;
            check(
                "width",
                p.width_ln_tau,
                p.width_ln_tau >= 0.0,
                "must be >= 0",
            )?;
            p.shape.check().map_err(|e| SpectrumError::OutOfRange {
                field: e.field,
                value: e.value,
                requirement: e.requirement,
            })?;
        }
        Ok(Self { peaks })
    }

    /// The peaks.
    pub fn peaks(&self) -> &[Peak] {
        &self.peaks
    }

    /// Total area sum c (a closed form contributes its area times the shape's own area, which is
    /// below 1 for the shifted stretched exponent).
    pub fn total_area(&self) -> f64 {
        self.peaks
            .iter()
            .map(|p| p.area * p.shape.area(p.ln_tau.exp()))
            .sum()
    }

    /// Smallest and largest ln tau that carry weight (Gaussians to +- 6 widths, closed forms over
    /// their discretized support).
    pub fn ln_tau_range(&self) -> (f64, f64) {
        self.peaks
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
                if p.shape.is_closed_form() {
                    let (taus, _) = p.shape.units(p.ln_tau.exp());
                    let first = taus.first().map_or(p.ln_tau, |t| t.ln());
                    let last = taus.last().map_or(p.ln_tau, |t| t.ln());
                    return (lo.min(first), hi.max(last));
                }
                let h = GAUSS_HALF_SPAN_WIDTHS * p.width_ln_tau;
                (lo.min(p.ln_tau - h), hi.max(p.ln_tau + h))
            })
    }

    /// Discretizes the spectrum into Voigt units for the forward models: deltas become one unit,
    /// Gaussians a trapezoid quadrature normalized to the exact area. Zero-area peaks are dropped.
    pub fn units(&self) -> VoigtUnits {
        self.units_by_peak().0
    }

    /// [`Spectrum::units`] together with the index of the peak each unit belongs to.
    pub fn units_by_peak(&self) -> (VoigtUnits, Vec<usize>) {
        let mut tau_s = Vec::new();
        let mut c = Vec::new();
        let mut owner = Vec::new();
        for (index, p) in self.peaks.iter().enumerate().filter(|(_, p)| p.area > 0.0) {
            if p.shape.is_closed_form() {
                let (taus, weights) = p.shape.units(p.ln_tau.exp());
                for (t, w) in taus.into_iter().zip(weights) {
                    tau_s.push(t);
                    c.push(p.area * w);
                    owner.push(index);
                }
                continue;
            }
            if p.width_ln_tau == 0.0 {
                tau_s.push(p.ln_tau.exp());
                c.push(p.area);
                owner.push(index);
                continue;
            }
            let h = (GAUSS_STEP_PER_WIDTH * p.width_ln_tau).min(GAUSS_STEP_MAX_LN_TAU);
            let k_max = (GAUSS_HALF_SPAN_WIDTHS * p.width_ln_tau / h).ceil() as i64;
            let weights: Vec<f64> = (-k_max..=k_max)
                .map(|k| {
                    let z = k as f64 * h / p.width_ln_tau;
                    (-0.5 * z * z).exp()
                })
                .collect();
            let total: f64 = weights.iter().sum();
            for (k, w) in (-k_max..=k_max).zip(weights) {
                tau_s.push((p.ln_tau + k as f64 * h).exp());
                c.push(p.area * w / total);
                owner.push(index);
            }
        }
        (VoigtUnits { tau_s, c }, owner)
    }

    /// Projects the spectrum onto `grid` with hat (linear-interpolation) functions: returns the
    /// weight of each grid point. Area and centroid are preserved exactly for anything inside the
    /// grid; mass beyond an end goes to that end point. A delta between two points is split
    /// linearly between them.
    pub fn project(&self, grid: &LnTauGrid) -> Vec<f64> {
        let n = grid.len();
        let h = grid.step();
        let mut weights = vec![0.0; n];
        for p in &self.peaks {
            if p.shape.is_closed_form() {
                // The fine units of the closed form, each split between its two grid points.
                let (taus, units) = p.shape.units(p.ln_tau.exp());
                for (t, w) in taus.into_iter().zip(units) {
                    let (i, frac) = grid.locate(t.ln());
                    weights[i] += p.area * w * (1.0 - frac);
                    weights[i + 1] += p.area * w * frac;
                }
            } else if p.width_ln_tau == 0.0 {
                let (i, frac) = grid.locate(p.ln_tau);
                weights[i] += p.area * (1.0 - frac);
                weights[i + 1] += p.area * frac;
            } else {
                for (i, w) in weights.iter_mut().enumerate() {
                    *w += p.area
                        * gaussian_hat_integral(
                            p.ln_tau,
                            p.width_ln_tau,
                            grid.ln_tau(i),
                            h,
                            i == 0,
                            i + 1 == n,
                        );
                }
            }
        }
        weights
    }
}

/// Standard normal CDF.
fn phi_cdf(z: f64) -> f64 {
    0.5 * (1.0 + erf(z / SQRT_2))
}

/// Standard normal density.
fn phi_pdf(z: f64) -> f64 {
    (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// Integral of the unit-area Gaussian N(m, w) against the hat function centred on `xj` with
/// half-width `h`; an end hat extends as a constant 1 beyond its end.
fn gaussian_hat_integral(
    m: f64,
    w: f64,
    xj: f64,
    h: f64,
    open_left: bool,
    open_right: bool,
) -> f64 {
    // On [a, b]: int N = Phi(zb) - Phi(za); int (x - xj) N = w (phi(za) - phi(zb)) + (m - xj) (Phi(zb) - Phi(za)).
    let mass = |a: f64, b: f64| phi_cdf((b - m) / w) - phi_cdf((a - m) / w);
    let first = |a: f64, b: f64| {
        let (za, zb) = ((a - m) / w, (b - m) / w);
        w * (phi_pdf(za) - phi_pdf(zb)) + (m - xj) * (phi_cdf(zb) - phi_cdf(za))
    };
    let left = if open_left {
        phi_cdf((xj - m) / w)
    } else {
        mass(xj - h, xj) + first(xj - h, xj) / h
    };
    let right = if open_right {
        1.0 - phi_cdf((xj - m) / w)
    } else {
        mass(xj, xj + h) - first(xj, xj + h) / h
    };
    // Mathematically >= 0; far from the peak the differences of CDFs can round below zero.
    (left + right).max(0.0)
}

/// Relaxation units (Voigt units of the linear solid): relaxation times tau_m and strengths c_m.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VoigtUnits {
    /// Relaxation times, s.
    pub tau_s: Vec<f64>,
    /// Strengths c_m (normalized compliances E0 / E'_m).
    pub c: Vec<f64>,
}

impl VoigtUnits {
    /// Validates equal lengths, tau > 0 and c >= 0, all finite.
    ///
    /// # Errors
    /// [`SpectrumError`].
    pub fn new(tau_s: Vec<f64>, c: Vec<f64>) -> Result<Self, SpectrumError> {
        if tau_s.is_empty() {
            return Err(SpectrumError::Empty("the list of units"));
        }
        if tau_s.len() != c.len() {
            return Err(SpectrumError::OutOfRange {
                field: "c",
                value: c.len() as f64,
                requirement: "needs one value per relaxation time",
            });
        }
        for (&t, &ci) in tau_s.iter().zip(&c) {
            check("tau_s", t, t > 0.0, "must be > 0")?;
            check("c", ci, ci >= 0.0, "must be >= 0")?;
        }
        Ok(Self { tau_s, c })
    }

    /// Number of units.
    pub fn len(&self) -> usize {
        self.tau_s.len()
    }

    /// True when there are no units.
    pub fn is_empty(&self) -> bool {
        self.tau_s.is_empty()
    }

    /// sum c_m.
    pub fn total(&self) -> f64 {
        self.c.iter().sum()
    }
}
