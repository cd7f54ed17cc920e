//! Signing in: the OAuth 2.0 / OpenID Connect endpoints of the `public` realm, as the API's
//! identity provider lays them out (`/realms/public/protocol/openid-connect/...`).
//!
//! Every answer here is OAuth's own JSON (`{"error", "error_description"}` on failure), never
//! problem+json. Bodies and tokens are neither recorded nor logged.

mod device_page;
pub(crate) mod sessions;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use bytes::Bytes;
use http::header::{
    HeaderName, HeaderValue, ALLOW, AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, HOST, PRAGMA,
    RETRY_AFTER, WWW_AUTHENTICATE,
};
use http::{HeaderMap, Method, StatusCode};
use serde::Serialize;
use serde_json::{json, Value};

use crate::records::{Credential, KeyWindow};
use crate::scopes::{covers, KNOWN_GRANTS};
use crate::state::{Inner, Shared, ALL_SCOPES, DEMO_ORG};
use sessions::{
    same_secret, GrantKind, Issued, Presenter, Principal, PrincipalKind, Redeemed, Rejected,
    Revocation, Sessions, DEVICE_CODE_SECS, DEVICE_INTERVAL_SECS,
};

/// The confidential client of `client_credentials`; its secret is a `gpra_` API key.
pub use geopera_types::oidc::KEY_CLIENT_ID as KEY_CLIENT;
/// The public client the CLI uses: device logins, passwords and refreshes, no secret.
pub use geopera_types::oidc::PUBLIC_CLIENT_ID as PUBLIC_CLIENT;
/// The realm's path; every sign-in endpoint lives below it.
pub use geopera_types::oidc::REALM;
use geopera_types::oidc::{
    codes, endpoint, issuer, DEFAULT_SCOPE, DEVICE_CODE_GRANT as DEVICE_GRANT, DEVICE_ENDPOINT,
    LOGOUT_ENDPOINT, REVOKE_ENDPOINT, TOKEN_ENDPOINT, USERINFO_ENDPOINT,
};
/// The largest form body the sign-in endpoints read (and never more than the emulator's
/// own body limit).
pub const FORM_LIMIT: usize = 16 * 1024;
/// The endpoint of the provider's signing keys (its `jwks_uri`), which only the emulator
/// names: clients read its tokens as opaque.
const CERTS_ENDPOINT: &str = "certs";
/// The OpenID Connect scopes a token may carry besides permissions.
const OIDC_SCOPES: &[&str] = &["openid", "profile", "email", "offline_access"];

/// A demo user who can sign in with a password or approve a device login.
///
/// ```
/// use geopera_emulator::{Emulator, User};
///
/// let emulator = Emulator::builder()
///     .user(User::new("analyst", "s3cret").grants(&["catalog:read", "orders:*"]))
///     .start()?;
/// assert!(emulator.users().iter().any(|user| user.username() == "analyst"));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct User {
    username: String,
    password: String,
    org: String,
    grants: Vec<String>,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .field("org", &self.org)
            .field("grants", &self.grants)
            .finish()
    }
}

impl User {
    /// A user of [`DEMO_ORG`] holding every scope; narrow it with [`grants`](Self::grants).
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        User {
            username: username.into(),
            password: password.into(),
            org: DEMO_ORG.to_owned(),
            grants: vec![ALL_SCOPES.to_owned()],
        }
    }

    /// The organization the user acts in (default [`DEMO_ORG`]).
    #[must_use]
    pub fn org(mut self, org: impl Into<String>) -> Self {
        self.org = org.into();
        self
    }

    /// What the user may do, as grants like `orders:*`, `*:read` or `*` (default `*`).
    #[must_use]
    pub fn grants(mut self, grants: &[&str]) -> Self {
        self.grants = grants.iter().map(|grant| (*grant).to_owned()).collect();
        self
    }

    /// The name to sign in with.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The password to sign in with.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// The organization the user acts in.
    pub fn org_id(&self) -> &str {
        &self.org
    }

    /// The user's grants.
    pub fn granted(&self) -> &[String] {
        &self.grants
    }

    /// The user's subject (`sub`), `usr_<username>`.
    pub fn subject(&self) -> String {
        format!("usr_{}", self.username)
    }

    fn principal(&self) -> Principal {
        Principal {
            kind: PrincipalKind::User,
            id: self.subject(),
            name: self.username.clone(),
            org: self.org.clone(),
            grants: self.grants.clone(),
            key_limit: None,
            inherited_limits: Vec::new(),
            key_expires_at: None,
        }
    }
}

/// The demo users every emulator starts with unless the builder replaces them: `admin`
/// (every scope) and `viewer` (`*:read`), both of [`DEMO_ORG`].
pub fn demo_users() -> Vec<User> {
    vec![
        User::new("admin", "admin-password"),
        User::new("viewer", "viewer-password").grants(&["*:read"]),
    ]
}

/// How often the sign-in endpoints did what, since the emulator started.
///
/// Requests are counted by the answer they got: one whose change the state file could not
/// keep was undone and answered 503, so it counts as a token error (`logout` and `revoke`:
/// as nothing), not as a grant, a detected reuse or a revocation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct OidcCounters {
    /// `password` grants answered with tokens.
    pub password_grants: u64,
    /// `client_credentials` grants answered with tokens.
    pub client_credentials_grants: u64,
    /// `refresh_token` grants answered with tokens.
    pub refresh_grants: u64,
    /// Device-code grants answered with tokens.
    pub device_code_grants: u64,
    /// Token requests answered with an error (pending device polls included).
    pub token_errors: u64,
    /// Rotated refresh tokens presented again, each of which ended its session.
    pub refresh_reuse_detected: u64,
    /// Device logins started at `auth/device`.
    pub device_authorizations: u64,
    /// `userinfo` requests answered 200.
    pub userinfo: u64,
    /// Sessions or tokens ended by `logout` or `revoke`.
    pub revocations: u64,
}

/// The grant a token answer served, for the counter it adds to.
#[derive(Clone, Copy, Debug)]
enum Served {
    Password,
    ClientCredentials,
    Refresh,
    DeviceCode,
}

impl OidcCounters {
    fn served(&mut self, grant: Served) {
        *match grant {
            Served::Password => &mut self.password_grants,
            Served::ClientCredentials => &mut self.client_credentials_grants,
            Served::Refresh => &mut self.refresh_grants,
            Served::DeviceCode => &mut self.device_code_grants,
        } += 1;
    }
}

/// An OAuth 2.0 error answer (RFC 6749 §5.2).
#[derive(Debug)]
pub struct OAuthError {
    pub status: StatusCode,
    pub error: &'static str,
    pub description: String,
    /// For 401s: the `WWW-Authenticate` challenge.
    pub challenge: Option<&'static str>,
    /// Extra headers such as `Allow`.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Whether the answer tells the client that a session was revoked: true only once the
    /// state file keeps the revocation, so a write that fails turns it into a 503.
    pub tells_of_revocation: bool,
    /// Whether the refusal ended a session, which the state file keeps, so that the token
    /// endpoint writes the file: any other refusal changes nothing the file holds (device
    /// logins still waiting are not kept), and a wrong password written for would be a file
    /// transaction per guess.
    pub ended: bool,
}

impl OAuthError {
    pub fn new(status: u16, error: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            error,
            description: description.into(),
            challenge: None,
            headers: Vec::new(),
            tells_of_revocation: false,
            ended: false,
        }
    }

    /// This refusal, having ended what the state file keeps ([`OAuthError::ended`]).
    pub fn ending(self) -> Self {
        OAuthError {
            ended: true,
            ..self
        }
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(400, codes::INVALID_REQUEST, description)
    }

    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(400, codes::INVALID_GRANT, description)
    }

    pub fn invalid_scope(description: impl Into<String>) -> Self {
        Self::new(400, codes::INVALID_SCOPE, description)
    }

    pub fn unauthorized_client(description: impl Into<String>) -> Self {
        Self::new(400, codes::UNAUTHORIZED_CLIENT, description)
    }

    pub fn invalid_client(description: impl Into<String>) -> Self {
        OAuthError {
            challenge: Some("Basic realm=\"public\""),
            ..Self::new(401, codes::INVALID_CLIENT, description)
        }
    }

    pub fn invalid_token(description: impl Into<String>) -> Self {
        OAuthError {
            challenge: Some("Bearer realm=\"public\", error=\"invalid_token\""),
            ..Self::new(401, codes::INVALID_TOKEN, description)
        }
    }

    pub fn unavailable(description: impl Into<String>) -> Self {
        Self::new(503, codes::TEMPORARILY_UNAVAILABLE, description)
    }

    pub fn server(description: impl Into<String>) -> Self {
        Self::new(500, codes::SERVER_ERROR, description)
    }
}

/// A state file that could not be written or read back (the only `ApiError`s the sign-in
/// endpoints meet), in OAuth's shape: an OAuth client reads `error` and its description, and
/// would take a problem+json answer for one it cannot read.
impl From<crate::error::ApiError> for OAuthError {
    fn from(error: crate::error::ApiError) -> Self {
        let (status, description, headers) = match error {
            crate::error::ApiError::Problem {
                status,
                detail,
                headers,
                ..
            } => (status, detail, headers),
            crate::error::ApiError::Validation(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the request could not be served".to_owned(),
                Vec::new(),
            ),
        };
        let code = if status == StatusCode::SERVICE_UNAVAILABLE {
            codes::TEMPORARILY_UNAVAILABLE
        } else {
            codes::SERVER_ERROR
        };
        OAuthError {
            headers,
            ..Self::new(status.as_u16(), code, description)
        }
    }
}

/// Counts a sign-in request (a token request, a device login started or decided) against the
/// budget of requests without credentials from its client's address, which the API's
/// anonymous operations draw from too: password guesses and device logins would otherwise be
/// free to make as fast as a client can send them.
///
/// # Errors
/// 429 `temporarily_unavailable` with `Retry-After` (seconds to the window's end) when the
/// budget is spent.
pub(crate) fn throttle(shared: &Shared, peer: SocketAddr) -> Result<(), OAuthError> {
    let budgets: Vec<_> = crate::limits::anonymous_budget(&shared.limits, peer.ip())
        .into_iter()
        .collect();
    crate::limits::admit(shared, &budgets).map_err(|secs| {
        let mut error = OAuthError::new(
            429,
            codes::TEMPORARILY_UNAVAILABLE,
            format!("too many sign-in requests from this address; retry in {secs} s"),
        );
        error.headers.push((RETRY_AFTER, HeaderValue::from(secs)));
        error
    })
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({"error": self.error, "error_description": self.description});
        let mut response = oauth_json(self.status, &body);
        let headers = response.headers_mut();
        if let Some(challenge) = self.challenge {
            headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        for (name, value) in self.headers {
            headers.insert(name, value);
        }
        response
    }
}

/// A JSON answer that no cache keeps (RFC 6749 §5.1).
fn oauth_json(status: StatusCode, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut response = (status, bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// The sign-in routes.
pub(crate) fn router(body_limit: usize) -> Router<Arc<Shared>> {
    let protocol = |name: &str| endpoint(REALM, name);
    Router::new()
        .route(
            &format!("{REALM}/.well-known/openid-configuration"),
            any(discovery),
        )
        .route(&protocol(TOKEN_ENDPOINT), any(token))
        .route(&protocol(DEVICE_ENDPOINT), any(device_authorization))
        .route(&protocol(USERINFO_ENDPOINT), any(userinfo))
        .route(&protocol(LOGOUT_ENDPOINT), any(logout))
        .route(&protocol(REVOKE_ENDPOINT), any(revoke))
        .route(&protocol(CERTS_ENDPOINT), any(certs))
        .route(&format!("{REALM}/device"), any(device_page::page))
        .route_layer(axum::middleware::from_fn(same_origin_writes))
        .layer(DefaultBodyLimit::max(FORM_LIMIT.min(body_limit)))
}

/// Refuses a sign-in request a web page of another site sent
/// ([`foreign_write`](crate::hosts::foreign_write)): open beside a running emulator, it could
/// not read the tokens, but could sign the published demo user in a hundred times (ending the
/// developer's own sessions) or spend the address's budget for requests without credentials.
async fn same_origin_writes(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if crate::hosts::foreign_write(&request) {
        return OAuthError::new(
            403,
            codes::ACCESS_DENIED,
            "sign-in requests are not taken from another site's pages",
        )
        .into_response();
    }
    next.run(request).await
}

/// The base URL clients reach the emulator at: the request's `Host` when it is a plain
/// host (and port), otherwise the address the emulator listens on.
fn public_base(shared: &Shared, headers: &HeaderMap) -> String {
    headers
        .get(HOST)
        .and_then(|host| host.to_str().ok())
        .filter(|host| {
            !host.is_empty()
                && host.len() <= 255
                && host
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || b".-:[]".contains(&byte))
        })
        .map_or_else(|| shared.base_url.clone(), |host| format!("http://{host}"))
}

/// 405 in OAuth's shape, naming the methods the endpoint answers.
fn method_not_allowed(allowed: &'static str) -> OAuthError {
    let mut error = OAuthError::new(
        405,
        codes::INVALID_REQUEST,
        format!("this endpoint answers {allowed}"),
    );
    error
        .headers
        .push((ALLOW, HeaderValue::from_static(allowed)));
    error
}

/// A form POSTed to a sign-in endpoint, handed to `handle`; any other method is 405.
fn posted<T>(
    method: &Method,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    handle: impl FnOnce(&Form) -> Result<T, OAuthError>,
) -> Result<T, OAuthError> {
    if *method != Method::POST {
        return Err(method_not_allowed("POST"));
    }
    handle(&Form::read(headers, body)?)
}

/// Logs one answered request without anything secret in it.
fn logged(endpoint: &'static str, started: Instant, response: Response) -> Response {
    tracing::info!(
        endpoint,
        status = response.status().as_u16(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "sign-in request"
    );
    response
}

/// An `application/x-www-form-urlencoded` body, each parameter at most once; empty values
/// count as absent (RFC 6749 §3.1).
struct Form(HashMap<String, String>);

impl Form {
    fn read(headers: &HeaderMap, body: Result<Bytes, BytesRejection>) -> Result<Form, OAuthError> {
        let body = body.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                OAuthError::new(
                    413,
                    codes::INVALID_REQUEST,
                    format!("the form body is larger than {FORM_LIMIT} bytes"),
                )
            } else if crate::body_deadline::is_over_budget(&rejection) {
                let mut error =
                    OAuthError::unavailable(crate::body_deadline::BodyBudgetSpent.to_string());
                let retry = crate::body_deadline::BUDGET_RETRY_AFTER_SECS;
                error.headers.push((RETRY_AFTER, HeaderValue::from(retry)));
                error
            } else if crate::body_deadline::is_deadline(&rejection) {
                OAuthError::new(
                    408,
                    codes::INVALID_REQUEST,
                    format!(
                        "the form body did not arrive within {} s",
                        crate::BODY_DEADLINE.as_secs()
                    ),
                )
            } else {
                OAuthError::invalid_request("the request body could not be read")
            }
        })?;
        let essence = headers
            .get(CONTENT_TYPE)
            .and_then(|kind| kind.to_str().ok())
            .and_then(|kind| kind.split(';').next())
            .map(|kind| kind.trim().to_ascii_lowercase());
        if essence.as_deref() != Some("application/x-www-form-urlencoded") {
            return Err(OAuthError::invalid_request(
                "the body must be application/x-www-form-urlencoded",
            ));
        }
        Form::parse(&body)
    }

    /// Reads the body as the URL standard's form parser does, except that a name or value
    /// whose bytes are not UTF-8 is refused where that parser puts U+FFFD in their place: a
    /// secret or code changed that way would be checked as something the client never sent.
    fn parse(body: &[u8]) -> Result<Form, OAuthError> {
        let mut values = HashMap::new();
        for pair in body
            .split(|&byte| byte == b'&')
            .filter(|pair| !pair.is_empty())
        {
            let (name, value) = match pair.iter().position(|&byte| byte == b'=') {
                Some(at) => (&pair[..at], &pair[at + 1..]),
                None => (pair, &[][..]),
            };
            let Some(name) = form_decode(name) else {
                return Err(OAuthError::invalid_request(
                    "a parameter name is not UTF-8 once percent-decoded",
                ));
            };
            let Some(value) = form_decode(value) else {
                return Err(OAuthError::invalid_request(format!(
                    "parameter '{name}' is not UTF-8 once percent-decoded"
                )));
            };
            if values.contains_key(&name) {
                return Err(OAuthError::invalid_request(format!(
                    "parameter '{name}' is repeated"
                )));
            }
            values.insert(name, value);
        }
        values.retain(|_, value: &mut String| !value.is_empty());
        Ok(Form(values))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    fn required(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("parameter '{name}' is missing")))
    }
}

/// The client a token request comes from, from HTTP Basic or the form (not both).
struct Client {
    id: String,
    secret: Option<String>,
}

impl Client {
    fn identify(headers: &HeaderMap, form: &Form) -> Result<Client, OAuthError> {
        let basic = headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| {
                let (scheme, rest) = value.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("basic").then_some(rest.trim())
            });
        if let Some(encoded) = basic {
            if form.get("client_secret").is_some() {
                return Err(OAuthError::invalid_request(
                    "send client credentials in the Authorization header or the form, not both",
                ));
            }
            let decoded = STANDARD
                .decode(encoded)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .ok_or_else(|| OAuthError::invalid_client("malformed Basic credentials"))?;
            let (id, secret) = decoded
                .split_once(':')
                .ok_or_else(|| OAuthError::invalid_client("malformed Basic credentials"))?;
            // Both halves are form-encoded before Base64 (RFC 6749 §2.3.1).
            let malformed = || OAuthError::invalid_client("malformed Basic credentials");
            let id = form_decode(id.as_bytes()).ok_or_else(malformed)?;
            if form.get("client_id").is_some_and(|form_id| form_id != id) {
                return Err(OAuthError::invalid_request(
                    "client_id differs from the Authorization header's",
                ));
            }
            let secret = Some(form_decode(secret.as_bytes()).ok_or_else(malformed)?)
                .filter(|secret| !secret.is_empty());
            return Ok(Client { id, secret });
        }
        let id = form
            .get("client_id")
            .ok_or_else(|| OAuthError::invalid_client("client_id is required"))?;
        Ok(Client {
            id: id.to_owned(),
            secret: form.get("client_secret").map(str::to_owned),
        })
    }

    /// Checks the public client: known, and holding no secret.
    fn public(&self) -> Result<(), OAuthError> {
        match self.id.as_str() {
            PUBLIC_CLIENT if self.secret.is_none() => Ok(()),
            PUBLIC_CLIENT => Err(OAuthError::invalid_client(format!(
                "'{PUBLIC_CLIENT}' is a public client and takes no secret"
            ))),
            KEY_CLIENT => Err(OAuthError::unauthorized_client(format!(
                "'{KEY_CLIENT}' may only use the client_credentials grant"
            ))),
            _ => Err(unknown_client()),
        }
    }
}

fn unknown_client() -> OAuthError {
    OAuthError::invalid_client(format!(
        "unknown client; use '{PUBLIC_CLIENT}', or '{KEY_CLIENT}' with an API key as the secret"
    ))
}

/// One form-encoded name or value: `+` is a space and `%` with two hex digits a byte (a `%`
/// without them stays as it is, as the URL standard reads it); `None` when the bytes this
/// gives are not UTF-8.
fn form_decode(raw: &[u8]) -> Option<String> {
    let spaced: Vec<u8> = raw
        .iter()
        .map(|&byte| if byte == b'+' { b' ' } else { byte })
        .collect();
    percent_encoding::percent_decode(&spaced)
        .decode_utf8()
        .ok()
        .map(std::borrow::Cow::into_owned)
}

/// The scope a new session gets and what it may do. Permission words (`orders:read`, `*`)
/// narrow the session to them and must be covered by what the principal holds; OpenID
/// Connect words pass through; no scope means [`DEFAULT_SCOPE`] with all the principal's
/// grants.
fn grant_scope(asked: Option<&str>, held: &[String]) -> Result<(String, Vec<String>), OAuthError> {
    let Some(asked) = asked else {
        return Ok((DEFAULT_SCOPE.to_owned(), held.to_vec()));
    };
    let mut words: Vec<&str> = Vec::new();
    let mut permissions = Vec::new();
    for word in asked.split_whitespace() {
        if words.contains(&word) {
            continue;
        }
        if OIDC_SCOPES.contains(&word) {
        } else if KNOWN_GRANTS.contains(word) {
            if !held.iter().any(|grant| covers(grant, word)) {
                return Err(OAuthError::invalid_scope(format!(
                    "'{word}' is more than this principal may grant"
                )));
            }
            permissions.push(word.to_owned());
        } else {
            return Err(OAuthError::invalid_scope(format!("unknown scope '{word}'")));
        }
        words.push(word);
    }
    let grants = if permissions.is_empty() {
        held.to_vec()
    } else {
        permissions
    };
    Ok((words.join(" "), grants))
}

/// The successful token answer.
fn token_answer(issued: Issued) -> Response {
    let mut body = json!({
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
        "refresh_expires_in": issued.refresh_expires_in,
        "scope": issued.scope,
    });
    if let Some(refresh) = issued.refresh_token {
        body["refresh_token"] = Value::String(refresh);
    }
    oauth_json(StatusCode::OK, &body)
}

async fn token(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let started = Instant::now();
    // Sessions the answer hands out must be the ones the file keeps (see `Lane`).
    let lane = match shared.lane().await {
        Ok(lane) => lane,
        Err(error) => {
            shared.lock().oidc.counters.token_errors += 1;
            return logged(
                TOKEN_ENDPOINT,
                started,
                OAuthError::from(error).into_response(),
            );
        }
    };
    let result = throttle(&shared, peer).and_then(|()| {
        posted(&method, &headers, body, |form| {
            grant(&shared, &headers, form)
        })
    });
    // Sessions change on every answer with tokens, and a refusal may have ended one.
    let changed = result
        .as_ref()
        .map_or_else(|error| error.ended || error.tells_of_revocation, |_| true);
    let told_of_change = result
        .as_ref()
        .map_or_else(|error| error.tells_of_revocation, |_| true);
    // What the answer reports: the grant it served, or (as an error) whether it tells of a
    // replayed refresh token's session ended.
    let (mut response, outcome) = match result {
        Ok((issued, served, redeemed)) => (token_answer(issued), Ok((served, redeemed))),
        Err(error) => {
            let reuse = error.tells_of_revocation;
            (error.into_response(), Err(reuse))
        }
    };
    let mut kept = true;
    if changed {
        if let Err(error) = shared.persist(&lane) {
            // Tokens a restart would forget are not handed out, nor a revocation it would
            // undo reported; any other refusal stays as it was, true either way.
            if told_of_change {
                response = OAuthError::from(error).into_response();
                kept = false;
            }
        }
    }
    // Counted by the answer sent: a grant or a detected reuse the file did not keep was
    // undone and answered 503, an error like any other.
    let mut inner = shared.lock();
    match outcome {
        Ok((served, redeemed)) => {
            if kept {
                inner.oidc.counters.served(served);
            } else {
                inner.oidc.counters.token_errors += 1;
                if let Some(redeemed) = redeemed {
                    inner.oidc.unredeem(redeemed);
                }
            }
        }
        Err(reuse) => {
            inner.oidc.counters.token_errors += 1;
            inner.oidc.counters.refresh_reuse_detected += u64::from(reuse && kept);
        }
    }
    drop(inner);
    logged(TOKEN_ENDPOINT, started, response)
}

/// Runs one token request: the tokens, the grant that served them (which the caller counts
/// once the file keeps them) and, with the tokens of a device login, the login it redeemed,
/// for the caller to put back if the tokens are not kept.
fn grant(
    shared: &Shared,
    headers: &HeaderMap,
    form: &Form,
) -> Result<(Issued, Served, Option<Redeemed>), OAuthError> {
    let grant_type = form.required("grant_type")?;
    let client = Client::identify(headers, form)?;
    let now_ms = shared.clock.now_millis();
    let issued = match grant_type {
        "password" => {
            client.public()?;
            let user = sign_in(
                shared,
                form.required("username")?,
                form.required("password")?,
            )
            .ok_or_else(|| OAuthError::invalid_grant("invalid username or password"))?;
            let mut principal = user.principal();
            let (scope, grants) = grant_scope(form.get("scope"), &principal.grants)?;
            principal.grants = grants;
            let mut inner = shared.lock();
            let issued = inner.oidc.start(
                principal,
                &client.id,
                scope,
                GrantKind::Password,
                true,
                now_ms,
            )?;
            Ok((issued, Served::Password))
        }
        "client_credentials" => {
            if client.id != KEY_CLIENT {
                return match client.id.as_str() {
                    PUBLIC_CLIENT => Err(OAuthError::unauthorized_client(format!(
                        "client_credentials needs the '{KEY_CLIENT}' client and an API key"
                    ))),
                    _ => Err(unknown_client()),
                };
            }
            let secret = client.secret.as_deref().ok_or_else(|| {
                OAuthError::invalid_client("client_secret (an API key) is required")
            })?;
            let mut inner = shared.lock();
            let key = live_key(&inner, secret, now_ms.div_euclid(1000)).ok_or_else(|| {
                OAuthError::invalid_client("the API key is unknown, revoked or expired")
            })?;
            let mut principal = Principal {
                kind: PrincipalKind::ApiKey,
                id: key.id.clone(),
                name: key.name.clone(),
                org: key.org.clone(),
                grants: key.grants.clone(),
                key_limit: key.rate_limit.map(|cap| (key.id.clone(), cap)),
                inherited_limits: key.inherited_limits.clone(),
                key_expires_at: key.expires_at,
            };
            let (scope, grants) = grant_scope(form.get("scope"), &principal.grants)?;
            principal.grants = grants;
            let issued = inner.oidc.start(
                principal,
                &client.id,
                scope,
                GrantKind::ClientCredentials,
                false,
                now_ms,
            )?;
            Ok((issued, Served::ClientCredentials))
        }
        "refresh_token" => {
            client.public()?;
            let token = form.required("refresh_token")?;
            let mut inner = shared.lock();
            let issued = inner
                .oidc
                .refresh(token, &client.id, form.get("scope"), now_ms)?;
            Ok((issued, Served::Refresh))
        }
        DEVICE_GRANT => {
            client.public()?;
            let device_code = form.required("device_code")?;
            let mut inner = shared.lock();
            let (mut principal, asked, redeemed) = inner.oidc.poll_device(
                device_code,
                &client.id,
                form.get("code_verifier"),
                now_ms,
            )?;
            let asked = Some(asked).filter(|asked| !asked.is_empty());
            // The user approved more than they hold: no later poll can do better.
            let (scope, grants) = grant_scope(asked.as_deref(), &principal.grants)?;
            principal.grants = grants;
            let started = inner.oidc.start(
                principal,
                &client.id,
                scope,
                GrantKind::DeviceCode,
                true,
                now_ms,
            );
            let issued = match started {
                Ok(issued) => issued,
                // Too many sessions, say: the error invites a later poll, which must find
                // the login still approved.
                Err(error) => {
                    inner.oidc.unredeem(redeemed);
                    return Err(error);
                }
            };
            return Ok((issued, Served::DeviceCode, Some(redeemed)));
        }
        other => Err(OAuthError::new(
            400,
            codes::UNSUPPORTED_GRANT_TYPE,
            format!("grant type '{other}' is not supported"),
        )),
    };
    issued.map(|(issued, served)| (issued, served, None))
}

/// The user with this username and password. Every configured user's password is
/// compared, so the time taken does not tell which usernames exist.
fn sign_in<'a>(shared: &'a Shared, username: &str, password: &str) -> Option<&'a User> {
    let mut found = None;
    for user in &shared.users {
        let name_ok = same_secret(&user.username, username);
        let password_ok = same_secret(&user.password, password);
        if name_ok && password_ok && found.is_none() {
            found = Some(user);
        }
    }
    found
}

/// Approves a device login for `username` (who must be a configured user) or denies it.
pub(crate) fn decide_device(
    shared: &Shared,
    user_code: &str,
    username: Option<&str>,
) -> Result<bool, String> {
    let principal = match username {
        Some(name) => Some(
            shared
                .users
                .iter()
                .find(|user| user.username == name)
                .map(User::principal)
                .ok_or_else(|| format!("no user named '{name}'"))?,
        ),
        None => None,
    };
    let now_ms = shared.clock.now_millis();
    Ok(shared
        .lock()
        .oidc
        .decide_device(user_code, principal, now_ms))
}

async fn device_authorization(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let started = Instant::now();
    let result = throttle(&shared, peer).and_then(|()| {
        posted(&method, &headers, body, |form| {
            begin_device(&shared, peer, &headers, form)
        })
    });
    let response = result.unwrap_or_else(IntoResponse::into_response);
    logged(DEVICE_ENDPOINT, started, response)
}

fn begin_device(
    shared: &Shared,
    peer: SocketAddr,
    headers: &HeaderMap,
    form: &Form,
) -> Result<Response, OAuthError> {
    let client = Client::identify(headers, form)?;
    client.public()?;
    let scope = form.get("scope").unwrap_or(DEFAULT_SCOPE);
    if let Some(word) = scope
        .split_whitespace()
        .find(|word| !OIDC_SCOPES.contains(word) && !KNOWN_GRANTS.contains(*word))
    {
        return Err(OAuthError::invalid_scope(format!("unknown scope '{word}'")));
    }
    let challenge = form.get("code_challenge").ok_or_else(|| {
        OAuthError::invalid_request("code_challenge is required (PKCE with S256)")
    })?;
    if form.get("code_challenge_method") != Some("S256") {
        return Err(OAuthError::invalid_request(
            "code_challenge_method must be S256",
        ));
    }
    let well_formed = challenge.len() == 43
        && challenge
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
    if !well_formed {
        return Err(OAuthError::invalid_request(
            "code_challenge must be the base64url SHA-256 of the code_verifier (43 characters)",
        ));
    }
    let now_ms = shared.clock.now_millis();
    let (device_code, user_code) = shared.lock().oidc.begin_device(
        &client.id,
        peer.ip(),
        scope.split_whitespace().collect::<Vec<_>>().join(" "),
        challenge.to_owned(),
        now_ms,
    )?;
    let page = format!("{}/device", issuer(&public_base(shared, headers)));
    let complete = format!("{page}?user_code={user_code}");
    Ok(oauth_json(
        StatusCode::OK,
        &json!({
            "device_code": device_code,
            "user_code": user_code,
            "verification_uri": page,
            "verification_uri_complete": complete,
            "expires_in": DEVICE_CODE_SECS,
            "interval": DEVICE_INTERVAL_SECS,
        }),
    ))
}

/// The credential a request carries: `Authorization: Bearer` first, then `x-api-key`.
pub(crate) fn presented_token(headers: &HeaderMap) -> Option<&str> {
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            let (scheme, token) = value.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|token| !token.is_empty());
    let api_key = headers
        .get(geopera_types::headers::API_KEY)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|token| !token.is_empty());
    bearer.or(api_key)
}

async fn userinfo(
    State(shared): State<Arc<Shared>>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let started = Instant::now();
    let result = if method == Method::GET || method == Method::POST {
        who_is(&shared, &headers)
    } else {
        Err(method_not_allowed("GET, POST"))
    };
    let response = match result {
        Ok(claims) => {
            shared.lock().oidc.counters.userinfo += 1;
            oauth_json(StatusCode::OK, &claims)
        }
        Err(error) => error.into_response(),
    };
    logged(USERINFO_ENDPOINT, started, response)
}

/// What a credential stands for, borrowed from the state that holds it.
pub(crate) struct Identity<'a> {
    pub kind: PrincipalKind,
    pub id: &'a str,
    pub name: &'a str,
    pub org: &'a str,
    /// A session's granted scope; `None` for keys, whose scope is their grants.
    pub scope: Option<&'a str>,
    pub grants: &'a [String],
    /// A key's id and its own calls per minute.
    pub key_limit: Option<(&'a str, u32)>,
    /// The windows a key inherited from the keys it was minted under.
    pub inherited_limits: &'a [KeyWindow],
    /// When a key (or the key a session was started with) expires; `None` for users.
    pub key_expires_at: Option<i64>,
}

/// Who a presented token is: an API key, the demo session token, or a signed-in session's
/// access token. The one check every authenticated request goes through.
///
/// # Errors
/// Why the token is refused, in words for the 401.
pub(crate) fn identify<'a>(
    inner: &'a Inner,
    token: &str,
    now: i64,
) -> Result<Identity<'a>, &'static str> {
    if let Some(key) = inner.credentials.get(&sessions::digest(token)) {
        if key.revoked {
            return Err("the credential has been revoked");
        }
        if key.expires_at.is_some_and(|at| at <= now) {
            return Err("the credential has expired");
        }
        return Ok(Identity {
            kind: if key.session {
                PrincipalKind::User
            } else {
                PrincipalKind::ApiKey
            },
            id: &key.id,
            name: &key.name,
            org: &key.org,
            scope: None,
            grants: &key.grants,
            key_limit: key.rate_limit.map(|cap| (key.id.as_str(), cap)),
            inherited_limits: &key.inherited_limits,
            key_expires_at: key.expires_at.filter(|_| !key.session),
        });
    }
    match inner.oidc.authenticate(token, now) {
        Ok(family) => {
            let principal = &family.principal;
            // Tokens are issued to expire with their key, but a session kept in a state file
            // by an older emulator may not be.
            if principal.key_expires_at.is_some_and(|at| at <= now) {
                return Err("the API key this session acts for has expired");
            }
            Ok(Identity {
                kind: principal.kind,
                id: &principal.id,
                name: &principal.name,
                org: &principal.org,
                scope: Some(&family.scope),
                grants: &principal.grants,
                key_limit: principal
                    .key_limit
                    .as_ref()
                    .map(|(key, cap)| (key.as_str(), *cap)),
                inherited_limits: &principal.inherited_limits,
                key_expires_at: principal.key_expires_at,
            })
        }
        Err(Rejected::Expired) => Err("the access token has expired"),
        Err(Rejected::Unknown) => Err("unknown credential"),
    }
}

/// The API key with this secret, if it may still be used (not a session token, not revoked,
/// not expired): what the `geopera` client must present as its secret.
fn live_key<'a>(inner: &'a Inner, secret: &str, now: i64) -> Option<&'a Credential> {
    inner
        .credentials
        .get(&sessions::digest(secret))
        .filter(|key| !key.session && !key.revoked)
        .filter(|key| key.expires_at.is_none_or(|at| at > now))
}

/// The userinfo claims of the request's credential.
fn who_is(shared: &Shared, headers: &HeaderMap) -> Result<Value, OAuthError> {
    let token = presented_token(headers).ok_or_else(|| {
        OAuthError::invalid_token("send Authorization: Bearer <token> or x-api-key")
    })?;
    let now = shared.clock.now_secs();
    let inner = shared.lock();
    let who = identify(&inner, token, now).map_err(OAuthError::invalid_token)?;
    let mut claims = json!({
        "sub": who.id,
        "geopera_principal_type": who.kind.name(),
        "geopera_principal_id": who.id,
        "geopera_org_id": who.org,
        "scope": who.scope.map_or_else(|| who.grants.join(" "), str::to_owned),
        "geopera_permissions": who.grants,
    });
    if who.kind == PrincipalKind::User {
        claims["preferred_username"] = Value::String(who.name.to_owned());
    }
    Ok(claims)
}

async fn logout(
    State(shared): State<Arc<Shared>>,
    method: Method,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let started = Instant::now();
    let lane = match shared.lane().await {
        Ok(lane) => lane,
        Err(error) => {
            return logged(
                LOGOUT_ENDPOINT,
                started,
                OAuthError::from(error).into_response(),
            );
        }
    };
    let result = posted(&method, &headers, body, |form| {
        let client = Client::identify(&headers, form)?;
        client.public()?;
        let token = form.required("refresh_token")?;
        let presenter = Presenter {
            client_id: &client.id,
            key: None,
        };
        let outcome = shared.lock().oidc.revoke_refresh(token, &presenter);
        match outcome {
            Revocation::Revoked => {}
            Revocation::Unknown => {
                return Err(OAuthError::invalid_grant(
                    "unknown or already revoked refresh token",
                ))
            }
            Revocation::OtherClient => {
                return Err(OAuthError::invalid_grant(
                    "refresh token was issued to another client",
                ))
            }
        }
        shared.persist(&lane)?;
        // Counted once kept: a revocation the file could not take was undone.
        shared.lock().oidc.counters.revocations += 1;
        Ok(StatusCode::NO_CONTENT.into_response())
    });
    logged(
        LOGOUT_ENDPOINT,
        started,
        result.unwrap_or_else(IntoResponse::into_response),
    )
}

/// The two ways to revoke a token, tried in the order the hint suggests.
type RevokeFn = fn(&mut Sessions, &str, &Presenter<'_>) -> Revocation;

/// RFC 7009: a refresh token ends its whole session, an access token only itself; unknown
/// tokens are answered 200 like known ones ("invalid tokens do not cause an error"), but a
/// live token of another client is refused (§2.1), as only the client it was issued to may
/// revoke it.
async fn revoke(
    State(shared): State<Arc<Shared>>,
    method: Method,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let started = Instant::now();
    let lane = match shared.lane().await {
        Ok(lane) => lane,
        Err(error) => {
            return logged(
                REVOKE_ENDPOINT,
                started,
                OAuthError::from(error).into_response(),
            );
        }
    };
    let result = posted(&method, &headers, body, |form| {
        let client = Client::identify(&headers, form)?;
        let now = shared.clock.now_secs();
        let key = if client.id == KEY_CLIENT {
            let secret = client.secret.as_deref().unwrap_or_default();
            let inner = shared.lock();
            let key = live_key(&inner, secret, now)
                .ok_or_else(|| OAuthError::invalid_client("the API key is not valid"))?;
            Some((key.id.clone(), key.org.clone()))
        } else {
            client.public()?;
            None
        };
        let presenter = Presenter {
            client_id: &client.id,
            key: key.as_ref().map(|(id, org)| (id.as_str(), org.as_str())),
        };
        let token = form.required("token")?;
        let outcome = {
            let mut inner = shared.lock();
            let sessions = &mut inner.oidc;
            let (first, second): (RevokeFn, RevokeFn) = match form.get("token_type_hint") {
                Some("access_token") => (Sessions::revoke_access, Sessions::revoke_refresh),
                _ => (Sessions::revoke_refresh, Sessions::revoke_access),
            };
            match first(sessions, token, &presenter) {
                Revocation::Unknown => second(sessions, token, &presenter),
                known => known,
            }
        };
        if outcome == Revocation::OtherClient {
            // Keycloak's answer to a token of another client ("Unmatching clients").
            return Err(OAuthError::unauthorized_client(
                "the token was issued to another client",
            ));
        }
        let revoked = outcome == Revocation::Revoked;
        if revoked {
            shared.persist(&lane)?;
            // Counted once kept, as a sign-out is.
            shared.lock().oidc.counters.revocations += 1;
        }
        Ok(StatusCode::OK.into_response())
    });
    logged(
        REVOKE_ENDPOINT,
        started,
        result.unwrap_or_else(IntoResponse::into_response),
    )
}

/// Tokens are opaque, so there are no signing keys to publish.
async fn certs(method: Method) -> Response {
    if method != Method::GET {
        return method_not_allowed("GET").into_response();
    }
    oauth_json(StatusCode::OK, &json!({"keys": []}))
}

async fn discovery(
    State(shared): State<Arc<Shared>>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    if method != Method::GET {
        return method_not_allowed("GET").into_response();
    }
    let realm = issuer(&public_base(&shared, &headers));
    let at = |name: &str| endpoint(&realm, name);
    let body = json!({
        "issuer": &realm,
        "token_endpoint": at(TOKEN_ENDPOINT),
        "device_authorization_endpoint": at(DEVICE_ENDPOINT),
        "userinfo_endpoint": at(USERINFO_ENDPOINT),
        "end_session_endpoint": at(LOGOUT_ENDPOINT),
        "revocation_endpoint": at(REVOKE_ENDPOINT),
        "jwks_uri": at(CERTS_ENDPOINT),
        "grant_types_supported": ["password", "client_credentials", "refresh_token", DEVICE_GRANT],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": OIDC_SCOPES,
        "subject_types_supported": ["public"],
        "claims_supported": [
            "sub", "preferred_username", "geopera_principal_type", "geopera_principal_id",
            "geopera_org_id", "geopera_permissions", "scope",
        ],
    });
    oauth_json(StatusCode::OK, &body)
}

#[cfg(test)]
#[path = "oidc_tests.rs"]
mod tests;
