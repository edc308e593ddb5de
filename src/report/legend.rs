//! Where a panel's legend goes: the first corner of the plot (upper right, upper left, lower right,
//! lower left) whose box covers no drawn line, point, band or stem; when every corner is taken, the
//! caller raises the top of the y axis to make room above the data (upper right).

use super::axes::{drawable, drawable_band};
use super::plot::{drawn_style, Panel, Style};

/// A corner of the plot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Corner {
    UpperRight,
    UpperLeft,
    LowerRight,
    LowerLeft,
}

/// Cells of the occupancy grid across and up the plot.
const COLUMNS: usize = 60;
const ROWS: usize = 36;

/// The free corner for a legend box `width` x `height` (fractions of the plot's width and height)
/// over a panel drawn on `x` x `y` (lower and upper ends; log when the panel's axis is) with stems
/// from `base`, if any.
pub(super) fn free_corner(
    panel: &Panel,
    x: (f64, f64),
    y: (f64, f64),
    base: f64,
    width: f64,
    height: f64,
) -> Option<Corner> {
    let unit = |v: f64, (lo, hi): (f64, f64), log: bool| {
        if log {
            (v.ln() - lo.ln()) / (hi.ln() - lo.ln())
        } else {
            (v - lo) / (hi - lo)
        }
    };
    let fx = |v: f64| unit(v, x, panel.x_log);
    let fy = |v: f64| unit(v, y, panel.y_log);
    let mut taken = vec![false; COLUMNS * ROWS];
    let mut mark = |u: f64, v: f64| {
        if (0.0..=1.0).contains(&u) && (0.0..=1.0).contains(&v) {
            let c = ((u * COLUMNS as f64) as usize).min(COLUMNS - 1);
            let r = ((v * ROWS as f64) as usize).min(ROWS - 1);
            taken[r * COLUMNS + c] = true;
        }
    };
    // A segment between two points (fractions), sampled finer than a cell.
    let mut segment = |(u0, v0): (f64, f64), (u1, v1): (f64, f64)| {
        let steps = ((u1 - u0).abs() * COLUMNS as f64 * 2.0)
            .max((v1 - v0).abs() * ROWS as f64 * 2.0)
            .ceil()
            .clamp(1.0, 4000.0) as usize;
        for k in 0..=steps {
            let t = k as f64 / steps as f64;
            mark(u0 + t * (u1 - u0), v0 + t * (v1 - v0));
        }
    };
    for s in &panel.series {
        let pts: Vec<(f64, f64)> = drawable(panel, &s.points)
            .into_iter()
            .map(|(a, b)| (fx(a), fy(b)))
            .collect();
        match drawn_style(s) {
            Style::Line | Style::Dashed | Style::Dotted => {
                for w in pts.windows(2) {
                    segment(w[0], w[1]);
                }
                if let [only] = pts[..] {
                    segment(only, only);
                }
            }
            Style::Stems => {
                let floor = if panel.y_log { 0.0 } else { fy(base) };
                for &(u, v) in &pts {
                    segment((u, floor.clamp(0.0, 1.0)), (u, v));
                }
            }
            _ => {
                // A marker covers about a cell around its point.
                for &(u, v) in &pts {
                    let (du, dv) = (1.0 / COLUMNS as f64, 1.0 / ROWS as f64);
                    segment((u - du, v - dv), (u + du, v + dv));
                    segment((u - du, v + dv), (u + du, v - dv));
                }
            }
        }
        // A band (or error bars) covers the span between its ends at each x and, for a band,
        // between neighbouring samples.
        let band: Vec<(f64, f64, f64)> = drawable_band(panel, &s.band)
            .into_iter()
            .map(|(a, lo, hi)| (fx(a), fy(lo), fy(hi)))
            .collect();
        for (k, &(u, lo, hi)) in band.iter().enumerate() {
            segment((u, lo), (u, hi));
            if let (false, Some(&(u1, lo1, hi1))) = (s.bars, band.get(k + 1)) {
                let steps = ((u1 - u) * COLUMNS as f64 * 2.0).abs().ceil().max(1.0) as usize;
                for j in 1..steps {
                    let t = j as f64 / steps as f64;
                    let at = u + t * (u1 - u);
                    segment((at, lo + t * (lo1 - lo)), (at, hi + t * (hi1 - hi)));
                }
            }
        }
    }
    // The box with a margin of a cell on its inner sides.
    let (w, h) = (width + 1.0 / COLUMNS as f64, height + 1.0 / ROWS as f64);
    let free = |left: bool, lower: bool| {
        let (c0, c1) = if left { (0.0, w) } else { (1.0 - w, 1.0) };
        let (r0, r1) = if lower { (0.0, h) } else { (1.0 - h, 1.0) };
        let cols = (c0 * COLUMNS as f64).floor() as usize
            ..((c1 * COLUMNS as f64).ceil() as usize).min(COLUMNS);
        let rows =
            (r0 * ROWS as f64).floor() as usize..((r1 * ROWS as f64).ceil() as usize).min(ROWS);
        rows.clone()
            .all(|r| cols.clone().all(|c| !taken[r * COLUMNS + c]))
    };
    [
        (Corner::UpperRight, false, false),
        (Corner::UpperLeft, true, false),
        (Corner::LowerRight, false, true),
        (Corner::LowerLeft, true, true),
    ]
    .into_iter()
    .find(|&(_, left, lower)| width < 1.0 && height < 1.0 && free(left, lower))
    .map(|(corner, _, _)| corner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::plot::Series;

    fn panel(points: Vec<(f64, f64)>, style: Style) -> Panel {
        let mut p = Panel::new("t", "x", "y", false, false);
        p.series
            .push(Series::new("a".to_string(), points, style, 1));
        p
    }

    #[test]
    fn the_legend_takes_the_first_corner_its_box_leaves_empty() {
        let (x, y) = ((0.0, 10.0), (0.0, 10.0));
        // A line along the top: both upper corners are taken, the lower right is free.
        let top = panel(vec![(0.0, 9.5), (10.0, 9.5)], Style::Line);
        assert_eq!(
            free_corner(&top, x, y, 0.0, 0.2, 0.3),
            Some(Corner::LowerRight)
        );
        // A line rising from the lower left to the upper right: the upper left is free.
        let rising = panel(vec![(0.0, 0.0), (10.0, 10.0)], Style::Line);
        assert_eq!(
            free_corner(&rising, x, y, 0.0, 0.2, 0.3),
            Some(Corner::UpperLeft)
        );
        // Only the line between two points crosses the upper right: it is taken.
        let crossing = panel(vec![(5.0, 9.8), (9.9, 6.0)], Style::Line);
        assert_ne!(
            free_corner(&crossing, x, y, 0.0, 0.2, 0.3),
            Some(Corner::UpperRight)
        );
        // A stem reaches from zero: a tall stem at the right takes both right corners.
        let stem = panel(vec![(9.5, 9.0)], Style::Stems);
        assert_eq!(
            free_corner(&stem, x, y, 0.0, 0.2, 0.3),
            Some(Corner::UpperLeft)
        );
        // A band over the whole plot leaves no corner: head-room instead.
        let mut band = panel(vec![(0.0, 5.0), (10.0, 5.0)], Style::Line);
        band.series[0].band = vec![(0.0, 0.0, 10.0), (10.0, 0.0, 10.0)];
        assert_eq!(free_corner(&band, x, y, 0.0, 0.2, 0.3), None);
        // A box as wide as the plot fits nowhere.
        assert_eq!(free_corner(&rising, x, y, 0.0, 1.0, 0.3), None);
    }
}
