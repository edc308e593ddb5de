//! From a scenario file (plus `--set` overrides) to the validated cells of a sweep. Every cell is a
//! whole scenario built by setting the axis paths in the TOML document and validating it exactly as
//! a file would be, so a bad path or value is reported before anything runs.

use crate::files::{fields, Field};
use crate::noise::splitmix64;
use std::path::Path;

use serde::Serialize;
use toml::{Table, Value};

use super::{Scenario, ScenarioError, ScenarioFile};

/// One swept parameter.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Axis {
    /// Dotted scenario path, e.g. `noise.sigma`.
    pub path: String,
    /// The values, as TOML (a table value has its `label` key removed; `{ label, value }` is `value`).
    #[serde(skip)]
    pub values: Vec<Value>,
    /// How each value is named in outputs: the number or string itself, or a table's `label`.
    pub labels: Vec<String>,
}

/// One point of the Cartesian product.
#[derive(Debug, Clone)]
pub struct Cell {
    /// Index in the product (first axis slowest).
    pub index: usize,
    /// The label of each axis's value.
    pub labels: Vec<String>,
    /// The scenario at this point.
    pub scenario: Scenario,
}

/// A validated sweep.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Scenario name (default output folder `results/<name>`).
    pub name: String,
    /// The scenario file, for messages.
    pub file: String,
    /// The axes, in file order.
    pub axes: Vec<Axis>,
    /// Noise realizations per cell.
    pub repeats: usize,
    /// The cells, in product order.
    pub cells: Vec<Cell>,
    /// The scenario seed every run seed derives from.
    pub seed: u64,
    /// The `--set` overrides applied, as given.
    pub sets: Vec<String>,
    /// The resolved base scenario (every default filled in), after the overrides.
    pub resolved: ScenarioFile,
}

/// The resolved sweep, as `scenario.json` holds it (compared on `--resume` and by `merge`).
#[derive(Debug, Clone, Serialize)]
pub struct PlanRecord<'a> {
    /// Resolved base scenario.
    pub scenario: &'a ScenarioFile,
    /// Overrides given on the command line.
    pub sets: &'a [String],
    /// Repeats per cell.
    pub repeats: usize,
    /// Axes with their value labels.
    pub axes: &'a [Axis],
    /// Number of cells and runs.
    pub cells: usize,
    /// Total runs (cells x repeats).
    pub runs: usize,
}

impl Plan {
    /// Loads `path`, applies `sets` (`PATH=VALUE`, VALUE in TOML syntax or a bare string), expands
    /// the sweep and validates every cell.
    ///
    /// # Errors
    /// [`ScenarioError`]: located errors for the file itself; otherwise naming the override or the
    /// axis value at fault.
    pub fn load(path: &Path, sets: &[String]) -> Result<Self, ScenarioError> {
        let file = path.display().to_string();
        let stem = path.file_stem().map_or_else(
            || "scenario".to_string(),
            |s| s.to_string_lossy().into_owned(),
        );
        // The file on its own first: its errors carry line and column.
        let base = Scenario::load(path)?;
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io {
            file: file.clone(),
            source,
        })?;
        let mut doc: Table = text.parse().map_err(|e: toml::de::Error| {
            invalid(&file, "", format!("TOML syntax: {}", e.message()))
        })?;
        let err = |what: &str, e: ScenarioError| -> ScenarioError {
            match e {
                ScenarioError::Invalid { field, message, .. } => {
                    invalid(&file, "", format!("{what}: {}{message}", prefix(&field)))
                }
                other => other,
            }
        };
        for set in sets {
            let (key, value) = set
                .split_once('=')
                .ok_or_else(|| invalid(&file, "", format!("--set {set}: expected PATH=VALUE")))?;
            let value = parse_value(value.trim());
            set_path(&mut doc, key.trim(), value)
                .map_err(|m| invalid(&file, "", format!("--set {set}: {m}")))?;
            Scenario::from_table(doc.clone(), &file, &stem)
                .map_err(|e| err(&format!("--set {set}"), e))?;
        }
        let scenario = if sets.is_empty() {
            base
        } else {
            Scenario::from_table(doc.clone(), &file, &stem).map_err(|e| err("--set", e))?
        };
        let sweep = scenario.resolved.sweep.clone().unwrap_or_default();
        let repeats = sweep.repeats.unwrap_or(1) as usize;
        if repeats == 0 {
            return Err(invalid(&file, "sweep.repeats", "must be at least 1".into()));
        }
        let mut axes = Vec::new();
        for (path, values) in sweep.axes.iter().flatten() {
            let field = format!("sweep.axes.{path}");
            if path.starts_with("sweep") || path.is_empty() {
                return Err(invalid(
                    &file,
                    &field,
                    "the sweep itself cannot be swept".into(),
                ));
            }
            let Value::Array(values) = values else {
                return Err(invalid(&file, &field, "must be a list of values".into()));
            };
            if values.is_empty() {
                return Err(invalid(&file, &field, "the list of values is empty".into()));
            }
            let mut stripped = Vec::with_capacity(values.len());
            let mut labels = Vec::with_capacity(values.len());
            for (i, v) in values.iter().enumerate() {
                let (v, label) = match v {
                    Value::Table(t) => {
                        let mut t = t.clone();
                        let label = match t.remove("label") {
                            Some(Value::String(s)) => s,
                            Some(_) => {
                                return Err(invalid(
                                    &file,
                                    &format!("{field}[{i}].label"),
                                    "must be a string".into(),
                                ))
                            }
                            None => format!("{}{i}", path.rsplit('.').next().unwrap_or(path)),
                        };
                        // `{ label = "...", value = X }` labels any value X (a list, say).
                        let v = match (t.len(), t.remove("value")) {
                            (1, Some(inner)) => inner,
                            (_, Some(inner)) => {
                                t.insert("value".into(), inner);
                                Value::Table(t)
                            }
                            (_, None) => Value::Table(t),
                        };
                        (v, label)
                    }
                    Value::String(s) => (v.clone(), s.clone()),
                    other => (other.clone(), other.to_string()),
                };
                if labels.contains(&label) {
                    return Err(invalid(
                        &file,
                        &format!("{field}[{i}]"),
                        format!("label {label:?} appears twice"),
                    ));
                }
                stripped.push(v);
                labels.push(label);
            }
            axes.push(Axis {
                path: path.clone(),
                values: stripped,
                labels,
            });
        }
        // A --set that an axis overrides in every cell would be silently ignored: refuse it.
        for set in sets {
            let key = set.split_once('=').map_or(set.as_str(), |(k, _)| k).trim();
            if let Some(axis) = axes.iter().find(|a| overlaps(key, &a.path)) {
                return Err(invalid(
                    &file,
                    "",
                    format!(
                        "--set {set}: the sweep axis {:?} sets {} in every cell, so this value would be \
                         ignored; change the axis instead (--set 'sweep.axes.\"{}\"=[...]')",
                        axis.path, key, axis.path
                    ),
                ));
            }
        }
        let count: usize = axes.iter().map(|a| a.values.len()).product();
        if count.saturating_mul(repeats) > 100_000_000 {
            return Err(invalid(
                &file,
                "sweep",
                format!("{count} cells x {repeats} repeats is more than 1e8 runs"),
            ));
        }
        let mut first_kinds = Vec::new();
        let base_study = scenario.resolved.study.as_ref().map(|s| s.kind);
        let mut cells = Vec::with_capacity(count);
        for index in 0..count {
            let mut rest = index;
            let mut picks = vec![0; axes.len()];
            for (k, axis) in axes.iter().enumerate().rev() {
                picks[k] = rest % axis.values.len();
                rest /= axis.values.len();
            }
            let mut cell_doc = doc.clone();
            let mut labels = Vec::with_capacity(axes.len());
            for (axis, &pick) in axes.iter().zip(&picks) {
                set_path(&mut cell_doc, &axis.path, axis.values[pick].clone())
                    .map_err(|m| invalid(&file, &format!("sweep.axes.{}", axis.path), m))?;
                labels.push(axis.labels[pick].clone());
            }
            let scenario = if axes.is_empty() {
                scenario.clone()
            } else {
                Scenario::from_table(cell_doc, &file, &stem).map_err(|e| {
                    let at: Vec<String> = axes
                        .iter()
                        .zip(&labels)
                        .map(|(a, l)| format!("{} = {l}", a.path))
                        .collect();
                    err(&format!("sweep cell {}", at.join(", ")), e)
                })?
            };
            if scenario.resolved.study.as_ref().map(|s| s.kind) != base_study {
                return Err(invalid(
                    &file,
                    "sweep.axes",
                    "an axis changes the study kind; run each study from its own scenario".into(),
                ));
            }
            // An axis may vary the parameters of the rules (each value is its own instance, named
            // with its parameter), not which rules run: every cell evaluates the same kinds.
            let kinds = |rules: &[crate::inversion::Rule]| -> Vec<std::mem::Discriminant<_>> {
                rules.iter().map(std::mem::discriminant).collect()
            };
            if index == 0 {
                first_kinds = kinds(&scenario.rules);
            } else if kinds(&scenario.rules) != first_kinds {
                return Err(invalid(
                    &file,
                    "sweep.axes",
                    "an axis changes which rules inversion.rules holds; an axis may vary their parameters only (the same rules in the same order in every cell); list every rule to compare in [inversion] rules instead (each run applies them all to one lambda path)".into(),
                ));
            }
            cells.push(Cell {
                index,
                labels,
                scenario,
            });
        }
        Ok(Self {
            name: scenario.name.clone(),
            file,
            axes,
            repeats,
            cells,
            seed: scenario.seed,
            sets: sets.to_vec(),
            resolved: scenario.resolved.clone(),
        })
    }

    /// Total number of runs.
    pub fn runs(&self) -> usize {
        self.cells.len() * self.repeats
    }

    /// The seed of run `run`: SplitMix64 of the scenario seed and the run index, so every run's
    /// noise is fixed by (seed, index) whatever the threads or shards.
    pub fn run_seed(&self, run: usize) -> u64 {
        splitmix64(self.seed ^ splitmix64(run as u64 ^ 0x5354_5a4c_4142_0001))
    }

    /// The leading fields of run `run`'s rows in `runs.csv`: run, cell, repeat, seed, and the
    /// cell's label on each axis.
    pub fn run_fields(&self, run: usize) -> Vec<Field> {
        let cell = run / self.repeats;
        let mut fields = fields![run, cell, run % self.repeats, self.run_seed(run)];
        fields.extend(
            self.cells[cell]
                .labels
                .iter()
                .map(|l| Field::from(l.as_str())),
        );
        fields
    }

    /// What `scenario.json` holds.
    pub fn record(&self) -> PlanRecord<'_> {
        PlanRecord {
            scenario: &self.resolved,
            sets: &self.sets,
            repeats: self.repeats,
            axes: &self.axes,
            cells: self.cells.len(),
            runs: self.runs(),
        }
    }
}

fn prefix(field: &str) -> String {
    if field.is_empty() {
        String::new()
    } else {
        format!("{field}: ")
    }
}

fn invalid(file: &str, field: &str, message: String) -> ScenarioError {
    ScenarioError::Invalid {
        file: file.to_string(),
        position: None,
        field: field.to_string(),
        message,
    }
}

/// A command-line value: TOML syntax (`1e-4`, `true`, `[1, 2]`, `"text"`, `{ a = 1 }`), else the bare
/// text as a string.
pub fn parse_value(text: &str) -> Value {
    format!("v = {text}")
        .parse::<Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| Value::String(text.to_string()))
}

/// The keys of a dotted path; a key in double quotes may hold dots (`sweep.axes."noise.sigma"`).
fn split_path(path: &str) -> Result<Vec<String>, String> {
    let bad = || {
        format!("{path:?} is not a dotted path of keys (letters, digits, _ and -, or \"quoted\")")
    };
    let mut keys = Vec::new();
    let mut rest = path;
    loop {
        let (key, after) = if let Some(quoted) = rest.strip_prefix('"') {
            let end = quoted.find('"').ok_or_else(bad)?;
            (&quoted[..end], &quoted[end + 1..])
        } else {
            let end = rest.find('.').unwrap_or(rest.len());
            let key = &rest[..end];
            if !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return Err(bad());
            }
            (key, &rest[end..])
        };
        if key.is_empty() {
            return Err(bad());
        }
        keys.push(key.to_string());
        if after.is_empty() {
            return Ok(keys);
        }
        rest = after.strip_prefix('.').ok_or_else(bad)?;
    }
}

/// Sets a dotted path in a TOML table, creating intermediate tables.
///
/// # Errors
/// A message when the path is malformed or runs through a value that is not a table.
pub fn set_path(doc: &mut Table, path: &str, value: Value) -> Result<(), String> {
    let keys = split_path(path)?;
    if let Some(bad) = first_non_finite(&value) {
        return Err(format!("{bad}: NaN and infinity are not allowed"));
    }
    let mut table = doc;
    for (i, key) in keys[..keys.len() - 1].iter().enumerate() {
        let entry = table
            .entry(key.clone())
            .or_insert_with(|| Value::Table(Table::new()));
        match entry {
            Value::Table(t) => table = t,
            _ => return Err(format!("{} is a value, not a table", keys[..=i].join("."))),
        }
    }
    table.insert(keys[keys.len() - 1].clone(), value);
    Ok(())
}

fn first_non_finite(v: &Value) -> Option<String> {
    match v {
        Value::Float(f) if !f.is_finite() => Some(f.to_string()),
        Value::Array(a) => a.iter().find_map(first_non_finite),
        Value::Table(t) => t.values().find_map(first_non_finite),
        _ => None,
    }
}

/// Whether setting `key` and sweeping `axis` touch the same value: the same path, one inside the
/// other (`protocol` and `protocol.t_c_s`), or the grid's two alternative sizes (`inversion.points`
/// overrides `inversion.per_decade`).
fn overlaps(key: &str, axis: &str) -> bool {
    let inside = |a: &str, b: &str| {
        a == b || a.starts_with(&format!("{b}.")) || a.starts_with(&format!("{b}["))
    };
    let grid = ["inversion.points", "inversion.per_decade"];
    inside(key, axis) || inside(axis, key) || (grid.contains(&key) && grid.contains(&axis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_overlaps_an_axis_on_the_same_path_inside_around_or_on_the_grid_size() {
        assert!(overlaps("noise.sigma", "noise.sigma"));
        assert!(overlaps("protocol.t_c_s", "protocol"));
        assert!(overlaps("truth", "truth.peaks"));
        assert!(overlaps("truth.peaks[0].tau_s", "truth.peaks"));
        assert!(overlaps("inversion.points", "inversion.per_decade"));
        assert!(!overlaps("noise.sigma_column", "noise.sigma"));
        assert!(!overlaps("sweep.repeats", "noise.sigma"));
        assert!(!overlaps("inversion.order", "inversion.per_decade"));
    }

    #[test]
    fn values_parse_as_toml_or_fall_back_to_strings() {
        assert_eq!(parse_value("1e-4"), Value::Float(1e-4));
        assert_eq!(parse_value("20"), Value::Integer(20));
        assert_eq!(parse_value("gcv"), Value::String("gcv".into()));
        assert_eq!(parse_value("\"a b\""), Value::String("a b".into()));
    }

    #[test]
    fn paths_create_tables_and_refuse_to_pass_through_values() {
        let mut t: Table = "a = 1\n[b]\nc = 2\n".parse().unwrap();
        set_path(&mut t, "b.c", Value::Integer(3)).unwrap();
        set_path(&mut t, "d.e", Value::Integer(4)).unwrap();
        assert_eq!(t["b"]["c"], Value::Integer(3));
        assert_eq!(t["d"]["e"], Value::Integer(4));
        assert!(set_path(&mut t, "a.x", Value::Integer(1)).is_err());
        assert!(set_path(&mut t, "b..c", Value::Integer(1)).is_err());
        set_path(&mut t, "s.\"x.y\"", Value::Integer(5)).unwrap();
        assert_eq!(t["s"]["x.y"].as_integer(), Some(5));
        for bad in ["s.\"x", "s.\"x\"y", "s.\"\"", "s.x y", ""] {
            assert!(set_path(&mut t, bad, Value::Integer(1)).is_err(), "{bad}");
        }
        assert!(set_path(&mut t, "b.c", Value::Float(f64::NAN)).is_err());
    }

    #[test]
    fn run_seeds_are_distinct() {
        let seeds: std::collections::HashSet<u64> = (0..10_000)
            .map(|i| splitmix64(7 ^ splitmix64(i ^ 0x5354_5a4c_4142_0001)))
            .collect();
        assert_eq!(seeds.len(), 10_000);
    }
}
