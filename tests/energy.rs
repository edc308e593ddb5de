//! Inversion in activation energy (issue 17, docs/model.md §8): a spectrum of dF recovered from
//! creep through a stepped temperature history, by the library and by `stzlab invert --kind
//! creep-stepping`, and bad histories refused with their file and line.

mod common;

use common::{repo, stzlab};
use stzlab::data::MeasuredSeries;
use stzlab::inversion::energy::{creep_table, ArrheniusLaw, EnergyGrid, TemperatureHistory};
use stzlab::inversion::{InvertOptions, Kernel, Workspace};
use stzlab::pipeline::invert::energy::{invert_creep_history, EnergyOptions};

const LAW: ArrheniusLaw = ArrheniusLaw { attempt_hz: 1e13 };

/// A Gaussian density of dF (centre, standard deviation, eV) carrying `strain`, on a fine grid.
fn gaussian(centre: f64, sd: f64, strain: f64) -> (EnergyGrid, Vec<f64>) {
    let grid = EnergyGrid::new(centre - 6.0 * sd, centre + 6.0 * sd, 601, LAW, 400.0).unwrap();
    let w: Vec<f64> = grid
        .df_ev()
        .iter()
        .map(|d| (-0.5 * ((d - centre) / sd).powi(2)).exp())
        .collect();
    let total: f64 = w.iter().sum();
    (grid, w.iter().map(|v| v * strain / total).collect())
}

/// Log-spaced times in every hold, from 1/1000 of the hold on.
fn times(history: &TemperatureHistory, per_hold: usize) -> Vec<f64> {
    history
        .holds()
        .iter()
        .flat_map(|h| {
            (0..per_hold).map(move |k| {
                h.start_s
                    + (h.end_s - h.start_s) * 1e-3f64.powf(1.0 - k as f64 / (per_hold - 1) as f64)
            })
        })
        .collect()
}

fn record(history: &TemperatureHistory, truth: &[(EnergyGrid, Vec<f64>)]) -> MeasuredSeries {
    let t = times(history, 60);
    let mut y = vec![0.0; t.len()];
    for (grid, w) in truth {
        let table = creep_table(&t, history, grid);
        for (i, yi) in y.iter_mut().enumerate() {
            *yi += (0..w.len()).map(|j| table[(i, j)] * w[j]).sum::<f64>();
        }
    }
    MeasuredSeries {
        temperature_k: None,
        x: t,
        y,
        sigma: None,
    }
}

/// `record.csv` (`t_s,strain`) in `dir`.
fn write_record(dir: &std::path::Path, t: &[f64], y: &[f64]) -> std::path::PathBuf {
    let path = dir.join("record.csv");
    let mut text = String::from("t_s,strain\n");
    for (t, y) in t.iter().zip(y) {
        text.push_str(&format!("{t:e},{y:e}\n"));
    }
    std::fs::write(&path, text).unwrap();
    path
}

/// `history.csv` in `dir`, and its text.
fn write_history(
    dir: &std::path::Path,
    history: &TemperatureHistory,
) -> (std::path::PathBuf, String) {
    let path = dir.join("history.csv");
    let mut text = String::from("t_start_s,t_end_s,temperature_k\n");
    for hold in history.holds() {
        text.push_str(&format!(
            "{},{},{}\n",
            hold.start_s, hold.end_s, hold.temperature_k
        ));
    }
    std::fs::write(&path, &text).unwrap();
    (path, text)
}

/// `stzlab invert RECORD --kind creep-stepping --temperature-history HISTORY EXTRA -o OUT`
/// without figures.
fn invert_stepping(
    record: &std::path::Path,
    history: &std::path::Path,
    extra: &[&str],
    out: &std::path::Path,
) -> std::process::Output {
    stzlab()
        .args([
            "invert",
            record.to_str().unwrap(),
            "--kind",
            "creep-stepping",
        ])
        .args(["--temperature-history", history.to_str().unwrap()])
        .args(extra)
        .args(["--no-figures", "-o", out.to_str().unwrap()])
        .output()
        .unwrap()
}

#[test]
fn two_gaussian_populations_of_df_are_recovered_from_noise_free_stepped_creep() {
    // 300 K to 400 K in 5 K steps held 30 min: resolves about 0.75 .. 1.25 eV.
    let history = TemperatureHistory::stepped(300.0, 5.0, 20, 1800.0).unwrap();
    let truth = [gaussian(0.9, 0.02, 0.004), gaussian(1.1, 0.03, 0.006)];
    let data = record(&history, &truth);
    let inv = invert_creep_history(
        &data,
        &history,
        &EnergyOptions::new(LAW),
        &InvertOptions::new(Kernel::Creep),
        &mut Workspace::new(),
        &(),
    )
    .unwrap();
    let (lo, hi) = inv.resolved_ev;
    assert!(lo < 0.8 && hi > 1.2, "resolved {lo} .. {hi}");
    let peaks = inv.peaks_ev();
    assert_eq!(peaks.len(), 2, "{peaks:?}");
    for ((df, area), (centre, strain)) in peaks.iter().zip([(0.9, 0.004), (1.1, 0.006)]) {
        assert!(
            (df - centre).abs() < 0.005,
            "peak at {df} eV, truth {centre}"
        );
        assert!(
            (area / strain - 1.0).abs() < 0.02,
            "area {area}, truth {strain}"
        );
    }
    // The density's maximum near the narrower population's height, 0.004 / (0.02 sqrt(2 pi)).
    let top = inv.density_per_ev().iter().copied().fold(0.0, f64::max);
    let expected = 0.004 / (0.02 * (2.0 * std::f64::consts::PI).sqrt());
    assert!(
        (top / expected - 1.0).abs() < 0.15,
        "top {top}, expected {expected}"
    );
}

#[test]
fn the_command_line_inverts_a_record_and_refuses_bad_histories() {
    let tmp = tempfile::tempdir().unwrap();
    let history = TemperatureHistory::stepped(300.0, 5.0, 20, 1800.0).unwrap();
    let data = record(&history, &[gaussian(1.0, 0.03, 0.01)]);
    let record_csv = write_record(tmp.path(), &data.x, &data.y);
    let (history_csv, h) = write_history(tmp.path(), &history);
    let out = tmp.path().join("out");
    let o = invert_stepping(&record_csv, &history_csv, &[], &out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary = common::read_json(&out.join("summary.json"));
    assert_eq!(summary["kind"], "creep-stepping");
    let peaks = summary["energy"]["peaks"].as_array().unwrap();
    assert_eq!(peaks.len(), 1, "{peaks:?}");
    assert!((peaks[0]["df_ev"].as_f64().unwrap() - 1.0).abs() < 0.005);
    let spectrum = std::fs::read_to_string(out.join("spectrum.csv")).unwrap();
    assert!(spectrum.starts_with("df_ev,density_per_ev,weight\n"));
    // The strain the spectrum carries: its weights sum to the 0.01 of the truth.
    let total: f64 = spectrum
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(2).unwrap().parse::<f64>().unwrap())
        .sum();
    assert!((total / 0.01 - 1.0).abs() < 0.01, "{total}");

    // Bad input: exit 2 with one located line.
    let gap = h.replacen("1800,3600,305", "1900,3600,305", 1);
    let gap_csv = tmp.path().join("gap.csv");
    std::fs::write(&gap_csv, gap).unwrap();
    let short = tmp.path().join("short.csv");
    std::fs::write(&short, "t_start_s,t_end_s,temperature_k\n0,3600,300\n").unwrap();
    let material = repo("scenarios/zr-dma.toml");
    let cases: [(&[&str], &str); 6] = [
        (
            &["--temperature-history", gap_csv.to_str().unwrap()],
            "gap.csv:3: a gap from 1800 s to 1900 s",
        ),
        (
            &[],
            "--kind creep-stepping needs --temperature-history FILE",
        ),
        (
            &["--temperature-history", short.to_str().unwrap()],
            "within the temperature history (to 3600 s)",
        ),
        (
            &[
                "--temperature-history",
                history_csv.to_str().unwrap(),
                "--tau-min",
                "1",
            ],
            "does not take --tau-min",
        ),
        (
            &[
                "--temperature-history",
                history_csv.to_str().unwrap(),
                "--per-decade",
                "20",
            ],
            "does not take --per-decade",
        ),
        (
            &[
                "--temperature-history",
                history_csv.to_str().unwrap(),
                "--material",
                material.to_str().unwrap(),
                "--attempt-hz",
                "1e12",
            ],
            "does not take --attempt-hz with --material",
        ),
    ];
    for (extra, needle) in cases {
        let o = stzlab()
            .args([
                "invert",
                record_csv.to_str().unwrap(),
                "--kind",
                "creep-stepping",
            ])
            .args(extra)
            .args(["--force", "-o", out.to_str().unwrap()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.contains(needle), "{extra:?}: {err}");
    }
    // --temperature-history with another kind is refused too.
    let o = stzlab()
        .args(["invert", record_csv.to_str().unwrap(), "--kind", "creep"])
        .args(["--temperature-history", history_csv.to_str().unwrap()])
        .args(["--force", "-o", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("applies to --kind creep-stepping only"));
}

#[test]
fn loss_data_at_every_temperature_invert_at_once_to_the_quantized_sizes() {
    // The zr-dma hierarchy (n = 25..33, V_a = 10.4e-30 m^3) at 0.1 % noise, simulated by stzlab.
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(repo("scenarios/zr-dma.toml")).unwrap();
    let scenario = tmp.path().join("zr.toml");
    let quiet = text.replace("relative = 0.01 ", "relative = 0.001 ");
    assert_ne!(quiet, text, "the scenario's noise line moved");
    std::fs::write(&scenario, quiet).unwrap();
    let sim = tmp.path().join("sim");
    let o = stzlab()
        .args([
            "simulate",
            scenario.to_str().unwrap(),
            "-o",
            sim.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let data = sim.join("data.csv");
    let out = tmp.path().join("out");
    let invert = |extra: &[&str]| {
        stzlab()
            .args(["invert", data.to_str().unwrap(), "--kind", "loss-global"])
            .args(extra)
            .args(["--force", "--no-figures", "-o", out.to_str().unwrap()])
            .output()
            .unwrap()
    };
    let material = repo("scenarios/zr-dma.toml");
    let o = invert(&["--material", material.to_str().unwrap(), "--rule", "gcv"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["kind"], "loss-global");
    let v = &summary["volume"];
    let sizes: Vec<u64> = v["peaks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["n"].as_u64())
        .collect();
    assert_eq!(sizes, (25..=33).collect::<Vec<u64>>(), "{v}");
    let va = v["atomic_volume_m3"].as_f64().unwrap();
    assert!((va / 10.4e-30 - 1.0).abs() < 0.02, "V_a {va}");
    let fit = std::fs::read_to_string(out.join("fit.csv")).unwrap();
    assert!(fit.starts_with("temperature_k,x,y,fit,residual\n"));
    assert!(std::fs::read_to_string(out.join("spectrum.csv"))
        .unwrap()
        .starts_with("omega_m3,df_ref_ev,tau_ref_s,density,density_per_ev,weight\n"));

    // Refused: no material, a temperature, data without a temperature column.
    let o = invert(&[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("needs --material"));
    let o = invert(&[
        "--material",
        material.to_str().unwrap(),
        "--temperature-k",
        "600",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("does not take --temperature-k"));
    let flat = tmp.path().join("flat.csv");
    let rows: String = (0..20)
        .map(|i| {
            format!(
                "{},{}\n",
                10f64.powf(-2.0 + 0.2 * f64::from(i)),
                1e6 + f64::from(i)
            )
        })
        .collect();
    std::fs::write(&flat, rows).unwrap();
    let o = stzlab()
        .args(["invert", flat.to_str().unwrap(), "--kind", "loss-global"])
        .args(["--material", material.to_str().unwrap()])
        .args(["--force", "-o", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("needs a temperature_k column"));
}

#[test]
fn stepped_creep_with_a_material_inverts_to_stz_volumes() {
    // The zr-dma hierarchy under stepped creep from 540 K to 640 K (5 K steps held 1 h), noise-free:
    // strain = sum c_n (1 - exp(-integral dt / tau(Omega_n, T(t)))), tau of paper Eq. 9.
    let tmp = tempfile::tempdir().unwrap();
    let material_toml = repo("scenarios/zr-dma.toml");
    let material = stzlab::scenario::load_material(&material_toml).unwrap();
    let history = TemperatureHistory::stepped(540.0, 5.0, 20, 3600.0).unwrap();
    let sizes = [27u32, 29, 31];
    let c = [0.01, 0.02, 0.03];
    let va = 10.4e-30;
    let t = times(&history, 100);
    let y: Vec<f64> = t
        .iter()
        .map(|&ti| {
            sizes
                .iter()
                .zip(&c)
                .map(|(&n, &cn)| {
                    let omega = f64::from(n) * va;
                    let theta = history.integral(|tk| 1.0 / material.material.tau_s(omega, tk), ti);
                    -cn * (-theta).exp_m1()
                })
                .sum()
        })
        .collect();
    let record_csv = write_record(tmp.path(), &t, &y);
    let (history_csv, _) = write_history(tmp.path(), &history);
    let out = tmp.path().join("out");
    let o = invert_stepping(
        &record_csv,
        &history_csv,
        &["--material", material_toml.to_str().unwrap()],
        &out,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary = common::read_json(&out.join("summary.json"));
    assert_eq!(summary["kind"], "creep-stepping");
    let peaks = summary["volume"]["peaks"].as_array().unwrap().clone();
    let implied: Vec<f64> = peaks
        .iter()
        .filter(|p| p["in_window"].as_bool().unwrap())
        .map(|p| p["n_implied"].as_f64().unwrap())
        .collect();
    assert_eq!(implied.len(), 3, "{peaks:?}");
    for (got, n) in implied.iter().zip(sizes) {
        assert!((got - f64::from(n)).abs() < 0.2, "n {got} for {n}");
    }
    let areas: f64 = peaks.iter().map(|p| p["area"].as_f64().unwrap()).sum();
    assert!((areas / 0.06 - 1.0).abs() < 0.02, "{areas}");
    assert!(std::fs::read_to_string(out.join("peaks.csv"))
        .unwrap()
        .starts_with("peak,omega_m3,df_ref_ev,area,n_implied,n,in_window\n"));
}
