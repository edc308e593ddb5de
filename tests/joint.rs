//! Joint inversion (docs/model.md §7): chi^2 and degrees of freedom over all sets checked by hand,
//! one set equal to the single inversion, the Al-Ni-Y hierarchy seen by cantilever and mandrel
//! recovered over 14 decades, and the refusals.

mod common;

use std::path::{Path, PathBuf};

use faer::linalg::solvers::Solve;

use common::{assert_refused, repo, stzlab};
use stzlab::inversion::penalty::difference_operator;
use stzlab::inversion::{
    Baseline, DataBlock, InvertOptions, Kernel, Problem, ProblemSettings, Workspace,
};
use stzlab::noise::rng_from_seed;
use stzlab::pipeline::joint::invert_joint;
use stzlab::pipeline::simulate::simulate_clean;
use stzlab::scenario::{load_material, Scenario};
use stzlab::spectrum::LnTauGrid;

fn log_times(start: f64, stop: f64, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| start * (stop / start).powf(i as f64 / (n - 1) as f64))
        .collect()
}

#[test]
fn joint_chi2_and_dof_by_hand_on_a_small_case() {
    // A decay set (constant baseline) and a creep set (constant + linear), sharing an 8-point grid.
    let grid = LnTauGrid::new(0.1, 1e3, 8).unwrap();
    let taus = grid.taus_s();
    let t1 = log_times(0.3, 300.0, 12);
    let t2 = log_times(0.5, 50.0, 10);
    let y1: Vec<f64> = t1
        .iter()
        .enumerate()
        .map(|(i, t)| 0.4 * (-t / 3.0).exp() + 0.02 + 1e-3 * (i as f64 * 1.7).sin())
        .collect();
    let y2: Vec<f64> = t2
        .iter()
        .enumerate()
        .map(|(i, t)| 0.3 * (1.0 - (-t / 10.0).exp()) + 1e-4 * t + 1e-3 * (i as f64).cos())
        .collect();
    let s1 = vec![2e-3; t1.len()];
    let s2: Vec<f64> = (0..t2.len())
        .map(|i| 1e-3 * (1.0 + 0.1 * i as f64))
        .collect();
    let blocks = [
        DataBlock {
            kernel: Kernel::Decay,
            baseline: Baseline::Constant,
            x: &t1,
            y: &y1,
            sigma: Some(&s1),
        },
        DataBlock {
            kernel: Kernel::Creep,
            baseline: Baseline::ConstantLinear,
            x: &t2,
            y: &y2,
            sigma: Some(&s2),
        },
    ];
    let p = Problem::joint(&blocks, ProblemSettings::new(Kernel::Decay, grid)).unwrap();
    assert_eq!(p.len(), 22);
    assert_eq!(p.blocks()[1].rows, 12..22);
    assert_eq!(
        p.blocks()[1].columns,
        9..11,
        "after 8 amplitudes and the decay constant"
    );
    let mut ws = Workspace::new();
    // The unknowns by hand: 8 amplitudes, the decay set's c_inf, the creep set's c_inf and slope.
    let row = |set: usize, t: f64| -> Vec<f64> {
        let mut r: Vec<f64> = taus
            .iter()
            .map(|&tau| {
                if set == 0 {
                    (-t / tau).exp()
                } else {
                    1.0 - (-t / tau).exp()
                }
            })
            .collect();
        r.extend(if set == 0 {
            [1.0, 0.0, 0.0]
        } else {
            [0.0, 1.0, t]
        });
        r
    };
    let data: Vec<(Vec<f64>, f64, f64)> = t1
        .iter()
        .zip(&y1)
        .zip(&s1)
        .map(|((t, y), s)| (row(0, *t), *y, *s))
        .chain(
            t2.iter()
                .zip(&y2)
                .zip(&s2)
                .map(|((t, y), s)| (row(1, *t), *y, *s)),
        )
        .collect();
    let (l_rows, l) = difference_operator(8, 2, false);
    for lambda in [1e-2, 1.0, 30.0] {
        let sol = p.solve(lambda, &mut p.zeros(), &mut ws);
        assert_eq!(sol.baseline.len(), 3);
        let coef: Vec<f64> = sol
            .amplitudes
            .iter()
            .chain(&sol.baseline)
            .copied()
            .collect();
        let chi2: f64 = data
            .iter()
            .map(|(r, y, s)| {
                ((y - r.iter().zip(&coef).map(|(a, b)| a * b).sum::<f64>()) / s).powi(2)
            })
            .sum();
        assert!(
            (sol.stats.weighted_ss - chi2).abs() < 1e-8 * chi2.max(1e-12),
            "lambda {lambda}: chi^2 {} vs {chi2} by hand",
            sol.stats.weighted_ss
        );
        // dof: the trace of the influence matrix W A_P (A_P^T W^2 A_P + lambda^2 L_P^T L_P)^-1 A_P^T W
        // on the free set P (positive amplitudes and every baseline term).
        let free: Vec<usize> = (0..8)
            .filter(|&j| sol.amplitudes[j] > 0.0)
            .chain(8..11)
            .collect();
        let q = free.len();
        let a = faer::Mat::<f64>::from_fn(data.len(), q, |i, b| data[i].0[free[b]] / data[i].2);
        let penalty = faer::Mat::<f64>::from_fn(q, q, |ia, ib| {
            let (i, j) = (free[ia], free[ib]);
            if i < 8 && j < 8 {
                lambda
                    * lambda
                    * (0..l_rows)
                        .map(|r| l[r * 8 + i] * l[r * 8 + j])
                        .sum::<f64>()
            } else {
                0.0
            }
        });
        let normal = a.transpose() * &a + &penalty;
        let h = &a * normal.partial_piv_lu().solve(a.transpose().to_owned());
        let trace: f64 = (0..data.len()).map(|i| h[(i, i)]).sum();
        assert!(
            (sol.stats.dof - trace).abs() < 1e-6 * trace,
            "lambda {lambda}: dof {} vs trace {trace}",
            sol.stats.dof
        );
    }
}

fn invert(args: &[&str], out: &Path) -> std::process::Output {
    stzlab()
        .arg("invert")
        .args(args)
        .args(["--no-figures", "-o"])
        .arg(out)
        .output()
        .unwrap()
}

#[test]
fn a_joint_inversion_of_one_set_is_the_single_inversion() {
    let tmp = tempfile::tempdir().unwrap();
    for (scenario, kind) in [
        ("scenarios/al-ni-y-mandrel.toml", "decay"),
        ("scenarios/al-ni-y-cantilever.toml", "creep"),
    ] {
        let data = common::simulate(scenario, &tmp.path().join(kind));
        let data = data.to_str().unwrap();
        let (single, joint) = (
            tmp.path().join(format!("single-{kind}")),
            tmp.path().join(format!("joint-{kind}")),
        );
        common::assert_success(&invert(&[data, "--kind", kind], &single));
        common::assert_success(&invert(&["--joint", &format!("{kind}={data}")], &joint));
        for file in ["spectrum.csv", "peaks.csv", "path.csv"] {
            let a = std::fs::read(single.join(file)).unwrap();
            let b = std::fs::read(joint.join(file)).unwrap();
            assert!(a == b, "{kind}: {file} differs");
        }
        // fit.csv: the same rows behind the set's name.
        let a = std::fs::read_to_string(single.join("fit.csv")).unwrap();
        let b = std::fs::read_to_string(joint.join("fit.csv")).unwrap();
        for (x, y) in a.lines().skip(1).zip(b.lines().skip(1)) {
            assert_eq!(y.strip_prefix("data,"), Some(x));
        }
        let s = common::read_json(&joint.join("summary.json"));
        assert_eq!(s["kind"], "joint");
        assert_eq!(s["sets"][0]["kind"], kind);
        assert_eq!(s["sets"][0]["sigma"], "given");
    }
}

#[test]
fn sets_without_sigma_estimate_it_in_their_own_unit_at_any_scale() {
    // Two decay sets without a sigma column (each gets its own fit's noise level), in their unit
    // and multiplied by 1e200: the same peaks, and each sigma estimate 1e200 times larger.
    let tmp = tempfile::tempdir().unwrap();
    let data = common::simulate("scenarios/al-ni-y-mandrel.toml", &tmp.path().join("sim"));
    let text = std::fs::read_to_string(data).unwrap();
    let run = |factor: f64| -> serde_json::Value {
        let rows: String = text
            .lines()
            .skip(1)
            .map(|l| {
                let f: Vec<f64> = l.split(',').map(|v| v.parse().unwrap()).collect();
                format!("{},{:e}\n", f[0], f[1] * factor)
            })
            .collect();
        let (a, b) = (
            tmp.path().join(format!("a-{factor:e}.csv")),
            tmp.path().join(format!("b-{factor:e}.csv")),
        );
        std::fs::write(&a, &rows).unwrap();
        std::fs::write(&b, &rows).unwrap();
        let out = tmp.path().join(format!("joint-{factor:e}"));
        let joined = |p: &Path| format!("decay={}", p.display());
        common::assert_success(&invert(
            &["--joint", &joined(&a), "--joint", &joined(&b)],
            &out,
        ));
        common::read_json(&out.join("summary.json"))
    };
    let (one, big) = (run(1.0), run(1e200));
    for k in 0..2 {
        let (s1, s) = (
            one["sets"][k]["sigma_estimate"].as_f64().unwrap(),
            big["sets"][k]["sigma_estimate"].as_f64().unwrap(),
        );
        assert!(
            (s / 1e200 / s1 - 1.0).abs() < 1e-6,
            "set {k}: {s1} x 1e200 vs {s}"
        );
    }
    let taus = |s: &serde_json::Value| -> Vec<f64> {
        s["peaks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["tau_s"].as_f64().unwrap())
            .collect()
    };
    let (t1, t) = (taus(&one), taus(&big));
    assert_eq!(t1.len(), t.len());
    for (a, b) in t1.iter().zip(&t) {
        assert!((a / b - 1.0).abs() < 1e-6, "tau {a} vs {b}");
    }
}

/// Writes `x,y,sigma` rows.
fn write_csv(path: &Path, x: &[f64], y: &[f64], sigma: &[f64]) {
    let mut text = String::from("t_s,y,sigma\n");
    for ((a, b), c) in x.iter().zip(y).zip(sigma) {
        text.push_str(&format!("{a},{b},{c}\n"));
    }
    std::fs::write(path, text).unwrap();
}

#[test]
fn al_ni_y_cantilever_and_mandrel_jointly_recover_every_size_over_14_decades() {
    // The shipped cantilever (1.5e-3 s .. 200 s) and mandrel (10 s .. 1e8 s) scenarios share one
    // hierarchy (n = 10..21, V_a = 16.6e-30 m^3); eight noise realizations of each.
    let tmp = tempfile::tempdir().unwrap();
    let load = |f: &str| Scenario::load(&repo(f)).unwrap();
    let (cantilever, mandrel) = (
        load("scenarios/al-ni-y-cantilever.toml"),
        load("scenarios/al-ni-y-mandrel.toml"),
    );
    let (c_clean, m_clean) = (
        simulate_clean(&cantilever).unwrap(),
        simulate_clean(&mandrel).unwrap(),
    );
    let (cs, ms) = (&c_clean.series[0], &m_clean.series[0]);
    // The effective truth: the mandrel's areas inside its window (its constraint time leaves the
    // slowest sizes partly loaded), the cantilever's below it.
    let effective = |s: &stzlab::pipeline::simulate::Series| {
        let e = s.effective.as_ref().unwrap();
        e.peak_tau_s
            .iter()
            .copied()
            .zip(e.peak_area.iter().copied())
            .collect::<Vec<_>>()
    };
    let (c_truth, m_truth) = (effective(cs), effective(ms));
    let union = (cs.x[0], ms.x[ms.x.len() - 1]);
    let material = load_material(&repo("scenarios/al-ni-y-mandrel.toml")).unwrap();
    let va = material.atomic_volume_m3.unwrap();
    for seed in 0..8u64 {
        let mut rng = rng_from_seed(100 + seed);
        let mut files = Vec::new();
        // Creep noise 5e-5: at the shipped cantilever scenario's 2e-4 the sizes with c <= 0.0013 sit
        // near the noise (shifts to 0.35 decade, the slope off by up to 21 % in 2 of 8 seeds).
        let c_noise = stzlab::noise::NoiseModel::new(5e-5, 0.0, 0.0, 0.0, 0.0).unwrap();
        for (name, noise, s) in [
            ("cantilever", &c_noise, cs),
            ("mandrel", &mandrel.noise, ms),
        ] {
            let noisy = noise.apply(&s.x, &s.y_clean, &mut rng);
            let path: PathBuf = tmp.path().join(format!("{name}-{seed}.csv"));
            write_csv(&path, &s.x, &noisy.y, &noisy.sigma);
            files.push(path);
        }
        let sets = [
            (Kernel::Creep, files[0].clone()),
            (Kernel::Decay, files[1].clone()),
        ];
        let options = InvertOptions::new(Kernel::Creep);
        let inv = invert_joint(&sets, &options, Some(&material), Some(295.0), &()).unwrap();
        let s = &inv.series[0];
        let peaks = s.peaks();
        let in_union: Vec<(f64, f64)> = c_truth
            .iter()
            .map(|&(tau, area)| {
                let m = m_truth.iter().find(|m| (m.0 / tau - 1.0).abs() < 1e-9);
                match m {
                    Some(&m) if tau >= ms.x[0] => m,
                    _ => (tau, area),
                }
            })
            .filter(|(tau, _)| (union.0..=union.1).contains(tau))
            .collect();
        assert_eq!(in_union.len(), 11, "n = 11..21 lie in 1.5e-3 s .. 1e8 s");
        for (k, (tau, area)) in in_union.iter().enumerate() {
            let nearest = common::nearest_peak(peaks, *tau);
            let shift = (nearest.tau_s() / tau).log10().abs();
            // n = 11 lies 0.08 decade inside the window's fast end: found, within 0.3 decade.
            let edge = (tau / union.0).log10() < 0.1;
            assert!(
                shift <= if edge { 0.3 } else { 0.15 },
                "seed {seed}: size {k} at {tau:.3e} s: nearest peak {shift:.3} decades away"
            );
            let interior = k > 0 && k + 1 < in_union.len();
            let ratio = nearest.area / area;
            assert!(
                !interior || (ratio - 1.0).abs() <= 0.2,
                "seed {seed}: size {k} at {tau:.3e} s: area {:.5} vs {area:.5}",
                nearest.area
            );
        }
        let slope = s.stz.as_ref().unwrap().slope_m3.unwrap() / va;
        assert!(
            (slope - 1.0).abs() <= 0.03,
            "seed {seed}: Omega slope {slope} atomic volumes"
        );
        assert_eq!(s.sets.len(), 2);
        let warning = s.summary(None).warning.unwrap_or_default();
        assert!(!warning.contains("gap"), "the windows overlap: {warning}");
    }
}

#[test]
fn joint_inputs_that_do_not_go_together_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let data = common::simulate("scenarios/al-ni-y-mandrel.toml", &tmp.path().join("sim"));
    let data = data.to_str().unwrap().to_string();
    let dma = common::simulate("scenarios/zr-dma.toml", &tmp.path().join("dma"));
    let dma = dma.to_str().unwrap().to_string();
    let copy = tmp.path().join("other").join("data.csv");
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    std::fs::copy(&data, &copy).unwrap();
    let copy = copy.to_str().unwrap().to_string();
    let cases: Vec<(Vec<String>, String)> = vec![
        (
            vec!["--joint".into(), format!("decay={data}"), "--joint".into(), format!("decay={copy}")],
            format!("error: two data sets are named data ({data} and {copy}): sets are named by their file's stem"),
        ),
        (
            vec!["--joint".into(), format!("decay={data}"), "--joint".into(), format!("loss={dma}")],
            format!("error: {dma}: holds 8 temperatures; a joint data set is one series"),
        ),
    ];
    for (i, (args, expected)) in cases.iter().enumerate() {
        let out = tmp.path().join(format!("out{i}"));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_refused(&invert(&args, &out), expected, &out, expected);
    }
    // Loss data (one temperature) joined with strains without a material: refused.
    let one_t = tmp.path().join("loss.csv");
    let text = std::fs::read_to_string(&dma).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let first_t = lines
        .clone()
        .next()
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .to_string();
    let rows: Vec<&str> = lines
        .filter(|l| l.split(',').next() == Some(&first_t))
        .collect();
    std::fs::write(&one_t, format!("{header}\n{}\n", rows.join("\n"))).unwrap();
    let out = tmp.path().join("mixed");
    assert_refused(
        &invert(&["--joint", &format!("decay={data}"), "--joint", &format!("loss={}", one_t.display())], &out),
        "error: loss data (Pa) joined with strain data need --material and --temperature-k: they are divided by E0(T) to share the spectrum in volume fractions",
        &out,
        "loss with strain",
    );
    // Windows with a gap (creep to 200 s, recovery from 1e3 s): a warning, not a refusal.
    let cantilever = common::simulate("scenarios/al-ni-y-cantilever.toml", &tmp.path().join("c"));
    let late = tmp.path().join("late.csv");
    let text = std::fs::read_to_string(&data).unwrap();
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| {
            l.split(',')
                .next()
                .and_then(|t| t.parse::<f64>().ok())
                .is_none_or(|t| t >= 1e3)
        })
        .collect();
    std::fs::write(&late, kept.join("\n") + "\n").unwrap();
    let out = tmp.path().join("gap");
    let run = invert(
        &[
            "--joint",
            &format!("creep={}", cantilever.display()),
            "--joint",
            &format!("decay={}", late.display()),
        ],
        &out,
    );
    common::assert_success(&run);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("leave a gap (2.000e2 s to 1."), "{stderr}");

    // DATA and --joint together, and a malformed --joint: clap refuses (exit 2).
    for args in [
        vec![data.as_str(), "--kind", "decay", "--joint", "decay=x.csv"],
        vec!["--joint", "decay"],
    ] {
        let out = tmp.path().join("clap");
        let run = invert(&args, &out);
        assert_eq!(run.status.code(), Some(2), "{args:?}");
        assert!(!out.exists());
    }
}

#[test]
fn the_joint_scenario_recovers_the_hierarchy_in_every_run() {
    // scenarios/al-ni-y-joint.toml: cantilever and mandrel of one sample as one protocol; each run
    // inverts both data sets jointly and is scored against their joint effective truth.
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let run = stzlab()
        .args([
            "run",
            repo("scenarios/al-ni-y-joint.toml").to_str().unwrap(),
        ])
        .args(["--quiet", "--no-figures", "--set", "sweep.repeats=8", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    common::assert_success(&run);
    let text = std::fs::read_to_string(out.join("runs.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let mut runs = 0;
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        if f[col("rule")] != "discrepancy" {
            continue;
        }
        runs += 1;
        let v = |name: &str| f[col(name)].parse::<f64>().unwrap();
        // Every size inside 1.5e-3 s .. 1e8 s found (n = 11..21), none invented there.
        assert_eq!((v("missed"), v("spurious")), (0.0, 0.0), "{line}");
        // Each set's baseline is its own: no single baseline error.
        assert!(f[col("baseline_error")].is_empty() && f[col("slope_error")].is_empty());
        assert!(v("centroid_error_decades") < 0.15, "{line}");
        assert!(v("peak_area_error") < 0.2, "{line}");
        assert!(v("omega_slope_error").abs() < 0.03, "{line}");
    }
    assert_eq!(runs, 8);

    // simulate writes one data file per experiment, which invert --joint reads.
    let sim = tmp.path().join("sim");
    let run = stzlab()
        .args([
            "simulate",
            repo("scenarios/al-ni-y-joint.toml").to_str().unwrap(),
            "-o",
        ])
        .arg(&sim)
        .output()
        .unwrap();
    common::assert_success(&run);
    assert!(!sim.join("data.csv").exists());
    let inv = tmp.path().join("inv");
    let run = invert(
        &[
            "--joint",
            &format!("creep={}", sim.join("cantilever.csv").display()),
            "--joint",
            &format!("decay={}", sim.join("mandrel.csv").display()),
        ],
        &inv,
    );
    common::assert_success(&run);
    let s = common::read_json(&inv.join("summary.json"));
    assert_eq!(s["sets"].as_array().unwrap().len(), 2);
}

#[test]
fn a_joint_protocol_takes_mandrel_and_cantilever_sets_at_one_temperature() {
    let tmp = tempfile::tempdir().unwrap();
    let base = std::fs::read_to_string(repo("scenarios/al-ni-y-joint.toml")).unwrap();
    for (edit, expected) in [
        (
            base.replacen("temperature_k = 295", "temperature_k = 300", 1),
            "protocol.sets[1].temperature_k: the experiments of a joint protocol share one sample at one temperature",
        ),
        (
            base.replacen("kind = \"cantilever\"", "kind = \"dma\"", 1),
            "protocol.sets[0].kind: a joint experiment is a mandrel or a cantilever protocol",
        ),
        (
            base.replacen("t_c_s = 2e6", "t_c_s = -1", 1),
            "protocol.sets[1].t_c_s: constraint time -1 s must be > 0",
        ),
    ] {
        let file = tmp.path().join("bad.toml");
        std::fs::write(&file, edit).unwrap();
        let out = tmp.path().join("out");
        let run = stzlab()
            .args(["run", file.to_str().unwrap(), "--quiet", "-o"])
            .arg(&out)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(expected), "{expected}\n{stderr}");
        assert!(!out.exists());
    }
}
