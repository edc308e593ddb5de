//! Nonlinear transformation strain (paper section 5, Fig. 6; docs/model.md §3): a ribbon bent
//! on a mandrel to surface strain eps_c for t_c, released, and its stress-free curvature read at
//! t_obs after release. Each STZ size m is a unit with the sinh rate law
//!   d eps_m / dt = (c_m sigma*_m / (E0 tau_m)) sinh((sigma - (E0 / c_m) eps_m) / sigma*_m),
//!   sigma*_m = 2 sqrt(3) k T / (gamma_T Omega_m),
//! in every layer of the ribbon. During the constraint each layer's total strain is fixed; after
//! release the surface strain e(t) is whatever makes the bending moment zero. gamma_T is then fitted
//! back from (eps_c, e(t_obs)) with the linear spectrum (tau_m, c_m) held at its measured values.

use rand::Rng;

use super::{Outcome, StudyError};
use crate::analysis::fit::least_squares;
use crate::constants::BOLTZMANN_J_PER_K;
use crate::files::{fields, Table};
use crate::scenario::{BendingParams, Protocol, Scenario, Truth};
use crate::stz::{Material, StzLevel};

/// The units of one size, as the bending model needs them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BendingUnit {
    /// Linear relaxation time, s.
    pub tau_s: f64,
    /// Volume fraction c_m (strain per unit stress: c_m / E0).
    pub c: f64,
    /// sigma*_m / E0 (dimensionless; the stress scale of the sinh over the modulus).
    pub s_star: f64,
}

/// The bending model's units from a hierarchy's levels: sigma*_m / E0 with the material's gamma_T.
pub fn units_of(levels: &[StzLevel], material: &Material, t_k: f64) -> Vec<BendingUnit> {
    let e0 = material.e0_pa(t_k);
    levels
        .iter()
        .map(|l| BendingUnit {
            tau_s: l.tau_s,
            c: l.c,
            s_star: 2.0 * 3f64.sqrt() * BOLTZMANN_J_PER_K * t_k
                / (material.gamma_t() * l.omega_m3)
                / e0,
        })
        .collect()
}

/// Rate of unit `u` at stress `s` (over E0) and strain `e`: value and derivative in `e` at fixed s,
/// and in s at fixed e.
fn rate(u: &BendingUnit, s: f64, e: f64) -> (f64, f64) {
    let x = (s - e / u.c) / u.s_star;
    let pre = u.c * u.s_star / u.tau_s;
    // d/dx of pre sinh(x) is pre cosh(x); dx/ds = 1/s_star.
    (pre * x.sinh(), pre * x.cosh() / u.s_star)
}

/// One backward-Euler step of a layer held at total strain `total` (over the ribbon's surface
/// units, dimensionless): solves eps = eps_old + h rate(total - sum eps, eps) by Newton with the
/// Jacobian diagonal plus a rank-one term (Sherman-Morrison).
fn layer_step(units: &[BendingUnit], old: &[f64], total: f64, h: f64, eps: &mut [f64]) {
    let m = units.len();
    let mut f = vec![0.0; m];
    let mut d = vec![0.0; m];
    let mut w = vec![0.0; m];
    for _ in 0..60 {
        let s = total - eps.iter().sum::<f64>();
        let mut worst = 0.0f64;
        for k in 0..m {
            let (r, dr_ds) = rate(&units[k], s, eps[k]);
            f[k] = eps[k] - old[k] - h * r;
            // dF_k/deps_k = 1 + h dr_ds (1/c_k + 1) ... split: diagonal 1 + h dr_ds / c_k, and the
            // stress term: ds/deps_j = -1 for every j, so dF_k/deps_j += h dr_ds.
            d[k] = 1.0 + h * dr_ds / units[k].c;
            w[k] = h * dr_ds;
            worst = worst.max(f[k].abs() / (eps[k].abs() + old[k].abs() + 1e-300));
        }
        // J = diag(d) + w 1^T; J^-1 f = D^-1 f - D^-1 w (1^T D^-1 f) / (1 + 1^T D^-1 w).
        let sf: f64 = (0..m).map(|k| f[k] / d[k]).sum();
        let sw: f64 = (0..m).map(|k| w[k] / d[k]).sum();
        let g = sf / (1.0 + sw);
        let mut change = 0.0f64;
        for k in 0..m {
            let delta = (f[k] - w[k] * g) / d[k];
            eps[k] -= delta;
            change = change.max(delta.abs());
        }
        let scale = eps.iter().map(|e| e.abs()).fold(1e-300, f64::max);
        if change <= 1e-13 * scale || worst < 1e-14 {
            break;
        }
    }
}

/// Variable-step BDF2: writes the history term of y_{n+1} = base + h_eff f(y_{n+1}) into `base`
/// and returns h_eff; backward Euler on the first step (`h_prev` = 0).
fn bdf2(now: &[f64], before: &[f64], h: f64, h_prev: f64, base: &mut [f64]) -> f64 {
    if h_prev <= 0.0 {
        base.copy_from_slice(now);
        return h;
    }
    let w = h / h_prev;
    let d = 1.0 + 2.0 * w;
    for ((b, n), p) in base.iter_mut().zip(now).zip(before) {
        *b = ((1.0 + w).powi(2) * n - w * w * p) / d;
    }
    h * (1.0 + w) / d
}

/// Log-spaced step ends from `first` to `last` (inclusive) with `per_decade` per decade, after 0.
fn steps(first: f64, last: f64, per_decade: usize) -> Vec<f64> {
    let decades = (last / first).log10().max(0.0);
    let n = (decades * per_decade as f64).ceil() as usize + 1;
    (0..n)
        .map(|k| {
            if k + 1 == n {
                last
            } else {
                first * 10f64.powf(k as f64 / per_decade as f64)
            }
        })
        .collect()
}

/// What one bending experiment gives.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BendResult {
    /// Surface strain just after release (the curvature left at t = 0+).
    pub anelastic_at_release: f64,
    /// Surface strain at `observe_s` after release.
    pub anelastic_observed: f64,
}

impl BendResult {
    /// The apparent elastic strain at the end of the constraint: eps_c minus the strain left at
    /// release.
    pub fn elastic(&self, eps_c: f64) -> f64 {
        eps_c - self.anelastic_at_release
    }
}

/// Bends to surface strain `eps_c` for `t_c_s`, releases, and reads the surface strain after
/// `observe_s`. Layers at the midpoints of `layers` slices of the half thickness (the ribbon is
/// antisymmetric about its mid-plane).
pub fn bend(
    units: &[BendingUnit],
    eps_c: f64,
    t_c_s: f64,
    observe_s: f64,
    layers: usize,
    per_decade: usize,
) -> BendResult {
    let m = units.len();
    let zeta: Vec<f64> = (0..layers)
        .map(|l| (l as f64 + 0.5) / layers as f64)
        .collect();
    let z2: f64 = zeta.iter().map(|z| z * z).sum();
    let mut eps = vec![vec![0.0; m]; layers];
    let mut next = vec![0.0; m];
    // The fastest rate a unit can have: linear rate times the sinh gain at the surface stress.
    let fastest = units
        .iter()
        .map(|u| {
            let x = (eps_c / u.s_star).min(700.0);
            let gain = if x > 1e-8 { x.sinh() / x } else { 1.0 };
            u.tau_s / gain
        })
        .fold(f64::INFINITY, f64::min);
    let first = 1e-3 * fastest;
    let surface = |eps: &[Vec<f64>]| -> f64 {
        eps.iter()
            .zip(&zeta)
            .map(|(e, z)| e.iter().sum::<f64>() * z)
            .sum::<f64>()
            / z2
    };
    // Constraint: each layer at total strain eps_c zeta.
    let mut prev = eps.clone();
    let mut base = vec![0.0; m];
    let (mut t_prev, mut h_prev) = (0.0, 0.0);
    for &t in &steps(first.min(t_c_s), t_c_s, per_decade) {
        let h = t - t_prev;
        for (l, z) in zeta.iter().enumerate() {
            let h_eff = bdf2(&eps[l], &prev[l], h, h_prev, &mut base);
            next.copy_from_slice(&eps[l]);
            layer_step(units, &base, eps_c * z, h_eff, &mut next);
            prev[l].copy_from_slice(&eps[l]);
            eps[l].copy_from_slice(&next);
        }
        (t_prev, h_prev) = (t, h);
    }
    let at_release = surface(&eps);
    // After release: e solves e = sum_l A_l(e) zeta_l / Z, A_l the layer's strain after a step
    // with total strain e zeta_l; secant iteration on e from its previous value. The step history
    // restarts at the release (the stress jumps).
    let mut e = at_release;
    let (mut t_prev, mut h_prev) = (0.0, 0.0);
    let mut trial = eps.clone();
    let mut bases = eps.clone();
    prev.clone_from(&eps);
    for &t in &steps(first.min(observe_s), observe_s, per_decade) {
        let h = t - t_prev;
        let mut h_eff = h;
        for l in 0..layers {
            h_eff = bdf2(&eps[l], &prev[l], h, h_prev, &mut bases[l]);
        }
        let residual = |e: f64, trial: &mut Vec<Vec<f64>>| -> f64 {
            for (l, z) in zeta.iter().enumerate() {
                trial[l].copy_from_slice(&eps[l]);
                layer_step(units, &bases[l], e * z, h_eff, &mut trial[l]);
            }
            e - surface(trial)
        };
        let (mut e0, mut g0) = (e, residual(e, &mut trial));
        let mut e1 = e0 - g0; // g has slope near 1 in e
        for _ in 0..50 {
            let g1 = residual(e1, &mut trial);
            if g1 == 0.0 || (e1 - e0).abs() <= 1e-15 * e1.abs().max(1e-300) {
                break;
            }
            let e2 = e1 - g1 * (e1 - e0) / (g1 - g0);
            (e0, g0) = (e1, g1);
            e1 = e2;
        }
        residual(e1, &mut trial);
        prev.clone_from(&eps);
        eps.clone_from(&trial);
        e = e1;
        (t_prev, h_prev) = (t, h);
    }
    BendResult {
        anelastic_at_release: at_release,
        anelastic_observed: e,
    }
}

pub(super) fn run<R: Rng + ?Sized>(
    scenario: &Scenario,
    p: &BendingParams,
    rng: &mut R,
    keep_tables: bool,
) -> Result<Outcome, StudyError> {
    let Protocol::Mandrel {
        temperature_k,
        t_c_s,
        ..
    } = scenario.protocol
    else {
        return Err(StudyError::Protocol("mandrel"));
    };
    let (Some(Truth::Hierarchy(h)), Some(material)) = (&scenario.truth, &scenario.material) else {
        return Err(StudyError::Input("needs a hierarchy and a material".into()));
    };
    let levels = h.levels(material, temperature_k);
    let truth_units = units_of(&levels, material, temperature_k);
    let run_all = |units: &[BendingUnit]| -> Vec<BendResult> {
        p.strains
            .iter()
            .map(|&e| bend(units, e, t_c_s, p.observe_s, p.layers, p.steps_per_decade))
            .collect()
    };
    let clean = run_all(&truth_units);
    let y_clean: Vec<f64> = clean.iter().map(|r| r.anelastic_observed).collect();
    let noisy = scenario.noise.apply(&p.strains, &y_clean, rng);
    let y = noisy.y;
    // The fit: tau_m and c_m as measured in the linear range; Omega_m from tau_m through Eq. 9 with
    // the trial gamma_T (dF depends on gamma_T^2 Omega), so only the sinh's scale changes freely.
    let taus: Vec<f64> = levels.iter().map(|l| l.tau_s).collect();
    let model_units = |gamma: f64| -> Option<Vec<BendingUnit>> {
        let mut params = material.params();
        params.gamma_t = gamma;
        let m = Material::new(params).ok()?;
        let omegas: Option<Vec<f64>> = taus
            .iter()
            .map(|&t| m.omega_from_tau(t, temperature_k))
            .collect();
        let trial: Vec<StzLevel> = levels
            .iter()
            .zip(omegas?)
            .map(|(l, omega_m3)| StzLevel { omega_m3, ..*l })
            .collect();
        Some(units_of(&trial, &m, temperature_k))
    };
    let start = 0.2;
    // Relative residuals: the scatter is proportional to the strain.
    let fit = least_squares(
        |g| match (g[0] > 0.01 && g[0] < 2.0)
            .then(|| model_units(g[0]))
            .flatten()
        {
            Some(units) => run_all(&units)
                .iter()
                .zip(&y)
                .map(|(r, y)| r.anelastic_observed / y - 1.0)
                .collect(),
            None => vec![f64::NAN; y.len()],
        },
        &[start],
    );
    let gamma_true = material.gamma_t();
    let mut out = Outcome::default();
    out.push("gamma_t_true", gamma_true);
    out.push("gamma_t_fitted", fit.params[0]);
    out.push("gamma_t_stderr", fit.stderr[0]);
    out.push("gamma_t_relative_error", fit.params[0] / gamma_true - 1.0);
    out.push("fit_rms_relative", fit.rms());
    // Nonlinearity: the observed strain per unit constraining strain at the largest strain over
    // that at the smallest (1 in the linear range).
    let ratio = |k: usize| y_clean[k] / p.strains[k];
    out.push("linearity_ratio", ratio(p.strains.len() - 1) / ratio(0));
    out.push("t_c_s", t_c_s);
    out.push("observe_s", p.observe_s);
    if keep_tables {
        let fitted = model_units(fit.params[0]).map(|u| run_all(&u));
        let mut t = Table::new(&[
            "constraining_strain",
            "elastic_strain",
            "anelastic_strain_clean",
            "anelastic_strain",
            "anelastic_strain_fit",
            "linear_extrapolation",
        ]);
        for (k, &e) in p.strains.iter().enumerate() {
            t.push(fields![
                e,
                clean[k].elastic(e),
                y_clean[k],
                y[k],
                fitted.as_ref().map(|f| f[k].anelastic_observed),
                ratio(0) * e
            ]);
        }
        out.tables.push(("strain".into(), t));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::mandrel::constrained_state;
    use crate::spectrum::VoigtUnits;

    #[test]
    fn small_strains_reproduce_the_linear_mandrel_solution() {
        let units = [
            BendingUnit {
                tau_s: 1.0,
                c: 0.01,
                s_star: 0.01,
            },
            BendingUnit {
                tau_s: 1e3,
                c: 0.02,
                s_star: 0.005,
            },
            BendingUnit {
                tau_s: 1e5,
                c: 0.04,
                s_star: 0.002,
            },
        ];
        let eps_c = 1e-9; // sigma / sigma* ~ 1e-6: linear
        let (t_c, t_obs) = (3e4, 2e3);
        let r = bend(&units, eps_c, t_c, t_obs, 8, 60);
        let voigt = VoigtUnits {
            tau_s: units.iter().map(|u| u.tau_s).collect(),
            c: units.iter().map(|u| u.c).collect(),
        };
        let eps = constrained_state(&voigt, t_c, None).unwrap();
        let at_release: f64 = eps.iter().sum();
        let observed: f64 = eps
            .iter()
            .zip(&voigt.tau_s)
            .map(|(e, tau)| e * (-t_obs / tau).exp())
            .sum();
        assert!(
            (r.anelastic_at_release / eps_c / at_release - 1.0).abs() < 1e-3,
            "{} vs {at_release}",
            r.anelastic_at_release / eps_c
        );
        assert!(
            (r.anelastic_observed / eps_c / observed - 1.0).abs() < 1e-3,
            "{} vs {observed}",
            r.anelastic_observed / eps_c
        );
    }

    #[test]
    fn large_strains_relax_sublinearly_at_long_times() {
        // A single slow unit: the sinh speeds the constraint phase up (more strain stored per unit
        // constraining strain) - the Fig. 6 deviation from linearity is a change of slope.
        let units = [BendingUnit {
            tau_s: 1e6,
            c: 0.05,
            s_star: 0.002,
        }];
        let small = bend(&units, 1e-5, 1e5, 1e4, 8, 30);
        let large = bend(&units, 1e-2, 1e5, 1e4, 8, 30);
        let (a, b) = (
            small.anelastic_observed / 1e-5,
            large.anelastic_observed / 1e-2,
        );
        assert!((a / b - 1.0).abs() > 0.05, "{a} {b}: no nonlinearity");
    }
}
