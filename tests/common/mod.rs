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
    // The page says how and when the folder was made, when the folder records it.
    if dir.join("provenance.json").is_file() {
        let made = read_json(&dir.join("provenance.json"));
        let when = made["finished_utc"].as_str().unwrap();
        assert!(
            index.contains("<p class=\"provenance\"><code>stzlab") && index.contains(when),
            "{}/index.html lacks the provenance header",
            dir.display()
        );
    }
    // Every number of summary.json has a unit for the page to print beside it.
    if dir.join("summary.json").is_file() {
        let mut missing = Vec::new();
        units_of(&read_json(&dir.join("summary.json")), "", &mut missing);
        missing.sort();
        missing.dedup();
        assert!(
            missing.is_empty(),
            "{}/summary.json: no unit for {missing:?}",
            dir.display()
        );
    }
    let mut svgs: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".svg"))
        .collect();
    svgs.sort();
    for s in &svgs {
        Svg::read(&dir.join(s));
        check_style(&dir.join(s));
        assert!(linked.contains(s), "index.html does not show {s}");
    }
    svgs
}

/// Collects the keys of the numbers under `v` that `stzlab::report::unit_of` knows no unit for; a
/// statistic (median, p05, ...) takes the unit of the quantity it summarizes (`key`).
fn units_of(v: &Value, key: &str, missing: &mut Vec<String>) {
    const STATS: [&str; 7] = ["mean", "median", "p05", "p50", "p95", "sd", "stats"];
    match v {
        Value::Number(_) if stzlab::report::unit_of(key).is_none() => missing.push(key.into()),
        Value::Array(a) => a.iter().for_each(|x| units_of(x, key, missing)),
        Value::Object(o) => {
            for (k, x) in o {
                let k = if STATS.contains(&k.as_str()) {
                    key
                } else {
                    k.as_str()
                };
                units_of(x, k, missing);
            }
        }
        _ => {}
    }
}

/// A figure fit for a slide: at least 1000 x 600 px, every text at least 14 px, a title (a text of
/// 20 px or more) on every panel that draws axes, and no tick label that is a rounding residue of
/// zero (below 1e-12 of its axis's span, other than 0).
pub fn check_style(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let root = doc.root_element();
    let dim = |a: &str| {
        root.attribute(a)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let name = path.display();
    assert!(
        dim("width") >= 1000.0 && dim("height") >= 600.0,
        "{name}: {} x {}",
        dim("width"),
        dim("height")
    );
    let (mut titles, mut axes) = (0, 0);
    let mut ticks = Vec::new();
    for n in doc.descendants().filter(|n| n.tag_name().name() == "text") {
        let size: f64 = n
            .attribute("font-size")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        let label = n.text().unwrap_or("").trim();
        assert!(size >= 14.0, "{name}: text {label:?} at {size} px");
        if size >= 20.0 && !label.is_empty() {
            titles += 1;
        }
        if (17.0..20.0).contains(&size) {
            axes += 1;
        }
        if let Ok(v) = label.parse::<f64>() {
            let at = |a: &str| n.attribute(a).unwrap_or("").to_string();
            ticks.push((at("x"), at("y"), v, label.to_string()));
        }
    }
    // Tick labels of one axis share a coordinate (x for a y axis, y for an x axis); on each, no
    // label may be a rounding residue of zero: 0 < |v| < 1e-12 of the axis span.
    for axis in [0, 1] {
        let mut groups: std::collections::BTreeMap<&str, Vec<(f64, &str)>> = Default::default();
        for (x, y, v, label) in &ticks {
            let key = if axis == 0 { x } else { y };
            groups
                .entry(key.as_str())
                .or_default()
                .push((*v, label.as_str()));
        }
        for labels in groups.values().filter(|g| g.len() >= 3) {
            // Only linear axes (evenly spaced labels) have a zero to miss.
            let mut v: Vec<f64> = labels.iter().map(|l| l.0).collect();
            v.sort_by(f64::total_cmp);
            let steps: Vec<f64> = v.windows(2).map(|w| w[1] - w[0]).collect();
            let even = steps
                .iter()
                .all(|d| (d - steps[0]).abs() <= 0.02 * steps[0].abs());
            if !even {
                continue;
            }
            let (lo, hi) = (v[0], v[v.len() - 1]);
            for (v, label) in labels {
                assert!(
                    *v == 0.0 || v.abs() >= 1e-12 * (hi - lo),
                    "{name}: tick {label:?} is a residue of zero on an axis spanning {lo}..{hi}"
                );
            }
        }
    }
    // Each panel with axes has two axis descriptions and one title.
    assert!(
        titles * 2 >= axes,
        "{name}: {titles} titles for {} panels with axes",
        axes / 2
    );
    check_axes_labelled(&name.to_string(), &doc);
    check_legends_clear(&name.to_string(), &doc);
}

/// A text of a figure where it is drawn.
pub struct Placed {
    pub x: f64,
    pub y: f64,
    pub anchor: String,
    pub rotated: bool,
    pub size: f64,
    pub text: String,
}

fn attr(n: &roxmltree::Node, a: &str) -> f64 {
    n.attribute(a)
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

/// Every text of a figure with its position, anchor, rotation and size.
pub fn placed_texts(doc: &roxmltree::Document) -> Vec<Placed> {
    doc.descendants()
        .filter(|n| n.tag_name().name() == "text")
        .map(|n| Placed {
            x: attr(&n, "x"),
            y: attr(&n, "y"),
            anchor: n.attribute("text-anchor").unwrap_or("start").to_string(),
            rotated: n
                .attribute("transform")
                .is_some_and(|t| t.contains("rotate")),
            size: attr(&n, "font-size"),
            text: n.text().unwrap_or("").trim().to_string(),
        })
        .collect()
}

/// Every axis (an axis description: a text of 17-20 px, rotated for a y axis) has at least three
/// numeric tick labels: right-aligned just to the right of a y description, centred just above an
/// x description. The labels nearest the description are its axis's.
fn check_axes_labelled(name: &str, doc: &roxmltree::Document) {
    let texts = placed_texts(doc);
    let numeric = |l: &&Placed| l.text.parse::<f64>().is_ok();
    for d in texts
        .iter()
        .filter(|t| (17.0..20.0).contains(&t.size) && !t.text.is_empty())
    {
        let ticks: Vec<&Placed> = if d.rotated {
            let near: Vec<&Placed> = texts
                .iter()
                .filter(numeric)
                .filter(|l| l.anchor == "end" && l.x > d.x && l.x < d.x + 250.0)
                .filter(|l| (l.y - d.y).abs() < 330.0)
                .collect();
            let x = near.iter().map(|l| l.x).fold(f64::INFINITY, f64::min);
            near.into_iter().filter(|l| (l.x - x).abs() < 1.0).collect()
        } else {
            let near: Vec<&Placed> = texts
                .iter()
                .filter(numeric)
                .filter(|l| l.anchor == "middle" && l.y < d.y && l.y > d.y - 100.0)
                .filter(|l| (l.x - d.x).abs() < 520.0)
                .collect();
            let y = near.iter().map(|l| l.y).fold(f64::NEG_INFINITY, f64::max);
            near.into_iter().filter(|l| (l.y - y).abs() < 1.0).collect()
        };
        assert!(
            ticks.len() >= 3,
            "{name}: axis '{}' has {} tick labels {:?}",
            d.text,
            ticks.len(),
            ticks.iter().map(|t| t.text.as_str()).collect::<Vec<_>>()
        );
    }
}

/// Whether the segment a-b passes through the open box (x0, y0)-(x1, y1) (Liang-Barsky clipping).
fn crosses(a: (f64, f64), b: (f64, f64), lo: (f64, f64), hi: (f64, f64)) -> bool {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let (mut t0, mut t1) = (0.0_f64, 1.0_f64);
    for (p, q) in [
        (-dx, a.0 - lo.0),
        (dx, hi.0 - a.0),
        (-dy, a.1 - lo.1),
        (dy, hi.1 - a.1),
    ] {
        if p == 0.0 {
            if q <= 0.0 {
                return false;
            }
        } else {
            let t = q / p;
            if p < 0.0 {
                t0 = t0.max(t);
            } else {
                t1 = t1.min(t);
            }
        }
    }
    t0 < t1
}

/// No series drawn before a legend box (the white box of opacity 0.85 the plots put behind a
/// legend) passes under it: no segment of a line or filled area crosses the box (1 px inside its
/// edge), no marker sits in it. Grid lines (opacity below 0.5) may run under it.
fn check_legends_clear(name: &str, doc: &roxmltree::Document) {
    let nodes: Vec<roxmltree::Node> = doc.descendants().filter(|n| n.is_element()).collect();
    for (i, r) in nodes.iter().enumerate() {
        let is_legend = r.tag_name().name() == "rect"
            && r.attribute("opacity") == Some("0.85")
            && r.attribute("fill") == Some("#FFFFFF");
        if !is_legend {
            continue;
        }
        let lo = (attr(r, "x") + 1.0, attr(r, "y") + 1.0);
        let hi = (
            attr(r, "x") + attr(r, "width") - 1.0,
            attr(r, "y") + attr(r, "height") - 1.0,
        );
        for n in &nodes[..i] {
            let faint = attr(n, "opacity") < 0.5;
            let points = |n: &roxmltree::Node| -> Vec<(f64, f64)> {
                n.attribute("points")
                    .unwrap_or("")
                    .split_whitespace()
                    .filter_map(|p| {
                        let (x, y) = p.split_once(',')?;
                        Some((x.parse().ok()?, y.parse().ok()?))
                    })
                    .collect()
            };
            let hit = match n.tag_name().name() {
                "polyline" if !faint => points(n).windows(2).any(|w| crosses(w[0], w[1], lo, hi)),
                "polygon" => {
                    let mut p = points(n);
                    p.extend(p.first().copied());
                    p.windows(2).any(|w| crosses(w[0], w[1], lo, hi))
                }
                "circle" => {
                    let (x, y) = (attr(n, "cx"), attr(n, "cy"));
                    x > lo.0 && x < hi.0 && y > lo.1 && y < hi.1
                }
                _ => false,
            };
            assert!(
                !hit,
                "{name}: the legend box at ({}, {}) covers a {} drawn before it",
                lo.0 - 1.0,
                lo.1 - 1.0,
                n.tag_name().name()
            );
        }
    }
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
    simulate_file(&repo(scenario), dir)
}

/// [`simulate`] for a scenario file anywhere (one a test wrote).
pub fn simulate_file(scenario: &Path, dir: &Path) -> PathBuf {
    let out = stzlab()
        .args(["simulate", scenario.to_str().unwrap(), "-o"])
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

/// The peak whose centroid is nearest `tau_s` in ln tau (`peaks` not empty).
pub fn nearest_peak(
    peaks: &[stzlab::spectrum::SpectrumPeak],
    tau_s: f64,
) -> &stzlab::spectrum::SpectrumPeak {
    peaks
        .iter()
        .min_by(|a, b| {
            (a.tau_s() / tau_s)
                .ln()
                .abs()
                .total_cmp(&(b.tau_s() / tau_s).ln().abs())
        })
        .expect("at least one peak")
}

/// The case with its data and sigma multiplied by `k`.
pub fn scaled(c: &Case, k: f64) -> Case {
    Case {
        x: c.x.clone(),
        y: c.y.iter().map(|v| v * k).collect(),
        sigma: c.sigma.iter().map(|v| v * k).collect(),
        grid: c.grid,
    }
}

/// Asserts that `b` (the analysis of the data x `k`) chose the same path points as `a`, rule by
/// rule, with every amplitude `k` times `a`'s to `rel` of the larger of it and `floor`.
pub fn assert_scaled_choices(
    a: &stzlab::inversion::Analysis,
    b: &stzlab::inversion::Analysis,
    k: f64,
    rel: f64,
    floor: f64,
) {
    assert_eq!(a.results.len(), b.results.len());
    for (ra, rb) in a.results.iter().zip(&b.results) {
        let name = ra.choice.rule.name();
        assert_eq!(ra.choice.index, rb.choice.index, "{name}");
        let amplitudes = |r: &stzlab::inversion::RuleResult| r.choice.solution.amplitudes.clone();
        for (f, g) in amplitudes(ra).iter().zip(amplitudes(rb)) {
            assert!(
                (g / k - f).abs() <= rel * f.abs().max(floor),
                "{name}: {f} x {k} against {g}"
            );
        }
    }
}

/// What a Newton step in one coordinate alone could still gain on an objective: from central
/// differences with step `h` of `at(d)` (the objective with the coordinate moved by d) about `phi`
/// = `at(0)`. Returns (derivative, gain); the gain is |derivative| where the curvature is not
/// positive.
pub fn newton_gain(at: &dyn Fn(f64) -> f64, phi: f64, h: f64) -> (f64, f64) {
    let (up, down) = (at(h), at(-h));
    let derivative = (up - down) / (2.0 * h);
    let curvature = (up - 2.0 * phi + down) / (h * h);
    let gain = if curvature > 0.0 {
        derivative * derivative / (2.0 * curvature)
    } else {
        derivative.abs()
    };
    (derivative, gain)
}

/// The names of `invert`'s other rules in a summary.json.
pub fn other_rules(summary: &Value) -> Vec<String> {
    summary["other_rules"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r["rule"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}
