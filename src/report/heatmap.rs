//! A table figure: rows of conditions, columns of choices, each cell coloured by a value and
//! printed with it (the sweep's regret by rule). Written as plain SVG, in the figure style of
//! [`super::plot`]: text of 15 px and more, a title, a colour key.

use std::fmt::Write as _;

/// A heatmap: `values[row][column]`, coloured on a log scale from `low` (lightest) to `high`
/// (darkest), with the lowest value of each row outlined.
#[derive(Debug, Clone, PartialEq)]
pub struct Heatmap {
    /// Title above the table.
    pub title: String,
    /// One label per row (conditions).
    pub rows: Vec<String>,
    /// One label per column (choices).
    pub columns: Vec<String>,
    /// The values; NaN where undefined (drawn blank, "-").
    pub values: Vec<Vec<f64>>,
    /// The colour scale's ends (values beyond them take the end colour).
    pub low: f64,
    /// See `low`.
    pub high: f64,
    /// An extra text column after the values (header, one text per row), e.g. an absolute error.
    pub note: Option<(String, Vec<String>)>,
}

const TITLE_PX: f64 = 23.0;
const TEXT_PX: f64 = 16.0;
const ROW_H: f64 = 40.0;
const COL_W: f64 = 130.0;
/// Width per character of the row labels at [`TEXT_PX`] (sans-serif averages about 0.55 em).
const CHAR_W: f64 = 8.8;

/// Light to dark blue (one hue: readable without colour vision), at `t` in 0..1.
fn shade(t: f64) -> (u8, u8, u8) {
    let t = t.clamp(0.0, 1.0);
    let (a, b) = ((247.0, 251.0, 255.0), (8.0, 48.0, 107.0));
    let mix = |p: f64, q: f64| (p + (q - p) * t).round() as u8;
    (mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The value as printed in a cell: two decimals below 10, fewer above (never a bare number the
/// eye could take for an axis: cells carry their own key).
fn value_text(v: f64) -> String {
    if !v.is_finite() {
        "-".into()
    } else if v < 10.0 {
        format!("{v:.2}")
    } else if v < 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

/// The SVG text of the heatmap, at least 1000 x 600 px.
pub fn render(h: &Heatmap) -> String {
    let label_w =
        h.rows.iter().map(|r| r.chars().count()).max().unwrap_or(0) as f64 * CHAR_W + 30.0;
    let note_w = h.note.as_ref().map_or(0.0, |(head, texts)| {
        texts
            .iter()
            .chain(std::iter::once(head))
            .map(|t| t.chars().count())
            .max()
            .unwrap_or(0) as f64
            * CHAR_W
            + 30.0
    });
    let top = 110.0;
    let grid_w = COL_W * h.columns.len() as f64;
    let width = (label_w + grid_w + note_w + 40.0).max(1000.0);
    let key_y = top + ROW_H * h.rows.len() as f64 + 40.0;
    let height = (key_y + 90.0).max(600.0);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" xmlns="http://www.w3.org/2000/svg">"#
    );
    let _ = writeln!(
        s,
        r##"<rect x="0" y="0" width="{width:.0}" height="{height:.0}" fill="#FFFFFF"/>"##
    );
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="40" font-family="sans-serif" font-size="{TITLE_PX}" text-anchor="middle">{}</text>"#,
        width / 2.0,
        esc(&h.title)
    );
    let text = |s: &mut String, x: f64, y: f64, anchor: &str, weight: &str, fill: &str, t: &str| {
        let _ = writeln!(
            s,
            r#"<text x="{x:.1}" y="{y:.1}" font-family="sans-serif" font-size="{TEXT_PX}" text-anchor="{anchor}" font-weight="{weight}" fill="{fill}" dominant-baseline="middle">{}</text>"#,
            esc(t)
        );
    };
    let x0 = label_w;
    for (j, c) in h.columns.iter().enumerate() {
        let x = x0 + COL_W * (j as f64 + 0.5);
        text(&mut s, x, top - 20.0, "middle", "bold", "#000000", c);
    }
    if let Some((head, _)) = &h.note {
        text(
            &mut s,
            x0 + grid_w + 15.0,
            top - 20.0,
            "start",
            "bold",
            "#000000",
            head,
        );
    }
    let scale = |v: f64| ((v / h.low).ln() / (h.high / h.low).ln()).clamp(0.0, 1.0);
    for (i, label) in h.rows.iter().enumerate() {
        let y = top + ROW_H * i as f64;
        text(
            &mut s,
            label_w - 15.0,
            y + ROW_H / 2.0,
            "end",
            "normal",
            "#000000",
            label,
        );
        let row = &h.values[i];
        let best = row
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_finite())
            .min_by(|a, b| a.1.total_cmp(b.1))
            .map(|(j, _)| j);
        for (j, &v) in row.iter().enumerate() {
            let x = x0 + COL_W * j as f64;
            let (fill, ink) = if v.is_finite() {
                let t = scale(v);
                let (r, g, b) = shade(t);
                (
                    format!("#{r:02X}{g:02X}{b:02X}"),
                    if t > 0.55 { "#FFFFFF" } else { "#000000" },
                )
            } else {
                ("#FFFFFF".to_string(), "#000000")
            };
            let _ = writeln!(
                s,
                r##"<rect x="{x:.1}" y="{y:.1}" width="{COL_W}" height="{ROW_H}" fill="{fill}" stroke="#CCCCCC" stroke-width="1"/>"##
            );
            let weight = if Some(j) == best { "bold" } else { "normal" };
            text(
                &mut s,
                x + COL_W / 2.0,
                y + ROW_H / 2.0,
                "middle",
                weight,
                ink,
                &value_text(v),
            );
        }
        if let Some(j) = best {
            let _ = writeln!(
                s,
                r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="none" stroke="#D55E00" stroke-width="3"/>"##,
                x0 + COL_W * j as f64 + 2.0,
                y + 2.0,
                COL_W - 4.0,
                ROW_H - 4.0
            );
        }
        if let Some((_, notes)) = &h.note {
            text(
                &mut s,
                x0 + grid_w + 15.0,
                y + ROW_H / 2.0,
                "start",
                "normal",
                "#000000",
                notes.get(i).map_or("", String::as_str),
            );
        }
    }
    // The colour key: five swatches from `low` to `high`, and the outline of a row's best.
    text(
        &mut s,
        x0 - 15.0,
        key_y + ROW_H / 2.0,
        "end",
        "normal",
        "#000000",
        "colour key",
    );
    let steps = 5;
    for k in 0..steps {
        let t = k as f64 / (steps - 1) as f64;
        let v = h.low * (h.high / h.low).powf(t);
        let (r, g, b) = shade(t);
        let x = x0 + 100.0 * k as f64;
        let _ = writeln!(
            s,
            r##"<rect x="{x:.1}" y="{key_y:.1}" width="100" height="{ROW_H}" fill="#{r:02X}{g:02X}{b:02X}" stroke="#CCCCCC" stroke-width="1"/>"##
        );
        let label = if k == steps - 1 {
            format!("{} or more", value_text(v))
        } else {
            value_text(v)
        };
        text(
            &mut s,
            x + 50.0,
            key_y + ROW_H / 2.0,
            "middle",
            "normal",
            if t > 0.55 { "#FFFFFF" } else { "#000000" },
            &label,
        );
    }
    let _ = writeln!(
        s,
        r##"<rect x="{:.1}" y="{key_y:.1}" width="30" height="{ROW_H}" fill="none" stroke="#D55E00" stroke-width="3"/>"##,
        x0 + 100.0 * steps as f64 + 30.0
    );
    text(
        &mut s,
        x0 + 100.0 * steps as f64 + 70.0,
        key_y + ROW_H / 2.0,
        "start",
        "normal",
        "#000000",
        "the row's lowest",
    );
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_every_value_and_outlines_each_rows_lowest() {
        let h = Heatmap {
            title: "t".into(),
            rows: vec!["a".into(), "b & c".into()],
            columns: vec!["x".into(), "y".into(), "z".into()],
            values: vec![vec![1.5, 1.0, f64::NAN], vec![3.0, 2.0, 1.2]],
            low: 1.0,
            high: 3.0,
            note: Some(("L1".into(), vec!["0.1".into(), "0.5".into()])),
        };
        let svg = render(&h);
        roxmltree::Document::parse(&svg).unwrap();
        for t in [
            "1.50",
            "1.00",
            "-",
            "3.00",
            "2.00",
            "1.20",
            "b &amp; c",
            "L1",
        ] {
            assert!(svg.contains(&format!(">{t}<")), "{t}");
        }
        // Two rows' outlines and the key's.
        assert_eq!(svg.matches(r##"stroke="#D55E00""##).count(), 3);
        assert_eq!(shade(0.0), (247, 251, 255));
        assert_eq!(shade(2.0), (8, 48, 107));
    }
}
