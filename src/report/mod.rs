//! Output: the CSV/JSON tables of each command, the figures and index.html, and what the commands
//! print.

mod axes;
mod console;
mod figures;
mod heatmap;
mod html;
mod invert_tables;
mod legend;
mod plot;
mod provenance;
mod tables;
mod units;

pub use console::{headline_lines, invert_lines, simulate_lines, sweep_lines};
pub use figures::write_report;
pub use invert_tables::{
    fit_csv, invert_files, path_csv, peaks_csv, spectrum_csv, stz_csv, INVERT_OUTPUTS,
};
pub use provenance::{Provenance, PROVENANCE_FILE};
pub use units::unit_of;

pub use tables::{data_csv, simulation_files, truth_csv, truth_stz_csv, SIMULATE_OUTPUTS};
