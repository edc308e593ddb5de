//! How sure is each number of an inversion: the bootstrap (docs/model.md §6).
//!
//! B data sets are drawn around the chosen fit and each is re-analysed with the WHOLE analysis,
//! the lambda choice of the rule included, so that the spread contains the rule's own variability:
//!
//! - **parametric** when sigma is given: y*_i = fit_i + sigma_i z_i with z_i standard normal (the
//!   noise model is known, so it is used as stated);
//! - **residual** when sigma is estimated: y*_i = fit_i + r*_i, with r* drawn with replacement from
//!   the centred residuals scaled by sqrt(M / (M - dof)) (no noise model is known; the residuals are
//!   the only evidence of the noise, and the scaling undoes the shrinkage of a fit with dof
//!   effective parameters).
//!
//! Bands and intervals are the 5th, 50th and 95th percentiles of the resamples (a nominal 90 %
//! interval). Peaks are matched across resamples by position: a resample's peaks nearer to a
//! reference peak (the chosen spectrum's) than to any other, and within [`MATCH_DECADES`], are its
//! image (their areas add, their centroid is the area-weighted one in ln tau); the fraction of
//! resamples with an image is the peak's appearance.
//!
//! Resample b draws from its own random stream (seeded from the settings' seed and b), and the
//! percentiles are taken over the resamples in index order, so the result is the same for any
//! number of threads. Only the resamples' densities and matched peaks are kept (B x (N + peaks)
//! numbers), never their lambda paths.

use rand::RngExt;
use rand_distr::StandardNormal;
use rayon::prelude::*;
use serde::Serialize;

use super::score::quantile;
use crate::analysis::{back_analysis, back_analysis_labelled, BackAnalysis};
use crate::inversion::{analyse, Bootstrap, InvertOptions, Problem, RuleResult, Workspace};
use crate::noise::{rng_from_seed, splitmix64};
use crate::spectrum::SpectrumPeak;
use crate::stz::Material;

/// Told how a bootstrap progresses: the command line draws it; `()` says nothing (the library's
/// default). Called from the worker threads.
pub trait Observer: Sync {
    /// Before the analysis: its size and expected seconds from the size alone
    /// ([`crate::pipeline::cost`]), bootstrap not included.
    fn analysing(&self, _size: crate::pipeline::cost::AnalysisSize, _seconds: f64) {}
    /// Before the resamples: how many, and how long the chosen analysis took, s (one resample
    /// costs about as much).
    fn starting(&self, _resamples: usize, _seconds_per_analysis: f64) {}
    /// After a resample: how many are done of `total` (in completion order).
    fn resampled(&self, _done: usize, _total: usize) {}
}

impl Observer for () {}

/// A resample's peak farther than this from every reference peak, decades, is not an image of any.
pub const MATCH_DECADES: f64 = 1.0;

/// The percentiles that bound the reported interval.
pub const INTERVAL: (f64, f64) = (0.05, 0.95);

/// The nominal level of the interval, INTERVAL.1 - INTERVAL.0.
pub const NOMINAL_LEVEL: f64 = 0.9;

/// How the resampled data sets are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Resampling {
    /// From the fit and the given sigma.
    Parametric,
    /// From the fit and the centred, rescaled residuals (sigma estimated).
    Residual,
}

impl Resampling {
    /// The name written to summary.json.
    pub fn name(self) -> &'static str {
        match self {
            Self::Parametric => "parametric",
            Self::Residual => "residual",
        }
    }
}

/// The scale in which a quantity's interval is reflected about its estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// Any real number (dF, Omega, the slope).
    Linear,
    /// A non-negative number that may be zero (the density): limits below zero are zero.
    NonNegative,
    /// A positive number whose errors are relative (tau, peak areas): reflected in its logarithm.
    Log,
}

/// The lower limit, estimate and upper limit of a nominal 90 % interval of one quantity (the
/// percentiles of the resamples for [`Interval::of`], reflected for [`Interval::basic`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    /// 5th percentile.
    pub p05: f64,
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
}

impl Interval {
    /// Of the finite `values` (reordered); `None` when fewer than two are finite.
    pub fn of(values: &mut Vec<f64>) -> Option<Self> {
        values.retain(|v| v.is_finite());
        if values.len() < 2 {
            return None;
        }
        values.sort_by(f64::total_cmp);
        Some(Self {
            p05: quantile(values, INTERVAL.0),
            p50: quantile(values, 0.5),
            p95: quantile(values, INTERVAL.1),
        })
    }

    /// The basic bootstrap interval of `estimate` (Davison and Hinkley 1997, eq. 5.6): the
    /// resamples' percentiles q reflected about the estimate, 2 estimate - q in `scale`, so that
    /// the bias a regularized estimate carries (which its resamples repeat) is taken out instead of
    /// doubled. `p05` is the lower 5 % limit, `p50` the bias-corrected estimate, `p95` the upper.
    /// `None` when the estimate is not finite or fewer than two values are.
    pub fn basic(estimate: f64, values: &mut Vec<f64>, scale: Scale) -> Option<Self> {
        if !estimate.is_finite() {
            return None;
        }
        let q = Self::of(values)?;
        let reflect = |v: f64| match scale {
            Scale::Linear => 2.0 * estimate - v,
            Scale::NonNegative => (2.0 * estimate - v).max(0.0),
            Scale::Log if v > 0.0 && estimate > 0.0 => {
                // e^2 / v, regrouped where e^2 leaves f64's range (data in units near 1e+-200).
                let r = estimate * estimate / v;
                if r.is_finite() && r > 0.0 {
                    r
                } else {
                    estimate * (estimate / v)
                }
            }
            Scale::Log => f64::NAN,
        };
        Some(Self {
            p05: reflect(q.p95),
            p50: reflect(q.p50),
            p95: reflect(q.p05),
        })
    }

    /// Whether `v` lies in [p05, p95].
    pub fn contains(&self, v: f64) -> bool {
        (self.p05..=self.p95).contains(&v)
    }
}

/// The intervals of one peak of the chosen spectrum.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PeakUncertainty {
    /// Fraction of the resamples in which the peak has an image.
    pub appearance: f64,
    /// Centroid tau, s (over the resamples where it appears).
    pub tau_s: Interval,
    /// Area (data units: volume fraction for strain, Pa for the loss modulus).
    pub area: Interval,
    /// Activation free energy, eV (with a material).
    pub df_ev: Option<Interval>,
    /// STZ volume, m^3 (with a material).
    pub omega_m3: Option<Interval>,
}

/// The bootstrap of one inversion.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Uncertainty {
    /// How the data sets were drawn.
    pub resampling: Resampling,
    /// Number of resamples drawn.
    pub resamples: usize,
    /// Seed of the resamples.
    pub seed: u64,
    /// Resamples whose rule made no choice (left out of every interval).
    pub failed: usize,
    /// Density per unit ln tau at each grid point.
    #[serde(skip)]
    pub density: Vec<Interval>,
    /// One entry per peak of the chosen spectrum, in its order.
    pub peaks: Vec<PeakUncertainty>,
    /// Fraction of resamples with a peak that is an image of no reference peak.
    pub unmatched_fraction: f64,
    /// The slope of Omega against m, m^3 (with a material and two peaks with a volume).
    pub omega_slope_m3: Option<Interval>,
}

/// What the STZ back-analysis of each resample needs.
#[derive(Debug, Clone, Copy)]
pub struct StzInput<'a> {
    /// The material.
    pub material: &'a Material,
    /// Measurement temperature, K.
    pub temperature_k: f64,
    /// The data window in tau, s (only peaks inside it enter the slope).
    pub window_s: (f64, f64),
    /// Peak area per unit volume fraction (1 for strain, E0(T) for the loss modulus).
    pub area_per_c: f64,
}

impl<'a> StzInput<'a> {
    /// The input for peaks whose areas are volume fractions, or loss moduli in Pa (`loss_pa`:
    /// E0(T) c, paper Eq. 7).
    pub fn new(
        material: &'a Material,
        temperature_k: f64,
        window_s: (f64, f64),
        loss_pa: bool,
    ) -> Self {
        Self {
            material,
            temperature_k,
            window_s,
            area_per_c: if loss_pa {
                material.e0_pa(temperature_k)
            } else {
                1.0
            },
        }
    }

    /// The STZ reading of `peaks` (ordered by tau, m = 1, 2, ...).
    pub fn read(&self, peaks: &[SpectrumPeak]) -> BackAnalysis {
        back_analysis(
            peaks,
            self.material,
            self.temperature_k,
            Some(self.window_s),
            self.area_per_c,
        )
    }

    /// The STZ reading of peaks that carry their own m.
    fn read_labelled(&self, peaks: &[(usize, SpectrumPeak)]) -> BackAnalysis {
        back_analysis_labelled(
            peaks,
            self.material,
            self.temperature_k,
            Some(self.window_s),
            self.area_per_c,
        )
    }
}

/// One resample's result: its density and, per reference peak, its image (tau, area, dF, Omega).
struct Draw {
    density: Vec<f64>,
    images: Vec<Option<Image>>,
    unmatched: bool,
    slope_m3: Option<f64>,
}

#[derive(Clone, Copy)]
struct Image {
    tau_s: f64,
    area: f64,
    df_ev: Option<f64>,
    omega_m3: Option<f64>,
}

/// The data sets' generator: the fit and either sigma or the rescaled, centred residuals.
struct Generator {
    fit: Vec<f64>,
    noise: Noise,
}

enum Noise {
    Sigma(Vec<f64>),
    Residuals(Vec<f64>),
}

impl Generator {
    fn new(problem: &Problem, chosen: &RuleResult) -> Self {
        let solution = &chosen.choice.solution;
        let fit = problem.fitted(solution);
        let noise = if problem.sigma_given() {
            Noise::Sigma(problem.weights().iter().map(|w| 1.0 / w).collect())
        } else {
            let m = problem.len() as f64;
            let r: Vec<f64> = problem.y().iter().zip(&fit).map(|(y, f)| y - f).collect();
            let mean = r.iter().sum::<f64>() / m;
            // The fit used dof effective parameters; its residuals are smaller than the noise.
            let spare = (m - solution.stats.dof).max(1.0);
            let scale = (m / spare).sqrt();
            Noise::Residuals(r.iter().map(|v| (v - mean) * scale).collect())
        };
        Self { fit, noise }
    }

    fn resampling(&self) -> Resampling {
        match self.noise {
            Noise::Sigma(_) => Resampling::Parametric,
            Noise::Residuals(_) => Resampling::Residual,
        }
    }

    fn draw(&self, seed: u64) -> Vec<f64> {
        let mut rng = rng_from_seed(seed);
        match &self.noise {
            Noise::Sigma(s) => self
                .fit
                .iter()
                .zip(s)
                .map(|(f, s)| f + s * rng.sample::<f64, _>(StandardNormal))
                .collect(),
            Noise::Residuals(r) => self
                .fit
                .iter()
                .map(|f| f + r[rng.random_range(0..r.len())])
                .collect(),
        }
    }
}

/// The seed of resample `b`.
fn resample_seed(seed: u64, b: usize) -> u64 {
    splitmix64(seed ^ splitmix64(b as u64 ^ 0x5354_5a42_4f4f_5401))
}

/// Matches `peaks` to `reference` (ln tau centroids, increasing): each peak goes to the nearest
/// reference within [`MATCH_DECADES`]; several images of one reference merge. Returns the merged
/// images and whether some peak matched none.
fn match_peaks(reference: &[f64], peaks: &[SpectrumPeak]) -> (Vec<Option<SpectrumPeak>>, bool) {
    let radius = MATCH_DECADES * std::f64::consts::LN_10;
    let mut images: Vec<Option<SpectrumPeak>> = vec![None; reference.len()];
    let mut unmatched = false;
    for p in peaks {
        let nearest = reference
            .iter()
            .enumerate()
            .map(|(k, c)| (k, (p.ln_tau_centroid - c).abs()))
            .min_by(|a, b| a.1.total_cmp(&b.1));
        match nearest {
            Some((k, d)) if d <= radius => {
                images[k] = Some(match images[k] {
                    None => *p,
                    Some(q) => {
                        let area = q.area + p.area;
                        let mix = |a: f64, b: f64| (a * q.area + b * p.area) / area;
                        let (early, late) = if q.first <= p.first { (q, *p) } else { (*p, q) };
                        SpectrumPeak {
                            first: early.first,
                            last: q.last.max(p.last),
                            area,
                            ln_tau_centroid: mix(q.ln_tau_centroid, p.ln_tau_centroid),
                            ln_tau_median: mix(q.ln_tau_median, p.ln_tau_median),
                            height: q.height.max(p.height),
                            shared_first: early.shared_first,
                            shared_last: if late.last >= early.last {
                                late.shared_last
                            } else {
                                early.shared_last
                            },
                        }
                    }
                });
            }
            _ => unmatched = true,
        }
    }
    (images, unmatched)
}

/// The bootstrap of the chosen result `chosen` of `problem` under `options` (its rule, path and
/// peak settings), with `settings.resamples` resamples in parallel on the current rayon pool,
/// reporting each finished resample to `observer`.
pub fn bootstrap(
    problem: &Problem,
    chosen: &RuleResult,
    options: &InvertOptions,
    stz: Option<StzInput<'_>>,
    settings: Bootstrap,
    observer: &dyn Observer,
) -> Uncertainty {
    let generator = Generator::new(problem, chosen);
    let done = std::sync::atomic::AtomicUsize::new(0);
    let reference: Vec<f64> = chosen.peaks.iter().map(|p| p.ln_tau_centroid).collect();
    let describe = |result: &RuleResult| describe(result, &reference, problem.grid().step(), stz);
    let estimate = describe(chosen);
    let rules = [options.rule];
    let draws: Vec<Option<Draw>> = (0..settings.resamples)
        .into_par_iter()
        .map_init(Workspace::new, |ws, b| {
            let y = generator.draw(resample_seed(settings.seed, b));
            let resampled = problem.with_data(&y).ok()?;
            let analysis = analyse(
                &resampled,
                options.lambda_points,
                &rules,
                &options.peaks,
                options.regularizer,
                ws,
            );
            let draw = analysis.results.first().map(describe);
            let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            observer.resampled(n, settings.resamples);
            draw
        })
        .collect();
    summarize(&generator, settings, &estimate, &draws)
}

/// A result's density, its peaks' images of the `reference` peaks (with their STZ reading) and
/// its Omega slope.
fn describe(result: &RuleResult, reference: &[f64], step: f64, stz: Option<StzInput<'_>>) -> Draw {
    let (images, unmatched) = match_peaks(reference, &result.peaks);
    let back = stz.map(|s| {
        let labelled: Vec<(usize, SpectrumPeak)> = images
            .iter()
            .enumerate()
            .filter_map(|(k, p)| p.map(|p| (k + 1, p)))
            .collect();
        s.read_labelled(&labelled)
    });
    let images = images
        .iter()
        .enumerate()
        .map(|(k, p)| {
            p.map(|p| {
                let e = back
                    .as_ref()
                    .and_then(|b| b.estimates.iter().find(|e| e.m == k + 1));
                Image {
                    tau_s: p.tau_s(),
                    area: p.area,
                    df_ev: e.and_then(|e| e.df_ev),
                    omega_m3: e.and_then(|e| e.omega_m3),
                }
            })
        })
        .collect();
    Draw {
        density: result
            .choice
            .solution
            .amplitudes
            .iter()
            .map(|w| w / step)
            .collect(),
        images,
        unmatched,
        slope_m3: back.and_then(|b| b.slope_m3),
    }
}

/// The basic intervals of the estimate from the draws.
fn summarize(
    generator: &Generator,
    settings: Bootstrap,
    estimate: &Draw,
    draws: &[Option<Draw>],
) -> Uncertainty {
    let done: Vec<&Draw> = draws.iter().flatten().collect();
    let nan = Interval {
        p05: f64::NAN,
        p50: f64::NAN,
        p95: f64::NAN,
    };
    let density = (0..estimate.density.len())
        .map(|j| {
            let mut v = done.iter().map(|d| d.density[j]).collect();
            Interval::basic(estimate.density[j], &mut v, Scale::NonNegative).unwrap_or(nan)
        })
        .collect();
    let peaks = estimate
        .images
        .iter()
        .enumerate()
        .map(|(k, own)| {
            let own = own.expect("every reference peak is its own image");
            let images: Vec<Image> = done.iter().filter_map(|d| d.images[k]).collect();
            let of = |f: &dyn Fn(&Image) -> Option<f64>, scale: Scale| {
                let mut v: Vec<f64> = images.iter().filter_map(f).collect();
                Interval::basic(f(&own)?, &mut v, scale)
            };
            PeakUncertainty {
                appearance: images.len() as f64 / done.len().max(1) as f64,
                tau_s: of(&|i| Some(i.tau_s), Scale::Log).unwrap_or(nan),
                area: of(&|i| Some(i.area), Scale::Log).unwrap_or(nan),
                df_ev: of(&|i| i.df_ev, Scale::Linear),
                omega_m3: of(&|i| i.omega_m3, Scale::Linear),
            }
        })
        .collect();
    let mut slopes = done.iter().filter_map(|d| d.slope_m3).collect();
    Uncertainty {
        resampling: generator.resampling(),
        resamples: settings.resamples,
        seed: settings.seed,
        failed: draws.len() - done.len(),
        density,
        peaks,
        unmatched_fraction: done.iter().filter(|d| d.unmatched).count() as f64
            / done.len().max(1) as f64,
        omega_slope_m3: estimate
            .slope_m3
            .and_then(|e| Interval::basic(e, &mut slopes, Scale::Linear)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peak(ln_tau: f64, area: f64) -> SpectrumPeak {
        SpectrumPeak {
            first: 0,
            last: 0,
            area,
            ln_tau_centroid: ln_tau,
            ln_tau_median: ln_tau,
            height: area,
            shared_first: false,
            shared_last: false,
        }
    }

    #[test]
    fn peaks_match_the_nearest_reference_and_merge() {
        let reference = [0.0, 10.0];
        let peaks = [
            peak(-1.0, 1.0),
            peak(1.0, 3.0),
            peak(9.0, 2.0),
            peak(30.0, 1.0),
        ];
        let (images, unmatched) = match_peaks(&reference, &peaks);
        let a = images[0].unwrap();
        assert_eq!(a.area, 4.0);
        assert!(
            (a.ln_tau_centroid - 0.5).abs() < 1e-15,
            "area-weighted: (-1 + 3) / 4"
        );
        assert_eq!(images[1].unwrap().area, 2.0);
        assert!(
            unmatched,
            "ln tau 30 is 20 from the nearest reference (> ln 10)"
        );
        let (images, unmatched) = match_peaks(&reference, &[peak(8.0, 1.0)]);
        assert!(images[0].is_none() && images[1].is_some() && !unmatched);
    }

    #[test]
    fn the_nominal_level_is_the_interval_between_the_percentiles() {
        assert!((INTERVAL.1 - INTERVAL.0 - NOMINAL_LEVEL).abs() < 1e-12);
    }

    #[test]
    fn intervals_are_percentiles_of_the_finite_values() {
        let mut v: Vec<f64> = (0..=100).map(f64::from).chain([f64::NAN]).collect();
        let i = Interval::of(&mut v).unwrap();
        assert_eq!((i.p05, i.p50, i.p95), (5.0, 50.0, 95.0));
        assert!(i.contains(5.0) && i.contains(95.0) && !i.contains(95.5));
        assert!(Interval::of(&mut vec![1.0, f64::NAN]).is_none());
    }

    #[test]
    fn log_intervals_scale_with_areas_in_any_unit() {
        // Reflected in the logarithm: e^2 / q, also where e^2 leaves f64's range.
        let values: Vec<f64> = (1..=40).map(|k| 0.5 + f64::from(k) / 40.0).collect();
        let one = Interval::basic(1.0, &mut values.clone(), Scale::Log).unwrap();
        let q95 = Interval::of(&mut values.clone()).unwrap().p95;
        assert!((one.p05 - 1.0 / q95).abs() < 1e-12);
        for k in [1e-200, 1e200] {
            let mut scaled: Vec<f64> = values.iter().map(|v| v * k).collect();
            let i = Interval::basic(k, &mut scaled, Scale::Log).unwrap();
            for (a, b) in [(i.p05, one.p05), (i.p50, one.p50), (i.p95, one.p95)] {
                assert!((a / k / b - 1.0).abs() < 1e-12, "{a:e} / {k:e} against {b}");
            }
        }
    }
}
