//! The inversion against known answers (docs/model.md §4).

use stzlab::inversion::{Baseline, Kernel, LambdaPath, Problem, ProblemSettings, Workspace};
use stzlab::spectrum::LnTauGrid;
use stzlab::spectrum::PeakParams;

fn log_times(start: f64, stop: f64, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| (start.ln() + (stop.ln() - start.ln()) * i as f64 / (n - 1) as f64).exp())
        .collect()
}

fn settings(kernel: Kernel, grid: LnTauGrid, baseline: Baseline) -> ProblemSettings {
    ProblemSettings {
        baseline,
        ..ProblemSettings::new(kernel, grid)
    }
}

#[test]
fn noise_free_on_grid_amplitudes_come_back_at_tiny_lambda() {
    let grid = LnTauGrid::with_density(1e-1, 1e9, 5.0).unwrap();
    let t = log_times(1.0, 1e8, 200);
    let mut truth = vec![0.0; grid.len()];
    for (j, a) in [(8, 0.01), (18, 0.03), (28, 0.02), (38, 0.05)] {
        truth[j] = a;
    }
    for kernel in [Kernel::Decay, Kernel::Creep] {
        let y: Vec<f64> = t
            .iter()
            .map(|&ti| {
                (0..grid.len())
                    .map(|j| truth[j] * kernel.eval(ti, grid.tau_s(j)))
                    .sum()
            })
            .collect();
        let p = Problem::new(&t, &y, None, settings(kernel, grid, Baseline::None)).unwrap();
        let (lmin, _) = p.lambda_range();
        let mut coef = p.zeros();
        let sol = p.solve(lmin, &mut coef, &mut Workspace::new());
        for (j, (got, want)) in sol.amplitudes.iter().zip(&truth).enumerate() {
            assert!(
                (got - want).abs() < 1e-6,
                "{kernel:?} j = {j}: {got} vs {want}"
            );
        }
        assert!(sol.info.kkt_residual < 1e-9, "{:?}", sol.info);
    }
}

/// ||W r||^2 of every path point equals the sum of the squared residuals formed from the design,
/// down to the weak end of noise-free on-grid data, where it is ~1e-18 of ||W y||^2 and the
/// expansion y'y - 2 x'h + x'Gx would be rounding error (issue 11).
#[test]
fn the_residual_norm_is_exact_down_to_noise_free_fits() {
    let grid = LnTauGrid::with_density(1e-1, 1e9, 5.0).unwrap();
    let t = log_times(1.0, 1e8, 200);
    let mut truth = vec![0.0; grid.len()];
    for (j, a) in [(8, 0.01), (18, 0.03), (28, 0.02), (38, 0.05)] {
        truth[j] = a;
    }
    for kernel in [Kernel::Decay, Kernel::Creep] {
        let y: Vec<f64> = t
            .iter()
            .map(|&ti| {
                0.002
                    + (0..grid.len())
                        .map(|j| truth[j] * kernel.eval(ti, grid.tau_s(j)))
                        .sum::<f64>()
            })
            .collect();
        let p = Problem::new(&t, &y, None, settings(kernel, grid, Baseline::Constant)).unwrap();
        let path = LambdaPath::compute(&p, 40, &PeakParams::default(), &mut Workspace::new());
        let yy: f64 = y.iter().map(|v| v * v).sum();
        let mut smallest = f64::INFINITY;
        for point in &path.points {
            let direct: f64 = p
                .weighted_residuals(&point.solution)
                .iter()
                .map(|r| r * r)
                .sum();
            let got = point.solution.stats.weighted_ss;
            assert!(
                (got - direct).abs() <= 1e-6 * direct,
                "{kernel:?} lambda {}: {got:e} vs {direct:e}",
                point.lambda()
            );
            smallest = smallest.min(direct / yy);
        }
        // The weak end is a fit far below the expansion's rounding (1e-16 of ||W y||^2).
        assert!(smallest < 1e-15, "{kernel:?}: {smallest:e}");
    }
}

#[test]
fn single_exponential_is_recovered_at_its_tau() {
    let grid = LnTauGrid::with_density(1e-1, 1e7, 5.0).unwrap();
    let t = log_times(1.0, 1e6, 150);
    let tau = 3.7e3;
    let y: Vec<f64> = t
        .iter()
        .map(|ti| 0.04 * (-ti / tau).exp() + 0.001)
        .collect();
    let p = Problem::new(
        &t,
        &y,
        None,
        settings(Kernel::Decay, grid, Baseline::Constant),
    )
    .unwrap();
    let (lmin, lmax) = p.lambda_range();
    let mut coef = p.zeros();
    let mut ws = Workspace::new();
    let sol = p.solve(
        (lmin * lmin * lmin * lmax).sqrt().sqrt(),
        &mut coef,
        &mut ws,
    );
    let area: f64 = sol.amplitudes.iter().sum();
    let centroid = sol
        .amplitudes
        .iter()
        .enumerate()
        .map(|(j, a)| a * grid.ln_tau(j))
        .sum::<f64>()
        / area;
    assert!((area - 0.04).abs() < 1e-4, "area {area}");
    assert!(
        (centroid - tau.ln()).abs() < 0.02,
        "centroid tau {}",
        centroid.exp()
    );
    // The grid reaches a decade past the data, where a smoothed tail (exp(-t/1e7 s) >= 0.9 over the
    // window) and c_inf are nearly interchangeable: c_inf is determined to a few per cent only.
    assert!(
        (sol.baseline[0] - 0.001).abs() < 5e-5,
        "c_inf {}",
        sol.baseline[0]
    );
}
