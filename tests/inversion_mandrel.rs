//! The acceptance test: the shipped Al-Ni-Y mandrel scenario with white noise sigma = 1e-4,
//! inverted with the discrepancy rule, gives back the hierarchy.

mod common;

use std::path::Path;

use stzlab::data::MeasuredSeries;
use stzlab::inversion::{Kernel, Workspace};
use stzlab::pipeline::invert::{invert_series, InvertOptions};
use stzlab::pipeline::simulate::simulate;
use stzlab::scenario::Scenario;

/// Issue 3: centroids within 0.15 decade, areas within 20 %, Omega slope within 3 % of V_a.
const CENTROID_TOL_DECADES: f64 = 0.15;
const AREA_REL_TOL: f64 = 0.20;
const SLOPE_REL_TOL: f64 = 0.03;
const V_AL_M3: f64 = 16.6e-30;

#[test]
fn discrepancy_inversion_recovers_the_al_ni_y_hierarchy() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/al-ni-y-mandrel.toml");
    let scenario = Scenario::load(&path).unwrap();
    assert_eq!(scenario.noise.sigma, 1e-4);
    let sim = simulate(&scenario).unwrap();
    let s = &sim.series[0];
    let series = MeasuredSeries {
        temperature_k: None,
        x: s.x.clone(),
        y: s.y.clone(),
        sigma: s.sigma.clone(),
    };
    let material = scenario.material.unwrap();
    let mut options = InvertOptions::new(Kernel::Decay);
    options.rule = stzlab::inversion::Rule::parse("discrepancy").unwrap();
    let inv = invert_series(
        &series,
        &options,
        Some((&material, 295.0)),
        &mut Workspace::new(),
    )
    .unwrap();
    let result = &inv.analysis.results[0];
    assert_eq!(result.choice.rule.name(), "discrepancy");
    // chi^2 = M at the refined discrepancy choice.
    let chi2 = result.choice.solution.stats.weighted_ss;
    assert!((chi2 / 200.0 - 1.0).abs() < 1e-3, "chi2 {chi2}");

    let (t_lo, t_hi) = (s.x[0], s.x[s.x.len() - 1]);
    for row in &sim.stz {
        let tau = row.level.tau_s;
        if !(tau >= t_lo && tau <= t_hi) {
            continue;
        }
        // Every peak whose tau lies in the window is found...
        let nearest = common::nearest_peak(&result.peaks, tau);
        let off = (nearest.tau_s() / tau).log10().abs();
        assert!(
            off < CENTROID_TOL_DECADES,
            "n = {}: centroid {:.3e} vs {tau:.3e} ({off:.3} decade)",
            row.level.n,
            nearest.tau_s()
        );
        // ... and the interior ones (n = 15..20) carry the amplitude the experiment produced. The
        // mandrel's slow sizes are short of c_n (n = 20 shows 0.018 of its 0.03 after t_c = 2e6 s):
        // that is the experiment's systematic error, not the inversion's, so areas are compared with
        // the achieved amplitude.
        if (15..=20).contains(&row.level.n) {
            let achieved = row.amplitude_coupled.unwrap();
            let err = (nearest.area / achieved - 1.0).abs();
            assert!(
                err < AREA_REL_TOL,
                "n = {}: area {:.5} vs achieved {achieved:.5}",
                row.level.n,
                nearest.area
            );
        }
    }
    // The number of peaks inside the window equals the number of true sizes there.
    let inside_true = sim
        .stz
        .iter()
        .filter(|r| r.level.tau_s >= t_lo && r.level.tau_s <= t_hi)
        .count();
    let inside_found = result
        .peaks
        .iter()
        .filter(|p| p.tau_s() >= t_lo && p.tau_s() <= t_hi)
        .count();
    assert_eq!(inside_found, inside_true);

    let stz = inv.stz.unwrap();
    let (slope, stderr) = stz.slope_in_atomic_volumes(V_AL_M3).unwrap();
    assert!(
        (slope - 1.0).abs() < SLOPE_REL_TOL,
        "slope {slope} +- {stderr:?} V_a"
    );
}
