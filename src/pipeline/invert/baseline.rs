//! The baseline's coefficients and standard errors by name, and its trade with the spectrum
//! beyond the data window. Units far outside the window look like the baseline there: in recovery
//! (`decay`) a unit much slower than the last time has not yet relaxed and adds a constant, like
//! c_inf; in creep a unit much faster than the first time has crept fully and adds a constant,
//! like c_inf, and one much slower creeps as a straight line, a / tau per unit time, like the
//! slope B. The data fix only the sums, so a negative baseline balanced by area beyond the window
//! is the regularizer's split, not a measurement: the total area and the baseline are then unknown
//! separately. Measured on the suite's shapes (README, "Non-negative baseline"), this is where
//! `--baseline-nonnegative` helps.

use super::SeriesInversion;
use crate::inversion::Kernel;
use crate::spectrum::LnTauGrid;

/// A negative baseline term is flagged when it is at least this fraction of the spectrum's area
/// (for B: |B| times the last time, the straight line's rise over the record) ...
const TRADE_FRACTION_OF_AREA: f64 = 0.01;
/// ... and the spectrum beyond the window stands in for at least this fraction of it.
const TRADE_COVERED: f64 = 0.5;

/// One block's baseline against the spectrum beyond its window.
pub(crate) struct BaselineTrade<'a> {
    /// The block's kernel.
    pub kernel: Kernel,
    /// Its data window in tau, s.
    pub window_s: (f64, f64),
    /// The spectrum's grid.
    pub grid: &'a LnTauGrid,
    /// The spectrum's amplitudes (area per grid point, data units).
    pub amplitudes: &'a [f64],
    /// c_inf, data units (`None` without a baseline).
    pub c_inf: Option<f64>,
    /// The slope B of c_inf + B t, data units per s (`None` without one).
    pub slope: Option<f64>,
}

impl BaselineTrade<'_> {
    /// True when [`BaselineTrade::warning`] has something to say (a sweep's `baseline_traded`).
    pub fn traded(&self) -> bool {
        self.warning().is_some()
    }

    /// What the warning says, when a negative c_inf or B is balanced by the spectrum beyond the
    /// window (see the module docs); `None` otherwise, and for loss data.
    pub fn warning(&self) -> Option<String> {
        let (lo, hi) = self.window_s;
        let total: f64 = self.amplitudes.iter().sum();
        if !(total > 0.0) {
            return None;
        }
        let beyond = |keep: &dyn Fn(f64) -> bool, per: &dyn Fn(f64) -> f64| -> f64 {
            self.amplitudes
                .iter()
                .enumerate()
                .filter(|(i, _)| keep(self.grid.tau_s(*i)))
                .map(|(i, a)| a * per(self.grid.tau_s(i)))
                .sum()
        };
        let mut found = Vec::new();
        // The side of the window where units look constant to the kernel: its area, and where.
        let constant_side = match self.kernel {
            Kernel::Decay => Some((beyond(&|tau| tau > hi, &|_| 1.0), hi)),
            Kernel::Creep => Some((beyond(&|tau| tau < lo, &|_| 1.0), lo)),
            Kernel::Loss => None,
        };
        if let (Some(c), Some((area, edge))) = (self.c_inf, constant_side) {
            if c < 0.0 && -c >= TRADE_FRACTION_OF_AREA * total && area >= TRADE_COVERED * -c {
                let where_ = if self.kernel == Kernel::Decay {
                    format!(
                        "above the data window (tau > {edge:.3e} s), where recovery units have \
                         not yet relaxed by the last point"
                    )
                } else {
                    format!(
                        "below the data window (tau < {edge:.3e} s), where creep units have \
                         crept fully by the first point"
                    )
                };
                found.push(format!(
                    "c_inf = {c:.3e} is negative and the spectrum holds {area:.3e} {where_}, as \
                     a constant would"
                ));
            }
        }
        if let (Kernel::Creep, Some(b)) = (self.kernel, self.slope) {
            let rate = beyond(&|tau| tau > hi, &|tau| 1.0 / tau);
            if b < 0.0 && -b * hi >= TRADE_FRACTION_OF_AREA * total && rate >= TRADE_COVERED * -b {
                found.push(format!(
                    "slope_per_x = {b:.3e} is negative and the spectrum above the data window \
                     (tau > {hi:.3e} s) creeps at {rate:.3e} per s there, as a steady slope \
                     would"
                ));
            }
        }
        (!found.is_empty()).then(|| {
            format!(
                "{}: the data fix only the sum, so the baseline and the spectrum's total area are \
                 not determined separately (if the baseline cannot be negative, \
                 --baseline-nonnegative)",
                found.join("; ")
            )
        })
    }
}

impl SeriesInversion {
    /// Block `k`'s entries of `values` (one per baseline coefficient, in the order of the chosen
    /// solution's baseline: the coefficients, or their errors), by coefficient name.
    pub(super) fn block_values(
        &self,
        k: usize,
        values: &[f64],
    ) -> serde_json::Map<String, serde_json::Value> {
        let block = &self.problem.blocks()[k];
        let n_spec = self.problem.grid().len();
        block
            .baseline
            .names()
            .iter()
            .zip(&values[block.columns.start - n_spec..block.columns.end - n_spec])
            .map(|(n, v)| (n.to_string(), serde_json::json!(v)))
            .collect()
    }

    /// Every block's entries of `values` by name: one series' by coefficient name, a joint
    /// inversion's each prefixed with its set's name (`SET.c_inf`).
    pub(super) fn baseline_by_name(
        &self,
        values: &[f64],
    ) -> serde_json::Map<String, serde_json::Value> {
        if self.sets.is_empty() {
            return self.block_values(0, values);
        }
        self.sets
            .iter()
            .enumerate()
            .flat_map(|(k, set)| {
                self.block_values(k, values)
                    .into_iter()
                    .map(|(n, v)| (format!("{}.{n}", set.name), v))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// The prefix that names block `k`'s set in a warning (`SET: `; empty for one series).
    pub(super) fn set_label(&self, k: usize) -> String {
        self.sets
            .get(k)
            .map_or(String::new(), |s| format!("{}: ", s.name))
    }

    /// [`BaselineTrade::warning`] for each block (each joint set named), joined.
    pub(super) fn baseline_trade_warning(&self) -> Option<String> {
        let sol = &self.choice().solution;
        let flagged: Vec<String> = self
            .problem
            .blocks()
            .iter()
            .enumerate()
            .filter_map(|(k, block)| {
                let named = self.block_values(k, &sol.baseline);
                let value = |name: &str| named.get(name).and_then(serde_json::Value::as_f64);
                let window_s = self
                    .sets
                    .get(k)
                    .map_or(self.window_s, |s| (s.window_s[0], s.window_s[1]));
                let trade = BaselineTrade {
                    kernel: block.kernel,
                    window_s,
                    grid: self.problem.grid(),
                    amplitudes: &sol.amplitudes,
                    c_inf: value("c_inf"),
                    slope: value("slope_per_x"),
                };
                trade.warning().map(|w| format!("{}{w}", self.set_label(k)))
            })
            .collect();
        (!flagged.is_empty()).then(|| flagged.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A grid 1e-3 .. 1e5 s, 5 per decade, with the window 1e-2 .. 1e4 s.
    fn grid() -> LnTauGrid {
        LnTauGrid::new(1e-3, 1e5, 41).unwrap()
    }

    /// Area 0.1 at 10 s, and `outside` at the grid point nearest `tau_s`.
    fn amplitudes(g: &LnTauGrid, outside: f64, tau_s: f64) -> Vec<f64> {
        let nearest = |t: f64| {
            (0..g.len())
                .min_by(|a, b| {
                    (g.ln_tau(*a) - t.ln())
                        .abs()
                        .total_cmp(&(g.ln_tau(*b) - t.ln()).abs())
                })
                .unwrap()
        };
        let mut a = vec![0.0; g.len()];
        a[nearest(10.0)] = 0.1;
        a[nearest(tau_s)] += outside;
        a
    }

    fn trade<'a>(
        kernel: Kernel,
        g: &'a LnTauGrid,
        a: &'a [f64],
        c: f64,
        b: Option<f64>,
    ) -> BaselineTrade<'a> {
        BaselineTrade {
            kernel,
            window_s: (1e-2, 1e4),
            grid: g,
            amplitudes: a,
            c_inf: Some(c),
            slope: b,
        }
    }

    #[test]
    fn a_negative_c_inf_balanced_beyond_the_window_is_flagged_on_the_side_the_kernel_sees() {
        let g = grid();
        // Creep: area below the window stands in for c_inf; decay: area above it.
        let below = amplitudes(&g, 0.02, 2e-3);
        let above = amplitudes(&g, 0.02, 5e4);
        let w = trade(Kernel::Creep, &g, &below, -0.02, None)
            .warning()
            .unwrap();
        assert!(
            w.contains("c_inf = -2.000e-2") && w.contains("below the data window"),
            "{w}"
        );
        assert!(w.contains("--baseline-nonnegative"), "{w}");
        assert!(trade(Kernel::Creep, &g, &above, -0.02, None)
            .warning()
            .is_none());
        let w = trade(Kernel::Decay, &g, &above, -0.02, None)
            .warning()
            .unwrap();
        assert!(w.contains("above the data window"), "{w}");
        assert!(trade(Kernel::Decay, &g, &below, -0.02, None)
            .warning()
            .is_none());
        // Loss data have no such trade.
        assert!(trade(Kernel::Loss, &g, &below, -0.02, None)
            .warning()
            .is_none());
    }

    #[test]
    fn the_thresholds_leave_positive_small_and_uncovered_baselines_alone() {
        let g = grid();
        let below = amplitudes(&g, 0.02, 2e-3);
        // Positive c_inf: nothing to trade.
        assert!(trade(Kernel::Creep, &g, &below, 0.02, None)
            .warning()
            .is_none());
        // Below 1 % of the area (0.12): 0.001 is not flagged, 0.002 is.
        assert!(trade(Kernel::Creep, &g, &below, -0.001, None)
            .warning()
            .is_none());
        assert!(trade(Kernel::Creep, &g, &below, -0.002, None)
            .warning()
            .is_some());
        // A negative offset with nothing beyond the window (an instrument zero) is not the trade:
        // covered up to half of it is flagged, less is not.
        let little = amplitudes(&g, 0.0099, 2e-3);
        assert!(trade(Kernel::Creep, &g, &little, -0.02, None)
            .warning()
            .is_none());
        let half = amplitudes(&g, 0.0101, 2e-3);
        assert!(trade(Kernel::Creep, &g, &half, -0.02, None)
            .warning()
            .is_some());
    }

    #[test]
    fn a_negative_creep_slope_balanced_by_slow_units_is_flagged() {
        let g = grid();
        // 0.02 at tau = 1e5 s creeps at 2e-7 per s over the window.
        let slow = amplitudes(&g, 0.02, 1e5);
        let tau = g.tau_s(g.len() - 1);
        let rate = 0.02 / tau;
        let w = trade(Kernel::Creep, &g, &slow, 0.0, Some(-rate))
            .warning()
            .unwrap();
        assert!(
            w.starts_with("slope_per_x = -") && w.contains("creeps at"),
            "{w}"
        );
        // Uncovered (the slow unit's rate below half of |B|) or positive: not flagged.
        assert!(trade(Kernel::Creep, &g, &slow, 0.0, Some(-3.0 * rate))
            .warning()
            .is_none());
        assert!(trade(Kernel::Creep, &g, &slow, 0.0, Some(rate))
            .warning()
            .is_none());
        // Decay has no slope to trade.
        assert!(trade(Kernel::Decay, &g, &slow, 0.0, Some(-rate))
            .warning()
            .is_none());
    }
}
