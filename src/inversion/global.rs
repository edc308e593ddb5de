//! The loss modulus at several temperatures inverted at once for one spectrum of STZ volumes
//! (docs/model.md §8).
//!
//! An STZ of volume Omega relaxes at temperature T with tau(Omega, T) of paper Eq. 9 (dF of Eq. 2
//! with mu(T), linear above T_g). Its volume fraction c does not depend on T, so E''(w, T) / E0(T) =
//! sum_j c_j w tau_j(T) / (1 + (w tau_j(T))^2) (paper Eq. 7) is linear in one set of amplitudes
//! over a grid of volumes, whatever the temperatures: all of them go into one problem.
//!
//! The volume grid is carried as the ln tau grid of the relaxation times at a reference
//! temperature T_ref (uniform in ln tau_ref; Omega_j from inverting Eq. 9 there), so the penalty,
//! rules, peaks and bootstrap apply unchanged; a peak's tau_ref gives its volume back.

use faer::Mat;

use crate::spectrum::LnTauGrid;
use crate::stz::Material;

/// A grid of STZ volumes carried as relaxation times at a reference temperature.
#[derive(Debug, Clone, PartialEq)]
pub struct VolumeGrid {
    /// The ln tau_ref grid the inversion runs on.
    pub grid: LnTauGrid,
    /// The reference temperature, K.
    pub reference_k: f64,
    /// The volume of every grid point, m^3.
    pub omega_m3: Vec<f64>,
}

impl VolumeGrid {
    /// The volumes whose relaxation times at `reference_k` are `grid`'s.
    ///
    /// # Errors
    /// A message when a grid time lies below the shortest time Eq. 9 gives at `reference_k` (no
    /// volume has it).
    pub fn new(grid: LnTauGrid, material: &Material, reference_k: f64) -> Result<Self, String> {
        let omega_m3 = grid
            .taus_s()
            .into_iter()
            .map(|tau| {
                material.omega_from_tau(tau, reference_k).ok_or_else(|| {
                    format!(
                        "tau = {tau:e} s at {reference_k} K is shorter than any STZ's (paper Eq. 9)"
                    )
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            grid,
            reference_k,
            omega_m3,
        })
    }

    /// The volume whose relaxation time at the reference temperature is `tau_s`, m^3.
    pub fn omega_of_tau(&self, material: &Material, tau_s: f64) -> Option<f64> {
        material.omega_from_tau(tau_s, self.reference_k)
    }
}

/// The kernel table of normalized loss data at (`omega_rad_s[i]`, `temperature_k[i]`):
/// `K[(i, j)] = w tau / (1 + (w tau)^2)` with tau = tau(Omega_j, T_i) of paper Eq. 9.
pub fn loss_global_table(
    omega_rad_s: &[f64],
    temperature_k: &[f64],
    grid: &VolumeGrid,
    material: &Material,
) -> Mat<f64> {
    Mat::from_fn(omega_rad_s.len(), grid.omega_m3.len(), |i, j| {
        let wt = omega_rad_s[i] * material.tau_s(grid.omega_m3[j], temperature_k[i]);
        wt / (1.0 + wt * wt)
    })
}

/// Amplitudes `weights` on a grid whose points have activation energies `df_ev` (ascending, not
/// evenly spaced) as a density per eV: each over its point's dF spacing (central differences,
/// one-sided at the ends).
pub fn density_per_ev(df_ev: &[f64], weights: &[f64]) -> Vec<f64> {
    let n = df_ev.len();
    weights
        .iter()
        .enumerate()
        .map(|(j, w)| {
            let (a, b) = (j.saturating_sub(1), (j + 1).min(n - 1));
            w / ((df_ev[b] - df_ev[a]) / (b - a) as f64)
        })
        .collect()
}

/// STZ sizes of recovered volumes `omega_m3` (ascending), read as one consecutive hierarchy
/// Omega_k = (n_1 + k) V_a: the median spacing of neighbouring volumes estimates V_a (robust to a
/// few spacings squeezed where peaks are broad), n_1 = Omega_1 / that estimate, rounded, and V_a is
/// then fitted through the origin with the sizes, V_a = sum n_k Omega_k / sum n_k^2.
#[derive(Debug, Clone, PartialEq)]
pub struct Quantized {
    /// The atomic volume V_a, m^3.
    pub atomic_volume_m3: f64,
    /// The size of every volume.
    pub sizes: Vec<u32>,
    /// The rms of Omega_k / V_a - n_k: how far the volumes miss integer multiples of V_a.
    pub integer_misfit: f64,
}

/// Reads `omega_m3` (ascending) as consecutive sizes (see [`Quantized`]); `None` for fewer than two
/// volumes, volumes not ascending, or a first size below 1.
pub fn quantize(omega_m3: &[f64]) -> Option<Quantized> {
    let m = omega_m3.len();
    if m < 2 {
        return None;
    }
    let mut spacings: Vec<f64> = omega_m3.windows(2).map(|w| w[1] - w[0]).collect();
    spacings.sort_by(f64::total_cmp);
    let mid = spacings.len() / 2;
    let spacing = if spacings.len() % 2 == 1 {
        spacings[mid]
    } else {
        0.5 * (spacings[mid - 1] + spacings[mid])
    };
    let first = (omega_m3[0] / spacing).round();
    if !(spacings[0] > 0.0 && first >= 1.0 && first.is_finite()) {
        return None;
    }
    let sizes: Vec<u32> = (0..m).map(|k| first as u32 + k as u32).collect();
    let (mut num, mut den) = (0.0, 0.0);
    for (n, o) in sizes.iter().zip(omega_m3) {
        num += f64::from(*n) * o;
        den += f64::from(*n).powi(2);
    }
    let va = num / den;
    let rms = (sizes
        .iter()
        .zip(omega_m3)
        .map(|(n, o)| (o / va - f64::from(*n)).powi(2))
        .sum::<f64>()
        / m as f64)
        .sqrt();
    Some(Quantized {
        atomic_volume_m3: va,
        sizes,
        integer_misfit: rms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inversion::Kernel;

    fn zr() -> Material {
        crate::stz::zr_test_material()
    }

    #[test]
    fn at_the_reference_temperature_the_table_is_the_loss_kernel() {
        let m = zr();
        let grid = VolumeGrid::new(LnTauGrid::new(1e-4, 1e4, 41).unwrap(), &m, 600.0).unwrap();
        let w = [1e-2, 0.3, 1.0, 7.0, 1e2];
        let table = loss_global_table(&w, &[600.0; 5], &grid, &m);
        for (i, &wi) in w.iter().enumerate() {
            for j in 0..41 {
                let direct = Kernel::Loss.eval(wi, grid.grid.tau_s(j));
                assert!((table[(i, j)] - direct).abs() < 1e-12 * direct.max(1e-300));
            }
        }
        // Elsewhere it follows Eq. 9: hotter, every volume relaxes faster (above T_g mu falls too).
        let hot = loss_global_table(&[1.0], &[650.0], &grid, &m);
        for j in 0..41 {
            let tau = m.tau_s(grid.omega_m3[j], 650.0);
            assert!(tau < grid.grid.tau_s(j));
            assert!((hot[(0, j)] - Kernel::Loss.eval(1.0, tau)).abs() < 1e-12);
        }
    }

    #[test]
    fn quantize_reads_sizes_and_the_atomic_volume() {
        let va = 10.4e-30;
        let exact: Vec<f64> = (25..=33).map(|n| f64::from(n) * va).collect();
        let q = quantize(&exact).unwrap();
        assert_eq!(q.sizes, (25..=33).collect::<Vec<u32>>());
        assert!((q.atomic_volume_m3 / va - 1.0).abs() < 1e-12);
        assert!(q.integer_misfit < 1e-9);
        // Scatter of 0.1 size moves neither.
        let noisy: Vec<f64> = exact
            .iter()
            .enumerate()
            .map(|(k, o)| o + if k % 2 == 0 { 0.1 } else { -0.1 } * va)
            .collect();
        let q = quantize(&noisy).unwrap();
        assert_eq!(q.sizes[0], 25);
        assert!((q.atomic_volume_m3 / va - 1.0).abs() < 0.01);
        // Two spacings squeezed to 0.7 of V_a (broad peaks merging): the median spacing holds.
        let tilting: Vec<f64> = exact
            .iter()
            .enumerate()
            .map(|(k, o)| o + [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -0.3, -0.6][k] * va)
            .collect();
        assert_eq!(quantize(&tilting).unwrap().sizes[0], 25);
        assert!(quantize(&exact[..1]).is_none());
    }
}
