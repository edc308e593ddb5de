use serde::Serialize;
use statrs::function::gamma::gamma_lr;

use super::{check, StzError};

/// Free-volume model of the size distribution c_n (paper section 4; Atzmon and Ju, PRE 90, 042313).
///
/// # Formula
/// The free volume held by an n-atom cluster is Poisson distributed with mean n * v_mean (in units
/// of the free-volume quantum); the cluster can shear-transform when it holds more than
/// v*(n) = v1 n^p, so c_n = scale * P(X > v*(n)), X ~ Poisson(n v_mean).
///
/// P(X > v) = P(floor(v) + 1, n v_mean) (regularized lower incomplete gamma) at integer v; stzlab uses
/// P(v + 1, n v_mean), which equals it at integer v* and is continuous in between, so that c_n does
/// not jump when v1 n^p crosses an integer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FreeVolumeModel {
    /// Threshold prefactor v1, free-volume quanta.
    pub v1: f64,
    /// Threshold exponent p (0.22 fitted in the paper's ref. 27).
    pub p: f64,
    /// Mean free volume per atom, quanta.
    pub mean_free_volume: f64,
    /// Proportionality constant between the probability and c_n.
    pub scale: f64,
}

impl FreeVolumeModel {
    /// Validates v1 > 0, p finite, mean > 0, scale > 0.
    ///
    /// # Errors
    /// [`StzError::OutOfRange`] naming the parameter.
    pub fn new(v1: f64, p: f64, mean_free_volume: f64, scale: f64) -> Result<Self, StzError> {
        check("free_volume.v1", v1, v1 > 0.0, "must be > 0")?;
        check("free_volume.p", p, true, "must be finite")?;
        check(
            "free_volume.mean_free_volume",
            mean_free_volume,
            mean_free_volume > 0.0,
            "must be > 0",
        )?;
        check("free_volume.scale", scale, scale > 0.0, "must be > 0")?;
        Ok(Self {
            v1,
            p,
            mean_free_volume,
            scale,
        })
    }

    /// Threshold free volume v*(n) = v1 n^p.
    pub fn threshold(&self, n: u32) -> f64 {
        self.v1 * f64::from(n).powf(self.p)
    }

    /// Probability that an n-atom cluster holds more than v*(n).
    pub fn probability(&self, n: u32) -> f64 {
        gamma_lr(
            self.threshold(n) + 1.0,
            f64::from(n) * self.mean_free_volume,
        )
    }

    /// c_n for each size.
    pub fn c(&self, sizes: &[u32]) -> Vec<f64> {
        sizes
            .iter()
            .map(|&n| self.scale * self.probability(n))
            .collect()
    }
}
