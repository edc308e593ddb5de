//! The maximum-entropy regularizer (f = exp(s), objective ||W r||^2 - 2 lambda^2 S(f; m)): each
//! path point is a stationary point of its objective computed independently of the solver (the
//! problem's forward model and an entropy written here) and no random neighbour of it is lower on
//! a small problem (a brute-force check of the convex minimum); its effective degrees of freedom are Skilling's N_good and its evidence is
//! Bryan's marginal, both computed here from an eigen-decomposition; it is scale-free; and the
//! command line accepts it and refuses rules that do not apply.

mod common;

use common::{assert_success, stzlab};
use stzlab::inversion::{
    analyse, Baseline, Kernel, Problem, ProblemSettings, Regularizer, Rule, RuleStatus, Solution,
    Workspace,
};
use stzlab::spectrum::PeakParams;

/// -2 S(f; m) = 2 sum (f ln(f / m) - f + m).
fn neg2_entropy(f: &[f64], m: f64) -> f64 {
    2.0 * f.iter().map(|&v| v * (v / m).ln() - v + m).sum::<f64>()
}

/// ||W (K f + B b - y)||^2 - 2 lambda^2 S(f; m), from the problem's forward model.
fn objective(p: &Problem, s: &Solution, f: &[f64], b: &[f64], m: f64) -> f64 {
    let mut trial = s.clone();
    trial.amplitudes = f.to_vec();
    trial.baseline = b.to_vec();
    let data: f64 = p
        .fitted(&trial)
        .iter()
        .zip(p.y())
        .zip(p.weights())
        .map(|((v, y), w)| (w * (v - y)).powi(2))
        .sum();
    data + s.lambda * s.lambda * neg2_entropy(f, m)
}

fn analysis(
    c: &common::Case,
    baseline: Baseline,
    rules: &[Rule],
) -> (Problem, stzlab::inversion::Analysis) {
    analysis_with(c, baseline, rules, 1.0)
}

fn analysis_with(
    c: &common::Case,
    baseline: Baseline,
    rules: &[Rule],
    maxent_model: f64,
) -> (Problem, stzlab::inversion::Analysis) {
    let settings = ProblemSettings {
        baseline,
        maxent_model,
        ..ProblemSettings::new(Kernel::Decay, c.grid)
    };
    let p = Problem::new(&c.x, &c.y, Some(&c.sigma[..]), settings).unwrap();
    let a = analyse(
        &p,
        30,
        rules,
        &PeakParams::default(),
        Regularizer::MaxEnt,
        &mut Workspace::new(),
    );
    (p, a)
}

#[test]
fn every_converged_point_is_stationary_by_finite_differences() {
    let c = common::two_peak_decay(120, 36, 7, 1e-3, 0.05);
    let (p, a) = analysis(&c, Baseline::Constant, &[Rule::Gcv]);
    let m = a
        .path
        .default_model
        .expect("maxent reports its default model");
    assert!(m > 0.0);
    let mut checked = 0;
    for point in &a.path.points {
        let s = &point.solution;
        if s.info.status_name() == "max-iterations" {
            continue;
        }
        assert!(s.amplitudes.iter().all(|f| *f > 0.0), "positivity");
        let phi = objective(&p, s, &s.amplitudes, &s.baseline, m);
        assert!(
            (phi - (s.stats.weighted_ss + (s.lambda * s.stats.penalty_norm).powi(2))).abs()
                <= 1e-6 * phi,
            "the reported misfit and sqrt(-2S) make up the objective"
        );
        let ln_f: Vec<f64> = s.amplitudes.iter().map(|f| f.ln()).collect();
        let top = ln_f.iter().fold(f64::NEG_INFINITY, |a, v| a.max(*v));
        for j in (0..ln_f.len()).filter(|&j| ln_f[j] > top + (1e-9f64).ln()) {
            let at = |d: f64| {
                let mut f = s.amplitudes.clone();
                f[j] = (ln_f[j] + d).exp();
                objective(&p, s, &f, &s.baseline, m)
            };
            let (derivative, gain) = common::newton_gain(&at, phi, 1e-4);
            assert!(
                gain <= 1e-6 * phi,
                "lambda {}: d phi / d ln f_{j} = {derivative:e}: a step would gain {gain:e} of {phi:e}",
                s.lambda
            );
            checked += 1;
        }
    }
    assert!(checked > 300, "{checked} derivatives checked");
}

#[test]
fn no_point_around_a_solution_is_lower_by_brute_force() {
    // The objective is strictly convex in (f, b) (a quadratic misfit plus the convex -S), so a
    // point no random neighbour improves on is the global minimum. 20,000 random points in
    // (ln f, b) at radii from 1e-1 to 1e-5 around each checked solution; none may be lower than it
    // by more than the objective's rounding.
    use rand::RngExt;
    let c = common::two_peak_decay(40, 8, 3, 1e-3, 0.02);
    let (p, a) = analysis(&c, Baseline::Constant, &[Rule::Gcv]);
    let m = a.path.default_model.unwrap();
    let mut rng = stzlab::noise::rng_from_seed(17);
    for k in [5, 15, 25] {
        let s = &a.path.points[k].solution;
        assert_eq!(s.info.status_name(), "converged", "point {k}");
        let phi = |x: &[f64]| {
            let f: Vec<f64> = x[..8].iter().map(|v| v.exp()).collect();
            objective(&p, s, &f, &x[8..], m)
        };
        let mut x: Vec<f64> = s.amplitudes.iter().map(|v| v.ln()).collect();
        x.extend(&s.baseline);
        let ours = phi(&x);
        let scale_b = s.baseline[0].abs().max(1e-3);
        for trial in 0..20_000 {
            let radius = 10f64.powf(-1.0 - 4.0 * (trial % 5) as f64 / 4.0);
            let y: Vec<f64> = x
                .iter()
                .enumerate()
                .map(|(j, v)| {
                    let step = radius * (2.0 * rng.random::<f64>() - 1.0);
                    if j < 8 {
                        v + step
                    } else {
                        v + step * scale_b
                    }
                })
                .collect();
            let other = phi(&y);
            assert!(
                other >= ours * (1.0 - 1e-12),
                "point {k}: a neighbour at radius {radius:e} is lower: {other:e} < {ours:e}"
            );
        }
    }
}

/// The weighted design K (M x N, row-major) from the forward model with unit amplitudes.
fn design(p: &Problem, s: &Solution) -> Vec<f64> {
    let (mm, n) = (p.len(), s.amplitudes.len());
    let mut k = vec![0.0; mm * n];
    for j in 0..n {
        let mut unit = s.clone();
        unit.amplitudes = vec![0.0; n];
        unit.amplitudes[j] = 1.0;
        for (i, v) in p.fitted(&unit).iter().enumerate() {
            k[i * n + j] = v * p.weights()[i];
        }
    }
    k
}

#[test]
fn dof_is_skillings_n_good_and_the_evidence_is_bryans_marginal() {
    // Without a baseline the linearized problem is the spectrum's alone: N_good =
    // sum e_i / (e_i + lambda^2) and ln P(D | lambda) = -E/2 - (1/2) sum ln(1 + e_i / lambda^2)
    // - (M/2) ln 2 pi, e_i the eigenvalues of D^1/2 K'K D^1/2 (sigma given).
    let c = common::two_peak_decay(80, 20, 11, 1e-3, 0.0);
    let (p, a) = analysis(&c, Baseline::None, &[Rule::Evidence { free_scale: false }]);
    let mm = p.len();
    for k in [3, 10, 20, 27] {
        let s = &a.path.points[k].solution;
        let n = s.amplitudes.len();
        let kd = design(&p, s);
        let root: Vec<f64> = s.amplitudes.iter().map(|f| f.sqrt()).collect();
        let b = faer::Mat::<f64>::from_fn(n, n, |i, j| {
            (0..mm).map(|r| kd[r * n + i] * kd[r * n + j]).sum::<f64>() * root[i] * root[j]
        });
        let eig = b.self_adjoint_eigenvalues(faer::Side::Lower).unwrap();
        let l2 = s.lambda * s.lambda;
        let n_good: f64 = eig.iter().map(|e| e.max(0.0) / (e.max(0.0) + l2)).sum();
        assert!(
            (s.stats.dof - n_good).abs() <= 1e-6 * n_good.max(1.0),
            "point {k}: dof {} against N_good {n_good}",
            s.stats.dof
        );
        let e = s.stats.weighted_ss + l2 * s.stats.penalty_norm.powi(2);
        let bryan = -0.5 * e
            - 0.5
                * eig
                    .iter()
                    .map(|v| (1.0 + v.max(0.0) / l2).ln())
                    .sum::<f64>()
            - 0.5 * mm as f64 * (2.0 * std::f64::consts::PI).ln();
        let ours = a.scores.ln_evidence[k];
        assert!(
            (ours - bryan).abs() <= 1e-6 * bryan.abs(),
            "point {k}: ln evidence {ours} against Bryan's {bryan}"
        );
    }
    let chosen = &a.results[0];
    assert_eq!(chosen.choice.rule, Rule::Evidence { free_scale: false });
    let k = chosen.choice.index.unwrap();
    let best = a
        .scores
        .ln_evidence
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    assert_eq!(a.scores.ln_evidence[k], best, "evidence takes the maximum");
}

#[test]
fn the_classic_choice_is_where_minus_two_alpha_s_meets_n_good() {
    let c = common::two_peak_decay(100, 30, 5, 1e-3, 0.02);
    let (_, a) = analysis(&c, Baseline::Constant, &[Rule::Classic]);
    let r = &a.results[0];
    let k = r.choice.index.unwrap();
    let v = &a.scores.classic;
    assert_eq!(r.choice.status, RuleStatus::Ok, "{v:?}");
    // The score brackets 1 between the chosen point and a neighbour.
    let brackets = |j: usize| (v[j] - 1.0) * (v[k] - 1.0) <= 0.0;
    assert!(
        (k > 0 && brackets(k - 1)) || (k + 1 < v.len() && brackets(k + 1)),
        "{k}: {v:?}"
    );
    // -2 alpha S / N_good from the point's own numbers (sigma given: sigma^2 = 1).
    let s = &a.path.points[k].solution;
    let n_good = s.stats.dof - 1.0;
    let direct = (s.lambda * s.stats.penalty_norm).powi(2) / n_good;
    assert!((direct - v[k]).abs() <= 1e-9 * direct);
}

#[test]
fn choices_are_scale_free() {
    let c = common::two_peak_decay(100, 30, 3, 1e-3, 0.01);
    let rules = [
        Rule::Gcv,
        Rule::Lcurve,
        Rule::Classic,
        Rule::Evidence { free_scale: false },
        Rule::Discrepancy { factor: 1.0 },
    ];
    let (_, a) = analysis(&c, Baseline::Constant, &rules);
    assert_eq!(a.results.len(), rules.len());
    // Data at any scale from 1e-200 to 1e200 are solved divided by a power of two (issue 15).
    for k in [100.0, 1e-200, 1e200] {
        let (_, b) = analysis(&common::scaled(&c, k), Baseline::Constant, &rules);
        common::assert_scaled_choices(&a, &b, k, 1e-5, 1e-12);
        let (ma, mb) = (a.path.default_model.unwrap(), b.path.default_model.unwrap());
        assert!(
            (mb / k - ma).abs() <= 1e-9 * ma,
            "default model {ma} x {k} vs {mb}"
        );
    }
}

#[test]
fn the_default_model_is_settable() {
    let c = common::two_peak_decay(100, 30, 3, 1e-3, 0.01);
    let (_, a) = analysis(&c, Baseline::Constant, &[Rule::Gcv]);
    let (_, b) = analysis_with(&c, Baseline::Constant, &[Rule::Gcv], 10.0);
    let (ma, mb) = (a.path.default_model.unwrap(), b.path.default_model.unwrap());
    assert!(
        (mb - 10.0 * ma).abs() <= 1e-12 * mb,
        "{ma} x 10 against {mb}"
    );
    // At the strongest lambda the spectrum sits at its model: ten times higher everywhere the
    // data cannot see.
    let top =
        |x: &stzlab::inversion::Analysis| x.path.points.last().unwrap().solution.amplitudes[0];
    assert!(top(&b) > 5.0 * top(&a), "{} against {}", top(&b), top(&a));
}

#[test]
fn the_command_line_runs_maxent_and_refuses_rules_that_do_not_apply() {
    let dir = tempfile::tempdir().unwrap();
    let c = common::two_peak_decay(100, 30, 3, 1e-3, 0.01);
    let data = dir.path().join("data.csv");
    let mut text = String::from("t_s,y,sigma\n");
    for i in 0..c.x.len() {
        text += &format!("{},{},{}\n", c.x[i], c.y[i], c.sigma[i]);
    }
    std::fs::write(&data, text).unwrap();
    // `stzlab invert DATA --kind decay ARGS -o OUT`.
    let invert = |args: &[&str], out: &std::path::Path| {
        stzlab()
            .arg("invert")
            .arg(&data)
            .args(["--kind", "decay"])
            .args(args)
            .arg("-o")
            .arg(out)
            .output()
            .unwrap()
    };
    let out_dir = dir.path().join("me");
    let args = [
        "--regularizer",
        "maxent",
        "--rule",
        "classic",
        "--no-figures",
    ];
    assert_success(&invert(&args, &out_dir));
    let s = common::read_json(&out_dir.join("summary.json"));
    assert_eq!(s["regularizer"], "maxent");
    assert_eq!(s["rule"], "classic");
    // The default model: the strongest Tikhonov solution's total amplitude spread over the grid;
    // these data relax by 0.3 + 0.5, so m N lies near 0.8.
    let m = s["default_model"].as_f64().unwrap();
    let grid = std::fs::read_to_string(out_dir.join("spectrum.csv"))
        .unwrap()
        .lines()
        .count()
        - 1;
    let total = m * grid as f64;
    assert!(
        total > 0.4 && total < 1.6,
        "m {m} x {grid} points = {total}"
    );
    let others = common::other_rules(&s);
    assert!(
        others.iter().any(|r| r == "evidence") && others.iter().any(|r| r == "consensus"),
        "{others:?}"
    );
    let path = std::fs::read_to_string(out_dir.join("path.csv")).unwrap();
    assert!(path.lines().next().unwrap().contains(",classic,"));
    assert!(path.lines().skip(1).any(|l| l
        .rsplit(',')
        .next()
        .unwrap()
        .split(';')
        .any(|r| r == "classic")));

    for (args, message) in [
        (
            ["--regularizer", "maxent", "--maxent-model", "0"],
            "error: --maxent-model 0: the default model's factor must be a finite number > 0",
        ),
        (
            ["--regularizer", "tikhonov", "--maxent-model", "2"],
            "error: --maxent-model applies to --regularizer maxent only",
        ),
    ] {
        let o = dir.path().join("refused");
        let out = invert(&args, &o);
        common::assert_refused(&out, message, &o, message);
    }
    for (regularizer, rule) in [
        ("maxent", "kfold"),
        ("maxent", "rgcv"),
        ("tikhonov", "classic"),
    ] {
        let o = dir.path().join(format!("{regularizer}-{rule}"));
        let out = invert(&["--regularizer", regularizer, "--rule", rule], &o);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{regularizer} {rule}: {stderr}");
        assert!(
            stderr.contains(&format!("does not apply to the {regularizer} regularizer")),
            "{stderr}"
        );
        assert!(!o.exists());
    }
}
