//! The pipelines: what one command or one trial does, end to end, as library functions. The
//! engines below (physics, forward models, inversion, analysis) know nothing of scenarios or files;
//! the drivers above ([`crate::sweep`], [`crate::study`]) repeat these pipelines over cells and
//! seeds; [`crate::report`] turns their typed results into files and figures.
//!
//! - [`simulate`](mod@simulate): scenario -> forward model -> noise -> data and the effective truth;
//! - [`invert`]: data -> problem -> analysis (lambda path, rule) -> peaks -> STZ table;
//! - [`joint`]: several data sets sharing one spectrum -> one problem -> the same analysis;
//! - [`trial`]: truth -> forward -> noise -> invert -> [`score`] (one run of a sweep);
//! - [`score`]: the recovery metrics and their statistics;
//! - [`uncertainty`]: the bootstrap bands and intervals of an inversion;
//! - [`drive`]: what the sweep and study drivers share (run options, the run record, the finish);
//! - [`cost`]: the expected time of an analysis from its size, announced before long runs.

pub mod cost;
pub mod drive;
pub mod invert;
pub mod joint;
pub(crate) mod progress;
pub mod score;
pub mod simulate;
pub mod stats;
pub mod trial;
pub mod uncertainty;

pub use invert::{invert_series, InvertError, InvertOptions, SeriesInversion};
pub use score::{Metrics, Stats, METRICS, ORACLE};
pub use simulate::{simulate, Simulation};
pub use trial::{run_once, RunResult};
