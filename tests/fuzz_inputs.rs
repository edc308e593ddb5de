//! Fuzzing the readers of user input (issue 15): the data CSV reader, the temperature-history
//! reader, the scenario loader and the `--set` overrides get arbitrary bytes and structured mutations
//! of valid input. None may panic, and every refusal names its file (and its line where there is
//! one). 10,000 cases each here; the `#[ignore]`d variants run 200,000 (20,000 for `--set`:
//! `cargo test --release --test fuzz_inputs -- --ignored`).

mod common;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use stzlab::data::parse_data;
use stzlab::inversion::energy::parse_history;
use stzlab::scenario::{Plan, Scenario};

const CASES: u32 = 10_000;
const LONG_CASES: u32 = 200_000;

/// Tokens that break numbers and structure in both formats.
const TOKENS: &[&str] = &[
    "", "nan", "NaN", "inf", "-inf", "-1", "0", "1e400", "1e-400", "abc", ",", "\"", "=", "[", "]",
    "{", "}", "#", "\n", "1e308", "-0", "true", "\u{feff}", "0x10", "1_000", "..", "'''",
];

fn valid_csv() -> String {
    let mut text = String::from("t_s,y,sigma\n");
    for i in 0..20 {
        let t = 10f64.powf(-1.0 + 0.25 * f64::from(i));
        text.push_str(&format!("{t},{},1e-3\n", (-t / 3.0).exp()));
    }
    text
}

/// A structured mutation: replace, delete, duplicate or truncate at positions chosen by `picks`.
fn mutate(text: &str, picks: &[(u8, usize, usize)]) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for &(kind, a, b) in picks {
        if lines.is_empty() {
            break;
        }
        let i = a % lines.len();
        match kind % 5 {
            0 => {
                // Replace one comma-separated field (or the part after '=') by a token.
                let token = TOKENS[b % TOKENS.len()];
                let line = &lines[i];
                lines[i] = if let Some((k, _)) = line.split_once('=') {
                    format!("{k}= {token}")
                } else {
                    let mut f: Vec<&str> = line.split(',').collect();
                    let j = b % f.len();
                    f[j] = token;
                    f.join(",")
                };
            }
            1 => {
                lines.remove(i);
            }
            2 => {
                let l = lines[i].clone();
                lines.insert(b % (lines.len() + 1), l);
            }
            3 => {
                let cut = b % (lines[i].len() + 1);
                let cut = (0..=cut)
                    .rev()
                    .find(|&c| lines[i].is_char_boundary(c))
                    .unwrap_or(0);
                lines[i].truncate(cut);
            }
            _ => lines.insert(i, TOKENS[b % TOKENS.len()].to_string()),
        }
    }
    format!("{}\n", lines.join("\n"))
}

fn valid_history() -> String {
    let mut text = String::from("t_start_s,t_end_s,temperature_k\n");
    for i in 0..12 {
        let (a, b) = (3600 * i, 3600 * (i + 1));
        text.push_str(&format!("{a},{b},{}\n", 250 + 10 * i));
    }
    text
}

fn picks() -> impl Strategy<Value = Vec<(u8, usize, usize)>> {
    prop::collection::vec((any::<u8>(), any::<usize>(), any::<usize>()), 1..6)
}

fn check_csv(text: &str) {
    let lines = text.lines().count();
    if let Err(e) = parse_data(text, "fuzz.csv") {
        assert_eq!(e.file, "fuzz.csv");
        assert!(!e.message.is_empty());
        if let Some(l) = e.line {
            assert!(l >= 1 && l <= lines.max(1), "line {l} of {lines}: {e}");
        }
    }
}

fn check_history(text: &str) {
    let lines = text.lines().count();
    if let Err(e) = parse_history(text, "fuzz.csv") {
        assert_eq!(e.file, "fuzz.csv");
        assert!(!e.message.is_empty());
        if let Some(l) = e.line {
            assert!(l >= 1 && l <= lines.max(1), "line {l} of {lines}: {e}");
        }
    }
}

fn check_scenario(text: &str) {
    if let Err(e) = Scenario::from_toml(text, "fuzz.toml", "fuzz") {
        let shown = e.to_string();
        assert!(shown.starts_with("fuzz.toml"), "{shown}");
        assert_eq!(shown.lines().count(), 1, "{shown}");
    }
}

fn run(cases: u32, strategy: impl Strategy<Value = String>, check: impl Fn(&str)) {
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&strategy, |text| {
            check(&text);
            Ok(())
        })
        .unwrap();
}

fn quickstart() -> String {
    std::fs::read_to_string(common::repo("scenarios/quickstart.toml")).unwrap()
}

#[test]
fn the_csv_reader_survives_arbitrary_bytes() {
    let bytes = prop::collection::vec(any::<u8>(), 0..400)
        .prop_map(|b| String::from_utf8_lossy(&b).into_owned());
    run(CASES, bytes, check_csv);
}

#[test]
fn the_csv_reader_survives_mutations_of_valid_data() {
    let base = valid_csv();
    run(
        CASES,
        picks().prop_map(move |p| mutate(&base, &p)),
        check_csv,
    );
}

#[test]
fn the_history_reader_survives_arbitrary_bytes_and_mutations() {
    let bytes = prop::collection::vec(any::<u8>(), 0..400)
        .prop_map(|b| String::from_utf8_lossy(&b).into_owned());
    run(CASES, bytes, check_history);
    let base = valid_history();
    run(
        CASES,
        picks().prop_map(move |p| mutate(&base, &p)),
        check_history,
    );
}

#[test]
fn the_scenario_loader_survives_arbitrary_bytes() {
    let bytes = prop::collection::vec(any::<u8>(), 0..400)
        .prop_map(|b| String::from_utf8_lossy(&b).into_owned());
    run(CASES, bytes, check_scenario);
}

#[test]
fn the_scenario_loader_survives_mutations_of_the_quickstart() {
    let base = quickstart();
    run(
        CASES,
        picks().prop_map(move |p| mutate(&base, &p)),
        check_scenario,
    );
}

/// `--set PATH=VALUE` with paths built from the scenario's own keys and values from the tokens.
fn sets() -> impl Strategy<Value = String> {
    let keys = [
        "noise.sigma",
        "noise",
        "truth.c",
        "truth.n",
        "truth.width",
        "protocol.kind",
        "protocol",
        "inversion.rules",
        "inversion.points",
        "inversion.per_decade",
        "sweep.repeats",
        "sweep.axes",
        "sweep.axes.\"noise.sigma\"",
        "material.nu",
        "x",
        "",
        "truth.c[3]",
        "a.b.c.d",
        "seed",
    ];
    let values = [
        "1",
        "-1",
        "0",
        "1e-4",
        "nan",
        "inf",
        "[]",
        "[1, 2]",
        "\"gcv\"",
        "gcv",
        "{}",
        "{ a = 1 }",
        "[[1]]",
        "true",
        "",
        "1e400",
        "\"",
        "[\"gcv\", 3]",
        "100000000",
    ];
    (0..keys.len(), 0..values.len(), any::<bool>()).prop_map(move |(k, v, eq)| {
        if eq {
            format!("{}={}", keys[k], values[v])
        } else {
            format!("{}{}", keys[k], values[v])
        }
    })
}

fn check_set(path: &std::path::Path, set: &str) {
    if let Err(e) = Plan::load(path, &[set.to_string()]) {
        let shown = e.to_string();
        assert!(shown.contains("quickstart.toml"), "{set}: {shown}");
        assert_eq!(shown.lines().count(), 1, "{set}: {shown}");
    }
}

#[test]
fn the_set_parser_survives_arbitrary_paths_and_values() {
    let path = common::repo("scenarios/quickstart.toml");
    // Each case validates every cell of the quickstart (about 0.5 ms).
    run(CASES, sets(), |set| check_set(&path, set));
}

#[test]
#[ignore = "long: 200,000 cases per reader"]
fn long_fuzz_of_every_reader() {
    let bytes = prop::collection::vec(any::<u8>(), 0..400)
        .prop_map(|b| String::from_utf8_lossy(&b).into_owned());
    run(LONG_CASES, bytes.clone(), check_csv);
    run(LONG_CASES, bytes.clone(), check_history);
    run(LONG_CASES, bytes, check_scenario);
    let base = valid_history();
    run(
        LONG_CASES,
        picks().prop_map(move |p| mutate(&base, &p)),
        check_history,
    );
    let base = valid_csv();
    run(
        LONG_CASES,
        picks().prop_map(move |p| mutate(&base, &p)),
        check_csv,
    );
    let base = quickstart();
    run(
        LONG_CASES,
        picks().prop_map(move |p| mutate(&base, &p)),
        check_scenario,
    );
    let path = common::repo("scenarios/quickstart.toml");
    run(LONG_CASES / 10, sets(), |set| check_set(&path, set));
}
