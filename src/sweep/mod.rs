//! Parallel sweeps (`stzlab run`, `stzlab merge`): a scenario with a known truth run over a grid of
//! conditions and noise repeats, each run scored against the truth for every rule and the oracle.

mod rows;
mod runner;
mod summary;

pub use runner::{merge, run};
pub use summary::{
    summarize, BestRule, CellRule, Coverage, CoverageMean, OverallMetric, OverallRule,
    SummaryError, SweepSummary,
};
