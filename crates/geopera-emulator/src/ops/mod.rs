//! What each operation does once a call has passed the pipeline, grouped by family. Each
//! family function takes the operation's own input model from `geopera_types` (a free-form
//! [`JsonObject`] where the contract declares none); the table below ties every function
//! to its operation's descriptor type, so the compiler checks that they agree. Operations
//! without a function answer a sample of their output shape.

mod billing;
mod catalog;
mod input;
mod items;
mod keys;
mod orders;
mod tiles;
mod webhooks;

use std::collections::HashMap;
use std::sync::LazyLock;

use geopera_types::operations as op;
use geopera_types::sample::sample;
use geopera_types::{JsonObject, Operation, OperationInfo, Shape};
use http::StatusCode;
use serde_json::{json, Value};

use crate::error::{ApiError, Reply};
use crate::rng::fnv;
use crate::state::Shared;

pub use keys::{MAX_KEY_LIFETIME_DAYS, MAX_KEY_PERMISSIONS, MAX_KEY_RATE_LIMIT, MAX_SCOPE_CHARS};

/// The largest page `orders.list` and `items.list` answer; larger requests get this many.
pub const MAX_PAGE_SIZE: i64 = 1000;

/// Everything an operation may look at: the emulator, the operation, and who is calling.
pub(crate) struct Ctx<'a> {
    pub shared: &'a Shared,
    pub op: &'static OperationInfo,
    /// The calling organization.
    pub org: &'a str,
    /// The grants of the calling credential.
    pub grants: &'a [String],
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

    /// The emulator's time in Unix seconds.
    pub fn now(&self) -> i64 {
        self.shared.clock.now_secs()
    }
}

type Outcome = Result<Reply, ApiError>;
type Handler = Box<dyn Fn(&Ctx<'_>, Value) -> Outcome + Send + Sync>;

/// An entry of [`HANDLERS`]: `run` receives the body decoded into `O`'s input model.
fn on<O: Operation>(run: fn(&Ctx<'_>, O::Input) -> Outcome) -> (&'static str, Handler) {
    let handler = move |ctx: &Ctx<'_>, body: Value| run(ctx, input::decode(ctx.op.input, body)?);
    (O::INFO.id, Box::new(handler))
}

/// An entry of [`HANDLERS`] whose `run` reads the body as JSON rather than as `O`'s model.
fn on_json<O: Operation>(run: fn(&Ctx<'_>, JsonObject) -> Outcome) -> (&'static str, Handler) {
    let handler = move |ctx: &Ctx<'_>, body: Value| run(ctx, input::decode(ctx.op.input, body)?);
    (O::INFO.id, Box::new(handler))
}

static HANDLERS: LazyLock<HashMap<&'static str, Handler>> = LazyLock::new(|| {
    HashMap::from([
        // Read by the same reader as the free-form `catalog.search_stream`, which is more
        // lenient than the model (cloud-cover operators in any letter case).
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
        on::<op::ItemsList>(items::list),
        on::<op::ItemsGetStac>(items::get_stac),
        on::<op::CatalogTileRender>(tiles::catalog_render),
        on::<op::CogTileRender>(tiles::cog_render),
        on::<op::CogTileTerrain>(tiles::cog_terrain),
        on::<op::CogThumbnail>(tiles::cog_thumbnail),
        on::<op::ItemsTileRender>(tiles::items_render),
        on::<op::ItemsTileWmtsGetTile>(tiles::items_wmts_tile),
        on::<op::ItemsTileWmtsCapabilities>(tiles::items_wmts_capabilities),
        on::<op::ShareTileRender>(tiles::share_render),
        on::<op::EventSubscriptionsCreate>(webhooks::create),
        on::<op::EventSubscriptionsGet>(webhooks::get),
        on::<op::EventSubscriptionsList>(webhooks::list),
        on::<op::EventSubscriptionsUpdate>(webhooks::update),
        on::<op::EventSubscriptionsDelete>(webhooks::delete),
    ])
});

/// Runs an operation on a validated body. The two operations that make outbound HTTP
/// calls are awaited here; every other one is synchronous.
///
/// # Errors
/// Domain failures (unknown resources, conflicts, insufficient credits) as [`ApiError`].
pub(crate) async fn execute(ctx: &Ctx<'_>, body: Value) -> Outcome {
    if ctx.op.id == op::WebhooksDrain::INFO.id {
        return webhooks::drain(ctx, input::decode(ctx.op.input, body)?).await;
    }
    if ctx.op.id == op::EventSubscriptionsTest::INFO.id {
        return webhooks::test(ctx, input::decode(ctx.op.input, body)?).await;
    }
    match HANDLERS.get(ctx.op.id) {
        Some(handler) => handler(ctx, body),
        None => Ok(ctx.ok(&sample_output(ctx))),
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

/// Credits as Australian dollars (100 credits = A$1).
fn aud(credits: i64) -> f64 {
    credits as f64 / 100.0
}

/// Australian dollars as whole credits, bounded so sums never overflow.
fn to_credits(aud: f64) -> i64 {
    (aud * 100.0).round().clamp(0.0, 1e15) as i64
}
