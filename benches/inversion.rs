//! The inversion's hot path (issue 3 targets, single-threaded): one NNLS solve at a fixed lambda with
//! N = 60 grid points and M = 1000 data, and one full analysis (kernel and Gram matrix, a 60-point
//! lambda path, every rule on it, peaks). The iterative mode is benchmarked separately: it is an
//! option, not part of the standard analysis.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use stzlab::analysis::PeakParams;
use stzlab::inversion::iterative::{iterative_scan, IterativeParams};
use stzlab::inversion::{
    analyse, Baseline, Bootstrap, InvertOptions, Kernel, Problem, ProblemSettings, Regularizer,
    Rule, Workspace,
};
use stzlab::noise::{rng_from_seed, NoiseModel};
use stzlab::pipeline::uncertainty::bootstrap;
use stzlab::spectrum::LnTauGrid;

const M: usize = 1000;
const N: usize = 60;

/// Al-Ni-Y-like recovery data: eight quantized decays, 10 s .. 1e8 s, white noise 1e-4.
fn data() -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let c = [0.002, 0.003, 0.005, 0.008, 0.012, 0.02, 0.03, 0.05];
    let t: Vec<f64> = (0..M)
        .map(|i| 10f64 * 1e7f64.powf(i as f64 / (M - 1) as f64))
        .collect();
    let clean: Vec<f64> = t
        .iter()
        .map(|&ti| {
            c.iter()
                .enumerate()
                .map(|(k, a)| a * (-ti / (1.83 * 10f64.powi(k as i32))).exp())
                .sum()
        })
        .collect();
    let noise = NoiseModel::new(1e-4, 0.0, 0.0, 0.0, 0.0).unwrap();
    let noisy = noise.apply(&t, &clean, &mut rng_from_seed(7));
    (t, noisy.y, noisy.sigma)
}

fn problem(t: &[f64], y: &[f64], sigma: &[f64]) -> Problem {
    problem_n(t, y, sigma, N)
}

fn problem_n(t: &[f64], y: &[f64], sigma: &[f64], n: usize) -> Problem {
    problem_n_order(t, y, sigma, n, Regularizer::Tikhonov.default_order())
}

fn problem_n_order(t: &[f64], y: &[f64], sigma: &[f64], n: usize, order: usize) -> Problem {
    // One decade beyond the data on each side, n points.
    let grid = LnTauGrid::new(1.0, 1e9, n).unwrap();
    Problem::new(
        t,
        y,
        Some(sigma),
        ProblemSettings {
            baseline: Baseline::Constant,
            order,
            ..ProblemSettings::new(Kernel::Decay, grid)
        },
    )
    .unwrap()
}

fn inversion(c: &mut Criterion) {
    let (t, y, sigma) = data();
    let p = problem(&t, &y, &sigma);
    let mut ws = Workspace::new();
    // The lambda the discrepancy rule picks for these data: a typical operating point.
    let rules = [Rule::parse("discrepancy").unwrap()];
    let a = analyse(
        &p,
        60,
        &rules,
        &PeakParams::default(),
        Regularizer::Tikhonov,
        &mut ws,
    );
    let lambda = a.results[0].choice.solution.lambda;

    c.bench_function("nnls_solve_fixed_lambda_n60_m1000_cold", |b| {
        b.iter(|| {
            let mut coef = p.zeros();
            black_box(p.solve(black_box(lambda), &mut coef, &mut ws))
        })
    });

    let all = Rule::all_defaults();
    c.bench_function("full_analysis_n60_m1000_path60_all_rules", |b| {
        b.iter(|| {
            let p = problem(black_box(&t), black_box(&y), &sigma);
            black_box(analyse(
                &p,
                60,
                &all,
                &PeakParams::default(),
                Regularizer::Tikhonov,
                &mut ws,
            ))
        })
    });

    // Every rule that works on the path (the classic five, consensus, quasi-optimality, evidence,
    // robust GCV; not k-fold, which refits the path once per fold), with N in the id.
    let on_path: Vec<Rule> = Rule::all_on_path()
        .into_iter()
        .filter(|r| Regularizer::Tikhonov.applies(*r))
        .collect();
    let mut group = c.benchmark_group("full_analysis_m1000_path60_every_path_rule");
    for n in [60usize, 150] {
        group.bench_function(format!("n{n}"), |b| {
            b.iter(|| {
                let p = problem_n(black_box(&t), black_box(&y), &sigma, n);
                black_box(analyse(
                    &p,
                    60,
                    &on_path,
                    &PeakParams::default(),
                    Regularizer::Tikhonov,
                    &mut ws,
                ))
            })
        });
    }
    group.finish();

    // The bootstrap (issue 14 target: B = 200 in <= 1 s on 2 cores): 200 resampled data sets, each
    // re-analysed with the default rule over the same 60-point path, on the global rayon pool.
    let mut options = InvertOptions::new(Kernel::Decay);
    options.tau_min_s = Some(1.0);
    options.tau_max_s = Some(1e9);
    options.points = Some(N);
    let rule = [options.rule];
    let chosen = analyse(
        &p,
        60,
        &rule,
        &PeakParams::default(),
        Regularizer::Tikhonov,
        &mut ws,
    )
    .results[0]
        .clone();
    let mut group = c.benchmark_group("bootstrap");
    group.sample_size(10);
    group.bench_function(
        format!(
            "b200_n60_m1000_path60_{}_threads{}",
            options.rule.name(),
            rayon::current_num_threads()
        ),
        |b| {
            b.iter(|| {
                let settings = Bootstrap::new(200, 1).unwrap();
                black_box(bootstrap(&p, &chosen, &options, None, settings, &()))
            })
        },
    );
    group.finish();

    let mut group = c.benchmark_group("iterative_mode");
    group.sample_size(10);
    group.bench_function("scan_n60_m1000", |b| {
        b.iter(|| black_box(iterative_scan(&p, &IterativeParams::default(), &mut ws)))
    });
    group.finish();
}

/// Issue 12 target: a full log-smooth or maxent analysis (a 30-point path from the strongest
/// Tikhonov solution, every rule on the path that applies to the family, the family's default
/// penalty order) with N = 100 and M = 200, single-threaded, beside the same analysis with
/// Tikhonov.
fn regularizers(c: &mut Criterion) {
    let (t, y, sigma) = data();
    let every = |v: &[f64]| v.iter().step_by(M / 200).copied().collect::<Vec<f64>>();
    let (t, y, sigma) = (every(&t), every(&y), every(&sigma));
    let mut ws = Workspace::new();
    let mut group = c.benchmark_group("full_analysis_n100_m200_path30");
    group.sample_size(10);
    for family in Regularizer::ALL {
        let rules: Vec<Rule> = Rule::all_on_path()
            .into_iter()
            .filter(|r| family.applies(*r))
            .collect();
        group.bench_function(family.name(), |b| {
            b.iter(|| {
                let p = problem_n_order(
                    black_box(&t),
                    black_box(&y),
                    &sigma,
                    100,
                    family.default_order(),
                );
                black_box(analyse(
                    &p,
                    30,
                    &rules,
                    &PeakParams::default(),
                    family,
                    &mut ws,
                ))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, inversion, regularizers);
criterion_main!(benches);
