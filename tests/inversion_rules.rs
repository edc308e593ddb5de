//! The rules added beside the classic five, each against an independent computation on a small
//! problem (docs/model.md section 4), and the status of each failure mode.

use faer::linalg::solvers::Solve;
use faer::Mat;
use stzlab::analysis::PeakParams;
use stzlab::inversion::penalty::difference_operator;
use stzlab::inversion::{
    analyse, choose, Analysis, Baseline, Kernel, LambdaPath, PathScores, Problem, ProblemSettings,
    Regularizer, Rule, RuleStatus, Workspace,
};
use stzlab::spectrum::LnTauGrid;

mod common;
use common::Case;

fn case(m: usize, n: usize, seed: u64, noise: f64) -> Case {
    common::two_peak_decay(m, n, seed, noise, 0.0)
}

fn settings(grid: LnTauGrid, baseline: Baseline, zero_boundary: bool) -> ProblemSettings {
    ProblemSettings {
        baseline,
        zero_boundary,
        ..ProblemSettings::new(Kernel::Decay, grid)
    }
}

/// The case's problem with its sigma given and the penalty free at the ends.
fn problem(c: &Case, baseline: Baseline) -> Problem {
    Problem::new(
        &c.x,
        &c.y,
        Some(&c.sigma),
        settings(c.grid, baseline, false),
    )
    .unwrap()
}

/// The weighted design W K (no baseline) and the penalty L, built independently of the library.
fn design(c: &Case, zero_boundary: bool) -> (Mat<f64>, Mat<f64>) {
    let n = c.grid.len();
    let taus = c.grid.taus_s();
    let a = Mat::<f64>::from_fn(c.x.len(), n, |i, j| (-c.x[i] / taus[j]).exp() / c.sigma[i]);
    let (rows, l) = difference_operator(n, 2, zero_boundary);
    let l = Mat::<f64>::from_fn(rows, n, |r, j| l[r * n + j]);
    (a, l)
}

fn ln_det(m: &Mat<f64>) -> f64 {
    let llt = m.llt(faer::Side::Lower).expect("positive definite");
    let l = llt.L();
    2.0 * (0..m.nrows()).map(|i| l[(i, i)].ln()).sum::<f64>()
}

/// A path point whose spectrum is positive everywhere: there the non-negative solution is the
/// unconstrained one and the Gaussian integrals hold exactly.
fn all_positive(path: &LambdaPath) -> Vec<usize> {
    (0..path.len())
        .filter(|&k| path.points[k].solution.amplitudes.iter().all(|v| *v > 0.0))
        .collect()
}

#[test]
fn evidence_is_the_marginal_likelihood_of_the_data() {
    // With a full-rank penalty (zero boundary) and no baseline the prior is proper:
    // y ~ N(0, C) with C = I + A (lambda^2 L^T L)^-1 A^T in weighted units (sigma known), and
    // p(y) = integral of N(y; 0, s^2 C) / s ds = Gamma(M/2) (y'C^-1 y / 2)^(-M/2) / (2 (2 pi)^(M/2)
    // det(C)^(1/2)) with sigma integrated out (unit weights).
    let c = case(25, 8, 5, 1e-3);
    let (a, l) = design(&c, true);
    let m = c.x.len();
    for sigma_given in [true, false] {
        let p = Problem::new(
            &c.x,
            &c.y,
            sigma_given.then_some(&c.sigma[..]),
            settings(c.grid, Baseline::None, true),
        )
        .unwrap();
        let mut ws = Workspace::new();
        let path = LambdaPath::compute(&p, 30, &PeakParams::default(), &mut ws);
        let scores =
            PathScores::compute_for(&p, &path, &[Rule::Evidence { free_scale: false }], &mut ws);
        let points = all_positive(&path);
        assert!(points.len() >= 3, "positive path points: {points:?}");
        // Unit weights without sigma: the design is A * sigma.
        let a = if sigma_given {
            a.clone()
        } else {
            &a * faer::Scale(c.sigma[0])
        };
        let y = Mat::<f64>::from_fn(m, 1, |i, _| {
            if sigma_given {
                c.y[i] / c.sigma[i]
            } else {
                c.y[i]
            }
        });
        for &k in &points {
            let lambda = path.points[k].lambda();
            let prior = (l.transpose() * &l) * faer::Scale(lambda * lambda);
            let prior_inv = prior
                .partial_piv_lu()
                .solve(Mat::<f64>::identity(prior.nrows(), prior.nrows()));
            let cov = Mat::<f64>::identity(m, m) + &a * &prior_inv * a.transpose();
            let quad = (y.transpose() * cov.partial_piv_lu().solve(&y))[(0, 0)];
            let two_pi = (2.0 * std::f64::consts::PI).ln();
            let expected = if sigma_given {
                -0.5 * quad - 0.5 * ln_det(&cov) - 0.5 * m as f64 * two_pi
            } else {
                let half = 0.5 * m as f64;
                statrs::function::gamma::ln_gamma(half)
                    - half * (0.5 * quad).ln()
                    - std::f64::consts::LN_2
                    - half * two_pi
                    - 0.5 * ln_det(&cov)
            };
            assert!(
                (scores.ln_evidence[k] - expected).abs() < 1e-6 * expected.abs().max(1.0),
                "sigma given {sigma_given}, k = {k}: {} vs {expected}",
                scores.ln_evidence[k]
            );
        }
    }
}

#[test]
fn robust_gcv_uses_the_brute_force_trace_of_the_squared_influence_matrix() {
    let c = case(30, 12, 3, 1e-3);
    let (a_full, l) = design(&c, false);
    let p = problem(&c, Baseline::None);
    let mut ws = Workspace::new();
    let path = LambdaPath::compute(&p, 20, &PeakParams::default(), &mut ws);
    let gamma = 0.3;
    let rule = Rule::parse("rgcv:gamma=0.3").unwrap();
    let scores = PathScores::compute_for(&p, &path, &[rule], &mut ws);
    let rgcv = scores.rgcv(gamma);
    let m = c.x.len();
    for k in [2, 6, 10, 14, 18] {
        let sol = &path.points[k].solution;
        let free: Vec<usize> = (0..c.grid.len())
            .filter(|&j| sol.amplitudes[j] > 0.0)
            .collect();
        let a = Mat::<f64>::from_fn(m, free.len(), |i, b| a_full[(i, free[b])]);
        let lp = Mat::<f64>::from_fn(l.nrows(), free.len(), |r, b| l[(r, free[b])]);
        let normal = a.transpose() * &a + (lp.transpose() * &lp) * faer::Scale(sol.lambda.powi(2));
        let h = &a * normal.partial_piv_lu().solve(a.transpose().to_owned());
        let h2 = &h * &h;
        let (tr, tr2): (f64, f64) = (
            (0..m).map(|i| h[(i, i)]).sum(),
            (0..m).map(|i| h2[(i, i)]).sum(),
        );
        assert!(
            (scores.mu2[k] * m as f64 - tr2).abs() < 1e-6 * tr2.max(1.0),
            "k = {k}: tr(A^2) {} vs {tr2}",
            scores.mu2[k] * m as f64
        );
        let gcv = m as f64 * sol.stats.weighted_ss / (m as f64 - tr).powi(2);
        let expected = gcv * (gamma + (1.0 - gamma) * tr2 / m as f64);
        assert!((rgcv[k] / expected - 1.0).abs() < 1e-6, "k = {k}");
    }
    let choice = choose(rule, &p, &path, &scores, &mut ws).unwrap();
    let best = (0..path.len())
        .filter(|&k| rgcv[k].is_finite())
        .min_by(|&a, &b| rgcv[a].total_cmp(&rgcv[b]))
        .unwrap();
    assert_eq!(choice.index, Some(best));
}

#[test]
fn kfold_errors_match_explicit_refits_without_the_held_out_rows() {
    let c = case(24, 10, 9, 2e-3);
    let folds = 4;
    let p = problem(&c, Baseline::Constant);
    let mut ws = Workspace::new();
    let path = LambdaPath::compute(&p, 15, &PeakParams::default(), &mut ws);
    let rule = Rule::parse("kfold:folds=4").unwrap();
    let scores = PathScores::compute_for(&p, &path, &[rule], &mut ws);
    let errors = scores.kfold_errors(folds).unwrap();
    for k in [1, 5, 9, 13] {
        let lambda = path.points[k].lambda();
        let mut total = 0.0;
        for fold in 0..folds {
            let keep: Vec<usize> = (0..c.x.len()).filter(|i| i % folds != fold).collect();
            let pick = |v: &[f64]| keep.iter().map(|&i| v[i]).collect::<Vec<f64>>();
            let sub = Problem::new(
                &pick(&c.x),
                &pick(&c.y),
                Some(&pick(&c.sigma)),
                settings(c.grid, Baseline::Constant, false),
            )
            .unwrap();
            let mut coef = sub.zeros();
            let sol = sub.solve(lambda, &mut coef, &mut Workspace::new());
            let taus = c.grid.taus_s();
            for i in (fold..c.x.len()).step_by(folds) {
                let fit: f64 = taus
                    .iter()
                    .zip(&sol.amplitudes)
                    .map(|(tau, f)| f * (-c.x[i] / tau).exp())
                    .sum::<f64>()
                    + sol.baseline[0];
                total += ((c.y[i] - fit) / c.sigma[i]).powi(2);
            }
        }
        assert!(
            (errors[k] / total - 1.0).abs() < 1e-6,
            "k = {k}: {} vs {total}",
            errors[k]
        );
    }
    let choice = choose(rule, &p, &path, &scores, &mut ws).unwrap();
    let best = (0..path.len())
        .min_by(|&a, &b| errors[a].total_cmp(&errors[b]))
        .unwrap();
    assert_eq!(choice.index, Some(best));
    // More folds than points: no choice.
    let too_many = Rule::Kfold { folds: 100 };
    let scores = PathScores::compute_for(&p, &path, &[too_many], &mut ws);
    assert!(choose(too_many, &p, &path, &scores, &mut ws).is_none());
}

#[test]
fn quasi_optimality_takes_the_deepest_interior_minimum_of_the_solution_change() {
    let c = case(40, 15, 2, 1e-3);
    let p = problem(&c, Baseline::Constant);
    let mut ws = Workspace::new();
    let path = LambdaPath::compute(&p, 40, &PeakParams::default(), &mut ws);
    let scores = PathScores::compute(&p, &path);
    let norm = |v: &[f64]| v.iter().map(|a| a * a).sum::<f64>().sqrt();
    let change: Vec<f64> = (0..path.len() - 1)
        .map(|k| {
            let (a, b) = (
                &path.points[k].solution.amplitudes,
                &path.points[k + 1].solution.amplitudes,
            );
            let d: Vec<f64> = a.iter().zip(b).map(|(u, v)| u - v).collect();
            norm(&d) / norm(a)
        })
        .collect();
    for (k, v) in change.iter().enumerate() {
        assert!((scores.quasi_optimality[k] - v).abs() <= 1e-12 * v.max(1e-300));
    }
    let interior: Vec<usize> = (1..change.len() - 1)
        .filter(|&k| change[k] <= change[k - 1] && change[k] <= change[k + 1])
        .collect();
    let choice = choose(Rule::QuasiOptimality, &p, &path, &scores, &mut ws).unwrap();
    match interior
        .iter()
        .copied()
        .min_by(|&a, &b| change[a].total_cmp(&change[b]))
    {
        Some(k) => {
            assert_eq!(choice.index, Some(k));
            assert_eq!(choice.status, RuleStatus::Ok);
        }
        None => assert_eq!(choice.status, RuleStatus::AtPathEnd),
    }
}

/// The problem of `c` with the stated `sigma` (constant baseline) and its analysis on 40 lambdas.
fn analysed(c: &Case, sigma: &[f64], rules: &[Rule]) -> (Problem, Analysis) {
    let settings = settings(c.grid, Baseline::Constant, false);
    let p = Problem::new(&c.x, &c.y, Some(sigma), settings).unwrap();
    let a = analyse(
        &p,
        40,
        rules,
        &PeakParams::default(),
        Regularizer::Tikhonov,
        &mut Workspace::new(),
    );
    (p, a)
}

#[test]
fn discrepancy_flags_an_unreachable_target_and_falls_back_to_gcv() {
    let c = case(60, 25, 4, 1e-4);
    let rules = [Rule::parse("discrepancy").unwrap(), Rule::Gcv];
    // sigma stated 10x too small: chi^2 exceeds M at the weakest lambda.
    let small: Vec<f64> = c.sigma.iter().map(|s| s / 10.0).collect();
    let (p, a) = analysed(&c, &small, &rules);
    assert!(a.scores.chi2[0] > p.len() as f64);
    let d = &a.results[0].choice;
    assert_eq!(d.status, RuleStatus::TargetUnreachable);
    assert_eq!(d.fallback, Some(Rule::Gcv));
    assert_eq!(d.index, a.results[1].choice.index);
    assert!(d.warning().unwrap().contains("gcv"));
    // sigma stated 1e4x too large: chi^2 stays below M along the whole path.
    let large: Vec<f64> = c.sigma.iter().map(|s| s * 1e4).collect();
    let (_, a) = analysed(&c, &large, &rules);
    let d = &a.results[0].choice;
    assert_eq!(d.status, RuleStatus::TargetUnreachable);
    assert_eq!(d.fallback, None);
    assert_eq!(d.index, Some(a.path.len() - 1));
    // The right sigma on a grid fine enough for the two exponentials (0.18 decade): the target is
    // met inside the path.
    let c = case(60, 40, 4, 1e-3);
    let (_, a) = analysed(&c, &c.sigma, &rules);
    assert_eq!(a.results[0].choice.status, RuleStatus::Ok);
    assert!(a.results[0].choice.warning().is_none());
}

#[test]
fn rule_parameters_parse_name_and_reject_bad_values() {
    let r = Rule::parse("r2-onset:threshold=0.03").unwrap();
    assert_eq!(r, Rule::R2Onset { threshold: 0.03 });
    assert_eq!(r.name(), "r2-onset:threshold=0.03");
    assert_eq!(Rule::parse(&r.name()).unwrap(), r);
    assert_eq!(
        Rule::parse("r2-onset:threshold=0.1").unwrap().name(),
        "r2-onset"
    );
    assert_eq!(
        Rule::parse("kfold:folds=10").unwrap(),
        Rule::Kfold { folds: 10 }
    );
    assert_eq!(
        Rule::parse("consensus:rss=1.25").unwrap().name(),
        "consensus:rss=1.25"
    );
    for name in ["consensus:white=3", "consensus:rss=1.5,white=0"] {
        assert_eq!(Rule::parse(name).unwrap().name(), name);
    }
    assert_eq!(
        Rule::parse("consensus:white=5").unwrap().name(),
        "consensus"
    );
    assert_eq!(
        Rule::parse("discrepancy:factor=1.2").unwrap(),
        Rule::Discrepancy { factor: 1.2 }
    );
    for (bad, says) in [
        ("discrepancy:factor=0", "must be > 0"),
        ("discrepancy:factor=-1", "must be > 0"),
        ("kfold:folds=1", "at least 2"),
        ("kfold:folds=2.5", "whole number"),
        ("rgcv:gamma=0", "(0, 1]"),
        ("rgcv:gamma=1.5", "(0, 1]"),
        ("consensus:rss=1", "must be > 1"),
        ("consensus:white=-1", "must be >= 0"),
        ("ftest:level=1", "(0, 1)"),
        ("r2-onset:tolerance=0.1", "unknown parameter"),
        ("gcv:gamma=0.1", "unknown parameter"),
        ("r2-onset:threshold", "key=value"),
        ("r2-onset:threshold=abc", "not a number"),
        ("bayes", "unknown rule"),
    ] {
        let e = Rule::parse(bad).unwrap_err();
        assert!(e.contains(says), "{bad}: {e}");
    }
}

#[test]
fn every_new_rule_is_scale_free() {
    let c = case(60, 20, 11, 1e-3);
    let mut rules: Vec<Rule> = Rule::all_on_path()
        .into_iter()
        .filter(|r| Regularizer::Tikhonov.applies(*r))
        .collect();
    rules.push(Rule::parse("kfold").unwrap());
    let run = |factor: f64, with_sigma: bool| {
        let ys: Vec<f64> = c.y.iter().map(|v| v * factor).collect();
        let ss: Vec<f64> = c.sigma.iter().map(|v| v * factor).collect();
        let p = Problem::new(
            &c.x,
            &ys,
            with_sigma.then_some(&ss[..]),
            settings(c.grid, Baseline::Constant, false),
        )
        .unwrap();
        analyse(
            &p,
            40,
            &rules,
            &PeakParams::default(),
            Regularizer::Tikhonov,
            &mut Workspace::new(),
        )
    };
    for with_sigma in [true, false] {
        // A power of two scales every floating-point operation exactly, so near-ties cannot flip.
        let (a, b) = (run(1.0, with_sigma), run(1024.0, with_sigma));
        assert_eq!(a.results.len(), rules.len());
        for (ra, rb) in a.results.iter().zip(&b.results) {
            let name = ra.choice.rule.name();
            assert_eq!(
                ra.choice.index, rb.choice.index,
                "{name} (sigma given: {with_sigma})"
            );
            assert_eq!(ra.choice.status, rb.choice.status, "{name}");
        }
    }
}

/// The lag-one autocorrelation of the weighted residuals, by hand from the fitted values.
fn lag1_by_hand(c: &Case, p: &Problem, solution: &stzlab::inversion::Solution) -> f64 {
    let fit = p.fitted(solution);
    let r: Vec<f64> = (0..c.x.len())
        .map(|i| (c.y[i] - fit[i]) / c.sigma[i])
        .collect();
    let num: f64 = (1..r.len()).map(|i| r[i] * r[i - 1]).sum();
    num / r.iter().map(|v| v * v).sum::<f64>()
}

#[test]
fn consensus_is_the_median_of_its_three_rules_on_the_admissible_path() {
    let mut screened = 0;
    for (seed, n, noise, rss, white) in [
        (1, 25, 1e-3, 2.0, 5.0),
        (2, 25, 1e-4, 2.0, 5.0),
        (3, 25, 1e-2, 2.0, 5.0),
        (4, 25, 1e-3, 1.25, 5.0),
        (5, 60, 1e-3, 2.0, 0.0),
        (6, 60, 1e-4, 2.0, 1.0),
        (7, 60, 1e-3, 2.0, 1.0),
        (8, 60, 1e-2, 2.0, 1.0),
        (9, 60, 1e-3, 2.0, 2.0),
        (10, 60, 1e-2, 2.0, 2.0),
    ] {
        let rule = Rule::Consensus { rss, white };
        let c = case(80, n, seed, noise);
        let p = problem(&c, Baseline::Constant);
        let mut ws = Workspace::new();
        let path = LambdaPath::compute(&p, 40, &PeakParams::default(), &mut ws);
        let scores = PathScores::compute_for(&p, &path, &[rule], &mut ws);
        // By hand: admissible points have ||W r||^2 <= rss x the smallest on the path and, when
        // the best fit's residual is white (its lag-one autocorrelation at most white/sqrt(M))
        // with chi^2 at most one standard deviation above M - dof, a lag-one autocorrelation at
        // most the best fit's + white/sqrt(M).
        let residuals: Vec<f64> = path
            .points
            .iter()
            .map(|q| q.solution.stats.weighted_ss)
            .collect();
        let floor = residuals.iter().copied().fold(f64::INFINITY, f64::min);
        let best = residuals.iter().position(|v| *v == floor).unwrap();
        let lag1: Vec<f64> = path
            .points
            .iter()
            .map(|q| lag1_by_hand(&c, &p, &q.solution))
            .collect();
        let m = c.x.len() as f64;
        let band = white / m.sqrt();
        let expected = m - path.points[best].solution.stats.dof;
        let screen =
            white > 0.0 && lag1[best] <= band && floor <= expected + (2.0 * expected).sqrt();
        let ok: Vec<bool> = (0..path.len())
            .map(|k| residuals[k] <= rss * floor && (!screen || lag1[k] <= lag1[best] + band))
            .collect();
        if screen && (0..path.len()).any(|k| residuals[k] <= rss * floor && !ok[k]) {
            screened += 1;
        }
        let n = path.len();
        let lcurve = (0..n)
            .filter(|&k| ok[k] && scores.lcurve_curvature[k] > 0.0)
            .max_by(|&a, &b| scores.lcurve_curvature[a].total_cmp(&scores.lcurve_curvature[b]));
        let q = &scores.quasi_optimality;
        let quasi = (1..n - 1)
            .filter(|&k| {
                ok[k]
                    && ok[k - 1]
                    && ok[k + 1]
                    && q[k].is_finite()
                    && q[k - 1].is_finite()
                    && q[k + 1].is_finite()
                    && q[k] <= q[k - 1]
                    && q[k] <= q[k + 1]
            })
            .min_by(|&a, &b| q[a].total_cmp(&q[b]))
            .or_else(|| {
                (0..n)
                    .filter(|&k| ok[k] && q[k].is_finite())
                    .min_by(|&a, &b| q[a].total_cmp(&q[b]))
            });
        let evidence = (0..n)
            .filter(|&k| scores.ln_evidence[k].is_finite())
            .max_by(|&a, &b| scores.ln_evidence[a].total_cmp(&scores.ln_evidence[b]));
        let mut picks: Vec<usize> = [lcurve, quasi, evidence].into_iter().flatten().collect();
        picks.sort();
        let expected = picks[picks.len() / 2];
        let choice = choose(rule, &p, &path, &scores, &mut ws).unwrap();
        assert_eq!(choice.index, Some(expected), "seed {seed}: picks {picks:?}");
    }
    // The screen took points out of the admissible set in some case: the cases test it.
    assert!(screened >= 1, "the whiteness screen never applied");
}

#[test]
fn the_whiteness_screen_applies_only_to_a_white_best_fit_of_credible_chi2() {
    use stzlab::inversion::rules::whiteness_ceiling;
    use stzlab::inversion::FitStats;
    let stats = |weighted_ss: f64, dof: f64| FitStats {
        residual_norm: weighted_ss.sqrt(),
        weighted_ss,
        r2: 0.99,
        penalty_norm: 1.0,
        dof,
    };
    let lag1 = [-0.05, -0.04, 0.1, 0.6];
    // M = 100: band 5/10 = 0.5; chi^2 expectation 100 - 10 = 90, one sd sqrt(180) = 13.4.
    let ceiling = whiteness_ceiling(&lag1, 0, 5.0, 100, &stats(95.0, 10.0), true).unwrap();
    assert!((ceiling - (-0.05 + 0.5)).abs() < 1e-15);
    // chi^2 of 104 passes, 104 + 0.5 does not (90 + 13.42 = 103.42 ... 104.0 is above).
    assert!(whiteness_ceiling(&lag1, 0, 5.0, 100, &stats(103.4, 10.0), true).is_some());
    assert!(whiteness_ceiling(&lag1, 0, 5.0, 100, &stats(103.5, 10.0), true).is_none());
    // Without sigma the scale is estimated: no chi^2 test.
    assert!(whiteness_ceiling(&lag1, 0, 5.0, 100, &stats(1e6, 10.0), false).is_some());
    // A best fit whose residual is not white (0.6 > 0.5) turns the screen off; so does white = 0.
    assert!(whiteness_ceiling(&lag1, 3, 5.0, 100, &stats(95.0, 10.0), true).is_none());
    assert!(whiteness_ceiling(&lag1, 0, 0.0, 100, &stats(95.0, 10.0), true).is_none());
}

#[test]
fn weighted_residuals_and_their_lag1_agree_with_a_hand_computation() {
    use stzlab::inversion::rules::residual_lag1;
    for (seed, noise) in [(11, 1e-3), (12, 1e-5)] {
        let c = case(60, 20, seed, noise);
        let p = problem(&c, Baseline::Constant);
        let mut ws = Workspace::new();
        let path = LambdaPath::compute(&p, 12, &PeakParams::default(), &mut ws);
        for q in &path.points {
            let r = p.weighted_residuals(&q.solution);
            let ss: f64 = r.iter().map(|v| v * v).sum();
            let rel = (ss - q.solution.stats.weighted_ss).abs() / q.solution.stats.weighted_ss;
            assert!(
                rel < 1e-9,
                "sum of squares {ss} against {}",
                q.solution.stats.weighted_ss
            );
            let hand = lag1_by_hand(&c, &p, &q.solution);
            assert!((residual_lag1(&p, &r) - hand).abs() < 1e-9, "{hand}");
        }
    }
}
