//! Measurement noise models; every realization is a pure function of its seed.
//!
//! The generator is xoshiro256++ seeded through SplitMix64 (`rand::rngs::Xoshiro256PlusPlus`), a
//! fixed, documented algorithm, so published numbers stay reproducible across platforms.

use rand::rngs::Xoshiro256PlusPlus;
use rand::{Rng, RngExt, SeedableRng};
use rand_distr::StandardNormal;
use serde::Serialize;

/// Why a noise model was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field} = {value}: {requirement}")]
pub struct NoiseError {
    /// Parameter name.
    pub field: &'static str,
    /// Rejected value.
    pub value: f64,
    /// What it must satisfy.
    pub requirement: &'static str,
}

/// Additive noise: white (absolute and relative), linear drift and AR(1)-correlated, in the units of
/// the data (normalized strain, or Pa for loss moduli).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct NoiseModel {
    /// Standard deviation of white noise, data units.
    pub sigma: f64,
    /// Standard deviation of white noise relative to |y| at each point.
    pub relative: f64,
    /// Linear drift added as drift_per_s * t, data units per second (time-domain data only).
    pub drift_per_s: f64,
    /// Marginal standard deviation of AR(1) noise, data units.
    pub ar1_sigma: f64,
    /// Lag-one correlation of the AR(1) noise between consecutive points, in [0, 1).
    pub ar1_rho: f64,
    /// What the data's sigma column states.
    pub report: SigmaReport,
}

/// What the sigma column of noisy data states (and so what the inversion is told).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SigmaReport {
    /// The standard deviation of the whole random part (white and AR(1)).
    #[default]
    Total,
    /// Only the white part, as real data often do when their noise is correlated or drifts.
    White,
    /// No sigma: the inversion estimates the noise level.
    None,
}

/// The realized noise for one series.
#[derive(Debug, Clone, PartialEq)]
pub struct NoisySeries {
    /// Data with noise.
    pub y: Vec<f64>,
    /// Standard deviation of the random part at each point, sqrt(sigma^2 + (relative y)^2 + ar1_sigma^2)
    /// (the white part alone when the model reports only that); drift is systematic and not
    /// included.
    pub sigma: Vec<f64>,
}

impl NoiseModel {
    /// Validates every parameter finite, standard deviations >= 0 and 0 <= rho < 1.
    ///
    /// # Errors
    /// [`NoiseError`] naming the parameter.
    pub fn new(
        sigma: f64,
        relative: f64,
        drift_per_s: f64,
        ar1_sigma: f64,
        ar1_rho: f64,
    ) -> Result<Self, NoiseError> {
        let check = |field, value: f64, ok: bool, requirement| {
            if value.is_finite() && ok {
                Ok(())
            } else {
                Err(NoiseError {
                    field,
                    value,
                    requirement,
                })
            }
        };
        check("sigma", sigma, sigma >= 0.0, "must be >= 0")?;
        check("relative", relative, relative >= 0.0, "must be >= 0")?;
        check("drift_per_s", drift_per_s, true, "must be finite")?;
        check("ar1_sigma", ar1_sigma, ar1_sigma >= 0.0, "must be >= 0")?;
        check(
            "ar1_rho",
            ar1_rho,
            (0.0..1.0).contains(&ar1_rho),
            "must lie in [0, 1)",
        )?;
        Ok(Self {
            sigma,
            relative,
            drift_per_s,
            ar1_sigma,
            ar1_rho,
            report: SigmaReport::Total,
        })
    }

    /// The model with the sigma column stating `report`.
    pub fn reporting(self, report: SigmaReport) -> Self {
        Self { report, ..self }
    }

    /// True when noisy data carry a sigma column: a random part, reported.
    pub fn reports_sigma(&self) -> bool {
        self.is_random() && self.report != SigmaReport::None
    }

    /// True when the model adds nothing.
    pub fn is_zero(&self) -> bool {
        self.sigma == 0.0
            && self.relative == 0.0
            && self.drift_per_s == 0.0
            && self.ar1_sigma == 0.0
    }

    /// True when the model has a random part (and so a standard deviation to report).
    pub fn is_random(&self) -> bool {
        self.sigma > 0.0 || self.relative > 0.0 || self.ar1_sigma > 0.0
    }

    /// Adds one realization to `y_clean` sampled at `x` (times in s for the drift), drawing from `rng`.
    pub fn apply<R: Rng + ?Sized>(&self, x: &[f64], y_clean: &[f64], rng: &mut R) -> NoisySeries {
        let innovation = (1.0 - self.ar1_rho * self.ar1_rho).sqrt();
        let mut ar = 0.0;
        let mut y = Vec::with_capacity(y_clean.len());
        let mut sigma = Vec::with_capacity(y_clean.len());
        for (i, (&xi, &yi)) in x.iter().zip(y_clean).enumerate() {
            let white_sd = self.sigma.hypot(self.relative * yi.abs());
            let white: f64 = rng.sample::<f64, _>(StandardNormal) * white_sd;
            let xi_ar: f64 = rng.sample(StandardNormal);
            ar = if i == 0 {
                self.ar1_sigma * xi_ar
            } else {
                self.ar1_rho * ar + innovation * self.ar1_sigma * xi_ar
            };
            y.push(yi + white + ar + self.drift_per_s * xi);
            sigma.push(match self.report {
                SigmaReport::White => white_sd,
                SigmaReport::Total | SigmaReport::None => white_sd.hypot(self.ar1_sigma),
            });
        }
        NoisySeries { y, sigma }
    }
}

/// The generator for a seed: xoshiro256++ through SplitMix64.
pub fn rng_from_seed(seed: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(seed)
}

/// SplitMix64's output function.
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
