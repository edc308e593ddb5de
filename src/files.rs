//! The output folder (guarded against overwriting, atomic writes, stale files removed) and the two
//! text conventions every table shares: numbers in their shortest round-trip form and RFC 4180 lines.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Why an output folder could not be used.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The folder has files and neither `--force` nor `--resume` was given.
    #[error("{0}: output folder is not empty (use --force to overwrite)")]
    NotEmpty(PathBuf),
    /// The path exists and is not a folder.
    #[error("{0}: exists and is not a folder")]
    NotADirectory(PathBuf),
    /// Any I/O failure, with the path involved.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> OutputError + '_ {
    move |source| OutputError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// An output folder that refuses to overwrite unless asked, and writes every file atomically
/// (a temporary file in the same folder, then a rename), so a reader never sees half a file.
#[derive(Debug, Clone)]
pub struct OutputDir {
    path: PathBuf,
}

impl OutputDir {
    /// Creates `path` (and parents) if needed. An existing non-empty folder is refused unless
    /// `force`; with `force` existing files are overwritten one by one as new ones are written.
    ///
    /// # Errors
    /// [`OutputError`].
    pub fn prepare(path: &Path, force: bool) -> Result<Self, OutputError> {
        if path.exists() {
            if !path.is_dir() {
                return Err(OutputError::NotADirectory(path.to_path_buf()));
            }
            let mut entries = fs::read_dir(path).map_err(io(path))?;
            if entries.next().is_some() && !force {
                return Err(OutputError::NotEmpty(path.to_path_buf()));
            }
        } else {
            fs::create_dir_all(path).map_err(io(path))?;
        }
        Ok(Self {
            path: path.to_path_buf(),
        })
    }

    /// Removes the per-cell tables and figures (`NAME_cellNNNN.csv`, `.svg`) an earlier run left
    /// here, so that a new run with fewer cells, or another kind of run, is not reported with them.
    /// Only names of that form are touched.
    ///
    /// # Errors
    /// [`OutputError::Io`].
    pub fn remove_cell_files(&self) -> Result<(), OutputError> {
        for entry in fs::read_dir(&self.path).map_err(io(&self.path))? {
            let entry = entry.map_err(io(&self.path))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if is_cell_file(&name) && entry.path().is_file() {
                fs::remove_file(entry.path()).map_err(io(&entry.path()))?;
            }
        }
        Ok(())
    }

    /// Opens an existing or new folder without the emptiness check (for `--resume`).
    ///
    /// # Errors
    /// [`OutputError`].
    pub fn open(path: &Path) -> Result<Self, OutputError> {
        if path.exists() && !path.is_dir() {
            return Err(OutputError::NotADirectory(path.to_path_buf()));
        }
        fs::create_dir_all(path).map_err(io(path))?;
        Ok(Self {
            path: path.to_path_buf(),
        })
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Path of a file in the folder.
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Writes `bytes` to `name` atomically.
    ///
    /// # Errors
    /// [`OutputError::Io`].
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<PathBuf, OutputError> {
        let target = self.file(name);
        let tmp = self.file(&format!(".{name}.{}.tmp", std::process::id()));
        let result = (|| {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            fs::rename(&tmp, &target)
        })();
        if let Err(source) = result {
            let _ = fs::remove_file(&tmp);
            return Err(OutputError::Io {
                path: target,
                source,
            });
        }
        Ok(target)
    }

    /// Removes those of `owned` (names this command may write) that exist but are not in `written`,
    /// so a `--force` rerun leaves no stale output from an earlier run. Other files are left alone.
    ///
    /// # Errors
    /// [`OutputError::Io`].
    pub fn remove_stale(
        &self,
        owned: &[&str],
        written: &[(String, Vec<u8>)],
    ) -> Result<(), OutputError> {
        for name in owned {
            if written.iter().any(|(w, _)| w == name) {
                continue;
            }
            let path = self.file(name);
            if path.is_file() {
                fs::remove_file(&path).map_err(io(&path))?;
            }
        }
        Ok(())
    }

    /// Writes several files, each atomically, after all of them have been produced in memory.
    ///
    /// # Errors
    /// [`OutputError::Io`] at the first failure.
    pub fn write_all(&self, files: &[(String, Vec<u8>)]) -> Result<Vec<PathBuf>, OutputError> {
        files
            .iter()
            .map(|(name, bytes)| self.write(name, bytes))
            .collect()
    }
}

/// Named values in their order, written as one JSON object (`{"name": value, ...}`): the typed
/// form of a summary's tables whose keys are metric, number or status names.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Named<T>(pub Vec<(String, T)>);

impl<T> Named<T> {
    /// The value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&T> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }
}

impl Named<usize> {
    /// Adds one to the count of `name` (appended at the end when new).
    pub fn count(&mut self, name: &str) {
        match self.0.iter_mut().find(|(n, _)| n == name) {
            Some((_, v)) => *v += 1,
            None => self.0.push((name.to_string(), 1)),
        }
    }
}

impl<T> FromIterator<(String, T)> for Named<T> {
    fn from_iter<I: IntoIterator<Item = (String, T)>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl<T: serde::Serialize> serde::Serialize for Named<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Named<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Entries<T>(std::marker::PhantomData<T>);
        impl<'de, T: serde::Deserialize<'de>> serde::de::Visitor<'de> for Entries<T> {
            type Value = Named<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of named values")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Named<T>, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    out.push(entry);
                }
                Ok(Named(out))
            }
        }
        d.deserialize_map(Entries(std::marker::PhantomData))
    }
}

/// Reads a number that JSON may hold as null (serde_json writes NaN and infinities as null).
///
/// # Errors
/// When the value is neither a number nor null.
pub fn nan_if_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(<Option<f64> as serde::Deserialize>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// One value of a [`Table`].
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    /// A number, written by [`num`].
    Num(f64),
    /// A count, an index or a seed.
    Int(u64),
    /// Text (a label, a flag).
    Text(String),
    /// No value (an empty field).
    Empty,
}

impl From<f64> for Field {
    fn from(x: f64) -> Self {
        Self::Num(x)
    }
}

impl From<usize> for Field {
    fn from(i: usize) -> Self {
        Self::Int(i as u64)
    }
}

impl From<u64> for Field {
    fn from(i: u64) -> Self {
        Self::Int(i)
    }
}

impl From<u32> for Field {
    fn from(i: u32) -> Self {
        Self::Int(u64::from(i))
    }
}

impl From<bool> for Field {
    fn from(b: bool) -> Self {
        Self::Text(b.to_string())
    }
}

impl From<&str> for Field {
    fn from(s: &str) -> Self {
        Self::Text(s.to_string())
    }
}

impl From<String> for Field {
    fn from(s: String) -> Self {
        Self::Text(s)
    }
}

impl<T: Into<Field>> From<Option<T>> for Field {
    fn from(v: Option<T>) -> Self {
        v.map_or(Self::Empty, Into::into)
    }
}

impl Field {
    /// The field as written.
    pub fn text(&self) -> String {
        match self {
            Self::Num(x) => num(*x),
            Self::Int(i) => i.to_string(),
            Self::Text(s) => s.clone(),
            Self::Empty => String::new(),
        }
    }
}

/// A table of named columns and typed rows: what the studies and sweeps hand over to be written as
/// CSV (one writer, [`Table::to_csv`]).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    /// Column names (the header).
    pub columns: Vec<String>,
    /// Rows, each as long as the header.
    pub rows: Vec<Vec<Field>>,
}

impl Table {
    /// An empty table with these columns.
    pub fn new<S: AsRef<str>>(columns: &[S]) -> Self {
        Self {
            columns: columns.iter().map(|c| c.as_ref().to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row.
    ///
    /// # Panics
    /// When the row's length differs from the header's (a programming error).
    pub fn push(&mut self, row: Vec<Field>) {
        assert_eq!(row.len(), self.columns.len(), "a row of {:?}", self.columns);
        self.rows.push(row);
    }

    /// The header and every row as CSV text.
    pub fn to_csv(&self) -> String {
        let mut text = csv_line(&self.columns);
        for row in &self.rows {
            text.push_str(&csv_line(&row.iter().map(Field::text).collect::<Vec<_>>()));
        }
        text
    }
}

/// The fields of a table row: `fields![a, b, c]` is `vec![Field::from(a), ...]`.
macro_rules! fields {
    ($($x:expr),* $(,)?) => {
        vec![$($crate::files::Field::from($x)),*]
    };
}
pub(crate) use fields;

/// A number in its shortest round-trip form: positional for moderate magnitudes, scientific otherwise.
pub fn num(x: f64) -> String {
    let a = x.abs();
    if a == 0.0 || (1e-4..1e7).contains(&a) {
        format!("{x}")
    } else {
        format!("{x:e}")
    }
}

/// One CSV line, quoting fields that need it.
pub(crate) fn csv_line(fields: &[String]) -> String {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    // Writing to memory cannot fail, and the csv crate's fields are the strings given.
    w.write_record(fields).expect("a CSV record in memory");
    let bytes = w.into_inner().expect("a CSV writer's buffer");
    String::from_utf8(bytes).expect("CSV of UTF-8 fields")
}

/// Whether `name` is a per-cell output: `stem_cellNNNN.csv` or `.svg`, stem in [a-z0-9_].
fn is_cell_file(name: &str) -> bool {
    let Some((stem, ext)) = name.rsplit_once('.') else {
        return false;
    };
    let Some((head, digits)) = stem.rsplit_once("_cell") else {
        return false;
    };
    matches!(ext, "csv" | "svg")
        && digits.len() == 4
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !head.is_empty()
        && head
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_per_cell_tables_and_figures_count_as_cell_files() {
        for name in [
            "spectra_cell0001.svg",
            "truth_cell0000.csv",
            "peaks_cell9999.csv",
        ] {
            assert!(is_cell_file(name), "{name}");
        }
        for name in [
            "runs.csv",
            "notes_cell1.csv",
            "my_cell0001.txt",
            "_cell0001.csv",
            "Data_cell0001.csv",
            "a_cell00x1.svg",
        ] {
            assert!(!is_cell_file(name), "{name}");
        }
    }

    /// Named values keep their order through JSON; null reads back as NaN; a table's fields are
    /// written as `num` writes numbers, quoted only where CSV needs it.
    #[test]
    fn named_values_and_tables_round_trip() {
        let named: Named<usize> = [("b".to_string(), 2), ("a".to_string(), 1)]
            .into_iter()
            .collect();
        let text = serde_json::to_string(&named).unwrap();
        assert_eq!(text, r#"{"b":2,"a":1}"#);
        let back: Named<usize> = serde_json::from_str(&text).unwrap();
        assert_eq!(back, named);
        #[derive(serde::Deserialize)]
        struct X {
            #[serde(deserialize_with = "nan_if_null")]
            v: f64,
        }
        assert!(serde_json::from_str::<X>(r#"{"v":null}"#)
            .unwrap()
            .v
            .is_nan());
        assert_eq!(serde_json::from_str::<X>(r#"{"v":2.5}"#).unwrap().v, 2.5);
        let mut t = Table::new(&["x", "label", "n", "missing"]);
        t.push(fields![1e-9, "a,b", 3usize, None::<f64>]);
        t.push(fields![0.5, "say \"hi\"", u64::MAX, Some(2.0)]);
        assert_eq!(
            t.to_csv(),
            "x,label,n,missing\n1e-9,\"a,b\",3,\n0.5,\"say \"\"hi\"\"\",18446744073709551615,2\n"
        );
    }
}
