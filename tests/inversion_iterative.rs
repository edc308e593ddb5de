//! The iterative mode (the paper's practice) against the active-set NNLS and its own invariants.

use stzlab::inversion::iterative::{iterative_scan, IterativeParams};
use stzlab::inversion::{Baseline, Kernel, Problem, ProblemSettings, Workspace};
use stzlab::spectrum::LnTauGrid;

fn log_times(start: f64, stop: f64, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| (start.ln() + (stop.ln() - start.ln()) * i as f64 / (n - 1) as f64).exp())
        .collect()
}

fn problem(grid: LnTauGrid, y: impl Fn(f64) -> f64, baseline: Baseline) -> Problem {
    let t = log_times(1.0, 1e4, 80);
    let y: Vec<f64> = t.iter().map(|&ti| y(ti)).collect();
    Problem::new(
        &t,
        &y,
        None,
        ProblemSettings {
            baseline,
            ..ProblemSettings::new(Kernel::Decay, grid)
        },
    )
    .unwrap()
}

#[test]
fn misfit_falls_along_the_scan_and_the_tightest_point_reaches_the_nnls_optimum() {
    // A coarse grid (1 per decade) keeps the unpenalized problem well enough conditioned for the
    // projected gradient to converge within the iteration limit.
    let grid = LnTauGrid::with_density(1.0, 1e4, 1.0).unwrap();
    let p = problem(
        grid,
        |t| 0.3 * (-t / 20.0).exp() + 0.5 * (-t / 900.0).exp() + 0.05,
        Baseline::Constant,
    );
    let params = IterativeParams {
        tol_tight: 1e-14,
        max_iterations: 2_000_000,
        ..IterativeParams::default()
    };
    let scan = iterative_scan(&p, &params, &mut Workspace::new());
    assert!(scan.points.len() > 40, "{} points", scan.points.len());
    for w in scan.points.windows(2) {
        assert!(w[1].iterations >= w[0].iterations);
        assert!(w[1].tolerance < w[0].tolerance);
        assert!(
            w[1].solution.stats.weighted_ss <= w[0].solution.stats.weighted_ss * (1.0 + 1e-12),
            "misfit rose: {} -> {}",
            w[0].solution.stats.weighted_ss,
            w[1].solution.stats.weighted_ss
        );
        assert!(w
            .iter()
            .all(|q| q.solution.amplitudes.iter().all(|a| *a >= 0.0)));
    }
    // The unpenalized optimum from the active-set solver at lambda = 0.
    let mut coef = p.zeros();
    let exact = p.solve(0.0, &mut coef, &mut Workspace::new());
    let last = scan.points.last().unwrap();
    let (ours, theirs) = (last.solution.stats.weighted_ss, exact.stats.weighted_ss);
    let yy: f64 = p.y().iter().map(|v| v * v).sum();
    assert!(
        ours - theirs <= 1e-9 * yy && ours >= theirs - 1e-12 * yy,
        "iterative {ours:e} vs NNLS {theirs:e} (||y||^2 {yy:e})"
    );
    // The loosest point is far from it: the tolerance is what regularizes.
    let first = scan.points[0].solution.stats.weighted_ss;
    assert!(
        first > 10.0 * ours,
        "loosest {first:e} vs tightest {ours:e}"
    );
}

#[test]
fn r2_onset_picks_the_first_tolerance_on_the_plateau() {
    let grid = LnTauGrid::with_density(0.1, 1e5, 5.0).unwrap();
    let p = problem(
        grid,
        |t| 0.3 * (-t / 20.0).exp() + 0.5 * (-t / 900.0).exp(),
        Baseline::Constant,
    );
    let params = IterativeParams::default();
    let scan = iterative_scan(&p, &params, &mut Workspace::new());
    let misfit: Vec<f64> = scan
        .points
        .iter()
        .map(|q| q.solution.stats.weighted_ss)
        .collect();
    let best = misfit.iter().copied().fold(f64::INFINITY, f64::min);
    let k = scan.chosen;
    assert!(misfit[k] <= (1.0 + params.threshold) * best);
    if k > 0 {
        assert!(misfit[k - 1] > (1.0 + params.threshold) * best);
    }
    // The chosen iterate is a good fit of noise-free data with positive amplitudes near both taus.
    let a = &scan.points[k].solution.amplitudes;
    let near = |tau: f64| -> f64 {
        (0..grid.len())
            .filter(|&j| (grid.ln_tau(j) - tau.ln()).abs() < 1.5)
            .map(|j| a[j])
            .sum()
    };
    assert!((near(20.0) - 0.3).abs() < 0.05, "{}", near(20.0));
    assert!((near(900.0) - 0.5).abs() < 0.05, "{}", near(900.0));
}
