//! Rules that choose lambda on the path (MODEL.md section 4). Every score is scale-free: multiplying
//! the data (and sigma) by a constant leaves every choice where it was.

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, FisherSnedecor};

use super::iterative::{iterative_scan, IterativeParams};
use super::path::LambdaPath;
use super::{Problem, Solution, Workspace};

/// A rule for lambda.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "rule", rename_all = "kebab-case")]
pub enum Rule {
    /// A given lambda (of the weighted objective).
    Fixed {
        /// The lambda.
        lambda: f64,
    },
    /// Discrepancy principle: chi^2(lambda) = `factor` * M, with sigma given or estimated from the
    /// weakest-regularized fit (sigma^2 = ||r||^2 / (M - dof)).
    Discrepancy {
        /// tau_d (about 1).
        factor: f64,
    },
    /// Generalized cross-validation: minimize M ||W r||^2 / (M - dof)^2.
    Gcv,
    /// Maximum curvature of (ln ||W r||, ln ||L f||) in ln lambda.
    Lcurve,
    /// CONTIN's F-test: PROB1 nearest `level`.
    Ftest {
        /// Target PROB1 (0.5 in CONTIN).
        level: f64,
    },
    /// The paper's tolerance criterion: scanning from strong to weak regularization, the first lambda
    /// whose 1 - R^2 is within a factor (1 + `threshold`) of the smallest 1 - R^2 on the path, i.e.
    /// where R^2 has risen onto its plateau.
    R2Onset {
        /// Relative rise threshold.
        threshold: f64,
    },
    /// The paper's practice: no penalty, an iterative non-negative fit from a flat start stopped at a
    /// tolerance that is scanned from loose to tight; the R^2-onset rule with `threshold` picks it.
    /// It uses the data, not the path ([`super::iterative`]).
    Iterative {
        /// Relative rise threshold of the R^2-onset rule.
        threshold: f64,
    },
}

/// Default discrepancy factor tau_d.
pub const DEFAULT_DISCREPANCY_FACTOR: f64 = 1.0;
/// Default F-test level (CONTIN's PROB1 = 0.5).
pub const DEFAULT_FTEST_LEVEL: f64 = 0.5;
/// Default R^2-onset threshold.
pub const DEFAULT_R2_THRESHOLD: f64 = 0.1;

impl Rule {
    /// The name used on the command line and in outputs.
    pub fn name(&self) -> String {
        match self {
            Self::Fixed { lambda } => format!("fixed={lambda}"),
            Self::Discrepancy { .. } => "discrepancy".into(),
            Self::Gcv => "gcv".into(),
            Self::Lcurve => "lcurve".into(),
            Self::Ftest { .. } => "ftest".into(),
            Self::R2Onset { .. } => "r2-onset".into(),
            Self::Iterative { .. } => "iterative".into(),
        }
    }

    /// Parses `gcv`, `lcurve`, `discrepancy`, `ftest`, `r2-onset` or `fixed=LAMBDA`, with the default
    /// parameters.
    ///
    /// # Errors
    /// A message naming the accepted forms.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "gcv" => Ok(Self::Gcv),
            "lcurve" => Ok(Self::Lcurve),
            "discrepancy" => Ok(Self::Discrepancy {
                factor: DEFAULT_DISCREPANCY_FACTOR,
            }),
            "ftest" => Ok(Self::Ftest {
                level: DEFAULT_FTEST_LEVEL,
            }),
            "r2-onset" => Ok(Self::R2Onset {
                threshold: DEFAULT_R2_THRESHOLD,
            }),
            "iterative" => Ok(Self::Iterative {
                threshold: DEFAULT_R2_THRESHOLD,
            }),
            _ => match text.strip_prefix("fixed=").map(str::parse::<f64>) {
                Some(Ok(lambda)) if lambda.is_finite() && lambda >= 0.0 => Ok(Self::Fixed { lambda }),
                _ => Err(format!(
                    "unknown rule {text:?}: use gcv, lcurve, discrepancy, ftest, r2-onset, iterative or fixed=LAMBDA (lambda >= 0)"
                )),
            },
        }
    }

    /// Every rule on the path with default parameters (not `fixed`, not the iterative mode).
    pub fn all_defaults() -> Vec<Self> {
        ["discrepancy", "gcv", "lcurve", "ftest", "r2-onset"]
            .iter()
            .map(|r| Self::parse(r).expect("known rule"))
            .collect()
    }
}

/// Scores of every rule along the path (same order as the path; NaN where a score is undefined).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PathScores {
    /// chi^2 with sigma given, or ||r||^2 / sigma_hat^2 with sigma estimated.
    pub chi2: Vec<f64>,
    /// Whether sigma was given (else estimated from the weakest fit).
    pub sigma_given: bool,
    /// Variance of the weighted residuals: 1 with sigma given, else ||W r||^2 / (M - dof) at the
    /// weakest lambda. chi^2 = ||W r||^2 / `sigma2`.
    pub sigma2: f64,
    /// GCV score.
    pub gcv: Vec<f64>,
    /// L-curve curvature.
    pub lcurve_curvature: Vec<f64>,
    /// CONTIN's PROB1.
    pub ftest_prob1: Vec<f64>,
    /// (1 - R^2) / min(1 - R^2) - 1.
    pub r2_rise: Vec<f64>,
}

impl PathScores {
    /// Computes the scores of a path.
    pub fn compute(problem: &Problem, path: &LambdaPath) -> Self {
        let m = problem.len() as f64;
        let stats: Vec<_> = path.points.iter().map(|p| p.solution.stats).collect();
        let first = stats[0];
        let sigma2 = if problem.sigma_given() {
            1.0
        } else {
            first.weighted_ss / (m - first.dof).max(1.0)
        };
        let chi2 = stats.iter().map(|s| s.weighted_ss / sigma2).collect();
        let gcv = stats
            .iter()
            .map(|s| m * s.weighted_ss / (m - s.dof).powi(2))
            .collect();
        let (d0, dof0) = (m - first.dof, first.dof);
        let fisher = FisherSnedecor::new(dof0.max(1e-9), d0.max(1e-9)).ok();
        let ftest_prob1 = stats
            .iter()
            .map(|s| match &fisher {
                Some(f) if first.weighted_ss > 0.0 && dof0 > 0.0 && d0 > 0.0 => {
                    let ratio = ((s.weighted_ss / first.weighted_ss - 1.0) * d0 / dof0).max(0.0);
                    f.cdf(ratio)
                }
                _ => f64::NAN,
            })
            .collect();
        let deficit: Vec<f64> = stats.iter().map(|s| (1.0 - s.r2).max(0.0)).collect();
        let floor = deficit.iter().copied().fold(f64::INFINITY, f64::min);
        let r2_rise = deficit
            .iter()
            .map(|d| {
                if floor > 0.0 {
                    d / floor - 1.0
                } else {
                    f64::NAN
                }
            })
            .collect();
        Self {
            chi2,
            sigma_given: problem.sigma_given(),
            sigma2,
            gcv,
            lcurve_curvature: curvature(path),
            ftest_prob1,
            r2_rise,
        }
    }
}

/// Curvature of (ln ||W r||, ln ||L f||) against ln lambda, by central differences after a
/// three-point moving average (the NNLS path has kinks where the active set changes).
fn curvature(path: &LambdaPath) -> Vec<f64> {
    let n = path.len();
    let mut kappa = vec![f64::NAN; n];
    if n < 5 {
        return kappa;
    }
    let ln = |v: f64| if v > 0.0 { v.ln() } else { f64::NAN };
    let rho: Vec<f64> = path
        .points
        .iter()
        .map(|p| ln(p.solution.stats.residual_norm))
        .collect();
    let eta: Vec<f64> = path
        .points
        .iter()
        .map(|p| ln(p.solution.stats.penalty_norm))
        .collect();
    let smooth = |v: &[f64]| -> Vec<f64> {
        (0..n)
            .map(|k| {
                if k == 0 || k + 1 == n {
                    v[k]
                } else {
                    (v[k - 1] + v[k] + v[k + 1]) / 3.0
                }
            })
            .collect()
    };
    let (rho, eta) = (smooth(&rho), smooth(&eta));
    let h = (path.points[n - 1].lambda() / path.points[0].lambda()).ln() / (n - 1) as f64;
    for k in 2..n - 2 {
        let d1 = |v: &[f64]| (v[k + 1] - v[k - 1]) / (2.0 * h);
        let d2 = |v: &[f64]| (v[k + 1] - 2.0 * v[k] + v[k - 1]) / (h * h);
        let (r1, r2, e1, e2) = (d1(&rho), d2(&rho), d1(&eta), d2(&eta));
        let value = (r1 * e2 - r2 * e1) / (r1 * r1 + e1 * e1).powf(1.5);
        kappa[k] = if value.is_finite() { value } else { f64::NAN };
    }
    kappa
}

/// The rule's choice.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Choice {
    /// The rule.
    pub rule: Rule,
    /// Path index of the choice (none when the rule solved off the path: fixed, refined discrepancy).
    pub index: Option<usize>,
    /// The solution.
    pub solution: Solution,
    /// The iterative mode's stopping tolerance and iteration count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopping: Option<(f64, usize)>,
}

/// Applies `rule` to a computed path. Returns `None` when the rule's score is undefined everywhere.
pub fn choose(
    rule: Rule,
    problem: &Problem,
    path: &LambdaPath,
    scores: &PathScores,
    ws: &mut Workspace,
) -> Option<Choice> {
    let at = |k: usize| Choice {
        rule,
        index: Some(k),
        solution: path.points[k].solution.clone(),
        stopping: None,
    };
    let argbest = |v: &[f64], better: fn(f64, f64) -> bool| -> Option<usize> {
        v.iter()
            .enumerate()
            .filter(|(_, x)| x.is_finite())
            .fold(None, |best: Option<(usize, f64)>, (k, &x)| match best {
                Some((_, b)) if !better(x, b) => best,
                _ => Some((k, x)),
            })
            .map(|(k, _)| k)
    };
    match rule {
        Rule::Fixed { lambda } => {
            let nearest = (0..path.len())
                .min_by(|&a, &b| {
                    let da =
                        (path.points[a].lambda().ln() - lambda.max(f64::MIN_POSITIVE).ln()).abs();
                    let db =
                        (path.points[b].lambda().ln() - lambda.max(f64::MIN_POSITIVE).ln()).abs();
                    da.total_cmp(&db)
                })
                .unwrap_or(0);
            let mut coef = path.coefficients(problem, nearest);
            Some(Choice {
                rule,
                index: None,
                solution: problem.solve(lambda, &mut coef, ws),
                stopping: None,
            })
        }
        Rule::Iterative { threshold } => {
            let params = IterativeParams {
                threshold,
                ..IterativeParams::default()
            };
            let scan = iterative_scan(problem, &params, ws);
            let point = &scan.points[scan.chosen];
            Some(Choice {
                rule,
                index: None,
                solution: point.solution.clone(),
                stopping: Some((point.tolerance, point.iterations)),
            })
        }
        Rule::Gcv => argbest(&scores.gcv, |a, b| a < b).map(at),
        Rule::Lcurve => argbest(&scores.lcurve_curvature, |a, b| a > b).map(at),
        Rule::Ftest { level } => {
            let distance: Vec<f64> = scores
                .ftest_prob1
                .iter()
                .map(|p| (p - level).abs())
                .collect();
            argbest(&distance, |a, b| a < b).map(at)
        }
        Rule::R2Onset { threshold } => {
            // From the strong end (last index) toward the weak end: the first point on the plateau.
            (0..path.len())
                .rev()
                .find(|&k| scores.r2_rise[k].is_finite() && scores.r2_rise[k] <= threshold)
                .map(at)
        }
        Rule::Discrepancy { factor } => {
            let target = factor * problem.len() as f64;
            let chi2 = &scores.chi2;
            let scale = 1.0 / scores.sigma2;
            // chi^2 rises with lambda; find the last point at or below the target.
            let below = (0..path.len()).rev().find(|&k| chi2[k] <= target);
            match below {
                None => Some(at(0)),
                Some(k) if k + 1 == path.len() => Some(at(k)),
                Some(k) => {
                    // Refine between k and k + 1 by bisection in ln lambda.
                    let (mut lo, mut hi) = (
                        path.points[k].lambda().ln(),
                        path.points[k + 1].lambda().ln(),
                    );
                    let mut coef = path.coefficients(problem, k);
                    let mut best = path.points[k].solution.clone();
                    for _ in 0..30 {
                        let mid = 0.5 * (lo + hi);
                        let s = problem.solve(mid.exp(), &mut coef, ws);
                        if s.stats.weighted_ss * scale <= target {
                            lo = mid;
                            best = s;
                        } else {
                            hi = mid;
                        }
                        if hi - lo < 1e-6 {
                            break;
                        }
                    }
                    Some(Choice {
                        rule,
                        index: None,
                        solution: best,
                        stopping: None,
                    })
                }
            }
        }
    }
}
