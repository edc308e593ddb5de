//! Helpers shared by the command-line tests: the binary, repository paths, JSON, and checks of the
//! SVG figures and index.html a command writes.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The stzlab binary built for the tests.
pub fn stzlab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_stzlab"))
}

/// A path in the repository.
pub fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// A JSON file.
pub fn read_json(p: &Path) -> Value {
    let text = std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_slice(&text).unwrap()
}

/// What an SVG figure holds: its texts (legends, labels, ticks) and its drawn lines as
/// (stroke colour, number of points).
pub struct Svg {
    pub texts: Vec<String>,
    pub lines: Vec<(String, usize)>,
    pub circles: usize,
}

impl Svg {
    /// Parses the file as XML (a malformed figure fails here).
    pub fn read(path: &Path) -> Self {
        let text =
            std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let doc = roxmltree::Document::parse(&text)
            .unwrap_or_else(|e| panic!("{}: not XML: {e}", path.display()));
        assert_eq!(
            doc.root_element().tag_name().name(),
            "svg",
            "{}",
            path.display()
        );
        let mut texts = Vec::new();
        let mut lines = Vec::new();
        let mut circles = 0;
        for n in doc.descendants() {
            match n.tag_name().name() {
                "text" => texts.push(n.text().unwrap_or("").trim().to_string()),
                "polyline" => lines.push((
                    n.attribute("stroke").unwrap_or("").to_string(),
                    n.attribute("points")
                        .unwrap_or("")
                        .split_whitespace()
                        .count(),
                )),
                "circle" => circles += 1,
                _ => {}
            }
        }
        Self {
            texts,
            lines,
            circles,
        }
    }

    /// Whether a text (legend entry, axis label) is present.
    pub fn has_text(&self, t: &str) -> bool {
        self.texts.iter().any(|x| x == t)
    }

    /// Drawn curves: lines of at least `min_points` points, by colour.
    pub fn curves(&self, min_points: usize) -> Vec<&str> {
        self.lines
            .iter()
            .filter(|(_, n)| *n >= min_points)
            .map(|(c, _)| c.as_str())
            .collect()
    }

    /// Asserts a legend entry `name` and a drawn curve of at least `min_points` points in `stroke`.
    pub fn assert_curve(&self, path: &Path, name: &str, stroke: &str, min_points: usize) {
        assert!(
            self.has_text(name),
            "{}: no legend '{name}' in {:?}",
            path.display(),
            self.texts
        );
        assert!(
            self.curves(min_points).contains(&stroke),
            "{}: no curve of >= {min_points} points in {stroke} for '{name}'",
            path.display()
        );
    }
}

/// Every SVG in `dir` parses, and index.html exists, links only to files that exist, and shows
/// every SVG. Returns the SVG file names.
pub fn check_report(dir: &Path) -> Vec<String> {
    let index = std::fs::read_to_string(dir.join("index.html"))
        .unwrap_or_else(|e| panic!("{}/index.html: {e}", dir.display()));
    let mut linked = Vec::new();
    for attr in ["src=\"", "href=\""] {
        for piece in index.split(attr).skip(1) {
            let target = piece.split('"').next().unwrap();
            assert!(
                !target.contains("://"),
                "index.html links out of the folder: {target}"
            );
            assert!(
                dir.join(target).is_file(),
                "index.html links to a missing {target}"
            );
            linked.push(target.to_string());
        }
    }
    let mut svgs: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".svg"))
        .collect();
    svgs.sort();
    for s in &svgs {
        Svg::read(&dir.join(s));
        assert!(linked.contains(s), "index.html does not show {s}");
    }
    svgs
}

/// The colours of the figures: black for the truth, then the palette order.
pub const BLACK: &str = "#000000";
pub const FIRST: &str = "#0072B2";
pub const SECOND: &str = "#D55E00";

/// Decay data with a known answer for the solver and rule tests: times, noisy values, their sigma
/// and a tau grid.
pub struct Case {
    pub x: Vec<f64>,
    pub y: Vec<f64>,
    pub sigma: Vec<f64>,
    pub grid: stzlab::spectrum::LnTauGrid,
}

/// Two processes (0.3 at 2 s, 0.5 at 300 s) plus `offset`, on `m` times log-spaced over 0.1..1e4 s,
/// with white noise `noise` drawn from `seed`; a grid of `n` points over 1e-2..1e5 s.
pub fn two_peak_decay(m: usize, n: usize, seed: u64, noise: f64, offset: f64) -> Case {
    use stzlab::noise::{rng_from_seed, NoiseModel};
    let x: Vec<f64> = (0..m)
        .map(|i| 10f64.powf(-1.0 + 5.0 * i as f64 / (m - 1) as f64))
        .collect();
    let grid = stzlab::spectrum::LnTauGrid::new(1e-2, 1e5, n).unwrap();
    let clean: Vec<f64> = x
        .iter()
        .map(|&t| 0.3 * (-t / 2.0).exp() + 0.5 * (-t / 300.0).exp() + offset)
        .collect();
    let sigma = vec![noise; m];
    let y = NoiseModel::new(noise, 0.0, 0.0, 0.0, 0.0)
        .unwrap()
        .apply(&x, &clean, &mut rng_from_seed(seed))
        .y;
    Case { x, y, sigma, grid }
}

/// Runs `stzlab simulate` on a scenario of the repository into `dir`, asserts success, and returns
/// the data file.
pub fn simulate(scenario: &str, dir: &Path) -> PathBuf {
    let out = stzlab()
        .args(["simulate", repo(scenario).to_str().unwrap(), "-o"])
        .arg(dir)
        .output()
        .unwrap();
    assert_success(&out);
    dir.join("data.csv")
}

/// Asserts that a command refused its input: exit 2, exactly the one line `expected` on stderr,
/// and nothing written at `output`.
pub fn assert_refused(out: &std::process::Output, expected: &str, output: &Path, what: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{what}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{what}: {stderr}");
    assert_eq!(stderr.trim_end(), expected, "{what}");
    assert!(!output.exists(), "{what}: wrote output on bad input");
}

/// Asserts that a command succeeded, showing its stderr otherwise.
pub fn assert_success(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
