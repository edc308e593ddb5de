//! The method studies (issue 5) from their shipped scenarios: each regenerates its committed
//! `results/<study>/summary.json` within stated tolerances, and shows the behaviour the paper
//! reports.

mod common;

use std::path::PathBuf;

use common::{check_report, read_json, repo, stzlab, Svg, BLACK, FIRST};
use serde_json::Value;

/// Runs a shipped study into a temporary folder and returns its summary.
fn run_study(name: &str) -> (tempfile::TempDir, Value) {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join(name);
    let o = stzlab()
        .args([
            "run",
            repo(&format!("scenarios/{name}.toml")).to_str().unwrap(),
        ])
        .args(["--quiet", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary = read_json(&out.join("summary.json"));
    (tmp, summary)
}

/// Every number of the regenerated summary equals the committed one to a relative 1e-6 (the runs
/// are deterministic; the tolerance allows only for floating-point differences between machines),
/// and the structure is the same.
fn same_numbers(path: &str, a: &Value, b: &Value) {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!(
                (x - y).abs() <= 1e-6 * x.abs().max(y.abs()) + 1e-12,
                "{path}: {x} now, {y} committed"
            );
        }
        (Value::Object(x), Value::Object(y)) => {
            let kx: Vec<_> = x.keys().collect();
            let ky: Vec<_> = y.keys().collect();
            assert_eq!(kx, ky, "{path}: keys");
            for (k, v) in x {
                same_numbers(&format!("{path}.{k}"), v, &y[k]);
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{path}: length");
            for (i, (u, v)) in x.iter().zip(y).enumerate() {
                same_numbers(&format!("{path}[{i}]"), u, v);
            }
        }
        _ => assert_eq!(a, b, "{path}"),
    }
}

/// Regenerates a committed study, compares it, and checks its report: index.html, and the named
/// figure of the first cell, returned parsed.
fn regenerates(name: &str, figure: &str) -> (Value, Svg, PathBuf) {
    let (now, mut figures) = regenerates_figures(name, &[figure]);
    let (svg, path) = figures.remove(0);
    (now, svg, path)
}

/// [`regenerates`], reading several of the first cell's figures.
fn regenerates_figures(name: &str, figures: &[&str]) -> (Value, Vec<(Svg, PathBuf)>) {
    let (tmp, now) = run_study(name);
    let committed = read_json(&repo(&format!("results/{name}/summary.json")));
    same_numbers(name, &now, &committed);
    let dir = tmp.path().join(name);
    check_report(&dir);
    let read = figures
        .iter()
        .map(|f| {
            let path = dir.join(format!("{f}_cell0000.svg"));
            (Svg::read(&path), path)
        })
        .collect();
    (now, read)
}

fn headline(s: &Value, key: &str) -> f64 {
    s["headline"][key]
        .as_f64()
        .unwrap_or_else(|| panic!("headline.{key} missing"))
}

fn cell_median(s: &Value, cell: usize, key: &str) -> f64 {
    s["cells"][cell]["metrics"][key]["median"]
        .as_f64()
        .unwrap_or_else(|| panic!("cells[{cell}].{key} missing"))
}

#[test]
fn stretched_exponent_overestimates_tau_by_more_than_30_percent_on_both_spacings() {
    let (s, svg, p) = regenerates("stretched-exponent", "stretched");
    svg.assert_curve(&p, "x0 exp(-(t/tau_s)^beta), x0 free", FIRST, 50);
    assert!(svg.has_text("linear time spacing") && svg.has_text("log time spacing"));
    assert!(svg.has_text("x0 = 1") && svg.circles >= 2 * 60);
    for spacing in ["linear", "log"] {
        let tau = headline(&s, &format!("tau_s_{spacing}"));
        assert!(tau > 1.3 * 30.0, "{spacing}: tau_s = {tau}");
        // Good fits nonetheless (paper: "both yield good fits"): RMS below 0.5 % of x(0).
        assert!(headline(&s, &format!("rms_{spacing}")) < 5e-3);
        // x0 free absorbs the shift: x0 < 1; pinned to 1, tau_s falls below 30 instead.
        assert!(headline(&s, &format!("x0_{spacing}")) < 1.0);
        assert!(headline(&s, &format!("tau_s_{spacing}_pinned")) < 30.0);
        for k in ["beta", "tau_s"] {
            assert!(headline(&s, &format!("{k}_{spacing}_stderr")) > 0.0);
        }
    }
}

#[test]
fn tts_gives_one_apparent_activation_energy_inside_the_true_range() {
    let (s, svg, p) = regenerates("tts-master-curve", "tts");
    svg.assert_curve(&p, "KWW", FIRST, 100);
    for t in [
        "Debye",
        "shifted data",
        "358 K",
        "418 K",
        "Arrhenius plot of the shifts",
    ] {
        assert!(svg.has_text(t), "{t}");
    }
    let e = headline(&s, "apparent_activation_energy_ev");
    let (lo, hi) = (
        headline(&s, "true_df_min_ev"),
        headline(&s, "true_df_max_ev"),
    );
    assert!(
        (lo - 0.85).abs() < 1e-3 && (hi - 1.275).abs() < 1e-3,
        "{lo} {hi}"
    );
    // docs/model.md: about 1.15 eV for these c_n, Eq. 7, 358-418 K and 1e-2..1e3 rad/s.
    assert!((e - 1.15).abs() < 0.05, "E_a = {e} eV");
    assert!(headline(&s, "apparent_activation_energy_stderr_ev") < 0.02);
    // The master curve is far broader than one Debye process; KWW describes it better.
    assert!(headline(&s, "kww_rms_ln") < 0.2 * headline(&s, "debye_rms_ln"));
    assert!(headline(&s, "kww_beta") < 0.5);
}

#[test]
fn temperature_stepping_shifts_the_spectrum_down_and_loses_its_high_end() {
    let (s, svg, p) = regenerates("temperature-stepping", "stepping");
    svg.assert_curve(&p, "assumed", BLACK, 100);
    assert!(svg.has_text("apparent (Argon-Kuo reading)") && svg.circles >= 10);
    // Headline cell: 10 K steps.
    assert!(headline(&s, "apparent_peak_df_ev") < headline(&s, "assumed_peak_df_ev") - 0.03);
    assert!(headline(&s, "mean_shift_ev") < 0.0);
    assert!(headline(&s, "apparent_high_end_ratio") < headline(&s, "assumed_high_end_ratio") - 0.2);
    // Nearly all the strain is released by the end (450 K), so the readings cover the spectrum.
    assert!(headline(&s, "strain_steps") + headline(&s, "strain_first_hold") > 0.99e-2);
    // Coarser steps read coarser: 20 K steps put the apparent peak lower still (cells: step_k
    // [10, 5, 20] x hold_s [3600, 900] x noise.relative [0.001, 0, 0.003]).
    assert!(cell_median(&s, 12, "apparent_peak_df_ev") < cell_median(&s, 0, "apparent_peak_df_ev"));

    // The direct inversion of the creep record in dF (issue 17). Noise-free (cell 1): the density
    // within 0.05 (relative L2 over the resolved range) and its top within 0.02 eV of 1.3 eV.
    svg.assert_curve(&p, "inverted (direct, in dF)", FIRST, 100);
    assert!(cell_median(&s, 1, "inverted_rel_l2") <= 0.05);
    assert!((cell_median(&s, 1, "inverted_peak_shift_ev")).abs() <= 0.02);
    // With 0.1 % noise (the headline) the high end does not fall as the Argon-Kuo reading's does:
    // in at least 19 of 20 repeats (5th percentile) its ratio stays above 0.85 and far above the
    // reading's 0.66, and its peak lies closer to the assumed one than the reading's.
    assert!(cell_stat(&s, 0, "inverted_high_end_ratio", "p05") > 0.85);
    assert!(headline(&s, "apparent_high_end_ratio") < 0.7);
    assert!(
        cell_stat(&s, 0, "inverted_peak_shift_ev", "p05") > headline(&s, "peak_shift_ev") + 0.01
    );
    // The resolved range spans the assumed one at 10 K steps up to 450 K.
    assert!(headline(&s, "resolved_df_min_ev") < 0.8 && headline(&s, "resolved_df_max_ev") > 1.3);
    // The rule's fallbacks are numbers, not silent. The scenario's rule is the evidence. Noise-free
    // cells repeat one record and give no sigma: the evidence grows towards the weakest fit and
    // stops at the path's end in every repeat. With 0.1 % noise at 10 K steps and 3600 s holds it
    // finds its maximum inside the path in at least 18 of 20 repeats (20 in the committed run).
    // Every value is a 0/1 flag.
    for cell in [1, 4, 7, 10, 13, 16] {
        assert_eq!(
            cell_stat(&s, cell, "inverted_fallback", "mean"),
            1.0,
            "cell {cell}"
        );
    }
    assert!(cell_stat(&s, 0, "inverted_fallback", "mean") <= 0.1);
    for cell in 0..18 {
        for stat in ["p05", "p95"] {
            let v = cell_stat(&s, cell, "inverted_fallback", stat);
            assert!((0.0..=1.0).contains(&v), "cell {cell} {stat} {v}");
        }
    }
}

/// The same study with the Lorentzian penalty (`scenarios/temperature-stepping-edges.toml`; cells:
/// step_k [10, 20] x noise.relative [0.001, 0], 1 h holds): issue 17's bars.
#[test]
fn temperature_stepping_with_the_lorentzian_keeps_the_top_of_the_spectrum() {
    let (s, svg, p) = regenerates("temperature-stepping-edges", "stepping");
    svg.assert_curve(&p, "inverted (direct, in dF)", FIRST, 100);
    // With 0.1 % noise the inverted top lies within 0.02 eV of the jump at 1.3 eV in at least 19
    // of 20 repeats (the 5th and 95th percentiles of its shift; the issue asks for 90 %), at 10
    // and at 20 K steps, where Tikhonov's lies 0.028 and 0.035 eV low in the median and within
    // 0.02 eV in none (results/temperature-stepping/).
    for cell in [0, 2] {
        for stat in ["p05", "p95"] {
            let shift = cell_stat(&s, cell, "inverted_peak_shift_ev", stat);
            assert!(shift.abs() <= 0.02, "cell {cell} {stat} {shift}");
        }
        // More accurate than Tikhonov's 0.094 and 0.088 there, and its high end does not fall.
        assert!(cell_median(&s, cell, "inverted_rel_l2") < 0.05);
        assert!(cell_stat(&s, cell, "inverted_high_end_ratio", "p05") > 0.85);
        assert_eq!(cell_stat(&s, cell, "inverted_fallback", "mean"), 0.0);
    }
    // Noise-free at 10 K steps: the density within 0.05 and the top within 0.02 eV; the high end
    // does not fall like the Argon-Kuo reading's 0.66.
    assert!(cell_median(&s, 1, "inverted_rel_l2") <= 0.05);
    assert!(cell_median(&s, 1, "inverted_peak_shift_ev").abs() <= 0.02);
    assert!(cell_median(&s, 1, "inverted_high_end_ratio") > 0.8);
    assert!(headline(&s, "apparent_high_end_ratio") < 0.7);
}

#[test]
fn nonlinear_bending_recovers_gamma_t_and_the_shape_depends_on_the_constraint_time() {
    let (s, svg, p) = regenerates("nonlinear-bending", "bending");
    svg.assert_curve(&p, "fitted gamma_T", FIRST, 8);
    assert!(svg.has_text("with scatter") && svg.has_text("linear extrapolation"));
    // t_c = 2e6 s, 3 % scatter, 8 samples: gamma_T within 3 % (median of 8 noise repeats), and
    // its stated error is of that size.
    let g = headline(&s, "gamma_t_fitted");
    assert!((g / 0.17 - 1.0).abs() < 0.03, "gamma_T = {g}");
    let se = headline(&s, "gamma_t_stderr");
    assert!(se > 0.001 && se < 0.01, "stderr {se}");
    // Cells: t_c = 2e6 s bends up, 2e7 s is nearly linear (gamma_T barely identifiable), 1e8 s
    // bends down like the paper's Fig. 6.
    assert!(cell_median(&s, 0, "linearity_ratio") > 1.5);
    assert!((cell_median(&s, 1, "linearity_ratio") - 1.0).abs() < 0.02);
    assert!(cell_median(&s, 2, "linearity_ratio") < 0.85);
    assert!(cell_median(&s, 1, "gamma_t_stderr") > 2.0 * cell_median(&s, 0, "gamma_t_stderr"));
    assert!((cell_median(&s, 2, "gamma_t_fitted") / 0.17 - 1.0).abs() < 0.05);
}

fn cell_stat(s: &Value, cell: usize, key: &str, stat: &str) -> f64 {
    s["cells"][cell]["metrics"][key][stat]
        .as_f64()
        .unwrap_or_else(|| panic!("cells[{cell}].{key}.{stat} missing"))
}

#[test]
fn arrhenius_grouping_fixes_the_relative_grouping_and_the_sizes_to_within_one() {
    let (s, mut figures) = regenerates_figures("arrhenius-grouping", &["grouping", "global"]);
    let (global, global_path) = figures.remove(1);
    let (svg, p) = figures.remove(0);
    // One Eq. 9 line per size of the best grouping, and the recovered peaks.
    for n in 25..=33 {
        assert!(
            svg.has_text(&format!("n = {n}")),
            "{}: n = {n}",
            p.display()
        );
    }
    assert!(svg.curves(30).len() >= 9 && svg.circles >= 25);
    // Headline cell: 0.1 % noise, 20 repeats; the headline holds the medians over them. Measured:
    // the true grouping (n = 25..33) first in 16 of 20 repeats, and every miss the whole hierarchy
    // shifted by one size, so the relative grouping (which peaks share a size, across T_g) is right
    // in every repeat. The bounds below hold for any noise stream, not for one seed:
    // - first in at least 10 of 20: with a per-repeat chance of 0.8 (the measured 16/20), fewer
    //   than 10 happens with binomial probability 1.0e-4;
    // - the relative grouping right and the size offset 0 or 1 in every repeat (structural: a miss
    //   shifts the whole hierarchy), so the medians of the smallest and largest size move together,
    //   the span is exactly 8 sizes, and the offset lies in [0, 1].
    let first = cell_stat(&s, 0, "true_grouping_first", "mean");
    assert!(first >= 0.5, "first in {first}");
    assert!(cell_stat(&s, 0, "best_relative_grouping_fraction", "p05") > 0.99);
    assert!(cell_stat(&s, 0, "best_size_offset", "p05") >= 0.0);
    assert!(cell_stat(&s, 0, "best_size_offset", "p95") <= 1.0);
    let (lo, hi) = (headline(&s, "best_n_min"), headline(&s, "best_n_max"));
    assert!(
        (lo - 25.0) == (hi - 33.0) && (0.0..=1.0).contains(&(lo - 25.0)),
        "n {lo}..{hi}"
    );
    // More than half of the repeats first: the median rank is 1 (order statistics, any stream).
    if first > 0.5 {
        assert_eq!(headline(&s, "true_grouping_rank"), 1.0);
    }
    // V_a from the median grouping: within 2 % when the offset is 0 (the median repeat is first).
    let va = headline(&s, "best_atomic_volume_m3");
    if lo == 25.0 {
        assert!((va / 10.4e-30 - 1.0).abs() < 0.02, "V_a = {va}");
    }
    // The global inversion of the same data (issue 17): every temperature at once, no grouping
    // step. Measured at 0.1 % noise: the right sizes in 20 of 20 repeats, V_a within 0.2 %. Bounds
    // for any stream: at least 15 of 20 right (with a per-repeat chance of 0.95, fewer than 15
    // happens with binomial probability 3e-4), and V_a within 2 % in at least 19 of 20 (p05 and
    // p95 of its error).
    assert!(cell_stat(&s, 0, "global_sizes_right", "mean") >= 0.75);
    assert!(cell_stat(&s, 0, "global_atomic_volume_error", "p05") > -0.02);
    assert!(cell_stat(&s, 0, "global_atomic_volume_error", "p95") < 0.02);
    assert_eq!(headline(&s, "global_n_min"), 25.0);
    // Fallbacks are counted: the global rule's as a 0/1 flag, the per-temperature rule's as the
    // number of temperatures (of 8) where it fell back.
    for cell in 0..3 {
        let v = cell_stat(&s, cell, "global_fallback", "mean");
        assert!((0.0..=1.0).contains(&v), "cell {cell}: {v}");
        let t = cell_stat(&s, cell, "fallback_temperatures", "p95");
        assert!((0.0..=8.0).contains(&t), "cell {cell}: {t}");
    }
    global.assert_curve(&global_path, "recovered (global)", FIRST, 100);
    assert!(global.has_text("truth") && global.has_text("665 K"));
    // More noise, fewer resolved peaks to group.
    assert!(cell_median(&s, 2, "peaks_used") < cell_median(&s, 0, "peaks_used") - 5.0);
}

#[test]
fn study_scenarios_are_validated() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("x");
    let cases: [(&str, &[&str], &str); 9] = [
        (
            "scenarios/arrhenius-grouping.toml",
            &["--set", "study.n_first_max=20"],
            "must be >= n_first_min",
        ),
        (
            "scenarios/zr-dma.toml",
            &["--set", "study.kind=\"arrhenius-grouping\""],
            "study.n_first_min: required",
        ),
        (
            "scenarios/stretched-exponent.toml",
            &["--set", "study.t_ref_k=300"],
            "not used by the stretched-exponent study",
        ),
        (
            "scenarios/tts-master-curve.toml",
            &["--set", "study.t_ref_k=390"],
            "is not one of protocol.temperatures_k",
        ),
        (
            "scenarios/temperature-stepping.toml",
            &["--set", "study.df_max_ev=0.5"],
            "must exceed df_min_ev",
        ),
        (
            "scenarios/arrhenius-grouping.toml",
            &["--set", "study.global_per_decade=1"],
            "study.global_per_decade",
        ),
        (
            "scenarios/temperature-stepping.toml",
            &["--set", "study.global_per_decade=20"],
            "not used by the temperature-stepping study",
        ),
        (
            "scenarios/nonlinear-bending.toml",
            &["--set", "study.strains=[0.01, 0.2]"],
            "study.strains[1]",
        ),
        (
            "scenarios/stretched-exponent.toml",
            &["--shard", "1/2"],
            "a study runs in one piece",
        ),
    ];
    for (scenario, extra, needle) in cases {
        let o = stzlab()
            .args(["run", repo(scenario).to_str().unwrap(), "-o"])
            .arg(&out)
            .args(extra)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.contains(needle), "{extra:?}: {err}");
    }
}

#[test]
fn hierarchy_sweeps_report_percolation_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("q");
    let o = stzlab()
        .args([
            "run",
            repo("scenarios/quickstart.toml").to_str().unwrap(),
            "--quiet",
            "--set",
            "sweep.repeats=1",
            "-o",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = read_json(&out.join("summary.json"));
    let p = s["percolation"].as_array().expect("percolation list");
    assert!(!p.is_empty());
    for e in p {
        let sum = e["active_sum_c"].as_f64().unwrap();
        let rigid = e["rigid_fraction"].as_f64().unwrap();
        // Section 12: rigid fraction exp(-sum c_n over the active sizes).
        assert!((rigid - (-sum).exp()).abs() < 1e-15);
        assert!((e["active_fraction"].as_f64().unwrap() + rigid - 1.0).abs() < 1e-15);
        assert!(e["cell"].is_u64() && e["temperature_k"].is_f64());
    }
}
