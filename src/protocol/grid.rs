use serde::{Deserialize, Serialize};

/// How the points of a measurement axis are spaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Spacing {
    /// Equal ratios between neighbours.
    #[default]
    Log,
    /// Equal differences.
    Linear,
}

/// A measurement axis (times in s, or angular frequencies in rad/s): strictly increasing and > 0.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AxisGrid {
    values: Vec<f64>,
}

/// Why an axis was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AxisError {
    /// Fewer than two points.
    #[error("needs at least 2 points, got {0}")]
    TooFew(usize),
    /// A value that is not finite and > 0.
    #[error("value {value} at index {index} must be finite and > 0")]
    NotPositive {
        /// Position in the list.
        index: usize,
        /// The value.
        value: f64,
    },
    /// Values not strictly increasing.
    #[error("values must be strictly increasing: {previous} then {value} at index {index}")]
    NotIncreasing {
        /// Position of the offending value.
        index: usize,
        /// Value before it.
        previous: f64,
        /// The offending value.
        value: f64,
    },
}

impl AxisGrid {
    /// `points` values from `start` to `stop` inclusive.
    ///
    /// # Errors
    /// [`AxisError`] when start or stop is not > 0, stop <= start, or points < 2.
    pub fn spaced(
        start: f64,
        stop: f64,
        points: usize,
        spacing: Spacing,
    ) -> Result<Self, AxisError> {
        if points < 2 {
            return Err(AxisError::TooFew(points));
        }
        let values = (0..points)
            .map(|i| {
                let f = i as f64 / (points - 1) as f64;
                if i == 0 {
                    start
                } else if i + 1 == points {
                    stop
                } else {
                    match spacing {
                        Spacing::Log => (start.ln() + f * (stop.ln() - start.ln())).exp(),
                        Spacing::Linear => start + f * (stop - start),
                    }
                }
            })
            .collect();
        Self::from_values(values)
    }

    /// An explicit list.
    ///
    /// # Errors
    /// [`AxisError`].
    pub fn from_values(values: Vec<f64>) -> Result<Self, AxisError> {
        if values.len() < 2 {
            return Err(AxisError::TooFew(values.len()));
        }
        for (index, &value) in values.iter().enumerate() {
            if !(value.is_finite() && value > 0.0) {
                return Err(AxisError::NotPositive { index, value });
            }
            if index > 0 && value <= values[index - 1] {
                return Err(AxisError::NotIncreasing {
                    index,
                    previous: values[index - 1],
                    value,
                });
            }
        }
        Ok(Self { values })
    }

    /// The values.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// First value.
    pub fn first(&self) -> f64 {
        self.values[0]
    }

    /// Last value.
    pub fn last(&self) -> f64 {
        self.values[self.values.len() - 1]
    }
}

/// The list index an axis error refers to, when it names one.
pub(crate) fn grid_error_index(e: &AxisError) -> Option<usize> {
    match e {
        AxisError::TooFew(_) => None,
        AxisError::NotPositive { index, .. } | AxisError::NotIncreasing { index, .. } => {
            Some(*index)
        }
    }
}
