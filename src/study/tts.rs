//! Time-temperature superposition (paper section 6, Fig. 9): E''(w) of a hierarchy at several
//! temperatures, each curve shifted along ln w onto its neighbour nearer T_ref (so onto the T_ref
//! curve by a chain), an Arrhenius fit of the shifts giving one apparent activation energy, and
//! Debye and KWW fits of the master curve.

use rand::Rng;

use super::{Outcome, StudyError};
use crate::analysis::fit::{golden_section, least_squares, line};
use crate::constants::{BOLTZMANN_J_PER_K, J_PER_EV};
use crate::files::{fields, Table};
use crate::pipeline::simulate::simulate_clean;
use crate::scenario::{Protocol, Scenario, Truth};

/// One curve in log-log form, ascending in ln w.
#[derive(Debug, Clone)]
pub struct LogCurve {
    /// ln w.
    pub ln_w: Vec<f64>,
    /// ln E''.
    pub ln_e: Vec<f64>,
}

impl LogCurve {
    /// From positive data (non-positive values are dropped: they have no logarithm).
    pub fn new(omega: &[f64], e: &[f64]) -> Self {
        let (ln_w, ln_e) = omega
            .iter()
            .zip(e)
            .filter(|(w, e)| **w > 0.0 && **e > 0.0)
            .map(|(w, e)| (w.ln(), e.ln()))
            .unzip();
        Self { ln_w, ln_e }
    }

    /// Linear interpolation of ln E'' at `x` with its slope, None outside the curve.
    fn at(&self, x: f64) -> Option<(f64, f64)> {
        let n = self.ln_w.len();
        if n < 2 || x < self.ln_w[0] || x > self.ln_w[n - 1] {
            return None;
        }
        let k = self.ln_w.partition_point(|&v| v <= x).clamp(1, n - 1);
        let (x0, x1) = (self.ln_w[k - 1], self.ln_w[k]);
        let (y0, y1) = (self.ln_e[k - 1], self.ln_e[k]);
        let slope = (y1 - y0) / (x1 - x0);
        Some((y0 + slope * (x - x0), slope))
    }
}

/// A horizontal shift and its uncertainty.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shift {
    /// ln a: the curve's ln w + ln a lies on the target.
    pub ln_a: f64,
    /// Standard error of ln a: Gauss-Newton, from the scatter about the target over the overlap.
    pub stderr: f64,
    /// RMS mismatch in ln E'' over the overlap.
    pub rms: f64,
    /// Points in the overlap.
    pub overlap: usize,
}

/// Mean squared mismatch in ln E'' of `curve` moved by `s` against `target` over their overlap.
fn mismatch(curve: &LogCurve, target: &LogCurve, s: f64) -> (f64, usize) {
    let (mut sum, mut n) = (0.0, 0usize);
    for (x, y) in curve.ln_w.iter().zip(&curve.ln_e) {
        if let Some((t, _)) = target.at(x + s) {
            sum += (y - t).powi(2);
            n += 1;
        }
    }
    if n < 3 {
        (f64::INFINITY, n)
    } else {
        (sum / n as f64, n)
    }
}

/// The shift of `curve` along ln w that best lays it on `target` (at least 3 points of overlap):
/// a scan in steps of 0.02 over every shift that leaves 3 points in common, refined by golden
/// section.
pub fn best_shift(curve: &LogCurve, target: &LogCurve) -> Option<Shift> {
    let (c0, c1) = (*curve.ln_w.first()?, *curve.ln_w.last()?);
    let (t0, t1) = (*target.ln_w.first()?, *target.ln_w.last()?);
    let (lo, hi) = (t0 - c1, t1 - c0);
    let step = 0.02;
    let count = ((hi - lo) / step).ceil() as usize;
    let f = |s: f64| mismatch(curve, target, s).0;
    let (mut best_s, mut best) = (f64::NAN, f64::INFINITY);
    for k in 0..=count {
        let s = lo + k as f64 * step;
        let v = f(s);
        if v < best {
            best = v;
            best_s = s;
        }
    }
    if !best.is_finite() {
        return None;
    }
    // Golden section on [s - step, s + step].
    let (s, value) = golden_section(best_s - step, best_s + step, 60, f, |v| *v);
    let s = if value <= best { s } else { best_s };
    // Gauss-Newton error: var(s) = (sum r^2 / (n - 1)) / sum slope^2.
    let (mut rss, mut slopes, mut n) = (0.0, 0.0, 0usize);
    for (x, y) in curve.ln_w.iter().zip(&curve.ln_e) {
        if let Some((t, d)) = target.at(x + s) {
            rss += (y - t).powi(2);
            slopes += d * d;
            n += 1;
        }
    }
    Some(Shift {
        ln_a: s,
        stderr: if n > 1 && slopes > 0.0 {
            (rss / (n - 1) as f64 / slopes).sqrt()
        } else {
            f64::NAN
        },
        rms: (rss / n as f64).sqrt(),
        overlap: n,
    })
}

/// The normalized KWW loss chi''(u) = u integral_0^inf exp(-s^beta) cos(u s) ds (Debye u/(1+u^2)
/// at beta = 1), for 0 < beta < 1, by rotating the contour onto the negative imaginary axis:
/// chi''(u) = u Im integral_0^inf exp(-r^beta e^{-i pi beta/2} - u r) dr, evaluated with the
/// trapezoid rule in ln r (the integrand is smooth and decays doubly exponentially at both ends).
pub fn kww_loss(u: f64, beta: f64) -> f64 {
    let (sn, cs) = (std::f64::consts::FRAC_PI_2 * beta).sin_cos();
    // Upper end: where either damping term exceeds 60.
    let v_hi = (60.0 / u).ln().min((60.0 / cs).ln() / beta) + 0.5;
    let v_lo = v_hi - 60.0;
    let mut v = v_lo;
    let mut sum = 0.0;
    let mut prev: Option<(f64, f64)> = None;
    while v <= v_hi {
        let r = v.exp();
        let rb = (beta * v).exp();
        // exp(v - rb cs - u r) * sin(rb sn): the imaginary part of exp(v - rb (cs - i sn) - u r).
        let val = (v - rb * cs - u * r).exp() * (rb * sn).sin();
        if let Some((pv, pval)) = prev {
            sum += 0.5 * (val + pval) * (v - pv);
        }
        prev = Some((v, val));
        // Resolve the phase rb sn (rate beta rb sn per unit v) and the decay.
        let rate = (beta * rb * sn).max(beta * rb * cs + u * r).max(1.0);
        v += (0.05 / rate).min(0.02);
    }
    u * sum
}

/// Arguments of the KWW table: ln u from -30 to 30 in steps of 0.05.
const KWW_LN_U: (f64, f64, usize) = (-30.0, 0.05, 1201);

fn kww_table(beta: f64) -> Vec<f64> {
    (0..KWW_LN_U.2)
        .map(|k| {
            kww_loss((KWW_LN_U.0 + k as f64 * KWW_LN_U.1).exp(), beta)
                .max(1e-300)
                .ln()
        })
        .collect()
}

fn table_at(table: &[f64], ln_u: f64) -> f64 {
    let x = (ln_u - KWW_LN_U.0) / KWW_LN_U.1;
    if !(x >= 0.0 && x <= (KWW_LN_U.2 - 1) as f64) {
        return f64::NAN;
    }
    let k = (x.floor() as usize).min(KWW_LN_U.2 - 2);
    let f = x - k as f64;
    table[k] * (1.0 - f) + table[k + 1] * f
}

/// A master-curve model fit: parameters and RMS misfit in ln E''.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelFit {
    /// Amplitude, Pa (the peak of a Debye loss is A/2).
    pub amplitude_pa: f64,
    /// Time constant at T_ref, s.
    pub tau_s: f64,
    /// Stretching exponent (1 for Debye).
    pub beta: f64,
    /// RMS residual in ln E''.
    pub rms: f64,
}

fn fit_shape(ln_w: &[f64], ln_e: &[f64], table: Option<&[f64]>) -> ModelFit {
    // Start: peak position and height.
    let k = ln_e
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(k, _)| k);
    let start = [ln_e[k] + 2f64.ln(), -ln_w[k]];
    let model = |p: &[f64], x: f64| -> f64 {
        let ln_u = x + p[1];
        match table {
            None => p[0] + ln_u - (ln_u.exp().powi(2)).ln_1p(),
            Some(t) => p[0] + table_at(t, ln_u),
        }
    };
    let fit = least_squares(
        |p| {
            ln_w.iter()
                .zip(ln_e)
                .map(|(x, y)| model(p, *x) - y)
                .collect()
        },
        &start,
    );
    ModelFit {
        amplitude_pa: fit.params[0].exp(),
        tau_s: fit.params[1].exp(),
        beta: 1.0,
        rms: fit.rms(),
    }
}

/// KWW fit: golden section over beta in [0.1, 0.95], amplitude and tau by least squares at each.
fn fit_kww(ln_w: &[f64], ln_e: &[f64]) -> ModelFit {
    let at = |beta: f64| {
        let t = kww_table(beta);
        ModelFit {
            beta,
            ..fit_shape(ln_w, ln_e, Some(&t))
        }
    };
    golden_section(0.1, 0.95, 25, at, |m| m.rms).1
}

pub(super) fn run<R: Rng + ?Sized>(
    scenario: &Scenario,
    t_ref_k: f64,
    rng: &mut R,
    keep_tables: bool,
) -> Result<Outcome, StudyError> {
    let Protocol::Dma { ref omega, .. } = scenario.protocol else {
        return Err(StudyError::Protocol("dma"));
    };
    let sim = simulate_clean(scenario).map_err(|e| StudyError::Input(e.to_string()))?;
    let temps: Vec<f64> = sim.series.iter().filter_map(|s| s.temperature_k).collect();
    let mut curves = Vec::with_capacity(sim.series.len());
    let mut data = Vec::with_capacity(sim.series.len());
    for s in &sim.series {
        let noisy = scenario.noise.apply(&s.x, &s.y_clean, rng);
        curves.push(LogCurve::new(&s.x, &noisy.y));
        data.push(noisy.y);
    }
    let r = temps
        .iter()
        .position(|t| (t - t_ref_k).abs() < 1e-9)
        .ok_or_else(|| StudyError::Input(format!("{t_ref_k} K is not a protocol temperature")))?;
    // Chain outward from the reference: each curve onto its already-placed neighbour.
    let n = temps.len();
    let mut shifts: Vec<Option<Shift>> = vec![None; n];
    shifts[r] = Some(Shift {
        ln_a: 0.0,
        stderr: 0.0,
        rms: 0.0,
        overlap: curves[r].ln_w.len(),
    });
    let mut order: Vec<(usize, usize)> = (r + 1..n).map(|i| (i, i - 1)).collect();
    order.extend((0..r).rev().map(|i| (i, i + 1)));
    for (i, j) in order {
        let Some(base) = shifts[j] else { continue };
        let Some(s) = best_shift(&curves[i], &curves[j]) else {
            return Err(StudyError::Input(format!(
                "E'' at {} K and {} K share fewer than 3 points after any shift: widen protocol.omega or use smaller temperature steps",
                temps[i], temps[j]
            )));
        };
        shifts[i] = Some(Shift {
            ln_a: base.ln_a + s.ln_a,
            stderr: base.stderr.hypot(s.stderr),
            rms: s.rms,
            overlap: s.overlap,
        });
    }
    let shifts: Vec<Shift> = shifts.into_iter().map(|s| s.expect("chained")).collect();
    // Arrhenius: ln a = (E/k) (1/T - 1/T_ref).
    let x: Vec<f64> = temps.iter().map(|t| 1.0 / t - 1.0 / t_ref_k).collect();
    let y: Vec<f64> = shifts.iter().map(|s| s.ln_a).collect();
    let arr = line(&x, &y, &vec![1.0; n])
        .ok_or_else(|| StudyError::Input("an Arrhenius fit needs two temperatures".into()))?;
    let k_ev = BOLTZMANN_J_PER_K / J_PER_EV;
    // True dF range of the sizes (dF_n does not depend on T below T_g).
    let (df_min, df_max) = match (&scenario.truth, &scenario.material) {
        (Some(Truth::Hierarchy(h)), Some(m)) => {
            let dfs: Vec<f64> = h
                .levels(m, t_ref_k)
                .iter()
                .map(|l| l.df_j / J_PER_EV)
                .collect();
            (
                dfs.iter().copied().fold(f64::INFINITY, f64::min),
                dfs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            )
        }
        _ => (f64::NAN, f64::NAN),
    };
    // The master curve.
    let mut master: Vec<(f64, f64, f64)> = Vec::new();
    for (i, c) in curves.iter().enumerate() {
        for (lw, le) in c.ln_w.iter().zip(&c.ln_e) {
            master.push((lw + shifts[i].ln_a, *le, temps[i]));
        }
    }
    master.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mw: Vec<f64> = master.iter().map(|m| m.0).collect();
    let me: Vec<f64> = master.iter().map(|m| m.1).collect();
    let debye = fit_shape(&mw, &me, None);
    let kww = fit_kww(&mw, &me);

    let mut out = Outcome::default();
    out.push("apparent_activation_energy_ev", arr.slope * k_ev);
    out.push(
        "apparent_activation_energy_stderr_ev",
        arr.slope_stderr * k_ev,
    );
    out.push("true_df_min_ev", df_min);
    out.push("true_df_max_ev", df_max);
    out.push("t_ref_k", t_ref_k);
    out.push("t_min_k", temps[0]);
    out.push("t_max_k", temps[n - 1]);
    out.push("omega_min_rad_s", omega.first());
    out.push("omega_max_rad_s", omega.last());
    out.push(
        "max_shift_rms_ln",
        shifts.iter().map(|s| s.rms).fold(0.0, f64::max),
    );
    out.push("debye_tau_s", debye.tau_s);
    out.push("debye_amplitude_pa", debye.amplitude_pa);
    out.push("debye_rms_ln", debye.rms);
    out.push("kww_tau_s", kww.tau_s);
    out.push("kww_beta", kww.beta);
    out.push("kww_amplitude_pa", kww.amplitude_pa);
    out.push("kww_rms_ln", kww.rms);
    if keep_tables {
        let mut t = Table::new(&[
            "temperature_k",
            "ln_a",
            "ln_a_stderr",
            "rms_ln",
            "overlap_points",
        ]);
        for (tk, s) in temps.iter().zip(&shifts) {
            t.push(fields![*tk, s.ln_a, s.stderr, s.rms, s.overlap]);
        }
        out.tables.push(("shifts".into(), t));
        let mut c = Table::new(&["temperature_k", "omega_rad_s", "loss_modulus_pa"]);
        for (s, y) in sim.series.iter().zip(&data) {
            for (w, e) in s.x.iter().zip(y) {
                c.push(fields![s.temperature_k.unwrap_or_default(), *w, *e]);
            }
        }
        out.tables.push(("curves".into(), c));
        let mut m = Table::new(&[
            "temperature_k",
            "reduced_omega_rad_s",
            "loss_modulus_pa",
            "debye_pa",
            "kww_pa",
        ]);
        let table = kww_table(kww.beta);
        for (lw, le, tk) in &master {
            let u_d = lw + debye.tau_s.ln();
            let d = debye.amplitude_pa * u_d.exp() / (1.0 + (2.0 * u_d).exp());
            let k = kww.amplitude_pa * table_at(&table, lw + kww.tau_s.ln()).exp();
            m.push(fields![*tk, lw.exp(), le.exp(), d, k]);
        }
        out.tables.push(("master".into(), m));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kww_loss_tends_to_debye_and_matches_the_closed_form_at_one_half() {
        // beta -> 1 (0.999 within the contour's reach): Debye.
        for u in [0.01, 0.3, 1.0, 3.0, 100.0] {
            let d = u / (1.0 + u * u);
            let k = kww_loss(u, 0.999);
            assert!((k / d - 1.0).abs() < 5e-3, "u {u}: {k} vs {d}");
        }
        // beta = 1/2: integral_0^inf exp(-sqrt(s)) cos(u s) ds has a closed form via the
        // relaxation-time density of the beta = 1/2 KWW function,
        // rho(ln tau) = sqrt(tau / (4 pi)) exp(-tau / 4), chi'' = integral rho u tau / (1 + (u tau)^2).
        for u in [0.01, 0.1, 1.0, 10.0] {
            let mut sum = 0.0;
            let h = 1e-3;
            let mut x = -25.0;
            while x < 8.0 {
                let tau: f64 = f64::exp(x);
                let rho = (tau / (4.0 * std::f64::consts::PI)).sqrt() * (-tau / 4.0).exp();
                sum += rho * u * tau / (1.0 + (u * tau).powi(2)) * h;
                x += h;
            }
            let k = kww_loss(u, 0.5);
            assert!((k / sum - 1.0).abs() < 1e-4, "u {u}: {k} vs {sum}");
        }
    }

    #[test]
    fn a_shifted_copy_is_shifted_back() {
        let w: Vec<f64> = (0..50).map(|i| 10f64.powf(-2.0 + i as f64 * 0.1)).collect();
        let e = |w: f64| w / (1.0 + w * w);
        let target = LogCurve::new(&w, &w.iter().map(|&w| e(w)).collect::<Vec<_>>());
        // The curve 10x slower: E''_i(w) = E''_ref(w a) with a = 10.
        let curve = LogCurve::new(&w, &w.iter().map(|&w| e(10.0 * w)).collect::<Vec<_>>());
        let s = best_shift(&curve, &target).unwrap();
        assert!((s.ln_a - 10f64.ln()).abs() < 1e-3, "{}", s.ln_a);
        assert!(s.rms < 1e-2);
    }
}
