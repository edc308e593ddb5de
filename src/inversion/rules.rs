//! Rules that choose lambda on the path (docs/model.md §4). Every score is scale-free: multiplying
//! the data (and sigma) by a constant leaves every choice where it was.

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, FisherSnedecor};

use statrs::function::gamma::ln_gamma;

use super::iterative::{iterative_scan, IterativeParams};
use super::logspace::LogSpaceTerms;
use super::path::{LambdaPath, PathPoint};
use super::terms::{ActiveSetTerms, PriorTerms};
use super::{FitStats, Problem, Solution, Workspace};

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
    /// Quasi-optimality (Tikhonov-Glasko; Morozov; Hansen, *Discrete Inverse Problems* (2010) 5.5):
    /// the smallest change of the solution between neighbouring lambdas on the log-spaced path,
    /// ||f(lambda_{k+1}) - f(lambda_k)||, taken at its deepest interior local minimum.
    QuasiOptimality,
    /// Bayesian evidence (MacKay 1992; Gaussian approximation on the active set): maximum of the
    /// marginal likelihood of lambda, with sigma known (sigma given) or integrated out under a
    /// Jeffreys prior (sigma not given, or `free_scale`: the given sigma are then relative
    /// weights whose common scale is integrated out).
    Evidence {
        /// Integrate out the scale of the given sigma too.
        free_scale: bool,
    },
    /// k-fold cross-validation with real refits: row i is held out in fold i mod `folds`; the score
    /// is the summed weighted prediction error of the held-out rows.
    Kfold {
        /// Number of folds (2 <= folds <= M).
        folds: usize,
    },
    /// Robust GCV (Lukas, Inverse Problems 22, 1883 (2006)): GCV(lambda) (gamma + (1 - gamma)
    /// tr(A^2) / M) with the influence matrix A on the active set.
    RobustGcv {
        /// Robustness parameter in (0, 1]; 1 is plain GCV.
        gamma: f64,
    },
    /// The median ln lambda of three rules that fail in different ways: the L-curve (no noise
    /// model), quasi-optimality (no noise model) and the Bayesian evidence (white noise of the
    /// stated sigma), the first two restricted to path points whose ||W r||^2 is at most
    /// `rss` times the smallest and, when the best fit's residual looks like white noise of the
    /// stated sigma, whose residual is still white (see [`whiteness_ceiling`]). Chosen by
    /// measurement over the validation suite (README, "Choosing lambda").
    Consensus {
        /// Admissible multiple of the smallest ||W r||^2 on the path (> 1).
        rss: f64,
        /// Admissible rise of the weighted residual's lag-one autocorrelation above the best
        /// fit's, in standard errors 1/sqrt(M) of white noise (0 turns the screen off).
        white: f64,
    },
    /// Classic maximum entropy (Gull, in *Maximum Entropy and Bayesian Methods* (1989) 53): the
    /// alpha where -2 alpha S = N_good, the number of good measurements (maxent only; scored in
    /// [`PathScores::classic`]).
    Classic,
}

/// Default discrepancy factor tau_d.
pub const DEFAULT_DISCREPANCY_FACTOR: f64 = 1.0;
/// Default F-test level (CONTIN's PROB1 = 0.5).
pub const DEFAULT_FTEST_LEVEL: f64 = 0.5;
/// Default R^2-onset threshold.
pub const DEFAULT_R2_THRESHOLD: f64 = 0.1;
/// The consensus rule's L-curve and quasi-optimality look only at path points whose ||W r||^2 is
/// at most this multiple of the smallest on the path (default of its `rss` parameter).
pub const CONSENSUS_RSS_FACTOR: f64 = 2.0;
/// The consensus rule's whiteness screen: the admissible rise of the residual's lag-one
/// autocorrelation over the best fit's, in units of 1/sqrt(M) (default of its `white` parameter).
pub const CONSENSUS_WHITE: f64 = 5.0;
/// Default number of folds of k-fold cross-validation.
pub const DEFAULT_FOLDS: usize = 5;
/// Default robustness parameter of robust GCV (Lukas 2006 recommends 0.1 to 0.3 for moderate M).
pub const DEFAULT_RGCV_GAMMA: f64 = 0.2;

/// The rule names accepted by [`Rule::parse`], for messages.
pub const RULE_NAMES: &str = "consensus[:rss=R,white=Z], discrepancy[:factor=F], gcv, rgcv[:gamma=G], lcurve, ftest[:level=P], \
r2-onset[:threshold=T], quasi-optimality, evidence[:sigma=free], kfold[:folds=K], classic (maxent), iterative[:threshold=T] or fixed=LAMBDA";

impl Rule {
    /// Whether the rule can be evaluated on a data set of `m` points: k-fold needs a point per
    /// fold (its folds >= 2 are checked when it is parsed). The reason when it cannot.
    pub fn check_points(&self, m: usize) -> Result<(), String> {
        match *self {
            Self::Kfold { folds } if folds > m => {
                Err(format!("{folds} folds but only {m} data points"))
            }
            _ => Ok(()),
        }
    }

    /// The name used on the command line and in outputs: the rule's name, followed by
    /// `:key=value` for each parameter that differs from its default, so two instances of one rule
    /// with different parameters have different names.
    pub fn name(&self) -> String {
        let with = |base: &str, key: &str, value: f64, default: f64| {
            if value == default {
                base.to_string()
            } else {
                format!("{base}:{key}={value}")
            }
        };
        match *self {
            Self::Fixed { lambda } => format!("fixed={lambda}"),
            Self::Discrepancy { factor } => {
                with("discrepancy", "factor", factor, DEFAULT_DISCREPANCY_FACTOR)
            }
            Self::Gcv => "gcv".into(),
            Self::Lcurve => "lcurve".into(),
            Self::Ftest { level } => with("ftest", "level", level, DEFAULT_FTEST_LEVEL),
            Self::R2Onset { threshold } => {
                with("r2-onset", "threshold", threshold, DEFAULT_R2_THRESHOLD)
            }
            Self::Iterative { threshold } => {
                with("iterative", "threshold", threshold, DEFAULT_R2_THRESHOLD)
            }
            Self::QuasiOptimality => "quasi-optimality".into(),
            Self::Evidence { free_scale } => {
                if free_scale {
                    "evidence:sigma=free".into()
                } else {
                    "evidence".into()
                }
            }
            Self::Kfold { folds } => with("kfold", "folds", folds as f64, DEFAULT_FOLDS as f64),
            Self::RobustGcv { gamma } => with("rgcv", "gamma", gamma, DEFAULT_RGCV_GAMMA),
            Self::Consensus { rss, white } => {
                let mut name = with("consensus", "rss", rss, CONSENSUS_RSS_FACTOR);
                if white != CONSENSUS_WHITE {
                    name.push(if name.contains(':') { ',' } else { ':' });
                    name.push_str(&format!("white={white}"));
                }
                name
            }
            Self::Classic => "classic".into(),
        }
    }

    /// Parses a rule with optional parameters: `NAME` or `NAME:key=value[,key=value]`, e.g.
    /// `r2-onset:threshold=0.03`, `kfold:folds=10`, `discrepancy:factor=1.2`, or `fixed=LAMBDA`.
    ///
    /// # Errors
    /// A message naming the bad rule, key or value and the accepted forms.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if let Some(v) = text.strip_prefix("fixed=") {
            return match v.parse::<f64>() {
                Ok(lambda) if lambda.is_finite() && lambda >= 0.0 => Ok(Self::Fixed { lambda }),
                _ => Err(format!("fixed={v}: lambda must be a number >= 0")),
            };
        }
        let (base, params) = match text.split_once(':') {
            Some((b, p)) => (b.trim(), p.trim()),
            None => (text, ""),
        };
        let mut rule = match base {
            "gcv" => Self::Gcv,
            "lcurve" => Self::Lcurve,
            "discrepancy" => Self::Discrepancy {
                factor: DEFAULT_DISCREPANCY_FACTOR,
            },
            "ftest" => Self::Ftest {
                level: DEFAULT_FTEST_LEVEL,
            },
            "r2-onset" => Self::R2Onset {
                threshold: DEFAULT_R2_THRESHOLD,
            },
            "iterative" => Self::Iterative {
                threshold: DEFAULT_R2_THRESHOLD,
            },
            "quasi-optimality" => Self::QuasiOptimality,
            "evidence" => Self::Evidence { free_scale: false },
            "kfold" => Self::Kfold {
                folds: DEFAULT_FOLDS,
            },
            "rgcv" => Self::RobustGcv {
                gamma: DEFAULT_RGCV_GAMMA,
            },
            "consensus" => Self::Consensus {
                rss: CONSENSUS_RSS_FACTOR,
                white: CONSENSUS_WHITE,
            },
            "classic" => Self::Classic,
            _ => return Err(format!("unknown rule {base:?}: use {RULE_NAMES}")),
        };
        for item in params.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (key, value) = item
                .split_once('=')
                .map(|(k, v)| (k.trim(), v.trim()))
                .ok_or_else(|| format!("{text}: parameter {item:?} is not key=value"))?;
            rule.set(key, value).map_err(|e| format!("{text}: {e}"))?;
        }
        Ok(rule)
    }

    /// Sets parameter `key` from its text.
    ///
    /// # Errors
    /// An unknown key for this rule, or a value outside its range.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let number = || {
            value
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| format!("{key} = {value:?} is not a number"))
        };
        match (self, key) {
            (Self::Discrepancy { factor }, "factor") => {
                *factor = positive(key, number()?)?;
            }
            (Self::Ftest { level }, "level") => {
                let v = number()?;
                if !(v > 0.0 && v < 1.0) {
                    return Err(format!("level = {v}: must lie in (0, 1)"));
                }
                *level = v;
            }
            (Self::R2Onset { threshold } | Self::Iterative { threshold }, "threshold") => {
                *threshold = positive(key, number()?)?;
            }
            (Self::Kfold { folds }, "folds") => {
                let v: usize = value
                    .parse()
                    .map_err(|_| format!("folds = {value:?} is not a whole number"))?;
                if v < 2 {
                    return Err(format!("folds = {v}: at least 2 are needed"));
                }
                *folds = v;
            }
            (Self::Evidence { free_scale }, "sigma") => {
                *free_scale = match value {
                    "free" => true,
                    "given" => false,
                    _ => return Err(format!("sigma = {value:?}: use given or free")),
                };
            }
            (Self::Consensus { rss, .. }, "rss") => {
                let v = number()?;
                if !(v > 1.0) {
                    return Err(format!("rss = {v}: must be > 1"));
                }
                *rss = v;
            }
            (Self::Consensus { white, .. }, "white") => {
                let v = number()?;
                if !(v >= 0.0 && v.is_finite()) {
                    return Err(format!(
                        "white = {v}: must be >= 0 (0 turns the screen off)"
                    ));
                }
                *white = v;
            }
            (Self::RobustGcv { gamma }, "gamma") => {
                let v = number()?;
                if !(v > 0.0 && v <= 1.0) {
                    return Err(format!("gamma = {v}: must lie in (0, 1]"));
                }
                *gamma = v;
            }
            (rule, _) => {
                let keys = match rule {
                    Self::Discrepancy { .. } => "factor",
                    Self::Ftest { .. } => "level",
                    Self::R2Onset { .. } | Self::Iterative { .. } => "threshold",
                    Self::Kfold { .. } => "folds",
                    Self::RobustGcv { .. } => "gamma",
                    Self::Evidence { .. } => "sigma",
                    Self::Consensus { .. } => "rss, white",
                    _ => "none",
                };
                return Err(format!(
                    "unknown parameter {key:?} (this rule takes: {keys})"
                ));
            }
        }
        Ok(())
    }

    /// The rules a scenario evaluates when it names none: the five classic rules with default
    /// parameters.
    pub fn all_defaults() -> Vec<Self> {
        ["discrepancy", "gcv", "lcurve", "ftest", "r2-onset"]
            .iter()
            .map(|r| Self::parse(r).expect("known rule"))
            .collect()
    }

    /// Every rule that works on the path, with default parameters (not `fixed`, not the iterative
    /// mode, not k-fold, which refits the path once per fold): what `invert` reports beside its
    /// chosen rule.
    pub fn all_on_path() -> Vec<Self> {
        let mut rules = Self::all_defaults();
        rules.extend([
            Self::Consensus {
                rss: CONSENSUS_RSS_FACTOR,
                white: CONSENSUS_WHITE,
            },
            Self::QuasiOptimality,
            Self::Evidence { free_scale: false },
            Self::RobustGcv {
                gamma: DEFAULT_RGCV_GAMMA,
            },
            Self::Classic,
        ]);
        rules
    }

    /// Whether the rule needs the active-set determinants and tr(A^2) of every path point.
    pub(crate) fn needs_terms(&self) -> bool {
        matches!(
            self,
            Self::Evidence { .. } | Self::RobustGcv { .. } | Self::Consensus { .. }
        )
    }
}

fn positive(key: &str, v: f64) -> Result<f64, String> {
    if v > 0.0 {
        Ok(v)
    } else {
        Err(format!("{key} = {v}: must be > 0"))
    }
}

/// What a rule did: its own choice, or a documented fallback when its criterion could not be met.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RuleStatus {
    /// The criterion was met inside the path.
    Ok,
    /// The score's optimum lies at an end of the path (GCV, robust GCV, evidence, k-fold, F-test,
    /// quasi-optimality without an interior minimum): the end point is returned and flagged; the
    /// true optimum may lie beyond the path.
    AtPathEnd,
    /// Discrepancy: chi^2 already exceeds the target at the weakest lambda (sigma underestimated or
    /// the model cannot fit the data), or is still below it at the strongest lambda (sigma
    /// overestimated). Below the path the GCV choice is returned instead; above it, the strongest
    /// end. Classic maxent: -2 alpha S never equals N_good on the path; the nearest point is
    /// returned.
    TargetUnreachable,
    /// L-curve: no point of positive curvature (no corner); the GCV choice is returned instead.
    NoCorner,
    /// The chosen path point's solve stopped at its iteration limit (the log-smooth family's
    /// Gauss-Newton): the point is returned, flagged; its fit may not be the minimum at its lambda.
    NotConverged,
}

impl RuleStatus {
    /// The name in outputs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::AtPathEnd => "at-path-end",
            Self::TargetUnreachable => "target-unreachable",
            Self::NoCorner => "no-corner",
            Self::NotConverged => "not-converged",
        }
    }
}

/// Scores of every rule along the path (same order as the path; NaN where a score is undefined or
/// was not asked for).
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
    /// ||f(lambda_{k+1}) - f(lambda_k)|| / ||f(lambda_k)|| (NaN at the strongest end).
    pub quasi_optimality: Vec<f64>,
    /// ln of the marginal likelihood of lambda (computed when the evidence rule is asked for).
    pub ln_evidence: Vec<f64>,
    /// The same with the scale of sigma integrated out even when sigma is given.
    pub ln_evidence_free: Vec<f64>,
    /// tr(A^2) / M of the influence matrix on the active set (when robust GCV is asked for).
    pub mu2: Vec<f64>,
    /// k-fold prediction errors, one entry per number of folds asked for.
    pub kfold: Vec<(usize, Vec<f64>)>,
    /// Classic maxent: lambda^2 p / (sigma2 N_good) = -2 alpha S / N_good (maxent paths only; the
    /// classic choice is where it crosses 1).
    pub classic: Vec<f64>,
}

impl PathScores {
    /// Computes the scores of a path that need no further solves (not the evidence, robust GCV or
    /// k-fold scores).
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
        let n = path.len();
        // In the scaled problem's unit (exact), where the squares stay inside f64's range.
        let unit = problem.data_scale();
        let quasi_optimality = (0..n)
            .map(|k| {
                if k + 1 == n {
                    return f64::NAN;
                }
                let (a, b) = (
                    &path.points[k].solution.amplitudes,
                    &path.points[k + 1].solution.amplitudes,
                );
                let norm = a
                    .iter()
                    .map(|v| {
                        let w = v / unit;
                        w * w
                    })
                    .sum::<f64>()
                    .sqrt();
                let change = a
                    .iter()
                    .zip(b)
                    .map(|(u, v)| ((u - v) / unit).powi(2))
                    .sum::<f64>()
                    .sqrt();
                if norm > 0.0 {
                    change / norm
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
            quasi_optimality,
            ln_evidence: vec![f64::NAN; n],
            ln_evidence_free: vec![f64::NAN; n],
            mu2: vec![f64::NAN; n],
            kfold: Vec::new(),
            classic: vec![f64::NAN; n],
        }
    }

    /// Computes the scores, with the evidence, robust GCV and k-fold scores when `rules` need them.
    pub fn compute_for(
        problem: &Problem,
        path: &LambdaPath,
        rules: &[Rule],
        ws: &mut Workspace,
    ) -> Self {
        let mut scores = Self::compute(problem, path);
        let m = problem.len() as f64;
        if !path.log_space.is_empty() {
            // A log-space family: its evidence terms come with the path.
            for (k, t) in path.log_space.iter().enumerate() {
                scores.ln_evidence[k] = ln_evidence_log_space(t, problem.sigma_given());
                scores.ln_evidence_free[k] = ln_evidence_log_space(t, false);
                scores.classic[k] = t.penalty_energy / (scores.sigma2 * t.n_good);
            }
        } else if rules.iter().any(Rule::needs_terms) {
            let mut priors = PriorTerms::default();
            for (k, p) in path.points.iter().enumerate() {
                let t = problem.active_set_terms(p, &mut priors, ws);
                scores.mu2[k] = t.trace_a2 / m;
                scores.ln_evidence[k] =
                    ln_evidence(problem, &p.solution, &t, problem.sigma_given());
                scores.ln_evidence_free[k] = ln_evidence(problem, &p.solution, &t, false);
            }
        }
        let lambdas: Vec<f64> = path.points.iter().map(PathPoint::lambda).collect();
        for rule in rules {
            if let Rule::Kfold { folds } = *rule {
                if rule.check_points(problem.len()).is_ok()
                    && !scores.kfold.iter().any(|(f, _)| *f == folds)
                {
                    let errors = problem.kfold_errors(&lambdas, folds, ws);
                    scores.kfold.push((folds, errors));
                }
            }
        }
        scores
    }

    /// Robust GCV scores with `gamma`.
    pub fn rgcv(&self, gamma: f64) -> Vec<f64> {
        self.gcv
            .iter()
            .zip(&self.mu2)
            .map(|(g, mu)| g * (gamma + (1.0 - gamma) * mu))
            .collect()
    }

    /// The k-fold errors for `folds`, when computed.
    pub fn kfold_errors(&self, folds: usize) -> Option<&[f64]> {
        self.kfold
            .iter()
            .find(|(f, _)| *f == folds)
            .map(|(_, e)| &e[..])
    }
}

/// ln of the marginal likelihood of lambda in the Gaussian approximation on the solution's free set
/// P (spectrum part S), with a Gaussian smoothness prior N(0, (sigma^2 / lambda^2) (L_S^T L_S)^+) on
/// the spectrum and a flat prior on the baseline and the null space of L_S:
///
/// sigma known (given):  -E/2 + (r/2) ln lambda^2 + (1/2) ln pdet(L_S^T L_S) - (1/2) ln det Q_PP
///                       + ((k - r - M)/2) ln 2 pi,
/// sigma integrated out (Jeffreys prior 1/sigma): the same with -E/2 replaced by
///                       ln Gamma(n/2) - (n/2) ln(E/2) - ln 2, n = M + r - k,
///
/// where E = ||W r||^2 + lambda^2 ||L f||^2 at the solution, k = |P| and r the rank of L_S (MacKay,
/// Neural Computation 4, 415 (1992); docs/model.md section 4).
fn ln_evidence(problem: &Problem, s: &Solution, t: &ActiveSetTerms, sigma_known: bool) -> f64 {
    let m = problem.len() as f64;
    let l2 = s.lambda * s.lambda;
    let e = s.stats.weighted_ss + l2 * s.stats.penalty_norm.powi(2);
    let (k, r) = (t.free as f64, t.prior_rank as f64);
    if !(e > 0.0 && l2 > 0.0 && t.ln_det_q.is_finite() && t.ln_pdet_prior.is_finite()) {
        return f64::NAN;
    }
    let common = 0.5 * r * l2.ln() + 0.5 * t.ln_pdet_prior - 0.5 * t.ln_det_q
        + 0.5 * (k - r - m) * (2.0 * std::f64::consts::PI).ln();
    if sigma_known {
        common - 0.5 * e
    } else {
        // integral over sigma of sigma^-(n+1) exp(-E / 2 sigma^2) = Gamma(n/2) (E/2)^(-n/2) / 2
        let n = m + r - k;
        if n <= 0.0 {
            return f64::NAN;
        }
        common + ln_gamma(0.5 * n) - 0.5 * n * (0.5 * e).ln() - std::f64::consts::LN_2
    }
}

/// ln P(D | lambda) of a log-space path point (docs in [`super::logspace`]): sigma known (given,
/// so 1 in the weighted units) or integrated out under a Jeffreys prior.
fn ln_evidence_log_space(t: &LogSpaceTerms, sigma_known: bool) -> f64 {
    if !(t.energy > 0.0 && t.ln_occam.is_finite()) {
        return f64::NAN;
    }
    if sigma_known {
        t.ln_occam - 0.5 * t.energy
    } else if t.sigma_power > 0.0 {
        let n = t.sigma_power;
        t.ln_occam + ln_gamma(0.5 * n) - 0.5 * n * (0.5 * t.energy).ln() - std::f64::consts::LN_2
    } else {
        f64::NAN
    }
}

/// The classic maxent choice: where lambda^2 p / (sigma^2 N_good) crosses 1, the crossing point
/// nearer to 1 in ln; without a crossing the point nearest 1, flagged as unreachable.
fn classic_crossing(v: &[f64]) -> Option<(usize, RuleStatus)> {
    let dist = |k: usize| v[k].ln().abs();
    let defined: Vec<usize> = (0..v.len())
        .filter(|&k| v[k].is_finite() && v[k] > 0.0)
        .collect();
    let nearest =
        |ks: &mut dyn Iterator<Item = usize>| ks.min_by(|&a, &b| dist(a).total_cmp(&dist(b)));
    let crossings: Vec<usize> = defined
        .windows(2)
        .filter(|w| w[1] == w[0] + 1 && (v[w[0]] - 1.0) * (v[w[1]] - 1.0) <= 0.0)
        .flat_map(|w| [w[0], w[1]])
        .collect();
    match nearest(&mut crossings.into_iter()) {
        Some(k) => Some((k, RuleStatus::Ok)),
        None => nearest(&mut defined.into_iter()).map(|k| (k, RuleStatus::TargetUnreachable)),
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
    /// Whether the criterion was met, or what was done instead.
    pub status: RuleStatus,
    /// The rule whose choice was returned instead, when the status names a fallback.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<Rule>,
    /// What the consensus rule's whiteness screen did (consensus with `white` > 0 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub screen: Option<Screen>,
    /// The consensus choice against its evidence member's, when consensus chose a stronger lambda
    /// (consensus only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disagreement: Option<Disagreement>,
}

/// Above this nested F-test probability, a consensus fit with fewer peaks than its evidence
/// member's is reported ([`Disagreement::warning`]).
pub const DISAGREEMENT_LEVEL: f64 = 0.99;

/// A consensus choice stronger than its evidence member's: the evidence choice, and how firmly
/// the data reject the consensus fit against it (README, "When the rules disagree"). On STZ
/// hierarchies of delta-like sizes seen through a short window, the L-curve and quasi-optimality
/// can both settle on one broad hump; the evidence keeps the sizes, and the data reject the hump.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Disagreement {
    /// The member compared with (`evidence`).
    pub rule: &'static str,
    /// Its lambda.
    pub lambda: f64,
    /// Its number of peaks.
    pub peaks: usize,
    /// [`nested_f_probability`] of the consensus fit against the evidence fit: near 1, the data
    /// reject the consensus fit's larger misfit as chance.
    pub f_probability: f64,
    /// The consensus choice's number of peaks.
    #[serde(skip)]
    pub chosen_peaks: usize,
}

impl Disagreement {
    /// One line for a warning when the data reject the consensus fit (`f_probability` above
    /// [`DISAGREEMENT_LEVEL`]) and it has fewer peaks than the evidence fit.
    pub fn warning(&self) -> Option<String> {
        (self.f_probability > DISAGREEMENT_LEVEL && self.chosen_peaks < self.peaks).then(|| {
            format!(
                "rule consensus: its fit ({} peaks) is rejected against its {} member's (lambda \
                 {:.4e}, {} peaks) at F probability {:.4}: the data hold structure the consensus \
                 smooths over (narrow or quantized peaks), or correlated noise the weaker fit \
                 follows; compare the {} choice (README, \"When the rules disagree\")",
                self.chosen_peaks,
                self.rule,
                self.lambda,
                self.peaks,
                self.f_probability,
                self.rule
            )
        })
    }
}

/// P(F < x) of the nested F-test of a `stronger` fit (fewer effective degrees of freedom) against
/// a `weaker` one on `m` data: x = ((||W r_s||^2 - ||W r_w||^2) / (dof_w - dof_s)) /
/// (||W r_w||^2 / (m - dof_w)), F with (dof_w - dof_s, m - dof_w) degrees of freedom (the
/// extra-sum-of-squares test, e.g. Bates and Watts, Nonlinear Regression Analysis, 1988, sec.
/// 3.10, with effective degrees of freedom). Near 1: the stronger fit's larger misfit is unlikely
/// to be chance. Scale-free (a ratio of sums of squares); NaN when undefined (no fewer degrees of
/// freedom, or a zero misfit).
pub fn nested_f_probability(weaker: &FitStats, stronger: &FitStats, m: f64) -> f64 {
    let (d1, d2) = (weaker.dof - stronger.dof, m - weaker.dof);
    if !(d1 > 0.0 && d2 > 0.0 && weaker.weighted_ss > 0.0) {
        return f64::NAN;
    }
    let x = ((stronger.weighted_ss / weaker.weighted_ss - 1.0) * d2 / d1).max(0.0);
    FisherSnedecor::new(d1, d2).map_or(f64::NAN, |f| f.cdf(x))
}

/// What the consensus rule's whiteness screen did on a path.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Screen {
    /// Lag-one autocorrelation of the best fit's weighted residual (the smallest ||W r||^2).
    pub best_lag1: f64,
    /// The largest lag-one autocorrelation admitted, when the screen applied (see
    /// [`whiteness_ceiling`]; none: the best fit's residual is not white noise of the stated
    /// sigma, and every point within the residual restriction is admitted).
    pub ceiling: Option<f64>,
    /// Path points within the residual restriction that the screen took out.
    pub excluded: usize,
}

impl Choice {
    /// One line for a warning when the status is not ok: the rule, what went wrong, what it did.
    pub fn warning(&self) -> Option<String> {
        let name = self.rule.name();
        let fallback = self
            .fallback
            .map(|f| format!("returned the {} choice instead", f.name()));
        let text = match self.status {
            RuleStatus::Ok => return None,
            RuleStatus::AtPathEnd => format!(
                "rule {name}: its optimum lies at an end of the lambda path (lambda {:.4e}); the end point is returned and the true optimum may lie beyond it",
                self.solution.lambda
            ),
            RuleStatus::TargetUnreachable if self.rule == Rule::Classic => format!(
                "rule {name}: -2 alpha S never equals N_good on the lambda path; returned the point \
                 nearest to it, lambda {:.4e}",
                self.solution.lambda
            ),
            RuleStatus::TargetUnreachable => format!(
                "rule {name}: the chi^2 target is unreachable on the lambda path (is sigma right?); {}",
                fallback.unwrap_or_else(|| format!("returned the strongest end, lambda {:.4e}", self.solution.lambda))
            ),
            RuleStatus::NoCorner => format!(
                "rule {name}: the L-curve has no corner (no positive curvature); {}",
                fallback.unwrap_or_else(|| "no choice".into())
            ),
            RuleStatus::NotConverged => format!(
                "rule {name}: the solve at the chosen lambda ({:.4e}) stopped at its iteration limit \
                 before converging, its solver residual {:.1e} (path.csv: nnls_status, \
                 solver_residual); the point is returned as it stood",
                self.solution.lambda, self.solution.info.kkt_residual
            ),
        };
        Some(text)
    }
}

/// The lag-one autocorrelation sum_i r_i r_(i+1) / sum_i r_i^2 of weighted residuals, over
/// neighbouring rows of one data set (a joint problem's sets are not neighbours of each other).
/// About N(0, 1/M) for white noise; near 1 for a smooth misfit.
pub fn residual_lag1(problem: &Problem, residuals: &[f64]) -> f64 {
    let across: f64 = problem
        .blocks()
        .iter()
        .map(|b| {
            residuals[b.rows.clone()]
                .windows(2)
                .map(|w| w[0] * w[1])
                .sum::<f64>()
        })
        .sum();
    let total: f64 = residuals.iter().map(|r| r * r).sum();
    if total > 0.0 {
        across / total
    } else {
        f64::NAN
    }
}

/// The consensus rule's whiteness screen: the largest lag-one autocorrelation a path point's
/// residual may have, `lag1[best] + white / sqrt(M)`, or `None` where the screen does not apply.
///
/// It applies only when the best fit (`best`, the smallest ||W r||^2) looks like white noise of
/// the stated sigma: its own lag-one autocorrelation `lag1[best]` is within the band and, with
/// sigma given, its chi^2 (`stats`) is at most one standard deviation sqrt(2 (M - dof)) above its
/// expectation M - dof (`rows` = M). Correlated noise
/// fails the second test when its sigma column states only the white part (the fit cannot reach
/// chi^2 = M); there a white residual is not to be expected, and the screen would over-fit.
pub fn whiteness_ceiling(
    lag1: &[f64],
    best: usize,
    white: f64,
    rows: usize,
    stats: &FitStats,
    sigma_given: bool,
) -> Option<f64> {
    let rows = rows as f64;
    let band = white / rows.sqrt();
    let expected = rows - stats.dof;
    let credible = !sigma_given || stats.weighted_ss <= expected + (2.0 * expected).sqrt();
    let floor = lag1[best];
    (white > 0.0 && floor.is_finite() && floor <= band && credible).then_some(floor + band)
}

/// Index of the best finite value (`better(a, b)`: a beats b).
fn argbest(v: &[f64], better: fn(f64, f64) -> bool) -> Option<usize> {
    v.iter()
        .enumerate()
        .filter(|(_, x)| x.is_finite())
        .fold(None, |best: Option<(usize, f64)>, (k, &x)| match best {
            Some((_, b)) if !better(x, b) => best,
            _ => Some((k, x)),
        })
        .map(|(k, _)| k)
}

/// The minimum of a score on the path, flagged when it lies at the first or last point where the
/// score is defined.
fn minimum(v: &[f64]) -> Option<(usize, RuleStatus)> {
    let k = argbest(v, |a, b| a < b)?;
    let first = v.iter().position(|x| x.is_finite())?;
    let last = v.iter().rposition(|x| x.is_finite())?;
    let status = if k == first || k == last {
        RuleStatus::AtPathEnd
    } else {
        RuleStatus::Ok
    };
    Some((k, status))
}

/// The deepest interior local minimum of a score (a point lower than both defined neighbours), or
/// the global minimum flagged as at the path end when there is none.
fn interior_minimum(v: &[f64]) -> Option<(usize, RuleStatus)> {
    let local: Vec<f64> = (0..v.len())
        .map(|k| {
            let inside = k > 0
                && k + 1 < v.len()
                && v[k].is_finite()
                && v[k - 1].is_finite()
                && v[k + 1].is_finite()
                && v[k] <= v[k - 1]
                && v[k] <= v[k + 1];
            if inside {
                v[k]
            } else {
                f64::NAN
            }
        })
        .collect();
    match argbest(&local, |a, b| a < b) {
        Some(k) => Some((k, RuleStatus::Ok)),
        None => argbest(v, |a, b| a < b).map(|k| (k, RuleStatus::AtPathEnd)),
    }
}

/// Applies `rule` to a computed path. Returns `None` when the rule's score is undefined everywhere
/// (or, for k-fold, when the folds outnumber the data points). A criterion that cannot be met is
/// not `None`: its choice carries a [`RuleStatus`] and, where one is used, the fallback rule.
pub fn choose(
    rule: Rule,
    problem: &Problem,
    path: &LambdaPath,
    scores: &PathScores,
    ws: &mut Workspace,
) -> Option<Choice> {
    let at = |k: usize, status: RuleStatus| Choice {
        rule,
        index: Some(k),
        solution: path.points[k].solution.clone(),
        stopping: None,
        status,
        fallback: None,
        screen: None,
        disagreement: None,
    };
    let fallback_gcv = |status: RuleStatus| {
        minimum(&scores.gcv).map(|(k, _)| Choice {
            fallback: Some(Rule::Gcv),
            ..at(k, status)
        })
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
                index: None,
                solution: problem.solve(lambda, &mut coef, ws),
                ..at(nearest, RuleStatus::Ok)
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
                status: RuleStatus::Ok,
                fallback: None,
                screen: None,
                disagreement: None,
            })
        }
        Rule::Gcv => minimum(&scores.gcv).map(|(k, s)| at(k, s)),
        Rule::RobustGcv { gamma } => minimum(&scores.rgcv(gamma)).map(|(k, s)| at(k, s)),
        Rule::Evidence { free_scale } => {
            let v = if free_scale {
                &scores.ln_evidence_free
            } else {
                &scores.ln_evidence
            };
            let negative: Vec<f64> = v.iter().map(|v| -v).collect();
            minimum(&negative).map(|(k, s)| at(k, s))
        }
        Rule::Kfold { folds } => minimum(scores.kfold_errors(folds)?).map(|(k, s)| at(k, s)),
        Rule::QuasiOptimality => interior_minimum(&scores.quasi_optimality).map(|(k, s)| at(k, s)),
        Rule::Classic => classic_crossing(&scores.classic).map(|(k, s)| at(k, s)),
        Rule::Consensus { rss, white } => {
            // L-curve and quasi-optimality only where the fit is acceptable: a strong lambda that
            // pushes the spectrum into the baseline makes a second corner and a second flat stretch
            // there (creep with c_inf + B t), at a residual many times the best.
            let best = argbest(
                &path
                    .points
                    .iter()
                    .map(|p| p.solution.stats.weighted_ss)
                    .collect::<Vec<_>>(),
                |a, b| a < b,
            )?;
            let floor = path.points[best].solution.stats.weighted_ss;
            let within = |k: usize| path.points[k].solution.stats.weighted_ss <= rss * floor;
            // ... and, where the noise is white of the stated sigma, only where the residual is
            // still white: two peaks merged into one leave a smooth misfit that a modest rise of
            // ||W r||^2 hides (README, "Choosing lambda"). The autocorrelation is computed only
            // where `within` admits a point (a residual costs M x N).
            let lag1: Vec<f64> = if white > 0.0 {
                path.points
                    .iter()
                    .enumerate()
                    .map(|(k, p)| {
                        if within(k) {
                            residual_lag1(problem, &problem.weighted_residuals(&p.solution))
                        } else {
                            f64::NAN
                        }
                    })
                    .collect()
            } else {
                Vec::new()
            };
            let ceiling = if white > 0.0 {
                whiteness_ceiling(
                    &lag1,
                    best,
                    white,
                    problem.len(),
                    &path.points[best].solution.stats,
                    problem.sigma_given(),
                )
            } else {
                None
            };
            let admissible = |k: usize| within(k) && ceiling.is_none_or(|c| lag1[k] <= c);
            let screen = (white > 0.0).then(|| Screen {
                best_lag1: lag1[best],
                ceiling,
                excluded: (0..path.len())
                    .filter(|&k| within(k) && !admissible(k))
                    .count(),
            });
            let mask = |v: &[f64]| -> Vec<f64> {
                v.iter()
                    .enumerate()
                    .map(|(k, &x)| if admissible(k) { x } else { f64::NAN })
                    .collect()
            };
            let curvature = mask(&scores.lcurve_curvature);
            let lcurve = match argbest(&curvature, |a, b| a > b) {
                Some(k) if curvature[k] > 0.0 => Some((k, RuleStatus::Ok)),
                _ => None,
            };
            let quasi = interior_minimum(&mask(&scores.quasi_optimality));
            let evidence = choose(
                Rule::Evidence { free_scale: false },
                problem,
                path,
                scores,
                ws,
            )
            .and_then(|c| c.index.map(|k| (k, c.status)));
            let mut picks: Vec<(usize, RuleStatus)> =
                [lcurve, quasi, evidence].into_iter().flatten().collect();
            if picks.is_empty() {
                return None;
            }
            picks.sort_by_key(|p| p.0);
            // With three picks the middle one; with two (a rule without a choice), the stronger.
            let (k, status) = picks[picks.len() / 2];
            let disagreement = evidence.filter(|&(e, _)| k > e).map(|(e, _)| Disagreement {
                rule: "evidence",
                lambda: path.points[e].lambda(),
                peaks: path.points[e].peaks,
                f_probability: nested_f_probability(
                    &path.points[e].solution.stats,
                    &path.points[k].solution.stats,
                    problem.len() as f64,
                ),
                chosen_peaks: path.points[k].peaks,
            });
            Some(Choice {
                screen,
                disagreement,
                ..at(k, status)
            })
        }
        Rule::Lcurve => match argbest(&scores.lcurve_curvature, |a, b| a > b) {
            Some(k) if scores.lcurve_curvature[k] > 0.0 => Some(at(k, RuleStatus::Ok)),
            Some(_) => fallback_gcv(RuleStatus::NoCorner),
            None => None,
        },
        Rule::Ftest { level } => {
            let distance: Vec<f64> = scores
                .ftest_prob1
                .iter()
                .map(|p| (p - level).abs())
                .collect();
            let k = argbest(&distance, |a, b| a < b)?;
            // PROB1 is 0 at the weakest point by construction: only the strong end is a failure.
            let last = distance.iter().rposition(|x| x.is_finite())?;
            let status = if k == last && scores.ftest_prob1[k] < level {
                RuleStatus::AtPathEnd
            } else {
                RuleStatus::Ok
            };
            Some(at(k, status))
        }
        Rule::R2Onset { threshold } => {
            // From the strong end (last index) toward the weak end: the first point on the plateau.
            (0..path.len())
                .rev()
                .find(|&k| scores.r2_rise[k].is_finite() && scores.r2_rise[k] <= threshold)
                .map(|k| at(k, RuleStatus::Ok))
        }
        Rule::Discrepancy { factor } => {
            let target = factor * problem.len() as f64;
            let chi2 = &scores.chi2;
            let scale = 1.0 / scores.sigma2;
            // chi^2 rises with lambda; find the last point at or below the target.
            let below = (0..path.len()).rev().find(|&k| chi2[k] <= target);
            match below {
                None => fallback_gcv(RuleStatus::TargetUnreachable),
                Some(k) if k + 1 == path.len() => Some(at(k, RuleStatus::TargetUnreachable)),
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
                        index: None,
                        solution: best,
                        ..at(k, RuleStatus::Ok)
                    })
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fit(weighted_ss: f64, dof: f64) -> FitStats {
        FitStats {
            residual_norm: weighted_ss.sqrt(),
            weighted_ss,
            r2: f64::NAN,
            penalty_norm: f64::NAN,
            dof,
        }
    }

    /// With dof_w - dof_s = 2 the F distribution's CDF has the closed form
    /// 1 - (1 + 2 x / d2)^(-d2 / 2); the probability is a ratio of sums of squares.
    #[test]
    fn the_nested_f_probability_is_the_closed_form_and_scale_free() {
        let (m, dof_w, dof_s): (f64, f64, f64) = (100.0, 10.0, 8.0);
        for (ss_w, ss_s) in [(90.0f64, 96.0f64), (90.0, 90.5), (45.0, 80.0)] {
            let d2 = m - dof_w;
            let x = ((ss_s - ss_w) / 2.0) / (ss_w / d2);
            let want = 1.0 - (1.0 + 2.0 * x / d2).powf(-d2 / 2.0);
            let got = nested_f_probability(&fit(ss_w, dof_w), &fit(ss_s, dof_s), m);
            assert!((got - want).abs() < 1e-10, "{got} {want}");
            let scaled = nested_f_probability(&fit(ss_w * 1e6, dof_w), &fit(ss_s * 1e6, dof_s), m);
            assert!((scaled - got).abs() < 1e-12);
        }
        // A fit no smaller than the other, or a zero misfit: undefined.
        assert!(nested_f_probability(&fit(90.0, 8.0), &fit(96.0, 8.0), m).is_nan());
        assert!(nested_f_probability(&fit(0.0, 10.0), &fit(96.0, 8.0), m).is_nan());
    }

    /// The warning needs both: the data reject the consensus fit, and it has fewer peaks.
    #[test]
    fn a_disagreement_warns_only_when_rejected_with_fewer_peaks() {
        let d = |f_probability: f64, chosen_peaks: usize| Disagreement {
            rule: "evidence",
            lambda: 720.0,
            peaks: 6,
            f_probability,
            chosen_peaks,
        };
        let warning = d(0.996, 1).warning().expect("rejected, fewer peaks");
        assert!(
            warning.contains("(1 peaks)") && warning.contains("6 peaks"),
            "{warning}"
        );
        assert!(warning.contains("F probability 0.9960"), "{warning}");
        assert!(d(0.98, 1).warning().is_none());
        assert!(d(0.999, 6).warning().is_none());
        assert!(d(f64::NAN, 1).warning().is_none());
    }

    #[test]
    fn classic_maxent_takes_the_crossing_nearer_to_one() {
        // -2 alpha S / N_good rises with lambda; it crosses 1 between 0.6 and 2 (|ln 0.6| < ln 2).
        let v = [f64::NAN, 0.1, 0.6, 2.0, 5.0];
        assert_eq!(classic_crossing(&v), Some((2, RuleStatus::Ok)));
        let v = [0.1, 0.4, 1.2, 5.0];
        assert_eq!(classic_crossing(&v), Some((2, RuleStatus::Ok)));
        // Exactly 1 is a crossing.
        assert_eq!(
            classic_crossing(&[0.2, 1.0, 3.0]),
            Some((1, RuleStatus::Ok))
        );
    }

    #[test]
    fn classic_maxent_without_a_crossing_is_flagged_and_returns_the_nearest_point() {
        assert_eq!(
            classic_crossing(&[2.0, 3.0, 9.0]),
            Some((0, RuleStatus::TargetUnreachable))
        );
        assert_eq!(
            classic_crossing(&[0.01, 0.1, 0.5, f64::NAN]),
            Some((2, RuleStatus::TargetUnreachable))
        );
        // A gap of undefined points is not a crossing.
        assert_eq!(
            classic_crossing(&[0.5, f64::NAN, 2.5]),
            Some((0, RuleStatus::TargetUnreachable))
        );
        assert_eq!(classic_crossing(&[f64::NAN, f64::NAN]), None);
    }

    /// The evidence and tr(A^2) from the factors the path kept are those of a refactorization of
    /// every point (to rounding), on a problem whose free set changes along the path.
    #[test]
    fn the_path_s_kept_factor_terms_match_a_refactorization() {
        use crate::inversion::{Baseline, Kernel, ProblemSettings};
        use crate::spectrum::{LnTauGrid, PeakParams};
        let t: Vec<f64> = (0..120)
            .map(|i| 10f64.powf(-1.0 + 5.0 * i as f64 / 119.0))
            .collect();
        let y: Vec<f64> = t
            .iter()
            .enumerate()
            .map(|(i, &ti)| {
                0.02 * (-ti / 3.0).exp()
                    + 0.05 * (-ti / 300.0).exp()
                    + 1e-4 * ((i * 7919 % 101) as f64 / 50.0 - 1.0)
            })
            .collect();
        let sigma = vec![1e-4; t.len()];
        let grid = LnTauGrid::new(0.01, 1e5, 40).unwrap();
        let settings = ProblemSettings {
            baseline: Baseline::Constant,
            ..ProblemSettings::new(Kernel::Decay, grid)
        };
        let p = Problem::new(&t, &y, Some(&sigma), settings).unwrap();
        let mut ws = Workspace::new();
        let kept = LambdaPath::compute_with(&p, 30, &PeakParams::default(), true, &mut ws);
        let plain = LambdaPath::compute(&p, 30, &PeakParams::default(), &mut ws);
        assert!(kept.points.iter().all(|q| q.terms.is_some()));
        assert!(plain.points.iter().all(|q| q.terms.is_none()));
        let free: std::collections::BTreeSet<usize> =
            kept.points.iter().map(|q| q.terms.unwrap().free).collect();
        assert!(free.len() > 5, "the free set should change: {free:?}");
        let rules = [Rule::Evidence { free_scale: false }];
        let a = PathScores::compute_for(&p, &kept, &rules, &mut ws);
        let b = PathScores::compute_for(&p, &plain, &rules, &mut ws);
        for k in 0..kept.len() {
            for (u, v) in [
                (a.ln_evidence[k], b.ln_evidence[k]),
                (a.ln_evidence_free[k], b.ln_evidence_free[k]),
                (a.mu2[k], b.mu2[k]),
            ] {
                assert!(
                    u.is_finite() && (u - v).abs() <= 1e-9 * v.abs().max(1.0),
                    "{k}: {u} {v}"
                );
            }
        }
    }
}
