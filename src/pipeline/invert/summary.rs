//! What `summary.json` holds for an inversion: typed summaries of each series (and each joint
//! data set), built from the inversion.

use serde::Serialize;

use super::{DataInversion, SeriesInversion, SpectrumAxis, MISFIT_SIGMAS};
use crate::inversion::rules::{Disagreement, Screen};
use crate::inversion::{Kernel, NOISE_SIGNIFICANCE};
use crate::pipeline::joint::{window_gaps, JointSet};
use crate::pipeline::uncertainty::Uncertainty;

/// `summary.json` of an inversion: one series' summary, or the list of them for DMA data.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum InvertSummary {
    /// One series.
    One {
        /// Its summary.
        #[serde(flatten)]
        series: Box<SeriesSummary>,
        /// The kernel's name (`joint` for a joint inversion, whose `sets` name each set's).
        kind: &'static str,
        /// The data file (the files joined by " + " for a joint inversion).
        data: String,
        /// The regularizer family (`tikhonov`, `log-smooth`, `maxent`).
        regularizer: &'static str,
        /// The penalty's difference order (the family's default unless `--order` was given).
        order: usize,
        /// The reading in activation energy (`creep-stepping`).
        #[serde(skip_serializing_if = "Option::is_none")]
        energy: Option<EnergySummary>,
        /// The reading in STZ volume (`loss-global`).
        #[serde(skip_serializing_if = "Option::is_none")]
        volume: Option<super::global::VolumeSummary>,
    },
    /// Several series (DMA temperatures).
    Many {
        /// The rule.
        rule: String,
        /// Their summaries in file order.
        series: Vec<SeriesSummary>,
        /// The kernel's name.
        kind: &'static str,
        /// The data file.
        data: String,
        /// The regularizer family.
        regularizer: &'static str,
        /// The penalty's difference order.
        order: usize,
    },
}

impl DataInversion {
    /// Each series' summary, in file order.
    pub fn summaries(&self) -> Vec<SeriesSummary> {
        self.series
            .iter()
            .map(|r| r.summary(self.atomic_volume_m3))
            .collect()
    }

    /// The content of `summary.json`.
    pub fn summary(&self) -> InvertSummary {
        let mut summaries = self.summaries();
        let joint = self.series.iter().any(|s| !s.sets.is_empty());
        let kind = if joint {
            "joint"
        } else if let Some(axis) = &self.axis {
            match axis {
                SpectrumAxis::Energy(_) => "creep-stepping",
                SpectrumAxis::Volume(v) => v.kind,
            }
        } else {
            self.options.kernel.name()
        };
        let data = self.file.clone();
        if summaries.len() == 1 {
            InvertSummary::One {
                series: Box::new(summaries.remove(0)),
                kind,
                data,
                regularizer: self.options.regularizer.name(),
                order: self.options.order,
                energy: match &self.axis {
                    Some(SpectrumAxis::Energy(e)) => Some(e.summary(&self.series[0])),
                    _ => None,
                },
                volume: match &self.axis {
                    Some(SpectrumAxis::Volume(v)) => Some(v.summary(&self.series[0])),
                    _ => None,
                },
            }
        } else {
            InvertSummary::Many {
                rule: self.options.rule.name(),
                series: summaries,
                kind,
                data,
                regularizer: self.options.regularizer.name(),
                order: self.options.order,
            }
        }
    }
}

/// The activation-energy reading in `summary.json` (`--kind creep-stepping`, docs/model.md §8).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnergySummary {
    /// The temperature-history file.
    pub history: String,
    /// nu in tau = exp(dF / kT) / nu, Hz.
    pub attempt_hz: f64,
    /// The reference temperature of the ln tau_ref axis (the history's highest), K.
    pub reference_k: f64,
    /// The dF grid's ends, eV.
    pub df_grid_ev: [f64; 2],
    /// dF grid points.
    pub df_points: usize,
    /// The dF range the record resolves (theta = 1 at its first and at its last time), eV.
    pub resolved_df_ev: [f64; 2],
    /// The chosen spectrum's peaks in dF.
    pub peaks: Vec<EnergyPeak>,
}

/// One peak of a spectrum of dF.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnergyPeak {
    /// Centroid, eV.
    pub df_ev: f64,
    /// Area (strain, in data units).
    pub area: f64,
    /// Whether the centroid lies in the resolved range.
    pub in_resolved_range: bool,
}

impl super::energy::EnergyReading {
    /// The summary of `series`, the inversion this reading belongs to.
    pub fn summary(&self, series: &SeriesInversion) -> EnergySummary {
        let df = self.grid.df_ev();
        let (lo, hi) = self.resolved_ev;
        EnergySummary {
            history: self.history_file.clone(),
            attempt_hz: self.grid.law.attempt_hz,
            reference_k: self.grid.reference_k,
            df_grid_ev: [df[0], df[df.len() - 1]],
            df_points: df.len(),
            resolved_df_ev: [lo, hi],
            peaks: series
                .peaks()
                .iter()
                .map(|p| {
                    let df_ev = self.grid.df_of_tau(p.tau_s());
                    EnergyPeak {
                        df_ev,
                        area: p.area,
                        in_resolved_range: (lo..=hi).contains(&df_ev),
                    }
                })
                .collect(),
        }
    }
}

/// The summary of one series' inversion (what `summary.json` holds per series).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesSummary {
    /// Temperature, K.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature_k: Option<f64>,
    /// The rule.
    pub rule: String,
    /// Whether its criterion was met (`ok`) or what it did instead (`at-path-end`,
    /// `target-unreachable`, `no-corner`).
    pub status: &'static str,
    /// The rule whose choice was returned instead, when the status names a fallback.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
    /// Warnings, joined by "; ": the status is not ok, the data reject the consensus fit against
    /// its evidence member's, peaks were left out below `--min-significance`, peaks in the window
    /// lie below 2 standard errors, the fit misses the data, the windows leave a gap, the data run
    /// against their kernel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
    /// What the consensus rule's whiteness screen did (consensus only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub whiteness: Option<Screen>,
    /// The consensus choice against its evidence member's, when consensus chose the stronger
    /// lambda (consensus only; README, "When the rules disagree").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disagreement: Option<Disagreement>,
    /// Chosen lambda (0 for the iterative mode, whose objective has no penalty).
    pub lambda: f64,
    /// The iterative mode's chosen stopping tolerance (relative objective decrease per iteration).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopping_tolerance: Option<f64>,
    /// The iterative mode's iterations up to that tolerance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iterations: Option<usize>,
    /// The path's lambda range (data-dominated end, penalty-dominated end).
    pub lambda_range: [f64; 2],
    /// The power of two the data were divided by for the numerics, in the data's unit; written
    /// only when it is not 1 (data whose largest |y| lies outside 1e-100..1e100): lambda,
    /// `lambda_range` and path.csv's norms then belong to the data divided by it.
    #[serde(skip_serializing_if = "is_one")]
    pub data_scale: f64,
    /// Maxent's flat default model m, amplitude per grid point (data units; maxent only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_model: Option<f64>,
    /// Total variation's rounding scale, a fraction of the largest difference of the Tikhonov
    /// solution at each lambda (total variation only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edge_scale: Option<f64>,
    /// The data window in tau, s (the hull of the sets' windows for a joint inversion).
    pub window_s: [f64; 2],
    /// R^2 of the chosen fit.
    pub r2: f64,
    /// chi^2 with sigma given; ||r||^2 / sigma_hat^2 with sigma estimated.
    pub chi2: f64,
    /// `given` or `estimated`.
    pub sigma: &'static str,
    /// Number of data points.
    pub points: usize,
    /// Effective degrees of freedom.
    pub dof: f64,
    /// Baseline coefficients by name.
    pub baseline: serde_json::Map<String, serde_json::Value>,
    /// Their linearized standard errors by the same names (Tikhonov; null for a coefficient held
    /// at its bound).
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    pub baseline_stderr: serde_json::Map<String, serde_json::Value>,
    /// Peaks of the chosen spectrum.
    pub peaks: Vec<PeakSummary>,
    /// Solver report of the chosen solve.
    pub nnls: crate::inversion::nnls::NnlsInfo,
    /// The other rules' choices.
    pub other_rules: Vec<OtherRule>,
    /// STZ slope, when a material was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stz: Option<StzSummary>,
    /// The bootstrap's resampling, counts and intervals (peaks in the order of `peaks`), when asked
    /// for; the density bands are in `spectrum.csv`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uncertainty: Option<Uncertainty>,
    /// A joint inversion's data sets with their own fit quantities.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sets: Vec<SetSummary>,
}

/// One data set of a joint inversion in the summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SetSummary {
    /// The set as it entered the problem.
    #[serde(flatten)]
    pub set: JointSet,
    /// Its rows' chi^2, sum of ((y - fit) / sigma)^2 (sigma given or estimated for it).
    pub chi2: f64,
    /// Its baseline coefficients by name.
    pub baseline: serde_json::Map<String, serde_json::Value>,
}

/// A peak in the summary.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PeakSummary {
    /// Centroid tau, s.
    pub tau_s: f64,
    /// Median tau, s.
    pub tau_median_s: f64,
    /// Area.
    pub area: f64,
    /// Whether the centroid lies inside the data window.
    pub in_window: bool,
    /// The area's linearized standard error (Tikhonov, log-smooth, maxent;
    /// [`SeriesInversion::area_stderr`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub area_stderr: Option<f64>,
    /// The area over that error ([`SeriesInversion::significance`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub significance: Option<f64>,
}

/// Another rule's choice, for comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OtherRule {
    /// The rule.
    pub rule: String,
    /// Its status (as [`SeriesSummary::status`]).
    pub status: &'static str,
    /// Its fallback rule, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
    /// What the consensus rule's whiteness screen did (consensus only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub whiteness: Option<Screen>,
    /// Its lambda.
    pub lambda: f64,
    /// R^2.
    pub r2: f64,
    /// Number of peaks.
    pub peaks: usize,
}

/// The slope of Omega_m against m.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct StzSummary {
    /// Temperature used, K.
    pub temperature_k: f64,
    /// Slope, m^3.
    pub omega_slope_m3: Option<f64>,
    /// Standard error, m^3.
    pub omega_slope_stderr_m3: Option<f64>,
    /// Slope in atomic volumes (when the atomic volume is known).
    pub omega_slope_atomic_volumes: Option<f64>,
    /// Its standard error in atomic volumes.
    pub omega_slope_stderr_atomic_volumes: Option<f64>,
}

impl SeriesInversion {
    /// A warning naming the peaks in the data window whose area is below
    /// [`NOISE_SIGNIFICANCE`] standard errors (`significance`, one per chosen peak): the noise
    /// alone could have made them.
    fn weak_peaks_warning(&self, significance: &[Option<f64>]) -> Option<String> {
        let weak: Vec<String> = self
            .peaks()
            .iter()
            .zip(significance)
            .filter_map(|(p, z)| {
                let z = z.filter(|z| *z < NOISE_SIGNIFICANCE && self.in_window(p))?;
                Some(format!(
                    "tau {:.4e} s (area {:.3e}, {z:.2} standard errors)",
                    p.tau_s(),
                    p.area
                ))
            })
            .collect();
        let (what, them) = match weak.len() {
            0 => return None,
            1 => ("1 peak in the data window has an area".to_string(), "it"),
            n => (format!("{n} peaks in the data window have areas"), "them"),
        };
        Some(format!(
            "{what} below {NOISE_SIGNIFICANCE} standard errors, which the noise alone could give: \
             {}; --min-significance {NOISE_SIGNIFICANCE} leaves {them} out of the reading",
            weak.join(", ")
        ))
    }

    /// With sigma given, a warning when the chosen fit's chi^2 exceeds M by more than
    /// [`MISFIT_SIGMAS`] standard deviations of a chi^2 with M degrees of freedom (sqrt(2M)).
    fn misfit_warning(&self, chi2: f64) -> Option<String> {
        let m = self.problem.len() as f64;
        let limit = m + MISFIT_SIGMAS * (2.0 * m).sqrt();
        (self.analysis.scores.sigma_given && chi2 > limit).then(|| {
            format!(
                "chi^2 = {chi2:.1} for {m} points is above M + {MISFIT_SIGMAS} sqrt(2M) = {limit:.1}: \
                 the chosen fit misses the data by more than the stated noise (too strong a lambda, \
                 an understated sigma, or a kernel and baseline that cannot fit these data)"
            )
        })
    }

    /// A warning when a set's data run against its kernel: recovery (`decay`) falls with time and
    /// creep rises, so data that do the opposite over their window (mean of the last tenth against
    /// the first, by more than a tenth of their range) have the wrong `--kind` or a flipped sign.
    fn trend_warning(&self) -> Option<String> {
        let y = self.problem.y();
        let flagged: Vec<String> = self
            .problem
            .blocks()
            .iter()
            .enumerate()
            .filter_map(|(k, b)| {
                let ys = &y[b.rows.clone()];
                let tenth = (ys.len() / 10).max(1);
                let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
                let (first, last) = (mean(&ys[..tenth]), mean(&ys[ys.len() - tenth..]));
                let range = ys.iter().fold(f64::NEG_INFINITY, |a, v| a.max(*v))
                    - ys.iter().fold(f64::INFINITY, |a, v| a.min(*v));
                let rise = last - first;
                let against = match b.kernel {
                    Kernel::Decay => rise > 0.1 * range,
                    Kernel::Creep => rise < -0.1 * range,
                    Kernel::Loss => false,
                };
                against.then(|| {
                    let name = self.set_label(k);
                    let (kind, does, other) = match b.kernel {
                        Kernel::Decay => ("decay", "rise", "creep"),
                        _ => ("creep", "fall", "decay"),
                    };
                    format!(
                        "{name}the data {does} with time, but the {kind} kernel describes the opposite: \
                         check --kind ({other}?) or the sign of y"
                    )
                })
            })
            .collect();
        (!flagged.is_empty()).then(|| flagged.join("; "))
    }

    /// Each joint set's chi^2 and baseline (empty for one series).
    pub fn set_summaries(&self) -> Vec<SetSummary> {
        let fit = self.problem.fitted(&self.choice().solution);
        let (y, w) = (self.problem.y(), self.problem.weights());
        self.sets
            .iter()
            .zip(self.problem.blocks())
            .enumerate()
            .map(|(k, (set, block))| SetSummary {
                set: set.clone(),
                chi2: block
                    .rows
                    .clone()
                    .map(|i| ((y[i] - fit[i]) * w[i]).powi(2))
                    .sum(),
                baseline: self.block_values(k, &self.choice().solution.baseline),
            })
            .collect()
    }

    /// The summary, with the slope in atomic volumes when `atomic_volume_m3` is known.
    pub fn summary(&self, atomic_volume_m3: Option<f64>) -> SeriesSummary {
        let chosen = &self.analysis.results[0];
        let sol = &chosen.choice.solution;
        let scores = &self.analysis.scores;
        let sets = self.set_summaries();
        let baseline = self.baseline_by_name(&sol.baseline);
        // The path's own ends: a log-space path's lambda weighs its own penalty and has its own range.
        let (lo, hi) = match self.regularizer {
            crate::inversion::Regularizer::Tikhonov => self.problem.lambda_range(),
            crate::inversion::Regularizer::LogSmooth
            | crate::inversion::Regularizer::MaxEnt
            | crate::inversion::Regularizer::TotalVariation
            | crate::inversion::Regularizer::Lorentzian => {
                let p = &self.analysis.path.points;
                (p[0].lambda(), p[p.len() - 1].lambda())
            }
        };
        let chi2 = sol.stats.weighted_ss / scores.sigma2;
        let gaps = window_gaps(&self.sets);
        let gap_warning = (!gaps.is_empty()).then(|| {
            let list: Vec<String> = gaps
                .iter()
                .map(|(a, b)| format!("{a:.3e} s to {b:.3e} s"))
                .collect();
            format!(
                "the data sets' windows leave a gap ({}): a peak there is seen by no set, and peaks \
                 on either side are joined only through the spectrum's smoothness",
                list.join(", ")
            )
        });
        let left_out = (!chosen.insignificant.is_empty()).then(|| {
            let list: Vec<String> = chosen
                .insignificant
                .iter()
                .map(|(p, se)| {
                    format!(
                        "tau {:.4e} s (area {:.3e}, standard error {:.3e})",
                        p.tau_s(),
                        p.area,
                        se
                    )
                })
                .collect();
            format!(
                "{} peaks left out of the reading, their area below --min-significance standard \
                 errors: {}",
                list.len(),
                list.join(", ")
            )
        });
        let (errors, significance) = (self.peak_area_errors(), self.significance());
        let weak = self.weak_peaks_warning(&significance);
        let warning = [
            chosen.choice.warning(),
            chosen.choice.disagreement.and_then(|d| d.warning()),
            left_out,
            weak,
            self.misfit_warning(chi2),
            gap_warning,
            self.trend_warning(),
            self.baseline_trade_warning(),
        ]
        .into_iter()
        .flatten()
        .reduce(|a, b| format!("{a}; {b}"));
        SeriesSummary {
            temperature_k: self.temperature_k,
            rule: chosen.choice.rule.name(),
            status: chosen.choice.status.name(),
            fallback: chosen.choice.fallback.map(|f| f.name()),
            warning,
            whiteness: chosen.choice.screen,
            disagreement: chosen.choice.disagreement,
            lambda: sol.lambda,
            stopping_tolerance: chosen.choice.stopping.map(|s| s.0),
            iterations: chosen.choice.stopping.map(|s| s.1),
            lambda_range: [lo, hi],
            data_scale: self.problem.data_scale(),
            default_model: self.analysis.path.default_model,
            edge_scale: (self.regularizer.is_edge()).then_some(self.problem.settings().edge_scale),
            window_s: [self.window_s.0, self.window_s.1],
            r2: sol.stats.r2,
            chi2,
            sigma: if scores.sigma_given {
                "given"
            } else {
                "estimated"
            },
            points: self.problem.len(),
            dof: sol.stats.dof,
            baseline,
            baseline_stderr: self
                .baseline_stderr
                .as_deref()
                .map(|e| self.baseline_by_name(e))
                .unwrap_or_default(),
            peaks: chosen
                .peaks
                .iter()
                .enumerate()
                .map(|(i, p)| PeakSummary {
                    tau_s: p.tau_s(),
                    tau_median_s: p.tau_median_s(),
                    area: p.area,
                    in_window: self.in_window(p),
                    area_stderr: errors[i],
                    significance: significance[i],
                })
                .collect(),
            nnls: sol.info,
            other_rules: self.analysis.results[1..]
                .iter()
                .map(|r| OtherRule {
                    rule: r.choice.rule.name(),
                    status: r.choice.status.name(),
                    fallback: r.choice.fallback.map(|f| f.name()),
                    whiteness: r.choice.screen,
                    lambda: r.choice.solution.lambda,
                    r2: r.choice.solution.stats.r2,
                    peaks: r.peaks.len(),
                })
                .collect(),
            stz: self.stz.as_ref().map(|b| {
                let va = atomic_volume_m3.and_then(|v| b.slope_in_atomic_volumes(v));
                StzSummary {
                    temperature_k: b.temperature_k,
                    omega_slope_m3: b.slope_m3,
                    omega_slope_stderr_m3: b.slope_stderr_m3,
                    omega_slope_atomic_volumes: va.map(|v| v.0),
                    omega_slope_stderr_atomic_volumes: va.and_then(|v| v.1),
                }
            }),
            uncertainty: self.uncertainty.clone(),
            sets,
        }
    }
}

/// Whether a scale is exactly 1 (not written).
fn is_one(v: &f64) -> bool {
    *v == 1.0
}
