use serde::Serialize;

use super::{check, StzError};
use crate::constants::BOLTZMANN_J_PER_K;

/// Shear modulus that softens linearly above the glass transition:
/// mu(T) = mu(T_g) + dmu_dT (T - T_g) for T > T_g, constant below (docs/model.md §1).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GlassTransition {
    /// Glass-transition temperature, K.
    pub t_g_k: f64,
    /// Slope of the shear modulus above T_g, Pa/K (negative for softening).
    pub dmu_dt_pa_per_k: f64,
}

/// Material parameters as given, before validation. All SI.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MaterialParams {
    /// Shear modulus at and below T_g, Pa.
    pub mu_pa: f64,
    /// Poisson's ratio.
    pub nu: f64,
    /// Unconstrained transformation shear strain gamma_T.
    pub gamma_t: f64,
    /// Dilatation factor beta (paper's bar beta).
    pub beta: f64,
    /// STZ shear resistance over shear modulus, s = sigma_STZ / mu.
    pub sigma_stz_over_mu: f64,
    /// Attempt frequency nu_G, Hz.
    pub nu_g_hz: f64,
    /// Optional linear softening above T_g.
    pub glass_transition: Option<GlassTransition>,
}

impl Default for MaterialParams {
    /// docs/model.md §1 check material (Al86.8Ni3.7Y9.5).
    fn default() -> Self {
        Self {
            mu_pa: 19.2e9,
            nu: 0.324,
            gamma_t: 0.2,
            beta: 1.0,
            sigma_stz_over_mu: 0.025,
            nu_g_hz: 1e13,
            glass_transition: None,
        }
    }
}

/// The Zr-based glass of the zr-dma scenario (mu 34 GPa, nu 0.35, T_g 625 K, mu falling 0.08 GPa/K
/// above it), shared by the unit tests of the volume kernels and the grouping study.
#[cfg(test)]
pub(crate) fn zr_test_material() -> Material {
    Material::new(MaterialParams {
        mu_pa: 34e9,
        nu: 0.35,
        gamma_t: 0.2,
        glass_transition: Some(GlassTransition {
            t_g_k: 625.0,
            dmu_dt_pa_per_k: -0.08e9,
        }),
        ..MaterialParams::default()
    })
    .expect("a valid material")
}

/// A validated glass in Argon's STZ model.
///
/// # Formula
/// - constrained strain gamma_c = 2 (4 - 5 nu) / (15 (1 - nu)) gamma_T (paper Eq. 1)
/// - activation free energy (paper Eq. 2)
///   dF = [((7 - 5 nu)/(30 (1 - nu)) + 2 (1 + nu)/(9 (1 - nu)) beta^2) gamma_T + s/2] mu gamma_T Omega
/// - relaxation time (paper Eq. 9) tau = 3 k T / (E0 nu_G gamma_c gamma_T Omega) exp(dF / k T),
///   E0 = 2 mu (1 + nu), with mu = mu(T).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Material {
    mu_pa: f64,
    nu: f64,
    gamma_t: f64,
    beta: f64,
    sigma_stz_over_mu: f64,
    nu_g_hz: f64,
    glass_transition: Option<GlassTransition>,
}

impl Material {
    /// Validates the parameters: mu > 0, 0 < nu < 0.5, gamma_T > 0, beta >= 0, s >= 0, nu_G > 0,
    /// T_g > 0; everything finite.
    ///
    /// # Errors
    /// [`StzError::OutOfRange`] naming the first offending parameter.
    pub fn new(p: MaterialParams) -> Result<Self, StzError> {
        check("mu", p.mu_pa, p.mu_pa > 0.0, "must be > 0")?;
        check("nu", p.nu, p.nu > 0.0 && p.nu < 0.5, "must lie in (0, 0.5)")?;
        check("gamma_t", p.gamma_t, p.gamma_t > 0.0, "must be > 0")?;
        check("beta", p.beta, p.beta >= 0.0, "must be >= 0")?;
        check(
            "sigma_stz_over_mu",
            p.sigma_stz_over_mu,
            p.sigma_stz_over_mu >= 0.0,
            "must be >= 0",
        )?;
        check("nu_g_hz", p.nu_g_hz, p.nu_g_hz > 0.0, "must be > 0")?;
        if let Some(g) = p.glass_transition {
            check("t_g_k", g.t_g_k, g.t_g_k > 0.0, "must be > 0")?;
            check("dmu_dt", g.dmu_dt_pa_per_k, true, "must be finite")?;
        }
        Ok(Self {
            mu_pa: p.mu_pa,
            nu: p.nu,
            gamma_t: p.gamma_t,
            beta: p.beta,
            sigma_stz_over_mu: p.sigma_stz_over_mu,
            nu_g_hz: p.nu_g_hz,
            glass_transition: p.glass_transition,
        })
    }

    /// The parameters this material was built from.
    pub fn params(&self) -> MaterialParams {
        MaterialParams {
            mu_pa: self.mu_pa,
            nu: self.nu,
            gamma_t: self.gamma_t,
            beta: self.beta,
            sigma_stz_over_mu: self.sigma_stz_over_mu,
            nu_g_hz: self.nu_g_hz,
            glass_transition: self.glass_transition,
        }
    }

    /// Poisson's ratio.
    pub fn nu(&self) -> f64 {
        self.nu
    }

    /// Unconstrained transformation strain gamma_T.
    pub fn gamma_t(&self) -> f64 {
        self.gamma_t
    }

    /// Shear modulus at temperature `t_k`, Pa: constant below T_g, linear above.
    pub fn mu_pa(&self, t_k: f64) -> f64 {
        match self.glass_transition {
            Some(g) if t_k > g.t_g_k => self.mu_pa + g.dmu_dt_pa_per_k * (t_k - g.t_g_k),
            _ => self.mu_pa,
        }
    }

    /// Checks that `t_k` is a usable temperature: finite, > 0, and mu(T) > 0.
    ///
    /// # Errors
    /// [`StzError::OutOfRange`] for the temperature.
    pub fn check_temperature(&self, t_k: f64) -> Result<f64, StzError> {
        check("temperature_k", t_k, t_k > 0.0, "must be > 0")?;
        check(
            "temperature_k",
            t_k,
            self.mu_pa(t_k) > 0.0,
            "the shear modulus mu(T) extrapolated above T_g must stay > 0",
        )
    }

    /// High-frequency Young's modulus E0 = 2 mu(T) (1 + nu), Pa.
    pub fn e0_pa(&self, t_k: f64) -> f64 {
        2.0 * self.mu_pa(t_k) * (1.0 + self.nu)
    }

    /// Constrained transformation strain gamma_c = 2 (4 - 5 nu) / (15 (1 - nu)) gamma_T (paper, after Eq. 1).
    pub fn gamma_c(&self) -> f64 {
        2.0 * (4.0 - 5.0 * self.nu) / (15.0 * (1.0 - self.nu)) * self.gamma_t
    }

    /// The bracket of paper Eq. 2, so that dF = bracket * mu * gamma_T * Omega.
    fn df_bracket(&self) -> f64 {
        let nu = self.nu;
        ((7.0 - 5.0 * nu) / (30.0 * (1.0 - nu))
            + 2.0 * (1.0 + nu) / (9.0 * (1.0 - nu)) * self.beta * self.beta)
            * self.gamma_t
            + 0.5 * self.sigma_stz_over_mu
    }

    /// Activation free energy dF of an STZ of volume `omega_m3` at `t_k`, J (paper Eq. 2).
    pub fn delta_f_j(&self, omega_m3: f64, t_k: f64) -> f64 {
        self.df_bracket() * self.mu_pa(t_k) * self.gamma_t * omega_m3
    }

    /// Relaxation time tau of an STZ of volume `omega_m3` at `t_k`, s (paper Eq. 9).
    pub fn tau_s(&self, omega_m3: f64, t_k: f64) -> f64 {
        self.ln_tau(omega_m3, t_k).exp()
    }

    /// ln of [`Material::tau_s`], computed without overflow for very slow STZs.
    pub fn ln_tau(&self, omega_m3: f64, t_k: f64) -> f64 {
        let kt = BOLTZMANN_J_PER_K * t_k;
        let prefactor = 3.0 * kt / (self.e0_pa(t_k) * self.nu_g_hz * self.gamma_c() * self.gamma_t);
        (prefactor / omega_m3).ln() + self.delta_f_j(omega_m3, t_k) / kt
    }

    /// Inverts paper Eq. 9: the STZ volume whose relaxation time at `t_k` is `tau_s`, m^3.
    ///
    /// ln tau = ln(A / Omega) + B Omega has its minimum at Omega = 1/B; the physical branch is
    /// Omega > 1/B (dF >> kT). Returns `None` when `tau_s` lies below that minimum.
    pub fn omega_from_tau(&self, tau_s: f64, t_k: f64) -> Option<f64> {
        if !(tau_s > 0.0 && tau_s.is_finite()) {
            return None;
        }
        let kt = BOLTZMANN_J_PER_K * t_k;
        let b = self.delta_f_j(1.0, t_k) / kt;
        let target = tau_s.ln();
        let g = |omega: f64| self.ln_tau(omega, t_k) - target;
        let mut lo = 1.0 / b;
        if g(lo) > 0.0 {
            return None;
        }
        let mut hi = 2.0 * lo;
        while g(hi) < 0.0 {
            hi *= 2.0;
        }
        // Newton on the convex branch, safeguarded by the bracket.
        let mut x = 0.5 * (lo + hi);
        for _ in 0..200 {
            let gx = g(x);
            if gx < 0.0 {
                lo = x;
            } else {
                hi = x;
            }
            let slope = b - 1.0 / x;
            let mut next = x - gx / slope;
            if !(next > lo && next < hi) {
                next = 0.5 * (lo + hi);
            }
            if (next - x).abs() <= 4.0 * f64::EPSILON * x {
                return Some(next);
            }
            x = next;
        }
        Some(x)
    }
}
