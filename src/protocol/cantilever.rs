//! Cantilever creep at fixed stress from t = 0 (docs/model.md §2, paper section 3).

use crate::spectrum::VoigtUnits;

/// Normalized anelastic creep strain y(t) = sum_m c_m (1 - exp(-t / tau_m)).
///
/// Under constant stress the Voigt units in series each see the full stress, so this is exact in
/// the linear solid. `exp_m1` keeps full precision for t << tau.
pub fn creep(units: &VoigtUnits, times_s: &[f64]) -> Vec<f64> {
    times_s
        .iter()
        .map(|&t| {
            units
                .tau_s
                .iter()
                .zip(&units.c)
                .map(|(&tau, &c)| -c * (-t / tau).exp_m1())
                .sum()
        })
        .collect()
}
