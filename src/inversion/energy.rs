//! Kernels in activation energy (docs/model.md §8): creep under constant stress through a
//! temperature history, inverted for the spectrum of activation energies dF directly.
//!
//! A process of activation energy dF relaxes with tau(dF, T) = exp(dF / k T) / nu (the attempt law
//! of the temperature-stepping study). Under constant stress from t = 0 its strain is
//! 1 - exp(-theta(t, dF)) with theta(t, dF) = integral_0^t dt' / tau(dF, T(t')), integrated exactly
//! over a piecewise-constant history. The strain of a spectrum is linear in its amplitudes, so the
//! same non-negative, regularized inversion applies, on a grid uniform in dF.
//!
//! The dF grid is carried as the ln tau grid of the relaxation times at a reference temperature
//! T_ref (the history's highest): ln tau_ref = dF / (k T_ref) - ln nu, uniform in dF, so the
//! penalty, the rules, the peaks and the bootstrap apply unchanged and peak widths stay in decades
//! of a relaxation time. A density per unit ln tau_ref is a density per eV times k T_ref.

use std::path::Path;

use faer::Mat;

use crate::constants::{BOLTZMANN_EV_PER_K, MAX_TEMPERATURE_K};
use crate::data::DataError;
use crate::spectrum::{LnTauGrid, SpectrumError};

/// One hold of a temperature history: the temperature from `start_s` to `end_s`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hold {
    /// Start, s after loading.
    pub start_s: f64,
    /// End, s after loading.
    pub end_s: f64,
    /// Temperature, K.
    pub temperature_k: f64,
}

/// Why a temperature history was refused: the hold (0-based) and what is wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("hold {}: {message}", index + 1)]
pub struct HistoryError {
    /// Index of the offending hold.
    pub index: usize,
    /// What is wrong.
    pub message: String,
}

/// A piecewise-constant temperature history from loading (t = 0) on: contiguous holds.
#[derive(Debug, Clone, PartialEq)]
pub struct TemperatureHistory {
    holds: Vec<Hold>,
}

/// Tolerance of contiguity, relative to the history's end time: a hold starts where the previous
/// one ends to within rounding of times written in decimal.
const CONTIGUITY_TOLERANCE: f64 = 1e-9;

impl TemperatureHistory {
    /// Validates the holds: at least one, the first starting at 0 s, each ending after it starts,
    /// each starting where the previous ended (no gap, no overlap), temperatures in (0, 5000] K.
    ///
    /// # Errors
    /// [`HistoryError`] naming the first offending hold.
    pub fn new(holds: Vec<Hold>) -> Result<Self, HistoryError> {
        let err = |index: usize, message: String| HistoryError { index, message };
        if holds.is_empty() {
            return Err(err(0, "a history needs at least one hold".into()));
        }
        let scale = holds
            .iter()
            .map(|h| h.end_s.abs())
            .fold(0.0f64, f64::max)
            .max(1.0);
        for (i, h) in holds.iter().enumerate() {
            let t = h.temperature_k;
            if !(t.is_finite() && t > 0.0 && t <= MAX_TEMPERATURE_K) {
                return Err(err(
                    i,
                    format!("temperature {t} K must lie in (0, {MAX_TEMPERATURE_K}]"),
                ));
            }
            if !(h.start_s.is_finite() && h.end_s.is_finite() && h.end_s > h.start_s) {
                return Err(err(
                    i,
                    format!(
                        "from {} s to {} s: times must be finite and increasing",
                        h.start_s, h.end_s
                    ),
                ));
            }
            let expected = if i == 0 { 0.0 } else { holds[i - 1].end_s };
            if (h.start_s - expected).abs() > CONTIGUITY_TOLERANCE * scale {
                let what = match (i, h.start_s > expected) {
                    (0, _) => "the first hold must start at 0 s (the loading)".to_string(),
                    (_, true) => format!(
                        "a gap from {expected} s to {} s: every instant needs a temperature",
                        h.start_s
                    ),
                    (_, false) => format!(
                        "starts at {} s, before the previous hold ends at {expected} s",
                        h.start_s
                    ),
                };
                return Err(err(i, what));
            }
        }
        Ok(Self { holds })
    }

    /// Temperature stepped upward: `steps + 1` holds of `hold_s` from `start_k` by `step_k`.
    ///
    /// # Errors
    /// [`HistoryError`] for a temperature or hold outside its range.
    pub fn stepped(
        start_k: f64,
        step_k: f64,
        steps: usize,
        hold_s: f64,
    ) -> Result<Self, HistoryError> {
        Self::new(
            (0..=steps)
                .map(|i| Hold {
                    start_s: i as f64 * hold_s,
                    end_s: (i + 1) as f64 * hold_s,
                    temperature_k: start_k + i as f64 * step_k,
                })
                .collect(),
        )
    }

    /// The holds, in time order.
    pub fn holds(&self) -> &[Hold] {
        &self.holds
    }

    /// End of the last hold, s.
    pub fn end_s(&self) -> f64 {
        self.holds[self.holds.len() - 1].end_s
    }

    /// Highest temperature, K.
    pub fn max_temperature_k(&self) -> f64 {
        self.holds
            .iter()
            .map(|h| h.temperature_k)
            .fold(0.0, f64::max)
    }

    /// theta(t, dF) = integral_0^t dt' / tau(dF, T(t')) under `law`, exact for the piecewise-constant
    /// history (t beyond the end continues the last hold).
    pub fn theta(&self, law: ArrheniusLaw, df_ev: f64, t_s: f64) -> f64 {
        self.integral(|t_k| law.rate_hz(df_ev, t_k), t_s)
    }

    /// integral_0^t rate(T(t')) dt' for a rate (1/tau, Hz) of the temperature, exact for the
    /// piecewise-constant history (t beyond the end continues the last hold).
    pub fn integral(&self, rate_hz: impl Fn(f64) -> f64, t_s: f64) -> f64 {
        let mut theta = 0.0;
        for h in &self.holds {
            if t_s <= h.start_s {
                break;
            }
            theta += (t_s.min(h.end_s) - h.start_s) * rate_hz(h.temperature_k);
        }
        if t_s > self.end_s() {
            let last = self.holds[self.holds.len() - 1];
            theta += (t_s - last.end_s) * rate_hz(last.temperature_k);
        }
        theta
    }
}

/// Reads a temperature history: CSV with a header naming `t_start_s`, `t_end_s` and
/// `temperature_k` (in any order; other columns are ignored), one hold per line; `#` comments.
///
/// # Errors
/// [`DataError`] naming the file and line of an unreadable or refused hold.
pub fn read_history(path: &Path) -> Result<TemperatureHistory, DataError> {
    let (text, file) = crate::data::read_text(path)?;
    parse_history(&text, &file)
}

/// Parses history text (see [`read_history`]); `file` is used in messages.
///
/// # Errors
/// [`DataError`].
pub fn parse_history(text: &str, file: &str) -> Result<TemperatureHistory, DataError> {
    let err = |line: Option<usize>, message: String| DataError {
        file: file.to_string(),
        line,
        message,
    };
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.split('#').next().unwrap_or("").trim()))
        .filter(|(_, l)| !l.is_empty());
    let Some((header_line, header)) = lines.next() else {
        return Err(err(
            None,
            "empty: expected a header t_start_s,t_end_s,temperature_k".into(),
        ));
    };
    let names: Vec<&str> = header.split(',').map(str::trim).collect();
    let column = |name: &str| {
        names.iter().position(|n| *n == name).ok_or_else(|| {
            err(
                Some(header_line),
                format!("the header has no {name} column (need t_start_s, t_end_s, temperature_k)"),
            )
        })
    };
    let (c_start, c_end, c_t) = (
        column("t_start_s")?,
        column("t_end_s")?,
        column("temperature_k")?,
    );
    let mut holds = Vec::new();
    let mut at = Vec::new();
    for (n, line) in lines {
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let value = |c: usize| -> Result<f64, DataError> {
            let f = fields.get(c).copied().unwrap_or("");
            f.parse::<f64>()
                .map_err(|_| err(Some(n), format!("{}: {f:?} is not a number", names[c])))
        };
        holds.push(Hold {
            start_s: value(c_start)?,
            end_s: value(c_end)?,
            temperature_k: value(c_t)?,
        });
        at.push(n);
    }
    TemperatureHistory::new(holds).map_err(|e| err(at.get(e.index).copied(), e.message))
}

/// tau(dF, T) = exp(dF / k T) / nu.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ArrheniusLaw {
    /// Attempt frequency nu, Hz.
    pub attempt_hz: f64,
}

impl ArrheniusLaw {
    /// 1 / tau(dF, T), Hz.
    pub fn rate_hz(self, df_ev: f64, temperature_k: f64) -> f64 {
        self.attempt_hz * (-df_ev / (BOLTZMANN_EV_PER_K * temperature_k)).exp()
    }

    /// The dF whose theta over `history` up to `t_s` is `theta` (theta falls with dF), eV.
    pub fn df_at_theta(self, history: &TemperatureHistory, t_s: f64, theta: f64) -> f64 {
        let (mut lo, mut hi) = (0.0f64, 1.0f64);
        while history.theta(self, hi, t_s) > theta && hi < 1e3 {
            hi *= 2.0;
        }
        // Bisection to rounding: 200 halvings of at most 1e3 eV.
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if mid <= lo || mid >= hi {
                break;
            }
            if history.theta(self, mid, t_s) > theta {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        0.5 * (lo + hi)
    }
}

/// A grid uniform in dF, carried as the ln tau grid at the reference temperature (module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct EnergyGrid {
    /// The ln tau_ref grid the inversion runs on.
    pub grid: LnTauGrid,
    /// The law that maps dF to tau.
    pub law: ArrheniusLaw,
    /// The reference temperature, K.
    pub reference_k: f64,
}

impl EnergyGrid {
    /// `points` values of dF from `df_min_ev` to `df_max_ev`, read at `reference_k`.
    ///
    /// # Errors
    /// [`SpectrumError`] for a range that is not 0 < min < max, fewer than 2 points, or a
    /// non-positive attempt frequency or temperature.
    pub fn new(
        df_min_ev: f64,
        df_max_ev: f64,
        points: usize,
        law: ArrheniusLaw,
        reference_k: f64,
    ) -> Result<Self, SpectrumError> {
        let out = |field: &'static str, value: f64, requirement: &'static str| {
            SpectrumError::OutOfRange {
                field,
                value,
                requirement,
            }
        };
        if !(law.attempt_hz.is_finite() && law.attempt_hz > 0.0) {
            return Err(out("attempt_hz", law.attempt_hz, "> 0"));
        }
        if !(reference_k.is_finite() && reference_k > 0.0) {
            return Err(out("reference_k", reference_k, "> 0"));
        }
        if !(df_min_ev.is_finite() && df_min_ev > 0.0) {
            return Err(out("df_min_ev", df_min_ev, "> 0"));
        }
        if !(df_max_ev.is_finite() && df_max_ev > df_min_ev) {
            return Err(out("df_max_ev", df_max_ev, "> df_min_ev"));
        }
        let kt = BOLTZMANN_EV_PER_K * reference_k;
        let ln_tau = |df: f64| df / kt - law.attempt_hz.ln();
        let grid = LnTauGrid::new(ln_tau(df_min_ev).exp(), ln_tau(df_max_ev).exp(), points)?;
        Ok(Self {
            grid,
            law,
            reference_k,
        })
    }

    /// k T_ref, eV: dF per unit ln tau_ref.
    pub fn ev_per_ln_tau(&self) -> f64 {
        BOLTZMANN_EV_PER_K * self.reference_k
    }

    /// dF of a relaxation time at the reference temperature, eV.
    pub fn df_of_tau(&self, tau_s: f64) -> f64 {
        self.ev_per_ln_tau() * (tau_s.ln() + self.law.attempt_hz.ln())
    }

    /// The relaxation time at the reference temperature of `df_ev`, s.
    pub fn tau_of_df(&self, df_ev: f64) -> f64 {
        (df_ev / self.ev_per_ln_tau() - self.law.attempt_hz.ln()).exp()
    }

    /// dF of every grid point, eV.
    pub fn df_ev(&self) -> Vec<f64> {
        self.grid
            .taus_s()
            .into_iter()
            .map(|t| self.df_of_tau(t))
            .collect()
    }

    /// Grid spacing in dF, eV: a density per eV is an amplitude over this.
    pub fn step_ev(&self) -> f64 {
        self.grid.step() * self.ev_per_ln_tau()
    }
}

/// The creep kernel table: `K[(i, j)] = 1 - exp(-theta(t_i, dF_j))` for the data times `times_s`
/// under `history` (M x N), the strain of a unit amplitude at grid point j.
pub fn creep_table(times_s: &[f64], history: &TemperatureHistory, grid: &EnergyGrid) -> Mat<f64> {
    let df = grid.df_ev();
    creep_table_with(times_s, history, df.len(), |j, t_k| {
        grid.law.rate_hz(df[j], t_k)
    })
}

/// The creep kernel table for `points` processes whose rates (1/tau, Hz) at a temperature are
/// `rate_hz(j, T)`: `K[(i, j)] = 1 - exp(-integral_0^t_i rate_hz(j, T(t)) dt)`.
pub fn creep_table_with(
    times_s: &[f64],
    history: &TemperatureHistory,
    points: usize,
    rate_hz: impl Fn(usize, f64) -> f64,
) -> Mat<f64> {
    let holds = history.holds();
    // theta at the start of every hold, per grid point: O(holds N), then O(1) per entry.
    let rates: Vec<Vec<f64>> = holds
        .iter()
        .map(|h| (0..points).map(|j| rate_hz(j, h.temperature_k)).collect())
        .collect();
    let mut at_start = vec![vec![0.0; points]; holds.len()];
    for k in 1..holds.len() {
        let span = holds[k - 1].end_s - holds[k - 1].start_s;
        for j in 0..points {
            at_start[k][j] = at_start[k - 1][j] + span * rates[k - 1][j];
        }
    }
    let hold_of = |t: f64| holds.partition_point(|h| h.end_s < t).min(holds.len() - 1);
    Mat::from_fn(times_s.len(), points, |i, j| {
        let t = times_s[i];
        let k = hold_of(t);
        let theta = at_start[k][j] + (t - holds[k].start_s).max(0.0) * rates[k][j];
        -(-theta).exp_m1()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAW: ArrheniusLaw = ArrheniusLaw { attempt_hz: 1e13 };

    fn stepped() -> TemperatureHistory {
        TemperatureHistory::stepped(300.0, 10.0, 4, 3600.0).unwrap()
    }

    /// The strain of one process through the history by the ODE de/dt = (1 - e) / tau(dF, T(t)),
    /// classical Runge-Kutta with steps of at most `dt` that never straddle a hold boundary.
    fn ode_strain(history: &TemperatureHistory, df: f64, t_end: f64, dt: f64) -> f64 {
        let mut e = 0.0;
        for h in history.holds() {
            let stop = h.end_s.min(t_end);
            if stop <= h.start_s {
                break;
            }
            let r = LAW.rate_hz(df, h.temperature_k);
            let f = |e: f64| (1.0 - e) * r;
            let n = ((stop - h.start_s) / dt).ceil().max(1.0) as usize;
            let step = (stop - h.start_s) / n as f64;
            for _ in 0..n {
                let k1 = f(e);
                let k2 = f(e + 0.5 * step * k1);
                let k3 = f(e + 0.5 * step * k2);
                let k4 = f(e + step * k3);
                e += step / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4);
            }
        }
        e
    }

    #[test]
    fn the_creep_kernel_matches_an_ode_integration_through_the_steps() {
        let history = stepped();
        let grid = EnergyGrid::new(0.8, 1.3, 11, LAW, 340.0).unwrap();
        let times = [1.0, 1800.0, 3600.0, 5000.0, 9000.0, 14_400.0, 18_000.0];
        let table = creep_table(&times, &history, &grid);
        for (j, df) in grid.df_ev().into_iter().enumerate() {
            // RK4 steps of 1/50 of tau at the hottest hold: error far below 1e-8.
            let dt = (0.02 / LAW.rate_hz(df, 340.0)).min(10.0);
            for (i, &t) in times.iter().enumerate() {
                let ode = ode_strain(&history, df, t, dt);
                assert!(
                    (table[(i, j)] - ode).abs() < 1e-8,
                    "dF {df} t {t}: {} vs {ode}",
                    table[(i, j)]
                );
            }
        }
    }

    #[test]
    fn the_grid_is_uniform_in_df_and_maps_back() {
        let grid = EnergyGrid::new(0.8, 1.3, 51, LAW, 450.0).unwrap();
        let df = grid.df_ev();
        assert!((df[0] - 0.8).abs() < 1e-12 && (df[50] - 1.3).abs() < 1e-12);
        for w in df.windows(2) {
            assert!((w[1] - w[0] - grid.step_ev()).abs() < 1e-12);
        }
        // tau_ref is the law's relaxation time at T_ref.
        let tau = grid.tau_of_df(1.0);
        assert!((tau * LAW.rate_hz(1.0, 450.0) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn df_at_theta_inverts_theta() {
        let history = stepped();
        for theta in [0.01, 1.0, 30.0] {
            let df = LAW.df_at_theta(&history, history.end_s(), theta);
            let back = history.theta(LAW, df, history.end_s());
            assert!((back / theta - 1.0).abs() < 1e-9, "{theta}: {back}");
        }
    }

    #[test]
    fn bad_histories_are_refused_at_their_line() {
        let parse = |body: &str| {
            parse_history(&format!("t_start_s,t_end_s,temperature_k\n{body}"), "h.csv")
                .unwrap_err()
                .to_string()
        };
        let e = parse("0,10,300\n10,5,310\n");
        assert!(e.starts_with("h.csv:3:") && e.contains("increasing"), "{e}");
        let e = parse("0,10,300\n12,20,310\n");
        assert!(
            e.starts_with("h.csv:3:") && e.contains("gap from 10 s to 12 s"),
            "{e}"
        );
        let e = parse("0,10,300\n8,20,310\n");
        assert!(
            e.starts_with("h.csv:3:") && e.contains("before the previous"),
            "{e}"
        );
        let e = parse("0,10,300\n10,20,0\n");
        assert!(
            e.starts_with("h.csv:3:") && e.contains("temperature 0 K"),
            "{e}"
        );
        let e = parse("5,10,300\n");
        assert!(
            e.starts_with("h.csv:2:") && e.contains("start at 0 s"),
            "{e}"
        );
        let e = parse("0,ten,300\n");
        assert!(e.starts_with("h.csv:2:") && e.contains("t_end_s"), "{e}");
        let e = parse_history("start,end,T\n0,1,300\n", "h.csv")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("h.csv:1:") && e.contains("t_start_s"), "{e}");
        let e = parse("");
        assert!(e.contains("at least one hold"), "{e}");
        // A good one, with comments and an extra column.
        let h = parse_history(
            "# stepped\nstep,t_start_s,t_end_s,temperature_k\n1,0,10,300\n2,10,20,310 # hotter\n",
            "h.csv",
        )
        .unwrap();
        assert_eq!(h.holds().len(), 2);
        assert_eq!(h.max_temperature_k(), 310.0);
    }
}
