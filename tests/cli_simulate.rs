//! `stzlab simulate` run as a user would: on files, in temporary folders, reading what it wrote.

mod common;

use common::{repo, stzlab};

use std::path::{Path, PathBuf};

fn fixtures(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_bad_scenario_fails_with_exit_2_and_its_one_line_message() {
    let bad = fixtures("bad");
    assert!(bad.len() >= 50, "{} bad scenario fixtures", bad.len());
    // With the bad data files (tests/cli_invert.rs), at least 100 bad inputs, each with its message.
    let all = std::fs::read_dir(repo("tests/fixtures/bad"))
        .unwrap()
        .count();
    assert!(all >= 100, "{all} bad inputs");
    for file in bad {
        let text = std::fs::read_to_string(&file).unwrap();
        let expect = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| {
                panic!(
                    "{}: first line must be '# expect: <message>'",
                    file.display()
                )
            });
        let out_dir = tempfile::tempdir().unwrap();
        let out = stzlab()
            .args(["simulate", file.to_str().unwrap(), "-o"])
            .arg(out_dir.path().join("out"))
            .output()
            .unwrap();
        common::assert_refused(
            &out,
            &format!("error: {}:{expect}", file.display()),
            &out_dir.path().join("out"),
            &file.display().to_string(),
        );
    }
}

#[test]
fn every_good_scenario_simulates() {
    for file in fixtures("good") {
        let out_dir = tempfile::tempdir().unwrap();
        let out = stzlab()
            .args(["simulate", file.to_str().unwrap(), "-o"])
            .arg(out_dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out_dir.path().join("data.csv").exists());
        assert!(out_dir.path().join("scenario.json").exists());
    }
}

fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap().split(',').map(String::from).collect();
    let rows = lines
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    (header, rows)
}

#[test]
fn mandrel_scenario_writes_the_documented_files_with_units() {
    let dir = tempfile::tempdir().unwrap();
    common::simulate("scenarios/al-ni-y-mandrel.toml", dir.path());

    let (header, rows) = read_csv(&dir.path().join("data.csv"));
    assert_eq!(header, ["t_s", "y", "sigma"]);
    assert_eq!(rows.len(), 200);
    assert_eq!(rows[0][0], "10");
    assert_eq!(rows[199][0], "1e8");
    assert!(rows.iter().all(|r| r[2] == "0.0001"));

    let (header, rows) = read_csv(&dir.path().join("truth.csv"));
    assert_eq!(header, ["tau_s", "ln_tau", "density", "weight"]);
    let area: f64 = rows.iter().map(|r| r[3].parse::<f64>().unwrap()).sum();
    assert!((area - 0.13).abs() < 1e-12, "truth area {area}");

    let (header, rows) = read_csv(&dir.path().join("truth_stz.csv"));
    assert_eq!(
        header,
        [
            "n",
            "omega_m3",
            "df_ev",
            "tau_s",
            "c",
            "temperature_k",
            "amplitude_coupled",
            "amplitude_uncoupled"
        ]
    );
    assert_eq!(rows.len(), 8);
    let df14: f64 = rows[0][2].parse().unwrap();
    assert!((df14 - 0.850).abs() < 0.001);
    // n = 21 (tau 2.2e7 s) is ten times slower than t_c = 2e6 s: far short of its c = 0.05.
    let a21: f64 = rows[7][6].parse().unwrap();
    assert!(a21 < 0.01, "a_21 = {a21}");

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("scenario.json")).unwrap())
            .unwrap();
    // Every default is filled in.
    assert_eq!(json["name"], "al-ni-y-mandrel");
    assert_eq!(json["material"]["beta"], 1.0);
    assert_eq!(json["noise"]["ar1_rho"], 0.0);
    assert_eq!(json["truth"]["width"], 0.0);
    assert_eq!(json["protocol"]["coupling"], "coupled");
    // Nothing but the documented files, no temporaries.
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["data.csv", "scenario.json", "truth.csv", "truth_stz.csv"]
    );
}

#[test]
fn dma_scenario_writes_one_block_per_temperature() {
    let dir = tempfile::tempdir().unwrap();
    common::simulate("scenarios/zr-dma.toml", dir.path());
    let (header, rows) = read_csv(&dir.path().join("data.csv"));
    assert_eq!(
        header,
        ["temperature_k", "omega_rad_s", "loss_modulus_pa", "sigma"]
    );
    assert_eq!(rows.len(), 8 * 41);
    let temps: std::collections::BTreeSet<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(temps.len(), 8);
    let (header, _) = read_csv(&dir.path().join("truth.csv"));
    assert_eq!(
        header,
        ["temperature_k", "tau_s", "ln_tau", "density", "weight"]
    );
    // dF spans about 1.75 to 2.3 eV below T_g.
    let (_, stz) = read_csv(&dir.path().join("truth_stz.csv"));
    let df: Vec<f64> = stz
        .iter()
        .filter(|r| r[5] == "560")
        .map(|r| r[2].parse().unwrap())
        .collect();
    assert!(
        (df[0] - 1.75).abs() < 0.01 && (df[8] - 2.31).abs() < 0.01,
        "{df:?}"
    );
}

#[test]
fn refuses_a_non_empty_folder_unless_forced_and_never_loses_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "mine").unwrap();
    let scenario = repo("scenarios/al-ni-y-cantilever.toml");
    let out = stzlab()
        .args(["simulate", scenario.to_str().unwrap(), "-o"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));
    assert!(!dir.path().join("data.csv").exists());
    let out = stzlab()
        .args(["simulate", scenario.to_str().unwrap(), "--force", "-o"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("notes.txt")).unwrap(),
        "mine"
    );
    assert!(dir.path().join("data.csv").exists());
}

#[test]
fn same_seed_gives_identical_files() {
    let scenario = repo("scenarios/al-ni-y-mandrel.toml");
    let read = || {
        let dir = tempfile::tempdir().unwrap();
        let out = stzlab()
            .args(["simulate", scenario.to_str().unwrap(), "-o"])
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(out.status.success());
        std::fs::read(dir.path().join("data.csv")).unwrap()
    };
    assert_eq!(read(), read());
}
