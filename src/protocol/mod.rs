//! Forward models of the experiments (docs/model.md §2): one file per protocol.
//!
//! Every strain is normalized by the elastic strain, so the amplitudes of the Voigt units are the
//! c_m of paper Eq. 6.

pub mod cantilever;
pub mod dma;
pub mod kww;
pub mod mandrel;

mod grid;

pub(crate) use grid::grid_error_index;
pub use grid::{AxisError, AxisGrid, Spacing};
