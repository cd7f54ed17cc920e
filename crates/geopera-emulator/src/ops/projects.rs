//! `projects.*` and `collections.*`: an organization's projects, their members and the
//! collections inside them, kept in [`crate::resources`].
//!
//! The contract has no `projects.get` or `projects.list`; a project is read back through
//! `projects.update`. The collections, items and completed uploads of a deleted project go
//! with it (its open uploads fail); the items of a deleted collection stay in the project,
//! uncollected. Names and other strings are bounded by the contract's own limits, which the
//! validator enforces before these functions run.

use std::collections::{HashMap, HashSet};

use geopera_types::models::{
    AddMemberInput, CollectionCreateInput, CollectionDeleteInput, CollectionUpdateInput,
    CollectionsGetInput, ProjectArchiveInput, ProjectCreate, ProjectDeleteInput,
    ProjectUpdateInput, RemoveMemberInput, UpdateMemberInput,
};
use geopera_types::operations::CollectionsList;
use geopera_types::Operation;
use serde_json::{json, Map, Value};

use super::{Ctx, Outcome};
use crate::error::ApiError;
use crate::resources::{Family, Resource, Resources};

/// The roles a project member may hold, as the API names them, lowest first.
const ROLES: [(&str, Role); 3] = [
    ("viewer", Role::Viewer),
    ("editor", Role::Editor),
    ("admin", Role::Admin),
];

/// The most members one project holds.
const MAX_MEMBERS: usize = 500;

type ListInput = <CollectionsList as Operation>::Input;

pub(crate) fn create(ctx: &Ctx<'_>, input: ProjectCreate) -> Outcome {
    let now = ctx.now();
    let mut fields = Map::new();
    fields.insert("organization_id".to_owned(), Value::from(ctx.org));
    fields.insert("name".to_owned(), Value::from(input.name));
    fields.insert("description".to_owned(), json!(input.description));
    fields.insert("gcs_region".to_owned(), json!(input.gcs_region));
    fields.insert("is_archived".to_owned(), Value::Bool(false));
    fields.insert("members".to_owned(), json!({}));
    let mut inner = ctx.lock_org();
    let inner = &mut *inner;
    let project =
        inner
            .resources
            .create(&mut inner.rng, Family::Project, ctx.org, None, now, fields)?;
    let bucket = format!("geopera-{}", project.id.replace('_', "-"));
    project.set("gcs_bucket_name", Some(bucket));
    Ok(ctx.ok(&project_json(project)))
}

pub(crate) fn update(ctx: &Ctx<'_>, input: ProjectUpdateInput) -> Outcome {
    change(
        ctx,
        &input.project_id,
        input.name,
        input.description,
        input.is_archived,
    )
}

/// As `update`, archiving unless the body says otherwise.
pub(crate) fn archive(ctx: &Ctx<'_>, input: ProjectArchiveInput) -> Outcome {
    let archived = Some(input.is_archived.unwrap_or(true));
    change(
        ctx,
        &input.project_id,
        input.name,
        input.description,
        archived,
    )
}

fn change(
    ctx: &Ctx<'_>,
    id: &str,
    name: Option<String>,
    description: Option<String>,
    archived: Option<bool>,
) -> Outcome {
    let now = ctx.now();
    let mut inner = ctx.lock_org();
    // The project's own metadata, as archiving it, is its admin's, as the contract says.
    require_role(ctx, &inner.resources, id, Role::Admin)?;
    let project = inner
        .resources
        .get_mut(Family::Project, ctx.org, None, id)?;
    project.set("name", name);
    project.set("description", description);
    project.set("is_archived", archived);
    project.updated_at = now;
    Ok(ctx.ok(&project_json(project)))
}

/// Deletes the project with every collection and item in it (and the items' visualization
/// profiles), and its processing and clip jobs, which would otherwise still be read, listed
/// and announced finished for a project that is gone. Its uploads still open fail, releasing their reservations: nothing can arrive
/// in a project that is gone. Its completed uploads are its data and go with it, answered
/// as `storage_freed_bytes`: nothing else deletes an upload, so their bytes would otherwise
/// count against the organization's quota for good. Its failed uploads hold no bytes and
/// stay, with their notifications.
pub(crate) fn delete(ctx: &Ctx<'_>, input: ProjectDeleteInput) -> Outcome {
    let id = input.project_id;
    let mut inner = ctx.lock_org();
    require_role(ctx, &inner.resources, &id, Role::Admin)?;
    // The sweep first: an upload that expired before is failed as expired, not as deleted
    // with its project, and a job of the project that finished since the last sweep gives its
    // event before it goes (a sweep finds events in the records still kept).
    inner.sweep(ctx.shared.clock.now_millis());
    inner
        .resources
        .remove(Family::Project, ctx.org, None, &id)?;
    let mut open_uploads: Vec<String> = Vec::new();
    let mut completed_uploads: Vec<String> = Vec::new();
    for upload in inner.resources.owned(Family::Upload, ctx.org) {
        if upload.str("project_id") != Some(&*id) {
            continue;
        }
        if crate::uploads::is_open(upload) {
            open_uploads.push(upload.id.clone());
        } else if crate::uploads::status(upload)
            == Some(geopera_types::uploads::UploadStatus::Completed)
        {
            completed_uploads.push(upload.id.clone());
        }
    }
    let now = ctx.now();
    for upload in &open_uploads {
        super::uploads::fail_open(
            &mut inner,
            ctx,
            upload,
            format!("project '{id}' was deleted"),
            Some("project".to_owned()),
            now,
        )?;
    }
    let mut freed: i64 = 0;
    for upload in &completed_uploads {
        if let Ok(removed) = inner
            .resources
            .remove(Family::Upload, ctx.org, None, upload)
        {
            freed = freed.saturating_add(crate::uploads::int(&removed, "bytes_received"));
        }
    }
    inner
        .resources
        .remove_children(Family::Collection, ctx.org, &id);
    let items: HashSet<String> = inner
        .resources
        .list(Family::Item, ctx.org, Some(&id))
        .iter()
        .map(|item| item.id.clone())
        .collect();
    inner
        .resources
        .remove_where(Family::VisualizationProfile, ctx.org, |profile| {
            profile
                .parent
                .as_ref()
                .is_some_and(|item| items.contains(item))
        });
    inner.resources.remove_children(Family::Item, ctx.org, &id);
    inner
        .resources
        .remove_children(Family::ProcessingJob, ctx.org, &id);
    // A clip job names its project, if any, rather than belonging to it.
    let clips: Vec<String> = inner
        .resources
        .owned(Family::ClipJob, ctx.org)
        .filter(|clip| clip.str("project_id") == Some(&*id))
        .map(|clip| clip.id.clone())
        .collect();
    for clip in &clips {
        let _ = inner.resources.remove(Family::ClipJob, ctx.org, None, clip);
    }
    Ok(ctx.ok(&json!({"deleted": true, "project_id": id, "storage_freed_bytes": freed})))
}

pub(crate) fn add_member(ctx: &Ctx<'_>, input: AddMemberInput) -> Outcome {
    set_member(ctx, &input.project_id, &input.user_id, &input.role, true)
}

pub(crate) fn update_member(ctx: &Ctx<'_>, input: UpdateMemberInput) -> Outcome {
    set_member(ctx, &input.project_id, &input.user_id, &input.role, false)
}

/// Adds a member (`adding`) or changes an existing member's role.
fn set_member(ctx: &Ctx<'_>, project: &str, user: &str, role: &str, adding: bool) -> Outcome {
    if Role::named(role).is_none() {
        return Err(ApiError::invalid(
            &["role"],
            format!(
                "role must be one of {}",
                ROLES.map(|(name, _)| name).join(", ")
            ),
        ));
    }
    if user.trim().is_empty() {
        return Err(ApiError::invalid(&["user_id"], "user_id must not be empty"));
    }
    let now = ctx.now();
    let mut inner = ctx.lock_org();
    // Who holds which role is an admin's to say: a viewer could otherwise make itself one.
    require_role(ctx, &inner.resources, project, Role::Admin)?;
    let record = inner
        .resources
        .get_mut(Family::Project, ctx.org, None, project)?;
    let members = members_of(record)?;
    match (adding, members.contains_key(user)) {
        // A state conflict, 409 as the API answers them, though the contract lists only 422.
        (true, true) => {
            return Err(ApiError::conflict(format!(
                "'{user}' is already a member of project '{project}'"
            )))
        }
        (false, false) => {
            return Err(ApiError::not_found(format!(
                "'{user}' is not a member of project '{project}'"
            )))
        }
        (true, false) if members.len() >= MAX_MEMBERS => {
            return Err(ApiError::invalid(
                &["user_id"],
                format!("a project holds at most {MAX_MEMBERS} members"),
            ))
        }
        _ => {}
    }
    members.insert(user.to_owned(), Value::from(role));
    record.updated_at = now;
    Ok(ctx.ok(&json!({"project_id": project, "user_id": user, "role": role})))
}

pub(crate) fn remove_member(ctx: &Ctx<'_>, input: RemoveMemberInput) -> Outcome {
    let now = ctx.now();
    let mut inner = ctx.lock_org();
    require_role(ctx, &inner.resources, &input.project_id, Role::Admin)?;
    let record = inner
        .resources
        .get_mut(Family::Project, ctx.org, None, &input.project_id)?;
    if members_of(record)?.remove(&input.user_id).is_none() {
        return Err(ApiError::not_found(format!(
            "'{}' is not a member of project '{}'",
            input.user_id, input.project_id
        )));
    }
    record.updated_at = now;
    Ok(ctx.ok(&json!({"ok": true})))
}

/// The role a change to a project needs of a person: `editor` (or `admin`) for its contents
/// and name, `admin` for deleting a collection, archiving or deleting the project and saying
/// who its members are.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Role {
    Viewer,
    Editor,
    Admin,
}

impl Role {
    fn named(name: &str) -> Option<Role> {
        ROLES
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, role)| *role)
    }
}

/// Refuses a person whose role in `project` is below `needed`, as the contract asks of the
/// operations that change a project's contents ("editor/admin on the project"), once the
/// project is found.
///
/// Only a role given with `projects.add_member` holds a person back: keys act for the
/// organization, their scopes deciding, and a person who is no member of the project keeps
/// the organization's access, as before members were counted (the emulator's users belong to
/// the organization, and most projects list no members at all).
///
/// # Errors
/// 403 problem+json naming the role held and the one needed; 404 for an unknown project.
pub(super) fn require_role(
    ctx: &Ctx<'_>,
    resources: &Resources,
    project: &str,
    needed: Role,
) -> Result<(), ApiError> {
    let record = resources.get(Family::Project, ctx.org, None, project)?;
    let Some(user) = ctx.principal.strip_prefix("user:").filter(|_| ctx.person) else {
        return Ok(());
    };
    let held = record
        .fields
        .get("members")
        .and_then(|members| members.get(user))
        .and_then(Value::as_str);
    let Some(held) = held else {
        return Ok(());
    };
    if Role::named(held).is_some_and(|role| role >= needed) {
        return Ok(());
    }
    let wanted = if needed == Role::Admin {
        "admin"
    } else {
        "editor or admin"
    };
    Err(ApiError::problem(
        http::StatusCode::FORBIDDEN,
        format!("this needs the role {wanted} on project '{project}'; yours is {held}"),
    ))
}

/// [`require_role`] for a project named by something else (an upload, a share link) that may
/// outlive it: a project that is gone, or none named, holds no one back.
///
/// # Errors
/// 403 as for [`require_role`].
pub(super) fn require_role_if_kept(
    ctx: &Ctx<'_>,
    resources: &Resources,
    project: &str,
    needed: Role,
) -> Result<(), ApiError> {
    if project.is_empty()
        || resources
            .get(Family::Project, ctx.org, None, project)
            .is_err()
    {
        return Ok(());
    }
    require_role(ctx, resources, project, needed)
}

/// The project's member map, made when a record from an older file has none.
///
/// # Errors
/// 500 if the record holds something else there, which no version of the emulator writes.
fn members_of(record: &mut Resource) -> Result<&mut Map<String, Value>, ApiError> {
    record
        .fields
        .entry("members")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .ok_or_else(|| {
            ApiError::problem(
                http::StatusCode::INTERNAL_SERVER_ERROR,
                "the project's member list is unreadable",
            )
        })
}

fn project_json(project: &Resource) -> Value {
    let mut out = project.to_json();
    if let Some(map) = out.as_object_mut() {
        // Members are answered by the member operations, not inside the project.
        map.remove("members");
    }
    out
}

pub(crate) fn create_collection(ctx: &Ctx<'_>, input: CollectionCreateInput) -> Outcome {
    let now = ctx.now();
    let mut inner = ctx.lock_org();
    let inner = &mut *inner;
    require_role(ctx, &inner.resources, &input.project_id, Role::Editor)?;
    let mut fields = Map::new();
    fields.insert(
        "project_id".to_owned(),
        Value::from(input.project_id.as_str()),
    );
    fields.insert("name".to_owned(), Value::from(input.name));
    fields.insert("description".to_owned(), json!(input.description));
    fields.insert("color".to_owned(), json!(input.color));
    fields.insert("show_on_map".to_owned(), Value::Bool(input.show_on_map));
    fields.insert("layer_order".to_owned(), Value::from(input.layer_order));
    fields.insert("auto_created".to_owned(), Value::Bool(false));
    fields.insert("source_type".to_owned(), Value::Null);
    fields.insert("source_id".to_owned(), Value::Null);
    fields.insert("deleted_at".to_owned(), Value::Null);
    let collection = inner.resources.create(
        &mut inner.rng,
        Family::Collection,
        ctx.org,
        Some(&input.project_id),
        now,
        fields,
    )?;
    let reply = collection.to_json();
    Ok(ctx.ok(&with_item_count(reply, 0)))
}

pub(crate) fn get_collection(ctx: &Ctx<'_>, input: CollectionsGetInput) -> Outcome {
    let inner = ctx.lock_org();
    let collection = inner.resources.get(
        Family::Collection,
        ctx.org,
        Some(&input.project_id),
        &input.collection_id,
    )?;
    let count = item_count(&inner.resources, ctx.org, &collection.id);
    Ok(ctx.ok(&with_item_count(collection.to_json(), count)))
}

/// The contract gives this list no paging fields, so it answers every collection of the
/// project (at most [`crate::resources::MAX_PER_ORG`]).
pub(crate) fn list_collections(ctx: &Ctx<'_>, input: ListInput) -> Outcome {
    let inner = ctx.lock_org();
    inner
        .resources
        .get(Family::Project, ctx.org, None, &input.project_id)?;
    // One pass counts every collection's items: counting per collection would read the
    // organization's items once for each of its collections, under the lock every caller waits on.
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for item in inner.resources.list(Family::Item, ctx.org, None) {
        if let Some(collection) = item.str("collection_id") {
            *counts.entry(collection).or_default() += 1;
        }
    }
    let collections: Vec<Value> = inner
        .resources
        .list(Family::Collection, ctx.org, Some(&input.project_id))
        .into_iter()
        .map(|c| {
            let count = counts.get(c.id.as_str()).copied().unwrap_or(0);
            with_item_count(c.to_json(), count)
        })
        .collect();
    Ok(ctx.ok(&json!({"total": collections.len(), "collections": collections})))
}

pub(crate) fn update_collection(ctx: &Ctx<'_>, input: CollectionUpdateInput) -> Outcome {
    let now = ctx.now();
    let mut inner = ctx.lock_org();
    require_role(ctx, &inner.resources, &input.project_id, Role::Editor)?;
    let collection = inner.resources.get_mut(
        Family::Collection,
        ctx.org,
        Some(&input.project_id),
        &input.collection_id,
    )?;
    collection.set("name", input.name);
    collection.set("description", input.description);
    collection.set("color", input.color);
    collection.set("show_on_map", input.show_on_map);
    collection.set("layer_order", input.layer_order);
    collection.updated_at = now;
    let reply = collection.to_json();
    let count = item_count(&inner.resources, ctx.org, &input.collection_id);
    Ok(ctx.ok(&with_item_count(reply, count)))
}

/// Deletes the collection; its items stay in the project, in no collection (as
/// `items.list` with `uncollected` finds them), since a collection groups items rather than
/// owning them.
pub(crate) fn delete_collection(ctx: &Ctx<'_>, input: CollectionDeleteInput) -> Outcome {
    let now = ctx.now();
    let mut inner = ctx.lock_org();
    require_role(ctx, &inner.resources, &input.project_id, Role::Admin)?;
    let removed = inner.resources.remove(
        Family::Collection,
        ctx.org,
        Some(&input.project_id),
        &input.collection_id,
    )?;
    let members: Vec<String> = inner
        .resources
        .list(Family::Item, ctx.org, Some(&input.project_id))
        .iter()
        .filter(|item| item.str("collection_id") == Some(removed.id.as_str()))
        .map(|item| item.id.clone())
        .collect();
    for id in members {
        if let Ok(item) = inner.resources.get_mut(Family::Item, ctx.org, None, &id) {
            item.fields.insert("collection_id".to_owned(), Value::Null);
            item.updated_at = now;
        }
    }
    Ok(ctx.ok(&json!({"ok": true, "id": removed.id})))
}

/// A collection as `collections.get` answers it: with the count of its items.
pub(super) fn collection_json(
    resources: &crate::resources::Resources,
    collection: &Resource,
) -> Value {
    let count = item_count(resources, &collection.org, &collection.id);
    with_item_count(collection.to_json(), count)
}

/// How many of the organization's items name the collection.
fn item_count(resources: &crate::resources::Resources, org: &str, collection: &str) -> usize {
    resources
        .list(Family::Item, org, None)
        .iter()
        .filter(|item| item.str("collection_id") == Some(collection))
        .count()
}

fn with_item_count(mut value: Value, count: usize) -> Value {
    if let Some(map) = value.as_object_mut() {
        map.insert("item_count".to_owned(), Value::from(count));
    }
    value
}
