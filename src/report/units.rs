//! The unit of every number stzlab writes to a summary, read from its key: index.html prints it
//! beside the number. Keys name their unit by a suffix token (`tau_s`, `df_ev`, `omega_m3`,
//! `temperature_k`, ...); the rest are counts or dimensionless, listed here.

/// Dimensionless (`1`): ratios, fractions, volume fractions, fit statistics, exponents.
const DIMENSIONLESS: &[&str] = &[
    "area",
    "appearance",
    "beta",
    "c",
    "ceiling",
    "chi2",
    "dof",
    "edge",
    "error",
    "excess",
    "fallback",
    "first",
    "fraction",
    "gamma",
    "jitter",
    "kkt",
    "l1",
    "l2",
    "lag1",
    "lambda",
    "ln",
    "maxent",
    "misfit",
    "order",
    "probability",
    "r2",
    "ratio",
    "regret",
    "relative",
    "right",
    "rms",
    "significance",
    "strain",
    "x0",
];

/// Counts: how many of something (integers).
const COUNTS: &[&str] = &[
    "at-path-end",
    "count",
    "excluded",
    "factorizations",
    "failed",
    "groupings",
    "iterations",
    "matched",
    "missed",
    "missing",
    "n",
    "n0",
    "no-corner",
    "ok",
    "offset",
    "peaks",
    "points",
    "rank",
    "repeats",
    "resamples",
    "runs",
    "planned",
    "spurious",
    "target-unreachable",
    "temperatures",
    "traded",
    "undefined",
    "used",
    "weak",
];

/// The unit of the number under `key` in a summary (the last part of a dotted sweep-axis name
/// counts: `noise.sigma`): `s`, `eV`, `m^3`, `K`, `Pa`, `Hz`, `rad/s`, `decades`, `atomic volumes`,
/// `y unit` (the unit of the data's y column), `y unit / x unit`, `count`, `id` (a number naming a
/// cell, peak or seed), or `1` for a dimensionless number. `None` for a key stzlab does not write.
#[must_use]
pub fn unit_of(key: &str) -> Option<&'static str> {
    let last = key.rsplit('.').next().unwrap_or(key);
    if ["cell", "peak", "seed"].contains(&last) {
        return Some("id");
    }
    // Maxent's default model is an amplitude per grid point, in the data's unit; the data's
    // internal scale is a number in that unit too.
    if last == "default_model" || last == "data_scale" {
        return Some("y unit");
    }
    // The creep baseline's slope B of c_inf + B x: the data's unit per unit of x (s for creep).
    if last == "slope_per_x" {
        return Some("y unit / x unit");
    }
    // A peak's area, its error and its bootstrap quantiles are integrals of the spectrum, in the
    // data's unit (volume fractions for strain, Pa for the loss modulus); `area_error` is a ratio.
    if last == "area"
        || last == "area_stderr"
        || last
            .strip_prefix("area_p")
            .is_some_and(|q| q.parse::<u32>().is_ok())
    {
        return Some("y unit");
    }
    if COUNTS.contains(&last) {
        return Some("count");
    }
    let tokens: Vec<&str> = last.split('_').collect();
    let has = |t: &str| tokens.contains(&t);
    // A ratio or fraction of two like quantities is dimensionless whatever they are.
    if ["excess", "ratio", "fraction", "relative"]
        .iter()
        .any(|t| has(t))
    {
        return Some("1");
    }
    if has("rad") {
        return Some("rad/s");
    }
    let physical = [
        ("s", "s"),
        ("ev", "eV"),
        ("m3", "m^3"),
        ("k", "K"),
        ("pa", "Pa"),
        ("hz", "Hz"),
        ("decades", "decades"),
        ("volumes", "atomic volumes"),
    ];
    if let Some((_, unit)) = physical.iter().find(|(t, _)| has(t)) {
        return Some(unit);
    }
    if ["sigma", "inf"].iter().any(|t| has(t)) {
        return Some("y unit");
    }
    if tokens.iter().any(|t| COUNTS.contains(t)) {
        return Some("count");
    }
    if tokens.iter().any(|t| DIMENSIONLESS.contains(t)) {
        return Some("1");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_their_units() {
        for (key, unit) in [
            ("tau_s", "s"),
            ("tau_s_log_pinned_stderr", "s"),
            ("tau_s_linear_excess", "1"),
            ("apparent_activation_energy_stderr_ev", "eV"),
            ("omega_slope_m3", "m^3"),
            ("omega_slope_atomic_volumes", "atomic volumes"),
            ("protocol.step_k", "K"),
            ("omega_min_rad_s", "rad/s"),
            ("best_nu_g_hz", "Hz"),
            ("kww_amplitude_pa", "Pa"),
            ("centroid_error_decades", "decades"),
            ("noise.sigma", "y unit"),
            ("c_inf", "y unit"),
            ("slope_per_x", "y unit / x unit"),
            ("noise.relative", "1"),
            ("default_model", "y unit"),
            ("data_scale", "y unit"),
            ("area", "y unit"),
            ("area_stderr", "y unit"),
            ("area_p95", "y unit"),
            ("area_error", "1"),
            ("peak_area_error", "1"),
            ("significance", "1"),
            ("inversion.maxent_model", "1"),
            ("inversion.edge_scale", "1"),
            ("edge_scale", "1"),
            ("best_labels_correct_fraction", "1"),
            ("peaks", "count"),
            ("baseline_traded", "count"),
            ("cell", "id"),
            ("best_n_max", "count"),
            ("true_grouping_rank_by_continuity", "count"),
            ("spectrum_l1", "1"),
            ("rel_l2", "1"),
            ("r2", "1"),
        ] {
            assert_eq!(unit_of(key), Some(unit), "{key}");
        }
        assert_eq!(unit_of("no such key"), None);
        assert_eq!(unit_of("wobble"), None);
    }
}
