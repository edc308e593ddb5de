//! The bootstrap uncertainty (docs/model.md §6): deterministic for any thread count, a resampled
//! problem equal to a rebuilt one, the resampling named by what the data give, intervals that
//! cover the truth at the rate they claim on the shipped mandrel scenario (a binomial bound that
//! holds for any random stream), and the command line's bands, columns and refusals.

mod common;

use common::{assert_refused, repo, stzlab, two_peak_decay};

use stzlab::data::MeasuredSeries;
use stzlab::inversion::{Bootstrap, InvertOptions, Kernel, Problem, ProblemSettings, Workspace};
use stzlab::noise::rng_from_seed;
use stzlab::pipeline::invert_series;
use stzlab::pipeline::simulate::simulate_clean;
use stzlab::pipeline::uncertainty::{Interval, Resampling, Scale};
use stzlab::scenario::Scenario;

fn series(sigma: bool) -> MeasuredSeries {
    let c = two_peak_decay(120, 20, 5, 2e-3, 0.01);
    MeasuredSeries {
        temperature_k: None,
        x: c.x,
        y: c.y,
        sigma: sigma.then_some(c.sigma),
    }
}

fn with_bootstrap(resamples: usize, seed: u64) -> InvertOptions {
    let mut o = InvertOptions::new(Kernel::Decay);
    o.uncertainty = Some(Bootstrap::new(resamples, seed).unwrap());
    o
}

#[test]
fn bands_are_identical_on_one_and_two_threads_and_depend_on_the_seed() {
    let data = series(true);
    let run = |threads: usize, seed: u64| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let inv = invert_series(
                &data,
                &with_bootstrap(24, seed),
                None,
                &mut Workspace::new(),
            )
            .unwrap();
            assert_eq!(
                inv.uncertainty.as_ref().unwrap().density.len(),
                inv.problem.grid().len()
            );
            inv.uncertainty.unwrap()
        })
    };
    let one = run(1, 9);
    assert_eq!(one, run(2, 9), "thread count changed the bands");
    assert_ne!(one, run(2, 10), "the seed did not change the resamples");
    assert_eq!(one.resampling, Resampling::Parametric);
    assert_eq!(one.resamples, 24);
    for band in &one.density {
        assert!(band.p05 >= 0.0 && band.p05 <= band.p95, "{band:?}");
    }
}

#[test]
fn residual_bootstrap_without_sigma() {
    let u = invert_series(
        &series(false),
        &with_bootstrap(20, 1),
        None,
        &mut Workspace::new(),
    )
    .unwrap()
    .uncertainty
    .unwrap();
    assert_eq!(u.resampling, Resampling::Residual);
    // Two well-separated processes: both recovered, in (nearly) every resample.
    assert!(u.peaks.len() >= 2);
    assert!(u.peaks.iter().any(|p| p.appearance >= 0.9));
}

#[test]
fn a_resampled_problem_equals_a_rebuilt_one() {
    let a = two_peak_decay(80, 15, 1, 1e-3, 0.0);
    let b = two_peak_decay(80, 15, 2, 1e-3, 0.0);
    let settings = || ProblemSettings::new(Kernel::Decay, a.grid);
    let p = Problem::new(&a.x, &a.y, Some(&a.sigma), settings()).unwrap();
    let rebuilt = Problem::new(&a.x, &b.y, Some(&a.sigma), settings()).unwrap();
    let resampled = p.with_data(&b.y).unwrap();
    assert_eq!(resampled.lambda_range(), rebuilt.lambda_range());
    let mut ws = Workspace::new();
    for lambda in [1e-3, 1e-1, 10.0] {
        let s1 = rebuilt.solve(lambda, &mut rebuilt.zeros(), &mut ws);
        let s2 = resampled.solve(lambda, &mut resampled.zeros(), &mut ws);
        assert_eq!(s1, s2, "lambda {lambda}");
    }
    assert!(p.with_data(&b.y[1..]).is_err(), "a shorter data set");
}

#[test]
fn basic_intervals_reflect_the_percentiles_about_the_estimate() {
    // Resamples 0..=100 around an estimate of 40: percentiles 5 and 95, reflected: 80 - 95, 80 - 5.
    let values = || (0..=100).map(f64::from).collect::<Vec<f64>>();
    let i = Interval::basic(40.0, &mut values(), Scale::Linear).unwrap();
    assert_eq!((i.p05, i.p50, i.p95), (-15.0, 30.0, 75.0));
    let i = Interval::basic(40.0, &mut values(), Scale::NonNegative).unwrap();
    assert_eq!(i.p05, 0.0);
    // In the logarithm: estimate^2 / q.
    let i = Interval::basic(10.0, &mut vec![5.0, 10.0, 20.0], Scale::Log).unwrap();
    let q = Interval::of(&mut vec![5.0, 10.0, 20.0]).unwrap();
    assert!((i.p05 - 100.0 / q.p95).abs() < 1e-12 && (i.p95 - 100.0 / q.p05).abs() < 1e-12);
    assert!(Interval::basic(f64::NAN, &mut values(), Scale::Linear).is_none());
}

/// P(X <= k) for X ~ Binomial(n, p).
fn binomial_cdf(k: usize, n: usize, p: f64) -> f64 {
    let mut term = (1.0 - p).powi(n as i32);
    let mut sum = term;
    for i in 0..k {
        term *= (n - i) as f64 / (i + 1) as f64 * p / (1.0 - p);
        sum += term;
    }
    sum
}

#[test]
fn mandrel_intervals_cover_interior_peaks_at_least_80_percent() {
    // The shipped mandrel scenario (sigma 1e-4), repeated: for each interior truth peak (in the
    // window, neither the fastest nor the slowest there), how often its tau and its area lie inside
    // the 90 % interval of the recovered peak nearest to it.
    let scenario = Scenario::load(&repo("scenarios/al-ni-y-mandrel.toml")).unwrap();
    let clean = simulate_clean(&scenario).unwrap();
    let s = &clean.series[0];
    let truth = s.effective.as_ref().unwrap();
    let (lo, hi) = (s.x[0], s.x[s.x.len() - 1]);
    let mut inside: Vec<(f64, f64)> = truth
        .peak_tau_s
        .iter()
        .zip(&truth.peak_area)
        .filter(|(t, _)| (lo..=hi).contains(*t))
        .map(|(t, a)| (*t, *a))
        .collect();
    inside.sort_by(|a, b| a.0.total_cmp(&b.0));
    let interior = &inside[1..inside.len() - 1];
    assert_eq!(interior.len(), 5);
    let runs = 40;
    let mut covered = vec![[0usize; 2]; interior.len()];
    let mut ws = Workspace::new();
    for run in 0..runs {
        let noisy = scenario
            .noise
            .apply(&s.x, &s.y_clean, &mut rng_from_seed(1000 + run));
        let data = MeasuredSeries {
            temperature_k: None,
            x: s.x.clone(),
            y: noisy.y,
            sigma: Some(noisy.sigma),
        };
        let mut options = scenario.inversion.clone();
        options.uncertainty = Some(Bootstrap::new(60, run).unwrap());
        let inv = invert_series(&data, &options, None, &mut ws).unwrap();
        let u = inv.uncertainty.as_ref().unwrap();
        for (k, &(tau, area)) in interior.iter().enumerate() {
            let nearest = inv
                .peaks()
                .iter()
                .enumerate()
                .map(|(j, p)| (j, (p.tau_s() / tau).log10().abs()))
                .filter(|(_, d)| *d <= 0.5)
                .min_by(|a, b| a.1.total_cmp(&b.1));
            if let Some((j, _)) = nearest {
                covered[k][0] += usize::from(u.peaks[j].tau_s.contains(tau));
                covered[k][1] += usize::from(u.peaks[j].area.contains(area));
            }
        }
    }
    // With a coverage of 80 % or more, fewer than `floor` hits out of 40 have a probability below
    // 1e-4 for each of the 10 counts (any random stream): a failure means coverage below 80 %.
    let floor = (0..=runs as usize)
        .find(|&k| binomial_cdf(k, runs as usize, 0.8) > 1e-4)
        .unwrap();
    for (k, [tau, area]) in covered.iter().enumerate() {
        assert!(
            *tau >= floor && *area >= floor,
            "interior peak {k}: tau covered {tau}/{runs}, area {area}/{runs} (floor {floor})"
        );
    }
}

#[test]
fn invert_writes_bands_and_intervals_and_refuses_bad_resample_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let data = common::simulate("scenarios/al-ni-y-mandrel.toml", &tmp.path().join("sim"));
    let out = tmp.path().join("inv");
    let run = stzlab()
        .args(["invert", data.to_str().unwrap(), "--kind", "decay", "-o"])
        .arg(&out)
        .args(["--uncertainty", "20", "--seed", "3", "--no-figures"])
        .args([
            "--material",
            repo("scenarios/al-ni-y-mandrel.toml").to_str().unwrap(),
        ])
        .args(["--temperature-k", "295"])
        .output()
        .unwrap();
    common::assert_success(&run);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        stdout.contains("bootstrap: 20 parametric resamples (seed 3)"),
        "{stdout}"
    );
    let spectrum = std::fs::read_to_string(out.join("spectrum.csv")).unwrap();
    assert!(
        spectrum.starts_with("tau_s,ln_tau,density,weight,density_p05,density_p50,density_p95\n")
    );
    let peaks = std::fs::read_to_string(out.join("peaks.csv")).unwrap();
    for column in [
        "appearance",
        "tau_p05_s",
        "tau_p95_s",
        "area_p05",
        "area_p95",
        "df_p05_ev",
        "omega_p95_m3",
        "omega_slope_p05_m3",
    ] {
        assert!(
            peaks
                .lines()
                .next()
                .unwrap()
                .split(',')
                .any(|c| c == column),
            "{column}"
        );
    }
    let stz = std::fs::read_to_string(out.join("stz.csv")).unwrap();
    assert!(stz.lines().next().unwrap().contains("omega_slope_p05_m3"));
    let summary = common::read_json(&out.join("summary.json"));
    assert_eq!(summary["uncertainty"]["resampling"], "parametric");
    assert!(summary["uncertainty"]["omega_slope_m3"]["p05"]
        .as_f64()
        .is_some());
    // The figure: the band behind the spectrum, and a panel of the peaks with interval bars.
    let report = stzlab().arg("report").arg(&out).output().unwrap();
    common::assert_success(&report);
    let svg = common::Svg::read(&out.join("spectrum.svg"));
    assert!(svg.has_text("spectrum (90 % band shaded)"));
    assert!(svg.has_text("peaks with their 90 % bootstrap intervals"));
    // The window's edges, and the mandrel's fastest peak (below 10 s) drawn apart.
    assert!(svg.has_text("data window") && svg.has_text("peaks outside the data window"));
    assert_eq!(summary["window_s"][0].as_f64(), Some(10.0));
    // Without --uncertainty nothing changes in the columns.
    let plain = tmp.path().join("plain");
    let run = stzlab()
        .args([
            "invert",
            data.to_str().unwrap(),
            "--kind",
            "decay",
            "--no-figures",
            "-o",
        ])
        .arg(&plain)
        .output()
        .unwrap();
    common::assert_success(&run);
    let spectrum = std::fs::read_to_string(plain.join("spectrum.csv")).unwrap();
    assert!(spectrum.starts_with("tau_s,ln_tau,density,weight\n"));

    for b in ["19", "100001"] {
        let bad = tmp.path().join(format!("bad{b}"));
        let run = stzlab()
            .args(["invert", data.to_str().unwrap(), "--kind", "decay", "-o"])
            .arg(&bad)
            .args(["--uncertainty", b])
            .output()
            .unwrap();
        assert_refused(
            &run,
            &format!(
                "error: --uncertainty {b} resamples: must lie in [20, 100000] (below 20 the 90 % interval is the sample's extremes)"
            ),
            &bad,
            b,
        );
    }
}

#[test]
fn a_sweep_with_uncertainty_reports_coverage_per_cell() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let scenario = repo("scenarios/al-ni-y-mandrel.toml");
    let run = stzlab()
        .args([
            "run",
            scenario.to_str().unwrap(),
            "--quiet",
            "--no-figures",
            "-o",
        ])
        .arg(&out)
        .args([
            "--set",
            "inversion.uncertainty=20",
            "--set",
            "sweep.repeats=3",
        ])
        .output()
        .unwrap();
    common::assert_success(&run);
    let summary = common::read_json(&out.join("summary.json"));
    let coverage = summary["coverage"].as_array().unwrap();
    assert_eq!(coverage.len(), 1, "one cell");
    let c = &coverage[0];
    assert_eq!(c["rule"], "discrepancy", "the scenario's first rule");
    assert!((c["nominal"].as_f64().unwrap() - 0.9).abs() < 1e-12);
    for q in ["density", "tau", "area", "slope"] {
        let mean = c["coverage"][q]["mean"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&mean), "{q}: {mean}");
        assert_eq!(c["coverage"][q]["runs"], 3, "{q}");
    }
    // Only the first rule's rows carry coverage.
    let text = std::fs::read_to_string(out.join("runs.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let (rule, cover) = (
        header.iter().position(|h| *h == "rule").unwrap(),
        header.iter().position(|h| *h == "cover_tau").unwrap(),
    );
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f[cover].is_empty(), f[rule] != "discrepancy", "{line}");
    }

    let bad = tmp.path().join("bad");
    let run = stzlab()
        .args(["run", scenario.to_str().unwrap(), "--quiet", "-o"])
        .arg(&bad)
        .args(["--set", "inversion.uncertainty=5"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("inversion.uncertainty") && stderr.contains("[20, 100000]"),
        "{stderr}"
    );
    assert!(!bad.exists());
}

#[test]
fn an_observer_hears_the_start_and_every_resample() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use stzlab::pipeline::uncertainty::Observer;
    #[derive(Default)]
    struct Count {
        started: AtomicUsize,
        done: AtomicUsize,
        last: AtomicUsize,
    }
    impl Observer for Count {
        fn starting(&self, resamples: usize, seconds: f64) {
            assert!(resamples == 25 && seconds > 0.0);
            self.started.fetch_add(1, Ordering::Relaxed);
        }
        fn resampled(&self, done: usize, total: usize) {
            assert_eq!(total, 25);
            self.done.fetch_add(1, Ordering::Relaxed);
            self.last.fetch_max(done, Ordering::Relaxed);
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let data = common::simulate("scenarios/al-ni-y-mandrel.toml", &tmp.path().join("sim"));
    let count = Count::default();
    let options = with_bootstrap(25, 2);
    stzlab::pipeline::invert::invert_data(&data, &options, None, None, &count).unwrap();
    assert_eq!(count.started.load(Ordering::Relaxed), 1);
    assert_eq!(count.done.load(Ordering::Relaxed), 25);
    assert_eq!(count.last.load(Ordering::Relaxed), 25);
}
