//! The figures and index.html every command leaves: each SVG parses as XML and holds its series,
//! index.html shows every figure and links only to files that exist, `--no-figures` writes none.

mod common;

use std::path::Path;

use common::{check_report, repo, stzlab, Svg, BLACK, FIRST};

fn ok(args: &[&str], out: &Path) {
    let o = stzlab().args(args).arg("-o").arg(out).output().unwrap();
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn invert_draws_fit_spectrum_lcurve_and_scores() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = tmp.path().join("sim");
    let inv = tmp.path().join("inv");
    ok(
        &[
            "simulate",
            repo("scenarios/al-ni-y-mandrel.toml").to_str().unwrap(),
        ],
        &sim,
    );
    let data = sim.join("data.csv");
    ok(&["invert", data.to_str().unwrap(), "--kind", "decay"], &inv);
    let svgs = check_report(&inv);
    assert_eq!(
        svgs,
        ["fit.svg", "lcurve.svg", "scores.svg", "spectrum.svg"]
    );

    let p = inv.join("fit.svg");
    let fit = Svg::read(&p);
    fit.assert_curve(&p, "fit", BLACK, 50);
    assert!(
        fit.has_text("data") && fit.circles >= 2 * 100,
        "data and residual points"
    );
    assert!(fit.has_text("time after release (s)"));

    let p = inv.join("spectrum.svg");
    let spectrum = Svg::read(&p);
    spectrum.assert_curve(&p, "spectrum", FIRST, 20);
    assert!(spectrum.has_text("peaks (at their highest density)") && spectrum.has_text("tau (s)"));

    markers_sit_at_their_peaks_density(&inv);

    // Every rule's choice is marked on the L-curve and on each score panel.
    let p = inv.join("lcurve.svg");
    let lc = Svg::read(&p);
    lc.assert_curve(&p, "lambda path", BLACK, 30);
    let p = inv.join("scores.svg");
    let scores = Svg::read(&p);
    for rule in ["discrepancy", "gcv", "lcurve", "ftest", "r2-onset"] {
        assert!(lc.has_text(rule), "L-curve legend lacks {rule}");
        assert_eq!(
            scores.texts.iter().filter(|t| *t == rule).count(),
            4,
            "{rule} on 4 panels"
        );
    }
    for label in ["GCV score", "CONTIN PROB1", "1 - R^2", "chi^2"] {
        assert!(scores.has_text(label), "{label}");
    }
    assert!(scores.curves(30).iter().filter(|c| **c == BLACK).count() >= 4);

    // The page shows the chosen solution's numbers.
    let index = std::fs::read_to_string(inv.join("index.html")).unwrap();
    assert!(index.contains("Chosen solution") && index.contains("<td>discrepancy</td>"));
}

/// A peak in the window below 2 standard errors is drawn as an open triangle at its density, with
/// its own legend entry: on the shipped mandrel scenario with seed 4 at 20 points per decade, whose
/// first peak, at the window's start, has an area of 0.42 errors (checked here, so that the case
/// cannot quietly stop testing what it is for).
#[test]
fn a_weak_peak_is_drawn_open() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = tmp.path().join("mandrel.toml");
    let text = std::fs::read_to_string(repo("scenarios/al-ni-y-mandrel.toml")).unwrap();
    std::fs::write(&scenario, text.replace("seed = 20110301", "seed = 4")).unwrap();
    let data = common::simulate_file(&scenario, &tmp.path().join("sim"));
    let inv = tmp.path().join("inv");
    ok(
        &[
            "invert",
            data.to_str().unwrap(),
            "--kind",
            "decay",
            "--points",
            "181",
        ],
        &inv,
    );
    let z = column(&inv.join("peaks.csv"), "significance");
    assert!(z.iter().filter(|z| **z < 2.0).count() >= 1, "{z:?}");
    let spectrum = Svg::read(&inv.join("spectrum.svg"));
    assert!(spectrum.has_text("peaks below 2 standard errors (noise could make them)"));
    markers_sit_at_their_peaks_density(&inv);
}

/// A CSV column by name.
fn column(path: &Path, name: &str) -> Vec<f64> {
    let text = std::fs::read_to_string(path).unwrap();
    let head: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let k = head.iter().position(|h| *h == name).unwrap();
    text.lines()
        .skip(1)
        .map(|l| l.split(',').nth(k).unwrap().parse().unwrap())
        .collect()
}

/// spectrum.svg's peak markers (triangles outside the legend: filled, or open outlines for peaks
/// below 2 standard errors) sit at their peak's highest
/// density: the marker's pixel position, read back through the axes' tick labels (log tau, linear
/// density), against spectrum.csv's largest density within half a decade of the peak.
fn markers_sit_at_their_peaks_density(dir: &Path) {
    let text = std::fs::read_to_string(dir.join("spectrum.svg")).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let num = |n: &roxmltree::Node, a: &str| -> f64 { n.attribute(a).unwrap().parse().unwrap() };
    // Tick labels: right-aligned on the y axis, centred under the x axis.
    let placed = common::placed_texts(&doc);
    let ticks = |anchor: &str| -> Vec<(f64, f64)> {
        placed
            .iter()
            .filter(|t| t.anchor == anchor)
            .filter_map(|t| {
                let v: f64 = t.text.parse().ok()?;
                Some((if anchor == "end" { t.y } else { t.x }, v))
            })
            .collect()
    };
    let (ys, xs) = (ticks("end"), ticks("middle"));
    assert!(ys.len() >= 3 && xs.len() >= 3);
    let line =
        |a: (f64, f64), b: (f64, f64)| move |v: f64| a.0 + (v - a.1) * (b.0 - a.0) / (b.1 - a.1);
    let y_pixel = line(ys[0], ys[ys.len() - 1]);
    let lx = |p: (f64, f64)| (p.0, p.1.log10());
    let x_pixel = line(lx(xs[0]), lx(xs[xs.len() - 1]));
    let legend = doc
        .descendants()
        .find(|n| n.tag_name().name() == "rect" && n.attribute("opacity") == Some("0.85"))
        .map(|r| {
            (
                num(&r, "x"),
                num(&r, "y"),
                num(&r, "x") + num(&r, "width"),
                num(&r, "y") + num(&r, "height"),
            )
        })
        .unwrap();
    let vertices = |n: &roxmltree::Node| -> Vec<(f64, f64)> {
        n.attribute("points")
            .unwrap()
            .split_whitespace()
            .map(|q| {
                let (x, y) = q.split_once(',').unwrap();
                (x.parse().unwrap(), y.parse().unwrap())
            })
            .collect()
    };
    let markers: Vec<(f64, f64)> = doc
        .descendants()
        .filter(|n| n.attribute("opacity") == Some("1"))
        .filter_map(|n| match n.tag_name().name() {
            "polygon" => Some(vertices(&n)),
            // An open triangle: a closed outline of three corners.
            "polyline" => Some(vertices(&n)).filter(|p| p.len() == 4 && p[0] == p[3]),
            _ => None,
        })
        .map(|p| {
            assert!(p.len() >= 3, "a peak marker is a triangle");
            let p = &p[..3];
            (
                p.iter().map(|q| q.0).sum::<f64>() / 3.0,
                p.iter().map(|q| q.1).sum::<f64>() / 3.0,
            )
        })
        .filter(|&(x, y)| !(x > legend.0 && x < legend.2 && y > legend.1 && y < legend.3))
        .collect();
    let peaks = column(&dir.join("peaks.csv"), "tau_s");
    assert!(!peaks.is_empty());
    assert_eq!(markers.len(), peaks.len(), "one marker per peak");
    let (taus, density) = (
        column(&dir.join("spectrum.csv"), "tau_s"),
        column(&dir.join("spectrum.csv"), "density"),
    );
    for tau in peaks {
        let highest = taus
            .iter()
            .zip(&density)
            .filter(|(t, _)| (t.log10() - tau.log10()).abs() <= 0.5)
            .map(|(_, d)| *d)
            .fold(0.0, f64::max);
        let (x, y) = (x_pixel(tau.log10()), y_pixel(highest));
        assert!(
            markers
                .iter()
                .any(|m| (m.0 - x).abs() <= 3.0 && (m.1 - y).abs() <= 3.0),
            "no marker at tau {tau} s, density {highest} (pixel {x:.0}, {y:.0}): {markers:?}"
        );
    }
}

#[test]
fn dma_inversions_draw_one_curve_per_temperature() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = tmp.path().join("sim");
    let inv = tmp.path().join("inv");
    ok(
        &["simulate", repo("scenarios/zr-dma.toml").to_str().unwrap()],
        &sim,
    );
    let data = sim.join("data.csv");
    ok(
        &[
            "invert",
            data.to_str().unwrap(),
            "--kind",
            "loss",
            "--rule",
            "gcv",
        ],
        &inv,
    );
    check_report(&inv);
    let spectrum = Svg::read(&inv.join("spectrum.svg"));
    for t in [560, 575, 590, 605, 620, 635, 650, 665] {
        assert!(spectrum.has_text(&format!("{t} K")), "{t} K");
    }
    assert!(spectrum.curves(20).len() >= 8);
    assert!(Svg::read(&inv.join("fit.svg")).has_text("E'' (Pa)"));
}

/// Creep data fit with c_inf + B t: the baseline's slope has its unit on the page too, and each
/// coefficient its standard error.
#[test]
fn a_creep_report_gives_the_baseline_slope_its_unit() {
    let tmp = tempfile::tempdir().unwrap();
    let (sim, inv) = (tmp.path().join("sim"), tmp.path().join("inv"));
    ok(
        &[
            "simulate",
            repo("scenarios/al-ni-y-cantilever.toml").to_str().unwrap(),
        ],
        &sim,
    );
    let data = sim.join("data.csv");
    ok(&["invert", data.to_str().unwrap(), "--kind", "creep"], &inv);
    check_report(&inv);
    let index = std::fs::read_to_string(inv.join("index.html")).unwrap();
    assert!(
        index.contains("slope_per_x"),
        "the baseline table shows the slope"
    );
    assert!(index.contains("y unit / x unit"), "the slope's unit");
    // Each coefficient beside its linearized standard error, the same number as summary.json's.
    let summary = common::read_json(&inv.join("summary.json"));
    for key in ["c_inf", "slope_per_x"] {
        let se = summary["baseline_stderr"][key].as_f64().unwrap();
        assert!(se.is_finite() && se > 0.0, "{key}: {se}");
    }
    assert!(
        index.contains("<th>standard error</th>"),
        "the error column"
    );
}

#[test]
fn a_sweep_draws_truth_against_every_rule_metrics_and_omega() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("q");
    ok(
        &[
            "run",
            repo("scenarios/quickstart.toml").to_str().unwrap(),
            "--quiet",
            "--set",
            "sweep.repeats=2",
        ],
        &out,
    );
    let svgs = check_report(&out);
    let cells = svgs
        .iter()
        .filter(|s| s.starts_with("spectra_cell"))
        .count();
    assert_eq!(cells, 6);
    let p = out.join("spectra_cell0000.svg");
    let s = Svg::read(&p);
    s.assert_curve(&p, "discrepancy", FIRST, 20);
    // The quantized truth is drawn as stems, one black dot on each peak inside the grid's range
    // (and one in the legend), not as a curve on the coarse grid.
    assert!(s.has_text("truth (area / grid step)"));
    let grid = column(&out.join("spectrum_cell0000.csv"), "tau_s");
    let inside = column(&out.join("truth_cell0000.csv"), "tau_s")
        .into_iter()
        .filter(|t| *t >= grid[0] && *t <= grid[grid.len() - 1])
        .count();
    let svg_text = std::fs::read_to_string(&p).unwrap();
    let circles = roxmltree::Document::parse(&svg_text)
        .unwrap()
        .descendants()
        .filter(|n| {
            n.tag_name().name() == "circle"
                && n.attribute("fill") == Some(BLACK)
                && n.attribute("opacity") == Some("1")
        })
        .count();
    assert!(inside >= 5, "{inside} truth peaks inside the grid");
    assert_eq!(
        circles,
        inside + 1,
        "one stem dot per truth peak, one in the legend"
    );
    for rule in ["gcv", "lcurve", "ftest", "r2-onset", "oracle"] {
        assert!(s.has_text(rule), "{rule}");
    }
    // Two axes (protocol, noise.sigma): the key metrics against noise.sigma, one panel per
    // protocol, each rule a median line over that protocol's three cells; no line joins a mandrel
    // cell to a cantilever one.
    let p = out.join("metrics.svg");
    let m = Svg::read(&p);
    for metric in [
        "rel_l2",
        "regret_l2",
        "spectrum_l1",
        "lambda",
        "peaks",
        "area_error",
    ] {
        for protocol in ["mandrel", "cantilever"] {
            let title = format!("{metric}: protocol = {protocol}");
            assert!(m.has_text(&title), "{title}");
        }
    }
    assert!(m.has_text("noise.sigma"));
    assert!(
        m.curves(3).len() >= 6 * 2 * 5,
        "{} curves",
        m.curves(3).len()
    );
    assert!(
        m.curves(4).is_empty(),
        "a line joins cells of different protocols"
    );
    // Omega_m against m with the truth line and the fitted slope.
    let p = out.join("omega.svg");
    let o = Svg::read(&p);
    o.assert_curve(&p, "truth", BLACK, 3);
    assert!(o.texts.iter().any(|t| t.starts_with("fit: slope")));
    // Which rule, under which conditions: median regret by cell (rows) and rule (columns), each
    // row's lowest outlined, the path's best L1 beside it.
    let p = out.join("regret.svg");
    let r = Svg::read(&p);
    for rule in ["discrepancy", "gcv", "lcurve", "ftest", "r2-onset"] {
        assert!(r.has_text(rule), "regret.svg lacks {rule}");
    }
    assert!(r.has_text("path's best L1") && r.has_text("the row's lowest"));
    let outlined = std::fs::read_to_string(&p)
        .unwrap()
        .matches("fill=\"none\" stroke=\"#D55E00\"")
        .count();
    assert_eq!(outlined, 6 + 1, "one outline per cell and one in the key");
    let index = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(index.contains("Recovery by cell and rule"));
}

#[test]
fn no_figures_writes_none_and_report_draws_them_later() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("q");
    ok(
        &[
            "run",
            repo("scenarios/quickstart.toml").to_str().unwrap(),
            "--quiet",
            "--no-figures",
            "--set",
            "sweep.repeats=1",
        ],
        &out,
    );
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names
            .iter()
            .any(|n| n.ends_with(".svg") || n == "index.html"),
        "{names:?}"
    );
    // A figure left by an earlier, bigger run is removed; a user's own SVG is kept.
    std::fs::write(out.join("spectra_cell0099.svg"), "<svg/>").unwrap();
    std::fs::write(
        out.join("my-notes.svg"),
        "<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
    )
    .unwrap();
    let o = stzlab().arg("report").arg(&out).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!out.join("spectra_cell0099.svg").exists());
    assert!(out.join("my-notes.svg").exists());
    std::fs::remove_file(out.join("my-notes.svg")).unwrap();
    assert!(check_report(&out).len() >= 8);
    // A summary.json that does not read as a sweep's summary draws no figures, and says so.
    let path = out.join("summary.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let damaged = text.replacen("\"repeats\": 1", "\"repeats\": \"one\"", 1);
    assert_ne!(damaged, text);
    std::fs::write(&path, damaged).unwrap();
    let o = stzlab().arg("report").arg(&out).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("warning: no figures: ") && err.contains("summary.json"),
        "{err}"
    );
    assert!(!out.join("metrics.svg").exists());
    // A folder without summary.json is refused.
    let o = stzlab().arg("report").arg(tmp.path()).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no summary.json"));
}

#[test]
fn a_million_point_fit_is_drawn_decimated_under_2_mb() {
    // Two decays sampled at 10^6 times: fit.svg draws each pixel column's extremes, not every
    // point (fit.csv keeps them all).
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("big.csv");
    let m = 1_000_000;
    let mut text = String::with_capacity(40 * m);
    text.push_str("t_s,y,sigma\n");
    for i in 0..m {
        let t = 0.1 * 10f64.powf(5.0 * i as f64 / (m - 1) as f64);
        // A deterministic ripple of about the stated sigma stands in for noise.
        let y = 0.3 * (-t / 2.0).exp() + 0.5 * (-t / 300.0).exp() + 1e-3 * (i as f64 * 0.7).sin();
        text.push_str(&format!("{t},{y},0.001\n"));
    }
    std::fs::write(&data, text).unwrap();
    let out = tmp.path().join("inv");
    let run = stzlab()
        .args(["invert", data.to_str().unwrap(), "--kind", "decay", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    common::assert_success(&run);
    let size = std::fs::metadata(out.join("fit.svg")).unwrap().len();
    assert!(size < 2_000_000, "fit.svg is {size} bytes");
    let fit = std::fs::read_to_string(out.join("fit.csv")).unwrap();
    assert_eq!(fit.lines().count(), m + 1, "fit.csv keeps every point");
    let p = out.join("fit.svg");
    Svg::read(&p).assert_curve(&p, "fit", BLACK, 500);
}

/// A figure with ticks at `labels` on one linear y axis, for the style check's own tests.
fn axis_svg(labels: &[&str], size: f64) -> tempfile::NamedTempFile {
    let mut s = String::from(
        "<svg width=\"1000\" height=\"600\" xmlns=\"http://www.w3.org/2000/svg\">\n<text x=\"500\" y=\"10\" font-size=\"22.6\">title</text>\n",
    );
    for (i, l) in labels.iter().enumerate() {
        s.push_str(&format!(
            "<text x=\"90\" y=\"{}\" font-size=\"{size}\">{l}</text>\n",
            100 + 50 * i
        ));
    }
    s.push_str("</svg>\n");
    let f = tempfile::Builder::new().suffix(".svg").tempfile().unwrap();
    std::fs::write(f.path(), s).unwrap();
    f
}

#[test]
fn the_style_check_accepts_a_clean_axis() {
    common::check_style(axis_svg(&["-2e-4", "-1e-4", "0", "1e-4"], 14.5).path());
}

#[test]
#[should_panic(expected = "is a residue of zero")]
fn the_style_check_catches_a_residue_of_zero() {
    common::check_style(axis_svg(&["-2e-4", "-1e-4", "-2.71e-20", "1e-4"], 14.5).path());
}

#[test]
#[should_panic(expected = "px")]
fn the_style_check_catches_small_text() {
    common::check_style(axis_svg(&["1", "2", "3"], 12.9).path());
}

/// A panel with a y axis description, `labels` as its tick labels, a line through (100, 300) and
/// (900, 300), and a legend box at `legend_y`.
fn panel_svg(labels: &[&str], legend_y: f64) -> tempfile::NamedTempFile {
    let mut s = String::from(
        "<svg width=\"1000\" height=\"600\" xmlns=\"http://www.w3.org/2000/svg\">\n\
         <text x=\"500\" y=\"10\" font-size=\"22.6\">title</text>\n\
         <text x=\"12\" y=\"286\" font-size=\"17.7\" text-anchor=\"middle\" transform=\"rotate(270, 12, 286)\">y (s)</text>\n\
         <polyline fill=\"none\" opacity=\"1\" stroke=\"#0072B2\" points=\"100,300 900,300 \"/>\n",
    );
    for (i, l) in labels.iter().enumerate() {
        s.push_str(&format!(
            "<text x=\"102\" y=\"{}\" font-size=\"14.5\" text-anchor=\"end\">{l}</text>\n",
            500 - 100 * i
        ));
    }
    s.push_str(&format!(
        "<rect x=\"700\" y=\"{legend_y}\" width=\"250\" height=\"100\" opacity=\"0.85\" fill=\"#FFFFFF\"/>\n</svg>\n"
    ));
    let f = tempfile::Builder::new().suffix(".svg").tempfile().unwrap();
    std::fs::write(f.path(), s).unwrap();
    f
}

#[test]
fn the_style_check_accepts_three_ticks_and_a_clear_legend() {
    common::check_style(panel_svg(&["1", "2", "3"], 50.0).path());
}

#[test]
#[should_panic(expected = "has 2 tick labels")]
fn the_style_check_catches_an_axis_with_two_ticks() {
    common::check_style(panel_svg(&["1", "2"], 50.0).path());
}

#[test]
#[should_panic(expected = "covers a polyline")]
fn the_style_check_catches_a_legend_over_a_series() {
    common::check_style(panel_svg(&["1", "2", "3"], 250.0).path());
}
