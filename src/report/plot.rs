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

/// Panel size, px: a slide's width for one panel.
pub const PANEL_W: u32 = 1000;
/// Panel height, px.
pub const PANEL_H: u32 = 600;
/// Text sizes asked of plotters for panel titles, axis descriptions, tick labels and legends; its
/// SVG backend writes 0.806 of them as `font-size` (px), so these give 22.6, 17.7, 14.5 and 14.5 px
/// (>= 14 for a slide; `tests/common` checks every figure).
const TITLE_PX: u32 = 28;
const AXIS_PX: u32 = 22;
const TICK_PX: u32 = 18;
const LEGEND_PX: u32 = 18;
/// A series with more points than this is decimated to the minimum and maximum of each pixel
/// column (the CSV files keep every point): a 10^6-point fit stays a small file.
const DECIMATE_ABOVE: usize = 2 * PANEL_W as usize;

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

/// The points of a series that can be drawn on the panel's axes, decimated above
/// [`DECIMATE_ABOVE`] points.
fn drawable(panel: &Panel, pts: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let kept: Vec<(f64, f64)> = pts
        .iter()
        .copied()
        .filter(|(x, y)| {
            x.is_finite()
                && y.is_finite()
                && (!panel.x_log || *x > 0.0)
                && (!panel.y_log || *y > 0.0)
        })
        .collect();
    if kept.len() <= DECIMATE_ABOVE {
        kept
    } else {
        decimate(&kept, panel.x_log, PANEL_W as usize)
    }
}

/// The first, lowest, highest and last point of each of `columns` equal columns in x (in log x
/// when `log`), in x order: what a line through every point would show at that width.
fn decimate(pts: &[(f64, f64)], log: bool, columns: usize) -> Vec<(f64, f64)> {
    let u = |x: f64| if log { x.ln() } else { x };
    let (lo, hi) = pts
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
            (a.min(u(p.0)), b.max(u(p.0)))
        });
    let width = (hi - lo).max(f64::MIN_POSITIVE);
    let column = |x: f64| (((u(x) - lo) / width * columns as f64) as usize).min(columns - 1);
    let mut out = Vec::with_capacity(4 * columns);
    let mut start = 0;
    while start < pts.len() {
        let c = column(pts[start].0);
        let mut end = start + 1;
        while end < pts.len() && column(pts[end].0) == c {
            end += 1;
        }
        let group = &pts[start..end];
        let (mut low, mut high) = (0, 0);
        for (i, p) in group.iter().enumerate() {
            if p.1 < group[low].1 {
                low = i;
            }
            if p.1 > group[high].1 {
                high = i;
            }
        }
        let mut picks = vec![0, low, high, group.len() - 1];
        picks.sort_unstable();
        picks.dedup();
        out.extend(picks.into_iter().map(|i| group[i]));
        start = end;
    }
    out
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

/// Compact tick labels: plain for moderate magnitudes, 1e-5 style otherwise; a value within 1e-9
/// of the axis span of zero is a rounding residue and prints as 0.
fn tick(v: f64, span: f64) -> String {
    if v == 0.0 || v.abs() < 1e-9 * span {
        return "0".into();
    }
    let a = v.abs();
    if (1e-3..1e4).contains(&a) {
        let s = format!("{v:.4}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_string()
    } else {
        // One format on an axis: mantissa with at most two decimals, trailing zeros dropped
        // ("1e-4", "2e-4", "2.5e-4").
        let e = a.log10().floor();
        let m = format!("{:.2}", v / 10f64.powf(e));
        let m = m.trim_end_matches('0').trim_end_matches('.');
        format!("{m}e{e}")
    }
}

macro_rules! draw_chart {
    ($area:expr, $panel:expr, $spans:expr, $x:expr, $y:expr) => {{
        let panel: &Panel = $panel;
        let (x_span, y_span): (f64, f64) = $spans;
        let mut chart = ChartBuilder::on($area)
            .caption(&panel.title, ("sans-serif", TITLE_PX))
            .margin(12)
            .x_label_area_size(60)
            .y_label_area_size(100)
            .build_cartesian_2d($x, $y)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc(panel.x_label.as_str())
            .y_desc(panel.y_label.as_str())
            .x_label_formatter(&|v| tick(*v, x_span))
            .y_label_formatter(&|v| tick(*v, y_span))
            .label_style(("sans-serif", TICK_PX))
            .axis_desc_style(("sans-serif", AXIS_PX))
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
                    .draw_series(LineSeries::new(pts, c.stroke_width(3)))
                    .map_err(|e| e.to_string())?,
                Style::Dashed => chart
                    .draw_series(DashedLineSeries::new(pts, 10, 6, c.stroke_width(3)))
                    .map_err(|e| e.to_string())?,
                Style::Points => chart
                    .draw_series(pts.into_iter().map(|p| Circle::new(p, 4, c.filled())))
                    .map_err(|e| e.to_string())?,
                Style::Markers => chart
                    .draw_series(
                        pts.into_iter()
                            .map(|p| TriangleMarker::new(p, 10, c.filled())),
                    )
                    .map_err(|e| e.to_string())?,
            };
            if !s.name.is_empty() {
                legend = true;
                // The legend shows the symbol drawn: a dot, a triangle, a solid or a dashed line
                // (one composite element; the parts a style does not use are transparent).
                let style = s.style;
                let on = move |used: bool| if used { c.mix(1.0) } else { c.mix(0.0) };
                ann.label(s.name.as_str()).legend(move |(x, y)| {
                    let line = matches!(style, Style::Line | Style::Dashed);
                    EmptyElement::at((x, y))
                        + Circle::new((10, 0), 4, on(style == Style::Points).filled())
                        + TriangleMarker::new((10, 0), 8, on(style == Style::Markers).filled())
                        + PathElement::new(vec![(0, 0), (7, 0)], on(line).stroke_width(3))
                        + PathElement::new(
                            vec![(7, 0), (13, 0)],
                            on(style == Style::Line).stroke_width(3),
                        )
                        + PathElement::new(vec![(13, 0), (20, 0)], on(line).stroke_width(3))
                });
            }
        }
        if legend {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.4))
                .label_font(("sans-serif", LEGEND_PX))
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
            ("sans-serif", TITLE_PX),
        ))
        .map_err(|e| e.to_string())?;
        return Ok(());
    };
    // Head-room for the legend: the data keep below the legend box (upper right), so that it
    // covers nothing; at most 55 % of the height goes to it.
    let rows = panel.series.iter().filter(|s| !s.name.is_empty()).count();
    let y1 = if rows == 0 {
        y1
    } else {
        let free = ((rows as f64 * 23.0 + 24.0) / (f64::from(PANEL_H) - 130.0)).min(0.55);
        if panel.y_log {
            (y0.ln() + (y1.ln() - y0.ln()) / (1.0 - free)).exp()
        } else {
            y0 + (y1 - y0) / (1.0 - free)
        }
    };
    // Zero-residue ticks exist only on linear axes (a log axis has no zero).
    let span = |log: bool, a: f64, b: f64| if log { 0.0 } else { (b - a).abs() };
    let spans = (span(panel.x_log, x0, x1), span(panel.y_log, y0, y1));
    match (panel.x_log, panel.y_log) {
        (false, false) => draw_chart!(area, panel, spans, x0..x1, y0..y1),
        (true, false) => draw_chart!(area, panel, spans, (x0..x1).log_scale(), y0..y1),
        (false, true) => draw_chart!(area, panel, spans, x0..x1, (y0..y1).log_scale()),
        (true, true) => draw_chart!(
            area,
            panel,
            spans,
            (x0..x1).log_scale(),
            (y0..y1).log_scale()
        ),
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
        assert_eq!(tick(0.01, 1.0), "0.01");
        assert_eq!(tick(100.0, 1.0), "100");
        assert_eq!(tick(1e-6, 1e-6), "1e-6");
        assert_eq!(tick(2.5e7, 1.0), "2.5e7");
        assert_eq!(
            (tick(1e-4, 1e-3), tick(-2e-4, 1e-3)),
            ("1e-4".into(), "-2e-4".into())
        );
        // A rounding residue of zero on an axis spanning 4e-4 (fit.svg's residuals).
        assert_eq!(tick(-2.71e-20, 4e-4), "0");
    }

    #[test]
    fn decimation_keeps_each_columns_extremes_in_order() {
        // 10^5 points of a sine with one spike: 100 columns keep at most 400 points, the spike and
        // the ends among them, in x order.
        let mut pts: Vec<(f64, f64)> = (0..100_000)
            .map(|i| (f64::from(i), (f64::from(i) * 1e-3).sin()))
            .collect();
        pts[54_321].1 = 7.0;
        let d = decimate(&pts, false, 100);
        assert!(d.len() <= 400 && d.len() >= 200, "{}", d.len());
        assert!(d.contains(&(54_321.0, 7.0)));
        assert_eq!((d[0], d[d.len() - 1]), (pts[0], pts[99_999]));
        assert!(d.windows(2).all(|w| w[0].0 < w[1].0));
        let lowest = pts.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
        assert!(d.iter().any(|p| p.1 == lowest));
    }
}
