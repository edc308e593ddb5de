//! What a sweep writes per run: its rows of `runs.csv`, in run order whatever order the runs finish
//! in, and the representative files of its cell (spectra, truth peaks, followed peaks).

use std::io::Write;
use std::path::{Path, PathBuf};

use super::summary::spectrum_file_name;
use crate::files::{csv_line, fields, Field, OutputDir, Table};
use crate::pipeline::drive::RunError;
use crate::pipeline::simulate::Simulation;
use crate::pipeline::trial::{RunResult, SeriesSpectra};
use crate::scenario::Plan;
use crate::scenario::{Scenario, Truth};

/// Results that arrive out of order wait until every earlier run's has been written.
pub(super) struct InOrder {
    /// The next index (into this shard's runs) to write.
    next: usize,
    pending: std::collections::BTreeMap<usize, RunResult>,
    /// Rows not yet appended to runs.csv.
    text: String,
    /// Runs in `text`.
    unsynced: usize,
}

impl InOrder {
    /// Nothing waiting; the first index to write is `next`.
    pub(super) fn new(next: usize) -> Self {
        Self {
            next,
            pending: std::collections::BTreeMap::new(),
            text: String::new(),
            unsynced: 0,
        }
    }

    /// Takes the result of index `i`, and hands it and every waiting result that is now next in
    /// order to `write` (which returns its rows).
    pub(super) fn add(
        &mut self,
        i: usize,
        result: RunResult,
        mut write: impl FnMut(usize, &RunResult) -> Result<String, RunError>,
    ) -> Result<(), RunError> {
        self.pending.insert(i, result);
        while let Some(result) = self.pending.remove(&self.next) {
            self.text.push_str(&write(self.next, &result)?);
            self.next += 1;
            self.unsynced += 1;
        }
        Ok(())
    }

    /// Runs written since the last sync.
    pub(super) fn unsynced(&self) -> usize {
        self.unsynced
    }

    /// Runs written in all (the next index to write).
    pub(super) fn written(&self) -> usize {
        self.next
    }

    /// Appends the rows written so far to runs.csv and syncs it.
    pub(super) fn sync(&mut self, out: &mut std::fs::File, path: &Path) -> Result<(), RunError> {
        out.write_all(self.text.as_bytes())
            .and_then(|()| out.sync_data())
            .map_err(|e| RunError::Other(format!("{}: {e}", path.display())))?;
        self.text.clear();
        self.unsynced = 0;
        Ok(())
    }
}

/// A run's rows of runs.csv, after writing its cell's representative files when it carries them.
pub(super) fn writer_rows(
    plan: &Plan,
    run: usize,
    result: &RunResult,
    clean: &[Simulation],
    dir: &OutputDir,
    files: &mut Vec<PathBuf>,
) -> Result<String, RunError> {
    if let Some(spectra) = &result.spectra {
        let cell = run / plan.repeats;
        files.push(dir.write(&spectrum_file_name(cell), spectrum_csv(spectra).as_bytes())?);
        files.push(dir.write(
            &format!("truth_cell{cell:04}.csv"),
            truth_peaks_csv(&clean[cell]).as_bytes(),
        )?);
        files.push(dir.write(
            &format!("peaks_cell{cell:04}.csv"),
            followed_peaks_csv(&plan.cells[cell].scenario, spectra).as_bytes(),
        )?);
    }
    Ok(rows_text(plan, run, result))
}

/// Rows of a run: (rules + oracle) x series of its cell.
pub(super) fn rows_per_run(plan: &Plan, run: usize) -> usize {
    let cell = &plan.cells[(run / plan.repeats).min(plan.cells.len() - 1)];
    let series = cell.scenario.protocol.temperatures_k().len().max(1);
    (cell.scenario.rules.len() + 1) * series
}

fn rows_text(plan: &Plan, run: usize, result: &RunResult) -> String {
    let mut text = String::new();
    for row in &result.rows {
        let mut fields = plan.run_fields(run);
        fields.push(row.temperature_k.into());
        fields.push(row.rule_name().into());
        fields.extend(
            row.metrics
                .values()
                .iter()
                .map(|v| Field::from(v.is_finite().then_some(*v))),
        );
        fields.push(row.status.to_string().into());
        text.push_str(&csv_line(
            &fields.iter().map(Field::text).collect::<Vec<_>>(),
        ));
    }
    text
}

/// The representative spectra of a cell: truth and every choice, density per unit ln tau.
fn spectrum_csv(spectra: &[SeriesSpectra]) -> String {
    let multi = spectra.len() > 1;
    let names: Vec<String> = spectra
        .first()
        .map(|s| s.recovered.iter().map(|(n, _)| n.clone()).collect())
        .unwrap_or_default();
    let mut header: Vec<String> = Vec::new();
    if multi {
        header.push("temperature_k".into());
    }
    header.extend(
        ["tau_s", "ln_tau", "in_window", "truth_density"]
            .iter()
            .map(|s| s.to_string()),
    );
    header.extend(names.iter().map(|n| format!("{n}_density")));
    let mut table = Table::new(&header);
    for s in spectra {
        for j in 0..s.tau_s.len() {
            let mut row = Vec::new();
            if multi {
                row.push(s.temperature_k.into());
            }
            row.extend(fields![
                s.tau_s[j],
                s.tau_s[j].ln(),
                s.in_window[j],
                s.truth[j] / s.step
            ]);
            for name in &names {
                let w = s.recovered.iter().find(|(n, _)| n == name);
                row.push(w.map(|(_, w)| w[j] / s.step).into());
            }
            table.push(row);
        }
    }
    table.to_csv()
}

/// The truth peaks of a cell: nominal area and the area the data actually carry (the mandrel's
/// shortfall for slow peaks; E0(T) c in Pa for DMA).
fn truth_peaks_csv(sim: &Simulation) -> String {
    let mut table = Table::new(&[
        "temperature_k",
        "peak",
        "tau_s",
        "area",
        "effective_area",
        "delta",
    ]);
    for (series, truth) in sim.series.iter().zip(&sim.truth) {
        let Some(e) = &series.effective else { continue };
        for (i, p) in truth.spectrum.peaks().iter().enumerate() {
            table.push(fields![
                series.temperature_k,
                i + 1,
                e.peak_tau_s[i],
                p.area,
                e.peak_area[i],
                p.is_delta()
            ]);
        }
    }
    table.to_csv()
}

/// The recovered peaks of a cell's representative run, each choice, with the truth peak each was
/// matched to (empty where none: a spurious peak). With a hierarchy truth, the STZ volume each peak's
/// tau gives through Eq. 9 at the series temperature, and the matched size n with its true volume.
fn followed_peaks_csv(scenario: &Scenario, spectra: &[SeriesSpectra]) -> String {
    let hierarchy = match (&scenario.truth, &scenario.material) {
        (Some(Truth::Hierarchy(h)), Some(m)) => Some((h, m)),
        _ => None,
    };
    let mut table = Table::new(&[
        "temperature_k",
        "rule",
        "peak",
        "tau_s",
        "area",
        "truth_peak",
        "truth_tau_s",
        "truth_effective_area",
        "log10_tau_shift",
        "area_ratio",
        "omega_m3",
        "truth_n",
        "truth_omega_m3",
    ]);
    for s in spectra {
        for ((name, _), peaks) in s.recovered.iter().zip(&s.peaks) {
            for (k, p) in peaks.iter().enumerate() {
                let mut row = fields![s.temperature_k, name.as_str(), k + 1, p.tau_s, p.area];
                match p.truth {
                    Some((i, tau, area)) => row.extend(fields![
                        i,
                        tau,
                        area,
                        (p.tau_s / tau).log10(),
                        p.area / area
                    ]),
                    None => row.extend(std::iter::repeat_n(Field::Empty, 5)),
                }
                let omega = hierarchy
                    .zip(s.temperature_k)
                    .and_then(|((_, m), t)| m.omega_from_tau(p.tau_s, t));
                let n = hierarchy
                    .zip(p.truth)
                    .and_then(|((h, _), (i, _, _))| h.sizes().get(i - 1).copied());
                let truth_omega = hierarchy.zip(n).map(|((h, _), n)| h.volume().omega_m3(n));
                row.extend(fields![omega, n, truth_omega]);
                table.push(row);
            }
        }
    }
    table.to_csv()
}
