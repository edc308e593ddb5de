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
//! strain. See `MODEL.md` for every equation.

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
