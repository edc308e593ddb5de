//! Temperature stepping (paper section 8, Fig. 11): constant stress, the temperature stepped
//! upward and held; the Argon-Kuo reading dF_i = -k d ln(rate) / d(1/T) from the creep rate just
//! before and just after each step, with the strain of the hold that follows step i assigned to
//! dF_i. From a monotonic assumed spectrum of dF it yields an apparent one.
//!
//! Beside it, the direct inversion (docs/model.md §8): the creep record of the same history,
//! sampled within every hold and with the scenario's noise, inverted for the spectrum of dF with the
//! scenario's inversion settings.

use rand::Rng;

use super::{fallback, Outcome, StudyError};
use crate::constants::BOLTZMANN_EV_PER_K as K_EV;
use crate::data::MeasuredSeries;
use crate::files::{fields, Table};
use crate::inversion::energy::{creep_table, ArrheniusLaw, EnergyGrid, TemperatureHistory};
use crate::inversion::Workspace;
use crate::pipeline::invert::energy::{invert_creep_history, EnergyInversion, EnergyOptions};
use crate::scenario::{DfShape, Scenario, SteppingParams};

/// Times of the creep record per hold, log-spaced from [`RECORD_FIRST`] of the hold after its
/// start to its end (21 holds: 2100 points).
const RECORD_POINTS_PER_HOLD: usize = 100;
/// First time of a hold's record, as a fraction of the hold after its start.
const RECORD_FIRST: f64 = 1e-3;
/// Points at which the inverted and assumed densities are compared over the resolved range.
const COMPARE_POINTS: usize = 200;

/// The reading at one temperature step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepReading {
    /// Temperature before the step, K.
    pub from_k: f64,
    /// Temperature after the step (of the hold that follows), K.
    pub to_k: f64,
    /// Creep rate just before the step, 1/s (strain units per s).
    pub rate_before: f64,
    /// Creep rate just after the step.
    pub rate_after: f64,
    /// Argon-Kuo activation energy k ln(rate_after / rate_before) / (1/T_before - 1/T_after), eV.
    pub df_ev: f64,
    /// Strain of the hold that follows the step.
    pub strain: f64,
}

/// Creep under constant stress of units with activation energies `df_ev` and strains `weights`
/// (tau = exp(dF / kT) / nu), held `hold_s` at each of `temperatures_k` in turn from t = 0.
/// Returns the strain at the end of each hold and the reading at each step.
pub fn argon_kuo(
    df_ev: &[f64],
    weights: &[f64],
    temperatures_k: &[f64],
    hold_s: f64,
    attempt_hz: f64,
) -> (Vec<f64>, Vec<StepReading>) {
    let rate_const = |df: f64, t: f64| attempt_hz * (-df / (K_EV * t)).exp();
    // theta_j: integral of dt / tau_j so far; a unit's strain is w (1 - exp(-theta)).
    let mut theta = vec![0.0; df_ev.len()];
    let strain = |theta: &[f64]| -> f64 {
        weights
            .iter()
            .zip(theta)
            .map(|(w, th)| -w * (-th).exp_m1())
            .sum()
    };
    let rate = |theta: &[f64], t: f64| -> f64 {
        df_ev
            .iter()
            .zip(weights)
            .zip(theta)
            .map(|((&df, &w), &th)| w * rate_const(df, t) * (-th).exp())
            .sum()
    };
    let mut ends = Vec::with_capacity(temperatures_k.len());
    let mut readings = Vec::new();
    for (i, &t) in temperatures_k.iter().enumerate() {
        if i > 0 {
            let before = temperatures_k[i - 1];
            let (rb, ra) = (rate(&theta, before), rate(&theta, t));
            readings.push(StepReading {
                from_k: before,
                to_k: t,
                rate_before: rb,
                rate_after: ra,
                df_ev: K_EV * (ra / rb).ln() / (1.0 / before - 1.0 / t),
                strain: 0.0,
            });
        }
        for (th, &df) in theta.iter_mut().zip(df_ev) {
            *th += hold_s * rate_const(df, t);
        }
        ends.push(strain(&theta));
        if i > 0 {
            let r = readings.len() - 1;
            readings[r].strain = ends[i] - ends[i - 1];
        }
    }
    (ends, readings)
}

/// The assumed spectrum: dF grid (eV) and strain per grid point (trapezoid weights of the density).
pub fn assumed_spectrum(p: &SteppingParams) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let n = p.df_points;
    let step = (p.df_max_ev - p.df_min_ev) / (n - 1) as f64;
    let df: Vec<f64> = (0..n).map(|j| p.df_min_ev + j as f64 * step).collect();
    let shape: Vec<f64> = (0..n)
        .map(|j| {
            let f = j as f64 / (n - 1) as f64;
            match p.shape {
                DfShape::Rising => f,
                DfShape::Falling => 1.0 - f,
                DfShape::Flat => 1.0,
            }
        })
        .collect();
    let trapezoid: Vec<f64> = (0..n)
        .map(|j| if j == 0 || j == n - 1 { 0.5 } else { 1.0 } * step)
        .collect();
    let area: f64 = shape.iter().zip(&trapezoid).map(|(a, b)| a * b).sum();
    let density: Vec<f64> = shape.iter().map(|s| s * p.total_strain / area).collect();
    let weights = density.iter().zip(&trapezoid).map(|(d, t)| d * t).collect();
    (df, density, weights)
}

/// The sampled times of the record under `history`: [`RECORD_POINTS_PER_HOLD`] per hold.
pub fn record_times(history: &TemperatureHistory) -> Vec<f64> {
    let n = RECORD_POINTS_PER_HOLD;
    history
        .holds()
        .iter()
        .flat_map(|h| {
            let span = h.end_s - h.start_s;
            (0..n).map(move |k| {
                let f = RECORD_FIRST.powf(1.0 - k as f64 / (n - 1) as f64);
                h.start_s + span * f
            })
        })
        .collect()
}

/// Linear interpolation of `y` on increasing `x` at `at`; zero outside `x`.
fn interpolate(x: &[f64], y: &[f64], at: f64) -> f64 {
    let k = x.partition_point(|v| *v < at);
    if k == 0 {
        return if at == x[0] { y[0] } else { 0.0 };
    }
    if k == x.len() {
        return 0.0;
    }
    let f = (at - x[k - 1]) / (x[k] - x[k - 1]);
    y[k - 1] + f * (y[k] - y[k - 1])
}

/// The direct inversion of the record and its comparison with the assumed spectrum.
struct Direct {
    inversion: EnergyInversion,
    record: MeasuredSeries,
    clean: Vec<f64>,
    /// The chosen spectrum's relative L2 error over the resolved range.
    rel_l2: f64,
    /// The best relative L2 error along the lambda path.
    oracle_rel_l2: f64,
}

/// Simulates the creep record of the assumed spectrum under `history`, adds the scenario's noise
/// and inverts it for dF.
fn direct<R: Rng + ?Sized>(
    scenario: &Scenario,
    p: &SteppingParams,
    history: &TemperatureHistory,
    rng: &mut R,
) -> Result<Direct, StudyError> {
    let law = ArrheniusLaw {
        attempt_hz: p.attempt_hz,
    };
    let (df, _, weights) = assumed_spectrum(p);
    let truth_grid = EnergyGrid::new(
        p.df_min_ev,
        p.df_max_ev,
        p.df_points,
        law,
        history.max_temperature_k(),
    )
    .map_err(|e| StudyError::Input(e.to_string()))?;
    let times = record_times(history);
    let table = creep_table(&times, history, &truth_grid);
    let clean: Vec<f64> = (0..times.len())
        .map(|i| (0..weights.len()).map(|j| table[(i, j)] * weights[j]).sum())
        .collect();
    let noisy = scenario.noise.apply(&times, &clean, rng);
    let record = MeasuredSeries {
        temperature_k: None,
        x: times,
        y: noisy.y,
        sigma: scenario.noise.reports_sigma().then_some(noisy.sigma),
    };
    let inversion = invert_creep_history(
        &record,
        history,
        &EnergyOptions::new(law),
        &scenario.inversion,
        &mut Workspace::new(),
        &(),
    )
    .map_err(|e| StudyError::Input(format!("the direct inversion: {e}")))?;
    // Relative L2 of the density over the resolved range, uniform in dF.
    let grid_df = inversion.df_ev();
    let step = inversion.grid.step_ev();
    let (lo, hi) = inversion.resolved_ev;
    let (lo, hi) = (lo.max(grid_df[0]), hi.min(grid_df[grid_df.len() - 1]));
    // The assumed spectrum as the grid can hold it (the sweeps' definition, docs/model.md §4):
    // each unit's strain shared between its two neighbouring grid points by hat functions.
    let mut projected = vec![0.0; grid_df.len()];
    for (&d, &w) in df.iter().zip(&weights) {
        let u = ((d - grid_df[0]) / step).clamp(0.0, (grid_df.len() - 1) as f64);
        let i = (u.floor() as usize).min(grid_df.len() - 2);
        let f = u - i as f64;
        projected[i] += w * (1.0 - f) / step;
        projected[i + 1] += w * f / step;
    }
    let rel_l2 = |amplitudes: &[f64]| {
        let inverted: Vec<f64> = amplitudes.iter().map(|a| a / step).collect();
        let (mut err, mut norm) = (0.0, 0.0);
        for k in 0..COMPARE_POINTS {
            let x = lo + (hi - lo) * k as f64 / (COMPARE_POINTS - 1) as f64;
            let truth = interpolate(&grid_df, &projected, x);
            err += (interpolate(&grid_df, &inverted, x) - truth).powi(2);
            norm += truth * truth;
        }
        (err / norm).sqrt()
    };
    let oracle_rel_l2 = inversion
        .series
        .analysis
        .path
        .points
        .iter()
        .map(|q| rel_l2(&q.solution.amplitudes))
        .fold(f64::INFINITY, f64::min);
    Ok(Direct {
        rel_l2: rel_l2(&inversion.series.choice().solution.amplitudes),
        oracle_rel_l2,
        inversion,
        record,
        clean,
    })
}

pub(super) fn run<R: Rng + ?Sized>(
    scenario: &Scenario,
    p: &SteppingParams,
    rng: &mut R,
    keep_tables: bool,
) -> Result<Outcome, StudyError> {
    let history = TemperatureHistory::stepped(p.start_k, p.step_k, p.steps, p.hold_s)
        .map_err(|e| StudyError::Input(e.to_string()))?;
    let direct = direct(scenario, p, &history, rng)?;
    let (df, density, weights) = assumed_spectrum(p);
    let temps: Vec<f64> = (0..=p.steps)
        .map(|i| p.start_k + i as f64 * p.step_k)
        .collect();
    let (ends, readings) = argon_kuo(&df, &weights, &temps, p.hold_s, p.attempt_hz);
    // Apparent density: each step's strain over the spacing of the readings (central differences).
    let m = readings.len();
    let apparent: Vec<f64> = (0..m)
        .map(|i| {
            let lo = readings[i.saturating_sub(1)].df_ev;
            let hi = readings[(i + 1).min(m - 1)].df_ev;
            let width = (hi - lo) / ((i + 1).min(m - 1) - i.saturating_sub(1)) as f64;
            readings[i].strain / width
        })
        .collect();
    let argmax = |v: &[f64]| {
        v.iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(i, _)| i)
    };
    let (ia, ip) = (argmax(&density), argmax(&apparent));
    let max_app = apparent[ip];
    let captured: f64 = readings.iter().map(|r| r.strain).sum();
    let strain_mean = |pairs: &mut dyn Iterator<Item = (f64, f64)>| {
        let (mut s, mut w) = (0.0, 0.0);
        for (x, wt) in pairs {
            s += x * wt;
            w += wt;
        }
        s / w
    };
    // The assumed spectrum over the dF range the readings span, for a like-for-like mean.
    let (lo, hi) = (readings[0].df_ev, readings[m - 1].df_ev);
    let assumed_mean = strain_mean(
        &mut df
            .iter()
            .zip(&weights)
            .filter(|(d, _)| **d >= lo && **d <= hi)
            .map(|(d, w)| (*d, *w)),
    );
    let apparent_mean = strain_mean(&mut readings.iter().map(|r| (r.df_ev, r.strain)));
    let mut out = Outcome::default();
    out.push("assumed_peak_df_ev", df[ia]);
    out.push("apparent_peak_df_ev", readings[ip].df_ev);
    out.push("peak_shift_ev", readings[ip].df_ev - df[ia]);
    // The high end: 95 % of the way up the assumed range, where a rising spectrum is near its top.
    let high = p.df_min_ev + 0.95 * (p.df_max_ev - p.df_min_ev);
    let apparent_at = |x: f64| -> f64 {
        match readings.iter().position(|r| r.df_ev >= x) {
            Some(0) | None => f64::NAN,
            Some(k) => {
                let (x0, x1) = (readings[k - 1].df_ev, readings[k].df_ev);
                apparent[k - 1] + (apparent[k] - apparent[k - 1]) * (x - x0) / (x1 - x0)
            }
        }
    };
    let assumed_max = density.iter().copied().fold(0.0, f64::max);
    let assumed_at = |x: f64| -> f64 {
        let k = (((x - p.df_min_ev) / (p.df_max_ev - p.df_min_ev)) * (p.df_points - 1) as f64)
            .floor() as usize;
        let k = k.min(p.df_points - 2);
        density[k] + (density[k + 1] - density[k]) * (x - df[k]) / (df[k + 1] - df[k])
    };
    out.push("high_end_df_ev", high);
    out.push("apparent_high_end_ratio", apparent_at(high) / max_app);
    out.push("assumed_high_end_ratio", assumed_at(high) / assumed_max);
    out.push("apparent_df_min_ev", lo);
    out.push("apparent_df_max_ev", hi);
    out.push("assumed_mean_df_ev", assumed_mean);
    out.push("apparent_mean_df_ev", apparent_mean);
    out.push("mean_shift_ev", apparent_mean - assumed_mean);
    out.push("strain_first_hold", ends[0]);
    out.push("strain_steps", captured);
    out.push("strain_total", p.total_strain);
    // The direct inversion, read with the same definitions.
    let grid_df = direct.inversion.df_ev();
    let inverted = direct.inversion.density_per_ev();
    let iv = argmax(&inverted);
    out.push("inverted_peak_df_ev", grid_df[iv]);
    out.push("inverted_peak_shift_ev", grid_df[iv] - df[ia]);
    // Undefined, like the reading's, where the record does not resolve the high end.
    let resolved = direct.inversion.resolved_ev;
    out.push(
        "inverted_high_end_ratio",
        if high <= resolved.1 {
            interpolate(&grid_df, &inverted, high) / inverted[iv]
        } else {
            f64::NAN
        },
    );
    out.push("inverted_rel_l2", direct.rel_l2);
    out.push("inverted_oracle_rel_l2", direct.oracle_rel_l2);
    out.push("resolved_df_min_ev", direct.inversion.resolved_ev.0);
    out.push("resolved_df_max_ev", direct.inversion.resolved_ev.1);
    out.push(
        "inverted_lambda",
        direct.inversion.series.choice().solution.lambda,
    );
    out.push(
        "inverted_fallback",
        fallback(direct.inversion.series.choice()),
    );
    if keep_tables {
        let mut t = Table::new(&["df_ev", "density_per_ev"]);
        for (d, g) in grid_df.iter().zip(&inverted) {
            t.push(fields![*d, *g]);
        }
        out.tables.push(("inverted".into(), t));
        let series = &direct.inversion.series;
        let fit = series.problem.fitted(&series.choice().solution);
        let mut r = Table::new(&[
            "t_s",
            "temperature_k",
            "strain_clean",
            "strain",
            "strain_fit",
        ]);
        for (i, &t_s) in direct.record.x.iter().enumerate() {
            let hold = history.holds()[i / RECORD_POINTS_PER_HOLD];
            r.push(fields![
                t_s,
                hold.temperature_k,
                direct.clean[i],
                direct.record.y[i],
                fit[i]
            ]);
        }
        out.tables.push(("record".into(), r));
        let mut a = Table::new(&["df_ev", "density_per_ev"]);
        for (d, g) in df.iter().zip(&density) {
            a.push(fields![*d, *g]);
        }
        out.tables.push(("assumed".into(), a));
        let mut b = Table::new(&[
            "step",
            "from_k",
            "to_k",
            "rate_before_per_s",
            "rate_after_per_s",
            "df_ev",
            "strain",
            "density_per_ev",
        ]);
        for (i, (r, g)) in readings.iter().zip(&apparent).enumerate() {
            b.push(fields![
                i + 1,
                r.from_k,
                r.to_k,
                r.rate_before,
                r.rate_after,
                r.df_ev,
                r.strain,
                *g
            ]);
        }
        out.tables.push(("apparent".into(), b));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_single_process_is_read_exactly_at_every_step() {
        let temps = [300.0, 310.0, 320.0, 330.0];
        let (ends, readings) = argon_kuo(&[1.0], &[0.01], &temps, 3600.0, 1e13);
        for r in &readings {
            assert!((r.df_ev - 1.0).abs() < 1e-12, "{}", r.df_ev);
        }
        // Strain: closed form 0.01 (1 - exp(-sum hold / tau(T_i))).
        let theta: f64 = temps
            .iter()
            .map(|t| 3600.0 * 1e13 * (-1.0 / (K_EV * t)).exp())
            .sum();
        assert!((ends[3] - 0.01 * (1.0 - (-theta).exp())).abs() < 1e-15);
        // Conservation: the steps' strains add up to the strain after the first hold.
        let steps: f64 = readings.iter().map(|r| r.strain).sum();
        assert!((ends[0] + steps - ends[3]).abs() < 1e-15);
    }

    #[test]
    fn the_assumed_spectrum_carries_the_total_strain() {
        let p = SteppingParams {
            df_min_ev: 0.8,
            df_max_ev: 1.3,
            df_points: 101,
            shape: DfShape::Rising,
            total_strain: 0.02,
            start_k: 250.0,
            step_k: 10.0,
            steps: 20,
            hold_s: 3600.0,
            attempt_hz: 1e13,
        };
        let (df, density, w) = assumed_spectrum(&p);
        assert!((w.iter().sum::<f64>() - 0.02).abs() < 1e-15);
        // Rising: zero at df_min, 2 total / range at df_max.
        assert_eq!(density[0], 0.0);
        assert!((density[100] - 2.0 * 0.02 / 0.5).abs() < 1e-12);
        assert!((df[100] - 1.3).abs() < 1e-12);
    }
}
