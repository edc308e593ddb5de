//! Mandrel experiment: constrain at fixed total strain for t_c, release, watch the recovery
//! (docs/model.md §2, paper sections 3 and 4).
//!
//! # Formula
//! With the total strain held at eps_tot = 1 (strains normalized), the Voigt units are coupled through
//! the elastic strain eps_e = 1 - sum eps_m:
//!
//!   d eps / dt = D^-1 (c (1 - 1^T eps) - eps),  D = diag(tau).
//!
//! Substituting z_m = eps_m / q_m with q_m = sqrt(c_m / tau_m) makes the system symmetric:
//! dz/dt = -(Lambda + q q^T) z + q with Lambda = diag(1 / tau). Its eigenvalues are the roots of the
//! secular equation 1 + sum_j q_j^2 / (1/tau_j - lambda) = 0 (one between each pair of neighbouring
//! 1/tau and one above the largest), found with high relative accuracy by solving for the offset from
//! the nearest pole; the eigenvectors are q_j / (1/tau_j - lambda). Units with equal tau are merged
//! (their common mode couples, their differences decay alone), so the solution is exact for any
//! spectrum and any coupling strength.
//!
//! After release the stress is zero and each unit decays alone:
//! y(t) = eps_an(t) / eps_e0 = sum_m a_m exp(-t / tau_m), a_m = eps_m(t_c) / eps_e0,
//! eps_e0 = 1 - sum eps_m(t_c).

use serde::{Deserialize, Serialize};

use crate::spectrum::VoigtUnits;

/// How the constraint phase is modelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Coupling {
    /// The exact coupled linear system.
    #[default]
    Coupled,
    /// Each unit relaxes alone toward c_m: a_m = c_m (1 - exp(-t_c / tau_m)).
    Uncoupled,
}

/// Amplitudes of the recovery, normalized by the elastic strain at release.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recovery {
    /// a_m for each unit, in the order of the units.
    pub amplitudes: Vec<f64>,
    /// Elastic strain at release over the total constraining strain, eps_e0 / eps_tot (coupled model
    /// only: the uncoupled approximation does not define it).
    pub elastic_fraction: Option<f64>,
}

/// Why a constraint phase could not be solved.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MandrelError {
    /// The prior state has the wrong length.
    #[error("prior state has {got} values for {expected} units")]
    PriorLength {
        /// Number of units.
        expected: usize,
        /// Number of prior values.
        got: usize,
    },
    /// A unit with c = 0 cannot carry a prior strain in the coupled model.
    #[error("unit {index} has c = 0 but a prior strain {value}")]
    PriorOnEmptyUnit {
        /// Unit index.
        index: usize,
        /// Its prior strain.
        value: f64,
    },
    /// t_c not finite and >= 0.
    #[error("constraint time {0} s must be finite and >= 0")]
    ConstraintTime(f64),
}

/// Unit strains eps_m(t_c), normalized by the total constraining strain, after holding the total
/// strain fixed for `t_c_s` starting from `prior` (all zero when `None`). Exact (see module docs).
///
/// # Errors
/// [`MandrelError`] for a bad prior state or constraint time.
pub fn constrained_state(
    units: &VoigtUnits,
    t_c_s: f64,
    prior: Option<&[f64]>,
) -> Result<Vec<f64>, MandrelError> {
    if !(t_c_s.is_finite() && t_c_s >= 0.0) {
        return Err(MandrelError::ConstraintTime(t_c_s));
    }
    let n = units.len();
    let zeros = vec![0.0; n];
    let eps0 = prior.unwrap_or(&zeros);
    if eps0.len() != n {
        return Err(MandrelError::PriorLength {
            expected: n,
            got: eps0.len(),
        });
    }
    let mut out = vec![0.0; n];
    for (index, (&c, &e)) in units.c.iter().zip(eps0).enumerate() {
        if c == 0.0 && e != 0.0 {
            return Err(MandrelError::PriorOnEmptyUnit { index, value: e });
        }
    }

    // Groups of equal tau, ordered by rate d = 1/tau ascending.
    let mut order: Vec<usize> = (0..n).filter(|&i| units.c[i] > 0.0).collect();
    if order.is_empty() {
        return Ok(out);
    }
    order.sort_by(|&a, &b| units.tau_s[b].total_cmp(&units.tau_s[a]));
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for &i in &order {
        match groups.last_mut() {
            Some(g) if (units.tau_s[i] / units.tau_s[g[0]] - 1.0).abs() <= 1e-12 => g.push(i),
            _ => groups.push(vec![i]),
        }
    }
    let tau_g: Vec<f64> = groups.iter().map(|g| units.tau_s[g[0]]).collect();
    let c_g: Vec<f64> = groups
        .iter()
        .map(|g| g.iter().map(|&i| units.c[i]).sum())
        .collect();
    let d: Vec<f64> = tau_g.iter().map(|t| 1.0 / t).collect();
    let q2: Vec<f64> = c_g.iter().zip(&d).map(|(c, d)| c * d).collect();
    let q: Vec<f64> = q2.iter().map(|v| v.sqrt()).collect();
    let total_c: f64 = c_g.iter().sum();

    // z = eps / q; equilibrium z* = q tau / (1 + sum c); start z0 from the prior group sums.
    let eps0_g: Vec<f64> = groups
        .iter()
        .map(|g| g.iter().map(|&i| eps0[i]).sum())
        .collect();
    let z_star: Vec<f64> = q
        .iter()
        .zip(&tau_g)
        .map(|(q, t)| q * t / (1.0 + total_c))
        .collect();
    let diff: Vec<f64> = (0..groups.len())
        .map(|j| eps0_g[j] / q[j] - z_star[j])
        .collect();

    let mut z = z_star.clone();
    let mut w = vec![0.0; groups.len()];
    for k in 0..groups.len() {
        let (origin, mu) = secular_root(&d, &q2, k);
        let lambda = d[origin] + mu;
        let decay = (-lambda * t_c_s).exp();
        if decay == 0.0 {
            continue;
        }
        let (mut norm2, mut proj) = (0.0, 0.0);
        for j in 0..groups.len() {
            w[j] = q[j] / ((d[j] - d[origin]) - mu);
            norm2 += w[j] * w[j];
            proj += w[j] * diff[j];
        }
        let coef = proj / norm2 * decay;
        for j in 0..groups.len() {
            z[j] += coef * w[j];
        }
    }

    for (j, g) in groups.iter().enumerate() {
        let eps_g = q[j] * z[j];
        for &i in g {
            let share = units.c[i] / c_g[j];
            let alone = (eps0[i] - share * eps0_g[j]) * (-t_c_s / units.tau_s[i]).exp();
            out[i] = share * eps_g + alone;
        }
    }
    Ok(out)
}

/// Root k (0-based, ascending) of 1 + sum_j q2_j / (d_j - lambda) = 0 for ascending distinct d,
/// returned as (origin, mu) with lambda = d[origin] + mu, so that d_j - lambda = (d_j - d_origin) - mu
/// keeps full relative accuracy however close lambda lies to a pole.
fn secular_root(d: &[f64], q2: &[f64], k: usize) -> (usize, f64) {
    let g = d.len();
    let secular = |origin: usize, mu: f64| {
        let (mut value, mut slope) = (1.0, 0.0);
        for j in 0..g {
            let delta = (d[j] - d[origin]) - mu;
            let term = q2[j] / delta;
            value += term;
            slope += term / delta;
        }
        (value, slope)
    };
    // Pick the pole the root lies nearer to; `sign` is the sign of mu and `span` bounds |mu|.
    let (origin, sign, span) = if k + 1 < g {
        let half_gap = 0.5 * (d[k + 1] - d[k]);
        if secular(k, half_gap).0 >= 0.0 {
            (k, 1.0, half_gap)
        } else {
            (k + 1, -1.0, half_gap)
        }
    } else {
        (k, 1.0, q2.iter().sum::<f64>())
    };
    // h(a) = sign * F(sign * a) rises from -inf at the pole (a -> 0+) to >= 0 at a = span, and
    // h = -q_o^2 / a + (smooth). Newton runs on g(a) = a h(a), which has no pole (g(0) = -q_o^2),
    // safeguarded by the bracket [lo, hi] with g(lo) < 0 <= g(hi).
    let g = |a: f64| {
        let (v, slope) = secular(origin, sign * a);
        let h = sign * v;
        (a * h, h + a * slope)
    };
    let (mut lo, mut hi) = (0.0_f64, span);
    let mut x = 0.5 * span;
    for _ in 0..200 {
        let (gx, dgx) = g(x);
        if gx == 0.0 {
            break;
        }
        if gx < 0.0 {
            lo = x;
        } else {
            hi = x;
        }
        let newton = x - gx / dgx;
        let next = if newton > lo && newton < hi {
            newton
        } else {
            let floor = lo.max(hi * 1e-200);
            if hi > 4.0 * floor {
                (floor * hi).sqrt()
            } else {
                0.5 * (lo + hi)
            }
        };
        let converged =
            (next - x).abs() <= 4.0 * f64::EPSILON * x || hi - lo <= 2.0 * f64::EPSILON * hi;
        x = next;
        if converged {
            break;
        }
    }
    (origin, sign * x)
}

/// Recovery amplitudes after constraining for `t_c_s` from the unstrained state.
///
/// With [`Coupling::Coupled`] this is exact; a_m -> c_m when t_c >> tau_m whatever the coupling,
/// and falls short of c_m when tau_m is comparable to t_c (the paper's m = 8 underestimate).
///
/// # Errors
/// [`MandrelError::ConstraintTime`] for a bad `t_c_s`.
pub fn recovery_amplitudes(
    units: &VoigtUnits,
    t_c_s: f64,
    coupling: Coupling,
) -> Result<Recovery, MandrelError> {
    match coupling {
        Coupling::Coupled => {
            let eps = constrained_state(units, t_c_s, None)?;
            let elastic_fraction = 1.0 - eps.iter().sum::<f64>();
            Ok(Recovery {
                amplitudes: eps.iter().map(|e| e / elastic_fraction).collect(),
                elastic_fraction: Some(elastic_fraction),
            })
        }
        Coupling::Uncoupled => {
            if !(t_c_s.is_finite() && t_c_s >= 0.0) {
                return Err(MandrelError::ConstraintTime(t_c_s));
            }
            Ok(Recovery {
                amplitudes: units
                    .tau_s
                    .iter()
                    .zip(&units.c)
                    .map(|(&tau, &c)| -c * (-t_c_s / tau).exp_m1())
                    .collect(),
                elastic_fraction: None,
            })
        }
    }
}

/// Normalized recovery y(t) = sum_m a_m exp(-t / tau_m) at each time after release.
pub fn recovery_curve(tau_s: &[f64], amplitudes: &[f64], times_s: &[f64]) -> Vec<f64> {
    times_s
        .iter()
        .map(|&t| {
            tau_s
                .iter()
                .zip(amplitudes)
                .map(|(&tau, &a)| a * (-t / tau).exp())
                .sum()
        })
        .collect()
}
