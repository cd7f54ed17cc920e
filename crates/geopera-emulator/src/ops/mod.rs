//! What each operation does once a call has passed the pipeline, grouped by family. Each
//! family function takes the operation's own input model from `geopera_types` (a free-form
//! [`JsonObject`] where the contract declares none); the table below ties every function
//! to its operation's descriptor type, so the compiler checks that they agree. Operations
//! without a function answer a sample of their output shape.

mod account;
mod alerts;
mod billing;
mod card;
mod catalog;
mod eulas;
mod federated;
mod formulas;
mod input;
pub(crate) mod item_search;
mod items;
mod jobs;
mod keys;
#[cfg(test)]
mod kinds;
mod ledger;
mod notifications;
mod order_details;
mod orders;
mod places;
mod projects;
mod provenance;
mod sharing;
mod tasking;
pub(crate) mod tiles;
mod uploads;
mod usage;
mod visualization;
mod webhooks;

pub(crate) use input::validate_as_written;
pub(crate) use items::asset_deleted;
pub(crate) use sharing::{
    share_tiles_live, tiles_key, SHARE_TILES_KIND, TILES_DIGEST, TOKEN_DIGEST,
};

use std::collections::{HashMap, HashSet};
use std::sync::{LazyLock, MutexGuard};

use geopera_types::operations as op;
use geopera_types::sample::sample;
use geopera_types::{JsonObject, Operation, OperationInfo, Shape};
use http::StatusCode;
use serde_json::{json, Value};

use crate::error::{ApiError, Reply};
use crate::records::KeyWindow;
use crate::rng::fnv;
use crate::state::{Inner, Shared};

pub use alerts::MAX_ALERT_EVENTS;
pub(crate) use items::item_fields;
pub use keys::{
    MAX_KEY_LIFETIME_DAYS, MAX_KEY_PERMISSIONS, MAX_KEY_RATE_LIMIT, MAX_KEY_RATE_WINDOWS,
    MAX_SCOPE_CHARS,
};
pub use ledger::MAX_TRANSACTIONS;
pub use orders::MAX_ORDERS_PER_ORG;

/// The largest page the offset- and page-paged lists (`orders.list`, `items.list`,
/// `alerts.events.list`, …) answer; larger requests get this many.
pub const MAX_PAGE_SIZE: i64 = 1000;

/// Everything an operation may look at: the emulator, the operation, and who is calling.
pub(crate) struct Ctx<'a> {
    pub shared: &'a Shared,
    pub op: &'static OperationInfo,
    /// The calling organization.
    pub org: &'a str,
    /// Who calls, stable across a credential's token refreshes (`api_key:<id>` or
    /// `user:<id>`): what a caller's own marks, such as a notification read, belong to.
    pub principal: &'a str,
    /// The grants of the calling credential.
    pub grants: &'a [String],
    /// Whether a person signed in makes the call (a user's session, from a password or a
    /// device login), rather than an API key or a session started with one.
    pub person: bool,
    /// What the calling key is held to, which a key it mints may not exceed (nothing for a
    /// user's session).
    pub key_bounds: &'a KeyBounds,
}

/// What a calling key is held to: its own limits, and the windows of the keys it was minted
/// under.
#[derive(Clone, Debug, Default)]
pub(crate) struct KeyBounds {
    /// Its calls per minute, when it was minted with a limit.
    pub rate_limit: Option<u32>,
    /// Every window its calls count against, which a key it mints inherits.
    pub rate_windows: Vec<KeyWindow>,
    /// When it expires (Unix seconds), when it does.
    pub expires_at: Option<i64>,
}

impl Ctx<'_> {
    /// The operation's documented success status.
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.op.success_status).unwrap_or(StatusCode::OK)
    }

    /// A JSON answer with the success status.
    pub fn ok(&self, value: &Value) -> Reply {
        Reply::json(self.status(), value)
    }

    /// Refuses an organization other than the caller's, as 404: another organization's
    /// resources are answered as unknown, never as forbidden (a 403 would confirm they exist).
    pub fn own_org(&self, org: &str) -> Result<(), ApiError> {
        if org == self.org {
            Ok(())
        } else {
            Err(ApiError::not_found(format!(
                "organization '{org}' not found"
            )))
        }
    }

    /// The emulator's time in Unix seconds.
    pub fn now(&self) -> i64 {
        self.shared.clock.now_secs()
    }

    /// The state, locked, with the calling organization seen, so the records it starts with
    /// ([`crate::starter`]) exist before an operation looks for them.
    pub fn lock_org(&self) -> MutexGuard<'_, Inner> {
        let now = self.now();
        let mut inner = self.shared.lock();
        inner.org(self.org, self.shared.seed, now);
        inner
    }
}

type Outcome = Result<Reply, ApiError>;
type Handler = Box<dyn Fn(&Ctx<'_>, Value) -> Outcome + Send + Sync>;

/// An entry of [`HANDLERS`]: `run` receives the body decoded into `O`'s input model.
fn on<O: Operation>(run: fn(&Ctx<'_>, O::Input) -> Outcome) -> (&'static str, Handler) {
    let handler = move |ctx: &Ctx<'_>, body: Value| run(ctx, input::decode(ctx.op, body)?);
    (O::INFO.id, Box::new(handler))
}

/// An entry of [`HANDLERS`] whose `run` reads the body as JSON rather than as `O`'s model.
fn on_json<O: Operation>(run: fn(&Ctx<'_>, JsonObject) -> Outcome) -> (&'static str, Handler) {
    let handler = move |ctx: &Ctx<'_>, body: Value| run(ctx, input::decode(ctx.op, body)?);
    (O::INFO.id, Box::new(handler))
}

static HANDLERS: LazyLock<HashMap<&'static str, Handler>> = LazyLock::new(|| {
    HashMap::from([
        // Read by the same reader as the free-form `catalog.search_stream`, as a JSON object
        // rather than the model, so the two read a body alike.
        on_json::<op::CatalogSearch>(catalog::search),
        on::<op::CatalogSearchStream>(catalog::search_stream),
        on::<op::CatalogImageQuicklook>(catalog::quicklook),
        on::<op::CatalogImageThumbnail>(catalog::thumbnail),
        on::<op::OrdersArchiveEstimate>(orders::archive_estimate),
        on::<op::OrdersArchivePlace>(orders::archive_place),
        on::<op::OrdersTaskingEstimate>(orders::tasking_estimate),
        on::<op::OrdersTaskingPlace>(orders::tasking_place),
        on::<op::OrdersPlace>(orders::place),
        on::<op::OrdersGet>(orders::get),
        on::<op::OrdersList>(orders::list),
        on::<op::OrdersCancel>(orders::cancel),
        on::<op::ApiKeysCreate>(keys::create),
        on::<op::ApiKeysList>(keys::list),
        on::<op::ApiKeysRevoke>(keys::revoke),
        on::<op::BillingCreditsBalance>(billing::balance),
        on::<op::BillingTopup>(billing::topup),
        on::<op::ItemsCreate>(items::create),
        on::<op::ItemsGet>(items::get),
        on::<op::ItemsUpdate>(items::update),
        on::<op::ItemsDelete>(items::delete),
        on::<op::ItemsList>(items::list),
        on::<op::ItemsListByCollection>(items::list_by_collection),
        on::<op::ItemsListAssets>(items::list_assets),
        on::<op::ItemsSetAssetBandNames>(items::set_asset_band_names),
        on::<op::ItemsGetStac>(items::get_stac),
        on::<op::ItemsDuplicate>(items::duplicate),
        on::<op::ItemsLineage>(items::lineage),
        on::<op::AlertsCreateRule>(alerts::create_rule),
        on::<op::AlertsRuleGet>(alerts::get_rule),
        on::<op::AlertsRulesList>(alerts::list_rules),
        on::<op::AlertsUpdateRule>(alerts::update_rule),
        on::<op::AlertsDeleteRule>(alerts::delete_rule),
        on::<op::AlertsTestRule>(alerts::test_rule),
        on::<op::AlertsEventsList>(alerts::list_events),
        on::<op::AlertsAcknowledgeEvent>(alerts::acknowledge_event),
        on::<op::VisualizationProfileCreate>(visualization::create),
        on::<op::VisualizationProfileGet>(visualization::get),
        on::<op::VisualizationProfilesList>(visualization::list),
        on::<op::VisualizationProfileUpdate>(visualization::update),
        on::<op::VisualizationProfileDelete>(visualization::delete),
        on::<op::VisualizationProfileSetDefault>(visualization::set_default),
        on::<op::CatalogTileRender>(tiles::catalog_render),
        on::<op::CogTileRender>(tiles::cog_render),
        on::<op::CogTileTerrain>(tiles::cog_terrain),
        on::<op::CogThumbnail>(tiles::cog_thumbnail),
        on::<op::ItemsTileRender>(tiles::items_render),
        on::<op::ItemsTileWmtsGetTile>(tiles::items_wmts_tile),
        on::<op::ItemsTileWmtsCapabilities>(tiles::items_wmts_capabilities),
        on::<op::ShareTileRender>(tiles::share_render),
        on::<op::ItemsTileTilejson>(tiles::items_tilejson),
        on::<op::EventSubscriptionsCreate>(webhooks::create),
        on::<op::EventSubscriptionsGet>(webhooks::get),
        on::<op::EventSubscriptionsList>(webhooks::list),
        on::<op::EventSubscriptionsUpdate>(webhooks::update),
        on::<op::EventSubscriptionsDelete>(webhooks::delete),
        on::<op::ProjectsCreate>(projects::create),
        on::<op::ProjectsUpdate>(projects::update),
        on::<op::ProjectsArchive>(projects::archive),
        on::<op::ProjectsDelete>(projects::delete),
        on::<op::ProjectsAddMember>(projects::add_member),
        on::<op::ProjectsUpdateMember>(projects::update_member),
        on::<op::ProjectsRemoveMember>(projects::remove_member),
        on::<op::CollectionsCreate>(projects::create_collection),
        on::<op::CollectionsGet>(projects::get_collection),
        on::<op::CollectionsList>(projects::list_collections),
        on::<op::CollectionsUpdate>(projects::update_collection),
        on::<op::CollectionsDelete>(projects::delete_collection),
        on::<op::BandFormulasCreate>(formulas::create),
        on::<op::BandFormulasGet>(formulas::get),
        on::<op::BandFormulasList>(formulas::list),
        on::<op::BandFormulasUpdate>(formulas::update),
        on::<op::BandFormulasDelete>(formulas::delete),
        on::<op::OrdersUpdate>(order_details::update),
        on::<op::OrdersListAssets>(order_details::list_assets),
        on::<op::OrdersCoverageGet>(order_details::coverage),
        on::<op::OrdersCoverageGroupsList>(order_details::coverage_groups),
        on::<op::OrdersTaskingGroupsList>(order_details::tasking_groups),
        // The search members are those of `catalog.search`, read by its lenient reader too.
        on_json::<op::CatalogFederatedSearch>(federated::search),
        on::<op::OrdersEstimate>(orders::estimate),
        on::<op::OrdersTaskingSensors>(tasking::sensors),
        on::<op::OrdersTaskingFeasibilityCheck>(tasking::feasibility_check),
        on::<op::OrdersTaskingOpportunitiesList>(tasking::opportunities),
        on::<op::OrdersTaskingFeasibilityStudiesList>(tasking::studies),
        on::<op::OrdersTaskingQuotationsList>(tasking::quotations),
        on::<op::OrdersTaskingDecisionsPending>(tasking::pending),
        on::<op::OrdersTaskingFeasibilityDecide>(tasking::decide_feasibility),
        on::<op::OrdersTaskingQuotationDecide>(tasking::decide_quotation),
        on::<op::BillingCreditsTransactions>(ledger::transactions),
        on::<op::BillingStatusGet>(ledger::status),
        on::<op::BillingInvoicesList>(ledger::invoices),
        on::<op::BillingStripeInvoicesList>(ledger::provider_invoices),
        on::<op::ProvenanceGet>(provenance::get),
        on::<op::ItemsAssetDownload>(items::download_asset),
        on::<op::AssetsDelete>(items::delete_asset),
        on::<op::ItemsDetectAssetBands>(items::detect_bands),
        on::<op::ItemsSearch>(item_search::search),
        on::<op::ItemsSearchOrg>(item_search::search_org),
        on::<op::StacSearch>(item_search::stac_search),
        on::<op::StacCollectionsList>(item_search::stac_collections),
        on::<op::UsageCurrent>(usage::current),
        on::<op::UsageHistory>(usage::history),
        on::<op::UsageRecalculateStorage>(usage::recalculate_storage),
        on::<op::NotificationsList>(notifications::list),
        on::<op::NotificationsUnreadCount>(notifications::unread_count),
        on::<op::NotificationsMarkRead>(notifications::mark_read),
        on::<op::NotificationsDismiss>(notifications::dismiss),
        on::<op::NotificationsMarkAllRead>(notifications::mark_all_read),
        on::<op::EulasList>(eulas::list),
        on::<op::EulasGet>(eulas::get),
        on::<op::EulasDocumentsList>(eulas::documents),
        on::<op::EulasDocumentGet>(eulas::document),
        on::<op::EulasDocumentAccept>(eulas::accept),
        on::<op::OrganizationsCreate>(account::create_organization),
        on::<op::ShareLinkCreate>(sharing::create),
        on::<op::ShareLinkRevoke>(sharing::revoke),
        on::<op::ShareLinkValidate>(sharing::validate),
        on::<op::ShareTilejson>(sharing::tilejson),
        on::<op::OrdersTaskingTemplatesSave>(account::save_template),
        on::<op::OrdersTaskingTemplatesList>(account::list_templates),
        on::<op::OrdersTaskingTemplatesDelete>(account::delete_template),
        on::<op::PaymentMethodsCreateSetupIntent>(account::create_setup_intent),
        on::<op::PaymentMethodsAttach>(account::attach_payment_method),
        on::<op::PaymentMethodsSetDefault>(account::set_default_payment_method),
        on::<op::PaymentMethodsDetach>(account::detach_payment_method),
        on::<op::PaymentMethodsList>(account::list_payment_methods),
        on::<op::BillingApprovalsRequest>(account::request_approval),
        on::<op::BillingApprovalsApprove>(account::approve),
        on::<op::BillingApprovalsReject>(account::reject),
        on::<op::BillingApprovalsGet>(account::get_approval),
        on::<op::BillingApprovalsList>(account::list_approvals),
        on::<op::BillingSetAutoTopup>(account::set_auto_topup),
        on::<op::BillingAutoTopupGet>(account::get_auto_topup),
        on_json::<op::ProcessingCreate>(jobs::create),
        on_json::<op::ProcessingCreateAndDispatch>(jobs::create_and_dispatch),
        on::<op::ProcessingDispatch>(jobs::dispatch),
        on::<op::ProcessingExecute>(jobs::execute),
        on::<op::ProcessingJobGet>(jobs::get),
        on::<op::ProcessingJobsList>(jobs::list),
        on::<op::ProcessingProjectJobsList>(jobs::project_jobs),
        on::<op::ProcessingProjectJobGet>(jobs::project_job_get),
        on::<op::ProcessingJobDelete>(jobs::delete),
        on::<op::ProcessingJobRegister>(jobs::register),
        on::<op::ProcessingJobTileInfo>(jobs::tile_info),
        on_json::<op::ClipCreateFromItem>(jobs::clip_from_item),
        on::<op::ClipCreateFromArea>(jobs::clip_from_area),
        on::<op::ClipJobGet>(jobs::clip_get),
        on::<op::ClipJobsList>(jobs::clip_list),
        on::<op::ClipJobDownloads>(jobs::clip_downloads),
        on::<op::ClipJobDownload>(jobs::clip_download),
        on::<op::ClipJobTileInfo>(jobs::clip_tile_info),
        on::<op::ClipJobDelete>(jobs::clip_delete),
        on::<op::UploadsInitiate>(uploads::initiate),
        on::<op::UploadsSignedUrl>(uploads::signed_url),
        on::<op::UploadsProgress>(uploads::progress),
        on_json::<op::UploadsComplete>(uploads::complete),
        on::<op::UploadsFail>(uploads::fail),
    ])
});

/// The operations [`execute`] runs itself because they await outbound HTTP calls.
const ASYNC_HANDLED: &[&str] = &[
    op::WebhooksDrain::INFO.id,
    op::EventSubscriptionsTest::INFO.id,
];

/// Whether the operation awaits webhook deliveries, which take as long as a receiver lets
/// them.
pub(crate) fn awaits_deliveries(operation_id: &str) -> bool {
    ASYNC_HANDLED.contains(&operation_id)
}

/// Whether a read-scoped operation may still change what the state file keeps:
/// `alerts.test_rule` records the alert events it triggers.
pub(crate) fn records_on_read(operation_id: &str) -> bool {
    operation_id == op::AlertsTestRule::INFO.id
}

/// Runs an operation on a validated body. The two operations that make outbound HTTP
/// calls are awaited here; every other one is synchronous.
///
/// # Errors
/// Domain failures (unknown resources, conflicts, insufficient credits) as [`ApiError`].
pub(crate) async fn execute(ctx: &Ctx<'_>, body: Value) -> Outcome {
    if ctx.op.id == op::WebhooksDrain::INFO.id {
        return webhooks::drain(ctx, input::decode(ctx.op, body)?).await;
    }
    if ctx.op.id == op::EventSubscriptionsTest::INFO.id {
        return webhooks::test(ctx, input::decode(ctx.op, body)?).await;
    }
    match HANDLERS.get(ctx.op.id) {
        Some(handler) => handler(ctx, body),
        None => {
            // A sample keeps nothing, yet names no other organization's data: only Geopera's
            // own back-office operations (`admin:` scopes) reach across organizations.
            let named = body.get("organization_id").and_then(Value::as_str);
            if let Some(org) = named.filter(|_| !ctx.op.is_admin()) {
                ctx.own_org(org)?;
            }
            places::check(ctx.op.id, &body)?;
            if let Some(picture) = tiles::analytics_picture(ctx, &body)? {
                return Ok(picture);
            }
            Ok(ctx.ok(&sample_output(ctx)))
        }
    }
}

/// A deterministic sample of the operation's output shape, or an acknowledgement when the
/// contract leaves the output open.
fn sample_output(ctx: &Ctx<'_>) -> Value {
    match ctx.op.output.resolve() {
        Shape::Any => json!({"ok": true, "operation_id": ctx.op.id}),
        _ => sample(ctx.op.output, ctx.shared.seed ^ fnv(ctx.op.id)),
    }
}

/// `n` random bytes from the operating system, as hex, for the tokens and signatures
/// operations hand out.
///
/// # Errors
/// 500 when the operating system has no randomness to give.
fn random_hex(n: usize) -> Result<String, ApiError> {
    crate::rng::os_hex(n).map_err(|_| {
        ApiError::problem(StatusCode::INTERNAL_SERVER_ERROR, "no randomness available")
    })
}

/// One page in the `page`/`size` style of `orders.list` (Spring's): `page` from 0, `size`
/// clamped to 1..=[`MAX_PAGE_SIZE`], as the contract bounds neither. Only the page's members
/// go through `answer`.
fn numbered_page_of<T>(all: Vec<T>, page: i64, size: i64, answer: impl FnMut(T) -> Value) -> Value {
    let page = page.max(0);
    let size = size.clamp(1, MAX_PAGE_SIZE);
    let total = all.len() as i64;
    let start = usize::try_from(page.saturating_mul(size)).unwrap_or(usize::MAX);
    let content: Vec<Value> = all
        .into_iter()
        .skip(start)
        .take(size as usize)
        .map(answer)
        .collect();
    json!({
        "content": content,
        "page": page,
        "size": size,
        "totalElements": total,
        "totalPages": (total + size - 1) / size,
    })
}

/// The longest name kept, trimmed. Where the contract bounds a name, the validator has held
/// it to that bound before (and trimming only shortens it); where it sets none (alert rules,
/// a duplicate's new name) a name still lists and echoes in every answer, so it is held to
/// this bound of the emulator's own, as long as the longest item name the contract allows.
const MAX_NAME_CHARS: usize = 500;

/// The members of a comma-separated filter (`orderIds=a,b`), or none when it names nothing.
/// A set: every record listed is looked up in it, which costs the same however long the
/// filter; compared one by one, a body of a million members cost seconds under the state lock
/// for each request.
fn comma_listed(filter: Option<&str>) -> Option<HashSet<&str>> {
    let members: HashSet<&str> = filter?
        .split(',')
        .map(str::trim)
        .filter(|member| !member.is_empty())
        .collect();
    (!members.is_empty()).then_some(members)
}

/// `name`, the input's member `field`, trimmed, when that leaves some characters: a blank
/// name would list as nothing.
///
/// # Errors
/// 422 at `field` for a blank name, or one longer than [`MAX_NAME_CHARS`].
fn trimmed_name(name: &str, field: &str) -> Result<String, ApiError> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(ApiError::invalid(
            &[field],
            format!("{field} must not be blank"),
        ));
    }
    if trimmed.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::invalid(
            &[field],
            format!("{field} must be at most {MAX_NAME_CHARS} characters"),
        ));
    }
    Ok(trimmed.to_owned())
}

/// `answered` in the order a Spring `sort` asks (`field` or `field,asc|desc`, upward when
/// no direction is given), `field` one of `fields` (in any case): numbers by value, anything
/// else as text, case-blind. Ties keep their order upward and reverse it downward, so that a
/// list kept oldest first is newest first when sorted down by a date all share.
///
/// The contract takes any text for `sort`, so none is refused: a field not in `fields` sorts
/// by the first of them (the operation's default), and a direction other than `desc` is
/// upward.
fn spring_sorted(mut answered: Vec<Value>, sort: &str, fields: &[&str]) -> Vec<Value> {
    let (field, direction) = sort.split_once(',').unwrap_or((sort, "asc"));
    let Some(field) = fields
        .iter()
        .find(|known| known.eq_ignore_ascii_case(field.trim()))
        .or(fields.first())
    else {
        return answered;
    };
    let ascending = !direction.trim().eq_ignore_ascii_case("desc");
    let compare = |a: &Value, b: &Value| match (a.as_f64(), b.as_f64()) {
        (Some(a), Some(b)) => a.total_cmp(&b),
        _ => {
            let text = |v: &Value| v.as_str().unwrap_or_default().to_lowercase();
            text(a).cmp(&text(b))
        }
    };
    if ascending {
        answered.sort_by(|a, b| compare(&a[*field], &b[*field]));
    } else {
        answered.reverse();
        answered.sort_by(|a, b| compare(&b[*field], &a[*field]));
    }
    answered
}

/// [`numbered_page_of`] over members already answered.
fn numbered_page(all: Vec<Value>, page: i64, size: i64) -> Value {
    numbered_page_of(all, page, size, |value| value)
}

/// Credits as Australian dollars (100 credits = A$1).
fn aud(credits: i64) -> f64 {
    credits as f64 / 100.0
}

/// Australian dollars as whole credits, bounded so sums never overflow.
fn to_credits(aud: f64) -> i64 {
    (aud * 100.0).round().clamp(0.0, 1e15) as i64
}
