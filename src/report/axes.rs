//! Axes of a panel: which points can be drawn (decimated when there are many), the padded range,
//! tick labels, and the lay-out that keeps every axis labelled (a log axis over too few decades
//! drawn linear, a linear axis of extreme magnitude drawn in units of a power of ten).

use std::borrow::Cow;

use super::plot::{Panel, DECIMATE_ABOVE, PANEL_W, TITLE_PX};

/// The points of a series that can be drawn on the panel's axes, decimated above
/// [`DECIMATE_ABOVE`] points.
pub(super) fn drawable(panel: &Panel, pts: &[(f64, f64)]) -> Vec<(f64, f64)> {
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

/// The samples (x, low, high) of a series' band that can be drawn on the panel's axes.
pub(super) fn drawable_band(panel: &Panel, band: &[(f64, f64, f64)]) -> Vec<(f64, f64, f64)> {
    band.iter()
        .copied()
        .filter(|(x, lo, hi)| {
            x.is_finite()
                && lo.is_finite()
                && hi.is_finite()
                && (!panel.x_log || *x > 0.0)
                && (!panel.y_log || (*lo > 0.0 && *hi > 0.0))
        })
        .collect()
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
pub(super) fn range(values: impl Iterator<Item = f64>, log: bool) -> Option<(f64, f64)> {
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
/// of the axis span of zero is a rounding residue and prints as 0. Plain labels carry four decimals,
/// or as many as a narrow axis needs to tell its ticks apart (R^2 between 0.99996 and 1).
pub(super) fn tick(v: f64, span: f64) -> String {
    if v == 0.0 || v.abs() < 1e-9 * span {
        return "0".into();
    }
    let a = v.abs();
    if (1e-3..1e4).contains(&a) {
        let narrow = if span > 0.0 {
            (-span.log10()).ceil() as i64 + 2
        } else {
            0
        };
        let decimals = narrow.clamp(4, 12) as usize;
        let s = format!("{v:.decimals$}");
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

/// Whether positive values span too few decades for a log axis, whose labels are the powers of
/// ten: fewer than three of them inside the axis (the data's range widened by 1.3 as drawn).
fn spans_under_decades(values: impl Iterator<Item = f64>) -> bool {
    let (lo, hi) = values
        .filter(|v| v.is_finite() && *v > 0.0)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    lo.is_finite() && (hi * 1.3).log10().floor() - (lo / 1.3).log10().ceil() < 2.0
}

/// The power of ten a linear axis over `values` is drawn in: 1 unless their largest magnitude lies
/// outside 1e-6..1e6, where plotters finds no ticks (Omega near 1e-28 m^3). A log axis keeps 1.
fn unit(log: bool, values: impl Iterator<Item = f64>) -> f64 {
    let top = values
        .filter(|v| v.is_finite())
        .fold(0f64, |m, v| m.max(v.abs()));
    if log || top == 0.0 || (1e-6..1e6).contains(&top) {
        1.0
    } else {
        10f64.powf(top.log10().floor())
    }
}

/// The panel as drawn, with the factors (x, y) its coordinates were divided by: a log axis over
/// too few decades becomes linear (its labels would be one or two powers of ten); a linear axis
/// of very small or large magnitude (Omega near 1e-28 m^3), on which plotters finds no ticks, is
/// drawn in units of a power of ten and labelled in the data's (see [`tick`] with the factor).
pub(super) fn laid_out(panel: &Panel) -> (Cow<'_, Panel>, f64, f64) {
    let points = || panel.series.iter().flat_map(|s| s.points.iter());
    let bands = || panel.series.iter().flat_map(|s| s.band.iter());
    let xs = || points().map(|p| p.0).chain(bands().map(|b| b.0));
    let ys = || {
        points()
            .map(|p| p.1)
            .chain(bands().flat_map(|b| [b.1, b.2]))
    };
    let x_log = panel.x_log && !spans_under_decades(xs());
    let y_log = panel.y_log && !spans_under_decades(ys());
    let (sx, sy) = (unit(x_log, xs()), unit(y_log, ys()));
    if x_log != panel.x_log || y_log != panel.y_log || sx != 1.0 || sy != 1.0 {
        let mut p = Panel {
            x_log,
            y_log,
            ..panel.clone()
        };
        for s in &mut p.series {
            s.points.iter_mut().for_each(|q| *q = (q.0 / sx, q.1 / sy));
            s.band
                .iter_mut()
                .for_each(|b| *b = (b.0 / sx, b.1 / sy, b.2 / sy));
        }
        (Cow::Owned(p), sx, sy)
    } else {
        (Cow::Borrowed(panel), 1.0, 1.0)
    }
}

/// The smallest title size asked of plotters (14.5 px written, still readable on a slide).
const TITLE_MIN_PX: u32 = 18;
/// Characters of a title that fit across a panel at [`TITLE_PX`] (about 0.55 em each).
const TITLE_CHARS: usize = 72;

/// A panel title's size: [`TITLE_PX`], or smaller down to [`TITLE_MIN_PX`] for a long one (a
/// sweep's condition with several axes) so that it fits across the panel.
pub(super) fn title_px(title: &str) -> u32 {
    let n = title.chars().count().max(1);
    let fit = (TITLE_PX as usize * TITLE_CHARS / n) as u32;
    fit.clamp(TITLE_MIN_PX, TITLE_PX)
}

/// The title as drawn: one too long even at [`TITLE_MIN_PX`] keeps its start and end around an
/// ellipsis (the full condition is in index.html's table of cells and in summary.json).
pub(super) fn fitted_title(title: &str) -> String {
    let most = TITLE_CHARS * TITLE_PX as usize / TITLE_MIN_PX as usize;
    let chars: Vec<char> = title.chars().collect();
    if chars.len() <= most {
        return title.to_string();
    }
    let keep = (most - 1) / 2;
    let head: String = chars[..keep].iter().collect();
    let tail: String = chars[chars.len() - keep..].iter().collect();
    format!("{head}…{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_titles_shrink_to_fit_and_the_longest_keep_both_ends() {
        assert_eq!(title_px("lambda"), TITLE_PX);
        let three_axes =
            "lambda: protocol = mandrel, inversion.order = 2, inversion.zero_boundary = false";
        let px = title_px(three_axes);
        assert!((TITLE_MIN_PX..TITLE_PX).contains(&px), "{px}");
        assert_eq!(fitted_title(three_axes), three_axes);
        let long = format!("rel_l2: {}", "axis.path = value, ".repeat(12));
        let drawn = fitted_title(&long);
        assert_eq!(title_px(&long), TITLE_MIN_PX);
        assert!(drawn.chars().count() <= TITLE_CHARS * TITLE_PX as usize / TITLE_MIN_PX as usize);
        assert!(drawn.starts_with("rel_l2: axis.path") && drawn.contains('…'));
        assert!(drawn.ends_with(&long[long.len() - 10..]));
    }

    use crate::report::plot::{Series, Style};

    #[test]
    fn tick_labels_are_compact() {
        assert_eq!(tick(0.01, 1.0), "0.01");
        // A narrow axis near 1 (R^2) keeps the digits that tell its ticks apart.
        assert_eq!(tick(0.99998, 4e-5), "0.99998");
        assert_eq!(tick(0.999995, 2e-5), "0.999995");
        assert_eq!(tick(0.5, 1.0), "0.5");
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

    #[test]
    fn every_axis_keeps_labels() {
        let mut p = Panel::new("t", "m", "Omega (m^3)", false, true);
        let pts: Vec<(f64, f64)> = (15..=21)
            .map(|m| (f64::from(m), 1.66e-29 * f64::from(m)))
            .collect();
        p.series.push(Series::new("peaks", pts, Style::Points, 1));
        // 2.5e-28..3.5e-28 on a log axis would show no power of ten: drawn linear, in 1e-28.
        let (q, sx, sy) = laid_out(&p);
        assert!(!q.y_log && sx == 1.0 && sy == 1e-28);
        assert!((q.series[0].points[0].1 - 2.49).abs() < 1e-12);
        // Five decades stay logarithmic and unscaled.
        p.series[0].points.push((22.0, 1e-23));
        let (q, _, sy) = laid_out(&p);
        assert!(q.y_log && sy == 1.0);
        assert!(matches!(q, Cow::Borrowed(_)));
        assert!(spans_under_decades([1e8, 3e9].into_iter()));
        assert!(!spans_under_decades([1e8, 3e10].into_iter()));
    }
}
