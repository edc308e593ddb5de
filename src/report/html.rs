//! `index.html`: one static page (no scripts, no network) showing every figure with its caption and
//! the key numbers of summary.json as tables.

use serde_json::Value;

use super::plot::Figure;
use super::provenance::Provenance;
use super::units::unit_of;

/// Escapes text for HTML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A number or short value as table text.
fn cell(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        // Integers (counts, seeds) exactly; measured values in the one format of `fmt`.
        Value::Number(n) if n.is_u64() || n.is_i64() => n.to_string(),
        Value::Number(n) => n.as_f64().map_or_else(|| n.to_string(), fmt),
        Value::String(s) => esc(s),
        Value::Bool(b) => b.to_string(),
        Value::Array(a) if a.iter().all(|x| !x.is_object() && !x.is_array()) => {
            a.iter().map(cell).collect::<Vec<_>>().join(", ")
        }
        Value::Object(o) if o.contains_key("label") => cell(&o["label"]),
        other => esc(&other.to_string()),
    }
}

/// The page's one number format: four significant digits, trailing zeros dropped; plain decimals
/// from 1e-3 to below 1e5, otherwise mantissa and exponent (`3e-5`, `1.04e-29`, `2.5e6`). A value
/// below 1000 that is not a whole number never prints as one: more digits are shown until it
/// differs (R^2 = 0.99998 is not "1").
fn fmt(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return if x == 0.0 { "0".into() } else { x.to_string() };
    }
    let whole = |s: &str| s.parse::<f64>().is_ok_and(|v| v.fract() == 0.0);
    let mut text = significant(x, 4);
    for digits in 5..=10 {
        if x.fract() == 0.0 || x.abs() >= 1e3 || !whole(&text) {
            break;
        }
        text = significant(x, digits);
    }
    text
}

/// `x` to `digits` significant digits in the page's format.
fn significant(x: f64, digits: usize) -> String {
    let sci = format!("{x:.prec$e}", prec = digits - 1);
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let trim = |s: &str| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if (-3..5).contains(&exponent) {
        let decimals = usize::try_from(digits as i32 - 1 - exponent).unwrap_or(0);
        trim(&format!("{x:.decimals$}"))
    } else {
        format!("{}e{exponent}", trim(mantissa))
    }
}

/// A key with its unit, for a table header: `tau_s [s]`.
fn with_unit(key: &str) -> String {
    match unit_of(key) {
        Some(u) => format!("{} <small>[{}]</small>", esc(key), esc(u)),
        None => esc(key),
    }
}

/// Whether a value is a number or a list of numbers (what carries a unit).
fn numeric(v: &Value) -> bool {
    match v {
        Value::Number(_) => true,
        Value::Array(a) => !a.is_empty() && a.iter().all(Value::is_number),
        _ => false,
    }
}

/// A two-column table of the scalar fields of an object.
fn fields_table(title: &str, v: &Value) -> String {
    let Some(o) = v.as_object() else {
        return String::new();
    };
    let rows: String = o
        .iter()
        .filter(|(_, x)| !x.is_object() || x.get("label").is_some())
        .filter(|(_, x)| !matches!(x, Value::Array(a) if a.iter().any(|e| e.is_object() || e.is_array())))
        .map(|(k, x)| {
            let unit = if numeric(x) { unit_of(k).unwrap_or("") } else { "" };
            format!(
                "<tr><th>{}</th><td>{}</td><td>{}</td></tr>\n",
                esc(k),
                cell(x),
                esc(unit)
            )
        })
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    format!(
        "<h2>{}</h2>\n<table>\n<tr><th>quantity</th><th>value</th><th>unit</th></tr>\n{rows}</table>\n",
        esc(title)
    )
}

/// The baseline's coefficients with their linearized standard errors (`-` where there is none:
/// a coefficient held at its bound, a family without them).
fn baseline_table(values: &Value, errors: &Value) -> String {
    let Some(o) = values.as_object().filter(|o| !o.is_empty()) else {
        return String::new();
    };
    let rows: String = o
        .iter()
        .map(|(k, x)| {
            let unit = if numeric(x) {
                unit_of(k).unwrap_or("")
            } else {
                ""
            };
            format!(
                "<tr><th>{}</th><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                esc(k),
                cell(x),
                cell(errors.get(k).unwrap_or(&Value::Null)),
                esc(unit)
            )
        })
        .collect();
    format!(
        "<h2>Baseline</h2>\n<table>\n<tr><th>quantity</th><th>value</th><th>standard error</th>\
         <th>unit</th></tr>\n{rows}</table>\n"
    )
}

/// A table of an array of objects (columns: the scalar keys of the first object).
fn array_table(title: &str, v: &Value) -> String {
    let Some(items) = v.as_array().filter(|a| !a.is_empty()) else {
        return String::new();
    };
    let Some(first) = items[0].as_object() else {
        return String::new();
    };
    let keys: Vec<&String> = first
        .iter()
        .filter(|(_, x)| !x.is_array() && (!x.is_object() || x.get("label").is_some()))
        .map(|(k, _)| k)
        .collect();
    let mut s = format!("<h2>{}</h2>\n<table>\n<tr>", esc(title));
    for k in &keys {
        let numbers = items.iter().any(|it| numeric(&it[k.as_str()]));
        let head = if numbers { with_unit(k) } else { esc(k) };
        s.push_str(&format!("<th>{head}</th>"));
    }
    s.push_str("</tr>\n");
    for it in items {
        s.push_str("<tr>");
        for k in &keys {
            s.push_str(&format!("<td>{}</td>", cell(&it[k.as_str()])));
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</table>\n");
    s
}

/// Per-cell medians (p05-p95) of the named statistics; `rule` adds a rule column (sweeps).
fn cells_table(title: &str, summary: &Value, names: &[String], by_rule: bool) -> String {
    let Some(cells) = summary["cells"].as_array().filter(|c| !c.is_empty()) else {
        return String::new();
    };
    let mut s = format!(
        "<h2>{}</h2>\n<p>median [p05, p95] over the repeats</p>\n<table>\n<tr><th>cell</th><th>axes</th>",
        esc(title)
    );
    if by_rule {
        s.push_str("<th>rule</th>");
    }
    for n in names {
        s.push_str(&format!("<th>{}</th>", with_unit(n)));
    }
    s.push_str("</tr>\n");
    for c in cells {
        let axes = c["axes"]
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| match unit_of(k).filter(|_| numeric(v)) {
                        Some(u) => format!("{} = {} <small>[{}]</small>", esc(k), cell(v), esc(u)),
                        None => format!("{} = {}", esc(k), cell(v)),
                    })
                    .collect::<Vec<_>>()
                    .join("<br>")
            })
            .unwrap_or_default();
        s.push_str(&format!("<tr><td>{}</td><td>{axes}</td>", cell(&c["cell"])));
        if by_rule {
            s.push_str(&format!("<td>{}</td>", cell(&c["rule"])));
        }
        for n in names {
            let m = &c["metrics"][n];
            s.push_str(&format!(
                "<td>{} <small>[{}, {}]</small></td>",
                cell(&m["median"]),
                cell(&m["p05"]),
                cell(&m["p95"])
            ));
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</table>\n");
    s
}

/// The bootstrap's peak intervals (invert with `--uncertainty`).
fn uncertainty_table(summary: &Value) -> String {
    let u = &summary["uncertainty"];
    let Some(peaks) = u["peaks"].as_array().filter(|p| !p.is_empty()) else {
        return String::new();
    };
    let mut s = format!(
        "<h2>Uncertainty</h2>\n<p>{} bootstrap: {} resamples (seed {}), {} without a choice; nominal 90 % \
         intervals (basic bootstrap: lower limit [centre] upper limit); appearance = fraction of \
         resamples with the peak.</p>\n<table>\n<tr><th>peak</th><th>appearance <small>[1]</small></th>\
         <th>tau <small>[s]</small></th><th>area <small>[1]</small></th><th>dF <small>[eV]</small></th>\
         <th>Omega <small>[m^3]</small></th></tr>\n",
        cell(&u["resampling"]),
        cell(&u["resamples"]),
        cell(&u["seed"]),
        cell(&u["failed"]),
    );
    let interval = |i: &Value| {
        if i.is_null() {
            "-".to_string()
        } else {
            format!(
                "{} [{}] {}",
                cell(&i["p05"]),
                cell(&i["p50"]),
                cell(&i["p95"])
            )
        }
    };
    for (k, p) in peaks.iter().enumerate() {
        s.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            k + 1,
            cell(&p["appearance"]),
            interval(&p["tau_s"]),
            interval(&p["area"]),
            interval(&p["df_ev"]),
            interval(&p["omega_m3"]),
        ));
    }
    s.push_str("</table>\n");
    if !u["omega_slope_m3"].is_null() {
        s.push_str(&format!(
            "<p>Omega slope: {} m^3</p>\n",
            interval(&u["omega_slope_m3"])
        ));
    }
    s
}

/// The lines that say how and when the folder was made (from its provenance.json; the version
/// alone when it has none, as in a folder written before stzlab recorded it).
fn provenance_header(provenance: Option<&Provenance>) -> String {
    match provenance {
        Some(p) => format!(
            "<p class=\"provenance\"><code>{}</code><br>stzlab {}, finished {}, run time {} s</p>\n",
            esc(&p.command),
            esc(&p.version),
            esc(&p.finished_utc),
            fmt(p.run_time_s)
        ),
        None => format!(
            "<p class=\"provenance\">stzlab {} (this folder records no command line)</p>\n",
            env!("CARGO_PKG_VERSION")
        ),
    }
}

/// The page for an output folder: its summary as tables, every figure with its caption, and links
/// to the folder's tables (`tables`: file names).
pub fn index_html(
    title: &str,
    summary: &Value,
    figures: &[Figure],
    tables: &[String],
    provenance: Option<&Provenance>,
) -> String {
    let mut body = String::new();
    if summary.get("study").is_some() {
        body.push_str(&fields_table(
            "Headline (medians over the first cell's repeats)",
            &summary["headline"],
        ));
        let names: Vec<String> = summary["numbers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        if summary["cells"].as_array().is_some_and(|c| c.len() > 1) {
            body.push_str(&cells_table("Cells", summary, &names, false));
        }
        body.push_str(&fields_table("Run", summary));
    } else if summary.get("cells").is_some() {
        body.push_str(&fields_table("Run", summary));
        body.push_str(&array_table(
            "Best rule per cell (lowest median regret)",
            &summary["best_rule"],
        ));
        let names: Vec<String> = [
            "spectrum_l1",
            "regret",
            "area_error",
            "centroid_error_decades",
            "peaks",
            "missed",
            "spurious",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        body.push_str(&cells_table(
            "Recovery by cell and rule",
            summary,
            &names,
            true,
        ));
        body.push_str(&array_table("STZ percolation", &summary["percolation"]));
    } else if !summary.is_null() {
        body.push_str(&fields_table("Chosen solution", summary));
        body.push_str(&baseline_table(
            &summary["baseline"],
            &summary["baseline_stderr"],
        ));
        // How the choice was made: the whiteness screen of `consensus` (its ceiling is empty where
        // the screen did not apply) and the solver's report at the chosen lambda.
        body.push_str(&fields_table(
            "Whiteness screen of consensus (path.csv: residual_lag1)",
            &summary["whiteness"],
        ));
        body.push_str(&fields_table(
            "Consensus against its evidence member (README, \"When the rules disagree\")",
            &summary["disagreement"],
        ));
        body.push_str(&fields_table(
            "Solver at the chosen lambda",
            &summary["nnls"],
        ));
        if summary.get("volume").is_some() {
            // Over STZ volumes: the peaks with their sizes (their intervals are in peaks.csv).
            body.push_str(&fields_table("STZ volumes", &summary["volume"]));
            body.push_str(&array_table("Peaks by volume", &summary["volume"]["peaks"]));
        } else if summary.get("energy").is_some() {
            // In activation energy: the peaks in dF (their intervals are in peaks.csv).
            body.push_str(&fields_table("Activation energy", &summary["energy"]));
            body.push_str(&array_table("Peaks in dF", &summary["energy"]["peaks"]));
        } else {
            body.push_str(&array_table("Peaks", &summary["peaks"]));
            body.push_str(&uncertainty_table(summary));
        }
        body.push_str(&array_table("Joint data sets", &summary["sets"]));
        body.push_str(&array_table("Other rules", &summary["other_rules"]));
        body.push_str(&array_table("Series", &summary["series"]));
    }
    if let Some(c) = summary["coverage"].as_array().filter(|c| !c.is_empty()) {
        let rows: Vec<Value> = c
            .iter()
            .map(|e| {
                let mut row = serde_json::Map::new();
                row.insert("cell".into(), e["cell"].clone());
                row.insert("rule".into(), e["rule"].clone());
                for q in ["density", "tau", "area", "slope"] {
                    row.insert(q.into(), e["coverage"][q]["mean"].clone());
                }
                row.insert("runs".into(), e["coverage"]["tau"]["runs"].clone());
                Value::Object(row)
            })
            .collect();
        body.push_str(&array_table(
            "Coverage of the nominal 90 % bootstrap intervals (fraction of truths inside)",
            &Value::Array(rows),
        ));
    }
    if !tables.is_empty() {
        let links: Vec<String> = tables
            .iter()
            .map(|t| format!("<a href=\"{0}\">{0}</a>", esc(t)))
            .collect();
        body.push_str(&format!(
            "<h2>Files</h2>\n<p>{} (columns and units: the README's output tables)</p>\n",
            links.join(" &middot; ")
        ));
    }
    for f in figures {
        body.push_str(&format!(
            "<figure>\n<a href=\"{0}\"><img src=\"{0}\" alt=\"{1}\"></a>\n<figcaption>{1}</figcaption>\n</figure>\n",
            esc(&f.file),
            esc(&f.caption)
        ));
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>stzlab: {t}</title>\n<style>\nbody {{ font-family: sans-serif; margin: 2em; max-width: 1400px; }}\ntable {{ border-collapse: collapse; margin-bottom: 1em; font-size: 0.9em; }}\nth, td {{ border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: left; vertical-align: top; }}\nfigure {{ margin: 2em 0; }}\nimg {{ max-width: 100%; border: 1px solid #eee; }}\nfigcaption {{ color: #333; }}\n</style>\n</head>\n<body>\n<h1>stzlab: {t}</h1>\n{made}<p>Every number is in <code>summary.json</code> and the CSV files of this folder (linked below), with its unit in brackets beside it here: [1] dimensionless, [count] a count, [id] a number that names a cell, peak or seed, [y unit] the unit of the data's y column, [x unit] that of its x column (s, or rad/s for loss data).</p>\n{body}</body>\n</html>\n",
        t = esc(title),
        made = provenance_header(provenance),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_formats() {
        assert_eq!(esc("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
        for (x, text) in [
            (0.5, "0.5"),
            (0.0, "0"),
            (3e-5, "3e-5"),
            (0.00125, "0.00125"),
            (1.04e-29, "1.04e-29"),
            (1e6, "1e6"),
            (2.5e6, "2.5e6"),
            (12_345.6, "12346"),
            (295.0, "295"),
            (-0.123_456, "-0.1235"),
            (9.99951, "9.9995"),
            (0.999_983_5, "0.99998"),
            (1.000_003_2, "1.000003"),
            (2e6, "2e6"),
        ] {
            assert_eq!(fmt(x), text, "{x}");
        }
        // Integers (counts, seeds) print exactly.
        assert_eq!(cell(&serde_json::json!(12_345_678_901_u64)), "12345678901");
        let p = Provenance {
            command: "stzlab run a.toml".into(),
            version: "0.1.0".into(),
            finished_utc: "2026-12-02 11:00:00 UTC".into(),
            run_time_s: 12.345,
        };
        let page = index_html(
            "x<y",
            &serde_json::json!({"rule": "gcv", "kind": "decay", "peaks": [{"tau_s": 1.5}]}),
            &[],
            &["peaks.csv".to_string()],
            Some(&p),
        );
        assert!(page.contains("<a href=\"peaks.csv\">peaks.csv</a>"));
        assert!(page.contains("stzlab: x&lt;y"));
        assert!(page.contains("<td>1.5</td>"));
        assert!(page.contains("tau_s <small>[s]</small>"));
        assert!(page.contains("<code>stzlab run a.toml</code>"));
        assert!(page.contains("finished 2026-12-02 11:00:00 UTC, run time 12.35 s"));
    }

    #[test]
    fn an_inversion_page_shows_the_screen_and_the_solver_of_its_choice() {
        let summary = serde_json::json!({
            "rule": "consensus", "kind": "decay", "peaks": [],
            "whiteness": {"best_lag1": 0.0045, "ceiling": 0.358, "excluded": 3},
            "nnls": {"iterations": 4, "status": "converged"}
        });
        let page = index_html("x", &summary, &[], &[], None);
        let screen = page.find("Whiteness screen").expect("the screen's table");
        assert!(page[screen..].contains("<tr><th>excluded</th><td>3</td><td>count</td></tr>"));
        assert!(page[screen..].contains("<tr><th>ceiling</th><td>0.358</td><td>1</td></tr>"));
        let solver = page
            .find("Solver at the chosen lambda")
            .expect("the solver's table");
        assert!(page[solver..].contains("<td>converged</td>"));
        // A rule without the screen (whiteness null) has no such table.
        let page = index_html(
            "x",
            &serde_json::json!({"rule": "gcv", "kind": "decay", "whiteness": null}),
            &[],
            &[],
            None,
        );
        assert!(!page.contains("Whiteness screen"));
    }
}
