//! The shifted stretched exponent of the paper's section 7 (Fig. 10).

/// x(t) = x0 exp(-((t + t0) / tau)^beta).
pub fn stretched_exponent(x0: f64, t0_s: f64, tau_s: f64, beta: f64, times_s: &[f64]) -> Vec<f64> {
    times_s
        .iter()
        .map(|&t| x0 * (-((t + t0_s) / tau_s).powf(beta)).exp())
        .collect()
}
