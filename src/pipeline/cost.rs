//! The expected cost of an analysis, from its size alone, so that a long run can be announced
//! before any of it finishes (issue 15's cost guard).
//!
//! One analysis solves the lambda path: per lambda a warm-started active-set NNLS whose
//! factorizations grow as N^3 and whose number of active-set changes grows with N, so the time
//! grows as about L N^3.5 (measured: `stzlab invert` on 200 decay points with N = 200, 400, 800
//! took 0.14, 1.33 and 16.3 s, 60 lambdas, every rule on the path; ratios 2^3.25 and 2^3.6). Forming
//! the Gram matrix adds M N^2. The log-space families take about ten Newton steps per lambda where
//! the NNLS takes one factorization (measured: maxent 59 ms and log-smooth 132 ms against
//! Tikhonov's 11 ms at N = 100, M = 200, 30 lambdas), total variation about ten primal-dual steps. The constants are this machine's (2 cores, 2026); an estimate is good to a factor
//! of about 3, enough to tell seconds from hours.

use crate::inversion::{InvertOptions, Regularizer, Rule};
use crate::pipeline::simulate::Simulation;

/// Seconds per lambda per N^3.5 of the Tikhonov path (one core).
const SECONDS_PER_LAMBDA_N35: f64 = 1.9e-11;
/// Seconds per M N^2 (the Gram matrix and the rules' products).
const SECONDS_PER_MN2: f64 = 1e-9;
/// How much more a log-space family's path costs than the Tikhonov path of the same size.
const LOG_SPACE_FACTOR: f64 = 10.0;

/// The same for total variation: about ten primal-dual steps per lambda, each a refactored NNLS
/// solve (measured: 54.5 ms against Tikhonov's 7.4 ms in one benchmark run, N = 100, M = 200, 30 lambdas).
const TOTAL_VARIATION_FACTOR: f64 = 7.5;

/// The same for the Lorentzian: majorize-minimize steps, each a weighted NNLS solve (measured:
/// 56.3 ms, as total variation, against Tikhonov's 7.0 ms in one benchmark run of the same size).
const LORENTZIAN_FACTOR: f64 = 8.0;

/// The size of one analysis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnalysisSize {
    /// Grid points N (spectrum unknowns).
    pub points: usize,
    /// Data points M.
    pub data: usize,
    /// Points on the lambda path L.
    pub lambda_points: usize,
}

/// Expected seconds of one analysis of `size` on one core, with `rules` (k-fold refits the path once
/// per fold) and `regularizer`.
pub fn analysis_seconds(size: AnalysisSize, rules: &[Rule], regularizer: Regularizer) -> f64 {
    let (n, m, l) = (
        size.points as f64,
        size.data as f64,
        size.lambda_points as f64,
    );
    let family = match regularizer {
        Regularizer::Tikhonov => 1.0,
        Regularizer::LogSmooth | Regularizer::MaxEnt => LOG_SPACE_FACTOR,
        Regularizer::TotalVariation => TOTAL_VARIATION_FACTOR,
        Regularizer::Lorentzian => LORENTZIAN_FACTOR,
    };
    let refits: f64 = rules
        .iter()
        .map(|r| match r {
            Rule::Kfold { folds } => *folds as f64,
            _ => 0.0,
        })
        .sum();
    let path = SECONDS_PER_LAMBDA_N35 * l * n.powf(3.5) * family;
    path * (1.0 + refits) + SECONDS_PER_MN2 * m * n * n
}

/// Expected seconds of one run of a sweep cell (one analysis per series of its noise-free
/// simulation, each with its bootstrap), on one core, and the largest analysis in it.
pub fn run_seconds(
    options: &InvertOptions,
    rules: &[Rule],
    clean: &Simulation,
) -> (f64, Option<AnalysisSize>) {
    let resamples = options.uncertainty.map_or(0, |b| b.resamples) as f64;
    let mut largest: Option<AnalysisSize> = None;
    let seconds = clean
        .series
        .iter()
        .filter_map(|s| {
            let grid = options.grid(s.x[0], s.x[s.x.len() - 1]).ok()?;
            let size = AnalysisSize {
                points: grid.len(),
                data: s.x.len(),
                lambda_points: options.lambda_points,
            };
            if largest.is_none_or(|l| size.points > l.points) {
                largest = Some(size);
            }
            Some(analysis_seconds(size, rules, options.regularizer) * (1.0 + resamples))
        })
        .sum();
    (seconds, largest)
}

/// "12 s", "14 min", "2.1 h": a duration for a message.
pub fn duration_text(s: f64) -> String {
    if s < 120.0 {
        format!("{s:.0} s")
    } else if s < 7200.0 {
        format!("{:.0} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(points: usize) -> AnalysisSize {
        AnalysisSize {
            points,
            data: 200,
            lambda_points: 60,
        }
    }

    #[test]
    fn the_estimate_reproduces_its_measurements_within_a_factor_of_two() {
        // The measurements the constants come from (module docs).
        for (points, seconds) in [(200, 0.14), (400, 1.33), (800, 16.3)] {
            let e = analysis_seconds(size(points), &[Rule::Gcv], Regularizer::Tikhonov);
            assert!(
                e > seconds / 2.0 && e < seconds * 2.0,
                "N = {points}: {e} s against {seconds} s"
            );
        }
    }

    #[test]
    fn refits_and_log_space_families_cost_more() {
        let base = analysis_seconds(size(300), &[Rule::Gcv], Regularizer::Tikhonov);
        let kfold = analysis_seconds(
            size(300),
            &[Rule::Kfold { folds: 5 }],
            Regularizer::Tikhonov,
        );
        let maxent = analysis_seconds(size(300), &[Rule::Gcv], Regularizer::MaxEnt);
        assert!(kfold > 5.0 * base && maxent > 5.0 * base);
        assert_eq!(duration_text(12.0), "12 s");
        assert_eq!(duration_text(600.0), "10 min");
        assert_eq!(duration_text(7200.0), "2.0 h");
    }
}
