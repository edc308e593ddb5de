//! `[inversion]`: the grid, penalty, path, rules and peak settings, checked and resolved.

use super::*;

pub(super) type ResolvedInversion = (InversionSpec, InvertOptions, Vec<Rule>, f64);

pub(super) fn resolve_inversion(
    spec: Option<&InversionSpec>,
    protocol: &Protocol,
) -> Result<ResolvedInversion, Invalid> {
    let spec = spec.cloned().unwrap_or_default();
    let kernel = protocol.kernel();
    let mut o = InvertOptions::new(kernel);
    let names: Vec<String> = match &spec.rules {
        Some(entries) => entries
            .iter()
            .enumerate()
            .map(|(i, e)| {
                e.text()
                    .map_err(|m| invalid(format!("inversion.rules[{i}]"), m))
            })
            .collect::<Result<_, _>>()?,
        None => Rule::all_defaults().iter().map(Rule::name).collect(),
    };
    if names.is_empty() {
        return Err(invalid("inversion.rules", "name at least one rule"));
    }
    let mut rules = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        let rule = Rule::parse(name).map_err(|e| invalid(format!("inversion.rules[{i}]"), e))?;
        if rules.iter().any(|r: &Rule| r.name() == rule.name()) {
            return Err(invalid(
                format!("inversion.rules[{i}]"),
                format!("{name} is listed twice"),
            ));
        }
        // Against every data set the rule is applied to (k-fold: a point per fold).
        if let Some(m) = protocol.inverted_points() {
            rule.check_points(m).map_err(|e| {
                invalid(
                    format!("inversion.rules[{i}]"),
                    format!("{name}: {e} per data set"),
                )
            })?;
        }
        rules.push(rule);
    }
    o.rule = rules[0];
    // Every field is taken as given, then checked in one place (the command line's check too).
    o.points = spec.points;
    o.per_decade = spec.per_decade.unwrap_or(o.per_decade);
    o.tau_min_s = spec.tau_min_s;
    o.tau_max_s = spec.tau_max_s;
    o.baseline = spec.baseline;
    o.baseline_nonnegative = spec.baseline_nonnegative.unwrap_or(false);
    if let Some(name) = &spec.regularizer {
        o.regularizer = crate::inversion::Regularizer::parse(name)
            .map_err(|m| invalid("inversion.regularizer", m))?;
    }
    o.order = spec.order.unwrap_or(o.regularizer.default_order());
    o.zero_boundary = spec.zero_boundary.unwrap_or(false);
    o.lambda_points = spec.lambda_points.unwrap_or(o.lambda_points);
    o.peaks.min_dip = spec.min_dip.unwrap_or(o.peaks.min_dip);
    o.peaks.min_area_fraction = spec.min_area_fraction.unwrap_or(o.peaks.min_area_fraction);
    o.peaks.min_significance = spec.min_significance.unwrap_or(0.0);
    o.maxent_model = spec.maxent_model.unwrap_or(o.maxent_model);
    o.edge_scale = spec.edge_scale.unwrap_or(o.edge_scale);
    o.check()
        .map_err(|e| invalid(format!("inversion.{}", e.field), e.message))?;
    let match_decades = spec.match_decades.unwrap_or(DEFAULT_MATCH_DECADES);
    if !(match_decades.is_finite() && match_decades > 0.0) {
        return Err(invalid(
            "inversion.match_decades",
            format!("{match_decades}: must be > 0"),
        ));
    }
    if let Some(b) = spec.uncertainty {
        // The seed is the run's (each run draws its own resamples).
        o.uncertainty = Some(
            crate::inversion::Bootstrap::new(b, 0)
                .map_err(|m| invalid("inversion.uncertainty", m))?,
        );
    }
    let filled = InversionSpec {
        rules: Some(rules.iter().map(|r| RuleEntry::Name(r.name())).collect()),
        points: o.points,
        per_decade: Some(o.per_decade),
        tau_min_s: o.tau_min_s,
        tau_max_s: o.tau_max_s,
        baseline: Some(o.baseline()),
        baseline_nonnegative: Some(o.baseline_nonnegative),
        order: Some(o.order),
        zero_boundary: Some(o.zero_boundary),
        lambda_points: Some(o.lambda_points),
        min_dip: Some(o.peaks.min_dip),
        min_area_fraction: Some(o.peaks.min_area_fraction),
        min_significance: spec.min_significance,
        match_decades: Some(match_decades),
        uncertainty: spec.uncertainty,
        regularizer: spec.regularizer.clone(),
        maxent_model: spec.maxent_model,
        edge_scale: spec.edge_scale,
    };
    Ok((filled, o, rules, match_decades))
}
