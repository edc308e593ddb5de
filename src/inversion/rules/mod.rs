//! Rules that choose lambda on the path (docs/model.md §4). Every score is scale-free: multiplying
//! the data (and sigma) by a constant leaves every choice where it was.
//!
//! Here the rules, their parameters and statuses; in `scores` every rule's score along a path; in
//! `choice` each rule's choice on the scored path, with its fallbacks and screens.

use serde::Serialize;

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

mod choice;
mod scores;
#[cfg(test)]
mod tests;

pub use choice::{
    choose, nested_f_probability, residual_lag1, whiteness_ceiling, Choice, Disagreement, Screen,
    DISAGREEMENT_LEVEL,
};
pub use scores::PathScores;
