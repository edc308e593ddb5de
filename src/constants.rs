//! Physical constants (CODATA 2018 exact values) and unit conversions used at the edges.

/// Elementary charge, C; also joules per electronvolt.
pub const ELEMENTARY_CHARGE_C: f64 = 1.602_176_634e-19;
/// Boltzmann constant, J/K.
pub const BOLTZMANN_J_PER_K: f64 = 1.380_649e-23;
/// Joules per electronvolt.
pub const J_PER_EV: f64 = ELEMENTARY_CHARGE_C;
/// Boltzmann constant, eV/K.
pub const BOLTZMANN_EV_PER_K: f64 = BOLTZMANN_J_PER_K / J_PER_EV;
/// Pascals per gigapascal.
pub const PA_PER_GPA: f64 = 1e9;
/// Highest temperature accepted anywhere, K: far above any glass's melting point, so a larger value
/// is a unit error (say, a temperature in mK or a Celsius value with an extra factor).
pub const MAX_TEMPERATURE_K: f64 = 5000.0;

/// Converts joules to electronvolts.
pub fn j_to_ev(energy_j: f64) -> f64 {
    energy_j / J_PER_EV
}

/// Converts electronvolts to joules.
pub fn ev_to_j(energy_ev: f64) -> f64 {
    energy_ev * J_PER_EV
}
