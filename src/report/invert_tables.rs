//! Tables written by `stzlab invert`. With several series (DMA temperatures) every table gains a
//! leading `temperature_k` column.

use std::fmt::Write;

use crate::files::num;
use crate::inversion::global::density_per_ev;
use crate::inversion::rules::residual_lag1;
use crate::pipeline::invert::energy::EnergyReading;
use crate::pipeline::invert::global::VolumeReading;
use crate::pipeline::invert::{DataInversion, SeriesInversion, SpectrumAxis};
use crate::pipeline::uncertainty::Interval;

fn lead(multi: bool, s: &SeriesInversion) -> String {
    if multi {
        format!("{},", s.temperature_k.map(num).unwrap_or_default())
    } else {
        String::new()
    }
}

fn header(multi: bool, columns: &str) -> String {
    if multi {
        format!("temperature_k,{columns}\n")
    } else {
        format!("{columns}\n")
    }
}

/// `spectrum.csv`: `tau_s,ln_tau,density,weight` of the chosen solution (density per unit ln tau),
/// with the bootstrap `density_p05,density_p50,density_p95` when uncertainty was asked for.
pub fn spectrum_csv(series: &[SeriesInversion]) -> String {
    let multi = series.len() > 1;
    let banded = series.iter().any(|s| s.uncertainty.is_some());
    let mut out = header(
        multi,
        if banded {
            "tau_s,ln_tau,density,weight,density_p05,density_p50,density_p95"
        } else {
            "tau_s,ln_tau,density,weight"
        },
    );
    for s in series {
        let grid = s.problem.grid();
        let step = grid.step();
        for (j, &w) in s.analysis.results[0]
            .choice
            .solution
            .amplitudes
            .iter()
            .enumerate()
        {
            let _ = writeln!(
                out,
                "{}{},{},{},{}{}",
                lead(multi, s),
                num(grid.tau_s(j)),
                num(grid.ln_tau(j)),
                num(w / step),
                num(w),
                density_band(s, j, 1.0)
            );
        }
    }
    out
}

/// `,p05,p50,p95` of the bootstrap band of the density at grid point `j`, each over `unit`; empty
/// without a bootstrap.
fn density_band(s: &SeriesInversion, j: usize, unit: f64) -> String {
    s.uncertainty
        .as_ref()
        .map(|u| {
            let b = u.density[j];
            format!(
                ",{},{},{}",
                num(b.p05 / unit),
                num(b.p50 / unit),
                num(b.p95 / unit)
            )
        })
        .unwrap_or_default()
}

/// `spectrum.csv` of an inversion in activation energy: `df_ev,density_per_ev,weight` (strain per
/// eV; weight = the grid point's strain), with the bootstrap `density_per_ev_p05,_p50,_p95`.
pub fn energy_spectrum_csv(e: &EnergyReading, s: &SeriesInversion) -> String {
    let banded = s.uncertainty.is_some();
    let mut out = String::from(if banded {
        "df_ev,density_per_ev,weight,density_per_ev_p05,density_per_ev_p50,density_per_ev_p95\n"
    } else {
        "df_ev,density_per_ev,weight\n"
    });
    let (step, per_ln_tau) = (e.grid.step_ev(), e.grid.ev_per_ln_tau());
    for (j, (df, &w)) in e
        .grid
        .df_ev()
        .iter()
        .zip(&s.choice().solution.amplitudes)
        .enumerate()
    {
        let _ = writeln!(
            out,
            "{},{},{}{}",
            num(*df),
            num(w / step),
            num(w),
            density_band(s, j, per_ln_tau)
        );
    }
    out
}

/// `peaks.csv` of an inversion in activation energy: `peak,df_ev,area,in_resolved_range`, with the
/// bootstrap `appearance,df_p05_ev,df_p50_ev,df_p95_ev,area_p05,area_p50,area_p95`.
pub fn energy_peaks_csv(e: &EnergyReading, s: &SeriesInversion) -> String {
    let mut out = String::from("peak,df_ev,area,in_resolved_range");
    if s.uncertainty.is_some() {
        out.push_str(",appearance,df_p05_ev,df_p50_ev,df_p95_ev,area_p05,area_p50,area_p95");
    }
    out.push('\n');
    let (lo, hi) = e.resolved_ev;
    for (i, p) in s.peaks().iter().enumerate() {
        let df = e.grid.df_of_tau(p.tau_s());
        let _ = write!(
            out,
            "{},{},{},{}",
            i + 1,
            num(df),
            num(p.area),
            (lo..=hi).contains(&df)
        );
        if let Some(u) = s.uncertainty.as_ref().map(|u| &u.peaks[i]) {
            let df_of = |t: f64| num(e.grid.df_of_tau(t));
            let _ = write!(
                out,
                ",{},{},{},{},{}",
                num(u.appearance),
                df_of(u.tau_s.p05),
                df_of(u.tau_s.p50),
                df_of(u.tau_s.p95),
                interval(Some(u.area))
            );
        }
        out.push('\n');
    }
    out
}

/// `spectrum.csv` over STZ volumes: `omega_m3,df_ref_ev,tau_ref_s,density,density_per_ev,weight`
/// (dF and tau at the reference temperature; density per unit ln tau_ref and per eV of dF there;
/// weight = the grid point's amplitude), with the bootstrap `density_p05,density_p50,density_p95`.
pub fn volume_spectrum_csv(v: &VolumeReading, s: &SeriesInversion) -> String {
    let banded = s.uncertainty.is_some();
    let mut out = String::from(if banded {
        "omega_m3,df_ref_ev,tau_ref_s,density,density_per_ev,weight,density_p05,density_p50,density_p95\n"
    } else {
        "omega_m3,df_ref_ev,tau_ref_s,density,density_per_ev,weight\n"
    });
    let step = v.grid.grid.step();
    let df: Vec<f64> = v.grid.omega_m3.iter().map(|o| v.df_ref_ev(*o)).collect();
    let per_ev = density_per_ev(&df, &s.choice().solution.amplitudes);
    for (j, (o, &w)) in v
        .grid
        .omega_m3
        .iter()
        .zip(&s.choice().solution.amplitudes)
        .enumerate()
    {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{}{}",
            num(*o),
            num(df[j]),
            num(v.grid.grid.tau_s(j)),
            num(w / step),
            num(per_ev[j]),
            num(w),
            density_band(s, j, 1.0)
        );
    }
    out
}

/// `peaks.csv` over STZ volumes: `peak,omega_m3,df_ref_ev,area,n_implied,n,in_window` (n_implied =
/// Omega over the material file's atomic volume; n from the consecutive-size reading of the kept
/// peaks; empty where there is none).
pub fn volume_peaks_csv(v: &VolumeReading, s: &SeriesInversion) -> String {
    let mut out = String::from("peak,omega_m3,df_ref_ev,area,n_implied,n,in_window\n");
    for (i, p) in v.peaks(s).iter().enumerate() {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{}",
            i + 1,
            num(p.omega_m3),
            num(p.df_ref_ev),
            num(p.area),
            p.n_implied.map(num).unwrap_or_default(),
            p.n.map(|n| n.to_string()).unwrap_or_default(),
            p.in_window
        );
    }
    out
}

/// `fit.csv` of a global loss inversion: `temperature_k,x,y,fit,residual` (x = w in rad/s; y =
/// E''/E0(T), as normalized for the inversion).
pub fn volume_fit_csv(v: &VolumeReading, s: &SeriesInversion) -> String {
    let mut out = String::from("temperature_k,x,y,fit,residual\n");
    let fit = s.problem.fitted(&s.choice().solution);
    for (((t, x), y), f) in v
        .row_temperature_k
        .iter()
        .zip(s.problem.x())
        .zip(s.problem.y())
        .zip(&fit)
    {
        let _ = writeln!(
            out,
            "{},{},{},{},{}",
            num(*t),
            num(*x),
            num(*y),
            num(*f),
            num(y - f)
        );
    }
    out
}

/// `fit.csv`: `x,y,fit,residual` (x in s or rad/s, y in data units); a joint inversion's rows
/// start with their data set's name (`set`), its values as normalized for the inversion.
pub fn fit_csv(series: &[SeriesInversion]) -> String {
    let multi = series.len() > 1;
    let joint = series.iter().any(|s| !s.sets.is_empty());
    let mut out = header(
        multi,
        if joint {
            "set,x,y,fit,residual"
        } else {
            "x,y,fit,residual"
        },
    );
    for s in series {
        let fit = s.problem.fitted(&s.analysis.results[0].choice.solution);
        let set_of = |i: usize| {
            s.problem
                .blocks()
                .iter()
                .zip(&s.sets)
                .find(|(b, _)| b.rows.contains(&i))
                .map(|(_, set)| format!("{},", set.name))
                .unwrap_or_default()
        };
        for (i, ((x, y), f)) in s
            .problem
            .x()
            .iter()
            .zip(s.problem.y())
            .zip(&fit)
            .enumerate()
        {
            let _ = writeln!(
                out,
                "{}{}{},{},{},{}",
                lead(multi, s),
                set_of(i),
                num(*x),
                num(*y),
                num(*f),
                num(y - f)
            );
        }
    }
    out
}

/// `path.csv`: one row per lambda with the fit quantities and every rule's score; `chosen_by` names
/// the rules that picked that point.
pub fn path_csv(series: &[SeriesInversion]) -> String {
    let multi = series.len() > 1;
    let mut out = header(
        multi,
        "lambda,residual_norm,chi2,r2,penalty_norm,dof,peaks,gcv,lcurve_curvature,ftest_prob1,r2_rise,quasi_optimality,ln_evidence,mu2,classic,residual_lag1,nnls_status,solver_iterations,solver_residual,chosen_by",
    );
    for s in series {
        let sc = &s.analysis.scores;
        for (k, p) in s.analysis.path.points.iter().enumerate() {
            let st = &p.solution.stats;
            let chosen: Vec<String> = s
                .analysis
                .results
                .iter()
                .filter(|r| r.choice.index == Some(k))
                .map(|r| r.choice.rule.name())
                .collect();
            let _ = writeln!(
                out,
                "{}{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                lead(multi, s),
                num(p.lambda()),
                num(st.residual_norm),
                num(sc.chi2[k]),
                num(st.r2),
                num(st.penalty_norm),
                num(st.dof),
                p.peaks,
                num(sc.gcv[k]),
                nan_empty(sc.lcurve_curvature[k]),
                nan_empty(sc.ftest_prob1[k]),
                nan_empty(sc.r2_rise[k]),
                nan_empty(sc.quasi_optimality[k]),
                nan_empty(sc.ln_evidence[k]),
                nan_empty(sc.mu2[k]),
                nan_empty(sc.classic[k]),
                nan_empty(residual_lag1(
                    &s.problem,
                    &s.problem.weighted_residuals(&p.solution)
                )),
                p.solution.info.status_name(),
                p.solution.info.iterations,
                num(p.solution.info.kkt_residual),
                chosen.join(";")
            );
        }
    }
    out
}

fn nan_empty(v: f64) -> String {
    if v.is_finite() {
        num(v)
    } else {
        String::new()
    }
}

/// `peaks.csv`: `peak,tau_s,tau_median_s,ln_tau,area,height,in_window,area_stderr,significance`
/// of the chosen spectrum (tau in s; `in_window`: the centroid lies inside the data window;
/// `significance`: area / `area_stderr`). With uncertainty: `appearance`
/// (fraction of resamples with the peak) and the 5-50-95 % points of tau (s) and area, and with a
/// material those of dF (eV) and Omega (m^3).
pub fn peaks_csv(series: &[SeriesInversion]) -> String {
    let multi = series.len() > 1;
    let banded = series.iter().any(|s| s.uncertainty.is_some());
    let stz = series.iter().any(|s| s.stz.is_some());
    let mut columns = String::from(
        "peak,tau_s,tau_median_s,ln_tau,area,height,in_window,area_stderr,significance",
    );
    if banded {
        columns.push_str(",appearance,tau_p05_s,tau_p50_s,tau_p95_s,area_p05,area_p50,area_p95");
        if stz {
            columns
                .push_str(",df_p05_ev,df_p50_ev,df_p95_ev,omega_p05_m3,omega_p50_m3,omega_p95_m3");
            columns.push_str(",omega_slope_p05_m3,omega_slope_p50_m3,omega_slope_p95_m3");
        }
    }
    let mut out = header(multi, &columns);
    for s in series {
        let (errors, significance) = (s.peak_area_errors(), s.significance());
        for (i, p) in s.analysis.results[0].peaks.iter().enumerate() {
            let se = errors[i].map_or(String::new(), num);
            let _ = write!(
                out,
                "{}{},{},{},{},{},{},{},{},{}",
                lead(multi, s),
                i + 1,
                num(p.tau_s()),
                num(p.tau_median_s()),
                num(p.ln_tau_centroid),
                num(p.area),
                num(p.height),
                s.in_window(p),
                se,
                significance[i].map_or(String::new(), num)
            );
            if let Some(u) = s.uncertainty.as_ref().map(|u| &u.peaks[i]) {
                let _ = write!(
                    out,
                    ",{},{},{}",
                    num(u.appearance),
                    interval(Some(u.tau_s)),
                    interval(Some(u.area))
                );
                if stz {
                    let slope = s.uncertainty.as_ref().and_then(|u| u.omega_slope_m3);
                    let _ = write!(
                        out,
                        ",{},{},{}",
                        interval(u.df_ev),
                        interval(u.omega_m3),
                        interval(slope)
                    );
                }
            }
            out.push('\n');
        }
    }
    out
}

/// `p05,p50,p95`, or three empty fields.
fn interval(i: Option<Interval>) -> String {
    let f = |v: f64| if v.is_finite() { num(v) } else { String::new() };
    match i {
        Some(i) => format!("{},{},{}", f(i.p05), f(i.p50), f(i.p95)),
        None => ",,".to_string(),
    }
}

/// `stz.csv`: `m,tau_s,c,e_prime_pa,eta_prime_pa_s,omega_m3,omega_atomic_volumes,df_ev,in_window`;
/// with uncertainty also the 5-50-95 % points of Omega (m^3) and dF (eV) of each row and of the
/// slope of Omega against m (m^3, the same on every row of a series).
pub fn stz_csv(series: &[SeriesInversion], atomic_volume_m3: Option<f64>) -> Option<String> {
    let multi = series.len() > 1;
    let banded = series.iter().any(|s| s.uncertainty.is_some());
    let mut columns = String::from(
        "m,tau_s,c,e_prime_pa,eta_prime_pa_s,omega_m3,omega_atomic_volumes,df_ev,in_window,significance",
    );
    if banded {
        columns.push_str(",omega_p05_m3,omega_p50_m3,omega_p95_m3,df_p05_ev,df_p50_ev,df_p95_ev,omega_slope_p05_m3,omega_slope_p50_m3,omega_slope_p95_m3");
    }
    let mut out = header(multi, &columns);
    let mut any = false;
    for s in series {
        let Some(b) = &s.stz else { continue };
        any = true;
        let significance = s.significance();
        for e in &b.estimates {
            let opt = |v: Option<f64>| v.map(num).unwrap_or_default();
            let _ = write!(
                out,
                "{}{},{},{},{},{},{},{},{},{},{}",
                lead(multi, s),
                e.m,
                num(e.tau_s),
                num(e.c),
                num(e.e_prime_pa),
                num(e.eta_prime_pa_s),
                opt(e.omega_m3),
                opt(e.omega_m3.zip(atomic_volume_m3).map(|(o, v)| o / v)),
                opt(e.df_ev),
                e.in_window,
                opt(significance.get(e.m - 1).copied().flatten())
            );
            if let Some(u) = &s.uncertainty {
                let p = &u.peaks[e.m - 1];
                let _ = write!(
                    out,
                    ",{},{},{}",
                    interval(p.omega_m3),
                    interval(p.df_ev),
                    interval(u.omega_slope_m3)
                );
            }
            out.push('\n');
        }
    }
    any.then_some(out)
}

/// Every file `stzlab invert` may write (figures included), for removing a previous run's.
pub const INVERT_OUTPUTS: &[&str] = &[
    "spectrum.csv",
    "fit.csv",
    "path.csv",
    "peaks.csv",
    "stz.csv",
    "summary.json",
    "fit.svg",
    "spectrum.svg",
    "lcurve.svg",
    "scores.svg",
    "index.html",
];

/// The tables of an inversion, in memory, by file name (`stz.csv` only with a material).
///
/// # Errors
/// When the summary cannot be serialized.
pub fn invert_files(inv: &DataInversion) -> Result<Vec<(String, Vec<u8>)>, serde_json::Error> {
    let series = &inv.series;
    let spectrum = match &inv.axis {
        Some(SpectrumAxis::Energy(e)) => energy_spectrum_csv(e, &series[0]),
        Some(SpectrumAxis::Volume(v)) => volume_spectrum_csv(v, &series[0]),
        None => spectrum_csv(series),
    };
    let mut files = vec![
        ("spectrum.csv".to_string(), spectrum.into_bytes()),
        (
            "fit.csv".to_string(),
            match &inv.axis {
                Some(SpectrumAxis::Volume(v)) => volume_fit_csv(v, &series[0]),
                _ => fit_csv(series),
            }
            .into_bytes(),
        ),
        ("path.csv".to_string(), path_csv(series).into_bytes()),
        (
            "peaks.csv".to_string(),
            match &inv.axis {
                Some(SpectrumAxis::Energy(e)) => energy_peaks_csv(e, &series[0]),
                Some(SpectrumAxis::Volume(v)) => volume_peaks_csv(v, &series[0]),
                None => peaks_csv(series),
            }
            .into_bytes(),
        ),
        (
            "summary.json".to_string(),
            serde_json::to_string_pretty(&inv.summary())?.into_bytes(),
        ),
    ];
    if let Some(stz) = stz_csv(series, inv.atomic_volume_m3) {
        files.push(("stz.csv".to_string(), stz.into_bytes()));
    }
    Ok(files)
}
