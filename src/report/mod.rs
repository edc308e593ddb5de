//! Output: a guarded output folder, atomic file writes, and the CSV/JSON tables of each command.

mod invert_tables;
mod output;
mod tables;

pub use invert_tables::{fit_csv, path_csv, peaks_csv, spectrum_csv, stz_csv};
pub use output::{OutputDir, OutputError};
pub use tables::{data_csv, num, truth_csv, truth_stz_csv};
