//! What is read off a spectrum: peaks and their moments, and the STZ back-analysis (docs/model.md
//! section 4, paper section 4).

pub mod stz;

pub use crate::spectrum::peaks::{find_peaks, PeakParams, SpectrumPeak};
pub use stz::{back_analysis, linear_slope, BackAnalysis, StzEstimate};
