//! The inverse problem (docs/model.md §4): kernels, the active-set NNLS, the lambda path and the
//! rules that choose lambda on it.

mod dense;
pub mod edge;
pub mod energy;
pub mod global;
pub mod iterative;
pub mod kernel;
pub mod logspace;
pub mod nnls;
pub mod penalty;
mod problem;

pub use kernel::Kernel;
pub use problem::{
    Baseline, BlockInfo, DataBlock, FitStats, InversionError, Problem, ProblemSettings, Solution,
    Workspace, UNSCALED_Y,
};
pub mod path;
pub mod rules;
mod settings;
mod terms;

pub use path::{LambdaPath, PathPoint, DEFAULT_LAMBDA_POINTS};
pub use rules::{choose, Choice, PathScores, Rule, RuleStatus};
mod analyse;

pub use analyse::{analyse, significance, Analysis, RuleResult, NOISE_SIGNIFICANCE};
pub(crate) use analyse::{peak_area_stderr, significant_peaks};
pub use settings::{
    check_edge_scale, check_maxent_model, Bootstrap, InvertOptions, Regularizer, SettingError,
    MAX_LAMBDA_POINTS, MAX_ORDER, MAX_RESAMPLES, MIN_GRID_POINTS, MIN_LAMBDA_POINTS, MIN_RESAMPLES,
};
