//! A small figure description (panels of named series) and its SVG rendering with plotters' SVG
//! backend: text is written as SVG `<text>`, so no font library is needed.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::axes::{drawable, drawable_band, fitted_title, laid_out, range, tick, title_px};
use super::legend::{self, Corner};

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// A solid line through the points.
    Line,
    /// A dashed line.
    Dashed,
    /// A dotted line (a solid line's colour reused past the palette's end).
    Dotted,
    /// Small filled circles.
    Points,
    /// Large filled triangles (chosen points, peaks).
    Markers,
    /// Open circles (points whose colour is a reused one, past the palette's end).
    Rings,
    /// Large open triangles (markers whose colour is a reused one).
    OpenMarkers,
    /// A vertical line from the axis to each point, with a dot on top (delta-like truths).
    Stems,
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
    /// Draw the band as a vertical bar at each x instead of a shaded area (points of unlike
    /// conditions, which no area may join).
    pub bars: bool,
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
            bars: false,
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
    /// The x values are categories numbered 0, 1, ... (cells): only integers are labelled and the
    /// axis reaches half a category beyond the first and last.
    pub x_categories: bool,
    /// The x values are whole numbers (a penalty order, a number of points): only integers are
    /// labelled.
    pub x_integers: bool,
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
            x_categories: false,
            x_integers: false,
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
    /// A table figure drawn instead of the panels.
    pub heatmap: Option<super::heatmap::Heatmap>,
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

/// How a series is drawn: its style, except that a series whose colour is a reused one (past the
/// palette's end) is drawn open or dotted: a solid line dotted, points as rings, markers as open
/// triangles, so that no two series of a figure look alike.
pub(super) fn drawn_style(s: &Series) -> Style {
    if s.color < PALETTE.len() {
        return s.style;
    }
    match s.style {
        Style::Line => Style::Dotted,
        Style::Points => Style::Rings,
        Style::Markers => Style::OpenMarkers,
        other => other,
    }
}

/// Panel size, px: a slide's width for one panel.
pub const PANEL_W: u32 = 1000;
/// Panel height, px.
pub const PANEL_H: u32 = 600;
/// Text sizes asked of plotters for panel titles, axis descriptions, tick labels and legends; its
/// SVG backend writes 0.806 of them as `font-size` (px), so these give 22.6, 17.7, 14.5 and 14.5 px
/// (>= 14 for a slide; `tests/common` checks every figure).
pub(super) const TITLE_PX: u32 = 28;
const AXIS_PX: u32 = 22;
const TICK_PX: u32 = 18;
const LEGEND_PX: u32 = 18;
/// Height of one legend row, px (plotters' legend at [`LEGEND_PX`], and the strip's).
const LEGEND_ROW: i32 = 23;
/// Width kept right of the data for a legend too tall to sit above them, px.
const LEGEND_STRIP: u32 = 290;
/// A series with more points than this is decimated to the minimum and maximum of each pixel
/// column (the CSV files keep every point): a 10^6-point fit stays a small file.
pub(super) const DECIMATE_ABOVE: usize = 2 * PANEL_W as usize;

/// Renders the figure as SVG text.
///
/// # Errors
/// A message when plotters fails (it should not for finite data).
pub fn render(fig: &Figure) -> Result<String, String> {
    if let Some(h) = &fig.heatmap {
        return Ok(super::heatmap::render(h));
    }
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

/// What a panel's chart needs besides its axes: the linear axes' spans (for zero residues, 0 on a
/// log axis), the factors the coordinates were divided by, the stems' base, and whether the legend
/// is drawn in a strip beside the data.
#[derive(Clone, Copy)]
struct Frame {
    spans: (f64, f64),
    scales: (f64, f64),
    base: f64,
    outside: bool,
    legend_at: Corner,
}

macro_rules! draw_chart {
    ($area:expr, $panel:expr, $frame:expr, $x:expr, $y:expr) => {{
        let panel: &Panel = $panel;
        let Frame {
            spans: (x_span, y_span),
            scales: (sx, sy),
            base,
            outside,
            legend_at,
        } = $frame;
        let mut chart = ChartBuilder::on($area)
            .caption(
                fitted_title(&panel.title),
                ("sans-serif", title_px(&panel.title)),
            )
            .margin(12)
            .x_label_area_size(60)
            .y_label_area_size(100)
            .build_cartesian_2d($x, $y)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc(panel.x_label.as_str())
            .y_desc(panel.y_label.as_str())
            .x_label_formatter(&|v| {
                if (panel.x_categories || panel.x_integers) && (v - v.round()).abs() > 1e-9 {
                    String::new()
                } else {
                    tick(*v * sx, x_span * sx)
                }
            })
            .y_label_formatter(&|v| tick(*v * sy, y_span * sy))
            .label_style(("sans-serif", TICK_PX))
            .axis_desc_style(("sans-serif", AXIS_PX))
            .light_line_style(WHITE.mix(0.0))
            .bold_line_style(BLACK.mix(0.08))
            .draw()
            .map_err(|e| e.to_string())?;
        let mut legend = false;
        for s in &panel.series {
            let c = color(s.color);
            let band = drawable_band(panel, &s.band);
            if s.bars {
                chart
                    .draw_series(band.iter().map(|&(x, lo, hi)| {
                        PathElement::new(vec![(x, lo), (x, hi)], c.mix(0.6).stroke_width(2))
                    }))
                    .map_err(|e| e.to_string())?;
            } else if band.len() >= 2 {
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
            let ann = match drawn_style(s) {
                Style::Line => chart
                    .draw_series(LineSeries::new(pts, c.stroke_width(3)))
                    .map_err(|e| e.to_string())?,
                Style::Dashed => chart
                    .draw_series(DashedLineSeries::new(pts, 10, 6, c.stroke_width(3)))
                    .map_err(|e| e.to_string())?,
                Style::Dotted => chart
                    .draw_series(DashedLineSeries::new(pts, 3, 5, c.stroke_width(3)))
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
                Style::Rings => chart
                    .draw_series(
                        pts.into_iter()
                            .map(|p| Circle::new(p, 5, c.stroke_width(2))),
                    )
                    .map_err(|e| e.to_string())?,
                // plotters fills its TriangleMarker whatever the style: the open one is drawn
                // as its outline.
                Style::OpenMarkers => chart
                    .draw_series(pts.into_iter().map(|p| {
                        EmptyElement::at(p) + PathElement::new(OPEN_TRIANGLE, c.stroke_width(2))
                    }))
                    .map_err(|e| e.to_string())?,
                Style::Stems => {
                    chart
                        .draw_series(pts.iter().map(|&p| Circle::new(p, 4, c.filled())))
                        .map_err(|e| e.to_string())?;
                    chart
                        .draw_series(pts.into_iter().map(|(x, y)| {
                            PathElement::new(vec![(x, base), (x, y)], c.stroke_width(2))
                        }))
                        .map_err(|e| e.to_string())?
                }
            };
            if !s.name.is_empty() {
                legend = true;
                // The legend shows the symbol drawn (see `symbol`).
                let style = drawn_style(s);
                ann.label(s.name.as_str())
                    .legend(move |at| symbol!(style, c, at));
            }
        }
        if legend && !outside {
            chart
                .configure_series_labels()
                .position(match legend_at {
                    Corner::UpperLeft => SeriesLabelPosition::UpperLeft,
                    Corner::LowerRight => SeriesLabelPosition::LowerRight,
                    Corner::LowerLeft => SeriesLabelPosition::LowerLeft,
                    Corner::UpperRight => SeriesLabelPosition::UpperRight,
                })
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.4))
                .label_font(("sans-serif", LEGEND_PX))
                .draw()
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }};
}

/// The outline of an open triangle marker about its point, px (the filled marker's size).
const OPEN_TRIANGLE: [(i32, i32); 4] = [(0, -10), (-9, 5), (9, 5), (0, -10)];

/// A legend's symbol for a series at `at`: a dot or a ring, a filled or an open triangle, a stem
/// with its dot, a solid, dashed or dotted line, as the series is drawn (one composite element; the parts a style does not use are
/// transparent). A macro: plotters' legend wants an element that owns no backend type.
macro_rules! symbol {
    ($style:expr, $c:expr, $at:expr) => {{
        let (style, c): (Style, RGBColor) = ($style, $c);
        let on = move |used: bool| if used { c.mix(1.0) } else { c.mix(0.0) };
        let line = matches!(style, Style::Line | Style::Dashed);
        EmptyElement::at($at)
            + Circle::new(
                (10, 0),
                4,
                on(matches!(style, Style::Points | Style::Stems)).filled(),
            )
            + TriangleMarker::new((10, 0), 8, on(style == Style::Markers).filled())
            + Circle::new((10, 0), 5, on(style == Style::Rings).stroke_width(2))
            + PathElement::new(
                OPEN_TRIANGLE.map(|(x, y)| (10 + x * 4 / 5, y * 4 / 5)),
                on(style == Style::OpenMarkers).stroke_width(2),
            )
            + PathElement::new(
                vec![(10, -8), (10, 8)],
                on(style == Style::Stems).stroke_width(2),
            )
            + PathElement::new(vec![(0, 0), (7, 0)], on(line).stroke_width(3))
            + PathElement::new(
                vec![(7, 0), (13, 0)],
                on(style == Style::Line).stroke_width(3),
            )
            + PathElement::new(vec![(13, 0), (20, 0)], on(line).stroke_width(3))
            + PathElement::new(
                vec![(0, 0), (3, 0)],
                on(style == Style::Dotted).stroke_width(3),
            )
            + PathElement::new(
                vec![(8, 0), (11, 0)],
                on(style == Style::Dotted).stroke_width(3),
            )
            + PathElement::new(
                vec![(16, 0), (19, 0)],
                on(style == Style::Dotted).stroke_width(3),
            )
    }};
}

/// A legend in its own strip (right of the data), for legends too tall to sit above them: the
/// same box, symbols and text as plotters' legend.
fn draw_legend_strip<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panel: &Panel,
) -> Result<(), String> {
    let named: Vec<&Series> = panel.series.iter().filter(|s| !s.name.is_empty()).collect();
    let (row, top) = (LEGEND_ROW, 60);
    let height = row * named.len() as i32 + 14;
    let width = area.dim_in_pixel().0 as i32 - 16;
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    area.draw(&Rectangle::new(
        [(0, top), (width, top + height)],
        WHITE.mix(0.85).filled(),
    ))
    .map_err(err)?;
    area.draw(&Rectangle::new(
        [(0, top), (width, top + height)],
        BLACK.mix(0.4),
    ))
    .map_err(err)?;
    let text = ("sans-serif", LEGEND_PX)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    for (k, s) in named.iter().enumerate() {
        let y = top + 7 + row * k as i32 + row / 2;
        area.draw(&symbol!(drawn_style(s), color(s.color), (10, y)))
            .map_err(err)?;
        area.draw(&Text::new(s.name.clone(), (40, y), text.clone()))
            .map_err(err)?;
    }
    Ok(())
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panel: &Panel,
) -> Result<(), String> {
    let (relaid, sx, sy) = laid_out(panel);
    let panel: &Panel = &relaid;
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
    let x_range = if panel.x_categories {
        // Half a category beyond the ends, and at least three labelled categories.
        let (lo, hi) = xs
            .filter(|v| v.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(v), b.max(v))
            });
        let (lo, hi) = (lo.round(), hi.round());
        let hi = hi.max(lo + 2.0);
        lo.is_finite().then_some((lo - 0.5, hi + 0.5))
    } else {
        range(
            xs.filter(|v| v.is_finite() && (!panel.x_log || *v > 0.0)),
            panel.x_log,
        )
    };
    let (Some((x0, x1)), Some((y0, y1))) =
        (x_range, range(ys.filter(|v| v.is_finite()), panel.y_log))
    else {
        area.draw(&Text::new(
            format!("{}: no data to show", panel.title),
            (20, 20),
            ("sans-serif", TITLE_PX),
        ))
        .map_err(|e| e.to_string())?;
        return Ok(());
    };
    // The legend: in a corner of the plot where it covers nothing; when every corner holds data,
    // upper right with head-room (the data keep below the box); a legend that would need more than
    // 45 % of the height goes to the right of the data instead.
    let rows = panel.series.iter().filter(|s| !s.name.is_empty()).count();
    let free = (rows as f64 * f64::from(LEGEND_ROW) + 24.0) / (f64::from(PANEL_H) - 130.0);
    let outside = free > 0.45;
    let (area, strip) = if outside {
        let (data, strip) = area.split_horizontally(area.dim_in_pixel().0 - LEGEND_STRIP);
        (data, Some(strip))
    } else {
        (area.clone(), None)
    };
    let area = &area;
    if let Some(strip) = &strip {
        draw_legend_strip(strip, panel)?;
    }
    // The box's width: the symbol and margins, and about 0.55 em per character of the longest
    // name, over the plot's width.
    let chars = panel
        .series
        .iter()
        .map(|s| s.name.chars().count())
        .max()
        .unwrap_or(0);
    let box_width =
        (60.0 + 0.55 * 0.806 * f64::from(LEGEND_PX) * chars as f64) / (f64::from(PANEL_W) - 130.0);
    let stems_from = if panel.y_log { y0 } else { 0f64.clamp(y0, y1) };
    let corner = (rows > 0 && !outside)
        .then(|| legend::free_corner(panel, (x0, x1), (y0, y1), stems_from, box_width, free))
        .flatten();
    let legend_at = corner.unwrap_or(Corner::UpperRight);
    let y1 = if rows == 0 || outside || corner.is_some() {
        y1
    } else if panel.y_log {
        (y0.ln() + (y1.ln() - y0.ln()) / (1.0 - free)).exp()
    } else {
        y0 + (y1 - y0) / (1.0 - free)
    };
    // Zero-residue ticks exist only on linear axes (a log axis has no zero).
    let span = |log: bool, a: f64, b: f64| if log { 0.0 } else { (b - a).abs() };
    let spans = (span(panel.x_log, x0, x1), span(panel.y_log, y0, y1));
    // Stems rise from zero (a linear axis) or from the bottom (a log axis).
    let base = if panel.y_log { y0 } else { 0f64.clamp(y0, y1) };
    let frame = Frame {
        spans,
        scales: (sx, sy),
        base,
        outside,
        legend_at,
    };
    match (panel.x_log, panel.y_log) {
        (false, false) => draw_chart!(area, panel, frame, x0..x1, y0..y1),
        (true, false) => draw_chart!(area, panel, frame, (x0..x1).log_scale(), y0..y1),
        (false, true) => draw_chart!(area, panel, frame, x0..x1, (y0..y1).log_scale()),
        (true, true) => draw_chart!(
            area,
            panel,
            frame,
            (x0..x1).log_scale(),
            (y0..y1).log_scale()
        ),
    }
}

#[cfg(test)]
#[path = "plot_tests.rs"]
mod tests;
