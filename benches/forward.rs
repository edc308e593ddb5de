//! Forward-model costs that bound a sweep's set-up: the exact coupled mandrel solve (O(N^2) per
//! secular root search) for delta and Gaussian-broadened hierarchies, and a DMA curve set.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use stzlab::protocol::dma::{loss_modulus, LossModel};
use stzlab::protocol::mandrel::{recovery_amplitudes, Coupling};
use stzlab::spectrum::{Peak, Spectrum};

fn hierarchy(width: f64) -> Spectrum {
    let c = [0.002, 0.003, 0.005, 0.008, 0.012, 0.02, 0.03, 0.05];
    Spectrum::new(
        c.iter()
            .enumerate()
            .map(|(k, &area)| Peak {
                ln_tau: (1.83f64).ln() + k as f64 * 10f64.ln(),
                area,
                width_ln_tau: width,
                shape: stzlab::spectrum::Shape::LogNormal,
            })
            .collect(),
    )
    .unwrap()
}

fn mandrel(c: &mut Criterion) {
    let mut group = c.benchmark_group("mandrel_coupled");
    for width in [0.0, 0.5, 1.5] {
        let units = hierarchy(width).units();
        group.bench_with_input(
            BenchmarkId::new(format!("width{width}"), units.len()),
            &units,
            |b, units| {
                b.iter(|| recovery_amplitudes(black_box(units), 2e6, Coupling::Coupled).unwrap())
            },
        );
    }
    group.finish();
}

fn dma(c: &mut Criterion) {
    let units = hierarchy(0.5).units();
    let omega: Vec<f64> = (0..41).map(|k| 10f64.powf(-2.0 + 0.1 * k as f64)).collect();
    c.bench_function(&format!("dma_exact/units{}/omega41", units.len()), |b| {
        b.iter(|| {
            loss_modulus(
                black_box(&units),
                9.2e10,
                black_box(&omega),
                LossModel::Exact,
            )
        })
    });
}

criterion_group!(benches, mandrel, dma);
criterion_main!(benches);
