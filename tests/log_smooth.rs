//! The log-smooth regularizer (f = exp(s), penalty lambda^2 ||L s||^2): each path point is a
//! stationary point of its objective, checked by finite differences of the objective computed
//! independently of the solver (the problem's forward model and a penalty built here); it is
//! scale-free; it resolves narrow peaks better than Tikhonov on a grid fine enough for them; and the
//! command line and sweeps report rules that do not apply to a family.

mod common;

use common::{repo, stzlab};
use stzlab::inversion::penalty::difference_operator;
use stzlab::inversion::{
    analyse, Baseline, Kernel, LambdaPath, Problem, ProblemSettings, Regularizer, Rule, Workspace,
};
use stzlab::noise::{rng_from_seed, NoiseModel};
use stzlab::spectrum::{LnTauGrid, PeakParams};

/// ||W (K f + B b - y)||^2 + lambda^2 ||L ln f||^2 from the problem's forward model and a
/// difference operator built here.
fn objective(p: &Problem, s: &stzlab::inversion::Solution, ln_f: &[f64]) -> f64 {
    let mut trial = s.clone();
    trial.amplitudes = ln_f.iter().map(|v| v.exp()).collect();
    let fit = p.fitted(&trial);
    let data: f64 = fit
        .iter()
        .zip(p.y())
        .zip(p.weights())
        .map(|((f, y), w)| (w * (f - y)).powi(2))
        .sum();
    let n = ln_f.len();
    let (rows, l) = difference_operator(n, 2, false);
    let penalty: f64 = (0..rows)
        .map(|r| (0..n).map(|j| l[r * n + j] * ln_f[j]).sum::<f64>().powi(2))
        .sum();
    data + s.lambda * s.lambda * penalty
}

fn analysis(
    c: &common::Case,
    sigma: bool,
    rules: &[Rule],
) -> (Problem, stzlab::inversion::Analysis) {
    let settings = ProblemSettings {
        baseline: Baseline::Constant,
        ..ProblemSettings::new(Kernel::Decay, c.grid)
    };
    let p = Problem::new(&c.x, &c.y, sigma.then_some(&c.sigma[..]), settings).unwrap();
    let mut ws = Workspace::new();
    let a = analyse(
        &p,
        30,
        rules,
        &PeakParams::default(),
        Regularizer::LogSmooth,
        &mut ws,
    );
    (p, a)
}

#[test]
fn every_converged_point_is_stationary_by_finite_differences() {
    let c = common::two_peak_decay(120, 36, 7, 1e-3, 0.05);
    let (p, a) = analysis(&c, true, &[Rule::Gcv]);
    let mut checked = 0;
    let mut stopped_by_step = 0;
    for point in &a.path.points {
        let s = &point.solution;
        assert_eq!(
            s.info.status_name(),
            "converged",
            "lambda {}: {:?}",
            s.lambda,
            s.info
        );
        assert!(
            s.amplitudes.iter().all(|f| *f > 0.0),
            "positivity is built in"
        );
        // The residual is the relative decrease the last step still promised (g'H^-1 g / phi).
        assert!(
            s.info.kkt_residual.is_finite() && s.info.kkt_residual >= 0.0,
            "{:?}",
            s.info
        );
        stopped_by_step += usize::from(s.info.kkt_residual <= 1e-10);
        assert!(s.stats.dof > 0.0 && s.stats.dof <= (c.grid.len() + 1) as f64 + 1e-9);
        let ln_f: Vec<f64> = s.amplitudes.iter().map(|f| f.ln()).collect();
        let top = ln_f.iter().fold(f64::NEG_INFINITY, |m, v| m.max(*v));
        let phi = objective(&p, s, &ln_f);
        assert!(
            (phi - (s.stats.weighted_ss + (s.lambda * s.stats.penalty_norm).powi(2))).abs()
                <= 1e-6 * phi
        );
        // Central differences in each ln f_j that carries weight (those at the solver's floor,
        // 1e-12 of the largest, are bounds): no coordinate can lower the objective by more than
        // 1e-6 of itself.
        for j in (0..ln_f.len()).filter(|&j| ln_f[j] > top + (1e-9f64).ln()) {
            let at = |d: f64| {
                let mut moved = ln_f.clone();
                moved[j] += d;
                objective(&p, s, &moved)
            };
            // What a Newton step in this coordinate alone could still gain.
            let (derivative, gain) = common::newton_gain(&at, phi, 1e-4);
            assert!(
                gain <= 1e-6 * phi,
                "lambda {}: d phi / d ln f_{j} = {derivative:e}: a step would gain {gain:e} of \
                 phi = {phi:e}",
                s.lambda
            );
            checked += 1;
        }
    }
    assert!(checked > 100, "{checked} derivatives checked");
    assert!(stopped_by_step > 0, "no point stopped by the step test");
}

#[test]
fn the_path_is_finite_and_converged_on_any_grid_size() {
    // The lambda range comes from the largest eigenvalue of L'L, whose null space holds the flat
    // vector: a flat-started power iteration found 0 there and made every lambda infinite.
    for n in [25, 40, 81, 101] {
        let c = common::two_peak_decay(100, n, 5, 1e-3, 0.02);
        let (_, a) = analysis(&c, true, &[Rule::Gcv]);
        for p in &a.path.points {
            assert!(
                p.lambda().is_finite() && p.lambda() > 0.0,
                "n {n}: {}",
                p.lambda()
            );
            assert!(p.solution.stats.dof.is_finite(), "n {n}");
        }
        assert_eq!(a.results.len(), 1, "n {n}: gcv chose");
    }
}

#[test]
fn the_misfit_grows_with_lambda_and_choices_are_scale_free() {
    let c = common::two_peak_decay(100, 30, 3, 1e-3, 0.0);
    let rules = [
        Rule::Gcv,
        Rule::Lcurve,
        Rule::Ftest { level: 0.5 },
        Rule::R2Onset { threshold: 0.1 },
    ];
    let (_, a) = analysis(&c, false, &rules);
    // Minimizers of data + lambda^2 penalty: the data term cannot fall as lambda rises.
    for w in a.path.points.windows(2) {
        let (weak, strong) = (
            w[0].solution.stats.weighted_ss,
            w[1].solution.stats.weighted_ss,
        );
        assert!(strong >= weak * (1.0 - 1e-6), "{weak} then {strong}");
    }
    // Data at any scale from 1e-200 to 1e200 are solved divided by a power of two (issue 15).
    for k in [1e3, 1e-200, 1e200] {
        let (_, b) = analysis(&common::scaled(&c, k), false, &rules);
        common::assert_scaled_choices(&a, &b, k, 1e-5, 1e-9);
    }
}

/// Decay data of four log-normal peaks 0.08 decade wide, one decade apart (sd 0.1842 in ln tau),
/// 200 log-spaced times over 1e-2..1e4 s, white noise 1e-4 from `seed`; and the exact density per
/// unit ln tau.
/// The decay sum over the density of ln tau at times `x`: the trapezoidal rule with `steps`
/// intervals over `lo..hi` in ln tau.
fn decay_by_quadrature(
    x: &[f64],
    density: &dyn Fn(f64) -> f64,
    lo: f64,
    hi: f64,
    steps: usize,
) -> Vec<f64> {
    let d = (hi - lo) / steps as f64;
    x.iter()
        .map(|&t| {
            (0..=steps)
                .map(|k| {
                    let u = lo + d * k as f64;
                    let weight = if k == 0 || k == steps { 0.5 } else { 1.0 };
                    weight * d * density(u) * (-t / u.exp()).exp()
                })
                .sum()
        })
        .collect()
}

fn narrow_peaks(seed: u64, grid: &LnTauGrid) -> (common::Case, Vec<f64>) {
    let peaks = [(0.1, 0.015), (1.0, 0.02), (10.0, 0.03), (100.0, 0.04)];
    let w: f64 = 0.1842;
    let density = |ln_tau: f64| -> f64 {
        peaks
            .iter()
            .map(|(t, a)| {
                a / (w * (2.0 * std::f64::consts::PI).sqrt())
                    * (-(ln_tau - f64::ln(*t)).powi(2) / (2.0 * w * w)).exp()
            })
            .sum()
    };
    let x: Vec<f64> = (0..200)
        .map(|i| 10f64.powf(-2.0 + 6.0 * i as f64 / 199.0))
        .collect();
    // The clean decay by quadrature on a fine ln tau grid (1000 points over +-6 sd of each peak).
    let (lo, hi) = (f64::ln(0.1) - 6.0 * w, f64::ln(100.0) + 6.0 * w);
    let clean = decay_by_quadrature(&x, &density, lo, hi, 4000);
    let noise = 1e-4;
    let y = NoiseModel::new(noise, 0.0, 0.0, 0.0, 0.0)
        .unwrap()
        .apply(&x, &clean, &mut rng_from_seed(seed))
        .y;
    let truth = (0..grid.len()).map(|i| density(grid.ln_tau(i))).collect();
    (
        common::Case {
            sigma: vec![noise; x.len()],
            x,
            y,
            grid: *grid,
        },
        truth,
    )
}

/// The relative L2 error of the density over the grid points inside the data window 1e-2..1e4 s.
fn rel_l2(grid: &LnTauGrid, amplitudes: &[f64], truth: &[f64]) -> f64 {
    let inside: Vec<usize> = (0..grid.len())
        .filter(|&i| (1e-2..=1e4).contains(&grid.tau_s(i)))
        .collect();
    let err: f64 = inside
        .iter()
        .map(|&i| (amplitudes[i] / grid.step() - truth[i]).powi(2))
        .sum();
    let norm: f64 = inside.iter().map(|&i| truth[i].powi(2)).sum();
    (err / norm).sqrt()
}

fn path_best(grid: &LnTauGrid, path: &LambdaPath, truth: &[f64]) -> f64 {
    path.points
        .iter()
        .map(|p| rel_l2(grid, &p.solution.amplitudes, truth))
        .fold(f64::INFINITY, f64::min)
}

/// A log-normal one decade wide (sd of ln tau 2.303) at 10 s, area 0.1: 200 log-spaced times over
/// 1e-2..1e4 s, its noise-free decay by quadrature, and its density on `grid`.
fn broad_log_normal(grid: &LnTauGrid) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let (centre, sd, area) = (10f64.ln(), 2.303, 0.1);
    let density = |u: f64| {
        area / (sd * (2.0 * std::f64::consts::PI).sqrt())
            * (-(u - centre).powi(2) / (2.0 * sd * sd)).exp()
    };
    let x: Vec<f64> = (0..200)
        .map(|i| 10f64.powf(-2.0 + 6.0 * i as f64 / 199.0))
        .collect();
    let clean = decay_by_quadrature(&x, &density, centre - 10.0 * sd, centre + 10.0 * sd, 8000);
    let truth = (0..grid.len()).map(|i| density(grid.ln_tau(i))).collect();
    (x, clean, truth)
}

/// [`rel_l2`] of the path point with the strongest lambda.
fn strongest_rel_l2(grid: &LnTauGrid, path: &LambdaPath, truth: &[f64]) -> f64 {
    let top = path
        .points
        .iter()
        .max_by(|a, b| a.solution.lambda.total_cmp(&b.solution.lambda))
        .unwrap();
    rel_l2(grid, &top.solution.amplitudes, truth)
}

/// Third differences leave every parabola in ln f free, so a log-normal spectrum is in the null
/// space of the order-3 log-smooth penalty: even the strongest lambda of the path recovers it
/// (noise-free data), where the order-2 penalty (free: straight lines in ln f only) bends it.
#[test]
fn a_log_normal_costs_nothing_under_the_third_difference_of_ln_f() {
    let grid = LnTauGrid::new(1e-3, 1e5, 41).unwrap();
    let (x, y, truth) = broad_log_normal(&grid);
    let sigma = vec![1e-6; x.len()];
    let strongest = |order: usize| {
        let settings = ProblemSettings {
            baseline: Baseline::None,
            order,
            ..ProblemSettings::new(Kernel::Decay, grid)
        };
        let p = Problem::new(&x, &y, Some(&sigma), settings).unwrap();
        let a = analyse(
            &p,
            30,
            &[Rule::Gcv],
            &PeakParams::default(),
            Regularizer::LogSmooth,
            &mut Workspace::new(),
        );
        strongest_rel_l2(&grid, &a.path, &truth)
    };
    let (third, second) = (strongest(3), strongest(2));
    assert!(
        third < 1e-3,
        "order 3 at the strongest lambda: rel L2 {third}"
    );
    assert!(
        second > 10.0 * third,
        "order 2 {second} against order 3 {third}"
    );
}

#[test]
fn narrow_peaks_are_resolved_better_than_by_tikhonov() {
    // 20 points per decade over 1e-3..1e5 s: fine enough to draw a 0.08-decade peak.
    let grid = LnTauGrid::new(1e-3, 1e5, 161).unwrap();
    let settings = ProblemSettings {
        baseline: Baseline::Constant,
        ..ProblemSettings::new(Kernel::Decay, grid)
    };
    let seeds = 10;
    let mut wins = 0;
    let mut ratios = Vec::new();
    for seed in 0..seeds {
        let (c, truth) = narrow_peaks(100 + seed, &grid);
        let p = Problem::new(&c.x, &c.y, Some(&c.sigma), settings.clone()).unwrap();
        let mut ws = Workspace::new();
        let best = |r: Regularizer, ws: &mut Workspace| {
            let a = analyse(&p, 30, &[Rule::Gcv], &PeakParams::default(), r, ws);
            path_best(&grid, &a.path, &truth)
        };
        let tikhonov = best(Regularizer::Tikhonov, &mut ws);
        let log_smooth = best(Regularizer::LogSmooth, &mut ws);
        ratios.push(log_smooth / tikhonov);
        if log_smooth < tikhonov {
            wins += 1;
        }
    }
    // If the two were equally good, 8 or more wins of 10 would have probability 56/1024.
    assert!(
        wins >= 8,
        "log-smooth / Tikhonov path-best rel L2 per seed: {ratios:?}"
    );
    ratios.sort_by(f64::total_cmp);
    assert!(ratios[seeds as usize / 2] < 0.8, "median ratio {ratios:?}");
}

#[test]
fn the_command_line_refuses_rules_that_do_not_apply_and_reports_the_family() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = tmp.path().join("sim");
    let out = stzlab()
        .args([
            "simulate",
            repo("scenarios/al-ni-y-mandrel.toml").to_str().unwrap(),
            "-o",
        ])
        .arg(&sim)
        .output()
        .unwrap();
    common::assert_success(&out);
    let data = sim.join("data.csv");
    let refused = stzlab()
        .args([
            "invert",
            data.to_str().unwrap(),
            "--kind",
            "decay",
            "--regularizer",
            "log-smooth",
        ])
        .args(["--rule", "kfold", "-o"])
        .arg(tmp.path().join("no"))
        .output()
        .unwrap();
    common::assert_refused(
        &refused,
        "error: --rule kfold: does not apply to the log-smooth regularizer; use discrepancy, gcv, \
         lcurve, ftest, r2-onset, consensus, quasi-optimality, evidence",
        &tmp.path().join("no"),
        "kfold with log-smooth",
    );
    let inv = tmp.path().join("inv");
    let out = stzlab()
        .args([
            "invert",
            data.to_str().unwrap(),
            "--kind",
            "decay",
            "--regularizer",
            "log-smooth",
        ])
        .arg("-o")
        .arg(&inv)
        .output()
        .unwrap();
    common::assert_success(&out);
    let s = common::read_json(&inv.join("summary.json"));
    assert_eq!(s["regularizer"], "log-smooth");
    assert_eq!(s["rule"], "evidence", "the log-smooth default rule");
    assert_eq!(s["order"], 3, "the log-smooth default order");
    let others = common::other_rules(&s);
    let has = |name: &str| others.iter().any(|r| r == name);
    assert!(
        has("gcv") && has("ftest") && !has("rgcv") && !has("classic"),
        "{others:?}"
    );
    // Every path point reports its solver status.
    let path = std::fs::read_to_string(inv.join("path.csv")).unwrap();
    assert!(path
        .lines()
        .skip(1)
        .all(|l| l.contains(",converged,") || l.contains(",max-iterations,")));
    common::check_report(&inv);
}

#[test]
fn a_sweep_compares_families_and_flags_rules_that_do_not_apply() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("s");
    let run = stzlab()
        .args([
            "run",
            repo("scenarios/regularizers.toml").to_str().unwrap(),
            "--quiet",
        ])
        .args([
            "--set",
            "sweep.repeats=2",
            "--set",
            "inversion.per_decade=5",
            "--no-figures",
            "-o",
        ])
        .arg(&out)
        .output()
        .unwrap();
    common::assert_success(&run);
    let runs = std::fs::read_to_string(out.join("runs.csv")).unwrap();
    let head: Vec<&str> = runs.lines().next().unwrap().split(',').collect();
    let col = |name: &str| head.iter().position(|h| *h == name).unwrap();
    let (family, rule, status) = (col("inversion.regularizer"), col("rule"), col("status"));
    let mut flagged = 0;
    for line in runs.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        // Classic maxent applies to maxent only; every other rule of the scenario to every family.
        if f[rule] == "classic" && f[family] != "maxent" {
            assert_eq!(f[status], "not-for-regularizer", "{line}");
            flagged += 1;
        } else {
            assert_ne!(f[status], "not-for-regularizer", "{line}");
        }
    }
    assert!(flagged > 0);
}

/// The penalty order defaults to the family's: 2 for Tikhonov and maxent, 3 for log-smooth, in a
/// scenario as on the command line (`the_command_line_refuses_rules_...`), and per sweep cell when
/// the family is an axis; a given order is kept.
#[test]
fn the_penalty_order_defaults_to_the_familys() {
    use stzlab::scenario::Scenario;
    let text = |inversion: &str| {
        format!(
            "version = 1\n[truth]\nkind = \"spectrum\"\npeaks = [{{ tau_s = 10, area = 0.1 }}]\n\
             [protocol]\nkind = \"cantilever\"\ntimes = {{ start_s = 1e-2, stop_s = 1e4, points = 50 }}\n\
             [noise]\nsigma = 1e-4\n[inversion]\n{inversion}\n"
        )
    };
    let order = |inversion: &str| {
        Scenario::from_toml(&text(inversion), "t.toml", "t")
            .unwrap()
            .inversion
            .order
    };
    assert_eq!(order(""), 2);
    assert_eq!(order("regularizer = \"maxent\""), 2);
    assert_eq!(order("regularizer = \"log-smooth\""), 3);
    assert_eq!(order("regularizer = \"log-smooth\"\norder = 2"), 2);
    assert_eq!(order("order = 3"), 3);
    assert_eq!(Regularizer::LogSmooth.default_order(), 3);
    assert_eq!(Regularizer::Tikhonov.default_order(), 2);
}

/// Under the order-3 penalty a log-normal costs nothing, and the path's strong end reaches that
/// parametric fit: on a broad log-normal (one decade sd) with noise 1e-4, 20 points per decade,
/// the strongest path point is within 0.005 of the truth in relative L2 in at least 4 of 5 noise
/// seeds (over 40 seeds of `scenarios/regularizers.toml` the largest was 0.0024; with the end
/// the order-2 path uses, at least 0.0075 in every one of 10).
#[test]
fn the_order_three_path_reaches_the_log_normal_at_its_strong_end() {
    let grid = LnTauGrid::new(1e-3, 1e5, 161).unwrap();
    let (x, clean, truth) = broad_log_normal(&grid);
    let sigma = vec![1e-4; x.len()];
    let close = (0..5u64)
        .filter(|&seed| {
            let y = NoiseModel::new(1e-4, 0.0, 0.0, 0.0, 0.0)
                .unwrap()
                .apply(&x, &clean, &mut rng_from_seed(100 + seed))
                .y;
            let settings = ProblemSettings {
                baseline: Baseline::Constant,
                order: 3,
                ..ProblemSettings::new(Kernel::Decay, grid)
            };
            let p = Problem::new(&x, &y, Some(&sigma), settings).unwrap();
            let a = analyse(
                &p,
                30,
                &[Rule::Evidence { free_scale: false }],
                &PeakParams::default(),
                Regularizer::LogSmooth,
                &mut Workspace::new(),
            );
            let e = strongest_rel_l2(&grid, &a.path, &truth);
            eprintln!("seed {seed}: strongest point rel L2 {e}");
            e < 0.005
        })
        .count();
    assert!(close >= 4, "{close} of 5 seeds within 0.005");
}
