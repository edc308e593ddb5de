//! Back from peaks to STZs (paper section 4, Eqs. 3, 4, 6, 9 and 2).

use serde::Serialize;

use super::SpectrumPeak;
use crate::constants::j_to_ev;
use crate::stz::Material;

/// One peak read as an STZ type m.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct StzEstimate {
    /// Index m, 1 for the fastest peak.
    pub m: usize,
    /// Relaxation time tau_m (peak centroid), s.
    pub tau_s: f64,
    /// Volume fraction c_m = peak area (Eq. 6).
    pub c: f64,
    /// Effective Young's modulus E'_m = E0 / c_m (Eq. 4), Pa.
    pub e_prime_pa: f64,
    /// Effective viscosity eta'_m = E'_m tau_m / 3 (Eq. 3), Pa s.
    pub eta_prime_pa_s: f64,
    /// STZ volume from inverting Eq. 9 at the measurement temperature, m^3 (none below the
    /// minimum of Eq. 9).
    pub omega_m3: Option<f64>,
    /// Activation free energy from Eq. 2, eV.
    pub df_ev: Option<f64>,
    /// Whether tau_m lies inside the data window (only these enter the slope).
    pub in_window: bool,
}

/// The STZ table and the slope of Omega_m against m.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BackAnalysis {
    /// Temperature of the measurement, K.
    pub temperature_k: f64,
    /// One row per peak.
    pub estimates: Vec<StzEstimate>,
    /// Least-squares slope d Omega / d m, m^3 (needs two peaks with a volume).
    pub slope_m3: Option<f64>,
    /// Its standard error, m^3 (needs three).
    pub slope_stderr_m3: Option<f64>,
}

impl BackAnalysis {
    /// Slope in units of an atomic volume: 1 for an atomically quantized hierarchy.
    pub fn slope_in_atomic_volumes(&self, atomic_volume_m3: f64) -> Option<(f64, Option<f64>)> {
        self.slope_m3.map(|s| {
            (
                s / atomic_volume_m3,
                self.slope_stderr_m3.map(|e| e / atomic_volume_m3),
            )
        })
    }
}

/// Reads `peaks` (ordered by tau) as an STZ hierarchy of `material` measured at `temperature_k`.
///
/// Only peaks whose tau lies inside `window_s` (when given) enter the slope of Omega_m against m:
/// a peak at the edge of the window collects everything faster or slower than the data can resolve.
/// `area_per_c` converts a peak area (data units) to a volume fraction: 1 for normalized strain,
/// E0(T) for loss moduli in Pa (paper Eq. 7).
pub fn back_analysis(
    peaks: &[SpectrumPeak],
    material: &Material,
    temperature_k: f64,
    window_s: Option<(f64, f64)>,
    area_per_c: f64,
) -> BackAnalysis {
    let labelled: Vec<(usize, SpectrumPeak)> =
        peaks.iter().enumerate().map(|(i, p)| (i + 1, *p)).collect();
    back_analysis_labelled(&labelled, material, temperature_k, window_s, area_per_c)
}

/// [`back_analysis`] of peaks that carry their own index m (a bootstrap resample in which some of
/// the reference peaks are missing keeps the others' m, so that the slope stays comparable).
pub fn back_analysis_labelled(
    peaks: &[(usize, SpectrumPeak)],
    material: &Material,
    temperature_k: f64,
    window_s: Option<(f64, f64)>,
    area_per_c: f64,
) -> BackAnalysis {
    let e0 = material.e0_pa(temperature_k);
    let estimates: Vec<StzEstimate> = peaks
        .iter()
        .map(|&(m, p)| {
            let tau = p.tau_s();
            let c = p.area / area_per_c;
            let e_prime = e0 / c;
            let omega = material.omega_from_tau(tau, temperature_k);
            StzEstimate {
                m,
                tau_s: tau,
                c,
                e_prime_pa: e_prime,
                eta_prime_pa_s: e_prime * tau / 3.0,
                omega_m3: omega,
                df_ev: omega.map(|o| j_to_ev(material.delta_f_j(o, temperature_k))),
                in_window: window_s.is_none_or(|(lo, hi)| tau >= lo && tau <= hi),
            }
        })
        .collect();
    let points: Vec<(f64, f64)> = estimates
        .iter()
        .filter(|e| e.in_window)
        .filter_map(|e| e.omega_m3.map(|o| (e.m as f64, o)))
        .collect();
    let (slope_m3, slope_stderr_m3) = linear_slope(&points);
    BackAnalysis {
        temperature_k,
        estimates,
        slope_m3,
        slope_stderr_m3,
    }
}

/// Ordinary least-squares slope and its standard error (None with fewer than 3 points), by
/// [`super::fit::line`] with equal weights.
pub fn linear_slope(points: &[(f64, f64)]) -> (Option<f64>, Option<f64>) {
    let (x, y): (Vec<f64>, Vec<f64>) = points.iter().copied().unzip();
    match super::fit::line(&x, &y, &vec![1.0; x.len()]) {
        Some(l) => (
            Some(l.slope),
            l.slope_stderr.is_finite().then_some(l.slope_stderr),
        ),
        None => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slope_and_standard_error_of_a_known_line() {
        let (s, e) = linear_slope(&[(1.0, 2.0), (2.0, 4.0), (3.0, 6.0)]);
        assert!((s.unwrap() - 2.0).abs() < 1e-15 && e.unwrap().abs() < 1e-15);
        // By hand: x̄ = ȳ = 1.5, Sxy = 3, Sxx = 5, so slope 0.6 and intercept 0.6;
        // the standard error is sqrt(SSE / (n - 2) / Sxx).
        let (s, e) = linear_slope(&[(0.0, 1.0), (1.0, 0.0), (2.0, 3.0), (3.0, 2.0)]);
        assert!((s.unwrap() - 0.6).abs() < 1e-12);
        let sse: f64 = [(0.0, 1.0), (1.0, 0.0), (2.0, 3.0), (3.0, 2.0)]
            .iter()
            .map(|(x, y): &(f64, f64)| (y - (0.6 + 0.6 * x)).powi(2))
            .sum();
        assert!((e.unwrap() - (sse / 2.0 / 5.0).sqrt()).abs() < 1e-12);
    }
}
