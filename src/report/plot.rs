//! A small figure description (panels of named series) and its SVG rendering with plotters' SVG
//! backend: text is written as SVG `<text>`, so no font library is needed.

use plotters::coord::Shift;
use plotters::prelude::*;

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// A solid line through the points.
    Line,
    /// A dashed line.
    Dashed,
    /// Small filled circles.
    Points,
    /// Large open triangles (chosen points, peaks).
    Markers,
}

/// One named series.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// (x, y) points; non-finite ones (and non-positive ones on a log axis) are left out.
    pub points: Vec<(f64, f64)>,
    /// How it is drawn.
    pub style: Style,
    /// Colour index in the palette (0 is black).
    pub color: usize,
    /// Optional band (x, low, high) drawn shaded behind the series.
    pub band: Vec<(f64, f64, f64)>,
}

impl Series {
    /// A series without a band.
    pub fn new(
        name: impl Into<String>,
        points: Vec<(f64, f64)>,
        style: Style,
        color: usize,
    ) -> Self {
        Self {
            name: name.into(),
            points,
            style,
            color,
            band: Vec::new(),
        }
    }
}

/// One panel: axes and series.
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    /// Title above the panel (may be empty).
    pub title: String,
    /// x-axis label with unit.
    pub x_label: String,
    /// y-axis label with unit.
    pub y_label: String,
    /// Logarithmic x axis.
    pub x_log: bool,
    /// Logarithmic y axis.
    pub y_log: bool,
    /// Series, drawn in order.
    pub series: Vec<Series>,
}

impl Panel {
    /// An empty panel.
    pub fn new(
        title: impl Into<String>,
        x_label: &str,
        y_label: &str,
        x_log: bool,
        y_log: bool,
    ) -> Self {
        Self {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            x_log,
            y_log,
            series: Vec::new(),
        }
    }
}

/// A figure: panels stacked in a grid, with a file name and a caption for the report.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// File name (`*.svg`).
    pub file: String,
    /// Caption in the report.
    pub caption: String,
    /// Panels, filled row by row.
    pub panels: Vec<Panel>,
    /// Panels per row.
    pub columns: usize,
}

/// Series colours: black first (truth), then a colour-blind-safe set.
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(0, 0, 0),
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(120, 120, 120),
    RGBColor(150, 60, 40),
    RGBColor(60, 60, 160),
];

/// The colour of index `i` (wrapping past the palette, skipping black).
pub fn color(i: usize) -> RGBColor {
    if i < PALETTE.len() {
        PALETTE[i]
    } else {
        PALETTE[1 + (i - 1) % (PALETTE.len() - 1)]
    }
}

const PANEL_W: u32 = 640;
const PANEL_H: u32 = 360;

/// Renders the figure as SVG text.
///
/// # Errors
/// A message when plotters fails (it should not for finite data).
pub fn render(fig: &Figure) -> Result<String, String> {
    let columns = fig.columns.clamp(1, fig.panels.len().max(1));
    let rows = fig.panels.len().div_ceil(columns).max(1);
    let size = (PANEL_W * columns as u32, PANEL_H * rows as u32);
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let areas = root.split_evenly((rows, columns));
        for (area, panel) in areas.iter().zip(&fig.panels) {
            draw_panel(area, panel)?;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(buf)
}

/// The points of a series that can be drawn on the panel's axes.
fn drawable(panel: &Panel, pts: &[(f64, f64)]) -> Vec<(f64, f64)> {
    pts.iter()
        .copied()
        .filter(|(x, y)| {
            x.is_finite()
                && y.is_finite()
                && (!panel.x_log || *x > 0.0)
                && (!panel.y_log || *y > 0.0)
        })
        .collect()
}

/// Data range of one axis, padded: 5 % each side (linear), a factor 1.3 (log). A degenerate range is
/// widened.
fn range(values: impl Iterator<Item = f64>, log: bool) -> Option<(f64, f64)> {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    if !(lo.is_finite() && hi.is_finite()) {
        return None;
    }
    if log {
        let (lo, hi) = if hi / lo < 1.01 {
            (lo / 2.0, hi * 2.0)
        } else {
            (lo, hi)
        };
        Some((lo / 1.3, hi * 1.3))
    } else {
        let span = hi - lo;
        let pad = if span > 0.0 {
            0.05 * span
        } else {
            lo.abs().max(1.0) * 0.1
        };
        Some((lo - pad, hi + pad))
    }
}

/// Compact tick labels: plain for moderate magnitudes, 1e-5 style otherwise.
fn tick(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if (1e-3..1e4).contains(&a) {
        let s = format!("{v:.4}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_string()
    } else {
        let e = a.log10().floor();
        let m = v / 10f64.powf(e);
        if (m.abs() - 1.0).abs() < 1e-6 {
            format!("{}1e{e}", if v < 0.0 { "-" } else { "" })
        } else {
            format!("{m:.2}e{e}")
        }
    }
}

macro_rules! draw_chart {
    ($area:expr, $panel:expr, $x:expr, $y:expr) => {{
        let panel: &Panel = $panel;
        let mut chart = ChartBuilder::on($area)
            .caption(&panel.title, ("sans-serif", 15))
            .margin(8)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d($x, $y)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc(panel.x_label.as_str())
            .y_desc(panel.y_label.as_str())
            .x_label_formatter(&|v| tick(*v))
            .y_label_formatter(&|v| tick(*v))
            .light_line_style(WHITE.mix(0.0))
            .bold_line_style(BLACK.mix(0.08))
            .draw()
            .map_err(|e| e.to_string())?;
        let mut legend = false;
        for s in &panel.series {
            let c = color(s.color);
            let band: Vec<(f64, f64, f64)> = s
                .band
                .iter()
                .copied()
                .filter(|(x, lo, hi)| {
                    x.is_finite()
                        && lo.is_finite()
                        && hi.is_finite()
                        && (!panel.x_log || *x > 0.0)
                        && (!panel.y_log || (*lo > 0.0 && *hi > 0.0))
                })
                .collect();
            if band.len() >= 2 {
                let mut poly: Vec<(f64, f64)> = band.iter().map(|(x, lo, _)| (*x, *lo)).collect();
                poly.extend(band.iter().rev().map(|(x, _, hi)| (*x, *hi)));
                chart
                    .draw_series(std::iter::once(Polygon::new(poly, c.mix(0.15).filled())))
                    .map_err(|e| e.to_string())?;
            }
            let pts = drawable(panel, &s.points);
            if pts.is_empty() {
                continue;
            }
            let ann = match s.style {
                Style::Line => chart
                    .draw_series(LineSeries::new(pts, c.stroke_width(2)))
                    .map_err(|e| e.to_string())?,
                Style::Dashed => chart
                    .draw_series(DashedLineSeries::new(pts, 6, 4, c.stroke_width(2)))
                    .map_err(|e| e.to_string())?,
                Style::Points => chart
                    .draw_series(pts.into_iter().map(|p| Circle::new(p, 3, c.filled())))
                    .map_err(|e| e.to_string())?,
                Style::Markers => chart
                    .draw_series(
                        pts.into_iter()
                            .map(|p| TriangleMarker::new(p, 7, c.stroke_width(2))),
                    )
                    .map_err(|e| e.to_string())?,
            };
            if !s.name.is_empty() {
                legend = true;
                let style = s.style;
                // A short thick stroke stands for points, a long thin one for lines.
                let (from, to, width) = match style {
                    Style::Points | Style::Markers => (7, 13, 6),
                    Style::Line | Style::Dashed => (0, 20, 2),
                };
                ann.label(s.name.as_str()).legend(move |(x, y)| {
                    PathElement::new(vec![(x + from, y), (x + to, y)], c.stroke_width(width))
                });
            }
        }
        if legend {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.4))
                .label_font(("sans-serif", 12))
                .draw()
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }};
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panel: &Panel,
) -> Result<(), String> {
    let xs = panel.series.iter().flat_map(|s| {
        drawable(panel, &s.points)
            .into_iter()
            .map(|p| p.0)
            .chain(s.band.iter().map(|b| b.0))
            .collect::<Vec<_>>()
    });
    let ys = panel.series.iter().flat_map(|s| {
        drawable(panel, &s.points)
            .into_iter()
            .map(|p| p.1)
            .chain(
                s.band
                    .iter()
                    .flat_map(|b| [b.1, b.2])
                    .filter(|v| !panel.y_log || *v > 0.0),
            )
            .collect::<Vec<_>>()
    });
    let (Some((x0, x1)), Some((y0, y1))) = (
        range(
            xs.filter(|v| v.is_finite() && (!panel.x_log || *v > 0.0)),
            panel.x_log,
        ),
        range(ys.filter(|v| v.is_finite()), panel.y_log),
    ) else {
        area.draw(&Text::new(
            format!("{}: no data to show", panel.title),
            (20, 20),
            ("sans-serif", 14),
        ))
        .map_err(|e| e.to_string())?;
        return Ok(());
    };
    match (panel.x_log, panel.y_log) {
        (false, false) => draw_chart!(area, panel, x0..x1, y0..y1),
        (true, false) => draw_chart!(area, panel, (x0..x1).log_scale(), y0..y1),
        (false, true) => draw_chart!(area, panel, x0..x1, (y0..y1).log_scale()),
        (true, true) => draw_chart!(area, panel, (x0..x1).log_scale(), (y0..y1).log_scale()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let svg = render(&Figure {
            file: "a.svg".into(),
            caption: String::new(),
            panels: vec![p],
            columns: 1,
        })
        .unwrap();
        assert!(svg.starts_with("<svg"));
        assert!(
            svg.contains(">\ntruth\n<") || svg.contains(">truth<"),
            "{svg}"
        );
        assert!(svg.contains("tau (s)"));
        assert!(svg.matches("<polyline").count() >= 1);
    }

    #[test]
    fn empty_panels_say_so() {
        let p = Panel::new("nothing", "x", "y", false, false);
        let svg = render(&Figure {
            file: "a.svg".into(),
            caption: String::new(),
            panels: vec![p],
            columns: 1,
        })
        .unwrap();
        assert!(svg.contains("no data to show"));
    }

    #[test]
    fn tick_labels_are_compact() {
        assert_eq!(tick(0.01), "0.01");
        assert_eq!(tick(100.0), "100");
        assert_eq!(tick(1e-6), "1e-6");
        assert_eq!(tick(2.5e7), "2.50e7");
    }
}
