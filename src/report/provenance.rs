//! How and when an output folder was made: `provenance.json`, shown at the top of its index.html.
//!
//! It is a file of its own so that the numbers (summary.json and the tables) stay byte-identical
//! between a run, its resumed or sharded twin and any thread count: only this file and the page
//! that shows it record the command line, the date and the run time.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::files::{OutputDir, OutputError};

/// The file name in an output folder.
pub const PROVENANCE_FILE: &str = "provenance.json";

/// The command that wrote a folder, stzlab's version, when it finished and how long it ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// The command line as typed (arguments quoted where the shell would need it).
    pub command: String,
    /// stzlab's version (Cargo package version).
    pub version: String,
    /// When the command finished its numbers, UTC, `YYYY-MM-DD hh:mm:ss UTC`.
    pub finished_utc: String,
    /// Wall time from the start of the command to its last number (figures not included), s.
    pub run_time_s: f64,
}

impl Provenance {
    /// The provenance of the running command: `args` (the program name first) and its run time so
    /// far, s.
    pub fn now(args: impl IntoIterator<Item = String>, run_time_s: f64) -> Self {
        let unix_s = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Self {
            command: command_line(args),
            version: env!("CARGO_PKG_VERSION").to_string(),
            finished_utc: utc_text(unix_s),
            run_time_s,
        }
    }

    /// Writes provenance.json into `dir` (an existing output folder).
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn write(&self, dir: &Path) -> Result<PathBuf, OutputError> {
        let json = serde_json::to_string_pretty(self).map_err(|e| OutputError::Io {
            path: dir.join(PROVENANCE_FILE),
            source: std::io::Error::other(e),
        })?;
        OutputDir::open(dir)?.write(PROVENANCE_FILE, (json + "\n").as_bytes())
    }

    /// The folder's provenance, if it has a readable one.
    pub fn read(dir: &Path) -> Option<Self> {
        let text = std::fs::read_to_string(dir.join(PROVENANCE_FILE)).ok()?;
        serde_json::from_str(&text).ok()
    }
}

/// The arguments joined by spaces, the program by its file name (`stzlab`, not the path of the
/// build), each quoted with single quotes when it holds anything but letters, digits and
/// `-_./=,:+@%`.
fn command_line(args: impl IntoIterator<Item = String>) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./=,:+@%".contains(c);
    args.into_iter()
        .enumerate()
        .map(|(i, a)| match std::path::Path::new(&a).file_name() {
            Some(name) if i == 0 => name.to_string_lossy().into_owned(),
            _ => a,
        })
        .map(|a| {
            if !a.is_empty() && a.chars().all(plain) {
                a
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Seconds since 1970-01-01 00:00:00 UTC as `YYYY-MM-DD hh:mm:ss UTC`.
fn utc_text(unix_s: u64) -> String {
    let (days, rest) = (unix_s / 86_400, unix_s % 86_400);
    let (y, m, d) = civil_date(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// The proleptic Gregorian date (year, month 1-12, day 1-31) of a day count since 1970-01-01.
///
/// Counts in 400-year eras (146 097 days each) of years that start on 1 March, so that the leap
/// day is the last day of its year; the month follows from the day of that year by the 153-day
/// five-month pattern of March-July and August-December.
fn civil_date(days_since_1970: u64) -> (u64, u64, u64) {
    // 1970-01-01 is day 719 468 counted from 0000-03-01.
    let z = days_since_1970 + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The day count by counting: every day from 1970 on, with the Gregorian leap rule.
    fn by_counting(days: u64) -> (u64, u64, u64) {
        let leap = |y: u64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let (mut y, mut left) = (1970, days);
        loop {
            let len = if leap(y) { 366 } else { 365 };
            if left < len {
                break;
            }
            left -= len;
            y += 1;
        }
        let lengths = [
            31,
            if leap(y) { 29 } else { 28 },
            31,
            30,
            31,
            30,
            31,
            31,
            30,
            31,
            30,
            31,
        ];
        let mut m = 0;
        while left >= lengths[m] {
            left -= lengths[m];
            m += 1;
        }
        (y, m as u64 + 1, left + 1)
    }

    #[test]
    fn dates_agree_with_counting_days_through_four_centuries() {
        // 1970-2370 covers 2000 (a leap century) and 2100, 2200, 2300 (not leap).
        for days in (0..146_097 + 365).step_by(7).chain(10_955..11_020) {
            assert_eq!(civil_date(days), by_counting(days), "day {days}");
        }
        assert_eq!(utc_text(0), "1970-01-01 00:00:00 UTC");
        // 2000-02-29 12:34:56 UTC.
        assert_eq!(utc_text(951_827_696), "2000-02-29 12:34:56 UTC");
    }

    #[test]
    fn command_lines_quote_what_the_shell_would_split() {
        let args = [
            "stzlab",
            "run",
            "a b.toml",
            "--set",
            "noise.sigma=3e-4",
            "it's",
        ];
        assert_eq!(
            command_line(args.iter().map(|s| s.to_string())),
            r"stzlab run 'a b.toml' --set noise.sigma=3e-4 'it'\''s'"
        );
    }
}
