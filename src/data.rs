//! Measured data from CSV: columns x, y and optional sigma, or with a header naming a leading
//! `temperature_k` column, one series per temperature (DMA). `#` starts a comment line.

use std::path::Path;

/// At least this many points per series.
pub const MIN_POINTS: usize = 10;

/// The largest |y| of a series must lie in [`MIN_Y_SCALE`, `MAX_Y_SCALE`]. The inversion divides
/// data beyond [`crate::inversion::UNSCALED_Y`] by a power of two, so every scale in this range
/// gives the same choice; beyond it f64 keeps too few digits (subnormals) or too little headroom.
pub const MIN_Y_SCALE: f64 = 1e-300;
/// See [`MIN_Y_SCALE`].
pub const MAX_Y_SCALE: f64 = 1e300;

/// One measured curve.
#[derive(Debug, Clone, PartialEq)]
pub struct MeasuredSeries {
    /// Temperature, K, when the file has a temperature column.
    pub temperature_k: Option<f64>,
    /// Times (s) or angular frequencies (rad/s).
    pub x: Vec<f64>,
    /// Values.
    pub y: Vec<f64>,
    /// Standard deviations, when given.
    pub sigma: Option<Vec<f64>>,
}

/// Bad data, located.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct DataError {
    /// The file.
    pub file: String,
    /// 1-based line, when the problem has one.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

/// Reads a data file.
///
/// # Errors
/// [`DataError`] naming the file, line and problem.
pub fn read_data(path: &Path) -> Result<Vec<MeasuredSeries>, DataError> {
    let (text, file) = read_text(path)?;
    parse_data(&text, &file)
}

/// A text file's content and its name for messages.
///
/// # Errors
/// [`DataError`] when the file cannot be read.
pub(crate) fn read_text(path: &Path) -> Result<(String, String), DataError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| DataError {
        file: file.clone(),
        line: None,
        message: format!("cannot read: {e}"),
    })?;
    Ok((text, file))
}

/// Parses CSV text (see module docs); `file` is used in messages.
///
/// # Errors
/// [`DataError`].
pub fn parse_data(text: &str, file: &str) -> Result<Vec<MeasuredSeries>, DataError> {
    let err = |line: Option<usize>, message: String| DataError {
        file: file.to_string(),
        line,
        message,
    };
    let rows: Vec<(usize, Vec<&str>)> = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
        .map(|(i, l)| (i, l.split(',').map(str::trim).collect()))
        .collect();
    let Some((first_line, first)) = rows.first() else {
        return Err(err(
            None,
            "no data: the file is empty or holds only comments".into(),
        ));
    };
    let header = first
        .iter()
        .any(|c| !c.is_empty() && c.parse::<f64>().is_err());
    let width = first.len();
    let has_temperature = header && first[0].to_ascii_lowercase().starts_with("temperature");
    let (t_col, x_col) = if has_temperature {
        (Some(0), 1)
    } else {
        (None, 0)
    };
    let needed = x_col + 2;
    if width < needed || width > needed + 1 {
        let expected = if has_temperature {
            "temperature_k, x, y and optionally sigma"
        } else if header {
            "x, y and optionally sigma (a leading temperature column must be named temperature_k)"
        } else {
            "x, y and optionally sigma (with a header row, a leading temperature_k column is allowed)"
        };
        let message = if width == 1 {
            "one column; expected comma-separated x, y and optionally sigma (fields separated by \
             semicolons, tabs or spaces are not read)"
                .to_string()
        } else {
            format!("{width} columns; expected {expected}")
        };
        return Err(err(Some(*first_line), message));
    }
    let sigma_col = (width == needed + 1).then_some(needed);
    let body = if header { &rows[1..] } else { &rows[..] };
    if body.is_empty() {
        return Err(err(Some(*first_line), "a header but no data rows".into()));
    }

    struct Row {
        line: usize,
        t: Option<f64>,
        x: f64,
        y: f64,
        sigma: Option<f64>,
    }
    let mut parsed = Vec::with_capacity(body.len());
    for (line, cells) in body {
        if cells.len() != width {
            return Err(err(
                Some(*line),
                format!("{} columns where the file has {width}", cells.len()),
            ));
        }
        let number = |col: usize, name: &str| -> Result<f64, DataError> {
            let cell = cells[col];
            let v: f64 = cell.parse().map_err(|_| {
                err(
                    Some(*line),
                    format!("column {} ({name}): {cell:?} is not a number", col + 1),
                )
            })?;
            if !v.is_finite() {
                return Err(err(
                    Some(*line),
                    format!("column {} ({name}): {cell} is not finite", col + 1),
                ));
            }
            Ok(v)
        };
        let t = t_col.map(|c| number(c, "temperature_k")).transpose()?;
        let x = number(x_col, "x")?;
        let y = number(x_col + 1, "y")?;
        let sigma = match sigma_col {
            Some(c) if cells[c].is_empty() => None,
            Some(c) => {
                let s = number(c, "sigma")?;
                if s <= 0.0 {
                    return Err(err(Some(*line), format!("sigma = {s} must be > 0")));
                }
                Some(s)
            }
            None => None,
        };
        if x <= 0.0 {
            return Err(err(
                Some(*line),
                format!("x = {x} must be > 0 (times in s, angular frequencies in rad/s)"),
            ));
        }
        if let Some(t) = t {
            if t <= 0.0 {
                return Err(err(Some(*line), format!("temperature {t} K must be > 0")));
            }
        }
        parsed.push(Row {
            line: *line,
            t,
            x,
            y,
            sigma,
        });
    }
    let with_sigma = parsed.iter().filter(|r| r.sigma.is_some()).count();
    if with_sigma != 0 && with_sigma != parsed.len() {
        let row = parsed
            .iter()
            .find(|r| r.sigma.is_none())
            .expect("some row lacks sigma");
        return Err(err(
            Some(row.line),
            "sigma is empty here but given elsewhere: give it on every row or none".into(),
        ));
    }

    // Consecutive rows with one temperature form a series.
    let mut series: Vec<(usize, MeasuredSeries)> = Vec::new();
    let mut seen: Vec<f64> = Vec::new();
    for r in &parsed {
        let new_series = series.last().is_none_or(|(_, s)| s.temperature_k != r.t);
        if new_series {
            if let Some(t) = r.t {
                if seen.contains(&t) {
                    return Err(err(Some(r.line), format!("temperature {t} K appears again after other temperatures: keep each series together")));
                }
                seen.push(t);
            }
            series.push((
                r.line,
                MeasuredSeries {
                    temperature_k: r.t,
                    x: Vec::new(),
                    y: Vec::new(),
                    sigma: (with_sigma > 0).then(Vec::new),
                },
            ));
        }
        let s = &mut series.last_mut().expect("pushed above").1;
        if let Some(&prev) = s.x.last() {
            if r.x <= prev {
                let what = if r.x == prev { "duplicate" } else { "unsorted" };
                return Err(err(
                    Some(r.line),
                    format!(
                        "{what} x: {} after {prev}; x must be strictly increasing",
                        r.x
                    ),
                ));
            }
        }
        s.x.push(r.x);
        s.y.push(r.y);
        if let (Some(v), Some(sig)) = (s.sigma.as_mut(), r.sigma) {
            v.push(sig);
        }
    }
    for (line, s) in &series {
        if s.x.len() < MIN_POINTS {
            let which = s
                .temperature_k
                .map(|t| format!(" at {t} K"))
                .unwrap_or_default();
            return Err(err(
                Some(*line),
                format!(
                    "only {} points{which}; at least {MIN_POINTS} are needed",
                    s.x.len()
                ),
            ));
        }
    }
    for (line, s) in &series {
        let which = s
            .temperature_k
            .map(|t| format!(" at {t} K"))
            .unwrap_or_default();
        let (lo, hi) =
            s.y.iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &y| {
                    (a.min(y), b.max(y))
                });
        if lo == hi {
            return Err(err(
                Some(*line),
                format!("y is {lo} on every row{which}: nothing relaxes, so there is no spectrum to find"),
            ));
        }
        let largest = lo.abs().max(hi.abs());
        if !(MIN_Y_SCALE..=MAX_Y_SCALE).contains(&largest) {
            return Err(err(
                Some(*line),
                format!(
                    "the largest |y|{which} is {largest:e}: give data between {MIN_Y_SCALE:e} and \
                     {MAX_Y_SCALE:e} in magnitude (change their unit)"
                ),
            ));
        }
    }
    Ok(series.into_iter().map(|(_, s)| s).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_and_out_of_range_data_are_refused_with_their_reason() {
        let flat: String = (1..=12).map(|i| format!("{i},0\n")).collect();
        let e = parse_data(&flat, "f").unwrap_err();
        assert!(e.message.contains("nothing relaxes"), "{e}");
        let constant: String = (1..=12).map(|i| format!("{i},2.5\n")).collect();
        assert!(parse_data(&constant, "f").is_err());
        let huge: String = (1..=12).map(|i| format!("{i},{}e300\n", i)).collect();
        let e = parse_data(&huge, "f").unwrap_err();
        assert!(e.message.contains("change their unit"), "{e}");
        let tiny: String = (1..=12).map(|i| format!("{i},{}e-305\n", i)).collect();
        assert!(parse_data(&tiny, "f").is_err());
        for fine in ["e-290", "e-150", "e150", "e290"] {
            let text: String = (1..=12).map(|i| format!("{i},{i}{fine}\n")).collect();
            assert!(parse_data(&text, "f").is_ok(), "{fine}");
        }
    }

    fn rows(n: usize) -> String {
        (1..=n)
            .map(|i| format!("{i},{}\n", 1.0 / i as f64))
            .collect()
    }

    #[test]
    fn reads_with_and_without_header_and_comments() {
        let s = parse_data(&format!("# note\n{}", rows(10)), "f").unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].x.len(), 10);
        assert!(s[0].sigma.is_none());
        let s = parse_data(
            &format!("t_s,y,sigma\n{}", rows(10).replace('\n', ",\n")),
            "f",
        )
        .unwrap();
        assert!(s[0].sigma.is_none(), "all-empty sigma means no sigma");
    }

    #[test]
    fn splits_temperatures() {
        let mut text = String::from("temperature_k,omega_rad_s,loss_modulus_pa,sigma\n");
        for t in [500, 510] {
            for i in 1..=10 {
                text.push_str(&format!("{t},{i},{},0.1\n", i * 2));
            }
        }
        let s = parse_data(&text, "f").unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[1].temperature_k, Some(510.0));
        assert_eq!(s[1].sigma.as_ref().unwrap().len(), 10);
    }
}
