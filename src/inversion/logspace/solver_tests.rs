//! Tests of the log-space solver: its line search, factor and eigenvalue helpers.

use super::*;

#[test]
fn a_step_stops_at_the_floor_and_a_zero_step_is_the_state_itself() {
    // ln f: one below the floor (-30), one above it, one at the top; one baseline value.
    let st = State {
        s: vec![-40.0, -10.0, 0.0],
        b: vec![0.5],
    };
    let zero = st.stepped(&[0.0; 4], 1.0, -30.0);
    assert_eq!(zero.s, st.s);
    assert_eq!(zero.b, st.b);
    let down = st.stepped(&[-5.0, -30.0, 1.0, -2.0], 1.0, -30.0);
    // Below the floor: not lifted to it, not pushed further down; above: stopped at it.
    assert_eq!(down.s, vec![-40.0, -30.0, 1.0]);
    assert_eq!(down.b, vec![-1.5]);
    let up = st.stepped(&[4.0, 0.0, 0.0, 0.0], 0.5, -30.0);
    assert_eq!(up.s[0], -38.0);
}

#[test]
fn the_change_of_the_objective_is_accurate_where_the_objective_is_not() {
    // Data 1e7 times their noise, from amplitudes on the grid itself, so that the fit reaches
    // the noise: ||W y||^2 ~ 1e16 against ||W r||^2 ~ 60, and the objective y'W'Wy - 2 c'h
    // + c'Gc carries a rounding error of order 1. A step of 1e-6 in ln f changes the objective
    // by far less than that; the change is measured to 1e-6 of the difference of residuals
    // formed directly.
    use crate::inversion::{Kernel, Problem, ProblemSettings, Workspace};
    use crate::spectrum::LnTauGrid;
    let grid = LnTauGrid::new(1e-2, 1e4, 12).unwrap();
    let t: Vec<f64> = (0..60)
        .map(|i| 10f64.powf(-1.0 + 4.0 * i as f64 / 59.0))
        .collect();
    let y: Vec<f64> = t
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let clean: f64 = (0..12)
                .map(|j| (-((j as f64 - 6.0).powi(2)) / 8.0).exp() * (-x / grid.tau_s(j)).exp())
                .sum();
            clean + 1e-7 * ((i % 7) as f64 - 3.0) / 3.0
        })
        .collect();
    let sigma = vec![1e-7; t.len()];
    let p = Problem::new(
        &t,
        &y,
        Some(&sigma),
        ProblemSettings::new(Kernel::Decay, grid),
    )
    .unwrap();
    let parts = Parts::of(&p, Prior::Smooth);
    // Near the fit: the log of a weakly regularized NNLS solution (internal units).
    let mut coef = p.zeros();
    let solution = p.solve(p.lambda_range().0, &mut coef, &mut Workspace::new());
    let c = p.internal_coefficients(&solution);
    let top = c.iter().fold(0.0_f64, |m, v| m.max(*v));
    let st = State {
        s: c.iter().map(|v| v.max(1e-14 * top).ln()).collect(),
        b: vec![],
    };
    let step: Vec<f64> = (0..c.len())
        .map(|j| ((j % 3) as f64 - 1.0) * 1e-6)
        .collect();
    let (from, to) = (
        parts.evaluate(&st),
        parts.evaluate(&st.stepped(&step, 1.0, -1e3)),
    );
    let change = parts.change(&parts.point(&st, 0.0), from.penalty, &to, 0.0);
    // Reference: ||W r'||^2 - ||W r||^2 = (A dc).(2 r + A dc), r = A c - W y formed directly.
    let (a, wy) = (p.design(), p.weighted_y());
    let times = |v: &[f64], i: usize| (0..v.len()).map(|j| a[(i, j)] * v[j]).sum::<f64>();
    let dc: Vec<f64> = (0..c.len()).map(|j| to.c[j] - from.c[j]).collect();
    let (mut reference, mut misfit) = (0.0, 0.0);
    for (i, y) in wy.iter().enumerate() {
        let (r, d) = (times(&from.c, i) - y, times(&dc, i));
        reference += d * (2.0 * r + d);
        misfit += r * r;
    }
    let naive = parts.data2(&to.c, &to.gc) - parts.data2(&from.c, &from.gc);
    assert!(
        misfit < 1e3,
        "the state fits the data: ||W r||^2 = {misfit}"
    );
    assert!(
        (change - reference).abs() <= 1e-6 * reference.abs() && reference.abs() > 0.0,
        "change {change} against {reference}"
    );
    assert!(
        (naive - reference).abs() > 100.0 * (change - reference).abs(),
        "the difference of two objectives ({naive}) is the worse measure of {reference} here"
    );
}

#[test]
fn the_top_eigenvalue_of_a_difference_penalty_is_found() {
    // Second differences on 5 points: L'L has the flat and linear vectors in its null space,
    // where a flat-started power iteration stays; the eigensolve finds the top all the same.
    let n = 5;
    let (rows, l) = crate::inversion::penalty::difference_operator(n, 2, false);
    let ltl = crate::inversion::penalty::gram_of(rows, n, &l);
    let top = top_eigenvalue(&ltl, n);
    // Rayleigh quotient of the alternating vector: a lower bound well above 0.
    let v = [1.0, -1.0, 1.0, -1.0, 1.0];
    let lv: f64 = (0..n)
        .map(|i| v[i] * (0..n).map(|j| ltl[i * n + j] * v[j]).sum::<f64>())
        .sum::<f64>()
        / 5.0;
    assert!(top >= lv - 1e-12 && lv > 5.0, "{top} vs {lv}");
    assert!(
        top <= 16.0,
        "Gershgorin: rows of L'L sum to at most 16 in absolute value"
    );
}

#[test]
fn the_factor_solves_a_known_system() {
    // [[4, 2], [2, 3]] x = [2, 1] has x = [0.5, 0]; det = 8; A^-1 = [[3, -2], [-2, 4]] / 8.
    let f = Factor::new(&[4.0, 2.0, 2.0, 3.0], 2).unwrap();
    let x = f.solve(&[2.0, 1.0]);
    assert!((x[0] - 0.5).abs() < 1e-15 && x[1].abs() < 1e-15);
    assert!((f.ln_det() - 8f64.ln()).abs() < 1e-14);
    // tr(A^-1 diag(1, 0)) on the leading 1 x 1 block: 3/8.
    let t = f.trace_with(&|i, j| if i == j { 1.0 } else { 0.0 }, 1);
    assert!((t - 0.375).abs() < 1e-15);
    assert!(Factor::new(&[1.0, 2.0, 2.0, 1.0], 2).is_none());
}

#[test]
fn the_geodesic_acceleration_is_the_residuals_second_derivative_along_the_step() {
    // a = -H^-1 J' r'' with r'' = d^2/dt^2 r(s + t d) at t = 0, here by central differences of
    // residuals formed directly from the design (error O(h^2) = 1e-6 of it), with a baseline
    // column (which enters r linearly and takes no second derivative).
    use crate::inversion::{Baseline, Kernel, Problem, ProblemSettings};
    use crate::spectrum::LnTauGrid;
    let grid = LnTauGrid::new(1e-2, 1e4, 10).unwrap();
    let t: Vec<f64> = (0..40)
        .map(|i| 10f64.powf(-1.0 + 4.0 * i as f64 / 39.0))
        .collect();
    let y: Vec<f64> = t.iter().map(|&x| 0.3 * (-x / 5.0).exp() + 0.1).collect();
    let sigma = vec![1e-3; t.len()];
    let settings = ProblemSettings {
        baseline: Baseline::Constant,
        ..ProblemSettings::new(Kernel::Decay, grid)
    };
    let p = Problem::new(&t, &y, Some(&sigma), settings).unwrap();
    let parts = Parts::of(&p, Prior::Smooth);
    let n = parts.n;
    let st = State {
        s: (0..parts.ns)
            .map(|j| -2.0 - 0.3 * (j as f64 - 4.0).powi(2) / 4.0)
            .collect(),
        b: vec![0.05],
    };
    let l2 = 1e-2;
    let point = parts.point(&st, l2);
    let all: Vec<usize> = (0..n).collect();
    let h = parts.step_matrix(&point, l2, &all);
    let factor = Factor::new(&h, n).unwrap();
    let step: Vec<f64> = (0..n)
        .map(|j| 0.01 * ((j % 3) as f64 - 1.0) + 0.002 * j as f64)
        .collect();
    let held = vec![false; n];
    let a = parts
        .acceleration(&point, &step, &all, &held, &factor)
        .expect("a short step is accelerated");
    // Reference: residuals r(s + t d) = A c(t) - W y.
    let (design, wy) = (p.design(), p.weighted_y());
    let residual = |t: f64| -> Vec<f64> {
        let c = parts.coefficients(&st.stepped(&step, t, -1e3));
        (0..wy.len())
            .map(|i| (0..n).map(|j| design[(i, j)] * c[j]).sum::<f64>() - wy[i])
            .collect()
    };
    let hstep = 1e-3;
    let (plus, zero, minus) = (residual(hstep), residual(0.0), residual(-hstep));
    let second: Vec<f64> = (0..wy.len())
        .map(|i| (plus[i] - 2.0 * zero[i] + minus[i]) / (hstep * hstep))
        .collect();
    // -J' r'', J = A diag(f, 1).
    let rhs: Vec<f64> = (0..n)
        .map(|j| {
            let scale = if j < parts.ns { st.s[j].exp() } else { 1.0 };
            -scale
                * (0..wy.len())
                    .map(|i| design[(i, j)] * second[i])
                    .sum::<f64>()
        })
        .collect();
    let reference = factor.solve(&rhs);
    let norm = reference.iter().map(|v| v * v).sum::<f64>().sqrt();
    for (x, r) in a.iter().zip(&reference) {
        assert!((x - r).abs() <= 1e-5 * norm, "{x} against {r} (|a| {norm})");
    }
    // A long step is not accelerated: 2 |a| grows as |d|^2 past 0.75 |d|.
    let long: Vec<f64> = step.iter().map(|v| v * 1e3).collect();
    assert!(parts
        .acceleration(&point, &long, &all, &held, &factor)
        .is_none());
}
