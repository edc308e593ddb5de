//! What is read off a spectrum: the STZ back-analysis of its peaks (docs/model.md §4, paper
//! section 4), and the fits every later stage uses (one straight line, small nonlinear least
//! squares, golden section).

pub mod fit;
pub mod stz;

pub use crate::spectrum::peaks::{find_peaks, PeakParams, SpectrumPeak};
pub use stz::{back_analysis, back_analysis_labelled, linear_slope, BackAnalysis, StzEstimate};
