//! The rules against closed forms and hand cases: the nested F-test, the disagreement warning,
//! the classic maxent crossing, and the path's kept factor terms against a refactorization.

use super::super::path::LambdaPath;
use super::super::{FitStats, Problem, Workspace};
use super::choice::classic_crossing;
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
