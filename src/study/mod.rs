//! The paper's method studies (docs/model.md §5), each run by `stzlab run` from a scenario with a
//! `[study]` table: one call of [`run_study`] per run (cell and noise repeat) gives named numbers
//! (the columns of `runs.csv`, summarized in `summary.json`) and, for the first repeat of a cell,
//! tables written as CSV files.

mod bending;
mod grouping;
mod runner;
mod stepping;
mod stretched;
mod tts;

pub use runner::{run, StudyCell, StudySummary, HEADLINE_NOTE};

use rand::Rng;

use crate::files::Table;
use crate::scenario::{Scenario, Study};

/// What one run of a study gives.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// Named numbers, in a fixed order for a study kind (units in the names or the README).
    pub numbers: Vec<(String, f64)>,
    /// Named tables; written as `<name>_cellNNNN.csv`.
    pub tables: Vec<(String, Table)>,
}

impl Outcome {
    fn push(&mut self, name: &str, value: f64) {
        self.numbers.push((name.to_string(), value));
    }

    /// A number by name.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.numbers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
    }
}

/// 1 when an inversion's rule did not return its own choice (its status is not `ok`: an optimum
/// at a path end, an unreachable target, no corner, a point that did not converge), 0 when it did:
/// a study's direct inversions carry their rule's fallback as a number, whose mean over repeats is
/// the fraction flagged.
fn fallback(choice: &crate::inversion::Choice) -> f64 {
    f64::from(u8::from(choice.status != crate::inversion::RuleStatus::Ok))
}

/// Why a study could not run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StudyError {
    /// The scenario's protocol is not the study's (validation prevents this).
    #[error("the study needs the {0} protocol")]
    Protocol(&'static str),
    /// Input the study cannot use.
    #[error("{0}")]
    Input(String),
}

/// Runs the scenario's study once with the random draws of `rng` (noise, where the study has any).
///
/// # Errors
/// [`StudyError`]; none for a validated scenario with a study, except inputs only the study can
/// judge (say, TTS curves that do not overlap).
pub fn run_study<R: Rng + ?Sized>(
    scenario: &Scenario,
    rng: &mut R,
    keep_tables: bool,
) -> Result<Outcome, StudyError> {
    match &scenario.study {
        Some(Study::StretchedExponent) => stretched::run(scenario, rng, keep_tables),
        Some(Study::TtsMasterCurve { t_ref_k }) => tts::run(scenario, *t_ref_k, rng, keep_tables),
        Some(Study::TemperatureStepping(p)) => stepping::run(scenario, p, rng, keep_tables),
        Some(Study::NonlinearBending(p)) => bending::run(scenario, p, rng, keep_tables),
        Some(Study::ArrheniusGrouping(p)) => grouping::run(scenario, p, rng, keep_tables),
        None => Err(StudyError::Input("the scenario has no [study]".into())),
    }
}
