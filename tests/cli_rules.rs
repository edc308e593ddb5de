//! Rule parameters and rule statuses as a user meets them: `--rule NAME:key=value`, rule tables in
//! scenarios, several instances of one rule in one run, and the warning of a rule that failed.

mod common;

use common::{read_json, repo, stzlab};

/// Simulates the Al-Ni-Y mandrel scenario into `dir` and returns its data file.
fn mandrel_data(dir: &std::path::Path) -> std::path::PathBuf {
    common::simulate("scenarios/al-ni-y-mandrel.toml", dir)
}

/// `stzlab invert DATA --kind decay ARGS -o OUT`.
fn invert_decay(
    data: &std::path::Path,
    out: &std::path::Path,
    args: &[&str],
) -> std::process::Output {
    stzlab()
        .args(["invert", data.to_str().unwrap(), "--kind", "decay"])
        .args(args)
        .arg("-o")
        .arg(out)
        .output()
        .unwrap()
}

#[test]
fn a_rule_parameter_from_the_command_line_names_the_rule_in_the_outputs() {
    let tmp = tempfile::tempdir().unwrap();
    let data = mandrel_data(&tmp.path().join("sim"));
    let inv = tmp.path().join("inv");
    let out = invert_decay(
        &data,
        &inv,
        &["--no-figures", "--rule", "r2-onset:threshold=0.03"],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    common::assert_success(&out);
    assert!(stdout.contains("rule r2-onset:threshold=0.03"), "{stdout}");
    let summary = read_json(&inv.join("summary.json"));
    assert_eq!(summary["rule"], "r2-onset:threshold=0.03");
    assert_eq!(summary["status"], "ok");
    // The other rules are reported with their statuses, the new ones among them.
    let others: Vec<String> = summary["other_rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{}={}",
                r["rule"].as_str().unwrap(),
                r["status"].as_str().unwrap()
            )
        })
        .collect();
    for name in ["quasi-optimality", "evidence", "rgcv", "r2-onset"] {
        assert!(
            others.iter().any(|o| o.starts_with(&format!("{name}="))),
            "{name} in {others:?}"
        );
    }
    let path = std::fs::read_to_string(inv.join("path.csv")).unwrap();
    let header = path.lines().next().unwrap();
    for col in ["quasi_optimality", "ln_evidence", "mu2", "nnls_status"] {
        assert!(header.split(',').any(|c| c == col), "{col} in {header}");
    }
    assert!(path.lines().skip(1).all(|l| l.contains(",converged,")
        || l.contains(",rounding-floor,")
        || l.contains(",shifted,")
        || l.contains(",max-iterations,")));
}

#[test]
fn an_unreachable_discrepancy_target_is_warned_about_and_falls_back_to_gcv() {
    let tmp = tempfile::tempdir().unwrap();
    let data = mandrel_data(&tmp.path().join("sim"));
    // The same data with sigma stated ten times too small.
    let text = std::fs::read_to_string(&data).unwrap();
    let mut lines = text.lines();
    let mut shrunk = format!("{}\n", lines.next().unwrap());
    for l in lines {
        let f: Vec<&str> = l.split(',').collect();
        let s: f64 = f[2].parse().unwrap();
        shrunk.push_str(&format!("{},{},{}\n", f[0], f[1], s / 10.0));
    }
    let bad = tmp.path().join("small-sigma.csv");
    std::fs::write(&bad, shrunk).unwrap();
    let inv = tmp.path().join("inv");
    let out = invert_decay(&bad, &inv, &["--rule", "discrepancy", "--no-figures"]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let warning = stderr
        .lines()
        .find(|l| l.starts_with("warning:"))
        .unwrap_or_else(|| panic!("no warning in {stderr}"));
    assert!(
        warning.contains("rule discrepancy") && warning.contains("gcv"),
        "{warning}"
    );
    let summary = read_json(&inv.join("summary.json"));
    assert_eq!(summary["status"], "target-unreachable");
    assert_eq!(summary["fallback"], "gcv");
    assert!(summary["warning"].as_str().unwrap().contains("unreachable"));
    // sigma stated 10x too small: chi^2 near 100 M, far above M + 5 sqrt(2M), whatever the rule.
    assert!(summary["chi2"].as_f64().unwrap() > 300.0);
    assert!(
        warning.contains("misses the data by more than the stated noise"),
        "{warning}"
    );
    // With the true sigma the same data fit to the noise: no misfit warning.
    let good = tmp.path().join("inv-good");
    let data = tmp.path().join("sim").join("data.csv");
    let out = invert_decay(&data, &good, &["--rule", "discrepancy", "--no-figures"]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("misses the data"), "{stderr}");
}

#[test]
fn the_default_rule_is_the_consensus_of_three() {
    let tmp = tempfile::tempdir().unwrap();
    let data = mandrel_data(&tmp.path().join("sim"));
    let inv = tmp.path().join("inv");
    let out = invert_decay(&data, &inv, &["--no-figures"]);
    assert!(out.status.success());
    let summary = read_json(&inv.join("summary.json"));
    assert_eq!(summary["rule"], "consensus");
    assert_eq!(summary["status"], "ok");
    // Its lambda is a point of the path, marked as chosen by it.
    let path = std::fs::read_to_string(inv.join("path.csv")).unwrap();
    let row = path
        .lines()
        .find(|l| {
            l.rsplit(',')
                .next()
                .unwrap()
                .split(';')
                .any(|r| r == "consensus")
        })
        .expect("a path row chosen by consensus");
    let lambda: f64 = row.split(',').next().unwrap().parse().unwrap();
    assert!((lambda / summary["lambda"].as_f64().unwrap() - 1.0).abs() < 1e-12);
    // Its whiteness screen, read back from path.csv: where the best fit (smallest residual) is
    // white with a credible chi^2, the chosen row's residual is white too (README, path.csv).
    let mut lines = path.lines();
    let names: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| names.iter().position(|n| *n == name).unwrap();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let value = |r: &[&str], name: &str| -> f64 { r[col(name)].parse().unwrap() };
    for r in &rows {
        let lag1 = value(r, "residual_lag1");
        assert!((-1.0..=1.0).contains(&lag1), "{lag1}");
    }
    let best = rows
        .iter()
        .min_by(|a, b| value(a, "residual_norm").total_cmp(&value(b, "residual_norm")))
        .unwrap();
    let m = summary["points"].as_f64().unwrap();
    let band = 5.0 / m.sqrt();
    let expected = m - value(best, "dof");
    let screened = value(best, "residual_lag1") <= band
        && value(best, "chi2") <= expected + (2.0 * expected).sqrt();
    let chosen: Vec<&str> = row.split(',').collect();
    // These data carry white noise of the stated sigma: the screen applies.
    assert!(screened, "best fit: {best:?}");
    let ceiling = value(best, "residual_lag1") + band;
    assert!(value(&chosen, "residual_lag1") <= ceiling);
    // summary.json reports the screen: the same ceiling, and the points it took out of those within
    // the residual restriction (||W r||^2 at most 2 x the smallest).
    let w = &summary["whiteness"];
    assert!(
        (w["ceiling"].as_f64().unwrap() - ceiling).abs() < 1e-9,
        "{w}"
    );
    assert!((w["best_lag1"].as_f64().unwrap() - value(best, "residual_lag1")).abs() < 1e-9);
    let floor = value(best, "residual_norm").powi(2);
    let excluded = rows
        .iter()
        .filter(|r| {
            value(r, "residual_norm").powi(2) <= 2.0 * floor && value(r, "residual_lag1") > ceiling
        })
        .count();
    assert_eq!(w["excluded"].as_u64().unwrap() as usize, excluded, "{w}");
}

#[test]
fn bad_rule_parameters_exit_2_with_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let data = mandrel_data(&tmp.path().join("sim"));
    for (rule, says) in [
        ("discrepancy:factor=0", "factor = 0: must be > 0"),
        ("kfold:folds=1", "folds = 1: at least 2 are needed"),
        ("r2-onset:level=0.5", "unknown parameter \"level\""),
        ("kfold:folds=500", "kfold:folds=500: 500 folds but only"),
    ] {
        let out = invert_decay(&data, &tmp.path().join("inv"), &["--rule", rule]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{rule}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{rule}: {stderr}");
        assert!(stderr.contains(says), "{rule}: {stderr}");
        assert!(!tmp.path().join("inv").exists());
    }
}

#[test]
fn a_scenario_runs_two_instances_of_one_rule_given_as_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = tmp.path().join("tables.toml");
    let base = std::fs::read_to_string(repo("scenarios/quickstart.toml")).unwrap();
    let cut = base.find("[inversion]").unwrap();
    let text = format!(
        "{}[inversion]\nrules = [\"gcv\", {{ rule = \"r2-onset\", threshold = 0.03 }}, {{ rule = \"r2-onset\", threshold = 0.3 }}, \"kfold:folds=4\"]\n\n[sweep]\nrepeats = 2\n",
        &base[..cut]
    );
    std::fs::write(&scenario, text).unwrap();
    let out_dir = tmp.path().join("run");
    let out = stzlab()
        .args([
            "run",
            scenario.to_str().unwrap(),
            "--quiet",
            "--no-figures",
            "-o",
        ])
        .arg(&out_dir)
        .output()
        .unwrap();
    common::assert_success(&out);
    let runs = std::fs::read_to_string(out_dir.join("runs.csv")).unwrap();
    let header: Vec<&str> = runs.lines().next().unwrap().split(',').collect();
    assert_eq!(header.last(), Some(&"status"));
    let rule_col = header.iter().position(|c| *c == "rule").unwrap();
    let rules: std::collections::BTreeSet<&str> = runs
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(rule_col).unwrap())
        .collect();
    let expected: std::collections::BTreeSet<&str> = [
        "gcv",
        "r2-onset:threshold=0.03",
        "r2-onset:threshold=0.3",
        "kfold:folds=4",
        "oracle",
    ]
    .into();
    assert_eq!(rules, expected);
    let summary = read_json(&out_dir.join("summary.json"));
    let statuses = &summary["cells"][0]["status"];
    let counted: u64 = statuses
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(counted, 2, "{statuses}");
}

#[test]
fn a_reader_that_stops_early_does_not_stop_the_run() {
    use std::io::BufRead;
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("run");
    let mut child = stzlab()
        .args(["run", repo("scenarios/quickstart.toml").to_str().unwrap()])
        .args(["--set", "sweep.repeats=1", "-o"])
        .arg(&out_dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Read the first line, then close stdout (as `| head -1` does).
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("quickstart:"), "{first}");
    let out = child.wait_with_output().unwrap();
    common::assert_success(&out);
    assert!(out_dir.join("summary.json").is_file());
    assert!(out_dir.join("index.html").is_file());
}
