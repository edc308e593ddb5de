//! `[protocol]`: times, frequencies and the settings of each experiment, checked and resolved.

use super::*;
use crate::constants::MAX_TEMPERATURE_K;

pub(super) fn resolve_times(times: &Option<TimesSpec>) -> Result<(TimesSpec, AxisGrid), Invalid> {
    let t = times
        .as_ref()
        .ok_or_else(|| invalid("protocol.times", "missing table [protocol.times]"))?;
    let (filled, grid) = resolve_axis(
        "protocol.times",
        ["start_s", "stop_s", "values_s"],
        t.start_s,
        t.stop_s,
        t.points,
        t.spacing,
        t.values_s.as_ref(),
    )?;
    let (start_s, stop_s, points, spacing) = filled;
    let spec = TimesSpec {
        start_s,
        stop_s,
        points,
        spacing,
        values_s: t.values_s.clone(),
    };
    Ok((spec, grid))
}

pub(super) fn resolve_omega(omega: &Option<OmegaSpec>) -> Result<(OmegaSpec, AxisGrid), Invalid> {
    let o = omega
        .as_ref()
        .ok_or_else(|| invalid("protocol.omega", "missing table [protocol.omega]"))?;
    let (filled, grid) = resolve_axis(
        "protocol.omega",
        ["start_rad_s", "stop_rad_s", "values_rad_s"],
        o.start_rad_s,
        o.stop_rad_s,
        o.points,
        o.spacing,
        o.values_rad_s.as_ref(),
    )?;
    let (start_rad_s, stop_rad_s, points, spacing) = filled;
    let spec = OmegaSpec {
        start_rad_s,
        stop_rad_s,
        points,
        spacing,
        values_rad_s: o.values_rad_s.clone(),
    };
    Ok((spec, grid))
}

pub(super) type AxisFields = (Option<f64>, Option<f64>, Option<usize>, Option<Spacing>);

pub(super) fn resolve_axis(
    table: &str,
    names: [&str; 3],
    start: Option<f64>,
    stop: Option<f64>,
    points: Option<usize>,
    spacing: Option<Spacing>,
    values: Option<&Vec<f64>>,
) -> Result<(AxisFields, AxisGrid), Invalid> {
    use crate::protocol::grid_error_index;
    let [start_name, stop_name, values_name] = names;
    match (values, start, stop, points) {
        (Some(v), None, None, None) if spacing.is_none() => {
            let grid = AxisGrid::from_values(v.clone()).map_err(|e| {
                let field = match grid_error_index(&e) {
                    Some(i) => format!("{table}.{values_name}[{i}]"),
                    None => format!("{table}.{values_name}"),
                };
                invalid(field, e.to_string())
            })?;
            Ok(((None, None, None, None), grid))
        }
        (Some(_), ..) => Err(invalid(
            format!("{table}.{values_name}"),
            format!("give either {values_name} or start/stop/points/spacing, not both"),
        )),
        (None, Some(a), Some(b), Some(n)) => {
            if !(a > 0.0) {
                return Err(invalid(
                    format!("{table}.{start_name}"),
                    format!("{a} must be > 0"),
                ));
            }
            if !(b > a) {
                return Err(invalid(
                    format!("{table}.{stop_name}"),
                    format!("{b} must exceed {start_name} = {a}"),
                ));
            }
            if n < 2 {
                return Err(invalid(
                    format!("{table}.points"),
                    format!("{n} must be >= 2"),
                ));
            }
            let spacing = spacing.unwrap_or_default();
            let grid =
                AxisGrid::spaced(a, b, n, spacing).map_err(|e| invalid(table, e.to_string()))?;
            Ok(((Some(a), Some(b), Some(n), Some(spacing)), grid))
        }
        (None, None, _, _) => Err(invalid(
            format!("{table}.{start_name}"),
            "missing (or give values)",
        )),
        (None, _, None, _) => Err(invalid(format!("{table}.{stop_name}"), "missing")),
        (None, _, _, None) => Err(invalid(format!("{table}.points"), "missing")),
    }
}

pub(super) fn resolve_protocol(p: &ProtocolSpec) -> Result<(ProtocolSpec, Protocol), Invalid> {
    let kind_name = match p.kind {
        ProtocolKind::Mandrel => "mandrel",
        ProtocolKind::Cantilever => "cantilever",
        ProtocolKind::Dma => "dma",
        ProtocolKind::StretchedExponent => "stretched-exponent",
        ProtocolKind::TemperatureStepping => "temperature-stepping",
        ProtocolKind::Joint => "joint",
    };
    let allowed: &[&str] = match p.kind {
        ProtocolKind::Mandrel => &["temperature_k", "t_c_s", "coupling", "times"],
        ProtocolKind::Cantilever => &["temperature_k", "times"],
        ProtocolKind::Dma => &["temperatures_k", "omega", "loss_model", "normalized"],
        ProtocolKind::StretchedExponent => &["times", "x0", "t0_s", "tau_s", "beta"],
        ProtocolKind::TemperatureStepping => &["temperature_k", "step_k", "steps", "hold_s"],
        ProtocolKind::Joint => &["sets"],
    };
    for (present, field) in [
        (p.temperature_k.is_some(), "temperature_k"),
        (p.temperatures_k.is_some(), "temperatures_k"),
        (p.t_c_s.is_some(), "t_c_s"),
        (p.coupling.is_some(), "coupling"),
        (p.times.is_some(), "times"),
        (p.omega.is_some(), "omega"),
        (p.loss_model.is_some(), "loss_model"),
        (p.normalized.is_some(), "normalized"),
        (p.x0.is_some(), "x0"),
        (p.t0_s.is_some(), "t0_s"),
        (p.tau_s.is_some(), "tau_s"),
        (p.beta.is_some(), "beta"),
        (p.step_k.is_some(), "step_k"),
        (p.steps.is_some(), "steps"),
        (p.hold_s.is_some(), "hold_s"),
        (p.sets.is_some(), "sets"),
    ] {
        if present && !allowed.contains(&field) {
            return Err(invalid(
                format!("protocol.{field}"),
                format!(
                    "not used by the {kind_name} protocol (it takes {})",
                    allowed.join(", ")
                ),
            ));
        }
    }
    let temperature = || -> Result<f64, Invalid> {
        let t = p.temperature_k.unwrap_or(DEFAULT_TEMPERATURE_K);
        if t > 0.0 && t <= MAX_TEMPERATURE_K {
            Ok(t)
        } else {
            Err(invalid(
                "protocol.temperature_k",
                format!("{t} K must be > 0 and at most {MAX_TEMPERATURE_K} K"),
            ))
        }
    };
    let mut filled = p.clone();
    let protocol = match p.kind {
        ProtocolKind::Joint => {
            let specs = p.sets.as_ref().filter(|s| !s.is_empty()).ok_or_else(|| {
                invalid(
                    "protocol.sets",
                    "list the experiments as [[protocol.sets]] tables",
                )
            })?;
            let mut resolved = Vec::with_capacity(specs.len());
            let mut filled_sets = Vec::with_capacity(specs.len());
            for (i, spec) in specs.iter().enumerate() {
                let at = |e: Invalid| Invalid {
                    field: format!(
                        "protocol.sets[{i}].{}",
                        e.field.strip_prefix("protocol.").unwrap_or(&e.field)
                    ),
                    message: e.message,
                };
                if !matches!(spec.kind, ProtocolKind::Mandrel | ProtocolKind::Cantilever) {
                    return Err(invalid(
                        format!("protocol.sets[{i}].kind"),
                        "a joint experiment is a mandrel or a cantilever protocol",
                    ));
                }
                let (f, protocol) = resolve_protocol(spec).map_err(at)?;
                if let Some(first) = resolved.first().map(Protocol::temperatures_k) {
                    if first != protocol.temperatures_k() {
                        return Err(invalid(
                            format!("protocol.sets[{i}].temperature_k"),
                            "the experiments of a joint protocol share one sample at one temperature",
                        ));
                    }
                }
                filled_sets.push(f);
                resolved.push(protocol);
            }
            filled.sets = Some(filled_sets);
            Protocol::Joint { sets: resolved }
        }
        ProtocolKind::Mandrel => {
            let temperature_k = temperature()?;
            let t_c_s = p
                .t_c_s
                .ok_or_else(|| invalid("protocol.t_c_s", "missing constraint time, s"))?;
            if !(t_c_s > 0.0) {
                return Err(invalid(
                    "protocol.t_c_s",
                    format!("constraint time {t_c_s} s must be > 0"),
                ));
            }
            let (times_spec, times) = resolve_times(&p.times)?;
            let coupling = p.coupling.unwrap_or_default();
            filled.temperature_k = Some(temperature_k);
            filled.coupling = Some(coupling);
            filled.times = Some(times_spec);
            Protocol::Mandrel {
                temperature_k,
                t_c_s,
                coupling,
                times,
            }
        }
        ProtocolKind::Cantilever => {
            let temperature_k = temperature()?;
            let (times_spec, times) = resolve_times(&p.times)?;
            filled.temperature_k = Some(temperature_k);
            filled.times = Some(times_spec);
            Protocol::Cantilever {
                temperature_k,
                times,
            }
        }
        ProtocolKind::Dma => {
            let temps = p.temperatures_k.clone().ok_or_else(|| {
                invalid("protocol.temperatures_k", "missing list of temperatures, K")
            })?;
            if temps.is_empty() {
                return Err(invalid(
                    "protocol.temperatures_k",
                    "the list of temperatures is empty",
                ));
            }
            for (i, &t) in temps.iter().enumerate() {
                if !(t > 0.0 && t <= MAX_TEMPERATURE_K) {
                    return Err(invalid(
                        format!("protocol.temperatures_k[{i}]"),
                        format!("{t} K must be > 0 and at most {MAX_TEMPERATURE_K} K"),
                    ));
                }
                if i > 0 && t <= temps[i - 1] {
                    return Err(invalid(
                        format!("protocol.temperatures_k[{i}]"),
                        format!(
                            "temperatures must be strictly increasing: {} then {t}",
                            temps[i - 1]
                        ),
                    ));
                }
            }
            let (omega_spec, omega) = resolve_omega(&p.omega)?;
            let loss_model = p.loss_model.unwrap_or_default();
            filled.omega = Some(omega_spec);
            filled.loss_model = Some(loss_model);
            let normalized = p.normalized.unwrap_or(false);
            if p.normalized.is_some() {
                filled.normalized = Some(normalized);
            }
            Protocol::Dma {
                temperatures_k: temps,
                omega,
                loss_model,
                normalized,
            }
        }
        ProtocolKind::StretchedExponent => {
            let x0 = p.x0.unwrap_or(1.0);
            let t0_s = p.t0_s.unwrap_or(3.0);
            let tau_s = p.tau_s.unwrap_or(30.0);
            let beta = p.beta.unwrap_or(0.5);
            if !(t0_s >= 0.0) {
                return Err(invalid("protocol.t0_s", format!("{t0_s} s must be >= 0")));
            }
            if !(tau_s > 0.0) {
                return Err(invalid("protocol.tau_s", format!("{tau_s} s must be > 0")));
            }
            if !(beta > 0.0 && beta <= 1.0) {
                return Err(invalid(
                    "protocol.beta",
                    format!("{beta} must lie in (0, 1]"),
                ));
            }
            let (times_spec, times) = resolve_times(&p.times)?;
            filled.x0 = Some(x0);
            filled.t0_s = Some(t0_s);
            filled.tau_s = Some(tau_s);
            filled.beta = Some(beta);
            filled.times = Some(times_spec);
            Protocol::StretchedExponent {
                x0,
                t0_s,
                tau_s,
                beta,
                times,
            }
        }
        ProtocolKind::TemperatureStepping => {
            let start_k = temperature()?;
            let step_k = p.step_k.unwrap_or(10.0);
            let steps = p.steps.unwrap_or(20);
            let hold_s = p.hold_s.unwrap_or(3600.0);
            if !(step_k.is_finite() && step_k > 0.0) {
                return Err(invalid(
                    "protocol.step_k",
                    format!("{step_k} K must be > 0"),
                ));
            }
            if steps < 2 {
                return Err(invalid("protocol.steps", "at least 2 steps are needed"));
            }
            if !(hold_s.is_finite() && hold_s > 0.0) {
                return Err(invalid(
                    "protocol.hold_s",
                    format!("{hold_s} s must be > 0"),
                ));
            }
            filled.temperature_k = Some(start_k);
            filled.step_k = Some(step_k);
            filled.steps = Some(steps);
            filled.hold_s = Some(hold_s);
            Protocol::TemperatureStepping {
                start_k,
                step_k,
                steps,
                hold_s,
            }
        }
    };
    Ok((filled, protocol))
}
