//! The progress of a sweep or a study on stderr: a bar redrawn in place on a terminal, otherwise
//! (a log file, a batch job) one line every [`LINE_EVERY`], nothing with `--quiet`. Safe to call
//! from the worker threads.

use std::io::IsTerminal;

use super::cost::duration_text;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A terminal's bar is redrawn at most this often.
const REDRAW: Duration = Duration::from_millis(200);
/// Without a terminal, a progress line at most this often.
pub const LINE_EVERY: Duration = Duration::from_secs(10);
/// A run expected to take longer than this is announced once, with the estimate measured on its
/// first runs.
const ANNOUNCE_S: f64 = 60.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Off,
    Bar,
    Lines,
}

/// Progress over `total` runs of which `start` were done before (a resume).
#[derive(Debug)]
pub(crate) struct Progress {
    mode: Mode,
    total: usize,
    start: usize,
    done: AtomicUsize,
    started: Instant,
    shown: Mutex<Option<Instant>>,
    announced: std::sync::atomic::AtomicBool,
}

impl Progress {
    /// Off when `quiet`; a bar when stderr is a terminal; lines otherwise.
    pub(crate) fn new(quiet: bool, total: usize, start: usize) -> Self {
        let mode = if quiet || total == 0 {
            Mode::Off
        } else if std::io::stderr().is_terminal() {
            Mode::Bar
        } else {
            Mode::Lines
        };
        Self {
            mode,
            total,
            start,
            done: AtomicUsize::new(start),
            started: Instant::now(),
            shown: Mutex::new(None),
            announced: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Whether a bar is drawn on a terminal (where the resume hint is worth printing).
    pub(crate) fn on_terminal(&self) -> bool {
        self.mode == Mode::Bar
    }

    /// Counts `n` more runs done and shows the progress when it is time.
    pub(crate) fn advance(&self, n: usize) {
        let done = self.done.fetch_add(n, Ordering::Relaxed) + n;
        if self.mode == Mode::Off {
            return;
        }
        self.announce(done);
        let Ok(mut shown) = self.shown.lock() else {
            return;
        };
        let now = Instant::now();
        let every = if self.mode == Mode::Bar {
            REDRAW
        } else {
            LINE_EVERY
        };
        // Lines start after the first interval; the bar shows at once.
        let last = shown.unwrap_or(if self.mode == Mode::Bar {
            now - every
        } else {
            self.started
        });
        if done < self.total && now.duration_since(last) < every {
            return;
        }
        if self.mode == Mode::Lines && done >= self.total {
            return;
        }
        *shown = Some(now);
        let text = self.text(done);
        match self.mode {
            Mode::Bar => {
                let width = 30;
                let filled = width * done.min(self.total) / self.total;
                eprint!(
                    "\r[{}{}] {text} ",
                    "#".repeat(filled),
                    " ".repeat(width - filled)
                );
            }
            Mode::Lines => eprintln!("progress: {text}"),
            Mode::Off => {}
        }
    }

    /// Once, when the runs done so far (at least 2 s and one per thread) put the whole run above
    /// [`ANNOUNCE_S`]: the estimate, so that a user can stop a run too large for the time they have.
    fn announce(&self, done: usize) {
        let elapsed = self.started.elapsed().as_secs_f64();
        let fresh = done.saturating_sub(self.start);
        // Runs finish in parallel: an estimate needs at least one per worker thread (called from
        // the workers, so this is the run's pool).
        let threads = rayon::current_num_threads().max(1);
        if elapsed < 2.0 || fresh < threads || self.announced.load(Ordering::Relaxed) {
            return;
        }
        let total_s = elapsed / fresh as f64 * (self.total - self.start) as f64;
        if total_s > ANNOUNCE_S && !self.announced.swap(true, Ordering::Relaxed) {
            let bar = if self.mode == Mode::Bar { "\r" } else { "" };
            eprintln!(
                "{bar}estimate: about {} for {} runs (measured on the first {fresh})",
                duration_text(total_s),
                self.total - self.start
            );
        }
    }

    /// Before any run: the estimate from the problem sizes ([`super::cost`]) when it is above
    /// [`ANNOUNCE_S`], with the largest analysis (`detail`); the measured estimate follows once
    /// runs finish.
    pub(crate) fn announce_upfront(&self, seconds: f64, detail: &str) {
        if self.mode != Mode::Off && seconds > ANNOUNCE_S {
            eprintln!(
                "estimate before the first run: about {} for {} runs ({detail})",
                duration_text(seconds),
                self.total - self.start
            );
        }
    }

    /// `done/total runs, elapsed, estimate left`.
    fn text(&self, done: usize) -> String {
        let elapsed = self.started.elapsed().as_secs_f64();
        let rate = (done - self.start.min(done)) as f64 / elapsed.max(1e-9);
        let left = (self.total.saturating_sub(done)) as f64 / rate.max(1e-9);
        format!(
            "{done}/{} runs, {elapsed:.1} s, about {left:.0} s left",
            self.total
        )
    }

    /// Ends the bar's line.
    pub(crate) fn finish(&self) {
        if self.mode == Mode::Bar {
            eprintln!();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_from_every_thread_and_estimates_what_is_left() {
        let p = Progress::new(true, 100, 20);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| (0..10).for_each(|_| p.advance(1)));
            }
        });
        assert_eq!(p.done.load(Ordering::Relaxed), 60);
        let text = p.text(60);
        assert!(text.starts_with("60/100 runs, "), "{text}");
        assert!(text.ends_with(" s left"), "{text}");
        assert!(!p.on_terminal());
        assert_eq!(duration_text(45.0), "45 s");
        assert_eq!(duration_text(720.0), "12 min");
        assert_eq!(duration_text(12_600.0), "3.5 h");
    }
}
