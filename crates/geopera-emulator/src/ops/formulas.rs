//! `band_formulas.*`: an organization's own band-math formulas beside a few built-in
//! templates every organization sees and none can change.

use geopera_types::models::{
    BandFormulaCreateInput, BandFormulaDeleteInput, BandFormulaGetInput, BandFormulaUpdateInput,
    BandFormulasListInput,
};
use http::StatusCode;
use serde_json::{json, Map, Value};

use super::{trimmed_name, Ctx, Outcome};
use crate::error::ApiError;
use crate::resources::{Family, Resource};

/// The longest formula accepted.
const MAX_FORMULA_CHARS: usize = 2000;

/// The built-in templates: id, name, formula, category.
const TEMPLATES: [(&str, &str, &str, &str); 3] = [
    (
        "bf_template_ndvi",
        "ndvi",
        "(nir - red) / (nir + red)",
        "vegetation",
    ),
    (
        "bf_template_ndwi",
        "ndwi",
        "(green - nir) / (green + nir)",
        "water",
    ),
    (
        "bf_template_nbr",
        "nbr",
        "(nir - swir22) / (nir + swir22)",
        "fire",
    ),
];

pub(crate) fn create(ctx: &Ctx<'_>, input: BandFormulaCreateInput) -> Outcome {
    let formula = checked_formula(&input.formula)?;
    let range = checked_range(input.value_range.as_deref())?;
    let now = ctx.now();
    let mut fields = Map::new();
    fields.insert("organization_id".to_owned(), Value::from(ctx.org));
    let name = trimmed_name(&input.name, "name")?;
    fields.insert("name".to_owned(), Value::from(name));
    fields.insert("display_name".to_owned(), json!(input.display_name));
    fields.insert("description".to_owned(), json!(input.description));
    fields.insert("required_bands".to_owned(), json!(bands_of(&formula)));
    fields.insert("formula".to_owned(), Value::from(formula));
    fields.insert("colormap".to_owned(), Value::from(input.colormap));
    // The answer always carries a range; a formula created without one gets the usual
    // range of a normalized index.
    fields.insert(
        "value_range".to_owned(),
        json!(range.unwrap_or_else(|| vec![-1.0, 1.0])),
    );
    fields.insert("category".to_owned(), Value::from(input.category));
    fields.insert("is_template".to_owned(), Value::Bool(false));
    let mut inner = ctx.shared.lock();
    let inner = &mut *inner;
    let formula = inner.resources.create(
        &mut inner.rng,
        Family::BandFormula,
        ctx.org,
        None,
        now,
        fields,
    )?;
    Ok(ctx.ok(&formula.to_json()))
}

pub(crate) fn get(ctx: &Ctx<'_>, input: BandFormulaGetInput) -> Outcome {
    if let Some(template) = template(&input.formula_id) {
        return Ok(ctx.ok(&template));
    }
    let inner = ctx.shared.lock();
    let formula = inner
        .resources
        .get(Family::BandFormula, ctx.org, None, &input.formula_id)?;
    Ok(ctx.ok(&formula.to_json()))
}

/// The contract gives this list no paging fields; an organization holds at most
/// [`crate::resources::MAX_PER_ORG`] formulas.
pub(crate) fn list(ctx: &Ctx<'_>, input: BandFormulasListInput) -> Outcome {
    let wanted = input.category.as_deref();
    let mut formulas: Vec<Value> = Vec::new();
    if input.include_templates {
        formulas.extend(
            TEMPLATES
                .iter()
                .filter(|(.., category)| wanted.is_none_or(|w| w == *category))
                .filter_map(|(id, ..)| template(id)),
        );
    }
    let inner = ctx.shared.lock();
    formulas.extend(
        inner
            .resources
            .list(Family::BandFormula, ctx.org, None)
            .into_iter()
            .filter(|f| wanted.is_none_or(|w| f.str("category") == Some(w)))
            .map(Resource::to_json),
    );
    Ok(ctx.ok(&json!({"total": formulas.len(), "formulas": formulas})))
}

pub(crate) fn update(ctx: &Ctx<'_>, input: BandFormulaUpdateInput) -> Outcome {
    refuse_template(&input.formula_id)?;
    let formula = input.formula.map(|f| checked_formula(&f)).transpose()?;
    let range = checked_range(input.value_range.as_deref())?;
    let now = ctx.now();
    let mut inner = ctx.shared.lock();
    let record = inner
        .resources
        .get_mut(Family::BandFormula, ctx.org, None, &input.formula_id)?;
    let name = input
        .name
        .map(|name| trimmed_name(&name, "name"))
        .transpose()?;
    record.set("name", name);
    if let Some(formula) = formula {
        record.set("required_bands", Some(json!(bands_of(&formula))));
        record.set("formula", Some(formula));
    }
    record.set("display_name", input.display_name);
    record.set("description", input.description);
    record.set("colormap", input.colormap);
    record.set("value_range", range.map(|r| json!(r)));
    record.set("category", input.category);
    record.updated_at = now;
    Ok(ctx.ok(&record.to_json()))
}

pub(crate) fn delete(ctx: &Ctx<'_>, input: BandFormulaDeleteInput) -> Outcome {
    refuse_template(&input.formula_id)?;
    let mut inner = ctx.shared.lock();
    let removed = inner
        .resources
        .remove(Family::BandFormula, ctx.org, None, &input.formula_id)?;
    Ok(ctx.ok(&json!({"ok": true, "id": removed.id})))
}

/// A built-in template as answered, if `id` names one.
fn template(id: &str) -> Option<Value> {
    let (id, name, formula, category) = TEMPLATES.iter().find(|t| t.0 == id)?;
    let at = geopera_types::rfc3339::format_date_time(crate::clock::DEFAULT_START_UNIX_SECS);
    Some(json!({
        "id": id,
        "organization_id": null,
        "name": name,
        "display_name": name.to_uppercase(),
        "description": null,
        "formula": formula,
        "required_bands": bands_of(formula),
        "colormap": "rdylgn",
        "value_range": [-1.0, 1.0],
        "category": category,
        "is_template": true,
        "created_at": at,
        "updated_at": at,
    }))
}

fn refuse_template(id: &str) -> Result<(), ApiError> {
    if TEMPLATES.iter().any(|t| t.0 == id) {
        return Err(ApiError::problem(
            StatusCode::FORBIDDEN,
            format!("'{id}' is a built-in template and cannot be changed"),
        ));
    }
    Ok(())
}

fn checked_formula(formula: &str) -> Result<String, ApiError> {
    let trimmed = formula.trim();
    if trimmed.is_empty() || trimmed.chars().count() > MAX_FORMULA_CHARS {
        return Err(ApiError::invalid(
            &["formula"],
            format!("formula must be 1 to {MAX_FORMULA_CHARS} characters"),
        ));
    }
    Ok(trimmed.to_owned())
}

/// `[low, high]` with `low < high`, both finite.
fn checked_range(range: Option<&[f64]>) -> Result<Option<Vec<f64>>, ApiError> {
    match range {
        None => Ok(None),
        Some([low, high]) if low.is_finite() && high.is_finite() && low < high => {
            Ok(Some(vec![*low, *high]))
        }
        Some(_) => Err(ApiError::invalid(
            &["value_range"],
            "value_range must be two finite numbers, the lower first",
        )),
    }
}

/// The bands a formula reads: its names, each once, in the order they first appear, but for
/// those called as functions (`sqrt(B8)` reads `B8`, not `sqrt`).
fn bands_of(formula: &str) -> Vec<String> {
    let mut bands: Vec<String> = Vec::new();
    let mut rest = formula;
    while let Some(start) = rest.find(|c: char| c.is_ascii_alphanumeric() || c == '_') {
        let word_and_after = &rest[start..];
        let end = word_and_after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(word_and_after.len());
        let (word, after) = word_and_after.split_at(end);
        let is_name = word.starts_with(|c: char| c.is_ascii_alphabetic());
        let is_call = after.trim_start().starts_with('(');
        if is_name && !is_call && !bands.iter().any(|b| b == word) {
            bands.push(word.to_owned());
        }
        rest = after;
    }
    bands
}
