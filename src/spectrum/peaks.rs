//! Peaks of a spectrum on a grid: split at minima, ignore shallow wiggles, report moments.

use serde::Serialize;

use crate::spectrum::LnTauGrid;

/// Peak-splitting settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PeakParams {
    /// A minimum separates two peaks only if it lies below (1 - `min_dip`) times the smaller of the
    /// two maxima; shallower wiggles merge their peaks.
    pub min_dip: f64,
    /// Peaks with less than this fraction of the total area are dropped.
    pub min_area_fraction: f64,
    /// Peaks of a Tikhonov, log-smooth or maxent choice whose area is below this many of its
    /// linearized standard errors are left out of the reading
    /// ([`crate::inversion::Problem::peak_area_stderr`] and the log-space families' counterpart);
    /// 0 (the default) keeps every peak.
    #[serde(skip_serializing_if = "is_zero")]
    pub min_significance: f64,
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

impl Default for PeakParams {
    fn default() -> Self {
        Self {
            min_dip: 0.1,
            min_area_fraction: 1e-3,
            min_significance: 0.0,
        }
    }
}

/// One peak of a recovered spectrum.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SpectrumPeak {
    /// First and last grid index (inclusive).
    pub first: usize,
    /// Last grid index (inclusive).
    pub last: usize,
    /// Area (c_m, paper Eq. 6).
    pub area: f64,
    /// Centroid of ln tau (the paper's tau_m), tau in s.
    pub ln_tau_centroid: f64,
    /// Median of ln tau (used in the paper's Fig. 8).
    pub ln_tau_median: f64,
    /// Height of the highest grid weight.
    pub height: f64,
    /// Whether the first grid point is a minimum shared with the peak before (counted half).
    #[serde(skip)]
    pub shared_first: bool,
    /// Whether the last grid point is a minimum shared with the peak after (counted half).
    #[serde(skip)]
    pub shared_last: bool,
}

/// The weight of grid point `k` in a peak over `first..=last`: 1, 1/2 at an end it shares with a
/// neighbouring peak, 0 outside.
fn point_weight(k: usize, (first, last): (usize, usize), shared: (bool, bool)) -> f64 {
    if k < first || k > last {
        0.0
    } else if (k == first && shared.0) || (k == last && shared.1) {
        0.5
    } else {
        1.0
    }
}

impl SpectrumPeak {
    /// The weight of grid point `k` in this peak's area: 1 on its points, 1/2 at a minimum it
    /// shared with a neighbour when it was found (so that its area is sum_k weight(k) f_k), 0
    /// elsewhere.
    pub fn weight(&self, k: usize) -> f64 {
        point_weight(
            k,
            (self.first, self.last),
            (self.shared_first, self.shared_last),
        )
    }

    /// Centroid tau, s.
    pub fn tau_s(&self) -> f64 {
        self.ln_tau_centroid.exp()
    }

    /// Median tau, s.
    pub fn tau_median_s(&self) -> f64 {
        self.ln_tau_median.exp()
    }
}

/// Splits `weights` (grid amplitudes >= 0) into peaks.
///
/// Segments run between local minima (zeros included); adjacent segments merge while the minimum
/// between them is shallower than `min_dip` of the smaller maximum. The weight at a separating
/// minimum is shared equally by its two peaks.
pub fn find_peaks(grid: &LnTauGrid, weights: &[f64], params: &PeakParams) -> Vec<SpectrumPeak> {
    let n = weights.len();
    let total: f64 = weights.iter().filter(|w| **w > 0.0).sum();
    if n == 0 || total <= 0.0 {
        return Vec::new();
    }
    // Maximal runs of positive weight, each cut at interior local minima.
    let mut bounds: Vec<(usize, usize)> = Vec::new();
    let mut j = 0;
    while j < n {
        if weights[j] <= 0.0 {
            j += 1;
            continue;
        }
        let start = j;
        while j + 1 < n && weights[j + 1] > 0.0 {
            j += 1;
        }
        let end = j;
        let mut seg_start = start;
        for k in start + 1..end {
            if weights[k] < weights[k - 1] && weights[k] <= weights[k + 1] {
                bounds.push((seg_start, k));
                seg_start = k;
            }
        }
        bounds.push((seg_start, end));
        j += 1;
    }
    // Merge across shallow minima, shallowest first, until every separating minimum is deep enough.
    let max_of = |(a, b): (usize, usize)| weights[a..=b].iter().copied().fold(0.0, f64::max);
    loop {
        let mut shallowest: Option<(usize, f64)> = None;
        for i in 0..bounds.len().saturating_sub(1) {
            let (left, right) = (bounds[i], bounds[i + 1]);
            if left.1 != right.0 {
                continue; // separated by zeros: always distinct
            }
            let valley = weights[left.1];
            let lower_max = max_of(left).min(max_of(right));
            let dip = if lower_max > 0.0 {
                1.0 - valley / lower_max
            } else {
                0.0
            };
            if dip < params.min_dip && shallowest.is_none_or(|(_, d)| dip < d) {
                shallowest = Some((i, dip));
            }
        }
        let Some((i, _)) = shallowest else { break };
        bounds[i].1 = bounds[i + 1].1;
        bounds.remove(i + 1);
    }
    bounds
        .iter()
        .enumerate()
        .filter_map(|(i, &(a, b))| {
            let shared = (
                i > 0 && bounds[i - 1].1 == a,
                i + 1 < bounds.len() && bounds[i + 1].0 == b,
            );
            let points: Vec<(f64, f64)> = (a..=b)
                .map(|k| (grid.ln_tau(k), point_weight(k, (a, b), shared) * weights[k]))
                .collect();
            let area: f64 = points.iter().map(|p| p.1).sum();
            if area <= params.min_area_fraction * total {
                return None;
            }
            let centroid = points.iter().map(|p| p.0 * p.1).sum::<f64>() / area;
            Some(SpectrumPeak {
                first: a,
                last: b,
                area,
                ln_tau_centroid: centroid,
                ln_tau_median: median(&points, area),
                height: weights[a..=b].iter().copied().fold(0.0, f64::max),
                shared_first: shared.0,
                shared_last: shared.1,
            })
        })
        .collect()
}

/// Median of point masses, each spread uniformly over its grid cell (so the median varies smoothly).
fn median(points: &[(f64, f64)], area: f64) -> f64 {
    let half_step = if points.len() > 1 {
        0.5 * (points[1].0 - points[0].0)
    } else {
        0.0
    };
    let mut cumulative = 0.0;
    for &(x, w) in points {
        if w > 0.0 && cumulative + w >= 0.5 * area {
            let frac = (0.5 * area - cumulative) / w;
            return x - half_step + 2.0 * half_step * frac;
        }
        cumulative += w;
    }
    points.last().map_or(f64::NAN, |p| p.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(n: usize) -> LnTauGrid {
        LnTauGrid::new(1.0, (n as f64 - 1.0).exp(), n).unwrap()
    }

    #[test]
    fn two_separated_peaks_and_a_wiggle() {
        let g = grid(12);
        //           0    1    2    3    4    5    6    7     8    9   10   11
        let w = [0.0, 1.0, 3.0, 1.0, 0.0, 0.0, 2.0, 4.0, 3.8, 4.2, 1.0, 0.0];
        let peaks = find_peaks(&g, &w, &PeakParams::default());
        assert_eq!(peaks.len(), 2, "{peaks:?}");
        assert!((peaks[0].area - 5.0).abs() < 1e-12);
        assert!((peaks[0].ln_tau_centroid - 2.0).abs() < 1e-12);
        assert!((peaks[1].area - 15.0).abs() < 1e-12);
        // A deep minimum splits, with its weight shared.
        let w = [0.0, 2.0, 4.0, 1.0, 4.0, 2.0, 0.0];
        let peaks = find_peaks(&grid(7), &w, &PeakParams::default());
        assert_eq!(peaks.len(), 2);
        assert!((peaks[0].area - 6.5).abs() < 1e-12 && (peaks[1].area - 6.5).abs() < 1e-12);
    }

    #[test]
    fn median_of_a_symmetric_peak_is_its_centre() {
        let w = [0.0, 1.0, 2.0, 1.0, 0.0];
        let p = find_peaks(&grid(5), &w, &PeakParams::default());
        assert!((p[0].ln_tau_median - 2.0).abs() < 1e-12);
    }
}
