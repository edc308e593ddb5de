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

/// Noise-free data of the grid weights `weights` through `kernel` at the times `t`.
fn on_grid_data(kernel: Kernel, grid: LnTauGrid, t: &[f64], weights: &[f64]) -> Vec<f64> {
    t.iter()
        .map(|&ti| {
            (0..grid.len())
                .map(|j| weights[j] * kernel.eval(ti, grid.tau_s(j)))
                .sum()
        })
        .collect()
}

/// The grid (5 per decade over 1e-1..1e9 s), 200 times over 1..1e8 s and four delta peaks on the
/// grid.
fn four_deltas() -> (LnTauGrid, Vec<f64>, Vec<f64>) {
    let grid = LnTauGrid::with_density(1e-1, 1e9, 5.0).unwrap();
    let t = log_times(1.0, 1e8, 200);
    let mut truth = vec![0.0; grid.len()];
    for (j, a) in [(8, 0.01), (18, 0.03), (28, 0.02), (38, 0.05)] {
        truth[j] = a;
    }
    (grid, t, truth)
}

#[test]
fn noise_free_on_grid_amplitudes_come_back_at_tiny_lambda() {
    let (grid, t, truth) = four_deltas();
    for kernel in [Kernel::Decay, Kernel::Creep] {
        let y = on_grid_data(kernel, grid, &t, &truth);
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
    let (grid, t, truth) = four_deltas();
    for kernel in [Kernel::Decay, Kernel::Creep] {
        // With a constant baseline of 0.002.
        let y: Vec<f64> = on_grid_data(kernel, grid, &t, &truth)
            .iter()
            .map(|v| 0.002 + v)
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

/// The linearized standard error of a peak's area against the scatter of that area over 400
/// noise draws solved at the same lambda (an independent estimate): two broad peaks at a lambda
/// where no draw changes the solution's free set, so that the area is linear in the data and the
/// formula exact. For any random stream, the sample standard deviation s of n = 400 draws lies
/// within [0.82, 1.18] of the true one with probability above 1 - 2e-6 (chi-square quantiles of
/// (n - 1) s^2 / sigma^2), with sigma given and with sigma estimated from each draw's weakest fit.
#[test]
fn the_peak_area_standard_error_is_the_scatter_of_the_area() {
    use stzlab::noise::{rng_from_seed, NoiseModel};
    use stzlab::spectrum::find_peaks;
    let (grid, t, _) = four_deltas();
    // Two broad Gaussian peaks in ln tau on the same grid.
    let weights: Vec<f64> = (0..grid.len())
        .map(|j| {
            let x = grid.ln_tau(j);
            let g = |mu: f64, w: f64, a: f64| a * (-(x - mu).powi(2) / (2.0 * w * w)).exp();
            g(3.0, 1.2, 0.004) + g(12.0, 1.2, 0.006)
        })
        .collect();
    let clean = on_grid_data(Kernel::Decay, grid, &t, &weights);
    let sigma = 1e-4;
    let noise = NoiseModel::new(sigma, 0.0, 0.0, 0.0, 0.0).unwrap();
    for given in [true, false] {
        let s_col = vec![sigma; t.len()];
        let problem = |y: &[f64]| {
            Problem::new(
                &t,
                y,
                given.then_some(&s_col[..]),
                settings(Kernel::Decay, grid, Baseline::None),
            )
            .unwrap()
        };
        let p0 = problem(&clean);
        let (lo, hi) = p0.lambda_range();
        let mut ws = Workspace::new();
        // The noise variance in the weighted units: 1 with sigma given, else from the weakest
        // fit (as the path estimates it).
        let noise_variance = |p: &Problem, ws: &mut Workspace| {
            if given {
                return 1.0;
            }
            let mut c = p.zeros();
            let weakest = p.solve(p.lambda_range().0, &mut c, ws);
            weakest.stats.weighted_ss / (t.len() as f64 - weakest.stats.dof)
        };
        // Strong enough that no noise draw changes the free set (the noise-free solution is zero
        // at one end point only), weak enough to keep the two peaks apart.
        let lambda = lo * (hi / lo).powf(15.0 / 19.0);
        let mut coef = p0.zeros();
        let s0 = p0.solve(lambda, &mut coef, &mut ws);
        let zeros = |a: &[f64]| -> Vec<bool> { a.iter().map(|v| *v <= 0.0).collect() };
        let free_set = zeros(&s0.amplitudes);
        let peaks = find_peaks(p0.grid(), &s0.amplitudes, &PeakParams::default());
        assert_eq!(peaks.len(), 2, "{given}");
        let mut areas: Vec<Vec<f64>> = vec![Vec::new(); 2];
        let mut predicted = [0.0; 2];
        let draws = 400;
        for seed in 0..draws {
            let y = noise.apply(&t, &clean, &mut rng_from_seed(1000 + seed)).y;
            let p = problem(&y);
            let mut c = p.zeros();
            let s = p.solve(lambda, &mut c, &mut ws);
            assert_eq!(zeros(&s.amplitudes), free_set, "{given}: draw {seed}");
            let se = p.peak_area_stderr(&s, &peaks, noise_variance(&p, &mut ws));
            for (k, pk) in peaks.iter().enumerate() {
                // The area over the noise-free peak's points, the shared minimum counted half.
                let area: f64 = (pk.first..=pk.last)
                    .map(|j| {
                        let shared = (k == 0 && j == pk.last) || (k == 1 && j == pk.first);
                        s.amplitudes[j] * if shared { 0.5 } else { 1.0 }
                    })
                    .sum();
                areas[k].push(area);
                predicted[k] += se[k] / draws as f64;
            }
        }
        assert_eq!(
            peaks[0].last, peaks[1].first,
            "the peaks share their minimum"
        );
        for k in 0..2 {
            let n = areas[k].len() as f64;
            let mean = areas[k].iter().sum::<f64>() / n;
            let sd = (areas[k].iter().map(|a| (a - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
            let ratio = sd / predicted[k];
            assert!(
                (0.82..=1.18).contains(&ratio),
                "{given}: peak {k}: {sd:e} against {:e}",
                predicted[k]
            );
        }
    }
}

/// The linearized standard error of each baseline coefficient (c_inf and the creep slope B, in
/// data units) against the solver's own response to the data: on a fixed free set the solution is
/// linear in y, so central differences of re-solves with one datum moved at a time give its
/// gradient exactly, and sum_i (dc/dy_i)^2 sigma_i^2 is the variance the formula must give. A
/// coefficient held at its bound has none (NaN).
#[test]
fn the_baseline_standard_errors_are_the_solvers_response_to_the_data() {
    use stzlab::noise::{rng_from_seed, NoiseModel};
    let grid = LnTauGrid::with_density(1e-3, 1e5, 5.0).unwrap();
    let t = log_times(1e-2, 1e4, 120);
    let weights: Vec<f64> = (0..grid.len())
        .map(|j| {
            let x = grid.ln_tau(j);
            0.01 * (-(x - 1.0).powi(2) / (2.0 * 2.0f64.powi(2))).exp()
        })
        .collect();
    let sigma = 1e-4;
    let clean: Vec<f64> = on_grid_data(Kernel::Creep, grid, &t, &weights)
        .iter()
        .zip(&t)
        .map(|(y, ti)| y + 0.002 + 3e-8 * ti)
        .collect();
    let y = NoiseModel::new(sigma, 0.0, 0.0, 0.0, 0.0)
        .unwrap()
        .apply(&t, &clean, &mut rng_from_seed(3))
        .y;
    let s_col = vec![sigma; t.len()];
    let problem = |y: &[f64], nonnegative: bool| {
        Problem::new(
            &t,
            y,
            Some(&s_col),
            ProblemSettings {
                baseline_nonnegative: nonnegative,
                ..settings(Kernel::Creep, grid, Baseline::ConstantLinear)
            },
        )
        .unwrap()
    };
    let mut ws = Workspace::new();
    let p0 = problem(&y, false);
    let (lo, hi) = p0.lambda_range();
    let lambda = lo * (hi / lo).powf(0.7);
    let solve = |y: &[f64], ws: &mut Workspace| {
        let p = problem(y, false);
        let mut c = p.zeros();
        p.solve(lambda, &mut c, ws)
    };
    let s0 = solve(&y, &mut ws);
    let free = |s: &stzlab::inversion::Solution| -> Vec<bool> {
        s.amplitudes.iter().map(|a| *a > 0.0).collect()
    };
    let se = p0.baseline_stderr(&s0, 1.0);
    assert_eq!(se.len(), 2);
    let mut variance = [0.0; 2];
    let h = 0.01 * sigma;
    for i in 0..t.len() {
        let (mut up, mut down) = (y.clone(), y.clone());
        up[i] += h;
        down[i] -= h;
        let (su, sd) = (solve(&up, &mut ws), solve(&down, &mut ws));
        assert!(
            free(&su) == free(&s0) && free(&sd) == free(&s0),
            "datum {i}"
        );
        for (v, (bu, bd)) in variance
            .iter_mut()
            .zip(su.baseline.iter().zip(&sd.baseline))
        {
            *v += ((bu - bd) / (2.0 * h) * sigma).powi(2);
        }
    }
    for (k, (v, se)) in variance.iter().zip(&se).enumerate() {
        let fd = v.sqrt();
        assert!(
            (se / fd - 1.0).abs() < 1e-5,
            "coefficient {k}: {se:e} against the solver's {fd:e}"
        );
    }
    // A true offset below zero holds the constrained c_inf at 0: no error there.
    let shifted: Vec<f64> = y.iter().map(|v| v - 0.004).collect();
    let p = problem(&shifted, true);
    let mut c = p.zeros();
    let s = p.solve(lambda, &mut c, &mut ws);
    assert_eq!(s.baseline[0], 0.0, "c_inf at its bound");
    let se = p.baseline_stderr(&s, 1.0);
    assert!(se[0].is_nan(), "{se:?}");
}
