//! The solver and the rules against independent methods and invariances (docs/model.md §4).

use clarabel::algebra::CscMatrix;
use clarabel::solver::{DefaultSettings, DefaultSolver, IPSolver, NonnegativeConeT};
use faer::linalg::solvers::Solve;
use proptest::prelude::*;
use statrs::function::beta::beta_reg;
use stzlab::analysis::PeakParams;
use stzlab::inversion::penalty::difference_operator;
use stzlab::inversion::{
    analyse, Baseline, Kernel, LambdaPath, PathScores, Problem, ProblemSettings, Regularizer, Rule,
    Workspace,
};
use stzlab::spectrum::LnTauGrid;

/// Objectives agree to this fraction of ||W y||^2 (clarabel is an interior-point method, accurate
/// to about 1e-8 in its default settings).
const OBJECTIVE_REL_TOL: f64 = 1e-7;

mod common;
use common::Case;

fn case(m: usize, n: usize, seed: u64, noise: f64) -> Case {
    common::two_peak_decay(m, n, seed, noise, 0.05)
}

fn settings(grid: LnTauGrid, baseline: Baseline) -> ProblemSettings {
    ProblemSettings {
        baseline,
        ..ProblemSettings::new(Kernel::Decay, grid)
    }
}

/// The weighted design [W K, W 1] and penalty rows, built independently of the library's problem.
fn design(c: &Case, with_constant: bool) -> (Vec<Vec<f64>>, usize, Vec<f64>) {
    let n = c.grid.len();
    let rows: Vec<Vec<f64>> =
        c.x.iter()
            .zip(&c.sigma)
            .map(|(&t, &s)| {
                let mut r: Vec<f64> = (0..n).map(|j| (-t / c.grid.tau_s(j)).exp() / s).collect();
                if with_constant {
                    r.push(1.0 / s);
                }
                r
            })
            .collect();
    let (l_rows, l) = difference_operator(n, 2, false);
    (rows, l_rows, l)
}

fn objective(
    c: &Case,
    rows: &[Vec<f64>],
    l_rows: usize,
    l: &[f64],
    lambda: f64,
    coef: &[f64],
) -> f64 {
    let n = c.grid.len();
    let data: f64 = rows
        .iter()
        .zip(&c.y)
        .zip(&c.sigma)
        .map(|((r, y), s)| (r.iter().zip(coef).map(|(a, b)| a * b).sum::<f64>() - y / s).powi(2))
        .sum();
    let pen: f64 = (0..l_rows)
        .map(|k| (0..n).map(|j| l[k * n + j] * coef[j]).sum::<f64>().powi(2))
        .sum();
    data + lambda * lambda * pen
}

/// Solves the same problem with clarabel: min 1/2 x'Px + q'x, spectrum >= 0, constant free.
fn clarabel_solution(
    rows: &[Vec<f64>],
    y_w: &[f64],
    l_rows: usize,
    l: &[f64],
    n_spec: usize,
    lambda: f64,
) -> Vec<f64> {
    let n = rows[0].len();
    let mut p = vec![vec![0.0; n]; n];
    let mut q = vec![0.0; n];
    for (r, yw) in rows.iter().zip(y_w) {
        for i in 0..n {
            q[i] -= 2.0 * r[i] * yw;
            for j in 0..n {
                p[i][j] += 2.0 * r[i] * r[j];
            }
        }
    }
    for k in 0..l_rows {
        for i in 0..n_spec {
            for j in 0..n_spec {
                p[i][j] += 2.0 * lambda * lambda * l[k * n_spec + i] * l[k * n_spec + j];
            }
        }
    }
    let (mut ii, mut jj, mut vv) = (vec![], vec![], vec![]);
    for j in 0..n {
        for (i, row) in p.iter().enumerate().take(j + 1) {
            if row[j] != 0.0 {
                ii.push(i);
                jj.push(j);
                vv.push(row[j]);
            }
        }
    }
    let pm = CscMatrix::new_from_triplets(n, n, ii, jj, vv);
    let am = CscMatrix::new_from_triplets(
        n_spec,
        n,
        (0..n_spec).collect(),
        (0..n_spec).collect(),
        vec![-1.0; n_spec],
    );
    let s = DefaultSettings {
        verbose: false,
        tol_gap_abs: 1e-12,
        tol_gap_rel: 1e-12,
        tol_feas: 1e-12,
        ..DefaultSettings::default()
    };
    let mut solver = DefaultSolver::new(
        &pm,
        &q,
        &am,
        &vec![0.0; n_spec],
        &[NonnegativeConeT(n_spec)],
        s,
    )
    .unwrap();
    solver.solve();
    solver.solution.x.clone()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn objective_matches_clarabel_and_kkt_holds(m in 20usize..60, n in 6usize..20, seed in 0u64..1000, log_rel in -8.0f64..0.0, noise in 1e-4f64..1e-2) {
        let c = case(m, n, seed, noise);
        let p = Problem::new(&c.x, &c.y, Some(&c.sigma), settings(c.grid, Baseline::Constant)).unwrap();
        let (lo, hi) = p.lambda_range();
        let lambda = (lo.ln() + (hi.ln() - lo.ln()) * (1.0 + log_rel / 8.0)).exp();
        let mut coef = p.zeros();
        let sol = p.solve(lambda, &mut coef, &mut Workspace::new());
        prop_assert!(sol.amplitudes.iter().all(|&a| a >= 0.0));
        prop_assert!(sol.info.kkt_residual < 1e-9, "{:?}", sol.info);

        let (rows, l_rows, l) = design(&c, true);
        let mut ours = sol.amplitudes.clone();
        ours.push(sol.baseline[0]);
        let y_w: Vec<f64> = c.y.iter().zip(&c.sigma).map(|(y, s)| y / s).collect();
        let theirs = clarabel_solution(&rows, &y_w, l_rows, &l, n, lambda);
        let scale: f64 = y_w.iter().map(|v| v * v).sum();
        let f_ours = objective(&c, &rows, l_rows, &l, lambda, &ours);
        let f_theirs = objective(&c, &rows, l_rows, &l, lambda, &theirs);
        prop_assert!(f_ours <= f_theirs + OBJECTIVE_REL_TOL * scale, "ours {} clarabel {}", f_ours, f_theirs);
        // The library's own residual statistic agrees with the independent objective.
        let pen = sol.stats.penalty_norm * sol.stats.penalty_norm;
        prop_assert!((sol.stats.weighted_ss + lambda * lambda * pen - f_ours).abs() <= 1e-9 * scale);
    }

    #[test]
    fn objective_matches_the_nnls_crate_without_baseline(m in 20usize..60, n in 6usize..20, seed in 0u64..1000, log_rel in -8.0f64..0.0) {
        let c = case(m, n, seed, 1e-3);
        let p = Problem::new(&c.x, &c.y, Some(&c.sigma), settings(c.grid, Baseline::None)).unwrap();
        let (lo, hi) = p.lambda_range();
        let lambda = (lo.ln() + (hi.ln() - lo.ln()) * (1.0 + log_rel / 8.0)).exp();
        let mut coef = p.zeros();
        let sol = p.solve(lambda, &mut coef, &mut Workspace::new());
        let (rows, l_rows, l) = design(&c, false);
        // Stack [A; lambda L] and [y_w; 0] for the plain NNLS.
        let total = m + l_rows;
        let a = ndarray::Array2::from_shape_fn((total, n), |(i, j)| if i < m { rows[i][j] } else { lambda * l[(i - m) * n + j] });
        let b = ndarray::Array1::from_shape_fn(total, |i| if i < m { c.y[i] / c.sigma[i] } else { 0.0 });
        let (x, _) = nnls::nnls(a.view(), b.view());
        let scale: f64 = b.iter().map(|v| v * v).sum();
        let f_ours = objective(&c, &rows, l_rows, &l, lambda, &sol.amplitudes);
        let f_theirs = objective(&c, &rows, l_rows, &l, lambda, x.as_slice().unwrap());
        prop_assert!(f_ours <= f_theirs + 1e-10 * scale, "ours {} nnls {}", f_ours, f_theirs);
        prop_assert!((f_ours - f_theirs).abs() <= 1e-8 * scale, "ours {} nnls {}", f_ours, f_theirs);
    }
}

fn mandrel_case() -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let scenario = stzlab::scenario::Scenario::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/al-ni-y-mandrel.toml"
    )))
    .unwrap();
    let sim = stzlab::pipeline::simulate::simulate(&scenario).unwrap();
    let s = &sim.series[0];
    (s.x.clone(), s.y.clone(), s.sigma.clone().unwrap())
}

/// The problem of the data (and sigma, when `with_sigma`) times `factor`, with a constant baseline.
fn scaled_problem(
    x: &[f64],
    y: &[f64],
    sigma: &[f64],
    factor: f64,
    with_sigma: bool,
    grid: LnTauGrid,
) -> Problem {
    let ys: Vec<f64> = y.iter().map(|v| v * factor).collect();
    let ss: Vec<f64> = sigma.iter().map(|v| v * factor).collect();
    Problem::new(
        x,
        &ys,
        with_sigma.then_some(&ss[..]),
        settings(grid, Baseline::Constant),
    )
    .unwrap()
}

#[test]
fn every_rule_is_scale_free() {
    let (x, y, sigma) = mandrel_case();
    let grid = LnTauGrid::with_density(1.0, 1e9, 5.0).unwrap();
    let run = |factor: f64, with_sigma: bool| {
        let p = scaled_problem(&x, &y, &sigma, factor, with_sigma, grid);
        let mut rules = Rule::all_defaults();
        rules.push(Rule::parse("iterative").unwrap());
        analyse(
            &p,
            60,
            &rules,
            &PeakParams::default(),
            Regularizer::Tikhonov,
            &mut Workspace::new(),
        )
    };
    for with_sigma in [true, false] {
        let (a, b) = (run(1.0, with_sigma), run(100.0, with_sigma));
        assert_eq!(a.results.len(), 6);
        for (ra, rb) in a.results.iter().zip(&b.results) {
            let name = ra.choice.rule.name();
            assert_eq!(
                ra.choice.index, rb.choice.index,
                "{name} (sigma given: {with_sigma})"
            );
            assert_eq!(
                ra.choice.stopping, rb.choice.stopping,
                "{name} (sigma given: {with_sigma})"
            );
            if name == "iterative" {
                // No penalty: lambda is 0 on both; the choice is the stopping tolerance above.
                assert!(ra.choice.stopping.is_some());
                assert_eq!(
                    (ra.choice.solution.lambda, rb.choice.solution.lambda),
                    (0.0, 0.0)
                );
            } else {
                // With sigma scaled too the weights shrink by 100 and so does lambda; without sigma
                // the weights are 1 and lambda stays.
                let lambda_ratio = if with_sigma { 0.01 } else { 1.0 };
                let ratio = rb.choice.solution.lambda / ra.choice.solution.lambda;
                assert!(
                    (ratio / lambda_ratio - 1.0).abs() < 1e-6,
                    "{name}: lambda ratio {ratio}"
                );
            }
            let peak = ra
                .choice
                .solution
                .amplitudes
                .iter()
                .copied()
                .fold(0.0, f64::max);
            for (u, v) in ra
                .choice
                .solution
                .amplitudes
                .iter()
                .zip(&rb.choice.solution.amplitudes)
            {
                assert!(
                    (100.0 * u - v).abs() <= 1e-6 * 100.0 * peak,
                    "{name}: {u} x 100 vs {v}"
                );
            }
            assert_eq!(ra.peaks.len(), rb.peaks.len(), "{name}");
        }
    }
}

/// Issue 15: data from 1e-200 to 1e200 (with sigma or without) are divided internally by a power
/// of two, so every rule makes the same choice as on the data themselves, and the amplitudes, the
/// baseline and the fit come back in the data's unit: the same numbers times the factor.
#[test]
fn every_rule_chooses_the_same_at_any_data_scale() {
    let (x, y, sigma) = mandrel_case();
    let grid = LnTauGrid::with_density(1.0, 1e9, 5.0).unwrap();
    let mut rules: Vec<Rule> = Rule::all_on_path()
        .into_iter()
        .filter(|r| Regularizer::Tikhonov.applies(*r))
        .collect();
    rules.extend([
        Rule::parse("iterative").unwrap(),
        Rule::parse("kfold").unwrap(),
    ]);
    let run = |factor: f64, with_sigma: bool| {
        let p = scaled_problem(&x, &y, &sigma, factor, with_sigma, grid);
        let a = analyse(
            &p,
            40,
            &rules,
            &PeakParams::default(),
            Regularizer::Tikhonov,
            &mut Workspace::new(),
        );
        (p, a)
    };
    for with_sigma in [true, false] {
        let (p0, a0) = run(1.0, with_sigma);
        assert_eq!(p0.data_scale(), 1.0);
        assert_eq!(a0.results.len(), rules.len());
        for factor in [1e-200, 1e-120, 1e120, 1e200] {
            let (p, a) = run(factor, with_sigma);
            let scale = p.data_scale();
            // The power of two nearest the largest |y|.
            let largest = y.iter().fold(0.0f64, |m, v| m.max(v.abs())) * factor;
            assert!(
                scale.log2().fract() == 0.0 && (0.7..=1.42).contains(&(scale / largest)),
                "scale {scale:e} for data up to {largest:e}"
            );
            for (r0, r) in a0.results.iter().zip(&a.results) {
                let name = format!(
                    "{} at {factor:e}, sigma {with_sigma}",
                    r0.choice.rule.name()
                );
                assert_eq!(r0.choice.index, r.choice.index, "{name}");
                assert_eq!(r0.choice.stopping, r.choice.stopping, "{name}");
                assert_eq!(r0.choice.status, r.choice.status, "{name}");
                assert_eq!(r0.peaks.len(), r.peaks.len(), "{name}");
                let (s0, s) = (&r0.choice.solution, &r.choice.solution);
                let close = |u: f64, v: f64, of: f64| (v / factor - u).abs() <= 1e-6 * of;
                let peak = s0.amplitudes.iter().copied().fold(0.0, f64::max);
                for (u, v) in s0.amplitudes.iter().zip(&s.amplitudes) {
                    assert!(close(*u, *v, peak), "{name}: {u} x factor vs {v}");
                }
                let c_inf = s0.baseline[0].abs().max(1e-3 * peak);
                assert!(
                    close(s0.baseline[0], s.baseline[0], c_inf),
                    "{name}: baseline"
                );
                let (f0, f) = (p0.fitted(s0), p.fitted(s));
                let top = f0.iter().fold(0.0f64, |m, v| m.max(v.abs()));
                for (u, v) in f0.iter().zip(&f) {
                    assert!(close(*u, *v, top), "{name}: fit {u} x factor vs {v}");
                }
                // chi^2 and R^2 do not depend on the unit of the data.
                if with_sigma {
                    let (c0, c) = (s0.stats.weighted_ss, s.stats.weighted_ss);
                    assert!((c - c0).abs() <= 1e-6 * c0, "{name}: chi2 {c0} vs {c}");
                }
                assert!((s.stats.r2 - s0.stats.r2).abs() < 1e-9, "{name}: R^2");
            }
        }
    }
}

#[test]
fn ftest_prob1_matches_a_hand_computed_f_distribution() {
    let (x, y, sigma) = mandrel_case();
    let grid = LnTauGrid::with_density(1.0, 1e9, 5.0).unwrap();
    let p = Problem::new(&x, &y, Some(&sigma), settings(grid, Baseline::Constant)).unwrap();
    let path = LambdaPath::compute(&p, 40, &PeakParams::default(), &mut Workspace::new());
    let scores = PathScores::compute(&p, &path);
    let m = x.len() as f64;
    let first = path.points[0].solution.stats;
    let (v0, dof0) = (first.weighted_ss, first.dof);
    for k in [5, 15, 22, 30] {
        let v = path.points[k].solution.stats.weighted_ss;
        let f = ((v / v0 - 1.0) * (m - dof0) / dof0).max(0.0);
        // F CDF through the regularized incomplete beta: I_{d1 f / (d1 f + d2)}(d1/2, d2/2).
        let (d1, d2) = (dof0, m - dof0);
        let by_hand = beta_reg(d1 / 2.0, d2 / 2.0, d1 * f / (d1 * f + d2));
        assert!(
            (scores.ftest_prob1[k] - by_hand).abs() < 1e-10,
            "k = {k}: {} vs {by_hand}",
            scores.ftest_prob1[k]
        );
    }
}

#[test]
fn gcv_uses_the_brute_force_trace_of_the_influence_matrix() {
    let c = case(30, 12, 3, 1e-3);
    let p = Problem::new(
        &c.x,
        &c.y,
        Some(&c.sigma),
        settings(c.grid, Baseline::Constant),
    )
    .unwrap();
    let path = LambdaPath::compute(&p, 20, &PeakParams::default(), &mut Workspace::new());
    let scores = PathScores::compute(&p, &path);
    let (rows, l_rows, l) = design(&c, true);
    let n = c.grid.len();
    for k in [3, 8, 12, 16] {
        let sol = &path.points[k].solution;
        let lambda = sol.lambda;
        // Free set: positive amplitudes and the constant.
        let free: Vec<usize> = (0..n)
            .filter(|&j| sol.amplitudes[j] > 0.0)
            .chain(std::iter::once(n))
            .collect();
        let q = free.len();
        let a = faer::Mat::<f64>::from_fn(c.x.len(), q, |i, b| rows[i][free[b]]);
        let mut lt = faer::Mat::<f64>::zeros(q, q);
        for (ia, &i) in free.iter().enumerate() {
            for (ib, &j) in free.iter().enumerate() {
                if i < n && j < n {
                    lt[(ia, ib)] = (0..l_rows)
                        .map(|r| l[r * n + i] * l[r * n + j])
                        .sum::<f64>()
                        * lambda
                        * lambda;
                }
            }
        }
        let normal = a.transpose() * &a + &lt;
        let x_solved = normal.partial_piv_lu().solve(a.transpose().to_owned());
        let h = &a * &x_solved;
        let trace: f64 = (0..c.x.len()).map(|i| h[(i, i)]).sum();
        assert!(
            (sol.stats.dof - trace).abs() < 1e-6 * trace.max(1.0),
            "k = {k}: dof {} vs trace {trace}",
            sol.stats.dof
        );
        let m = c.x.len() as f64;
        let gcv = m * sol.stats.weighted_ss / (m - trace).powi(2);
        assert!((scores.gcv[k] / gcv - 1.0).abs() < 1e-6, "k = {k}");
    }
}
