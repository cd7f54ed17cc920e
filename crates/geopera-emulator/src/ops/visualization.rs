//! `visualization.profile.*` and `visualization.profiles.list`: how an item is drawn, kept in
//! [`crate::resources`] with the item as parent, so a profile is only found through its own
//! item and goes when the item does.
//!
//! An item has at most one default profile: making one the default (on create, update or
//! `set_default`) clears the flag on the others. Each update raises `version` by one.

use geopera_types::models::{
    ProfileCreateInput, ProfileGetInput, ProfileRef, ProfileUpdateInput, ProfilesListInput,
};
use serde_json::{json, Map, Value};

use super::{trimmed_name, Ctx, Outcome};
use crate::error::ApiError;
use crate::resources::{Family, Resource, Resources};

pub(crate) fn create(ctx: &Ctx<'_>, input: ProfileCreateInput) -> Outcome {
    let name = trimmed_name(&input.name, "name")?;
    let now = ctx.now();
    let mut inner = ctx.lock_org();
    let inner = &mut *inner;
    may_change(ctx, &inner.resources, &input.item_id)?;
    let mut fields = Map::new();
    fields.insert("item_id".to_owned(), Value::from(input.item_id.as_str()));
    fields.insert("name".to_owned(), Value::from(name));
    fields.insert("layer".to_owned(), Value::from(input.layer.as_str()));
    fields.insert("type".to_owned(), Value::from(input.r#type.as_str()));
    fields.insert("is_default".to_owned(), Value::Bool(false));
    fields.insert("sort_order".to_owned(), Value::from(input.sort_order));
    fields.insert("config".to_owned(), Value::Object(input.config));
    fields.insert("asset_key".to_owned(), json!(input.asset_key));
    fields.insert("version".to_owned(), Value::from(1));
    fields.insert("created_by".to_owned(), Value::Null);
    let id = inner
        .resources
        .create(
            &mut inner.rng,
            Family::VisualizationProfile,
            ctx.org,
            Some(&input.item_id),
            now,
            fields,
        )?
        .id
        .clone();
    if input.is_default {
        make_default(&mut inner.resources, ctx.org, &input.item_id, &id);
    }
    let profile = inner.resources.get(
        Family::VisualizationProfile,
        ctx.org,
        Some(&input.item_id),
        &id,
    )?;
    Ok(ctx.ok(&profile.to_json()))
}

/// Refuses a person who is no editor or admin of the item's project, as the contract asks of
/// the operations that change an item's profiles.
///
/// # Errors
/// 404 for an unknown item; 403 for a viewer of its project.
fn may_change(ctx: &Ctx<'_>, resources: &Resources, item: &str) -> Result<(), ApiError> {
    let project = super::items::project_of(resources, ctx.org, item)?;
    super::projects::require_role(ctx, resources, &project, super::projects::Role::Editor)
}

pub(crate) fn get(ctx: &Ctx<'_>, input: ProfileGetInput) -> Outcome {
    let inner = ctx.lock_org();
    let profile = find(&inner.resources, ctx.org, &input.item_id, &input.profile_id)?;
    Ok(ctx.ok(&profile.to_json()))
}

/// Every profile of the item, by `sort_order` and then oldest first; the contract gives this
/// list no paging fields.
pub(crate) fn list(ctx: &Ctx<'_>, input: ProfilesListInput) -> Outcome {
    let inner = ctx.lock_org();
    inner
        .resources
        .get(Family::Item, ctx.org, None, &input.item_id)?;
    let mut profiles =
        inner
            .resources
            .list(Family::VisualizationProfile, ctx.org, Some(&input.item_id));
    // Stable, so equal sort orders keep creation order.
    profiles.sort_by_key(|p| p.fields.get("sort_order").and_then(Value::as_i64));
    let profiles: Vec<Value> = profiles.into_iter().map(Resource::to_json).collect();
    Ok(ctx.ok(&json!({
        "item_id": input.item_id,
        "total": profiles.len(),
        "profiles": profiles,
    })))
}

pub(crate) fn update(ctx: &Ctx<'_>, input: ProfileUpdateInput) -> Outcome {
    let name = input
        .name
        .as_deref()
        .map(|name| trimmed_name(name, "name"))
        .transpose()?;
    let now = ctx.now();
    let mut inner = ctx.lock_org();
    may_change(ctx, &inner.resources, &input.item_id)?;
    find(&inner.resources, ctx.org, &input.item_id, &input.profile_id)?;
    if input.is_default == Some(true) {
        make_default(
            &mut inner.resources,
            ctx.org,
            &input.item_id,
            &input.profile_id,
        );
    }
    let profile = inner.resources.get_mut(
        Family::VisualizationProfile,
        ctx.org,
        Some(&input.item_id),
        &input.profile_id,
    )?;
    profile.set("name", name);
    profile.set("type", input.r#type.map(|t| t.as_str().to_owned()));
    profile.set("is_default", input.is_default);
    profile.set("sort_order", input.sort_order);
    profile.set("config", input.config.map(Value::Object));
    profile.set("asset_key", input.asset_key);
    let version = profile
        .fields
        .get("version")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    profile.set("version", Some(version.saturating_add(1)));
    profile.updated_at = now;
    Ok(ctx.ok(&profile.to_json()))
}

pub(crate) fn delete(ctx: &Ctx<'_>, input: ProfileRef) -> Outcome {
    let mut inner = ctx.lock_org();
    may_change(ctx, &inner.resources, &input.item_id)?;
    find(&inner.resources, ctx.org, &input.item_id, &input.profile_id)?;
    let removed = inner.resources.remove(
        Family::VisualizationProfile,
        ctx.org,
        Some(&input.item_id),
        &input.profile_id,
    )?;
    Ok(ctx.ok(&json!({"ok": true, "id": removed.id})))
}

pub(crate) fn set_default(ctx: &Ctx<'_>, input: ProfileRef) -> Outcome {
    let now = ctx.now();
    let mut inner = ctx.lock_org();
    may_change(ctx, &inner.resources, &input.item_id)?;
    find(&inner.resources, ctx.org, &input.item_id, &input.profile_id)?;
    make_default(
        &mut inner.resources,
        ctx.org,
        &input.item_id,
        &input.profile_id,
    );
    let profile = inner.resources.get_mut(
        Family::VisualizationProfile,
        ctx.org,
        Some(&input.item_id),
        &input.profile_id,
    )?;
    profile.updated_at = now;
    Ok(ctx.ok(&profile.to_json()))
}

/// The profile, after checking its item: an unknown item is reported as such.
///
/// # Errors
/// 404 for an unknown item, or a profile that is not this item's.
fn find<'a>(
    resources: &'a Resources,
    org: &str,
    item: &str,
    profile: &str,
) -> Result<&'a Resource, ApiError> {
    resources.get(Family::Item, org, None, item)?;
    resources.get(Family::VisualizationProfile, org, Some(item), profile)
}

/// Makes `profile` the item's one default.
fn make_default(resources: &mut Resources, org: &str, item: &str, profile: &str) {
    let others: Vec<String> = resources
        .list(Family::VisualizationProfile, org, Some(item))
        .iter()
        .map(|p| p.id.clone())
        .collect();
    for id in others {
        if let Ok(record) = resources.get_mut(Family::VisualizationProfile, org, Some(item), &id) {
            record.set("is_default", Some(id == profile));
        }
    }
}
