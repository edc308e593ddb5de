//! Argon's shear-transformation-zone (STZ) model with an atomically quantized hierarchy
//! (docs/model.md §1; paper sections 2, 4, 6 and 12).

mod free_volume;
mod hierarchy;
mod material;
mod percolation;

pub use free_volume::FreeVolumeModel;
pub use hierarchy::{AtomicVolume, Hierarchy, StzLevel};
#[cfg(test)]
pub(crate) use material::zr_test_material;
pub use material::{GlassTransition, Material, MaterialParams};
pub use percolation::{percolation, Percolation};

/// Why a set of STZ parameters was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StzError {
    /// A parameter lies outside its physical range.
    #[error("{field} = {value}: {requirement}")]
    OutOfRange {
        /// Parameter name as it appears in scenario files.
        field: &'static str,
        /// The rejected value.
        value: f64,
        /// What the value must satisfy.
        requirement: &'static str,
    },
    /// A structural problem with a hierarchy (sizes, list lengths).
    #[error("{field}: {message}")]
    Hierarchy {
        /// Parameter name as it appears in scenario files.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
}

pub(crate) fn check(
    field: &'static str,
    value: f64,
    ok: bool,
    requirement: &'static str,
) -> Result<f64, StzError> {
    if value.is_finite() && ok {
        Ok(value)
    } else {
        Err(StzError::OutOfRange {
            field,
            value,
            requirement,
        })
    }
}
