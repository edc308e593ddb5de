use serde::Serialize;

use super::{check, Material, StzError};
use crate::spectrum::{Peak, Spectrum};

/// Volume of an n-atom STZ: one regime Omega_n = n V_a, or two (paper Fig. 17):
/// Omega_n = n V_a1 for n <= n_b and Omega_{n_b} + (n - n_b) V_a2 above.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "regime", rename_all = "kebab-case")]
pub enum AtomicVolume {
    /// Omega_n = n V_a.
    Single {
        /// Atomic volume V_a, m^3.
        v_a_m3: f64,
    },
    /// Two slopes meeting at n_b.
    TwoRegime {
        /// Atomic volume below and at the break, m^3.
        v_a1_m3: f64,
        /// Break size n_b, atoms.
        n_break: u32,
        /// Atomic volume above the break, m^3.
        v_a2_m3: f64,
    },
}

impl AtomicVolume {
    /// Validates that every volume is finite and > 0.
    ///
    /// # Errors
    /// [`StzError::OutOfRange`] for a non-positive volume.
    pub fn validated(self) -> Result<Self, StzError> {
        match self {
            Self::Single { v_a_m3 } => {
                check("atomic_volume_m3", v_a_m3, v_a_m3 > 0.0, "must be > 0")?;
            }
            Self::TwoRegime {
                v_a1_m3, v_a2_m3, ..
            } => {
                check("atomic_volume_m3", v_a1_m3, v_a1_m3 > 0.0, "must be > 0")?;
                check("atomic_volume2_m3", v_a2_m3, v_a2_m3 > 0.0, "must be > 0")?;
            }
        }
        Ok(self)
    }

    /// STZ volume Omega_n, m^3.
    pub fn omega_m3(&self, n: u32) -> f64 {
        let n = f64::from(n);
        match *self {
            Self::Single { v_a_m3 } => n * v_a_m3,
            Self::TwoRegime {
                v_a1_m3,
                n_break,
                v_a2_m3,
            } => {
                let nb = f64::from(n_break);
                if n <= nb {
                    n * v_a1_m3
                } else {
                    nb * v_a1_m3 + (n - nb) * v_a2_m3
                }
            }
        }
    }
}

/// One STZ size of a hierarchy evaluated at a temperature.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct StzLevel {
    /// Number of atoms n.
    pub n: u32,
    /// STZ volume Omega_n, m^3.
    pub omega_m3: f64,
    /// Activation free energy dF_n, J.
    pub df_j: f64,
    /// Relaxation time tau_n(T), s.
    pub tau_s: f64,
    /// Volume fraction of potential n-type STZs c_n.
    pub c: f64,
}

/// An atomically quantized STZ hierarchy: sizes n with volume fractions c_n, each peak broadened by
/// a Gaussian of standard deviation `width_ln_tau` in ln tau (0 for delta peaks).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hierarchy {
    sizes: Vec<u32>,
    c: Vec<f64>,
    volume: AtomicVolume,
    width_ln_tau: f64,
}

impl Hierarchy {
    /// Validates: at least one size, sizes strictly increasing and >= 1, one c_n >= 0 per size,
    /// width >= 0.
    ///
    /// # Errors
    /// [`StzError`] naming the offending field.
    pub fn new(
        sizes: Vec<u32>,
        c: Vec<f64>,
        volume: AtomicVolume,
        width_ln_tau: f64,
    ) -> Result<Self, StzError> {
        if sizes.is_empty() {
            return Err(StzError::Hierarchy {
                field: "n",
                message: "the list of STZ sizes is empty".into(),
            });
        }
        if sizes[0] == 0 || sizes.windows(2).any(|w| w[1] <= w[0]) {
            return Err(StzError::Hierarchy {
                field: "n",
                message: format!("sizes must be >= 1 and strictly increasing, got {sizes:?}"),
            });
        }
        if c.len() != sizes.len() {
            return Err(StzError::Hierarchy {
                field: "c",
                message: format!("{} values for {} sizes", c.len(), sizes.len()),
            });
        }
        for &ci in &c {
            check("c", ci, ci >= 0.0, "volume fractions must be >= 0")?;
        }
        check("width", width_ln_tau, width_ln_tau >= 0.0, "must be >= 0")?;
        Ok(Self {
            sizes,
            c,
            volume: volume.validated()?,
            width_ln_tau,
        })
    }

    /// The sizes n.
    pub fn sizes(&self) -> &[u32] {
        &self.sizes
    }

    /// The volume fractions c_n.
    pub fn c(&self) -> &[f64] {
        &self.c
    }

    /// The size-to-volume rule.
    pub fn volume(&self) -> AtomicVolume {
        self.volume
    }

    /// Gaussian width of each peak in ln tau.
    pub fn width_ln_tau(&self) -> f64 {
        self.width_ln_tau
    }

    /// Every size evaluated at `t_k` (paper Eqs. 2 and 9).
    pub fn levels(&self, material: &Material, t_k: f64) -> Vec<StzLevel> {
        self.sizes
            .iter()
            .zip(&self.c)
            .map(|(&n, &c)| {
                let omega_m3 = self.volume.omega_m3(n);
                StzLevel {
                    n,
                    omega_m3,
                    df_j: material.delta_f_j(omega_m3, t_k),
                    tau_s: material.tau_s(omega_m3, t_k),
                    c,
                }
            })
            .collect()
    }

    /// The spectrum on ln tau at `t_k`: f(ln tau) = sum_n c_n g(ln tau - ln tau_n) (docs/model.md §1).
    pub fn spectrum(&self, material: &Material, t_k: f64) -> Spectrum {
        let peaks = self
            .sizes
            .iter()
            .zip(&self.c)
            .map(|(&n, &c)| Peak {
                ln_tau: material.ln_tau(self.volume.omega_m3(n), t_k),
                area: c,
                width_ln_tau: self.width_ln_tau,
                shape: crate::spectrum::Shape::LogNormal,
            })
            .collect();
        Spectrum::new(peaks).expect("validated hierarchy gives a valid spectrum")
    }
}
