//! Every rule's score along the path.

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, FisherSnedecor};
use statrs::function::gamma::ln_gamma;

use super::super::logspace::LogSpaceTerms;
use super::super::path::{LambdaPath, PathPoint};
use super::super::terms::{ActiveSetTerms, PriorTerms};
use super::super::{Problem, Solution, Workspace};
use super::Rule;

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
