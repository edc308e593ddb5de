//! Dynamic-mechanical analysis: loss modulus of the linear solid (docs/model.md §2, paper section 6).

use serde::{Deserialize, Serialize};

use crate::spectrum::VoigtUnits;

/// Which loss modulus to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum LossModel {
    /// Imaginary part of E* = 1 / J*, exact for the spring-plus-Voigt-units solid.
    #[default]
    Exact,
    /// Paper Eq. 7: E0 sum c w tau / (1 + (w tau)^2), the small-sum(c) limit.
    Eq7,
}

/// Loss modulus E''(w), Pa, at each angular frequency `omega_rad_s`.
///
/// # Formula
/// J*(w) = (1/E0) (1 + sum_m c_m / (1 + i w tau_m)) = (A + i B) / E0 with
/// A = 1 + sum c/(1 + (w tau)^2), B = -sum c w tau/(1 + (w tau)^2); E'' = Im(1/J*) = -E0 B / (A^2 + B^2).
pub fn loss_modulus(
    units: &VoigtUnits,
    e0_pa: f64,
    omega_rad_s: &[f64],
    model: LossModel,
) -> Vec<f64> {
    omega_rad_s
        .iter()
        .map(|&w| {
            let (a, loss) = compliance_parts(units, w);
            match model {
                LossModel::Exact => e0_pa * loss / (a * a + loss * loss),
                LossModel::Eq7 => e0_pa * loss,
            }
        })
        .collect()
}

/// Storage modulus E'(w) = Re(1/J*) = E0 A / (A^2 + B^2), Pa.
pub fn storage_modulus(units: &VoigtUnits, e0_pa: f64, omega_rad_s: &[f64]) -> Vec<f64> {
    omega_rad_s
        .iter()
        .map(|&w| {
            let (a, loss) = compliance_parts(units, w);
            e0_pa * a / (a * a + loss * loss)
        })
        .collect()
}

/// (A, -B) of E0 J*(w) = A + i B: the real part and the loss part (-Im) of the normalized compliance.
fn compliance_parts(units: &VoigtUnits, w: f64) -> (f64, f64) {
    units
        .tau_s
        .iter()
        .zip(&units.c)
        .fold((1.0, 0.0), |(a, loss), (&tau, &c)| {
            let wt = w * tau;
            let den = 1.0 + wt * wt;
            (a + c / den, loss + c * wt / den)
        })
}
