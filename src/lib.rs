//! # stzlab: relaxation-time spectra of glasses
//!
//! stzlab generates synthetic anelastic-relaxation data from assumed hierarchies of shear
//! transformation zones (Argon's model, paper Eqs. 1-9 of Atzmon, Ju and Lei, *Materials* 16, 7444
//! (2023)), adds realistic noise, and inverts it back to a relaxation-time spectrum by a non-negative,
//! smoothness-regularized least-squares fit in the spirit of CONTIN:
//!
//! ```text
//! minimize || W (K f + B b - y) ||^2 + lambda^2 || L f ||^2   subject to f >= 0
//! ```
//!
//! where y are the data at times or angular frequencies x, K is the kernel (decay exp(-t/tau), creep
//! 1 - exp(-t/tau), or loss w tau / (1 + (w tau)^2)) on a log-spaced grid of tau, f >= 0 the spectrum
//! amplitudes (density per unit ln tau times the grid step), B b unregularized baseline terms,
//! W = diag(1/sigma) and L the r-th difference operator. The peaks of f are the STZ types: their
//! positions give the STZ volume and activation energy, their areas the volume fractions c_m.
//!
//! Units: SI inside (s, Pa, m^3, K, J); eV only at the edges. Strains are normalized by the elastic
//! strain. Every equation, with its reference in the paper: `docs/model.md` in the repository.
//!
//! # Inverting your own arrays
//!
//! ```
//! use stzlab::data::MeasuredSeries;
//! use stzlab::inversion::{InvertOptions, Kernel, Workspace};
//! use stzlab::pipeline::invert_series;
//!
//! // Recovery after release: 30 % of the strain relaxes at 1 s, 70 % at 1000 s.
//! let x: Vec<f64> = (0..120).map(|i| 10f64.powf(-2.0 + 7.0 * i as f64 / 119.0)).collect();
//! let y = x.iter().map(|t| 0.3 * (-t / 1.0).exp() + 0.7 * (-t / 1e3).exp()).collect();
//! let data = MeasuredSeries { temperature_k: None, x, y, sigma: Some(vec![1e-4; 120]) };
//! let options = InvertOptions::new(Kernel::Decay); // consensus rule, 5 points per decade
//! let result = invert_series(&data, &options, None, &mut Workspace::new())?;
//! let areas: Vec<f64> = result.peaks().iter().map(|p| p.area).collect();
//! assert!(areas.len() == 2 && (areas[0] - 0.3).abs() < 0.02 && (areas[1] - 0.7).abs() < 0.02);
//! # Ok::<(), stzlab::pipeline::InvertError>(())
//! ```
//!
//! `examples/invert_arrays.rs` does the same with noise and prints the spectrum;
//! `examples/custom_sweep.rs` measures how a rule recovers a hierarchy over noise seeds.
//!
//! # How the crate is laid out
//!
//! The data flow one way, and so do the imports (checked by `tests/architecture.rs`):
//!
//! 1. physics: [`constants`], [`spectrum`] (grids, peaked and closed-form spectra, peak finding),
//!    [`stz`] (Argon's model, hierarchies, materials);
//! 2. forward models: [`protocol`] (mandrel, cantilever, DMA), [`noise`], [`data`] (reading CSV);
//! 3. [`inversion`]: kernels, the non-negative solver, the lambda path and the rules;
//! 4. [`analysis`]: the STZ back-analysis of a spectrum's peaks;
//! 5. [`scenario`]: scenario files, checked and resolved into settings, and their sweep plans;
//! 6. [`pipeline`]: simulate, invert, one trial of a sweep, and its scores;
//! 7. drivers: [`sweep`] (parallel recovery sweeps) and [`study`] (the paper's method studies);
//! 8. [`report`]: tables, figures, index.html and the printed summaries.
//!
//! [`files`] (the guarded output folder and number formatting) sits below all of them.

#![warn(missing_docs)]
#![forbid(unsafe_code)]
// `!(x > 0.0)` is how validation rejects NaN together with out-of-range values; keep it.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

pub mod analysis;
pub mod constants;
pub mod data;
pub mod files;
pub mod inversion;
pub mod noise;
pub mod pipeline;
pub mod protocol;
pub mod report;
pub mod scenario;
pub mod spectrum;
pub mod study;
pub mod stz;
pub mod sweep;
