//! Output: the CSV/JSON tables of each command, the figures and index.html, and what the commands
//! print.

mod console;
mod figures;
mod html;
mod invert_tables;
mod plot;
mod tables;

pub use console::{headline_lines, invert_lines, simulate_lines, sweep_lines};
pub use figures::write_report;
pub use invert_tables::{
    fit_csv, invert_files, path_csv, peaks_csv, spectrum_csv, stz_csv, INVERT_OUTPUTS,
};

pub use tables::{data_csv, simulation_files, truth_csv, truth_stz_csv, SIMULATE_OUTPUTS};
