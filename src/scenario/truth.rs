//! `[truth]`: peaks (with their shapes) or an STZ hierarchy, checked and resolved.

use super::*;

/// The name of a shape in `truth.peaks[].shape`.
pub(super) fn shape_name(shape: &Shape) -> &'static str {
    match shape {
        Shape::LogNormal => "log-normal",
        Shape::Kww { .. } => "kww",
        Shape::ColeCole { .. } => "cole-cole",
        Shape::DavidsonCole { .. } => "davidson-cole",
        Shape::HavriliakNegami { .. } => "havriliak-negami",
    }
}

/// The shape of `truth.peaks[i]` and its log-normal width (0 for closed forms), with every
/// parameter checked against its domain and every parameter of another shape refused.
pub(super) fn peak_shape(i: usize, p: &PeakSpec) -> Result<(Shape, f64), Invalid> {
    let at = |field: &str| format!("truth.peaks[{i}].{field}");
    let name = p.shape.as_deref().unwrap_or("log-normal");
    let (shape, takes): (Shape, &[&str]) = match name {
        "log-normal" => (Shape::LogNormal, &["width"]),
        "kww" => (
            Shape::Kww {
                beta: p
                    .beta
                    .ok_or_else(|| invalid(at("beta"), "the kww shape needs beta"))?,
                t0_s: p.t0_s.unwrap_or(0.0),
            },
            &["beta", "t0_s"],
        ),
        "cole-cole" => (
            Shape::ColeCole {
                alpha: p
                    .alpha
                    .ok_or_else(|| invalid(at("alpha"), "the cole-cole shape needs alpha"))?,
            },
            &["alpha"],
        ),
        "davidson-cole" => (
            Shape::DavidsonCole {
                gamma: p
                    .gamma
                    .ok_or_else(|| invalid(at("gamma"), "the davidson-cole shape needs gamma"))?,
            },
            &["gamma"],
        ),
        "havriliak-negami" => (
            Shape::HavriliakNegami {
                alpha: p.alpha.ok_or_else(|| {
                    invalid(at("alpha"), "the havriliak-negami shape needs alpha")
                })?,
                gamma: p.gamma.ok_or_else(|| {
                    invalid(at("gamma"), "the havriliak-negami shape needs gamma")
                })?,
            },
            &["alpha", "gamma"],
        ),
        other => {
            return Err(invalid(
                at("shape"),
                format!("unknown shape {other:?}: use log-normal, kww, cole-cole, davidson-cole or havriliak-negami"),
            ))
        }
    };
    for (present, field) in [
        (p.width.is_some(), "width"),
        (p.beta.is_some(), "beta"),
        (p.t0_s.is_some(), "t0_s"),
        (p.alpha.is_some(), "alpha"),
        (p.gamma.is_some(), "gamma"),
    ] {
        if present && !takes.contains(&field) {
            return Err(invalid(
                at(field),
                format!("the {name} shape takes no {field}"),
            ));
        }
    }
    shape
        .check()
        .map_err(|e| invalid(at(e.field), format!("{} {}", e.value, e.requirement)))?;
    let width = p.width.unwrap_or(0.0);
    if !(width >= 0.0) {
        return Err(invalid(at("width"), format!("{width} must be >= 0")));
    }
    Ok((shape, width))
}

pub(super) fn resolve_truth(t: &TruthSpec) -> Result<(TruthSpec, Truth), Invalid> {
    let unused = |present: bool, field: &str, kind: &str| {
        if present {
            Err(invalid(
                format!("truth.{field}"),
                format!("not used by a {kind} truth"),
            ))
        } else {
            Ok(())
        }
    };
    match t.kind {
        TruthKind::Hierarchy => {
            unused(t.peaks.is_some(), "peaks", "hierarchy")?;
            let sizes =
                t.n.clone()
                    .ok_or_else(|| invalid("truth.n", "missing list of STZ sizes n"))?;
            let v_a = t
                .atomic_volume_m3
                .ok_or_else(|| invalid("truth.atomic_volume_m3", "missing atomic volume, m^3"))?;
            let volume = match (t.n_break, t.atomic_volume2_m3) {
                (None, None) => AtomicVolume::Single { v_a_m3: v_a },
                (Some(n_break), Some(v_a2_m3)) => AtomicVolume::TwoRegime {
                    v_a1_m3: v_a,
                    n_break,
                    v_a2_m3,
                },
                (Some(_), None) => {
                    return Err(invalid(
                        "truth.n_break",
                        "give atomic_volume2_m3 with n_break",
                    ))
                }
                (None, Some(_)) => {
                    return Err(invalid(
                        "truth.atomic_volume2_m3",
                        "give n_break with atomic_volume2_m3",
                    ))
                }
            };
            let (c, free_volume) = match (&t.c, &t.free_volume) {
                (Some(c), None) => (c.clone(), None),
                (None, Some(fv)) => {
                    let filled = FreeVolumeSpec {
                        v1: fv.v1,
                        p: Some(fv.p.unwrap_or(0.22)),
                        mean_free_volume: fv.mean_free_volume,
                        scale: Some(fv.scale.unwrap_or(1.0)),
                    };
                    let model = FreeVolumeModel::new(
                        filled.v1,
                        filled.p.unwrap_or_default(),
                        filled.mean_free_volume,
                        filled.scale.unwrap_or_default(),
                    )
                    .map_err(|e| match e {
                        crate::stz::StzError::OutOfRange { field, .. }
                        | crate::stz::StzError::Hierarchy { field, .. } => {
                            invalid(format!("truth.{field}"), e.to_string())
                        }
                    })?;
                    (model.c(&sizes), Some(filled))
                }
                (Some(_), Some(_)) => {
                    return Err(invalid("truth.c", "give either c or free_volume, not both"))
                }
                (None, None) => {
                    return Err(invalid(
                        "truth.c",
                        "missing c (one volume fraction per size) or [truth.free_volume]",
                    ))
                }
            };
            if let Some(i) =
                t.c.as_ref()
                    .and_then(|c| c.iter().position(|v| !(0.0..=1.0).contains(v)))
            {
                return Err(invalid(
                    format!("truth.c[{i}]"),
                    format!("volume fraction {} must be in [0, 1]", c[i]),
                ));
            }
            let width = t.width.unwrap_or(0.0);
            let hierarchy = Hierarchy::new(sizes, c, volume, width).map_err(|e| match e {
                crate::stz::StzError::OutOfRange { field, .. } => {
                    invalid(format!("truth.{field}"), e.to_string())
                }
                crate::stz::StzError::Hierarchy { field, message } => {
                    invalid(format!("truth.{field}"), message)
                }
            })?;
            let filled = TruthSpec {
                width: Some(width),
                free_volume: free_volume.clone(),
                c: if free_volume.is_some() {
                    None
                } else {
                    t.c.clone()
                },
                ..t.clone()
            };
            Ok((filled, Truth::Hierarchy(hierarchy)))
        }
        TruthKind::Spectrum => {
            for (present, field) in [
                (t.n.is_some(), "n"),
                (t.c.is_some(), "c"),
                (t.free_volume.is_some(), "free_volume"),
                (t.atomic_volume_m3.is_some(), "atomic_volume_m3"),
                (t.n_break.is_some(), "n_break"),
                (t.atomic_volume2_m3.is_some(), "atomic_volume2_m3"),
                (t.width.is_some(), "width"),
            ] {
                unused(present, field, "spectrum")?;
            }
            let peaks = t
                .peaks
                .clone()
                .ok_or_else(|| invalid("truth.peaks", "missing list of peaks"))?;
            if peaks.is_empty() {
                return Err(invalid("truth.peaks", "the list of peaks is empty"));
            }
            let mut filled_peaks = Vec::with_capacity(peaks.len());
            let mut out = Vec::with_capacity(peaks.len());
            for (i, p) in peaks.iter().enumerate() {
                if !(p.tau_s > 0.0) {
                    return Err(invalid(
                        format!("truth.peaks[{i}].tau_s"),
                        format!("{} s must be > 0", p.tau_s),
                    ));
                }
                if !(p.area >= 0.0) {
                    return Err(invalid(
                        format!("truth.peaks[{i}].area"),
                        format!("{} must be >= 0", p.area),
                    ));
                }
                let (shape, width) = peak_shape(i, p)?;
                filled_peaks.push(PeakSpec {
                    width: (!shape.is_closed_form()).then_some(width),
                    shape: Some(shape_name(&shape).into()),
                    ..p.clone()
                });
                out.push(Peak {
                    ln_tau: p.tau_s.ln(),
                    area: p.area,
                    width_ln_tau: width,
                    shape,
                });
            }
            let spectrum = Spectrum::new(out).map_err(|e| invalid("truth.peaks", e.to_string()))?;
            let filled = TruthSpec {
                peaks: Some(filled_peaks),
                ..t.clone()
            };
            Ok((filled, Truth::Spectrum(spectrum)))
        }
    }
}
