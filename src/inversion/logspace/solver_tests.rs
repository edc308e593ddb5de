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
