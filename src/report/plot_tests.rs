//! Tests of the figure renderer (`plot.rs`).

use super::*;

/// The SVG of a figure of one panel.
fn one_panel(p: Panel) -> String {
    render(&Figure {
        file: "a.svg".into(),
        caption: String::new(),
        panels: vec![p],
        columns: 1,
        heatmap: None,
    })
    .unwrap()
}

#[test]
fn renders_series_with_legends_and_skips_unplottable_points() {
    let mut p = Panel::new("t", "tau (s)", "y", true, false);
    p.series.push(Series::new(
        "truth",
        (1..=20)
            .map(|i| (f64::from(i), f64::from(i).sin()))
            .collect(),
        Style::Line,
        0,
    ));
    // -1 and NaN cannot be drawn on a log x axis.
    p.series.push(Series::new(
        "picked",
        vec![(-1.0, 0.0), (f64::NAN, 1.0), (3.0, 0.5)],
        Style::Markers,
        2,
    ));
    let svg = one_panel(p);
    assert!(svg.starts_with("<svg"));
    assert!(
        svg.contains(">\ntruth\n<") || svg.contains(">truth<"),
        "{svg}"
    );
    assert!(svg.contains("tau (s)"));
    assert!(svg.matches("<polyline").count() >= 1);
}

#[test]
fn series_past_the_palette_are_drawn_open_not_as_copies() {
    // Eleven point series (ten rules and the oracle): colours 10 and 11 reuse 1 and 2.
    let mut p = Panel::new("rules", "x", "y", false, false);
    for k in 1..=PALETTE.len() + 1 {
        p.series.push(Series::new(
            format!("rule {k}"),
            vec![(k as f64, 1.0)],
            Style::Points,
            k,
        ));
    }
    let styles: Vec<Style> = p.series.iter().map(drawn_style).collect();
    assert_eq!(styles[0], Style::Points);
    assert_eq!(styles[PALETTE.len() - 1], Style::Rings);
    assert_eq!(styles[PALETTE.len()], Style::Rings);
    assert_eq!(color(PALETTE.len()), color(1));
    // So no two series share both colour and symbol.
    let looks: Vec<(RGBColor, Style)> = p
        .series
        .iter()
        .map(|s| (color(s.color), drawn_style(s)))
        .collect();
    for (i, a) in looks.iter().enumerate() {
        for b in &looks[i + 1..] {
            assert!(a != b, "{a:?}");
        }
    }
    let markers = Series::new("m", vec![(1.0, 1.0)], Style::Markers, PALETTE.len());
    assert_eq!(drawn_style(&markers), Style::OpenMarkers);
    let line = Series::new("l", vec![(1.0, 1.0)], Style::Line, PALETTE.len());
    assert_eq!(drawn_style(&line), Style::Dotted);
    // The open symbols are unfilled circles in the SVG (plot and legend).
    let svg = one_panel(p);
    // Two ring series, each drawn once in the plot and once in the legend.
    let rings = svg
        .split("<circle")
        .filter(|c| {
            let c = &c[..c.find("/>").unwrap_or(c.len())];
            c.contains("opacity=\"1\"") && c.contains("fill=\"none\"")
        })
        .count();
    assert_eq!(rings, 4, "{svg}");
}

/// An open triangle is an outline, in the plot and in the legend, where a filled one is a filled
/// polygon (plotters' triangle marker is filled whatever its style).
#[test]
fn open_markers_are_outlines() {
    let mut p = Panel::new("peaks", "x", "y", false, false);
    p.series.push(Series::new(
        "firm",
        vec![(1.0, 1.0), (2.0, 2.0)],
        Style::Markers,
        1,
    ));
    p.series
        .push(Series::new("weak", vec![(3.0, 1.0)], Style::OpenMarkers, 1));
    let svg = one_panel(p);
    let visible = |tag: &str| {
        svg.split(tag)
            .skip(1)
            .map(|c| c[..c.find("/>").unwrap_or(c.len())].to_string())
            .filter(|c| !c.contains("opacity=\"0\""))
            .collect::<Vec<_>>()
    };
    // Two filled markers and the legend's one; the weak series is no polygon at all.
    assert_eq!(visible("<polygon").len(), 3, "{svg}");
    // Its outline in the plot and in the legend: closed paths of four vertices.
    let outlines = visible("<polyline")
        .into_iter()
        .filter(|c| {
            let pts: Vec<&str> = c
                .split("points=\"")
                .nth(1)
                .map_or("", |s| s.split('"').next().unwrap_or(""))
                .split_whitespace()
                .collect();
            pts.len() == 4 && pts[0] == pts[3] && c.contains("fill=\"none\"")
        })
        .count();
    assert_eq!(outlines, 2, "{svg}");
}

#[test]
fn empty_panels_say_so() {
    let p = Panel::new("nothing", "x", "y", false, false);
    let svg = one_panel(p);
    assert!(svg.contains("no data to show"));
}
