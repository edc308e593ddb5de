//! Summary statistics of a metric over runs: count, mean, median and the 5th and 95th
//! percentiles, with NaN left out.

use serde::Serialize;

/// Count, mean, median and the 5th and 95th percentiles of the finite values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct Stats {
    /// Number of finite values.
    pub count: usize,
    /// Mean.
    #[serde(deserialize_with = "crate::files::nan_if_null")]
    pub mean: f64,
    /// Median.
    #[serde(deserialize_with = "crate::files::nan_if_null")]
    pub median: f64,
    /// 5th percentile (linear interpolation between order statistics).
    #[serde(deserialize_with = "crate::files::nan_if_null")]
    pub p05: f64,
    /// 95th percentile.
    #[serde(deserialize_with = "crate::files::nan_if_null")]
    pub p95: f64,
}

impl Stats {
    /// Of `values`, ignoring NaN.
    pub fn of(values: &[f64]) -> Self {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        v.sort_by(f64::total_cmp);
        let count = v.len();
        if count == 0 {
            return Self {
                count,
                mean: f64::NAN,
                median: f64::NAN,
                p05: f64::NAN,
                p95: f64::NAN,
            };
        }
        Self {
            count,
            mean: v.iter().sum::<f64>() / count as f64,
            median: quantile(&v, 0.5),
            p05: quantile(&v, 0.05),
            p95: quantile(&v, 0.95),
        }
    }
}

/// Quantile `q` of sorted values, linear between order statistics (Hyndman-Fan type 7).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_between_order_statistics() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(quantile(&v, 0.5), 3.0);
        assert!((quantile(&v, 0.05) - 1.2).abs() < 1e-15);
        assert!((quantile(&v, 0.95) - 4.8).abs() < 1e-15);
        let s = Stats::of(&[f64::NAN, 2.0, 1.0]);
        assert_eq!((s.count, s.mean, s.median), (2, 1.5, 1.5));
    }
}
