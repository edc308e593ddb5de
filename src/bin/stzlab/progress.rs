//! What `invert` shows on stderr while a bootstrap runs: its expected duration when that is more
//! than a few seconds, and a progress line on a terminal.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use stzlab::pipeline::cost::{duration_text, AnalysisSize};
use stzlab::pipeline::uncertainty::Observer;

/// An analysis or a bootstrap expected to take longer than this is announced with its estimate.
const ANNOUNCE_S: f64 = 3.0;
/// The progress line is redrawn at most this often.
const REDRAW: Duration = Duration::from_millis(250);

/// Prints to stderr; the progress line only on a terminal.
pub(crate) struct StderrProgress {
    terminal: bool,
    last: Mutex<Option<Instant>>,
}

impl StderrProgress {
    pub(crate) fn new() -> Self {
        Self {
            terminal: std::io::stderr().is_terminal(),
            last: Mutex::new(None),
        }
    }
}

impl Observer for StderrProgress {
    fn analysing(&self, size: AnalysisSize, seconds: f64) {
        if seconds > ANNOUNCE_S {
            eprintln!(
                "estimate: about {} for the analysis ({} grid points x {} data points x {} \
                 lambdas)",
                duration_text(seconds),
                size.points,
                size.data,
                size.lambda_points
            );
        }
    }

    fn starting(&self, resamples: usize, seconds_per_analysis: f64) {
        let threads = rayon::current_num_threads().max(1);
        let estimate = resamples as f64 * seconds_per_analysis / threads as f64;
        if estimate > ANNOUNCE_S {
            eprintln!(
                "bootstrap: {resamples} resamples of about {seconds_per_analysis:.3} s each on \
                 {threads} threads: about {estimate:.0} s"
            );
        }
    }

    fn resampled(&self, done: usize, total: usize) {
        if !self.terminal {
            return;
        }
        let Ok(mut last) = self.last.lock() else {
            return;
        };
        let now = Instant::now();
        if done < total && last.is_some_and(|t| now - t < REDRAW) {
            return;
        }
        *last = Some(now);
        eprint!("\rbootstrap: {done}/{total} resamples ");
        if done == total {
            eprintln!();
        }
    }
}
