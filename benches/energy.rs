//! Issue 17 targets, single-threaded, from the kernel table to the chosen spectrum and its peaks:
//! a temperature-stepping inversion in dF (21 holds of 100 log-spaced times: M = 2100; 200 dF grid
//! points; a 60-point lambda path with the default rule; and the same with the Lorentzian
//! regularizer and its default rule, the evidence), and the global DMA inversion of the
//! zr-dma scenario (8 temperatures x 41 frequencies, 0.1 % noise, 20 points per decade of tau at
//! 665 K: the grouping study's grid).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use stzlab::data::MeasuredSeries;
use stzlab::inversion::energy::{creep_table, ArrheniusLaw, EnergyGrid, TemperatureHistory};
use stzlab::inversion::{InvertOptions, Kernel, Regularizer, Workspace};
use stzlab::noise::{rng_from_seed, NoiseModel};
use stzlab::pipeline::invert::energy::{invert_creep_history, EnergyOptions};
use stzlab::pipeline::invert::global::invert_loss_global;
use stzlab::pipeline::simulate::simulate_clean;
use stzlab::pipeline::trial::noisy_data;
use stzlab::scenario::Scenario;

const LAW: ArrheniusLaw = ArrheniusLaw { attempt_hz: 1e13 };

/// The stepping study's record: 250 K to 450 K in 10 K steps held an hour, a density of dF rising
/// from 0.8 to 1.3 eV carrying a strain of 0.01, 0.1 % noise.
fn record(history: &TemperatureHistory) -> MeasuredSeries {
    let times: Vec<f64> = history
        .holds()
        .iter()
        .flat_map(|h| {
            (0..100).map(move |k| {
                h.start_s + (h.end_s - h.start_s) * 1e-3f64.powf(1.0 - k as f64 / 99.0)
            })
        })
        .collect();
    let truth = EnergyGrid::new(0.8, 1.3, 401, LAW, 450.0).unwrap();
    let weights: Vec<f64> = (0..401).map(|j| j as f64).collect();
    let total: f64 = weights.iter().sum();
    let table = creep_table(&times, history, &truth);
    let clean: Vec<f64> = (0..times.len())
        .map(|i| {
            (0..401)
                .map(|j| table[(i, j)] * weights[j] * 0.01 / total)
                .sum()
        })
        .collect();
    let noisy = NoiseModel::new(0.0, 1e-3, 0.0, 0.0, 0.0).unwrap().apply(
        &times,
        &clean,
        &mut rng_from_seed(17),
    );
    MeasuredSeries {
        temperature_k: None,
        x: times,
        y: noisy.y,
        sigma: None,
    }
}

fn energy(c: &mut Criterion) {
    let history = TemperatureHistory::stepped(250.0, 10.0, 20, 3600.0).unwrap();
    let data = record(&history);
    let options = InvertOptions::new(Kernel::Creep);
    let energy = EnergyOptions::new(LAW);
    let mut ws = Workspace::new();
    let mut group = c.benchmark_group("energy_inversion");
    group.sample_size(10);
    group.bench_function("stepping_holds21_m2100_n200_path60", |b| {
        b.iter(|| {
            black_box(
                invert_creep_history(black_box(&data), &history, &energy, &options, &mut ws, &())
                    .unwrap(),
            )
        })
    });
    let lorentzian = InvertOptions {
        regularizer: Regularizer::Lorentzian,
        rule: Regularizer::Lorentzian.default_rule(),
        ..InvertOptions::new(Kernel::Creep)
    };
    group.bench_function("stepping_lorentzian_holds21_m2100_n200_path60", |b| {
        b.iter(|| {
            black_box(
                invert_creep_history(
                    black_box(&data),
                    &history,
                    &energy,
                    &lorentzian,
                    &mut ws,
                    &(),
                )
                .unwrap(),
            )
        })
    });
    let scenario = Scenario::load(std::path::Path::new("scenarios/zr-dma.toml")).unwrap();
    let scenario = Scenario {
        noise: NoiseModel::new(0.0, 1e-3, 0.0, 0.0, 0.0).unwrap(),
        ..scenario
    };
    let clean = simulate_clean(&scenario).unwrap();
    let series = noisy_data(&scenario, &clean, 3);
    let material = scenario.material.unwrap();
    let options = InvertOptions {
        per_decade: 20.0,
        ..scenario.inversion.clone()
    };
    group.bench_function("loss_global_zr_dma_t8_m328_path60", |b| {
        b.iter(|| {
            black_box(
                invert_loss_global(black_box(&series), &material, &options, &mut ws, &()).unwrap(),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, energy);
criterion_main!(benches);
