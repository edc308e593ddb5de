//! Every command the README shows in a code block runs as written and succeeds: `cargo run
//! --release -- ARGS` as the built `stzlab ARGS`, `stzlab ...` through a PATH that holds the built
//! binary, `cp` as itself. They run in a scratch folder that sees the repository's scenarios, with
//! `/tmp/` redirected into it so that parallel test runs do not collide. Commands that cannot run
//! here are listed below with the reason; the test fails when the README's list of commands and
//! these lists drift apart. The Slurm submission (`examples/slurm/submit.sh`) needs a cluster:
//! `.ci/slurm-test` runs it on a one-node Slurm it starts.

mod common;

use std::path::Path;
use std::process::Command;

/// Commands not run here, by prefix (the first that matches), with the reason.
const NOT_HERE: &[(&str, &str)] = &[
    ("cargo install --path .", "installs into ~/.cargo/bin"),
    (
        "cargo run --release --example invert_arrays",
        "CI's example step",
    ),
    (
        "cargo run --release --example custom_sweep",
        "CI's example step",
    ),
    (
        "cargo test --release --test fuzz_inputs -- --ignored",
        "the long fuzz run, by hand",
    ),
    // After the longer command it begins (the first matching prefix wins).
    ("cargo test --release", "CI's test step"),
    (
        "cargo run --release -- run scenarios/al-ni-y-mandrel.toml --set inversion.uncertainty=200",
        "200 x 200 bootstrap analyses, about 75 s on 2 cores",
    ),
];

/// The commands of the README's indented code blocks (continuation lines joined).
fn readme_commands() -> Vec<String> {
    let text = std::fs::read_to_string(common::repo("README.md")).unwrap();
    let mut commands = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let continued = current.is_some() && line.starts_with("        ");
        if !(line.starts_with("    ") || continued) {
            current = None;
            continue;
        }
        let piece = line.trim();
        let joined = match current.take() {
            Some(c) => format!("{c} {piece}"),
            None => piece.to_string(),
        };
        match joined.strip_suffix('\\') {
            Some(open) => current = Some(open.trim_end().to_string()),
            None => commands.push(joined),
        }
    }
    commands
        .into_iter()
        .filter(|c| {
            ["cargo ", "stzlab ", "cp "]
                .iter()
                .any(|p| c.starts_with(p))
        })
        .collect()
}

/// A synopsis: placeholders in capitals or optional parts in brackets.
fn is_synopsis(c: &str) -> bool {
    c.contains(" [")
        || ["SCENARIO.toml", " DIR", "DATA.csv", "KIND=FILE"]
            .iter()
            .any(|p| c.contains(p))
}

#[test]
fn every_readme_command_runs_as_written() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("work");
    let bin = tmp.path().join("bin");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(common::repo("scenarios"), work.join("scenarios")).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_stzlab"), bin.join("stzlab")).unwrap();
    let scratch = tmp.path().join("tmp");
    std::fs::create_dir_all(&scratch).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );

    let (mut ran, mut skipped) = (Vec::new(), Vec::new());
    for command in readme_commands() {
        if is_synopsis(&command) {
            continue;
        }
        if let Some((prefix, _)) = NOT_HERE.iter().find(|(p, _)| command.starts_with(p)) {
            skipped.push(*prefix);
            continue;
        }
        let shell = command
            .replace("cargo run --release -- ", "stzlab ")
            .replace("/tmp/", &format!("{}/", scratch.display()));
        assert!(
            !shell.starts_with("cargo "),
            "a cargo command this test does not know how to run: {command}"
        );
        let out = Command::new("bash")
            .args(["-c", &shell])
            .current_dir(&work)
            .env("PATH", &path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "README command failed: {command}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        ran.push(command);
    }
    // The main command, the simulate-invert example and the joint example at least.
    assert!(ran.len() >= 7, "{ran:#?}");
    assert!(ran.contains(&"cargo run --release -- run scenarios/quickstart.toml".to_string()));
    assert!(Path::new(&work.join("results/quickstart/index.html")).is_file());
    let mut listed: Vec<&str> = NOT_HERE.iter().map(|(p, _)| *p).collect();
    listed.sort_unstable();
    skipped.sort_unstable();
    assert_eq!(skipped, listed, "NOT_HERE and the README disagree");
}
