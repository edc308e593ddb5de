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

    /// Adds one to the count of `name` (appended at the end when new).
    pub fn count(&mut self, name: &str)
    where
        T: std::ops::AddAssign + From<u8>,
    {
        match self.0.iter_mut().find(|(n, _)| n == name) {
            Some((_, v)) => *v += T::from(1),
            None => self.0.push((name.to_string(), T::from(1))),
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
    let quoted: Vec<String> = fields
        .iter()
        .map(|f| {
            if f.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", f.replace('"', "\"\""))
            } else {
                f.clone()
            }
        })
        .collect();
    format!("{}\n", quoted.join(","))
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
}
