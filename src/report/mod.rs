//! Output: a guarded output folder, atomic file writes, and the CSV/JSON tables of each command.

mod output;
mod tables;

pub use output::{OutputDir, OutputError};
pub use tables::{data_csv, num, truth_csv, truth_stz_csv};
