//! CSV tables. Headers carry units; numbers are written in Rust's shortest round-trip form.

use std::fmt::Write;

use crate::constants::j_to_ev;
use crate::files::num;
use crate::pipeline::simulate::{DataKind, Simulation};
use crate::scenario::Scenario;

fn opt(v: Option<f64>) -> String {
    v.map(num).unwrap_or_default()
}

/// `data.csv`: `t_s,y,sigma` for time-domain data, `temperature_k,omega_rad_s,loss_modulus_pa,sigma`
/// for DMA. `sigma` (data units) is empty for noise-free data.
pub fn data_csv(sim: &Simulation) -> String {
    series_csv(sim.kind, &sim.series)
}

/// The data of `series` of one `kind` as `data.csv` writes them.
fn series_csv(kind: DataKind, series: &[crate::pipeline::simulate::Series]) -> String {
    let mut out = String::new();
    match kind {
        DataKind::Loss => out.push_str("temperature_k,omega_rad_s,loss_modulus_pa,sigma\n"),
        _ => out.push_str("t_s,y,sigma\n"),
    }
    for s in series {
        for i in 0..s.x.len() {
            let sigma = opt(s.sigma.as_ref().map(|v| v[i]));
            match kind {
                DataKind::Loss => {
                    let _ = writeln!(
                        out,
                        "{},{},{},{}",
                        opt(s.temperature_k),
                        num(s.x[i]),
                        num(s.y[i]),
                        sigma
                    );
                }
                _ => {
                    let _ = writeln!(out, "{},{},{}", num(s.x[i]), num(s.y[i]), sigma);
                }
            }
        }
    }
    out
}

/// `truth.csv`: `tau_s,ln_tau,density,weight` (density per unit ln tau, weight = area of the grid
/// point); DMA with several temperatures adds a leading `temperature_k` column.
pub fn truth_csv(sim: &Simulation) -> String {
    let per_temperature = sim.kind == DataKind::Loss && sim.truth.len() > 1;
    let mut out = String::from(if per_temperature {
        "temperature_k,tau_s,ln_tau,density,weight\n"
    } else {
        "tau_s,ln_tau,density,weight\n"
    });
    for table in &sim.truth {
        let step = table.grid.step();
        for (i, &w) in table.weights.iter().enumerate() {
            if per_temperature {
                let _ = write!(out, "{},", opt(table.temperature_k));
            }
            let _ = writeln!(
                out,
                "{},{},{},{}",
                num(table.grid.tau_s(i)),
                num(table.grid.ln_tau(i)),
                num(w / step),
                num(w)
            );
        }
    }
    out
}

/// `truth_stz.csv` for hierarchies: `n,omega_m3,df_ev,tau_s,c,temperature_k` and, for the mandrel,
/// `amplitude_coupled,amplitude_uncoupled` (the recovered peak areas with the exact and the
/// uncoupled constraint phase).
pub fn truth_stz_csv(sim: &Simulation) -> Option<String> {
    if sim.stz.is_empty() {
        return None;
    }
    let mandrel = sim.stz.iter().any(|r| r.amplitude_coupled.is_some());
    let mut out = String::from("n,omega_m3,df_ev,tau_s,c,temperature_k");
    out.push_str(if mandrel {
        ",amplitude_coupled,amplitude_uncoupled\n"
    } else {
        "\n"
    });
    for r in &sim.stz {
        let l = &r.level;
        let _ = write!(
            out,
            "{},{},{},{},{},{}",
            l.n,
            num(l.omega_m3),
            num(j_to_ev(l.df_j)),
            num(l.tau_s),
            num(l.c),
            num(r.temperature_k)
        );
        if mandrel {
            let _ = write!(
                out,
                ",{},{}",
                opt(r.amplitude_coupled),
                opt(r.amplitude_uncoupled)
            );
        }
        out.push('\n');
    }
    Some(out)
}

/// Every file `stzlab simulate` may write, for removing a previous run's.
pub const SIMULATE_OUTPUTS: &[&str] = &[
    "data.csv",
    "mandrel.csv",
    "cantilever.csv",
    "scenario.json",
    "truth.csv",
    "truth_stz.csv",
];

/// The files of a simulation, in memory, by name: `data.csv`, `scenario.json` (the resolved
/// scenario), `truth.csv` and `truth_stz.csv` when the truth has them.
///
/// # Errors
/// When the resolved scenario cannot be serialized.
pub fn simulation_files(
    scenario: &Scenario,
    sim: &Simulation,
) -> Result<Vec<(String, Vec<u8>)>, serde_json::Error> {
    // A joint protocol: one data file per experiment, named by it (`invert --joint` reads them).
    let mut files: Vec<(String, Vec<u8>)> = if sim.sets.is_empty() {
        vec![("data.csv".to_string(), data_csv(sim).into_bytes())]
    } else {
        sim.sets
            .iter()
            .zip(&sim.series)
            .map(|((name, kind), s)| {
                (
                    format!("{name}.csv"),
                    series_csv(*kind, std::slice::from_ref(s)).into_bytes(),
                )
            })
            .collect()
    };
    files.push((
        "scenario.json".to_string(),
        serde_json::to_string_pretty(&scenario.resolved)?.into_bytes(),
    ));
    if !sim.truth.is_empty() {
        files.push(("truth.csv".to_string(), truth_csv(sim).into_bytes()));
    }
    if let Some(stz) = truth_stz_csv(sim) {
        files.push(("truth_stz.csv".to_string(), stz.into_bytes()));
    }
    Ok(files)
}
