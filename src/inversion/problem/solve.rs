//! The solves of a problem and the statistics of their solutions: the NNLS at one lambda, the
//! fit's statistics and the active-set terms the rules read, k-fold refits and peak-area errors.

use super::super::dense::row_sums;
use super::super::nnls::{self, factor_block, NnlsInfo};
use super::super::penalty::gram_of;
use super::super::terms::{ln_pdet_gram, penalty_trace, ActiveSetTerms, FactorTerms, PriorTerms};
use super::super::PathPoint;
use faer::Mat;

use super::{Baseline, FitStats, Problem, Solution, Workspace};

/// Below this fraction of ||W y||^2, ||W r||^2 is formed from the residual itself
/// ([`Problem::weighted_ss`]).
const DIRECT_RESIDUAL_BELOW: f64 = 1e-9;

impl Problem {
    /// Solves at `lambda`, warm-started from `coef` (spectrum then baseline, internal scaling), which
    /// receives the solution.
    pub fn solve(&self, lambda: f64, coef: &mut [f64], ws: &mut Workspace) -> Solution {
        self.solve_with(lambda, coef, false, ws).0
    }

    /// [`Problem::solve`], with the factor's terms of the linearized problem on the free set when
    /// `terms` is set (the rules' evidence and robust GCV; from the factor the degrees of freedom
    /// use, at the cost of one more product).
    pub(crate) fn solve_with(
        &self,
        lambda: f64,
        coef: &mut [f64],
        terms: bool,
        ws: &mut Workspace,
    ) -> (Solution, Option<FactorTerms>) {
        self.solve_penalized(
            lambda,
            (&self.penalty, &self.ltl),
            &self.aty,
            coef,
            terms,
            ws,
        )
    }

    /// One NNLS solve of G + lambda^2 L^T L against `h`, with the fit statistics (and with
    /// `terms` the factor's terms) of the penalty: its rows L and their Gram matrix L^T L.
    fn solve_penalized(
        &self,
        lambda: f64,
        (penalty, ltl): (&[f64], &[f64]),
        h: &[f64],
        coef: &mut [f64],
        terms: bool,
        ws: &mut Workspace,
    ) -> (Solution, Option<FactorTerms>) {
        let l2 = lambda * lambda;
        ws.q.clear();
        ws.q.extend(self.gram.iter().zip(ltl).map(|(g, l)| g + l2 * l));
        let info = nnls::solve(
            &ws.q,
            h,
            &self.constrained,
            coef,
            &self.settings.nnls,
            &mut ws.nnls,
        );
        let (stats, terms) = self.stats_with_q(coef, l2, terms, penalty, ws);
        (self.solution(lambda, coef, info, stats), terms)
    }

    /// The penalty's rows each scaled by the square root of its weight: the penalty
    /// sum_r w_r (L f)_r^2 is ||L_w f||^2.
    pub(crate) fn weighted_penalty(&self, weights: &[f64]) -> Vec<f64> {
        let n = self.n;
        let mut rows = self.penalty.clone();
        for (row, w) in rows.chunks_mut(n).zip(weights) {
            let s = w.sqrt();
            row.iter_mut().for_each(|v| *v *= s);
        }
        rows
    }

    /// L^T v for one value per penalty row.
    pub(crate) fn penalty_transpose(&self, v: &[f64], out: &mut Vec<f64>) {
        out.clear();
        out.resize(self.n, 0.0);
        for (row, &x) in self.penalty.chunks(self.n).zip(v) {
            if x != 0.0 {
                out.iter_mut().zip(row).for_each(|(o, l)| *o += l * x);
            }
        }
    }

    /// The penalty differences L f of the coefficients `coef` (internal scaling), one per row.
    pub(crate) fn penalty_differences(&self, coef: &[f64], out: &mut Vec<f64>) {
        out.clear();
        out.extend(
            self.penalty
                .chunks(self.n)
                .map(|row| row.iter().zip(coef).map(|(l, c)| l * c).sum::<f64>()),
        );
    }

    /// [`Problem::solve_with`] with the penalty sum_r w_r (L f)_r^2 of row weights `weights`
    /// (one per penalty row, > 0) and, with `shift`, the linear term K^T W^2 y - shift: the fit
    /// statistics and factor terms are those of this weighted problem.
    pub(crate) fn solve_weighted(
        &self,
        lambda: f64,
        weights: &[f64],
        shift: Option<&[f64]>,
        coef: &mut [f64],
        terms: bool,
        ws: &mut Workspace,
    ) -> (Solution, Option<FactorTerms>) {
        let rows = self.weighted_penalty(weights);
        let ltl = gram_of(self.penalty_rows, self.n, &rows);
        let h: std::borrow::Cow<[f64]> = match shift {
            Some(s) => self.aty.iter().zip(s).map(|(a, s)| a - s).collect(),
            None => (&self.aty[..]).into(),
        };
        self.solve_penalized(lambda, (&rows, &ltl), &h, coef, terms, ws)
    }

    pub(crate) fn solution(
        &self,
        lambda: f64,
        coef: &[f64],
        info: NnlsInfo,
        stats: FitStats,
    ) -> Solution {
        let mut baseline = coef[self.n_spec..].to_vec();
        for b in &self.blocks {
            if b.baseline == Baseline::ConstantLinear {
                baseline[b.columns.start + 1 - self.n_spec] /= b.linear_scale;
            }
        }
        baseline.iter_mut().for_each(|v| *v *= self.scale);
        Solution {
            lambda,
            amplitudes: coef[..self.n_spec].iter().map(|v| v * self.scale).collect(),
            baseline,
            info,
            stats,
        }
    }

    /// Fit statistics of `coef` at lambda^2 = `l2`, and with `terms` the factor's terms of the free
    /// set; `ws.q` must hold G + l2 L^T L.
    fn stats_with_q(
        &self,
        coef: &[f64],
        l2: f64,
        terms: bool,
        penalty: &[f64],
        ws: &mut Workspace,
    ) -> (FitStats, Option<FactorTerms>) {
        let n = self.n;
        // ||W r||^2 = y'y - 2 x'h + x'Gx (see [`Problem::weighted_ss`]).
        ws.idx.clear();
        ws.idx.extend((0..n).filter(|&i| coef[i] != 0.0));
        ws.col.resize(ws.idx.len(), 0.0);
        row_sums(&self.gram, n, |k| ws.idx[k], coef, &mut ws.col);
        let mut xgx = 0.0;
        for (&i, s) in ws.idx.iter().zip(&ws.col) {
            xgx += coef[i] * s;
        }
        let xh: f64 = coef.iter().zip(&self.aty).map(|(a, b)| a * b).sum();
        let weighted_ss = self.weighted_ss(coef, self.yty - 2.0 * xh + xgx);
        ws.col.resize(self.penalty_rows, 0.0);
        row_sums(penalty, n, |r| r, coef, &mut ws.col);
        let penalty_norm = ws.col.iter().map(|s| s.powi(2)).sum::<f64>().sqrt();
        // dof = trace((Q_PP)^-1 G_PP) = |P| - l2 tr(X) on the free set P (module `terms`).
        ws.idx.clear();
        ws.idx
            .extend((0..n).filter(|&j| !self.constrained[j] || coef[j] > 0.0));
        let k = ws.idx.len();
        let mut dof = k as f64;
        let mut factor_terms = None;
        if k > 0 && l2 > 0.0 {
            // The solver's last factor is the one needed when its passive set is the free set.
            let reused = ws.nnls.last_factor().filter(|(idx, _)| *idx == &ws.idx[..]);
            let (chol, jitter): (&[f64], f64) = match reused {
                Some((_, factor)) => (factor, 0.0),
                None => {
                    ws.chol.resize(k * k, 0.0);
                    let jitter = factor_block(&ws.q, n, &ws.idx, &mut ws.chol);
                    (&ws.chol, jitter)
                }
            };
            let keep = (terms && jitter == 0.0).then_some(&mut ws.kept);
            let trace_x = penalty_trace(
                penalty,
                self.penalty_rows,
                n,
                &ws.idx,
                chol,
                &mut ws.col,
                keep,
            );
            dof -= l2 * trace_x;
            if terms {
                factor_terms = Some(if jitter == 0.0 {
                    FactorTerms::of(chol, k, l2, trace_x, ws.kept.trace_of_square(k))
                } else {
                    FactorTerms::singular(k)
                });
            }
        }
        let stats = FitStats {
            residual_norm: weighted_ss.sqrt(),
            weighted_ss,
            r2: if self.ss_tot > 0.0 {
                1.0 - weighted_ss / self.ss_tot
            } else {
                f64::NAN
            },
            penalty_norm,
            dof,
        };
        (stats, factor_terms)
    }

    /// Quantities of the linearized problem on the free set of a path point (the rules' evidence
    /// and robust GCV): the factor's terms the path kept, or else from a factorization of
    /// Q_PP = G_PP + lambda^2 (L^T L)_PP; the prior's from `priors`.
    pub(crate) fn active_set_terms(
        &self,
        point: &PathPoint,
        priors: &mut PriorTerms,
        ws: &mut Workspace,
    ) -> ActiveSetTerms {
        let n = self.n;
        let solution = &point.solution;
        let mut coef = solution.amplitudes.clone();
        coef.extend(&solution.baseline);
        ws.idx.clear();
        ws.idx
            .extend((0..n).filter(|&j| !self.constrained[j] || coef[j] > 0.0));
        let spectrum: Vec<usize> = ws
            .idx
            .iter()
            .copied()
            .filter(|&j| j < self.n_spec)
            .collect();
        let prior = match &point.penalty_weights {
            // Total variation: the prior of its linearized problem at this point.
            Some(w) => ln_pdet_gram(&self.weighted_penalty(w), self.penalty_rows, n, &spectrum),
            None => priors.of(&self.penalty, self.penalty_rows, n, &spectrum),
        };
        let factor = match point.terms {
            Some(terms) => terms,
            None => self.factor_terms(solution.lambda, point.penalty_weights.as_deref(), ws),
        };
        ActiveSetTerms::new(factor, prior)
    }

    /// The factor's terms on the free set in `ws.idx`, from a new factorization.
    /// With `weights` (total variation) the penalty rows are weighted as at the path point.
    fn factor_terms(
        &self,
        lambda: f64,
        weights: Option<&[f64]>,
        ws: &mut Workspace,
    ) -> FactorTerms {
        let (n, k) = (self.n, ws.idx.len());
        let l2 = lambda * lambda;
        if k == 0 {
            return FactorTerms::of(&[], 0, l2, 0.0, 0.0);
        }
        let weighted = weights.map(|w| self.weighted_penalty(w));
        let (penalty, ltl) = match &weighted {
            Some(rows) => (
                &rows[..],
                std::borrow::Cow::Owned(gram_of(self.penalty_rows, n, rows)),
            ),
            None => (&self.penalty[..], std::borrow::Cow::Borrowed(&self.ltl[..])),
        };
        ws.q.clear();
        ws.q.extend(self.gram.iter().zip(ltl.iter()).map(|(g, l)| g + l2 * l));
        ws.chol.resize(k * k, 0.0);
        if factor_block(&ws.q, n, &ws.idx, &mut ws.chol) > 0.0 {
            return FactorTerms::singular(k);
        }
        let trace_x = penalty_trace(
            penalty,
            self.penalty_rows,
            n,
            &ws.idx,
            &ws.chol,
            &mut ws.col,
            Some(&mut ws.kept),
        );
        FactorTerms::of(&ws.chol, k, l2, trace_x, ws.kept.trace_of_square(k))
    }

    /// k-fold cross-validation: for each lambda (solved from the largest down, warm-started), the
    /// summed weighted squared prediction error of the held-out rows over `folds` folds, where row i
    /// is held out in fold i mod `folds`. Each fold's normal equations are the full ones less the
    /// held-out rows' contributions.
    pub(crate) fn kfold_errors(
        &self,
        lambdas: &[f64],
        folds: usize,
        ws: &mut Workspace,
    ) -> Vec<f64> {
        let (m, n) = (self.len(), self.n);
        let mut errors = vec![0.0; lambdas.len()];
        let yw = self.weighted_y();
        for fold in 0..folds {
            let held: Vec<usize> = (fold..m).step_by(folds).collect();
            let mut gram = self.gram.clone();
            let mut aty = self.aty.clone();
            for &i in &held {
                for a in 0..n {
                    let va = self.design[(i, a)];
                    if va == 0.0 {
                        continue;
                    }
                    aty[a] -= va * yw[i];
                    for b in 0..n {
                        gram[a * n + b] -= va * self.design[(i, b)];
                    }
                }
            }
            let mut coef = self.zeros();
            for k in (0..lambdas.len()).rev() {
                let l2 = lambdas[k] * lambdas[k];
                ws.q.clear();
                ws.q.extend(gram.iter().zip(&self.ltl).map(|(g, l)| g + l2 * l));
                nnls::solve(
                    &ws.q,
                    &aty,
                    &self.constrained,
                    &mut coef,
                    &self.settings.nnls,
                    &mut ws.nnls,
                );
                errors[k] += held
                    .iter()
                    .map(|&i| {
                        let fit: f64 = (0..n).map(|j| self.design[(i, j)] * coef[j]).sum();
                        (yw[i] - fit).powi(2)
                    })
                    .sum::<f64>();
            }
        }
        errors
    }

    /// The weighted residuals W (y - K f - B b) of a solution, of the data divided by
    /// [`Problem::data_scale`] (their squares sum to the solution's ||W r||^2).
    pub fn weighted_residuals(&self, solution: &Solution) -> Vec<f64> {
        self.weighted_residuals_of(&self.internal_coefficients(solution))
    }

    /// ||W r||^2 of internal coefficients `coef` from `expanded` = y'y - 2 x'h + x'Gx: cheap, and
    /// its rounding error, a few 1e-16 of ||W y||^2, stays below 1e-6 of ||W r||^2 while ||W r||^2
    /// is at least 1e-9 of ||W y||^2 (noisy data always). Below that (noise-free data the grid can
    /// represent, where the expansion can even come out negative) the residual is formed from the
    /// design.
    pub(crate) fn weighted_ss(&self, coef: &[f64], expanded: f64) -> f64 {
        if expanded >= DIRECT_RESIDUAL_BELOW * self.yty {
            return expanded;
        }
        let r = self.weighted_residuals_of(coef);
        r.iter().map(|v| v * v).sum()
    }

    /// The linearized standard error of each peak's area (data units) of a Tikhonov `solution`:
    /// on its free set P, with Q_PP = G_PP + lambda^2 (L^T L)_PP, the area a'f of a peak (a: 1 on
    /// its grid points, 1/2 at a minimum it shares with a neighbouring peak, as [`find_peaks`]
    /// counts it) is linear in the data near the solution, with variance
    /// s^2 a_P' Q_PP^-1 G_PP Q_PP^-1 a_P: the noise of the data carried through the solve at the
    /// chosen lambda and free set. `noise_variance` is s^2 in the weighted units of the problem's
    /// scaled data: 1 with sigma given; without it, an estimate from a fit that follows the data
    /// (the path's weakest-lambda fit, [`crate::inversion::PathScores`]'s `sigma2`), not from the
    /// chosen fit, whose misfit would count as noise. It leaves out the choice of lambda and the
    /// free set's changes: the bootstrap includes them. NaN for every peak when Q_PP cannot be
    /// factored.
    ///
    /// [`find_peaks`]: crate::spectrum::find_peaks
    pub fn peak_area_stderr(
        &self,
        solution: &Solution,
        peaks: &[crate::spectrum::SpectrumPeak],
        noise_variance: f64,
    ) -> Vec<f64> {
        let weights: Vec<Vec<f64>> = peaks
            .iter()
            .map(|p| {
                (0..self.n)
                    .map(|j| if j < self.n_spec { p.weight(j) } else { 0.0 })
                    .collect()
            })
            .collect();
        self.linear_stderr(solution, &weights, noise_variance)
            .into_iter()
            .map(|se| se * self.scale)
            .collect()
    }

    /// The linearized standard error of each baseline coefficient of a Tikhonov `solution`, in
    /// the order and the units of [`Solution::baseline`] (c_inf in data units; a slope in data
    /// units per unit x): as [`Problem::peak_area_stderr`], with a' picking the coefficient.
    /// NaN for a coefficient held at its bound (`baseline_nonnegative`), which is not free, and
    /// for every one when Q_PP cannot be factored.
    pub fn baseline_stderr(&self, solution: &Solution, noise_variance: f64) -> Vec<f64> {
        let weights: Vec<Vec<f64>> = (self.n_spec..self.n)
            .map(|b| (0..self.n).map(|j| f64::from(u8::from(j == b))).collect())
            .collect();
        let mut se = self.linear_stderr(solution, &weights, noise_variance);
        let coef = self.internal_coefficients(solution);
        for (b, se) in (self.n_spec..self.n).zip(se.iter_mut()) {
            if self.constrained[b] && coef[b] <= 0.0 {
                *se = f64::NAN;
            }
        }
        // Internal coefficients to the solution's units, as [`Problem::solution`] converts them.
        for block in &self.blocks {
            if block.baseline == Baseline::ConstantLinear {
                se[block.columns.start + 1 - self.n_spec] /= block.linear_scale;
            }
        }
        se.iter_mut().for_each(|v| *v *= self.scale);
        se
    }

    /// sqrt(s^2 a_P' Q_PP^-1 G_PP Q_PP^-1 a_P) of each row `a` of `weights` (one per coefficient,
    /// internal scaling) on the free set P of `solution` (see [`Problem::peak_area_stderr`]).
    fn linear_stderr(
        &self,
        solution: &Solution,
        weights: &[Vec<f64>],
        noise_variance: f64,
    ) -> Vec<f64> {
        let n = self.n;
        let coef = self.internal_coefficients(solution);
        let free: Vec<usize> = (0..n)
            .filter(|&j| !self.constrained[j] || coef[j] > 0.0)
            .collect();
        let k = free.len();
        let l2 = solution.lambda * solution.lambda;
        let q = Mat::<f64>::from_fn(k, k, |a, b| {
            let (i, j) = (free[a], free[b]);
            self.gram[i * n + j] + l2 * self.ltl[i * n + j]
        });
        let g = Mat::<f64>::from_fn(k, k, |a, b| self.gram[free[a] * n + free[b]]);
        let Ok(llt) = q.llt(faer::Side::Lower) else {
            return vec![f64::NAN; weights.len()];
        };
        weights
            .iter()
            .map(|w| {
                let a = Mat::<f64>::from_fn(k, 1, |row, _| w[free[row]]);
                let x = faer::linalg::solvers::Solve::solve(&llt, &a);
                let var = (x.transpose() * &g * &x)[(0, 0)] * noise_variance;
                var.max(0.0).sqrt()
            })
            .collect()
    }

    /// W (y - A x) of internal coefficients `coef`, formed from the design's columns.
    fn weighted_residuals_of(&self, coef: &[f64]) -> Vec<f64> {
        let mut r = self.weighted_y();
        for (j, &c) in coef.iter().enumerate() {
            if c != 0.0 {
                let column = self.design.col(j);
                let column = column
                    .try_as_col_major()
                    .expect("a Mat's columns are contiguous");
                for (ri, a) in r.iter_mut().zip(column.as_slice()) {
                    *ri -= a * c;
                }
            }
        }
        r
    }

    /// Model values K f + B b at the data points (unweighted), for a solution.
    pub fn fitted(&self, solution: &Solution) -> Vec<f64> {
        let coef = self.internal_coefficients(solution);
        (0..self.len())
            .map(|i| {
                (0..self.n)
                    .map(|j| self.design[(i, j)] * coef[j])
                    .sum::<f64>()
                    / self.scaled_weights[i]
                    * self.scale
            })
            .collect()
    }

    /// A solution for given coefficients (internal scaling) of the unpenalized objective, as produced
    /// by a method other than the penalized NNLS (the iterative mode): lambda is 0 and the degrees of
    /// freedom count the free coefficients.
    pub(crate) fn unpenalized_solution(
        &self,
        coef: &[f64],
        info: NnlsInfo,
        ws: &mut Workspace,
    ) -> Solution {
        ws.q.clear();
        ws.q.extend_from_slice(&self.gram);
        let (stats, _) = self.stats_with_q(coef, 0.0, false, &self.penalty, ws);
        self.solution(0.0, coef, info, stats)
    }
}
