//! Each rule's choice on the scored path, its status and its screens.

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, FisherSnedecor};

use super::super::iterative::{iterative_scan, IterativeParams};
use super::super::path::LambdaPath;
use super::super::{FitStats, Problem, Solution, Workspace};
use super::{PathScores, Rule, RuleStatus};

/// The classic maxent choice: where lambda^2 p / (sigma^2 N_good) crosses 1, the crossing point
/// nearer to 1 in ln; without a crossing the point nearest 1, flagged as unreachable.
pub(super) fn classic_crossing(v: &[f64]) -> Option<(usize, RuleStatus)> {
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
