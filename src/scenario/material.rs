//! `[material]`: checked and resolved, and read alone from a scenario-style file for `invert`.

use super::*;

/// The material of a scenario-style file, for back-analysing measured data.
#[derive(Debug, Clone, PartialEq)]
pub struct MaterialFile {
    /// The validated `[material]` table.
    pub material: Material,
    /// `truth.atomic_volume_m3`, when the file has one (to express Omega slopes in atomic volumes).
    pub atomic_volume_m3: Option<f64>,
}

/// Reads the `[material]` table (and `truth.atomic_volume_m3` if present) of a scenario-style file;
/// other tables are not read.
///
/// # Errors
/// [`ScenarioError`], located as for scenarios.
pub fn load_material(path: &Path) -> Result<MaterialFile, ScenarioError> {
    #[derive(serde::Deserialize)]
    struct Partial {
        material: Option<MaterialSpec>,
        truth: Option<PartialTruth>,
    }
    #[derive(serde::Deserialize)]
    struct PartialTruth {
        atomic_volume_m3: Option<f64>,
    }
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io {
        file: file.clone(),
        source,
    })?;
    let partial: Partial = parse_located(&text, &file)?;
    let spec = partial.material.ok_or_else(|| {
        locate_invalid(
            &text,
            &file,
            invalid("material", "missing table [material]"),
        )
    })?;
    let (_, material) = resolve_material(&spec).map_err(|e| locate_invalid(&text, &file, e))?;
    let atomic_volume_m3 = partial.truth.and_then(|t| t.atomic_volume_m3);
    if let Some(v) = atomic_volume_m3 {
        if !(v > 0.0) {
            return Err(locate_invalid(
                &text,
                &file,
                invalid("truth.atomic_volume_m3", format!("{v} must be > 0")),
            ));
        }
    }
    Ok(MaterialFile {
        material,
        atomic_volume_m3,
    })
}

pub(super) fn resolve_material(m: &MaterialSpec) -> Result<(MaterialSpec, Material), Invalid> {
    let glass_transition = match (m.t_g_k, m.dmu_dt_gpa_per_k) {
        (Some(t_g_k), Some(slope)) => Some(GlassTransition {
            t_g_k,
            dmu_dt_pa_per_k: slope * PA_PER_GPA,
        }),
        (None, None) => None,
        (Some(_), None) => {
            return Err(invalid(
                "material.t_g_k",
                "give dmu_dt_gpa_per_k with t_g_k",
            ))
        }
        (None, Some(_)) => {
            return Err(invalid(
                "material.dmu_dt_gpa_per_k",
                "give t_g_k with dmu_dt_gpa_per_k",
            ))
        }
    };
    let defaults = MaterialParams::default();
    let filled = MaterialSpec {
        mu_gpa: m.mu_gpa,
        nu: m.nu,
        gamma_t: Some(m.gamma_t.unwrap_or(defaults.gamma_t)),
        beta: Some(m.beta.unwrap_or(defaults.beta)),
        sigma_stz_over_mu: Some(m.sigma_stz_over_mu.unwrap_or(defaults.sigma_stz_over_mu)),
        nu_g_hz: Some(m.nu_g_hz.unwrap_or(defaults.nu_g_hz)),
        t_g_k: m.t_g_k,
        dmu_dt_gpa_per_k: m.dmu_dt_gpa_per_k,
    };
    let material = Material::new(MaterialParams {
        mu_pa: filled.mu_gpa * PA_PER_GPA,
        nu: filled.nu,
        gamma_t: filled.gamma_t.unwrap_or_default(),
        beta: filled.beta.unwrap_or_default(),
        sigma_stz_over_mu: filled.sigma_stz_over_mu.unwrap_or_default(),
        nu_g_hz: filled.nu_g_hz.unwrap_or_default(),
        glass_transition,
    })
    .map_err(|e| {
        let field = match &e {
            crate::stz::StzError::OutOfRange { field: "mu", .. } => "mu_gpa",
            crate::stz::StzError::OutOfRange {
                field: "dmu_dt", ..
            } => "dmu_dt_gpa_per_k",
            crate::stz::StzError::OutOfRange { field, .. }
            | crate::stz::StzError::Hierarchy { field, .. } => field,
        };
        // The file gives the moduli in GPa; the model checks them in Pa.
        let message = match &e {
            crate::stz::StzError::OutOfRange {
                field: "mu",
                value,
                requirement,
            } => format!("mu_gpa = {}: {requirement}", value * 1e-9),
            crate::stz::StzError::OutOfRange {
                field: "dmu_dt",
                value,
                requirement,
            } => format!("dmu_dt_gpa_per_k = {}: {requirement}", value * 1e-9),
            _ => e.to_string(),
        };
        invalid(format!("material.{field}"), message)
    })?;
    Ok((filled, material))
}
