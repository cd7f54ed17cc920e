//! `processing.*` and `clip.*` jobs: long-running work kept in [`crate::resources`], whose
//! status follows the emulator's clock as [`crate::jobs`] describes.
//!
//! Processing jobs belong to a project (`project_id`, or `workspaceId` for
//! `processing.execute`), which must be the caller's. Clip jobs may name one; the area a clip
//! keeps, when given, is an area as [`read_clip_area`] reads it. Results —
//! downloads, tiles, registered outputs — exist only once a job has `succeeded`; asking
//! earlier is 409 naming the status, as the work is not done rather than the request wrong.
//! Downloads are descriptors with short-lived URLs on the emulator, never the bytes.

use geopera_types::models::{
    ClipCreateFromAreaInput, ClipDownloadInput, ClipJobDeleteInput, ClipJobInput,
    ClipJobsListInput, JobGetInput, JobRegisterInput, JobsListInput, ProcessExecuteInput,
    ProcessingDispatchInput, ProcessingJobInput, ProjectJobGetInput, ProjectJobsInput,
};
use geopera_types::JsonObject;
use serde_json::{json, Map, Value};

use super::{comma_listed, Ctx, Outcome, MAX_PAGE_SIZE};
use crate::catalog::read_clip_area;
use crate::error::ApiError;
use crate::jobs::{self, Status, FAILS, FAIL_MARKER, OWN_RESULT, STARTED};
use crate::resources::{page, Family, Resource};

/// The longest process id, job type, name, item id, area or asset key accepted.
const MAX_NAME_CHARS: usize = 200;
/// The most assets one clip job cuts.
const MAX_ASSETS: usize = 50;
/// The asset a clip of an item cuts when the body names none.
const DEFAULT_ASSET: &str = "data";
/// The dispatch version of a job started without one named.
const DISPATCH_VERSION: &str = "1.0";
/// The file a processing job registers as its output when the body names none.
const RESULT_FILE: &str = "result.tif";

pub(crate) fn create(ctx: &Ctx<'_>, body: JsonObject) -> Outcome {
    let job = new_processing(ctx, &body, None)?;
    Ok(ctx.ok(&job))
}

pub(crate) fn create_and_dispatch(ctx: &Ctx<'_>, body: JsonObject) -> Outcome {
    // Read before the job exists, so a refused version leaves no job behind.
    let version = optional_str(&body, "version")?.unwrap_or(DISPATCH_VERSION);
    let job = new_processing(ctx, &body, Some(version))?;
    Ok(ctx.ok(&dispatched(ctx, job, version)))
}

pub(crate) fn dispatch(ctx: &Ctx<'_>, input: ProcessingDispatchInput) -> Outcome {
    let now = ctx.now();
    let mut inner = ctx.shared.lock();
    let job = inner
        .resources
        .get_mut(Family::ProcessingJob, ctx.org, None, &input.job_id)?;
    if jobs::started(job).is_some() {
        return Err(ApiError::conflict(format!(
            "processing job '{}' is already dispatched (status {})",
            job.id,
            jobs::status(job, now).wire()
        )));
    }
    job.set(STARTED, Some(now));
    job.set("dispatch_version", Some(input.version.as_str()));
    job.updated_at = now;
    let job = answer(ctx, job, now)?;
    Ok(ctx.ok(&dispatched(ctx, job, &input.version)))
}

/// Creates a processing job in the project named by `workspaceId` and starts it.
pub(crate) fn execute(ctx: &Ctx<'_>, input: ProcessExecuteInput) -> Outcome {
    let mut body = Map::new();
    body.insert("project_id".to_owned(), json!(input.workspace_id));
    body.insert("process_id".to_owned(), json!(input.process_id));
    body.insert("inputs".to_owned(), Value::Object(input.inputs));
    let job = new_processing(ctx, &body, Some(DISPATCH_VERSION))?;
    Ok(ctx.ok(&job))
}

pub(crate) fn get(ctx: &Ctx<'_>, input: JobGetInput) -> Outcome {
    read(ctx, Family::ProcessingJob, &input.job_id)
}

pub(crate) fn project_job_get(ctx: &Ctx<'_>, input: ProjectJobGetInput) -> Outcome {
    read(ctx, Family::ProcessingJob, &input.job_id)
}

/// Pages of `limit` from page 0, by creation in the direction `sort` names as a Spring sort
/// does (`created,desc`, its default, newest first; upward when no direction or another is
/// given). Jobs sort by creation only. The contract takes any text for `sort`, so none is
/// refused, as for `orders.list` (a 422 here failed input the contract accepts).
pub(crate) fn list(ctx: &Ctx<'_>, input: JobsListInput) -> Outcome {
    let (_, direction) = input
        .sort
        .split_once(',')
        .unwrap_or((input.sort.as_str(), "asc"));
    let newest_first = direction.trim().eq_ignore_ascii_case("desc");
    let ids = comma_listed(input.ids.as_deref());
    let now = ctx.now();
    let inner = ctx.shared.lock();
    let mut found: Vec<&Resource> = inner
        .resources
        .list(Family::ProcessingJob, ctx.org, None)
        .into_iter()
        .filter(|job| {
            matches(job, "project_id", input.workspace_id.as_deref())
                && matches(job, "process_id", input.process_id.as_deref())
                && ids
                    .as_ref()
                    .is_none_or(|ids| ids.contains(&job.id.as_str()))
                && has_status(job, now, input.status.as_deref())
        })
        .collect();
    if newest_first {
        found.reverse();
    }
    let limit = input.limit.clamp(1, MAX_PAGE_SIZE);
    let page_no = input.page.max(0);
    let offset = page_no.saturating_mul(limit);
    let (jobs, limit, _, total) = page(found, limit, offset, MAX_PAGE_SIZE);
    let jobs = answers(ctx, jobs, now)?;
    Ok(ctx.ok(&json!({"jobs": jobs, "page": page_no, "limit": limit, "total": total})))
}

/// The project's jobs, oldest first, by `limit` and `offset`.
pub(crate) fn project_jobs(ctx: &Ctx<'_>, input: ProjectJobsInput) -> Outcome {
    let now = ctx.now();
    let inner = ctx.shared.lock();
    inner
        .resources
        .get(Family::Project, ctx.org, None, &input.project_id)?;
    let found: Vec<&Resource> = inner
        .resources
        .list(Family::ProcessingJob, ctx.org, Some(&input.project_id))
        .into_iter()
        .filter(|job| {
            matches(job, "job_type_name", input.job_type_name.as_deref())
                && has_status(job, now, input.status.as_deref())
        })
        .collect();
    paged(ctx, found, input.limit, input.offset, now)
}

pub(crate) fn delete(ctx: &Ctx<'_>, input: ProcessingJobInput) -> Outcome {
    remove(ctx, Family::ProcessingJob, &input.job_id)
}

/// Registers a succeeded job's outputs (the body's, or the job's own result).
pub(crate) fn register(ctx: &Ctx<'_>, input: JobRegisterInput) -> Outcome {
    let now = ctx.now();
    let mut inner = ctx.shared.lock();
    let job = inner
        .resources
        .get_mut(Family::ProcessingJob, ctx.org, None, &input.job_id)?;
    require_success(job, now)?;
    // Registering settles the job once; a second call would replace outputs already handed
    // out. A retry of the same call is answered from its idempotency key instead.
    if job.fields.get("registered").and_then(Value::as_bool) == Some(true) {
        return Err(ApiError::conflict(format!(
            "job '{}' is already registered",
            input.job_id
        )));
    }
    let own = input.outputs.is_none();
    job.set(
        "outputs",
        Some(input.outputs.map_or(Value::Null, Value::from)),
    );
    job.set(OWN_RESULT, Some(own));
    job.set("registered", Some(true));
    job.updated_at = now;
    Ok(ctx.ok(&answer(ctx, job, now)?))
}

pub(crate) fn tile_info(ctx: &Ctx<'_>, input: ProcessingJobInput) -> Outcome {
    tiles(ctx, Family::ProcessingJob, &input.job_id)
}

pub(crate) fn clip_from_item(ctx: &Ctx<'_>, body: JsonObject) -> Outcome {
    let item = required_str(&body, "item_id")?;
    let collection = optional_str(&body, "collection_id")?;
    let project = optional_str(&body, "project_id")?;
    let keys = match body.get("asset_keys") {
        None | Some(Value::Null) => vec![DEFAULT_ASSET.to_owned()],
        Some(Value::Array(keys)) => keys
            .iter()
            .map(|key| key.as_str().map(str::to_owned))
            .collect::<Option<Vec<String>>>()
            .ok_or_else(|| ApiError::invalid(&["asset_keys"], "asset keys must be strings"))?,
        Some(_) => {
            return Err(ApiError::invalid(
                &["asset_keys"],
                "asset_keys must be a list of strings",
            ))
        }
    };
    let geometry = match body.get("aoi_geometry") {
        None | Some(Value::Null) => Value::Null,
        Some(geometry) => {
            read_clip_area("aoi_geometry", geometry)?;
            geometry.clone()
        }
    };
    let mut fields = Map::new();
    fields.insert("source".to_owned(), json!("item"));
    fields.insert("item_id".to_owned(), json!(item));
    fields.insert("collection_id".to_owned(), json!(collection));
    fields.insert("area".to_owned(), Value::Null);
    fields.insert("aoi_geometry".to_owned(), geometry);
    fields.insert(
        "aoi_name".to_owned(),
        json!(optional_str(&body, "aoi_name")?),
    );
    new_clip(ctx, project, fields, keys, item == FAIL_MARKER)
}

pub(crate) fn clip_from_area(ctx: &Ctx<'_>, input: ClipCreateFromAreaInput) -> Outcome {
    ctx.own_org(&input.organization_id)?;
    checked_name(&input.area, "area")?;
    let aoi = Value::Object(input.aoi_geometry);
    read_clip_area("aoi_geometry", &aoi)?;
    let mut fields = Map::new();
    fields.insert("source".to_owned(), json!("area"));
    fields.insert("item_id".to_owned(), Value::Null);
    fields.insert("collection_id".to_owned(), Value::Null);
    fields.insert("area".to_owned(), json!(input.area));
    fields.insert("aoi_geometry".to_owned(), aoi);
    fields.insert("aoi_name".to_owned(), json!(input.aoi_name));
    let fails = input.area == FAIL_MARKER;
    new_clip(
        ctx,
        input.project_id.as_deref(),
        fields,
        input.mosaic_types,
        fails,
    )
}

pub(crate) fn clip_get(ctx: &Ctx<'_>, input: ClipJobInput) -> Outcome {
    read(ctx, Family::ClipJob, &input.job_id)
}

/// The organization's clip jobs, oldest first, by `limit` and `offset`.
pub(crate) fn clip_list(ctx: &Ctx<'_>, input: ClipJobsListInput) -> Outcome {
    ctx.own_org(&input.organization_id)?;
    let now = ctx.now();
    let inner = ctx.shared.lock();
    let found: Vec<&Resource> = inner
        .resources
        .list(Family::ClipJob, ctx.org, None)
        .into_iter()
        .filter(|job| has_status(job, now, input.status.as_deref()))
        .collect();
    paged(ctx, found, input.limit, input.offset, now)
}

/// A descriptor for every asset of a succeeded clip job.
pub(crate) fn clip_downloads(ctx: &Ctx<'_>, input: ClipJobInput) -> Outcome {
    let now = ctx.now();
    let inner = ctx.shared.lock();
    let job = inner
        .resources
        .get(Family::ClipJob, ctx.org, None, &input.job_id)?;
    require_success(job, now)?;
    let downloads = asset_keys(job)
        .iter()
        .map(|key| descriptor(ctx, &job.id, key, now))
        .collect::<Result<Vec<Value>, ApiError>>()?;
    Ok(ctx.ok(&json!({"job_id": job.id, "downloads": downloads})))
}

/// The descriptor of one asset (`mosaic_type`) of a succeeded clip job.
pub(crate) fn clip_download(ctx: &Ctx<'_>, input: ClipDownloadInput) -> Outcome {
    let now = ctx.now();
    let inner = ctx.shared.lock();
    let job = inner
        .resources
        .get(Family::ClipJob, ctx.org, None, &input.job_id)?;
    require_success(job, now)?;
    if !asset_keys(job).contains(&input.mosaic_type) {
        return Err(ApiError::not_found(format!(
            "clip job '{}' has no asset '{}'",
            job.id, input.mosaic_type
        )));
    }
    Ok(ctx.ok(&descriptor(ctx, &job.id, &input.mosaic_type, now)?))
}

pub(crate) fn clip_tile_info(ctx: &Ctx<'_>, input: ClipJobInput) -> Outcome {
    tiles(ctx, Family::ClipJob, &input.job_id)
}

pub(crate) fn clip_delete(ctx: &Ctx<'_>, input: ClipJobDeleteInput) -> Outcome {
    remove(ctx, Family::ClipJob, &input.job_id)
}

/// Creates a processing job from a free-form body naming `project_id`, and starts it at the
/// dispatch version `start` names, if any.
fn new_processing(
    ctx: &Ctx<'_>,
    body: &JsonObject,
    start: Option<&str>,
) -> Result<Value, ApiError> {
    let project = required_str(body, "project_id")?;
    let process = optional_str(body, "process_id")?;
    let job_type = optional_str(body, "job_type_name")?;
    let name = optional_str(body, "name")?;
    let process = process.or(job_type).unwrap_or("custom");
    let job_type = job_type.unwrap_or(process);
    let inputs = match body.get("inputs") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(Value::Object(inputs)) => Value::Object(inputs.clone()),
        Some(_) => return Err(ApiError::invalid(&["inputs"], "inputs must be an object")),
    };
    let now = ctx.now();
    let mut fields = Map::new();
    fields.insert("organization_id".to_owned(), json!(ctx.org));
    fields.insert("project_id".to_owned(), json!(project));
    fields.insert("name".to_owned(), json!(name));
    fields.insert("process_id".to_owned(), json!(process));
    fields.insert("job_type_name".to_owned(), json!(job_type));
    fields.insert("inputs".to_owned(), inputs);
    fields.insert("outputs".to_owned(), Value::Null);
    fields.insert("registered".to_owned(), json!(false));
    fields.insert("dispatch_version".to_owned(), json!(start));
    fields.insert(
        FAILS.to_owned(),
        json!(process == FAIL_MARKER || job_type == FAIL_MARKER),
    );
    if start.is_some() {
        fields.insert(STARTED.to_owned(), json!(now));
    }
    let mut inner = ctx.shared.lock();
    let inner = &mut *inner;
    inner
        .resources
        .get(Family::Project, ctx.org, None, project)?;
    let job = inner.resources.create(
        &mut inner.rng,
        Family::ProcessingJob,
        ctx.org,
        Some(project),
        now,
        fields,
    )?;
    Ok(jobs::answer(job, now))
}

/// `processing.dispatch`'s answer: the job and what the dispatch did.
fn dispatched(ctx: &Ctx<'_>, job: Value, version: &str) -> Value {
    let at = job["dispatched_at"].clone();
    json!({
        "job": job,
        "dispatch": {"job_id": job["id"], "version": version, "dispatched_at": at, "organization_id": ctx.org},
    })
}

/// Creates and starts a clip job of `keys`, answering the API's creation summary.
fn new_clip(
    ctx: &Ctx<'_>,
    project: Option<&str>,
    mut fields: Map<String, Value>,
    keys: Vec<String>,
    fails: bool,
) -> Outcome {
    let mut unique: Vec<String> = Vec::with_capacity(keys.len());
    for key in keys {
        checked_name(&key, "asset_keys")?;
        if !unique.contains(&key) {
            unique.push(key);
        }
    }
    if unique.is_empty() || unique.len() > MAX_ASSETS {
        return Err(ApiError::invalid(
            &["asset_keys"],
            format!("a clip job cuts 1 to {MAX_ASSETS} assets"),
        ));
    }
    let now = ctx.now();
    fields.insert("organization_id".to_owned(), json!(ctx.org));
    fields.insert("project_id".to_owned(), json!(project));
    fields.insert("asset_keys".to_owned(), json!(unique));
    fields.insert(FAILS.to_owned(), json!(fails));
    fields.insert(STARTED.to_owned(), json!(now));
    let mut inner = ctx.shared.lock();
    let inner = &mut *inner;
    if let Some(project) = project {
        inner
            .resources
            .get(Family::Project, ctx.org, None, project)?;
    }
    let job =
        inner
            .resources
            .create(&mut inner.rng, Family::ClipJob, ctx.org, None, now, fields)?;
    let status = jobs::status(job, now).wire();
    Ok(ctx.ok(&json!({
        "job": {"id": job.id, "status": status},
        "assets_to_clip": unique.len(),
        "asset_keys": unique,
    })))
}

fn read(ctx: &Ctx<'_>, family: Family, id: &str) -> Outcome {
    let now = ctx.now();
    let inner = ctx.shared.lock();
    let job = inner.resources.get(family, ctx.org, None, id)?;
    Ok(ctx.ok(&answer(ctx, job, now)?))
}

/// The job as answered at `now`, its own result behind a download link signed from `now`,
/// as a clip job's downloads are: the file is the organization's, never at a public path.
///
/// # Errors
/// 500 when the emulator's base URL cannot take a path, which a running emulator's always can.
fn answer(ctx: &Ctx<'_>, job: &Resource, now: i64) -> Result<Value, ApiError> {
    let mut out = jobs::answer(job, now);
    if jobs::own_result(job) {
        let (href, _) = ctx.shared.download_key.link(
            &ctx.shared.base_url,
            &["jobs", &job.id, RESULT_FILE],
            now,
        )?;
        out["outputs"] = json!([{"name": "result", "href": href}]);
    }
    Ok(out)
}

fn answers(ctx: &Ctx<'_>, jobs: Vec<&Resource>, now: i64) -> Result<Vec<Value>, ApiError> {
    jobs.into_iter().map(|job| answer(ctx, job, now)).collect()
}

fn remove(ctx: &Ctx<'_>, family: Family, id: &str) -> Outcome {
    let mut inner = ctx.shared.lock();
    // Read under the lock, as every sweep's: a reading taken before it can be older than a
    // sweep made meanwhile, which the sweep would take for a clock set back.
    let now_ms = ctx.shared.clock.now_millis();
    // A sweep finds the events of the jobs still kept: one that finished since the last sweep
    // gives its `completed` or `failed` event before it goes, or it would never be sent.
    inner.sweep(now_ms);
    let removed = inner.resources.remove(family, ctx.org, None, id)?;
    Ok(ctx.ok(&json!({"deleted": true, "job_id": removed.id})))
}

fn paged(ctx: &Ctx<'_>, found: Vec<&Resource>, limit: i64, offset: i64, now: i64) -> Outcome {
    let (jobs, limit, offset, total) = page(found, limit, offset, MAX_PAGE_SIZE);
    let jobs = answers(ctx, jobs, now)?;
    Ok(ctx.ok(&json!({"jobs": jobs, "total": total, "limit": limit, "offset": offset})))
}

/// Where a succeeded job's map tiles are served (small PNGs from the emulator's assets).
fn tiles(ctx: &Ctx<'_>, family: Family, id: &str) -> Outcome {
    let now = ctx.now();
    let inner = ctx.shared.lock();
    let job = inner.resources.get(family, ctx.org, None, id)?;
    require_success(job, now)?;
    let base = &ctx.shared.base_url;
    Ok(ctx.ok(&json!({
        "job_id": job.id,
        "tiles_url": format!("{base}/assets/tiles/{}/{{z}}/{{x}}/{{y}}.png", job.id),
        "format": "png",
        "minzoom": 0,
        "maxzoom": 18,
        "bounds": [-180.0, -85.051_129, 180.0, 85.051_129],
    })))
}

/// One download descriptor: a signed link on the emulator, valid for a while.
fn descriptor(ctx: &Ctx<'_>, job: &str, key: &str, now: i64) -> Result<Value, ApiError> {
    let file = format!("{key}.tif");
    let (url, expires) =
        ctx.shared
            .download_key
            .link(&ctx.shared.base_url, &["clips", job, &file], now)?;
    Ok(json!({
        "job_id": job,
        "asset_key": key,
        "mosaic_type": key,
        "file_name": format!("{job}_{file}"),
        "content_type": "image/tiff",
        "url": url,
        "expires_at": geopera_types::rfc3339::format_date_time(expires),
    }))
}

fn asset_keys(job: &Resource) -> Vec<String> {
    job.fields
        .get("asset_keys")
        .and_then(Value::as_array)
        .map(|keys| {
            keys.iter()
                .filter_map(|k| k.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// 409 naming the status unless the job has succeeded.
fn require_success(job: &Resource, now: i64) -> Result<(), ApiError> {
    match jobs::status(job, now) {
        Status::Succeeded => Ok(()),
        status => Err(ApiError::conflict(format!(
            "{} '{}' is {}; its results exist once it has succeeded",
            job.family.noun(),
            job.id,
            status.wire()
        ))),
    }
}

fn matches(job: &Resource, field: &str, wanted: Option<&str>) -> bool {
    wanted.is_none_or(|wanted| job.str(field) == Some(wanted))
}

fn has_status(job: &Resource, now: i64, wanted: Option<&str>) -> bool {
    wanted.is_none_or(|wanted| jobs::status(job, now).wire().as_str() == wanted)
}

fn required_str<'a>(body: &'a JsonObject, name: &str) -> Result<&'a str, ApiError> {
    optional_str(body, name)?
        .ok_or_else(|| ApiError::invalid(&[name], format!("{name} is required")))
}

/// A string member of a free-form body, 1 to [`MAX_NAME_CHARS`] characters, or `None` when
/// absent or null.
fn optional_str<'a>(body: &'a JsonObject, name: &str) -> Result<Option<&'a str>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => checked_name(text, name).map(Some),
        Some(_) => Err(ApiError::invalid(
            &[name],
            format!("{name} must be a string"),
        )),
    }
}

fn checked_name<'a>(text: &'a str, name: &str) -> Result<&'a str, ApiError> {
    if text.trim().is_empty() || text.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::invalid(
            &[name],
            format!("{name} must be 1 to {MAX_NAME_CHARS} characters"),
        ));
    }
    Ok(text)
}
