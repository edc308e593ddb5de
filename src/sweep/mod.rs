//! Parallel sweeps (`stzlab run`, `stzlab merge`): a scenario with a known truth run over a grid of
//! conditions and noise repeats, each run scored against the truth for every rule and the oracle.

pub mod metrics;
pub mod plan;
pub mod runner;
pub mod summary;

pub use metrics::{run_once, RunResult, METRICS, ORACLE};
pub use plan::{Axis, Cell, Plan};
pub use runner::{merge, plan_json, run, RunError, RunOptions, RunReport};
pub use summary::{summarize, Stats};
