//! The HTTP surface: which paths exist, and what every `/v1/op/{id}` request goes through
//! before the pipeline sees it (body limits, the request log, the access log).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, put};
use axum::{Extension, Router};
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode, Uri};

use crate::body_deadline::BodyShare;
use crate::conn::ConnKill;
use crate::error::{ApiError, ApiPath, Reply};
use crate::op_body::OpBody;
use crate::recording::RecordedRequest;
use crate::request_id::{self, RequestId};
use crate::state::Shared;
use crate::{control, images, oidc, pipeline};

/// Builds the router over shared state.
pub(crate) fn router(
    shared: Arc<Shared>,
    control: bool,
    hosts: crate::hosts::AllowedHosts,
) -> Router {
    let body_limit = shared.body_limit;
    let mut router = Router::new()
        .route("/v1/op/{id}", any(invoke))
        .route("/openapi.json", get(openapi))
        // GET (and so HEAD), and POST: the 307 of `catalog.image.quicklook` / `.thumbnail`
        // makes a client repeat its POST at the new location. No request leads anywhere
        // here with another method, so those are 405 with `Allow`.
        .route("/assets/{kind}/{*file}", get(asset).post(asset))
        // The tiles of a WMTS capabilities document whose `base_url` is this emulator.
        .route(
            "/wmts/{item}/{matrix_set}/{level}/{column}/{row}",
            get(wmts_tile),
        )
        .merge(stac_routes(shared.clone()));
    if control {
        router = router.merge(control::router(shared.clone()));
    }
    // Every body above must arrive within one deadline, and the bytes of those arriving share
    // one budget; an upload's body gets a deadline in proportion to its size and is never held
    // (`crate::body_deadline`, `crate::uploads`).
    router = router.layer(axum::middleware::from_fn_with_state(
        crate::body_deadline::BodyBudget::for_limit(body_limit),
        crate::body_deadline::bound,
    ));
    // The sign-in forms are read before anyone is known (a form names its client, and is
    // throttled once read): their bytes share a budget of their own, as large as the one a
    // keyed caller's bodies draw on, so that forms left unfinished by nobody in particular
    // cannot spend that one, while it takes as many of them (thousands of 16 KiB forms) to
    // hold sign-in up as it took before.
    let forms = oidc::router(body_limit).layer(axum::middleware::from_fn_with_state(
        crate::body_deadline::BodyBudget::for_limit(body_limit),
        crate::body_deadline::bound,
    ));
    router
        .merge(forms)
        // Signed upload URLs: streamed, bounded by the upload's declared size rather than
        // the body limit, which its raw `Body` extractor does not apply (`crate::uploads`).
        .route(
            "/uploads/{upload_id}/{token}/{file_name}",
            put(crate::uploads::receive),
        )
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(
            hosts,
            crate::hosts::known_host,
        ))
        // Outermost, so that every answer carries its id, a refused host's included.
        .layer(axum::middleware::from_fn(request_id::layer))
        .with_state(shared)
}

/// Where the links of STAC documents lead (`crate::stac_links`). Each runs operations as
/// its caller, so each is in the request log and the access log as an operation's request
/// is; the operations it runs are not logged again.
fn stac_routes(shared: Arc<Shared>) -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/collections/{collection_id}",
            get(crate::stac_links::collection),
        )
        .route(
            "/collections/{collection_id}/items",
            get(crate::stac_links::collection_items),
        )
        .route(
            "/collections/{collection_id}/items/{item_id}",
            get(crate::stac_links::collection_item),
        )
        .route("/items/{item_id}", get(crate::stac_links::item))
        .route_layer(axum::middleware::from_fn_with_state(shared, recorded))
}

/// Records and logs a request to a route other than `/v1/op/{id}`, as [`invoke`] does an
/// operation's. The access log names the route by its template, never by the client's path.
async fn recorded(
    State(shared): State<Arc<Shared>>,
    route: Option<MatchedPath>,
    request_id: Option<Extension<RequestId>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let request_id = request_id.map_or_else(String::new, |Extension(id)| id.as_str().to_owned());
    let method = request.method().clone();
    let mut recording = Recording::start(
        &shared,
        None,
        &method,
        request.uri(),
        request.headers(),
        &Bytes::new(),
        &request_id,
    );
    let response = next.run(request).await;
    let status = response.status().as_u16();
    recording.answered(status);
    tracing::info!(
        method = %method,
        route = route.as_ref().map_or("", MatchedPath::as_str),
        request_id = %request_id,
        status,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "request"
    );
    response
}

async fn no_route(uri: Uri) -> ApiError {
    ApiError::not_found(format!("no route for '{}'", uri.path()))
}

/// axum adds the `Allow` header; this gives the answer the API's body.
async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::problem(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("'{}' does not answer {method}", uri.path()),
    )
}

async fn openapi(State(shared): State<Arc<Shared>>) -> Response {
    match &shared.spec {
        Some(spec) => Reply {
            status: StatusCode::OK,
            content_type: "application/json",
            headers: Vec::new(),
            body: spec.clone(),
        }
        .into_response(),
        None => ApiError::not_found("this emulator was started without a spec").into_response(),
    }
}

/// The `/assets/{kind}/` the emulator links to that anyone may fetch: quicklook and thumbnail
/// redirects (`quicklook`, `thumbnail`), the catalog's STAC assets (`data`), TileJSON and
/// job tile templates (`tiles`) and a share link's tiles (`share`, while the link is live).
const PUBLIC_ASSET_KINDS: [&str; 5] = [
    "quicklook",
    "thumbnail",
    "data",
    "tiles",
    crate::ops::SHARE_TILES_KIND,
];

/// Where quicklooks and thumbnails redirect to, where catalog items' asset links point, where
/// a live share link's tiles are, and where signed download links lead (a finished job's, an
/// item's asset's, an order's): pictures drawn from the seed and the path (PNG or JPEG by
/// extension, thumbnails smaller), any other file a stand-in TIFF; 404 under any other kind.
async fn asset(
    State(shared): State<Arc<Shared>>,
    ApiPath((kind, file)): ApiPath<(String, String)>,
    uri: Uri,
) -> Response {
    // One spelling per file. Without this, an empty, `.` or `..` segment, or a signed kind
    // in other letters, would name a signed file by a path the signature is never asked for.
    let aliased = |segment: &str| matches!(segment, "" | "." | "..");
    if aliased(&kind) || file.split('/').any(aliased) {
        return ApiError::not_found("no asset at this path: it has an empty, '.' or '..' segment")
            .into_response();
    }
    // A finished job's files, and items' assets and orders given for download, are behind
    // signed links that expire.
    let signed = crate::downloads::SIGNED_KINDS
        .iter()
        .any(|signed| signed.eq_ignore_ascii_case(&kind));
    if signed {
        let now = shared.clock.now_secs();
        if let Err(refused) = shared.download_key.check(uri.path(), uri.query(), now) {
            return refused.into_response();
        }
        if !crate::downloads::source_exists(&shared.lock(), &kind, &file) {
            return ApiError::not_found("the file of this download link has been deleted")
                .into_response();
        }
    }
    // A share link's tiles are served while the link is live (see `share_tiles_live`);
    // revoked, expired or never issued, its tiles key names nothing.
    if kind.eq_ignore_ascii_case(crate::ops::SHARE_TILES_KIND) {
        let key = file.split('/').next().unwrap_or_default();
        let now = shared.clock.now_secs();
        if !crate::ops::share_tiles_live(&shared.lock().resources, key, now) {
            return ApiError::not_found(
                "no live share link has these tiles: take their URL from share.tilejson",
            )
            .into_response();
        }
    }
    // Only what the emulator links to is served. Within these, any file is drawn from its
    // path, as the catalog's are; an organization's item files are signed downloads.
    let linked = signed
        || PUBLIC_ASSET_KINDS
            .iter()
            .any(|public| public.eq_ignore_ascii_case(&kind));
    if !linked {
        return ApiError::not_found(format!(
            "no asset at this path: the emulator serves /assets/ under {} only",
            PUBLIC_ASSET_KINDS
                .iter()
                .chain(&crate::downloads::SIGNED_KINDS)
                .copied()
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .into_response();
    }
    // A tile off the grid is no tile, as the operations that render tiles say (422 there).
    let tiled = kind.eq_ignore_ascii_case("tiles")
        || kind.eq_ignore_ascii_case(crate::ops::SHARE_TILES_KIND);
    if tiled && images::on_grid(&file) == Some(false) {
        return ApiError::not_found(format!(
            "no tile at this path: x and y run from 0 to 2^z - 1, z from 0 to {}",
            images::MAX_ZOOM
        ))
        .into_response();
    }
    let Some(format) = images::Format::from_file(&file) else {
        return Reply {
            status: StatusCode::OK,
            content_type: "image/tiff",
            headers: Vec::new(),
            body: Bytes::from_static(b"II*\0emulated raster"),
        }
        .into_response();
    };
    let side = if kind == "thumbnail" {
        images::TILE_SIZE / 2
    } else {
        images::TILE_SIZE
    };
    let key = format!("assets/{kind}/{file}");
    match images::picture(shared.seed, &key, side, side, format, 85) {
        Ok(body) => Reply {
            status: StatusCode::OK,
            content_type: format.content_type(),
            headers: Vec::new(),
            body,
        }
        .into_response(),
        Err(error) => ApiError::from(error).into_response(),
    }
}

/// A WMTS tile by its RESTful path ([`crate::ops::tiles::wmts_rest_tile`]).
async fn wmts_tile(
    State(shared): State<Arc<Shared>>,
    ApiPath((item, matrix_set, level, column, row)): ApiPath<(
        String,
        String,
        String,
        String,
        String,
    )>,
) -> Response {
    crate::ops::tiles::wmts_rest_tile(shared.seed, &item, &matrix_set, &level, &column, &row)
        .map_or_else(IntoResponse::into_response, IntoResponse::into_response)
}

/// Records the request when dropped, with the status if one was produced; a reset drops the
/// handler mid-way and is recorded with no status.
struct Recording {
    shared: Arc<Shared>,
    request: Option<RecordedRequest>,
    keeps_bodies: bool,
}

impl Recording {
    /// The log entry of a request, kept once dropped.
    fn start(
        shared: &Arc<Shared>,
        operation_id: Option<String>,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &Bytes,
        request_id: &str,
    ) -> Self {
        let inner = shared.lock();
        let mut entry = inner.requests.entry(
            operation_id,
            method.to_string(),
            uri.path().to_owned(),
            headers,
            body,
        );
        entry.request_id = request_id.to_owned();
        Recording {
            shared: shared.clone(),
            request: Some(entry),
            keeps_bodies: inner.requests.keeps_bodies(),
        }
    }

    /// Keeps the body once it has been read, if the log keeps bodies.
    fn read(&mut self, body: Bytes) {
        if let Some(request) = self.request.as_mut().filter(|_| self.keeps_bodies) {
            request.body = body;
        }
    }

    fn answered(&mut self, status: u16) {
        if let Some(request) = self.request.as_mut() {
            request.status = Some(status);
        }
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        if let Some(request) = self.request.take() {
            self.shared.lock().requests.push(request);
        }
    }
}

/// The most characters of an unknown operation id the access log shows.
const LOGGED_UNKNOWN_ID_CHARS: usize = 64;

/// The operation as the access log names it. The path segment is the client's, decoded, and
/// logged before it is looked up, so an unknown one is shown escaped and cut short: raw, its
/// line breaks would forge log lines and its escapes would steer the reader's terminal.
fn logged_operation(id: &str) -> String {
    if let Some(op) = geopera_types::operations::find(id) {
        return op.id.to_owned();
    }
    let mut shown: String = id
        .chars()
        .take(LOGGED_UNKNOWN_ID_CHARS)
        .flat_map(char::escape_default)
        .collect();
    if id.chars().nth(LOGGED_UNKNOWN_ID_CHARS).is_some() {
        shown.push_str("...");
    }
    format!("unknown \"{shown}\"")
}

#[allow(clippy::too_many_arguments, reason = "axum extractors")]
async fn invoke(
    State(shared): State<Arc<Shared>>,
    ApiPath(id): ApiPath<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    kill: Option<Extension<ConnKill>>,
    request_id: Option<Extension<RequestId>>,
    share: Option<Extension<BodyShare>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let request_id = request_id.map_or_else(String::new, |Extension(id)| id.as_str().to_owned());
    let mut recording = Recording::start(
        &shared,
        Some(id.clone()),
        &method,
        &uri,
        &headers,
        &Bytes::new(),
        &request_id,
    );
    let share = share.map(|Extension(share)| share);
    // A page of another site reaches `webhooks.drain`, which needs no credentials, and would
    // spend the budget the machine's sign-ins draw on: refused before the pipeline counts it,
    // and recorded and logged as any refusal is.
    let response = if crate::hosts::foreign_write_of(&method, &uri, &headers) {
        crate::hosts::foreign_operation()
    } else {
        // A body announced over the limit is answered, and recorded, like any other request.
        match OpBody::new(body, &headers, shared.body_limit, share) {
            Err(too_large) => too_large.into_response(),
            Ok(mut body) => {
                let request = pipeline::Request {
                    id: &id,
                    peer,
                    method: &method,
                    headers: &headers,
                    body: &mut body,
                };
                let response =
                    pipeline::run(&shared, request, kill.map(|Extension(kill)| kill)).await;
                recording.read(body.bytes());
                body.discard().await;
                response
            }
        }
    };
    let status = response.status().as_u16();
    recording.answered(status);
    tracing::info!(
        method = %method,
        operation = %logged_operation(&id),
        request_id = %request_id,
        status,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "request"
    );
    response
}
