//! Output: a guarded output folder, atomic file writes, and the CSV/JSON tables of each command.

mod figures;
mod html;
mod invert_tables;
mod output;
mod plot;
mod tables;

pub use figures::{figures_for, write_report};
pub use invert_tables::{fit_csv, path_csv, peaks_csv, spectrum_csv, stz_csv};
pub use output::{OutputDir, OutputError};
pub use plot::{render, Figure, Panel, Series, Style};
pub use tables::{data_csv, num, truth_csv, truth_stz_csv};
