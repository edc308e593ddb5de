//! Known answers of Argon's STZ model (docs/model.md §1).

use stzlab::constants::{j_to_ev, BOLTZMANN_J_PER_K};
use stzlab::stz::{
    percolation, AtomicVolume, FreeVolumeModel, GlassTransition, Hierarchy, Material,
    MaterialParams,
};

/// docs/model.md's check values are quoted to 3-4 significant figures; the issue asks for 0.5 %.
const CHECK_REL_TOL: f64 = 5e-3;
const V_AL_M3: f64 = 16.6e-30;
const T_ROOM_K: f64 = 295.0;

fn check_material() -> Material {
    Material::new(MaterialParams::default()).unwrap()
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}

#[test]
fn activation_energies_match_model_md_check() {
    let m = check_material();
    let df14 = j_to_ev(m.delta_f_j(14.0 * V_AL_M3, T_ROOM_K));
    let df21 = j_to_ev(m.delta_f_j(21.0 * V_AL_M3, T_ROOM_K));
    assert!(rel(df14, 0.850) < CHECK_REL_TOL, "dF_14 = {df14} eV");
    assert!(rel(df21, 1.275) < CHECK_REL_TOL, "dF_21 = {df21} eV");
}

#[test]
fn relaxation_times_match_model_md_check() {
    let m = check_material();
    let tau14 = m.tau_s(14.0 * V_AL_M3, T_ROOM_K);
    let tau21 = m.tau_s(21.0 * V_AL_M3, T_ROOM_K);
    assert!(rel(tau14, 1.83) < CHECK_REL_TOL, "tau_14 = {tau14} s");
    // docs/model.md quotes tau_21 = 2.2e7 s to two figures (the exact value is 2.225e7 s): check it at
    // that precision, and pin the exact value to a hand evaluation of Eq. 9 below.
    assert!((tau21 / 1e7 * 10.0).round() == 22.0, "tau_21 = {tau21} s");
    let kt = BOLTZMANN_J_PER_K * T_ROOM_K;
    let nu: f64 = 0.324;
    let (gamma_t, mu) = (0.2, 19.2e9);
    let gamma_c = 2.0 * (4.0 - 5.0 * nu) / (15.0 * (1.0 - nu)) * gamma_t;
    let omega = 21.0 * V_AL_M3;
    let df = (((7.0 - 5.0 * nu) / (30.0 * (1.0 - nu)) + 2.0 * (1.0 + nu) / (9.0 * (1.0 - nu)))
        * gamma_t
        + 0.0125)
        * mu
        * gamma_t
        * omega;
    let by_hand =
        3.0 * kt / (2.0 * mu * (1.0 + nu) * 1e13 * gamma_c * gamma_t * omega) * (df / kt).exp();
    assert!(rel(tau21, by_hand) < 1e-12, "{tau21} vs {by_hand}");
    assert!(rel(tau21, 2.2249e7) < 1e-4, "tau_21 = {tau21} s");
}

#[test]
fn adjacent_sizes_are_about_one_decade_apart_by_the_closed_form_ratio() {
    // tau_{n+1}/tau_n = n/(n+1) exp(dF_1 / kT) exactly (one-regime volumes, constant mu).
    let m = check_material();
    let df1 = m.delta_f_j(V_AL_M3, T_ROOM_K);
    for n in 14..21u32 {
        let ratio = m.tau_s(f64::from(n + 1) * V_AL_M3, T_ROOM_K)
            / m.tau_s(f64::from(n) * V_AL_M3, T_ROOM_K);
        let expected =
            f64::from(n) / f64::from(n + 1) * (df1 / (BOLTZMANN_J_PER_K * T_ROOM_K)).exp();
        assert!(
            rel(ratio, expected) < 1e-12,
            "n = {n}: {ratio} vs {expected}"
        );
        assert!(
            (ratio.log10() - 1.0).abs() < 0.1,
            "n = {n}: {} decades",
            ratio.log10()
        );
    }
}

#[test]
fn constrained_strain_is_the_paper_expression() {
    let m = check_material();
    let nu: f64 = 0.324;
    assert!(
        rel(
            m.gamma_c(),
            2.0 * (4.0 - 5.0 * nu) / (15.0 * (1.0 - nu)) * 0.2
        ) < 1e-15
    );
    assert!(rel(m.e0_pa(T_ROOM_K), 2.0 * 19.2e9 * 1.324) < 1e-15);
}

#[test]
fn modulus_is_constant_below_tg_and_linear_above() {
    let m = Material::new(MaterialParams {
        glass_transition: Some(GlassTransition {
            t_g_k: 600.0,
            dmu_dt_pa_per_k: -0.1e9,
        }),
        ..MaterialParams::default()
    })
    .unwrap();
    assert_eq!(m.mu_pa(500.0), 19.2e9);
    assert_eq!(m.mu_pa(600.0), 19.2e9);
    assert!(rel(m.mu_pa(650.0), 19.2e9 - 5e9) < 1e-15);
    // mu(T) enters dF and the prefactor: dF scales with mu exactly.
    let omega = 30.0 * V_AL_M3;
    assert!(
        rel(
            m.delta_f_j(omega, 650.0) / m.delta_f_j(omega, 600.0),
            14.2 / 19.2
        ) < 1e-14
    );
    assert!(m.check_temperature(650.0).is_ok());
    assert!(m.check_temperature(600.0 + 19.2 / 0.1 + 1.0).is_err());
}

#[test]
fn omega_from_tau_inverts_eq_9() {
    let m = check_material();
    for n in [10.0, 14.0, 17.5, 21.0, 30.0] {
        let omega = n * V_AL_M3;
        let tau = m.tau_s(omega, T_ROOM_K);
        let back = m.omega_from_tau(tau, T_ROOM_K).unwrap();
        assert!(rel(back, omega) < 1e-12, "n = {n}: {back} vs {omega}");
    }
    assert!(m.omega_from_tau(1e-30, T_ROOM_K).is_none());
}

#[test]
fn two_regime_volumes_join_at_the_break() {
    let v = AtomicVolume::TwoRegime {
        v_a1_m3: 16.6e-30,
        n_break: 10,
        v_a2_m3: 8.0e-30,
    };
    assert!(rel(v.omega_m3(10), 166e-30) < 1e-15);
    assert!(rel(v.omega_m3(12), 166e-30 + 16e-30) < 1e-15);
    assert!(rel(v.omega_m3(4), 4.0 * 16.6e-30) < 1e-15);
}

#[test]
fn material_rejects_non_physical_values() {
    for p in [
        MaterialParams {
            nu: 0.5,
            ..MaterialParams::default()
        },
        MaterialParams {
            nu: f64::NAN,
            ..MaterialParams::default()
        },
        MaterialParams {
            mu_pa: 0.0,
            ..MaterialParams::default()
        },
        MaterialParams {
            gamma_t: -0.1,
            ..MaterialParams::default()
        },
        MaterialParams {
            nu_g_hz: f64::INFINITY,
            ..MaterialParams::default()
        },
    ] {
        assert!(Material::new(p).is_err(), "{p:?} accepted");
    }
}

#[test]
fn hierarchy_rejects_bad_lists() {
    let v = AtomicVolume::Single { v_a_m3: V_AL_M3 };
    assert!(Hierarchy::new(vec![], vec![], v, 0.0).is_err());
    assert!(Hierarchy::new(vec![14, 15], vec![0.1], v, 0.0).is_err());
    assert!(Hierarchy::new(vec![15, 14], vec![0.1, 0.1], v, 0.0).is_err());
    assert!(Hierarchy::new(vec![14], vec![-0.1], v, 0.0).is_err());
    assert!(Hierarchy::new(vec![14], vec![0.1], v, -1.0).is_err());
}

#[test]
fn free_volume_c_n_is_the_poisson_tail() {
    // n v_mean = 14 * 0.5 = 7, v* = 2 * 14^0 = 2: P(X > 2) = 1 - e^-7 (1 + 7 + 49/2).
    let fv = FreeVolumeModel::new(2.0, 0.0, 0.5, 1.0).unwrap();
    let expected = 1.0 - (-7.0f64).exp() * (1.0 + 7.0 + 24.5);
    assert!(rel(fv.probability(14), expected) < 1e-12);
    // With p = 0.22 the threshold hardly moves and c_n rises with n, as measured (paper Fig. 5b).
    let fv = FreeVolumeModel::new(6.0, 0.22, 0.15, 0.1).unwrap();
    let c = fv.c(&[14, 15, 16, 17, 18, 19, 20, 21]);
    assert!(c.windows(2).all(|w| w[1] >= w[0]), "{c:?}");
}

#[test]
fn percolation_counts_sizes_faster_than_the_observation_time() {
    let m = check_material();
    let h = Hierarchy::new(
        (14..=21).collect(),
        vec![0.002, 0.003, 0.005, 0.008, 0.012, 0.02, 0.03, 0.05],
        AtomicVolume::Single { v_a_m3: V_AL_M3 },
        0.0,
    )
    .unwrap();
    let levels = h.levels(&m, T_ROOM_K);
    // tau_17 ~ 2e3 s, tau_18 ~ 2e4 s: an observation time of 1e4 s activates n <= 17.
    let p = percolation(&levels, 1e4);
    assert_eq!(p.n0, Some(17));
    let sum = 0.002 + 0.003 + 0.005 + 0.008;
    assert!(rel(p.active_sum_c, sum) < 1e-14);
    assert!(rel(p.rigid_fraction, (-sum).exp()) < 1e-14);
    assert!(rel(p.active_fraction + p.rigid_fraction, 1.0) < 1e-15);
    assert_eq!(percolation(&levels, 0.1).n0, None);
}
