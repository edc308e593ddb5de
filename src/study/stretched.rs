//! The stretched-exponent pitfall (paper section 7, Fig. 10): data exp(-((t + t0)/tau)^beta) fitted
//! with an unshifted x0 exp(-(t/tau_s)^beta_s), on linear and on logarithmic time spacing.

use rand::Rng;

use super::{Outcome, StudyError};
use crate::analysis::fit::{least_squares, Fit};
use crate::files::{fields, Table};
use crate::protocol::kww::stretched_exponent;
use crate::protocol::{AxisGrid, Spacing};
use crate::scenario::{Protocol, Scenario};

/// The unshifted model x0 exp(-(t/tau)^beta); NaN outside tau > 0, 0 < beta <= 2.
fn model(x0: f64, tau: f64, beta: f64, t: f64) -> f64 {
    if tau > 0.0 && beta > 0.0 && beta <= 2.0 {
        x0 * (-(t / tau).powf(beta)).exp()
    } else {
        f64::NAN
    }
}

/// Fits of one time spacing.
struct SpacingFits {
    times: Vec<f64>,
    y: Vec<f64>,
    free: Fit,
    pinned: Fit,
}

fn fit_spacing(times: Vec<f64>, y: Vec<f64>) -> SpacingFits {
    // Start: tau where y falls to y0/e, beta 0.7.
    let y0 = y[0];
    let tau0 = times
        .iter()
        .zip(&y)
        .find(|(_, v)| **v < y0 / std::f64::consts::E)
        .map_or(times[times.len() - 1], |(t, _)| *t);
    let free = least_squares(
        |p| {
            times
                .iter()
                .zip(&y)
                .map(|(&t, &v)| model(p[0], p[1], p[2], t) - v)
                .collect()
        },
        &[y0, tau0, 0.7],
    );
    let pinned = least_squares(
        |p| {
            times
                .iter()
                .zip(&y)
                .map(|(&t, &v)| model(1.0, p[0], p[1], t) - v)
                .collect()
        },
        &[tau0, 0.7],
    );
    SpacingFits {
        times,
        y,
        free,
        pinned,
    }
}

pub(super) fn run<R: Rng + ?Sized>(
    scenario: &Scenario,
    rng: &mut R,
    keep_tables: bool,
) -> Result<Outcome, StudyError> {
    let Protocol::StretchedExponent {
        x0,
        t0_s,
        tau_s,
        beta,
        ref times,
    } = scenario.protocol
    else {
        return Err(StudyError::Protocol("stretched-exponent"));
    };
    let (start, stop, points) = (times.first(), times.last(), times.values().len());
    let mut out = Outcome::default();
    out.push("tau_s_true", tau_s);
    out.push("beta_true", beta);
    out.push("t0_s", t0_s);
    out.push("t_min_s", start);
    out.push("t_max_s", stop);
    for (label, spacing) in [("linear", Spacing::Linear), ("log", Spacing::Log)] {
        let grid = AxisGrid::spaced(start, stop, points, spacing)
            .map_err(|e| StudyError::Input(format!("protocol.times: {e}")))?;
        let t = grid.values().to_vec();
        let clean = stretched_exponent(x0, t0_s, tau_s, beta, &t);
        let noisy = scenario.noise.apply(&t, &clean, rng);
        let f = fit_spacing(t, noisy.y);
        let (p, e) = (&f.free.params, &f.free.stderr);
        out.push(&format!("tau_s_{label}"), p[1]);
        out.push(&format!("tau_s_{label}_stderr"), e[1]);
        out.push(&format!("beta_{label}"), p[2]);
        out.push(&format!("beta_{label}_stderr"), e[2]);
        out.push(&format!("x0_{label}"), p[0]);
        out.push(&format!("x0_{label}_stderr"), e[0]);
        out.push(&format!("tau_s_{label}_excess"), p[1] / tau_s - 1.0);
        out.push(&format!("rms_{label}"), f.free.rms());
        let (q, qe) = (&f.pinned.params, &f.pinned.stderr);
        out.push(&format!("tau_s_{label}_pinned"), q[0]);
        out.push(&format!("tau_s_{label}_pinned_stderr"), qe[0]);
        out.push(&format!("beta_{label}_pinned"), q[1]);
        out.push(&format!("beta_{label}_pinned_stderr"), qe[1]);
        out.push(&format!("rms_{label}_pinned"), f.pinned.rms());
        if keep_tables {
            let mut text = Table::new(&["t_s", "data", "fit_free", "fit_x0_pinned"]);
            for (&t, &y) in f.times.iter().zip(&f.y) {
                text.push(fields![
                    t,
                    y,
                    model(p[0], p[1], p[2], t),
                    model(1.0, q[0], q[1], t)
                ]);
            }
            out.tables.push((format!("fit_{label}"), text));
        }
    }
    Ok(out)
}
