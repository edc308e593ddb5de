//! The code's shape, checked: imports point one way through the stages, the command line stays
//! small, and files stay readable. Reads the `crate::` paths of every library source file.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The stages in order: a module may use its own stage and earlier ones, never a later one.
/// `sweep` and `study` share a stage and must not use each other.
const STAGES: &[&[&str]] = &[
    &["constants", "files"],
    &["spectrum"],
    &["stz"],
    &["protocol", "noise", "data"],
    &["inversion"],
    &["analysis"],
    &["scenario"],
    &["pipeline"],
    &["sweep", "study"],
    &["report"],
];

const MAX_LINES: usize = 600;
const MAX_MAIN_LINES: usize = 250;

fn stage(module: &str) -> Option<usize> {
    STAGES.iter().position(|s| s.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The source without comments (doc links name later stages on purpose).
fn code(text: &str) -> String {
    text.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules a source file names through `crate::`, grouped imports included.
fn crate_modules(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let bytes = code.as_bytes();
    let mut at = 0;
    while let Some(i) = code[at..].find("crate::") {
        let start = at + i + "crate::".len();
        at = start;
        if bytes.get(start) == Some(&b'{') {
            // `crate::{a::b, c, d::{e, f}}`: the identifiers at depth 1.
            let mut depth = 0;
            let mut ident = String::new();
            let mut expect = true;
            for &b in &bytes[start..] {
                if depth == 1 && expect && (b.is_ascii_alphanumeric() || b == b'_') {
                    ident.push(b as char);
                    continue;
                }
                if !ident.is_empty() {
                    found.insert(std::mem::take(&mut ident));
                    expect = false;
                }
                match b {
                    b'{' => {
                        depth += 1;
                        expect = depth == 1;
                    }
                    b'}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    b',' if depth == 1 => expect = true,
                    _ => {}
                }
            }
        } else {
            let name: String = code[start..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            found.insert(name);
        }
    }
    found
}

fn library_files() -> Vec<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    files
        .into_iter()
        .filter(|p| !p.starts_with(src.join("bin")))
        .map(|p| {
            let rel = p
                .strip_prefix(&src)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            (rel, std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}

#[test]
fn the_parser_reads_grouped_and_nested_imports() {
    let found = crate_modules("use crate::{a::b, c, d::{e, f}};\nlet x = crate::g::h(1);");
    let expected: BTreeSet<String> = ["a", "c", "d", "g"].iter().map(|s| s.to_string()).collect();
    assert_eq!(found, expected);
}

#[test]
fn imports_point_one_way_through_the_stages() {
    let mut wrong = Vec::new();
    for (rel, text) in library_files() {
        let module = rel.split('/').next().unwrap().trim_end_matches(".rs");
        if module == "lib" {
            continue;
        }
        let own = stage(module).unwrap_or_else(|| panic!("{rel}: module {module} has no stage"));
        for used in crate_modules(&code(&text)) {
            if used == module {
                continue;
            }
            let theirs =
                stage(&used).unwrap_or_else(|| panic!("{rel}: crate::{used} has no stage"));
            if theirs >= own {
                wrong.push(format!("{rel} uses crate::{used}"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the stage order:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn every_library_module_has_a_stage() {
    let lib =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    for line in lib.lines() {
        if let Some(name) = line
            .strip_prefix("pub mod ")
            .and_then(|l| l.strip_suffix(';'))
        {
            assert!(
                stage(name).is_some(),
                "module {name} is missing from STAGES"
            );
        }
    }
}

#[test]
fn the_command_line_is_small() {
    let main = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/bin/stzlab/main.rs");
    let lines = std::fs::read_to_string(main).unwrap().lines().count();
    assert!(lines < MAX_MAIN_LINES, "main.rs has {lines} lines");
}

#[test]
fn files_stay_readable() {
    let long: Vec<String> = library_files()
        .into_iter()
        .map(|(rel, text)| (rel, text.lines().count()))
        .filter(|&(_, lines)| lines > MAX_LINES)
        .map(|(rel, lines)| format!("{rel}: {lines} lines"))
        .collect();
    assert!(
        long.is_empty(),
        "files over {MAX_LINES} lines:\n{}",
        long.join("\n")
    );
}
