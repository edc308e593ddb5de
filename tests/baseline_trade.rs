//! A negative baseline balanced by the spectrum beyond the data window is reported, never silent:
//! on creep data the units faster than the window look like c_inf and the slower ones like the
//! slope B, so the data fix only the sums (README, "Non-negative baseline").

mod common;

use std::path::Path;

use common::{read_json, simulate_file, stzlab};

/// Five 0.08-decade peaks one decade apart (the validation suite's `quantized`), cantilever creep
/// over 1e-2 .. 1e4 s, sigma 1e-4, with the scenario seed `seed`.
fn quantized_creep(seed: u64, dir: &Path) -> std::path::PathBuf {
    let scenario = dir.join(format!("quantized-{seed}.toml"));
    std::fs::write(
        &scenario,
        format!(
            r#"version = 1
name = "quantized-creep"
seed = {seed}
[material]
mu_gpa = 19.2
nu = 0.324
[truth]
kind = "spectrum"
peaks = [
    {{ tau_s = 0.1, area = 0.01, width = 0.1842 }}, {{ tau_s = 1, area = 0.015, width = 0.1842 }},
    {{ tau_s = 10, area = 0.02, width = 0.1842 }}, {{ tau_s = 100, area = 0.03, width = 0.1842 }},
    {{ tau_s = 1000, area = 0.04, width = 0.1842 }},
]
[protocol]
kind = "cantilever"
temperature_k = 295
times = {{ start_s = 1e-2, stop_s = 1e4, points = 200 }}
[noise]
sigma = 1e-4
"#
        ),
    )
    .unwrap();
    simulate_file(&scenario, &dir.join(format!("sim-{seed}")))
}

/// Inverts `data` as creep with `extra` flags into `out`; returns summary.json and stderr.
fn invert(data: &Path, out: &Path, extra: &[&str]) -> (serde_json::Value, String) {
    let o = stzlab()
        .args([
            "invert",
            data.to_str().unwrap(),
            "--kind",
            "creep",
            "--no-figures",
            "-o",
        ])
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    common::assert_success(&o);
    (
        read_json(&out.join("summary.json")),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// (area below the window, the creep rate of the spectrum above it in 1/s, total area), from
/// spectrum.csv (density per unit ln tau on a uniform ln tau grid).
fn beyond_the_window(out: &Path, window: (f64, f64)) -> (f64, f64, f64) {
    let text = std::fs::read_to_string(out.join("spectrum.csv")).unwrap();
    let rows: Vec<(f64, f64)> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .skip(1)
        .map(|l| {
            let v: Vec<f64> = l.split(',').map(|x| x.parse().unwrap()).collect();
            (v[1], v[2])
        })
        .collect();
    let step = rows[1].0 - rows[0].0;
    let (mut below, mut rate, mut total) = (0.0, 0.0, 0.0);
    for &(ln_tau, density) in &rows {
        let area = density * step;
        total += area;
        if ln_tau.exp() < window.0 {
            below += area;
        }
        if ln_tau.exp() > window.1 {
            rate += area / ln_tau.exp();
        }
    }
    (below, rate, total)
}

#[test]
fn a_negative_creep_baseline_balanced_beyond_the_window_is_warned_about_exactly_when_it_is() {
    let tmp = tempfile::tempdir().unwrap();
    let mut warned = Vec::new();
    for seed in 11..18 {
        let data = quantized_creep(seed, tmp.path());
        let out = tmp.path().join(format!("inv-{seed}"));
        let (summary, stderr) = invert(&data, &out, &[]);
        let w = summary["window_s"].as_array().unwrap();
        let window = (w[0].as_f64().unwrap(), w[1].as_f64().unwrap());
        let c = summary["baseline"]["c_inf"].as_f64().unwrap();
        let b = summary["baseline"]["slope_per_x"].as_f64().unwrap();
        let (below, rate, total) = beyond_the_window(&out, window);
        // The rule of the warning, from the written outputs: negative, at least 1 % of the area
        // (B over the window's end), and at least half of it stood in for beyond the window.
        let c_traded = c < 0.0 && -c >= 0.01 * total && below >= 0.5 * -c;
        let b_traded = b < 0.0 && -b * window.1 >= 0.01 * total && rate >= 0.5 * -b;
        let warning = summary["warning"].as_str().unwrap_or("");
        assert_eq!(
            warning.contains("c_inf = "),
            c_traded,
            "seed {seed}: c_inf {c}, {below} below the window of {total}: {warning}"
        );
        assert_eq!(
            warning.contains("slope_per_x = "),
            b_traded,
            "seed {seed}: B {b}, rate {rate} above the window: {warning}"
        );
        if c_traded || b_traded {
            assert!(
                warning.contains("--baseline-nonnegative") && stderr.contains(warning),
                "seed {seed}: the warning is on stderr too: {stderr}"
            );
            warned.push(seed);
        }
        // With the baseline constrained there is nothing to trade.
        let (constrained, _) = invert(
            &data,
            &tmp.path().join(format!("nonneg-{seed}")),
            &["--baseline-nonnegative"],
        );
        let text = constrained["warning"].as_str().unwrap_or("");
        assert!(!text.contains("is negative"), "seed {seed}: {text}");
    }
    // Seed 15 (fixed data: the noise stream is the scenario seed's) puts a whole peak's area,
    // 0.031, below the window against c_inf = -0.031 (measured; far from either threshold).
    assert!(warned.contains(&15), "warned for seeds {warned:?}");
}

/// A sweep counts the same trade per run (`baseline_traded`): 0 or 1 on creep data, 1 only where
/// the fitted baseline is negative, never with the baseline constrained, and empty for loss data,
/// which have no baseline; the metrics figure draws it as the fraction of the runs.
#[test]
fn a_sweep_counts_the_trade_per_run() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = tmp.path().join("sweep.toml");
    std::fs::write(
        &scenario,
        r#"version = 1
name = "trade"
seed = 5
[material]
mu_gpa = 19.2
nu = 0.324
[truth]
kind = "spectrum"
peaks = [{ tau_s = 10, area = 0.1, shape = "kww", beta = 0.7 }]
[protocol]
kind = "cantilever"
times = { start_s = 1e-2, stop_s = 1e4, points = 200 }
[noise]
sigma = 1e-4
[inversion]
rules = ["consensus", "gcv"]
[sweep]
repeats = 8
[sweep.axes]
"protocol" = [
    { label = "creep", kind = "cantilever", temperature_k = 295,
      times = { start_s = 1e-2, stop_s = 1e4, points = 200 } },
    { label = "loss", kind = "dma", temperatures_k = [295], loss_model = "eq7", normalized = true,
      omega = { start_rad_s = 1e-4, stop_rad_s = 1e2, points = 200 } },
]
"#,
    )
    .unwrap();
    for (name, extra) in [
        ("free", None),
        ("nonneg", Some("inversion.baseline_nonnegative=true")),
    ] {
        let out = tmp.path().join(name);
        let mut cmd = stzlab();
        cmd.args(["run", scenario.to_str().unwrap(), "--quiet", "-o"])
            .arg(&out);
        if let Some(set) = extra {
            cmd.args(["--set", set, "--no-figures"]);
        }
        common::assert_success(&cmd.output().unwrap());
        let text = std::fs::read_to_string(out.join("runs.csv")).unwrap();
        let mut lines = text.lines().filter(|l| !l.starts_with('#'));
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let col = |n: &str| header.iter().position(|h| *h == n).unwrap();
        let (protocol, traded, c, b) = (
            col("protocol"),
            col("baseline_traded"),
            col("baseline_error"),
            col("slope_error"),
        );
        let (mut creep_rows, mut traded_rows) = (0, 0);
        for line in lines {
            let f: Vec<&str> = line.split(',').collect();
            if f[protocol] == "loss" {
                assert!(f[traded].is_empty(), "loss has no baseline: {line}");
                continue;
            }
            creep_rows += 1;
            let t: f64 = f[traded].parse().unwrap();
            assert!(t == 0.0 || t == 1.0, "{line}");
            if t == 1.0 {
                traded_rows += 1;
                let (c, b): (f64, f64) = (f[c].parse().unwrap(), f[b].parse().unwrap());
                assert!(
                    c < 0.0 || b < 0.0,
                    "traded with a non-negative baseline: {line}"
                );
                assert!(
                    extra.is_none(),
                    "traded with the baseline constrained: {line}"
                );
            }
        }
        // 8 repeats x (2 rules + the oracle) on creep.
        assert_eq!(creep_rows, 24, "{name}");
        // KWW 0.7 in creep trades in 46 % of the suite's consensus runs (README); this seed's
        // eight draws are no exception.
        if extra.is_none() {
            eprintln!("{traded_rows} of 24 creep rows traded");
            assert!(traded_rows > 0, "the flag never came");
            // The metrics figure draws it as the fraction of the runs.
            let svg = std::fs::read_to_string(out.join("metrics.svg")).unwrap();
            assert!(
                svg.contains("baseline_traded (fraction of runs)"),
                "metrics.svg"
            );
        }
    }
}
