//! Closed-form relaxation functions and their exact densities per unit ln tau (docs/model.md
//! section 7): the truths on which an inversion can be judged exactly.
//!
//! Every density g(u) is for u = ln(tau / tau0) and has unit area (the shifted stretched exponent
//! excepted: its area is exp(-(t0/tau0)^beta)); a peak of area `c` carries c g(u).

use serde::{Deserialize, Serialize};
use statrs::function::gamma::ln_gamma;
use std::f64::consts::PI;

/// The shape of a spectrum peak.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "shape", rename_all = "kebab-case")]
pub enum Shape {
    /// A Gaussian in ln tau of the peak's width (a log-normal in tau); a delta for width 0.
    #[default]
    LogNormal,
    /// The stretched exponential exp(-((t + t0)/tau0)^beta) (Kohlrausch-Williams-Watts; t0 = 0 is
    /// plain KWW, t0 > 0 the paper's section 7 shifted form); beta = 1 is a delta at tau0
    /// (times exp(-t0/tau0)).
    Kww {
        /// Stretching exponent, 0 < beta <= 1.
        beta: f64,
        /// Time shift t0 >= 0, s.
        t0_s: f64,
    },
    /// Cole-Cole: 1 / (1 + (i w tau0)^alpha), 0 < alpha < 1 (alpha = 1 is Debye).
    ColeCole {
        /// Broadening exponent.
        alpha: f64,
    },
    /// Davidson-Cole: 1 / (1 + i w tau0)^gamma, 0 < gamma < 1; no weight above tau0.
    DavidsonCole {
        /// Asymmetry exponent.
        gamma: f64,
    },
    /// Havriliak-Negami: 1 / (1 + (i w tau0)^alpha)^gamma, 0 < alpha < 1, 0 < gamma <= 1.
    HavriliakNegami {
        /// Broadening exponent.
        alpha: f64,
        /// Asymmetry exponent.
        gamma: f64,
    },
}

/// Why a shape was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field} = {value}: {requirement}")]
pub struct ShapeError {
    /// The parameter.
    pub field: &'static str,
    /// Its value.
    pub value: f64,
    /// What it must satisfy.
    pub requirement: &'static str,
}

/// Davidson-Cole: the span in ln tau below the singularity at tau0 integrated in the variable
/// that removes it...
const GRADED_SPAN_LN_TAU: f64 = 1.0;
/// ... on this many cells.
const GRADED_CELLS: usize = 40;
/// Densities below this fraction of their largest value are not discretized.
const TAIL_FRACTION: f64 = 1e-12;
/// Closed-form shapes are discretized over at most this far from tau0 in ln tau (30 decades).
const MAX_HALF_SPAN_LN_TAU: f64 = 69.1;
/// Quadrature step in ln tau for shapes of ordinary breadth (the trapezoid rule on an analytic
/// density is accurate to far below 1e-8 at this step); narrower shapes use a proportionally
/// smaller one.
const BASE_STEP_LN_TAU: f64 = 0.05;

impl Shape {
    /// Validates the parameters.
    ///
    /// # Errors
    /// [`ShapeError`] naming the parameter and its domain.
    pub fn check(&self) -> Result<(), ShapeError> {
        let need = |field, value: f64, ok: bool, requirement| {
            if value.is_finite() && ok {
                Ok(())
            } else {
                Err(ShapeError {
                    field,
                    value,
                    requirement,
                })
            }
        };
        match *self {
            Self::LogNormal => Ok(()),
            Self::Kww { beta, t0_s } => {
                need(
                    "beta",
                    beta,
                    beta > 0.0 && beta <= 1.0,
                    "must lie in (0, 1]",
                )?;
                need("t0_s", t0_s, t0_s >= 0.0, "must be >= 0")
            }
            Self::ColeCole { alpha } => need(
                "alpha",
                alpha,
                alpha > 0.0 && alpha < 1.0,
                "must lie in (0, 1)",
            ),
            Self::DavidsonCole { gamma } => need(
                "gamma",
                gamma,
                gamma > 0.0 && gamma < 1.0,
                "must lie in (0, 1)",
            ),
            Self::HavriliakNegami { alpha, gamma } => {
                need(
                    "alpha",
                    alpha,
                    alpha > 0.0 && alpha < 1.0,
                    "must lie in (0, 1)",
                )?;
                need(
                    "gamma",
                    gamma,
                    gamma > 0.0 && gamma <= 1.0,
                    "must lie in (0, 1]",
                )
            }
        }
    }

    /// Whether the shape is a closed-form relaxation function (not a log-normal or delta).
    pub fn is_closed_form(&self) -> bool {
        !matches!(self, Self::LogNormal)
    }

    /// Whether the shape is concentrated at tau0 (KWW with beta = 1).
    pub fn is_delta(&self) -> bool {
        matches!(self, Self::Kww { beta, .. } if *beta == 1.0)
    }

    /// The density per unit ln tau at u = ln(tau / tau0), tau0 in s (tau0 enters only through the
    /// shift t0 of the stretched exponent). Zero for the log-normal and the delta, which are not
    /// densities here.
    pub fn density(&self, tau0_s: f64, u: f64) -> f64 {
        match *self {
            Self::LogNormal => 0.0,
            Self::Kww { beta, t0_s } => {
                if beta == 1.0 {
                    return 0.0;
                }
                let g = kww_density(beta, u);
                if t0_s > 0.0 {
                    g * (-t0_s / (tau0_s * u.exp())).exp()
                } else {
                    g
                }
            }
            Self::ColeCole { alpha } => {
                sin_pi(alpha) / (2.0 * PI * ((alpha * u).cosh() + cos_pi(alpha)))
            }
            Self::DavidsonCole { gamma } => {
                if u >= 0.0 {
                    0.0
                } else {
                    // (y / (1 - y))^gamma with y = e^u, as exp(gamma (u - ln(1 - e^u))).
                    sin_pi(gamma) / PI * (gamma * (u - (-u.exp_m1()).ln())).exp()
                }
            }
            Self::HavriliakNegami { alpha, gamma } => hn_density(alpha, gamma, u),
        }
    }

    /// The area of the closed form: 1, or exp(-(t0/tau0)^beta) for the shifted stretched exponent.
    pub fn area(&self, tau0_s: f64) -> f64 {
        match *self {
            Self::Kww { beta, t0_s } => (-(t0_s / tau0_s).powf(beta)).exp(),
            _ => 1.0,
        }
    }

    /// Relaxation units (tau in s, weights summing to about the shape's area) that represent the
    /// density of a peak of area 1 at tau0: the trapezoid rule on a uniform grid in ln tau for the
    /// analytic densities; for the Davidson-Cole density, whose integrable singularity at tau0
    /// defeats the trapezoid rule, two-point Gauss cells after a change of variable that removes
    /// the singularity.
    pub fn units(&self, tau0_s: f64) -> (Vec<f64>, Vec<f64>) {
        if self.is_delta() {
            return (vec![tau0_s], vec![self.area(tau0_s)]);
        }
        let h = self.step();
        let (lo, hi) = self.support(tau0_s, h);
        let count = ((hi - lo) / h).round() as usize;
        let mut taus = Vec::with_capacity(count + 1);
        let mut weights = Vec::with_capacity(count + 1);
        match *self {
            Self::DavidsonCole { gamma } => {
                // Below -GRADED_SPAN: two-point Gauss-Legendre per cell of width h (the density is
                // smooth there). Above it, u = -v^p with p = 1 / (1 - gamma) turns g(u) du, which
                // grows as |u|^-gamma toward the singularity at u = 0, into a smooth integrand in
                // v on [0, GRADED_SPAN^(1/p)], integrated the same way on GRADED_CELLS cells.
                let node = 0.5 / 3f64.sqrt();
                let graded_from = (GRADED_SPAN_LN_TAU / h).round() as usize;
                for k in (graded_from + 1..=count).rev() {
                    let mid = -(k as f64 - 0.5) * h;
                    for u in [mid - node * h, mid + node * h] {
                        taus.push(tau0_s * u.exp());
                        weights.push(0.5 * h * self.density(tau0_s, u));
                    }
                }
                let p = 1.0 / (1.0 - gamma);
                let v_max = (graded_from as f64 * h).powf(1.0 / p);
                let dv = v_max / GRADED_CELLS as f64;
                for k in (0..GRADED_CELLS).rev() {
                    let mid = (k as f64 + 0.5) * dv;
                    for v in [mid + node * dv, mid - node * dv] {
                        let u = -v.powf(p);
                        taus.push(tau0_s * u.exp());
                        weights.push(0.5 * dv * self.density(tau0_s, u) * p * v.powf(p - 1.0));
                    }
                }
            }
            _ => {
                for k in 0..=count {
                    let u = lo + k as f64 * h;
                    let g = self.density(tau0_s, u);
                    if g > 0.0 {
                        taus.push(tau0_s * u.exp());
                        weights.push(h * g);
                    }
                }
            }
        }
        (taus, weights)
    }

    /// The quadrature step in ln tau: smaller for narrow shapes (exponents near 1).
    fn step(&self) -> f64 {
        let p = match *self {
            Self::Kww { beta, .. } => beta,
            Self::ColeCole { alpha } | Self::HavriliakNegami { alpha, .. } => alpha,
            _ => 0.0,
        };
        BASE_STEP_LN_TAU * (5.0 * (1.0 - p)).clamp(0.1, 1.0)
    }

    /// The range of u carrying the density: out from the mode until the density falls below
    /// `TAIL_FRACTION` of its largest value, at most `MAX_HALF_SPAN_LN_TAU` from tau0.
    fn support(&self, tau0_s: f64, h: f64) -> (f64, f64) {
        if let Self::DavidsonCole { .. } = self {
            return (-MAX_HALF_SPAN_LN_TAU.min(40.0), 0.0);
        }
        let mut peak = 0.0f64;
        let mut u = -MAX_HALF_SPAN_LN_TAU;
        while u <= MAX_HALF_SPAN_LN_TAU {
            peak = peak.max(self.density(tau0_s, u));
            u += 0.25;
        }
        let floor = TAIL_FRACTION * peak;
        let edge = |direction: f64| {
            let mut u = 0.0f64;
            let mut last_above = 0.0;
            while u.abs() <= MAX_HALF_SPAN_LN_TAU {
                if self.density(tau0_s, u) > floor {
                    last_above = u;
                }
                u += direction * 0.25;
            }
            last_above + direction * 0.25
        };
        let (lo, hi) = (
            edge(-1.0).max(-MAX_HALF_SPAN_LN_TAU),
            edge(1.0).min(MAX_HALF_SPAN_LN_TAU),
        );
        // Snap to the step so the grid includes u = 0.
        ((lo / h).floor() * h, (hi / h).ceil() * h)
    }
}

fn sin_pi(x: f64) -> f64 {
    (PI * x).sin()
}

fn cos_pi(x: f64) -> f64 {
    (PI * x).cos()
}

/// Havriliak-Negami density: (1/pi) y^(a g) sin(g theta) / (y^(2a) + 2 y^a cos(pi a) + 1)^(g/2),
/// y = e^u, theta = atan2(sin(pi a), y^a + cos(pi a)) in (0, pi).
fn hn_density(alpha: f64, gamma: f64, u: f64) -> f64 {
    let ya = (alpha * u).exp();
    let theta = sin_pi(alpha).atan2(ya + cos_pi(alpha));
    // The denominator as |1 + y^a e^{i pi a}|^g, in logs to stay finite at large |u|.
    let ln_modulus = 0.5 * (ya * ya + 2.0 * ya * cos_pi(alpha) + 1.0).ln();
    let ln_value = alpha * gamma * u - gamma * ln_modulus;
    (gamma * theta).sin() * ln_value.exp() / PI
}

/// The KWW density per unit ln tau at u = ln(tau / tau_K), 0 < beta < 1:
/// exp(-(t/tau_K)^beta) = integral of g(u) exp(-t / tau) du.
///
/// With s = e^(beta u): for s <= 1 the convergent series (Lindsey and Patterson, J. Chem. Phys. 73,
/// 3348 (1980)) g = -(1/pi) sum_k (-1)^k / k! Gamma(beta k + 1) sin(pi beta k) s^k; for s > 1 the
/// integral representation of the one-sided stable density (Zolotarev 1986; Kanter 1975)
/// g = beta / ((1 - beta) pi) z int_0^pi A(phi) exp(-z A(phi)) dphi, z = s^(1 / (1 - beta)),
/// A(phi) = (sin(beta phi) / sin phi)^(1 / (1 - beta)) sin((1 - beta) phi) / sin(beta phi).
pub fn kww_density(beta: f64, u: f64) -> f64 {
    let s = (beta * u).exp();
    if s <= 1.0 {
        kww_series(beta, s)
    } else {
        kww_integral(beta, s)
    }
}

/// The series form of [`kww_density`] (converges for every s; used for s <= 1).
pub fn kww_series(beta: f64, s: f64) -> f64 {
    let ln_s = s.ln();
    let mut sum = 0.0;
    for k in 1..400 {
        let kf = k as f64;
        let sine = sin_pi(beta * kf);
        let magnitude = (ln_gamma(beta * kf + 1.0) - ln_gamma(kf + 1.0) + kf * ln_s).exp();
        let term = if k % 2 == 0 { -1.0 } else { 1.0 } * sine * magnitude;
        sum += term;
        if magnitude < 1e-18 * sum.abs() && k > 4 {
            break;
        }
    }
    sum / PI
}

/// The integral form of [`kww_density`] (used for s > 1).
pub fn kww_integral(beta: f64, s: f64) -> f64 {
    let z = s.powf(1.0 / (1.0 - beta));
    let a = |phi: f64| -> f64 {
        if phi <= 0.0 {
            // The limit phi -> 0: beta^(1/(1-beta)) (1 - beta) / beta.
            return beta.powf(1.0 / (1.0 - beta)) * (1.0 - beta) / beta;
        }
        let ratio = (beta * phi).sin() / phi.sin();
        ratio.powf(1.0 / (1.0 - beta)) * ((1.0 - beta) * phi).sin() / (beta * phi).sin()
    };
    let f = |phi: f64| -> f64 {
        let v = a(phi);
        let e = z * v;
        if !e.is_finite() || e > 745.0 {
            0.0
        } else {
            v * (-e).exp()
        }
    };
    if z * a(0.0) > 745.0 {
        return 0.0;
    }
    let integral = adaptive_gauss(&f, 0.0, PI, 1e-13, 30);
    beta / ((1.0 - beta) * PI) * z * integral
}

/// Gauss-Legendre nodes and weights on [-1, 1] (Newton iteration on the Legendre recurrence).
fn gauss_legendre(n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut nodes = vec![0.0; n];
    let mut weights = vec![0.0; n];
    for i in 0..n.div_ceil(2) {
        let mut x = (PI * (i as f64 + 0.75) / (n as f64 + 0.5)).cos();
        let mut derivative = 0.0;
        for _ in 0..100 {
            let (mut p0, mut p1) = (1.0, x);
            for k in 2..=n {
                let kf = k as f64;
                let p2 = ((2.0 * kf - 1.0) * x * p1 - (kf - 1.0) * p0) / kf;
                p0 = p1;
                p1 = p2;
            }
            derivative = n as f64 * (x * p1 - p0) / (x * x - 1.0);
            let dx = p1 / derivative;
            x -= dx;
            if dx.abs() < 1e-16 {
                break;
            }
        }
        let w = 2.0 / ((1.0 - x * x) * derivative * derivative);
        nodes[i] = -x;
        nodes[n - 1 - i] = x;
        weights[i] = w;
        weights[n - 1 - i] = w;
    }
    (nodes, weights)
}

/// Points of the Gauss-Legendre rule used by [`adaptive_gauss`].
const GAUSS_POINTS: usize = 20;

fn gauss_rule() -> &'static (Vec<f64>, Vec<f64>) {
    static RULE: std::sync::OnceLock<(Vec<f64>, Vec<f64>)> = std::sync::OnceLock::new();
    RULE.get_or_init(|| gauss_legendre(GAUSS_POINTS))
}

fn gauss_panel(f: &dyn Fn(f64) -> f64, a: f64, b: f64) -> f64 {
    let (nodes, weights) = gauss_rule();
    let (mid, half) = (0.5 * (a + b), 0.5 * (b - a));
    half * nodes
        .iter()
        .zip(weights)
        .map(|(x, w)| w * f(mid + half * x))
        .sum::<f64>()
}

/// Adaptive Gauss-Legendre quadrature: a panel is accepted when its 20-point value and the sum of
/// its halves' agree to `rel_tol` of the whole integral's magnitude (estimated on 8 panels first),
/// or at `depth` bisections.
fn adaptive_gauss(f: &dyn Fn(f64) -> f64, a: f64, b: f64, rel_tol: f64, depth: u32) -> f64 {
    let panels = 8;
    let width = (b - a) / panels as f64;
    let values: Vec<(f64, f64, f64)> = (0..panels)
        .map(|p| {
            let (x0, x1) = (a + p as f64 * width, a + (p + 1) as f64 * width);
            (x0, x1, gauss_panel(f, x0, x1))
        })
        .collect();
    let scale = values.iter().map(|v| v.2.abs()).sum::<f64>();
    if scale == 0.0 {
        return 0.0;
    }
    let tol = rel_tol * scale;
    values
        .into_iter()
        .map(|(x0, x1, whole)| refine(f, x0, x1, whole, tol, depth))
        .sum()
}

fn refine(f: &dyn Fn(f64) -> f64, a: f64, b: f64, whole: f64, tol: f64, depth: u32) -> f64 {
    let m = 0.5 * (a + b);
    let (left, right) = (gauss_panel(f, a, m), gauss_panel(f, m, b));
    if depth == 0 || (left + right - whole).abs() <= tol {
        return left + right;
    }
    refine(f, a, m, left, tol, depth - 1) + refine(f, m, b, right, tol, depth - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// beta = 1/2 has a closed form: g(u) = sqrt(z) exp(-z/4) / (2 sqrt(pi)), z = e^u.
    #[test]
    fn kww_half_matches_its_closed_form_on_both_branches() {
        for k in -200..=80 {
            let u = k as f64 * 0.1;
            let z = u.exp();
            let exact = z.sqrt() * (-z / 4.0).exp() / (2.0 * PI.sqrt());
            let g = kww_density(0.5, u);
            assert!(
                (g - exact).abs() <= 1e-10 * exact.max(1e-300) + 1e-300,
                "u = {u}: {g} vs {exact}"
            );
        }
    }

    #[test]
    fn kww_series_and_integral_agree_where_both_converge() {
        // The series alternates: beyond s = 1 its terms grow before they fall and cancel, the
        // more so the nearer beta is to 1, so the overlap is checked there for beta <= 0.7 only.
        for beta in [0.2, 0.3, 0.5, 0.7, 0.85, 0.95] {
            let overlap: &[f64] = if beta <= 0.7 {
                &[0.05, 0.3, 0.7, 1.0, 1.5, 2.5]
            } else {
                &[0.05, 0.3, 0.7, 1.0]
            };
            for &s in overlap {
                let (a, b) = (kww_series(beta, s), kww_integral(beta, s));
                assert!(
                    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()),
                    "beta {beta} s {s}: series {a} integral {b}"
                );
            }
        }
    }

    #[test]
    fn cole_cole_and_havriliak_negami_agree_at_gamma_one() {
        for u in [-20.0, -3.0, -0.5, 0.0, 0.7, 4.0, 25.0] {
            let cc = Shape::ColeCole { alpha: 0.6 }.density(1.0, u);
            let hn = Shape::HavriliakNegami {
                alpha: 0.6,
                gamma: 1.0,
            }
            .density(1.0, u);
            assert!((cc - hn).abs() <= 1e-12 * cc, "u = {u}: {cc} vs {hn}");
        }
    }

    #[test]
    fn every_shape_has_its_area() {
        for (shape, tau0) in [
            (
                Shape::Kww {
                    beta: 0.3,
                    t0_s: 0.0,
                },
                1.0,
            ),
            (
                Shape::Kww {
                    beta: 0.5,
                    t0_s: 0.0,
                },
                1.0,
            ),
            (
                Shape::Kww {
                    beta: 0.7,
                    t0_s: 0.0,
                },
                1.0,
            ),
            (
                Shape::Kww {
                    beta: 0.5,
                    t0_s: 3.0,
                },
                30.0,
            ),
            (Shape::ColeCole { alpha: 0.7 }, 1.0),
            (Shape::DavidsonCole { gamma: 0.4 }, 1.0),
            (
                Shape::HavriliakNegami {
                    alpha: 0.6,
                    gamma: 0.5,
                },
                1.0,
            ),
        ] {
            let (_, w) = shape.units(tau0);
            let total: f64 = w.iter().sum();
            // Power-law tails cut at 30 decades lose up to about 1e-6 of the area.
            assert!(
                (total / shape.area(tau0) - 1.0).abs() < 2e-6,
                "{shape:?}: {total} vs {}",
                shape.area(tau0)
            );
        }
    }

    #[test]
    fn bad_parameters_are_named() {
        let e = Shape::Kww {
            beta: 1.5,
            t0_s: 0.0,
        }
        .check()
        .unwrap_err();
        assert_eq!(e.to_string(), "beta = 1.5: must lie in (0, 1]");
        assert!(Shape::HavriliakNegami {
            alpha: 1.0,
            gamma: 0.5
        }
        .check()
        .is_err());
        assert!(Shape::DavidsonCole { gamma: 0.0 }.check().is_err());
        assert!(Shape::Kww {
            beta: 0.5,
            t0_s: -1.0
        }
        .check()
        .is_err());
        assert!(Shape::ColeCole { alpha: f64::NAN }.check().is_err());
    }
}
