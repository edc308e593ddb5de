//! The log-space families' peak area errors against the scatter of the area over noise draws.

use super::*;
use crate::inversion::{Baseline, Kernel, ProblemSettings};
use crate::noise::{rng_from_seed, NoiseModel};
use crate::spectrum::LnTauGrid;

/// At a fixed lambda, the linearized error of each peak's area is the standard deviation of the
/// area over noise draws, for log-smooth and for maxent: two broad peaks seen through decay data
/// with sigma given, each draw solved from the noise-free solution. For any random stream the
/// sample standard deviation s of n = 400 draws lies within [0.82, 1.18] of the true one with
/// probability above 1 - 2e-6 (chi-square quantiles of (n - 1) s^2 / sigma^2); the noise is small
/// against the peaks (their areas 4e-3 and 6e-3, errors near 2e-5), so that the first-order
/// error is the error.
#[test]
fn the_peak_area_standard_error_is_the_scatter_of_the_area() {
    let grid = LnTauGrid::new(1e-1, 1e5, 25).unwrap();
    let t: Vec<f64> = (0..80).map(|i| 10f64.powf(4.0 * i as f64 / 79.0)).collect();
    let density = |x: f64| {
        let g = |mu: f64, w: f64, a: f64| {
            a / (w * (2.0 * std::f64::consts::PI).sqrt())
                * (-(x - mu).powi(2) / (2.0 * w * w)).exp()
        };
        g(2.5, 0.8, 0.004) + g(7.0, 0.8, 0.006)
    };
    // Noise-free data by quadrature over a fine grid in ln tau.
    let fine: Vec<f64> = (0..4000).map(|k| -6.0 + 20.0 * k as f64 / 3999.0).collect();
    let dx = fine[1] - fine[0];
    let clean: Vec<f64> = t
        .iter()
        .map(|&ti| {
            fine.iter()
                .map(|&x| density(x) * (-ti / x.exp()).exp() * dx)
                .sum()
        })
        .collect();
    let sigma = 1e-5;
    let noise = NoiseModel::new(sigma, 0.0, 0.0, 0.0, 0.0).unwrap();
    let s_col = vec![sigma; t.len()];
    for prior in [Prior::Smooth, Prior::Entropy { ln_model: 0.0 }] {
        let order = if prior == Prior::Smooth { 3 } else { 2 };
        let problem = |y: &[f64]| {
            Problem::new(
                &t,
                y,
                Some(&s_col),
                ProblemSettings {
                    baseline: Baseline::None,
                    order,
                    ..ProblemSettings::new(Kernel::Decay, grid)
                },
            )
            .unwrap()
        };
        let p0 = problem(&clean);
        let ns = p0.n_spec();
        // The truth on the grid, internal units: the start of every solve.
        let truth: Vec<f64> = (0..ns)
            .map(|j| density(grid.ln_tau(j)) * grid.step() / p0.data_scale())
            .collect();
        let model = default_model(&p0, &truth);
        let prior = match prior {
            Prior::Smooth => prior,
            Prior::Entropy { .. } => Prior::Entropy {
                ln_model: model.ln(),
            },
        };
        let start = State {
            s: truth.iter().map(|v| v.max(1e-9 * model).ln()).collect(),
            b: Vec::new(),
        };
        let solve = |p: &Problem, l2: f64| {
            let parts = Parts::of(p, prior);
            let mut st = State {
                s: start.s.clone(),
                b: Vec::new(),
            };
            let info = minimize(&parts, &mut st, l2);
            let rank = prior_rank(p, prior);
            let ss_tot = p.sums_of_squares().1;
            let (fit, _) = stats(p, &parts, &st, l2, ss_tot, rank, t.len() as f64);
            p.solution(l2.sqrt(), &parts.coefficients(&st), info, fit)
        };
        // The lambda of the discrepancy principle on one draw's path (chi^2 nearest M).
        let pd = problem(&noise.apply(&t, &clean, &mut rng_from_seed(4999)).y);
        let path = match prior {
            Prior::Smooth => log_smooth_path(&pd, 30, &truth, &PeakParams::default()),
            Prior::Entropy { .. } => maxent_path(&pd, 30, &truth, model, &PeakParams::default()),
        };
        let m = t.len() as f64;
        let chosen = path
            .points
            .iter()
            .min_by(|a, b| {
                let d = |p: &PathPoint| (p.solution.stats.weighted_ss - m).abs();
                d(a).total_cmp(&d(b))
            })
            .unwrap();
        let l2 = chosen.solution.lambda.powi(2);
        let s0 = solve(&p0, l2);
        let peaks = find_peaks(p0.grid(), &s0.amplitudes, &PeakParams::default());
        assert!(peaks.len() >= 2, "{prior:?}");
        let draws = 400;
        let mut areas: Vec<Vec<f64>> = vec![Vec::new(); peaks.len()];
        let mut predicted = vec![0.0; peaks.len()];
        for seed in 0..draws {
            let y = noise.apply(&t, &clean, &mut rng_from_seed(5000 + seed)).y;
            let p = problem(&y);
            let s = solve(&p, l2);
            let se = peak_area_stderr(&p, prior, &s, &peaks, 1.0);
            for k in 0..peaks.len() {
                let area: f64 = (0..ns).map(|j| s.amplitudes[j] * peaks[k].weight(j)).sum();
                areas[k].push(area);
                predicted[k] += se[k] / draws as f64;
            }
        }
        for k in 0..peaks.len() {
            let n = areas[k].len() as f64;
            let mean = areas[k].iter().sum::<f64>() / n;
            let sd = (areas[k].iter().map(|a| (a - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
            let ratio = sd / predicted[k];
            assert!(
                (0.82..=1.18).contains(&ratio),
                "{prior:?}: peak {k}: {sd:e} against {:e}",
                predicted[k]
            );
        }
    }
}
