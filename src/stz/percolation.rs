use serde::Serialize;

use super::StzLevel;

/// STZ percolation numbers (paper section 12) for a hierarchy at an observation time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percolation {
    /// Observation time, s.
    pub observation_time_s: f64,
    /// Largest size n0 whose tau_n is below the observation time (none when no size is active).
    pub n0: Option<u32>,
    /// sum of c_n over n <= n0.
    pub active_sum_c: f64,
    /// Rigid volume fraction exp(-sum_{n <= n0} c_n).
    pub rigid_fraction: f64,
    /// Volume fraction occupied by active potential STZs, 1 - rigid fraction.
    pub active_fraction: f64,
}

/// Percolation numbers of `levels` (one hierarchy at one temperature) observed for `observation_time_s`.
///
/// Overlapping potential STZs are counted multiple times, so sum c_n > 1 is allowed (paper section 12).
pub fn percolation(levels: &[StzLevel], observation_time_s: f64) -> Percolation {
    let n0 = levels
        .iter()
        .filter(|l| l.tau_s < observation_time_s)
        .map(|l| l.n)
        .max();
    let active_sum_c: f64 = match n0 {
        Some(n0) => levels.iter().filter(|l| l.n <= n0).map(|l| l.c).sum(),
        None => 0.0,
    };
    let rigid_fraction = (-active_sum_c).exp();
    Percolation {
        observation_time_s,
        n0,
        active_sum_c,
        rigid_fraction,
        active_fraction: -(-active_sum_c).exp_m1(),
    }
}
