//! Maps between byte offsets in a TOML document and dotted field paths, so that every scenario
//! error can name its field and line.

use std::ops::Range;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::{Invalid, ScenarioError};

/// 1-based line and column of a byte offset.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(offset, |nl| offset - nl - 1) + 1;
    (line, column)
}

/// The most specific field path (`a.b[2].c`) whose key or value span contains `offset`.
pub(crate) fn path_at(text: &str, offset: usize) -> Option<String> {
    let table = DeTable::parse(text).ok()?;
    let mut best: Option<(String, usize)> = None;
    walk_table(
        table.get_ref(),
        "",
        0,
        &mut |path, key_span, value_span, depth| {
            let hit = |s: &Range<usize>| s.start <= offset && offset <= s.end;
            let deeper = best.as_ref().is_none_or(|(_, d)| depth >= *d);
            if (key_span.is_some_and(hit) || hit(value_span)) && deeper {
                best = Some((path.to_string(), depth));
            }
        },
    );
    best.map(|(p, _)| p)
}

/// Byte span of the value at a dotted field path, if the document has it.
pub(crate) fn span_of(text: &str, path: &str) -> Option<Range<usize>> {
    let table = DeTable::parse(text).ok()?;
    let mut found = None;
    walk_table(table.get_ref(), "", 0, &mut |p, key_span, value_span, _| {
        if p == path && found.is_none() {
            found = Some(key_span.cloned().unwrap_or_else(|| value_span.clone()));
        }
    });
    found
}

type Visit<'a> = dyn FnMut(&str, Option<&Range<usize>>, &Range<usize>, usize) + 'a;

fn walk_table(table: &DeTable<'_>, prefix: &str, depth: usize, visit: &mut Visit<'_>) {
    for (key, value) in table.iter() {
        let path = if prefix.is_empty() {
            key.get_ref().to_string()
        } else {
            format!("{prefix}.{}", key.get_ref())
        };
        visit(&path, Some(&key.span()), &value.span(), depth);
        walk_value(value, &path, depth + 1, visit);
    }
}

fn walk_value(value: &Spanned<DeValue<'_>>, path: &str, depth: usize, visit: &mut Visit<'_>) {
    match value.get_ref() {
        DeValue::Table(t) => walk_table(t, path, depth, visit),
        DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let p = format!("{path}[{i}]");
                visit(&p, None, &item.span(), depth);
                walk_value(item, &p, depth + 1, visit);
            }
        }
        _ => {}
    }
}

/// Deserializes TOML text into `T`, turning syntax, NaN/infinity and schema errors into located
/// [`ScenarioError`]s.
pub(super) fn parse_located<T: serde::de::DeserializeOwned>(
    text: &str,
    file: &str,
) -> Result<T, ScenarioError> {
    let at = |offset: Option<usize>, field: String, message: String| ScenarioError::Invalid {
        file: file.to_string(),
        position: offset.map(|o| line_col(text, o)),
        field,
        message,
    };
    let doc = toml::de::DeTable::parse(text).map_err(|e| {
        let offset = e.span().map(|s| s.start);
        at(
            offset,
            String::new(),
            format!("TOML syntax: {}", e.message().trim()),
        )
    })?;
    if let Some((path, offset)) = first_non_finite(doc.get_ref()) {
        return Err(at(
            Some(offset),
            path,
            "NaN and infinity are not allowed".into(),
        ));
    }
    toml::from_str(text).map_err(|e| {
        let offset = e.span().map(|s| s.start);
        let mut field = offset.and_then(|o| path_at(text, o)).unwrap_or_default();
        let message = e.message().trim().to_string();
        if let Some(missing) = message
            .strip_prefix("missing field `")
            .and_then(|m| m.split('`').next())
        {
            field = if field.is_empty() {
                missing.to_string()
            } else {
                format!("{field}.{missing}")
            };
        }
        at(offset, field, message)
    })
}

/// Places a validation failure at its field's line in `text`.
pub(super) fn locate_invalid(text: &str, file: &str, e: Invalid) -> ScenarioError {
    let offset = span_of(text, &e.field)
        .or_else(|| {
            e.field
                .rsplit_once('.')
                .and_then(|(parent, _)| span_of(text, parent))
        })
        .map(|s| s.start);
    ScenarioError::Invalid {
        file: file.to_string(),
        position: offset.map(|o| line_col(text, o)),
        field: e.field,
        message: e.message,
    }
}

/// The first NaN or infinite float in the document, with its path and byte offset.
pub(super) fn first_non_finite(table: &toml::de::DeTable<'_>) -> Option<(String, usize)> {
    fn visit(value: &toml::Spanned<toml::de::DeValue<'_>>, path: &str) -> Option<(String, usize)> {
        match value.get_ref() {
            toml::de::DeValue::Float(f) => {
                let raw = f.as_str().to_ascii_lowercase();
                (raw.contains("nan") || raw.contains("inf"))
                    .then(|| (path.to_string(), value.span().start))
            }
            toml::de::DeValue::Table(t) => t
                .iter()
                .find_map(|(k, v)| visit(v, &join(path, k.get_ref()))),
            toml::de::DeValue::Array(a) => a
                .iter()
                .enumerate()
                .find_map(|(i, v)| visit(v, &format!("{path}[{i}]"))),
            _ => None,
        }
    }
    fn join(prefix: &str, key: &str) -> String {
        if prefix.is_empty() {
            key.to_string()
        } else {
            format!("{prefix}.{key}")
        }
    }
    table.iter().find_map(|(k, v)| visit(v, k.get_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "version = 1\n[material]\nmu_gpa = 19.2\nnu = 0.6\n[truth]\nc = [0.1, -2.0]\npeaks = [{ tau_s = 1.0, area = 2 }]\n";

    #[test]
    fn finds_lines_of_nested_fields() {
        let span = span_of(DOC, "material.nu").unwrap();
        assert_eq!(line_col(DOC, span.start).0, 4);
        let span = span_of(DOC, "truth.c[1]").unwrap();
        assert_eq!(line_col(DOC, span.start), (6, 11));
        let span = span_of(DOC, "truth.peaks[0].area").unwrap();
        assert_eq!(line_col(DOC, span.start).0, 7);
        assert!(span_of(DOC, "material.beta").is_none());
    }

    #[test]
    fn names_the_field_at_an_offset() {
        let offset = DOC.find("0.6").unwrap();
        assert_eq!(path_at(DOC, offset).as_deref(), Some("material.nu"));
        let offset = DOC.find("-2.0").unwrap();
        assert_eq!(path_at(DOC, offset).as_deref(), Some("truth.c[1]"));
    }
}
