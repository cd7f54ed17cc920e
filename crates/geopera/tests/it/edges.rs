//! Trust at the edges: credentials across redirects, bounded answers, timeouts by default,
//! 429s that keep their wait, blocking calls that cannot hang, and the error classification.
//! Hostile behaviour comes from a server of the tests' own (`hostile.rs`) or the emulator's
//! faults.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use futures::StreamExt as _;
use geopera::models::{CatalogSearchInput, ImageAssetInput, OrderGetInput};
use geopera::operations::{
    billing_topup, catalog_image_quicklook, catalog_search, catalog_search_stream, orders_get,
};
use geopera::{
    AuthenticatedClient, Client, Error, ErrorKind, Request, RetryPolicy, StatusCode, TimeoutLimit,
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_READ_TIMEOUT, DEFAULT_TIMEOUT,
};
use geopera_emulator::{Emulator, EmulatorHandle, FaultPlan, RateLimits};
use serde_json::json;

use crate::hostile::{counted_lines, endless, json, redirect, Hostile, Reply};
use crate::support::{emulator, HOST};

const TOKEN: &str = "gpra_never_leaves_its_origin";

fn quicklook() -> ImageAssetInput {
    ImageAssetInput::new(HOST, "S2A_1")
}

/// A client of `origin` that holds every kind of credential and follows redirects.
fn credentialed(origin: &Hostile) -> AuthenticatedClient {
    AuthenticatedClient::builder(TOKEN)
        .base_url(origin.url())
        .follow_redirects(true)
        .header("x-team-token", "team-secret")
        .cookie("session", "cookie-secret")
        .retries(0)
        .build()
        .expect("valid")
}

fn with_options(body: ImageAssetInput) -> Request<ImageAssetInput> {
    Request::new(body)
        .api_key("gpra_per_call_key")
        .idempotency_key("3f8d2c1e-0b7a-4c55-9d41-1f2e3a4b5c6d")
        .header("x-call-secret", "call-secret")
}

/// The body of a `catalog.search_stream` call, whose input is a free-form object.
fn stream_input() -> geopera::JsonObject {
    json!({"host_name": HOST})
        .as_object()
        .cloned()
        .unwrap_or_default()
}

/// A client of `server` that never retries, so each call is one request.
fn no_retries(server: &Hostile) -> Client {
    Client::builder()
        .base_url(server.url())
        .retries(0)
        .build()
        .expect("valid")
}

/// [`no_retries`] with the API key [`TOKEN`], for servers that echo what they were sent.
fn signed_in_no_retries(server: &Hostile) -> AuthenticatedClient {
    AuthenticatedClient::builder(TOKEN)
        .base_url(server.url())
        .retries(0)
        .build()
        .expect("valid")
}

fn assert_no_credential(seen: &crate::hostile::Seen) {
    for name in [
        "authorization",
        "x-api-key",
        "cookie",
        "x-team-token",
        "x-call-secret",
        "idempotency-key",
    ] {
        assert_eq!(seen.header(name), None, "{name} crossed to another origin");
    }
    let everything = format!("{seen:?}");
    for secret in [TOKEN, "gpra_per_call_key", "team-secret", "cookie-secret"] {
        assert!(
            !everything.contains(secret),
            "{secret} reached {everything}"
        );
    }
    assert!(seen.header("user-agent").is_some(), "the user agent may go");
}

#[test]
fn a_redirect_to_another_origin_carries_no_credential() {
    let cdn = Hostile::serve("127.0.0.2", |_| json(200, &[], r#"{"png": true}"#));
    let target = format!("{}/cdn/quicklook.png", cdn.url());
    let api = Hostile::serve("127.0.0.1", move |_| redirect(307, &target));
    let client = credentialed(&api);

    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let answer = runtime
        .block_on(catalog_image_quicklook::send(
            &client,
            with_options(quicklook()),
        ))
        .expect("the redirect is followed");
    assert_eq!(answer, json!({"png": true}));
    let answer = catalog_image_quicklook::send_blocking(&client, with_options(quicklook()))
        .expect("blocking calls follow it too");
    assert_eq!(answer, json!({"png": true}));

    let at_api = api.seen();
    assert_eq!(at_api.len(), 2);
    assert!(at_api
        .iter()
        .all(|seen| seen.header("x-api-key") == Some("gpra_per_call_key")
            && seen.header("authorization") == Some(&*format!("Bearer {TOKEN}"))));
    let at_cdn = cdn.seen();
    assert_eq!(at_cdn.len(), 2);
    for seen in &at_cdn {
        assert_eq!(seen.path, "/cdn/quicklook.png");
        assert_eq!(seen.method, "POST", "a 307 repeats the request");
        assert_eq!(seen.header("content-type"), Some("application/json"));
        assert!(!seen.body.is_empty(), "with its body");
        assert_no_credential(seen);
    }
}

/// A `Location` is the server's to choose, and a CDN's is signed in its query: when the hop it
/// names cannot be reached, the error says where the call was going, without the signature,
/// and that the API was reached: once it read "could not reach the API", and `is_connect`
/// told a caller that nothing had been sent.
#[test]
fn a_redirect_hop_that_cannot_be_reached_is_named_without_its_signature_and_as_reached() {
    let gone = std::net::TcpListener::bind("127.0.0.2:0").expect("a free port");
    let port = gone.local_addr().expect("bound").port();
    drop(gone);
    let target =
        format!("http://127.0.0.2:{port}/cdn/q.png?X-Amz-Signature=cdn-signature#cdn-fragment");
    let api = Hostile::serve("127.0.0.1", move |_| redirect(307, &target));
    let client = credentialed(&api);

    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let failed = [
        runtime
            .block_on(catalog_image_quicklook::send(&client, quicklook()))
            .expect_err("nothing listens where the redirect points"),
        catalog_image_quicklook::send_blocking(&client, quicklook())
            .expect_err("nor for blocking calls"),
    ];
    for error in failed {
        assert_eq!(error.kind(), ErrorKind::Transport, "{error:?}");
        // The API answered with the redirect, so the call may have had its effect: not a
        // connection never made, which a caller may take as nothing sent and resend.
        assert!(!error.is_connect(), "{error:?}");
        assert!(
            error
                .to_string()
                .contains("where the API redirected the call"),
            "{error}"
        );
        let mut shown = format!("{error} {error:?}");
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            shown.push_str(&format!(" | {cause} {cause:?}"));
            source = cause.source();
        }
        assert!(
            !shown.contains("cdn-signature") && !shown.contains("cdn-fragment"),
            "{shown}"
        );
        assert!(
            shown.contains(&format!("127.0.0.2:{port}/cdn/q.png?[redacted]#[redacted]")),
            "the hop is still named: {shown}"
        );
    }
}

/// A `Location` with a user name and password would have them sent as an `Authorization`
/// header, a credential the caller never gave: such a redirect is handed back, not followed.
#[tokio::test]
async fn a_redirect_whose_location_carries_a_user_and_password_is_not_followed() {
    let elsewhere = Hostile::serve("127.0.0.2", |_| json(200, &[], "{}"));
    let host = elsewhere.url().trim_start_matches("http://").to_owned();
    for (status, userinfo) in [(303, "user:pass"), (307, "user"), (308, ":pass")] {
        let location = format!("http://{userinfo}@{host}/q.png");
        let api = Hostile::serve("127.0.0.1", move |_| redirect(status, &location));
        let response = catalog_image_quicklook::send_detailed(&credentialed(&api), quicklook())
            .await
            .expect("an answer");
        assert_eq!(response.status.as_u16(), status, "{userinfo}");
        assert_eq!(api.seen().len(), 1, "{userinfo}");
    }
    assert!(elsewhere.seen().is_empty(), "{:?}", elsewhere.seen());
}

#[tokio::test]
async fn a_see_other_to_another_origin_is_a_get_without_credentials() {
    let cdn = Hostile::serve("127.0.0.2", |_| json(200, &[], "{}"));
    let target = format!("{}/q.png", cdn.url());
    let api = Hostile::serve("127.0.0.1", move |_| redirect(303, &target));
    catalog_image_quicklook::send(&credentialed(&api), with_options(quicklook()))
        .await
        .expect("followed");
    let seen = cdn.seen().pop().expect("reached");
    assert_eq!(seen.method, "GET");
    assert!(seen.body.is_empty());
    assert_eq!(seen.header("content-type"), None);
    assert_no_credential(&seen);
}

/// A 307 or 308 repeats the body, and a share link's body holds its token and password: such
/// a call is not followed to another origin, and the redirect comes back as the answer.
#[tokio::test]
async fn a_body_holding_credentials_does_not_follow_a_redirect_to_another_origin() {
    use geopera::models::ShareLinkValidateInput;
    use geopera::operations::share_link_validate;

    let elsewhere = Hostile::serve("127.0.0.2", |_| json(200, &[], "{}"));
    let target = format!("{}/v1/op/share.link.validate", elsewhere.url());
    for status in [307, 308] {
        let target = target.clone();
        let api = Hostile::serve("127.0.0.1", move |_| redirect(status, &target));
        let input = ShareLinkValidateInput::new("shr_token_in_the_body").password("pass-in-body");
        let response = share_link_validate::send_detailed(&credentialed(&api), input)
            .await
            .expect("an answer");
        assert_eq!(response.status.as_u16(), status);
        assert_eq!(api.seen().len(), 1);
    }
    assert!(
        elsewhere.seen().is_empty(),
        "nothing reached the other origin"
    );
}

/// A provider whose token is always "renewed", counting how often the client asked.
#[derive(Debug, Default)]
struct CountingProvider {
    renewals: std::sync::atomic::AtomicU32,
}

impl geopera::auth::Credentials for CountingProvider {
    fn credential<'a>(
        &'a self,
        _: geopera::auth::AuthContext<'a>,
    ) -> geopera::auth::CredentialFuture<'a, geopera::auth::Credential> {
        Box::pin(async { Ok(geopera::auth::Credential::bearer(TOKEN)) })
    }

    fn rejected<'a>(
        &'a self,
        _: &'a geopera::auth::Credential,
        _: geopera::auth::AuthContext<'a>,
    ) -> geopera::auth::CredentialFuture<'a, bool> {
        self.renewals
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Box::pin(async { Ok(true) })
    }
}

/// A client of `api` that follows redirects and signs its calls with a provider that counts
/// its renewals.
fn following_with_a_provider(
    api: &Hostile,
) -> (
    geopera::AuthenticatedClient,
    std::sync::Arc<CountingProvider>,
) {
    let provider = std::sync::Arc::new(CountingProvider::default());
    let client = Client::builder()
        .base_url(api.url())
        .follow_redirects(true)
        .retries(0)
        .build()
        .expect("valid")
        .with_credentials(ProviderHandle(provider.clone()))
        .expect("valid");
    (client, provider)
}

/// A resend after a 401 renewed the credential is no retry of the policy's: with one retry
/// allowed, a 401, then a 503, then success is a success in three attempts. The resend used
/// up the retry, and the call ended with the 503.
#[tokio::test]
async fn a_resend_after_a_renewed_credential_leaves_the_retries_whole() {
    let seen = Arc::new(AtomicUsize::new(0));
    let counted = seen.clone();
    let api = Hostile::serve("127.0.0.1", move |_| {
        match counted.fetch_add(1, Ordering::SeqCst) {
            0 => json(401, &[], r#"{"detail":"expired"}"#),
            1 => json(503, &[], r#"{"detail":"busy"}"#),
            _ => json(200, &[], r#"{"type":"FeatureCollection","features":[]}"#),
        }
    });
    let provider = std::sync::Arc::new(CountingProvider::default());
    let client = Client::builder()
        .base_url(api.url())
        .retry_policy(
            geopera::RetryPolicy::default()
                .max_retries(1)
                .backoff(Duration::from_millis(10), Duration::from_millis(20)),
        )
        .build()
        .expect("valid")
        .with_credentials(ProviderHandle(provider.clone()))
        .expect("valid");
    catalog_search::send(&client, CatalogSearchInput::new(HOST))
        .await
        .expect("the retry was left for the 503");
    assert_eq!(api.seen().len(), 3);
    assert_eq!(provider.renewals.load(Ordering::SeqCst), 1);
}

/// The answer of another origin at the end of a redirect speaks for that origin only: its
/// 401 is no verdict on a credential it was never sent (no renewal, no second request to the
/// API), and its 429 does not hold back the API's calls.
#[tokio::test]
async fn a_401_or_429_from_another_origin_neither_renews_the_credential_nor_paces_the_api() {
    let cdn_401 = Hostile::serve("127.0.0.2", |_| json(401, &[], r#"{"detail":"no"}"#));
    let target = format!("{}/q.png", cdn_401.url());
    let api = Hostile::serve("127.0.0.1", move |_| redirect(307, &target));
    let (client, provider) = following_with_a_provider(&api);
    let response = catalog_image_quicklook::send_detailed(&client, quicklook())
        .await
        .expect("an answer");
    assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        provider.renewals.load(std::sync::atomic::Ordering::SeqCst),
        0
    );
    assert_eq!((api.seen().len(), cdn_401.seen().len()), (1, 1));

    let cdn_429 = Hostile::serve("127.0.0.2", |_| {
        json(429, &[("retry-after", "30")], r#"{"detail":"slow down"}"#)
    });
    let target = format!("{}/q.png", cdn_429.url());
    let api = Hostile::serve("127.0.0.1", move |seen| {
        if seen.path.ends_with("catalog.search") {
            json(200, &[], r#"{"type":"FeatureCollection","features":[]}"#)
        } else {
            redirect(307, &target)
        }
    });
    let client = credentialed(&api);
    let error = catalog_image_quicklook::send(&client, quicklook())
        .await
        .expect_err("the other origin's 429");
    assert!(matches!(error, Error::RateLimited { .. }), "{error:?}");
    // Had the API's class been paused for 30 s, this would wait; the test's own bound says not.
    tokio::time::timeout(
        Duration::from_secs(10),
        catalog_search::send(&client, CatalogSearchInput::new(HOST)),
    )
    .await
    .expect("the API's calls are not held back")
    .expect("a page");
}

/// A quicklook's redirect is its answer only for a client that does not follow redirects: one
/// that does and gives up on a chain that never ends (or on a hop it refuses) has no image,
/// and fails rather than passing the last redirect off as the image's address.
#[tokio::test]
async fn a_followed_quicklook_chain_that_never_ends_is_no_answer() {
    // Each answer sends the request one letter further on, on the same host.
    let cdn = Hostile::serve("127.0.0.2", |seen| {
        redirect(307, &format!("{}x", seen.path))
    });
    let target = format!("{}/q", cdn.url());
    let api = Hostile::serve("127.0.0.1", move |_| redirect(307, &target));
    let error = catalog_image_quicklook::send(&credentialed(&api), quicklook())
        .await
        .expect_err("no image at the end of the chain");
    assert!(matches!(error, Error::UnexpectedStatus { .. }), "{error:?}");
    // Not followed, the first redirect is the answer.
    let unfollowing = AuthenticatedClient::builder(TOKEN)
        .base_url(api.url())
        .retries(0)
        .build()
        .expect("valid");
    let answer = catalog_image_quicklook::send(&unfollowing, quicklook())
        .await
        .expect("the address");
    assert_eq!(answer["status"], 307);
    assert!(
        answer["location"]
            .as_str()
            .is_some_and(|l| l.ends_with("/q")),
        "{answer}"
    );
}

/// A chain that leaves the API and comes back to it ends at the API without the credential,
/// which stayed behind at the first hop out: that 401 is no verdict on the credential either.
#[tokio::test]
async fn a_401_after_a_redirect_out_and_back_does_not_renew_the_credential() {
    // The CDN sends the request back to where its query says.
    let cdn = Hostile::serve("127.0.0.2", |seen| match seen.path.split_once("?to=") {
        Some((_, back)) => redirect(307, back),
        None => json(404, &[], "{}"),
    });
    let out = format!("{}/out", cdn.url());
    let api = Hostile::serve("127.0.0.1", move |seen| {
        if seen.path == "/back" {
            json(401, &[], r#"{"detail":"who are you"}"#)
        } else {
            let host = seen.header("host").unwrap_or_default();
            redirect(307, &format!("{out}?to=http://{host}/back"))
        }
    });
    let (client, provider) = following_with_a_provider(&api);
    let response = catalog_image_quicklook::send_detailed(&client, quicklook())
        .await
        .expect("an answer");
    assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    let at_api = api.seen();
    assert_eq!(
        at_api
            .iter()
            .map(|seen| seen.path.as_str())
            .collect::<Vec<_>>(),
        ["/v1/op/catalog.image.quicklook", "/back"],
        "one chain, not sent again with a renewed credential"
    );
    assert_no_credential(&at_api[1]);
    assert_eq!(cdn.seen().len(), 1);
    assert_eq!(
        provider.renewals.load(std::sync::atomic::Ordering::SeqCst),
        0
    );
}

/// When each request reached a server of the test's own.
type Arrivals = std::sync::Arc<std::sync::Mutex<Vec<Instant>>>;

/// A server answering its `n`-th request (from 0) with `answer(n)` and noting when each came,
/// and a client of it that paces the default budget at `per_minute` and never retries.
fn paced_against(
    per_minute: u32,
    answer: impl Fn(usize) -> Reply + Send + Sync + 'static,
) -> (Hostile, AuthenticatedClient, Arrivals) {
    let arrivals = Arrivals::default();
    let seen = arrivals.clone();
    let server = Hostile::serve("127.0.0.1", move |_| {
        let mut seen = seen.lock().expect("not poisoned");
        seen.push(Instant::now());
        answer(seen.len() - 1)
    });
    let client = AuthenticatedClient::builder(TOKEN)
        .base_url(server.url())
        .pace(geopera::RateClass::Default, per_minute)
        .retries(0)
        .build()
        .expect("valid");
    (server, client, arrivals)
}

/// A 429's pause holds calls already waiting for their paced slot too: a slot planned before
/// the API said the budget is spent is given up, and a new one taken after the pause.
#[tokio::test]
async fn a_pause_after_a_429_holds_calls_already_waiting_for_their_slot() {
    let (_server, client, arrivals) = paced_against(60, |nth| {
        if nth == 0 {
            json(429, &[("retry-after", "2")], r#"{"detail":"slow down"}"#)
        } else {
            json(200, &[], r#"{"type":"FeatureCollection","features":[]}"#)
        }
    });
    // One call a second: the second call's slot falls inside the first one's 2 s pause.
    let calls = (0..3).map(|_| catalog_search::send(&client, CatalogSearchInput::new(HOST)));
    let results = futures::future::join_all(calls).await;
    assert_eq!(
        results.iter().filter(|r| r.is_err()).count(),
        1,
        "{results:?}"
    );
    let arrivals = arrivals.lock().expect("not poisoned").clone();
    assert_eq!(arrivals.len(), 3);
    let after_the_429 = arrivals[1].duration_since(arrivals[0]);
    assert!(
        after_the_429 >= Duration::from_millis(1500),
        "the next call came {after_the_429:?} after the 429 that asked for 2 s"
    );
}

/// A spend call draws on the organization's default budget too, as the API counts it: pacing
/// the default class spaces spend calls with the default ones, and they were sent unpaced.
#[tokio::test]
async fn pacing_the_default_budget_spaces_the_calls_of_narrower_classes_too() {
    // Two calls a second across the organization.
    let (_server, client, arrivals) = paced_against(120, |_| {
        json(200, &[], r#"{"type":"FeatureCollection","features":[]}"#)
    });
    let topup = || {
        let body = json!({"amount_aud": 1})
            .as_object()
            .cloned()
            .unwrap_or_default();
        billing_topup::send(&client, body)
    };
    let search = || catalog_search::send(&client, CatalogSearchInput::new(HOST));
    let _ = futures::join!(search(), topup(), search(), topup());
    let mut arrivals = arrivals.lock().expect("not poisoned").clone();
    arrivals.sort();
    assert_eq!(arrivals.len(), 4);
    let spread = arrivals[3].duration_since(arrivals[0]);
    assert!(
        spread >= Duration::from_millis(1400),
        "four calls at two a second took {spread:?}"
    );
}

/// Shares one provider with the test that counts its renewals.
/// Calls that give up while waiting for their paced slot (their deadline ran out) give it
/// back: the next call takes the first slot free, instead of waiting behind slots that no
/// request used.
#[tokio::test]
async fn paced_slots_of_cancelled_calls_are_given_back() {
    // One call a second.
    let (_server, client, arrivals) = paced_against(60, |_| {
        json(200, &[], r#"{"type":"FeatureCollection","features":[]}"#)
    });
    // Twenty callers, each willing to wait half a second: one goes, the others give up.
    let calls = (0..20).map(|_| {
        catalog_search::send(
            &client,
            Request::new(CatalogSearchInput::new(HOST)).deadline(Duration::from_millis(500)),
        )
    });
    let results = futures::future::join_all(calls).await;
    assert_eq!(
        results
            .iter()
            .filter(|r| matches!(r, Err(Error::Timeout { .. })))
            .count(),
        19,
        "{results:?}"
    );
    // Were the slots of the nineteen kept, the next call would wait some 19 s.
    let started = Instant::now();
    let next = tokio::time::timeout(
        Duration::from_secs(5),
        catalog_search::send(&client, CatalogSearchInput::new(HOST)),
    )
    .await;
    let waited = started.elapsed();
    next.expect("not held behind unused slots").expect("a page");
    let arrivals = arrivals.lock().expect("not poisoned").clone();
    assert_eq!(arrivals.len(), 2, "one request of the twenty went out");
    let spacing = arrivals[1].duration_since(arrivals[0]);
    assert!(
        spacing >= Duration::from_millis(900),
        "a slot given back still keeps the pacing: {spacing:?} apart, after {waited:?}"
    );
}

#[derive(Debug)]
struct ProviderHandle(std::sync::Arc<CountingProvider>);

impl geopera::auth::Credentials for ProviderHandle {
    fn credential<'a>(
        &'a self,
        cx: geopera::auth::AuthContext<'a>,
    ) -> geopera::auth::CredentialFuture<'a, geopera::auth::Credential> {
        self.0.credential(cx)
    }

    fn rejected<'a>(
        &'a self,
        rejected: &'a geopera::auth::Credential,
        cx: geopera::auth::AuthContext<'a>,
    ) -> geopera::auth::CredentialFuture<'a, bool> {
        self.0.rejected(rejected, cx)
    }
}

#[tokio::test]
async fn a_redirect_within_the_origin_keeps_the_credentials() {
    let api = Hostile::serve("127.0.0.1", |seen| {
        if seen.path == "/assets/q.png" {
            json(200, &[], "{}")
        } else {
            redirect(307, "/assets/q.png")
        }
    });
    catalog_image_quicklook::send(&credentialed(&api), with_options(quicklook()))
        .await
        .expect("followed");
    let seen = api.seen().pop().expect("reached");
    assert_eq!(seen.path, "/assets/q.png");
    assert_eq!(seen.header("x-api-key"), Some("gpra_per_call_key"));
    assert_eq!(seen.header("x-team-token"), Some("team-secret"));
}

#[tokio::test]
async fn a_redirect_loop_ends_with_the_last_redirect_answer() {
    let api = Hostile::serve("127.0.0.1", |_| redirect(302, "/again"));
    let response = catalog_image_quicklook::send_detailed(&credentialed(&api), quicklook())
        .await
        .expect("an answer");
    assert_eq!(response.status, StatusCode::FOUND);
    assert_eq!(api.seen().len(), 11, "the first request and ten redirects");
}

fn capped(server: &Hostile, limit: u64) -> Client {
    Client::builder()
        .base_url(server.url())
        .max_response_bytes(limit)
        .retries(0)
        .build()
        .expect("valid")
}

#[test]
fn an_endless_body_fails_at_the_cap_with_a_typed_error() {
    assert_eq!(DEFAULT_MAX_RESPONSE_BYTES, 64 * 1024 * 1024);
    let server = Hostile::serve("127.0.0.1", |_| {
        endless("application/json", &[b' '; 16 * 1024])
    });
    let client = capped(&server, 1024 * 1024);
    let check = |err: Error| {
        assert!(
            matches!(
                err,
                Error::TooLarge {
                    limit: 1_048_576,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(err.kind(), ErrorKind::TooLarge);
        assert!(!err.is_retryable());
        assert!(
            err.to_string().contains("1048576 bytes")
                && err.to_string().contains("max_response_bytes"),
            "the message names the cap: {err}"
        );
    };
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let started = Instant::now();
    check(
        runtime
            .block_on(catalog_search::send(&client, CatalogSearchInput::new(HOST)))
            .expect_err("too large"),
    );
    check(
        catalog_search::send_blocking(&client, CatalogSearchInput::new(HOST))
            .expect_err("too large"),
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn an_announced_length_over_the_cap_fails_before_the_body_arrives() {
    let server = Hostile::serve("127.0.0.1", |_| {
        Reply::Trickle {
        head: "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1073741824\r\n\r\n"
            .to_owned(),
        body: vec![b' '; 100],
        every: Duration::from_millis(100),
    }
    });
    let started = Instant::now();
    let err = catalog_search::send(&capped(&server, 1024), CatalogSearchInput::new(HOST))
        .await
        .expect_err("too large");
    assert!(
        matches!(err, Error::TooLarge { limit: 1024, .. }),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2), "not read first");
}

#[test]
fn an_endless_stream_line_fails_at_the_cap() {
    an_endless_stream_fails_at_the_cap(&[b'x'; 16 * 1024]);
}

#[test]
fn an_endless_run_of_blank_stream_lines_fails_at_the_cap() {
    an_endless_stream_fails_at_the_cap(&[b'\n'; 16 * 1024]);
    an_endless_stream_fails_at_the_cap(&b" \t\r\n".repeat(4 * 1024));
}

#[test]
fn blank_stream_lines_between_items_count_from_each_item() {
    // Each run of blank lines is under the cap, all of them together far over it.
    let gap = "\n".repeat(200 * 1024);
    let body = format!("{{\"n\": 1}}\n{gap}{{\"n\": 2}}\n{gap}{{\"n\": 3}}\n");
    let answer = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/x-ndjson\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let server = Hostile::serve("127.0.0.1", move |_| {
        Reply::Raw(answer.clone().into_bytes())
    });
    let client = capped(&server, 256 * 1024);
    let body = stream_input();
    let items: Vec<serde_json::Value> = catalog_search_stream::stream_blocking(&client, body)
        .collect::<Result<_, _>>()
        .expect("every item");
    assert_eq!(items, [json!({"n": 1}), json!({"n": 2}), json!({"n": 3})]);
}

/// A stream whose answer repeats `chunk` for ever ends with `TooLarge`, on both faces.
fn an_endless_stream_fails_at_the_cap(chunk: &[u8]) {
    let chunk = chunk.to_vec();
    let server = Hostile::serve("127.0.0.1", move |_| {
        endless("application/x-ndjson", &chunk)
    });
    let client = capped(&server, 256 * 1024);
    // Each face reads on a thread of its own, so a stream that never ends fails the test
    // instead of hanging it.
    let (done, outcomes) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().expect("a runtime");
        let items: Vec<Result<serde_json::Value, Error>> =
            runtime.block_on(catalog_search_stream::stream(&client, stream_input()).collect());
        let _ = done.send(("async", items));
        let items = catalog_search_stream::stream_blocking(&client, stream_input()).collect();
        let _ = done.send(("blocking", items));
    });
    for face in ["async", "blocking"] {
        let (from, items) = outcomes
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("the {face} stream did not end"));
        assert_eq!(from, face);
        assert!(
            matches!(
                items.as_slice(),
                [Err(Error::TooLarge { limit: 262_144, .. })]
            ),
            "{face}: {items:?}"
        );
    }
}

/// The response-size cap of the read-ahead tests: one line may be this long.
const LINE_CAP: u64 = 8 * 1024 * 1024;

/// How many lines the read-ahead tests' server has to send.
const LINES: usize = 24;

/// A server of [`LINES`] lines of three quarters of [`LINE_CAP`] each, counting the lines its
/// socket took, and a client capped at [`LINE_CAP`].
fn long_lines() -> (Hostile, Client, Arc<AtomicUsize>) {
    let written = Arc::new(AtomicUsize::new(0));
    let pad = "x".repeat(usize::try_from(LINE_CAP).expect("small") * 3 / 4);
    let line = format!("{{\"pad\":\"{pad}\"}}\n").into_bytes();
    let counted = written.clone();
    let server = Hostile::serve("127.0.0.1", move |_| counted_lines(&line, LINES, &counted));
    let client = capped(&server, LINE_CAP);
    (server, client, written)
}

/// How many lines the server had sent once it stopped getting further (the client no longer
/// reading ahead), waiting at most 30 s for that.
fn lines_sent_once_stalled(written: &AtomicUsize) -> usize {
    let started = Instant::now();
    let mut last = (written.load(Ordering::SeqCst), Instant::now());
    while started.elapsed() < Duration::from_secs(30) {
        thread::sleep(Duration::from_millis(100));
        let now = written.load(Ordering::SeqCst);
        if now != last.0 {
            last = (now, Instant::now());
        } else if last.0 > 0 && last.1.elapsed() > Duration::from_millis(800) {
            break;
        }
    }
    last.0
}

/// The most lines the server may get out while the caller reads none: what the SDK may hold
/// (a few lines, each under the cap) and what loopback sockets buffer (tens of MiB here),
/// far under all of them.
const STALLED_AT_MOST: usize = 12;

fn check_read_ahead(face: &str, sent: usize, items: Vec<Result<serde_json::Value, Error>>) {
    assert!(
        (1..=STALLED_AT_MOST).contains(&sent),
        "{face}: the server got {sent} of {LINES} lines out before the caller read them"
    );
    assert_eq!(items.len(), LINES, "{face}: every line, once read");
    assert!(items.iter().all(Result::is_ok), "{face}");
}

#[test]
fn a_blocking_stream_holds_lines_up_to_a_byte_budget_while_its_caller_reads_none() {
    let (_server, client, written) = long_lines();
    let body = stream_input();
    let items = catalog_search_stream::stream_blocking(&client, body);
    let sent = lines_sent_once_stalled(&written);
    check_read_ahead("blocking", sent, items.collect());
}

#[test]
fn an_async_stream_reads_no_further_ahead_of_its_caller() {
    let (_server, client, written) = long_lines();
    let body = stream_input();
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let mut items = catalog_search_stream::stream(&client, body);
    let first = runtime.block_on(items.next()).expect("a first item");
    let sent = lines_sent_once_stalled(&written);
    let mut all = vec![first];
    all.extend(runtime.block_on(items.collect::<Vec<_>>()));
    check_read_ahead("async", sent, all);
}

#[test]
fn clients_have_default_timeouts() {
    assert_eq!(DEFAULT_TIMEOUT, Duration::from_secs(60));
    assert_eq!(DEFAULT_CONNECT_TIMEOUT, Duration::from_secs(10));
    let client = AuthenticatedClient::new("http://127.0.0.1:1", TOKEN).expect("valid");
    assert_eq!(client.timeout(), Some(DEFAULT_TIMEOUT));
    let lifted = Client::builder().timeout(None).build().expect("valid");
    assert_eq!(lifted.timeout(), None);
}

/// A server whose first answer never completes (the request may have run), whose second is
/// the API's 409 for a key whose first request is still running, and whose third is the
/// replayed success; with the request each attempt sent.
fn busy_key_server(first_conflict_is_the_answer: bool) -> Hostile {
    let answered = Arc::new(AtomicUsize::new(0));
    Hostile::serve("127.0.0.1", move |_| {
        let conflict = || {
            json(
                409,
                &[],
                r#"{"type":"about:blank","title":"Conflict","status":409,"detail":"a request with this Idempotency-Key is still being processed"}"#,
            )
        };
        match answered.fetch_add(1, Ordering::SeqCst) {
            0 if first_conflict_is_the_answer => conflict(),
            0 => Reply::Trickle {
                head: "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n"
                    .to_owned(),
                body: vec![b' '; 100],
                every: Duration::from_millis(200),
            },
            1 => conflict(),
            _ => json(200, &[], r#"{"id":"prj_1","name":"p"}"#),
        }
    })
}

/// A keyed call whose first attempt timed out (it may still be running) and whose retry is
/// answered 409, the key's claim held by that first request, is retried again and ends with
/// the answer replayed; it ended `Conflict` after two attempts, an outcome neither refused
/// nor known. A 409 to a first attempt is the answer, retried by nothing.
#[tokio::test]
async fn a_409_to_a_keyed_retry_while_the_first_attempt_may_run_is_retried() {
    let server = busy_key_server(false);
    let client = geopera::Geopera::from(
        AuthenticatedClient::builder("gpra_test_key")
            .base_url(server.url())
            .timeout(Duration::from_millis(300))
            .retry_policy(
                geopera::RetryPolicy::default()
                    .backoff(Duration::from_millis(10), Duration::from_millis(20)),
            )
            .build()
            .expect("valid"),
    );
    let answer = client
        .invoke_request(
            "projects.create",
            geopera::Request::new(json!({"name": "p"})).retries(3),
        )
        .await
        .expect("the replayed answer");
    assert_eq!(answer.status.as_u16(), 200);
    assert_eq!(answer.attempts, 3);
    let seen = server.seen();
    let keys: std::collections::HashSet<_> = seen
        .iter()
        .filter_map(|request| request.header("idempotency-key"))
        .collect();
    assert_eq!((seen.len(), keys.len()), (3, 1), "one key on every attempt");

    let server = busy_key_server(true);
    let client = AuthenticatedClient::builder("gpra_test_key")
        .base_url(server.url())
        .build()
        .expect("valid");
    let refused = geopera::Geopera::from(client)
        .invoke("projects.create", json!({"name": "p"}))
        .await
        .expect_err("a 409");
    assert_eq!(refused.kind(), geopera::ErrorKind::Conflict);
    assert_eq!(refused.attempts(), 1);
}

#[tokio::test]
async fn a_trickled_body_is_cut_off_by_the_attempt_timeout() {
    let server = Hostile::serve("127.0.0.1", |_| Reply::Trickle {
        head: "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 10000\r\n\r\n"
            .to_owned(),
        body: vec![b' '; 10_000],
        every: Duration::from_millis(50),
    });
    let client = Client::builder()
        .base_url(server.url())
        .timeout(Duration::from_millis(700))
        .retries(0)
        .build()
        .expect("valid");
    let started = Instant::now();
    let err = catalog_search::send(&client, CatalogSearchInput::new(HOST))
        .await
        .expect_err("cut off");
    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(
        matches!(
            err,
            Error::Timeout {
                limit: TimeoutLimit::Attempt,
                ..
            }
        ),
        "{err:?}"
    );
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(600) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
}

/// A stream takes no client-wide timeout, but one its call sets bounds the whole stream on
/// both faces: it was dropped without a word.
#[test]
fn a_stream_s_own_timeout_cuts_a_trickling_stream_off_on_both_faces() {
    let line = b"{\"n\":1}\n".repeat(1000);
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/x-ndjson\r\ncontent-length: {}\r\n\r\n",
        line.len()
    );
    let server = Hostile::serve("127.0.0.1", move |_| Reply::Trickle {
        head: head.clone(),
        body: line.clone(),
        every: Duration::from_millis(20),
    });
    let client = Client::builder()
        .base_url(server.url())
        .timeout(Duration::from_millis(100))
        .retries(0)
        .build()
        .expect("valid");
    let body = || Request::new(stream_input()).timeout(Duration::from_millis(700));
    let check = |items: Vec<Result<serde_json::Value, Error>>, started: Instant, face: &str| {
        let elapsed = started.elapsed();
        // The client's 100 ms does not apply: items arrive past it.
        assert!(items.len() > 1, "{face}: {items:?}");
        match items.last() {
            Some(Err(Error::Timeout {
                limit: TimeoutLimit::Attempt,
                ..
            })) => {}
            other => panic!("{face}: {other:?}"),
        }
        assert!(
            elapsed >= Duration::from_millis(600) && elapsed < Duration::from_secs(5),
            "{face}: {elapsed:?}"
        );
    };
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let started = Instant::now();
    let items = runtime.block_on(catalog_search_stream::stream(&client, body()).collect());
    check(items, started, "async");
    let started = Instant::now();
    let items = catalog_search_stream::stream_blocking(&client, body()).collect();
    check(items, started, "blocking");
}

#[test]
fn a_stalled_body_is_cut_off_by_the_read_timeout_on_both_faces_whoever_built_the_http_client() {
    let server = Hostile::serve("127.0.0.1", |_| Reply::Trickle {
        head: "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n"
            .to_owned(),
        body: vec![b' '; 100],
        every: Duration::from_secs(5),
    });
    let check = |err: Error, started: Instant| {
        assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
        assert!(
            matches!(
                err,
                Error::Timeout {
                    limit: TimeoutLimit::Read,
                    ..
                }
            ),
            "{err:?}"
        );
        let elapsed = started.elapsed();
        assert!(
            elapsed >= Duration::from_millis(250) && elapsed < Duration::from_secs(4),
            "{elapsed:?}"
        );
    };
    // The engine keeps the read timeout, so a reqwest client of the caller's has it too.
    let brought = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a reqwest client");
    for http in [None, Some(brought)] {
        let mut builder = Client::builder().base_url(server.url());
        if let Some(http) = http {
            builder = builder.http_client(http);
        }
        // No call timeout: only the wait between two reads can end these calls early.
        let client = builder
            .timeout(None)
            .read_timeout(Duration::from_millis(300))
            .retries(0)
            .build()
            .expect("valid");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let started = Instant::now();
        check(
            runtime
                .block_on(catalog_search::send(&client, CatalogSearchInput::new(HOST)))
                .expect_err("cut off"),
            started,
        );
        let started = Instant::now();
        check(
            catalog_search::send_blocking(&client, CatalogSearchInput::new(HOST))
                .expect_err("cut off"),
            started,
        );
    }
}

#[test]
fn a_stream_that_goes_quiet_ends_with_the_read_timeout_after_its_items() {
    // One line at once, then a byte every 5 s: the second item never comes in time.
    let server = Hostile::serve("127.0.0.1", |_| {
        Reply::Trickle {
        head: "HTTP/1.1 200 OK\r\ncontent-type: application/x-ndjson\r\ncontent-length: 45\r\n\r\n{\"id\":1}\n"
            .to_owned(),
        body: b"{\"id\":2}\n".repeat(4),
        every: Duration::from_secs(5),
    }
    });
    let client = Client::builder()
        .base_url(server.url())
        .read_timeout(Duration::from_millis(300))
        .retries(0)
        .build()
        .expect("valid");
    let check = |items: Vec<Result<serde_json::Value, Error>>, started: Instant| {
        let elapsed = started.elapsed();
        match items.as_slice() {
            [Ok(first), Err(Error::Timeout {
                limit: TimeoutLimit::Read,
                request_id: Some(_),
                ..
            })] => assert_eq!(first["id"], 1),
            other => panic!("one item, then the read timeout: {other:?}"),
        }
        assert!(
            elapsed >= Duration::from_millis(250) && elapsed < Duration::from_secs(4),
            "{elapsed:?}"
        );
    };
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let started = Instant::now();
    check(
        runtime.block_on(catalog_search_stream::stream(&client, stream_input()).collect()),
        started,
    );
    let started = Instant::now();
    check(
        catalog_search_stream::stream_blocking(&client, stream_input()).collect(),
        started,
    );
}

#[test]
fn a_stream_is_not_cut_by_the_read_timeout_while_items_keep_coming() {
    // Every line takes 50 ms, the whole answer about 2 s: far past the read timeout in all,
    // never quiet for as long as it.
    let line = b"{\"id\":0}\n";
    let server = Hostile::serve("127.0.0.1", move |_| Reply::Trickle {
        head: format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/x-ndjson\r\ncontent-length: {}\r\n\r\n",
            line.len() * 4
        ),
        body: line.repeat(4),
        every: Duration::from_millis(50),
    });
    let client = Client::builder()
        .base_url(server.url())
        .read_timeout(Duration::from_millis(400))
        .retries(0)
        .build()
        .expect("valid");
    let body = stream_input();
    let items: Vec<Result<serde_json::Value, Error>> =
        catalog_search_stream::stream_blocking(&client, body).collect();
    assert_eq!(items.len(), 4, "{items:?}");
    assert!(items.iter().all(Result::is_ok), "{items:?}");
}

#[test]
fn bounds_of_duration_max_mean_no_bound_on_both_faces() {
    // A careless caller's "for ever": adding it to a clock that has run a while must not
    // overflow, and the calls go through.
    let emu = emulator();
    let client = AuthenticatedClient::builder(emu.api_key())
        .base_url(emu.base_url())
        .timeout(Duration::MAX)
        .read_timeout(Duration::MAX)
        .connect_timeout(Duration::MAX)
        .pool_idle_timeout(Duration::MAX)
        .deadline(Duration::MAX)
        .build()
        .expect("valid");
    thread::sleep(Duration::from_millis(1100));
    let forever = || Request::new(CatalogSearchInput::new(HOST)).deadline(Duration::MAX);
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime
        .block_on(catalog_search::send(&client, forever()))
        .expect("no bound is not an overflow");
    catalog_search::send_blocking(&client, forever()).expect("no bound is not an overflow");
    runtime
        .block_on(catalog_search::send(&client, CatalogSearchInput::new(HOST)))
        .expect("the client's own bounds are no overflow either");
}

#[test]
fn the_read_timeout_has_a_default() {
    assert_eq!(DEFAULT_READ_TIMEOUT, Duration::from_secs(60));
}

fn emulator_with(faults: &str) -> geopera_emulator::EmulatorHandle {
    Emulator::builder()
        .rate_limits(RateLimits::off())
        .faults(FaultPlan::parse(faults).expect("a valid plan"))
        .start()
        .expect("starts")
}

fn quick() -> RetryPolicy {
    RetryPolicy::default().backoff(Duration::from_millis(5), Duration::from_millis(20))
}

#[tokio::test]
async fn a_429_longer_than_the_deadline_keeps_its_wait() {
    let emu = emulator_with("429;retry-after=5;op=catalog.search");
    let client = AuthenticatedClient::builder(emu.api_key())
        .base_url(emu.base_url())
        .deadline(Duration::from_secs(1))
        .build()
        .expect("valid");
    let started = Instant::now();
    let err = catalog_search::send(&client, CatalogSearchInput::new(HOST))
        .await
        .expect_err("rate limited");
    assert!(
        matches!(err, Error::RateLimited { retry_after, attempts: 1, .. } if retry_after == Duration::from_secs(5)),
        "{err:?}"
    );
    assert_eq!(err.retry_after(), Some(Duration::from_secs(5)));
    assert!(err.problem().is_some(), "the problem body is kept");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "no pointless wait"
    );
}

#[tokio::test]
async fn a_429_after_the_last_retry_keeps_its_wait() {
    let emu = emulator_with("429;retry-after=1;op=catalog.search");
    let client = AuthenticatedClient::builder(emu.api_key())
        .base_url(emu.base_url())
        .retry_policy(quick().max_retries(1))
        .build()
        .expect("valid");
    let err = catalog_search::send(&client, CatalogSearchInput::new(HOST))
        .await
        .expect_err("rate limited twice");
    assert!(
        matches!(err, Error::RateLimited { retry_after, attempts: 2, .. } if retry_after == Duration::from_secs(1)),
        "{err:?}"
    );
    let err = catalog_search::send_blocking(
        &client,
        Request::new(CatalogSearchInput::new(HOST)).retries(0),
    )
    .expect_err("rate limited");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(1)));
    // The detailed answer is a value, and turns into the same error.
    let response = catalog_search::send_detailed(
        &client,
        Request::new(CatalogSearchInput::new(HOST)).retries(0),
    )
    .await
    .expect("a 429 answer");
    assert_eq!(response.status, StatusCode::TOO_MANY_REQUESTS);
    let err = response.into_result().expect_err("rate limited");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(1)));
}

/// A `Retry-After` given as an HTTP date names an instant: the retry waits for it from when
/// the answer came, however long the answer took on the client's clock. (Seconds count from
/// the answer, which the client dates by when it sent the request; a date's wait, read when
/// the answer arrived and then counted from the request again, came early by the round trip.)
#[tokio::test]
async fn a_retry_after_date_is_waited_for_until_its_instant() {
    const ROUND_TRIP: Duration = Duration::from_secs(5);
    let clock = geopera_emulator::ManualClock::new();
    let time = crate::support::SharedTime::new(&clock);
    let arrivals = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (seen, server_time) = (arrivals.clone(), time.clone());
    let server = Hostile::serve("127.0.0.1", move |_| {
        let mut seen = seen.lock().expect("not poisoned");
        seen.push(geopera::Clock::now(&*server_time));
        if seen.len() > 1 {
            return json(200, &[], r#"{"type":"FeatureCollection","features":[]}"#);
        }
        // The answer takes this long to come back, on the client's clock; the date it
        // carries is some 3 to 4 s ahead (a date counts whole seconds).
        clock.advance(ROUND_TRIP);
        let date = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(4));
        json(429, &[("retry-after", &date)], r#"{"detail":"slow down"}"#)
    });
    let client = Client::builder()
        .base_url(server.url())
        .clock(time)
        .retries(1)
        .build()
        .expect("valid");

    catalog_search::send(&client, CatalogSearchInput::new(HOST))
        .await
        .expect("the retry is answered");
    let arrivals = arrivals.lock().expect("not poisoned").clone();
    assert_eq!(arrivals.len(), 2, "{arrivals:?}");
    let answered_at = arrivals[0] + ROUND_TRIP;
    let waited = arrivals[1].saturating_sub(answered_at);
    assert!(
        waited >= Duration::from_millis(2500) && waited <= Duration::from_secs(4),
        "the retry came {waited:?} after the answer that named an instant 3 to 4 s ahead"
    );
}

#[tokio::test]
async fn a_retry_after_too_big_for_u64_fails_fast_instead_of_retrying() {
    let server = Hostile::serve("127.0.0.1", |_| {
        json(
            429,
            &[("retry-after", "184467440737095516160000")],
            r#"{"title":"Too Many Requests","status":429}"#,
        )
    });
    let client = Client::builder()
        .base_url(server.url())
        .retry_policy(quick().max_retries(3))
        .build()
        .expect("valid");
    let err = catalog_search::send(&client, CatalogSearchInput::new(HOST))
        .await
        .expect_err("rate limited");
    assert!(
        matches!(err, Error::RateLimited { attempts: 1, .. }),
        "failed at once: {err:?}"
    );
    assert_eq!(err.retry_after(), Some(Duration::from_secs(u64::MAX)));
    assert_eq!(server.seen().len(), 1, "not retried");
    // The client now holds back until the end of time: a next call ends all the same.
    let next = catalog_search::send(&client, CatalogSearchInput::new(HOST));
    let ended = tokio::time::timeout(Duration::from_secs(20), next).await;
    let err = ended.expect("the call ends").expect_err("rate limited");
    assert!(
        matches!(err.kind(), ErrorKind::RateLimited | ErrorKind::Timeout),
        "{err:?}"
    );
}

/// A server whose token endpoint answers `token` and whose operations answer `{}`, and a
/// client signing in to it with a password.
fn signing_in_with(token: String) -> (Hostile, AuthenticatedClient) {
    let server = Hostile::serve("127.0.0.1", move |seen| {
        if seen.path.ends_with("/token") {
            json(200, &[], &token)
        } else {
            json(200, &[], "{}")
        }
    });
    let oidc = geopera::auth::Oidc::for_base_url(&server.url()).expect("a provider");
    let session = geopera::auth::Session::password(oidc, "alice", "pw");
    let client = AuthenticatedClient::builder_with_credentials(session)
        .base_url(server.url())
        .build()
        .expect("valid");
    (server, client)
}

#[tokio::test]
async fn a_token_lifetime_of_2_to_the_64_seconds_is_taken_as_a_long_one() {
    let (server, client) = signing_in_with(
        r#"{"access_token":"at_1","refresh_token":"rt_1","token_type":"Bearer","expires_in":18446744073709551615,"refresh_expires_in":18446744073709551615}"#
            .to_owned(),
    );
    for _ in 0..2 {
        let answer = catalog_search::send_detailed(&client, CatalogSearchInput::new(HOST))
            .await
            .expect("signed in and answered");
        assert_eq!(answer.status.as_u16(), 200);
    }
    let signed: Vec<_> = server
        .seen()
        .into_iter()
        .filter(|seen| seen.path.starts_with("/v1/op/"))
        .map(|seen| seen.header("authorization").map(str::to_owned))
        .collect();
    assert_eq!(signed, vec![Some("Bearer at_1".to_owned()); 2]);
    let signs_in = server
        .seen()
        .iter()
        .filter(|seen| seen.path.ends_with("/token"))
        .count();
    assert_eq!(signs_in, 1, "the long-lived token is kept");
}

#[tokio::test]
async fn a_sign_in_answer_past_its_fixed_cap_names_that_cap_not_the_builder_setting() {
    // 70 KiB: past the provider's cap, far inside the client's 64 MiB for answers.
    let padding = "x".repeat(70 * 1024);
    let (_server, client) = signing_in_with(format!(r#"{{"access_token":"{padding}"}}"#));
    let err = catalog_search::send(&client, CatalogSearchInput::new(HOST))
        .await
        .expect_err("the sign-in answer is too long");
    assert!(
        matches!(
            err,
            Error::TooLarge {
                operation_id: "oidc.token",
                limit: 65_536,
                ..
            }
        ),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("identity provider") && !message.contains("max_response_bytes"),
        "{message}"
    );
}

#[tokio::test]
async fn a_429_without_retry_after_follows_the_backoff_and_estimates_the_window() {
    let server = Hostile::serve("127.0.0.1", |_| json(429, &[], "{}"));
    let client = Client::builder()
        .base_url(server.url())
        .retries(0)
        .raise_on_unexpected_status(true)
        .build()
        .expect("valid");
    let err = catalog_search::send_detailed(&client, CatalogSearchInput::new(HOST))
        .await
        .expect_err("raised as rate limited, not as unexpected");
    let wait = err.retry_after().expect("a wait");
    assert!(
        wait > Duration::ZERO && wait <= Duration::from_secs(60),
        "{wait:?}"
    );
    assert_eq!(server.seen().len(), 1);

    // Retried, it follows the backoff (it may come from something in front of the API), and
    // the error still estimates the API's window once the retries are spent.
    let client = Client::builder()
        .base_url(server.url())
        .retry_policy(quick().max_retries(2))
        .build()
        .expect("valid");
    let started = Instant::now();
    let err = catalog_search::send(&client, CatalogSearchInput::new(HOST))
        .await
        .expect_err("rate limited");
    assert!(
        matches!(err, Error::RateLimited { attempts: 3, .. }),
        "{err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "no wait of a minute"
    );
    let wait = err.retry_after().expect("a wait");
    assert!(
        wait > Duration::ZERO && wait <= Duration::from_secs(60),
        "{wait:?}"
    );
    assert_eq!(server.seen().len(), 4);
}

/// `send_detailed` hands a 429 back as a value whether its wait is too long to wait out or
/// the retries are spent, as it does every status the contract leaves out. Once, a wait
/// longer than the policy allows made it an error there, and spent retries a value.
#[tokio::test]
async fn send_detailed_hands_back_every_429_alike() {
    let emu = emulator_with("429;retry-after=120;op=catalog.search");
    let client = AuthenticatedClient::builder(emu.api_key())
        .base_url(emu.base_url())
        .build()
        .expect("valid");
    let response = catalog_search::send_detailed(&client, CatalogSearchInput::new(HOST))
        .await
        .expect("a 429 answer");
    assert_eq!(response.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        response.attempts, 1,
        "a wait of two minutes is not waited out"
    );
    let err = response.into_result().expect_err("rate limited");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(120)));
    let err = catalog_search::send(&client, CatalogSearchInput::new(HOST))
        .await
        .expect_err("rate limited");
    assert!(
        matches!(err, Error::RateLimited { retry_after, attempts: 1, .. } if retry_after == Duration::from_secs(120)),
        "{err:?}"
    );
}

#[tokio::test]
async fn every_error_has_a_kind_that_says_whether_to_retry() {
    let emu = emulator_with("status=501;op=billing.credits.balance");
    let fail_fast = RetryPolicy::none();
    let with = |token: &str| {
        AuthenticatedClient::builder(token)
            .base_url(emu.base_url())
            .retry_policy(fail_fast.clone())
            .timeout(Duration::from_millis(300))
            .build()
            .expect("valid")
    };
    let search = || CatalogSearchInput::new(HOST).limit(1);
    let fault = |spec: &str| Request::new(search()).header("x-emulator-fault", spec);
    let good = with(emu.api_key());
    let mut kinds = Vec::new();

    let err = catalog_search::send(&with("gpra_unknown"), search())
        .await
        .expect_err("401");
    kinds.push((err.kind(), err.is_retryable()));
    let err = catalog_search::send(&with(&emu.create_key(&["orders:read"])), search())
        .await
        .expect_err("403");
    kinds.push((err.kind(), err.is_retryable()));
    let err = orders_get::send(&good, OrderGetInput::new("ord_does_not_exist"))
        .await
        .expect_err("404");
    kinds.push((err.kind(), err.is_retryable()));
    let topup = |amount: i64| {
        Request::new(
            json!({"amount_aud": amount})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        )
        .idempotency_key("5e0f4f9e-4c1b-4a8e-9d0e-0a4c2b7e9f11")
    };
    billing_topup::send(&good, topup(1))
        .await
        .expect("a top-up");
    let err = billing_topup::send(&good, topup(2)).await.expect_err("409");
    kinds.push((err.kind(), err.is_retryable()));
    let err = catalog_search::send(&good, json!({"host_name": HOST, "limit": 0}))
        .await
        .expect_err("local 422");
    kinds.push((err.kind(), err.is_retryable()));
    let err = catalog_search::send(&good, fault("500"))
        .await
        .expect_err("500");
    kinds.push((err.kind(), err.is_retryable()));
    let err = geopera::operations::billing_credits_balance::send(&good, json!({}))
        .await
        .expect_err("501");
    kinds.push((err.kind(), err.is_retryable()));
    let err = catalog_search::send(&good, fault("latency=2s"))
        .await
        .expect_err("timeout");
    kinds.push((err.kind(), err.is_retryable()));
    let err = catalog_search::send(&good, fault("malformed"))
        .await
        .expect_err("decode");
    kinds.push((err.kind(), err.is_retryable()));
    let closed = AuthenticatedClient::builder(TOKEN)
        .base_url("http://127.0.0.1:9")
        .retry_policy(fail_fast.clone())
        .build()
        .expect("valid");
    let err = catalog_search::send(&closed, search())
        .await
        .expect_err("refused");
    kinds.push((err.kind(), err.is_retryable()));

    assert_eq!(
        kinds,
        [
            (ErrorKind::Auth, false),
            (ErrorKind::Auth, false),
            (ErrorKind::NotFound, false),
            (ErrorKind::Conflict, false),
            (ErrorKind::Validation, false),
            (ErrorKind::Server, true),
            (ErrorKind::Server, false),
            (ErrorKind::Timeout, true),
            (ErrorKind::Decode, false),
            (ErrorKind::Transport, true),
        ]
    );
}

/// Runs `work` on a thread of its own and fails the test, instead of hanging it, when it does
/// not finish in time.
fn within<T: Send + 'static>(limit: Duration, work: impl FnOnce() -> T + Send + 'static) -> T {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        let _ = sender.send(work());
    });
    receiver
        .recv_timeout(limit)
        .expect("finished instead of hanging")
}

fn one_in_flight(emu: &geopera_emulator::EmulatorHandle) -> AuthenticatedClient {
    AuthenticatedClient::builder(emu.api_key())
        .base_url(emu.base_url())
        .max_in_flight(1)
        .build()
        .expect("valid")
}

fn slow(latency: &str) -> Request<CatalogSearchInput> {
    Request::new(CatalogSearchInput::new(HOST).limit(1)).header("x-emulator-fault", latency)
}

#[test]
fn a_blocking_call_that_would_deadlock_a_current_thread_runtime_is_an_error() {
    let emu = emulator();
    let client = one_in_flight(&emu);
    let (blocking, waited, holder) = within(Duration::from_secs(20), move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async move {
            let holder = tokio::spawn({
                let client = client.clone();
                async move { catalog_search::send(&client, slow("latency=500ms")).await }
            });
            // Let the async call take the only slot and start waiting for its answer.
            tokio::time::sleep(Duration::from_millis(100)).await;
            let started = Instant::now();
            let blocking = catalog_search::send_blocking(&client, CatalogSearchInput::new(HOST));
            (blocking, started.elapsed(), holder.await)
        })
    });
    let err = blocking.expect_err("would deadlock");
    assert!(matches!(err, Error::WouldDeadlock { .. }), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
    assert!(
        waited < Duration::from_millis(300),
        "failed at once: {waited:?}"
    );
    holder
        .expect("joined")
        .expect("the async call still finishes");
}

#[test]
fn a_blocking_call_waits_for_a_slot_another_thread_will_free() {
    let emu = emulator();
    let client = one_in_flight(&emu);
    let other = client.clone();
    let holder =
        thread::spawn(move || catalog_search::send_blocking(&other, slow("latency=400ms")));
    let (result, waited) = within(Duration::from_secs(20), move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let started = Instant::now();
            let result =
                catalog_search::send_blocking(&client, CatalogSearchInput::new(HOST).limit(1));
            (result, started.elapsed())
        })
    });
    result.expect("no false alarm: the slot comes free");
    assert!(
        waited >= Duration::from_millis(150),
        "it did wait: {waited:?}"
    );
    holder.join().expect("joined").expect("the holder finishes");
    assert_eq!(client_calls(&emu), 2);
}

fn client_calls(emu: &geopera_emulator::EmulatorHandle) -> u64 {
    emu.executed("catalog.search")
}

#[test]
fn a_blocking_call_off_any_runtime_waits_for_an_async_holder() {
    let emu = emulator();
    let client = one_in_flight(&emu);
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let holder = runtime.spawn({
        let client = client.clone();
        async move { catalog_search::send(&client, slow("latency=300ms")).await }
    });
    thread::sleep(Duration::from_millis(100));
    let result = within(Duration::from_secs(20), move || {
        catalog_search::send_blocking(&client, CatalogSearchInput::new(HOST).limit(1))
    });
    result.expect("served after the holder");
    runtime
        .block_on(holder)
        .expect("joined")
        .expect("the holder finishes");
    assert_eq!(client_calls(&emu), 2);
}

/// A blocking call made on the thread of a current-thread runtime while an async call of that
/// runtime waits for the only in-flight slot: the slot, once freed, goes to the async call
/// queued first, whose task cannot run while the blocking call stops its thread. The blocking
/// call fails at once instead of waiting until its deadline (for ever, without one).
#[test]
fn a_blocking_call_behind_a_queued_async_call_of_its_own_thread_is_an_error() {
    let page = r#"{"type":"FeatureCollection","features":[]}"#;
    // Slow answers for about a second and a half, so another thread holds the slot meanwhile.
    let server = Hostile::serve("127.0.0.1", move |seen| {
        if seen.header("x-slow").is_some() {
            Reply::Trickle {
                head: format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    page.len()
                ),
                body: page.as_bytes().to_vec(),
                every: Duration::from_millis(35),
            }
        } else {
            json(200, &[], page)
        }
    });
    let client = AuthenticatedClient::builder(TOKEN)
        .base_url(server.url())
        .max_in_flight(1)
        .build()
        .expect("valid");
    let holder = thread::spawn({
        let client = client.clone();
        move || {
            catalog_search::send_blocking(
                &client,
                Request::new(CatalogSearchInput::new(HOST)).header("x-slow", "1"),
            )
        }
    });
    let arrived = Instant::now();
    while server.seen().is_empty() && arrived.elapsed() < Duration::from_secs(10) {
        thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(server.seen().len(), 1, "the holder's request arrived");
    let (blocking, waited, queued) = within(Duration::from_secs(30), move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async move {
            let queued = tokio::spawn({
                let client = client.clone();
                async move { catalog_search::send(&client, CatalogSearchInput::new(HOST)).await }
            });
            // Let the async call queue for the slot.
            tokio::time::sleep(Duration::from_millis(100)).await;
            let started = Instant::now();
            let blocking = catalog_search::send_blocking(
                &client,
                Request::new(CatalogSearchInput::new(HOST)).deadline(Duration::from_secs(10)),
            );
            (blocking, started.elapsed(), queued.await)
        })
    });
    let err = blocking.expect_err("would deadlock");
    assert!(matches!(err, Error::WouldDeadlock { .. }), "{err:?}");
    assert!(
        waited < Duration::from_millis(500),
        "failed at once: {waited:?}"
    );
    holder.join().expect("joined").expect("the slow page");
    queued
        .expect("joined")
        .expect("the queued call goes once the slot is free");
}

/// Starts a search of `client` and returns once `server` has its request (10 s at most).
async fn first_call_sent(
    client: &AuthenticatedClient,
    server: &Hostile,
) -> tokio::task::JoinHandle<Result<geopera::models::CatalogSearchOutput, Error>> {
    let first = tokio::spawn({
        let client = client.clone();
        async move { catalog_search::send(&client, CatalogSearchInput::new(HOST)).await }
    });
    let started = Instant::now();
    while server.seen().is_empty() && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    first
}

/// A call whose deadline passes while it waits for an in-flight slot was never sent: its
/// timeout counts no attempt. It counted one, the attempt it was waiting to make.
#[tokio::test]
async fn a_deadline_that_passes_while_a_call_waits_for_a_slot_counts_no_attempt() {
    let server = Hostile::serve("127.0.0.1", |_| Reply::Trickle {
        head: "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n"
            .to_owned(),
        body: vec![b' '; 100],
        every: Duration::from_secs(5),
    });
    let client = AuthenticatedClient::builder(TOKEN)
        .base_url(server.url())
        .max_in_flight(1)
        .retries(0)
        .build()
        .expect("valid");
    // Holds the client's one slot while its answer trickles.
    let first = first_call_sent(&client, &server).await;
    let error = catalog_search::send(
        &client,
        Request::new(CatalogSearchInput::new(HOST)).deadline(Duration::from_millis(300)),
    )
    .await
    .expect_err("no slot came free in time");
    assert!(error.is_timeout(), "{error:?}");
    assert_eq!(error.attempts(), 0, "{error:?}");
    assert_eq!(server.seen().len(), 1, "only the first call was sent");
    first.abort();
}

/// A call waiting out a `Retry-After` has nothing in flight: it does not keep the client's
/// only in-flight slot, and another call goes meanwhile.
#[tokio::test]
async fn a_call_waiting_to_retry_does_not_hold_an_in_flight_slot() {
    let answered = std::sync::atomic::AtomicBool::new(false);
    let server = Hostile::serve("127.0.0.1", move |_| {
        if answered.swap(true, std::sync::atomic::Ordering::SeqCst) {
            json(200, &[], r#"{"type":"FeatureCollection","features":[]}"#)
        } else {
            json(503, &[("retry-after", "5")], r#"{"detail":"busy"}"#)
        }
    });
    let client = AuthenticatedClient::builder(TOKEN)
        .base_url(server.url())
        .max_in_flight(1)
        .build()
        .expect("valid");
    let first = first_call_sent(&client, &server).await;
    // Let the first call have its 503 and start waiting out the 5 s.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let second = tokio::time::timeout(
        Duration::from_secs(3),
        catalog_search::send(&client, CatalogSearchInput::new(HOST)),
    )
    .await;
    let waited = started.elapsed();
    second
        .unwrap_or_else(|_| panic!("waited {waited:?} for a slot while nothing was in flight"))
        .expect("a page");
    first
        .await
        .expect("joined")
        .expect("a page after the retry");
    assert_eq!(server.seen().len(), 3);
}

/// A call held by a 429's pause has nothing in flight: it does not keep the client's only
/// in-flight slot from a call of another class, which the pause does not hold.
#[tokio::test]
async fn a_call_held_by_a_pause_does_not_hold_an_in_flight_slot() {
    let server = spend_limited_server();
    let client = AuthenticatedClient::builder(TOKEN)
        .base_url(server.url())
        .max_in_flight(1)
        .retries(0)
        .build()
        .expect("valid");
    // The spend budget is paused for 5 s; the next spend call waits that out.
    a_topup(client.clone()).await.expect_err("limited");
    let held = tokio::spawn(a_topup(client.clone()));
    a_search_goes_past(&client, &server, "a pause").await;
    held.abort();
}

/// A server answering every spend call (`billing.*`) 429 with `Retry-After: 5`, and every
/// other call an empty page.
fn spend_limited_server() -> Hostile {
    Hostile::serve("127.0.0.1", |seen| {
        if seen.path.contains("billing") {
            json(429, &[("retry-after", "5")], r#"{"detail":"slow down"}"#)
        } else {
            json(200, &[], r#"{"type":"FeatureCollection","features":[]}"#)
        }
    })
}

/// A spend call (`billing.topup`) on `client`.
async fn a_topup(client: AuthenticatedClient) -> Result<serde_json::Value, geopera::Error> {
    let body = json!({"amount_aud": 1})
        .as_object()
        .cloned()
        .unwrap_or_default();
    billing_topup::send(&client, body).await
}

/// Waits 200 ms for a held spend call to be under way on `client`, then asserts that a search
/// goes past it within 3 s, and that the held call has not been sent to `server` again.
async fn a_search_goes_past(client: &AuthenticatedClient, server: &Hostile, holder: &str) {
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let search = tokio::time::timeout(
        Duration::from_secs(3),
        catalog_search::send(client, CatalogSearchInput::new(HOST)),
    )
    .await;
    let waited = started.elapsed();
    search
        .unwrap_or_else(|_| panic!("waited {waited:?} behind a call held by {holder}"))
        .expect("a page");
    let topups = server
        .seen()
        .iter()
        .filter(|seen| seen.path.contains("billing"))
        .count();
    assert_eq!(topups, 1, "the held call still waits");
}

/// A call held by the shared budget (another process met a 429 of its class) holds no
/// in-flight slot while it waits, as a call held by its own client's pause holds none: calls
/// of other classes go on. It held the slot, so a client of `max_in_flight(1)` stopped
/// entirely for the whole hold.
#[tokio::test]
async fn a_call_held_by_the_shared_budget_does_not_hold_an_in_flight_slot() {
    let server = spend_limited_server();
    let budget = std::sync::Arc::new(geopera::budget::LocalBudget::documented());
    let client = |budget: std::sync::Arc<geopera::budget::LocalBudget>| {
        AuthenticatedClient::builder(TOKEN)
            .base_url(server.url())
            .budget(budget)
            .max_in_flight(1)
            .retries(0)
            .build()
            .expect("valid")
    };
    let (other, this) = (client(budget.clone()), client(budget));
    // Another process of the fleet meets the 429: the budget holds spend calls for 5 s.
    a_topup(other).await.expect_err("limited");
    let held = tokio::spawn(a_topup(this.clone()));
    a_search_goes_past(&this, &server, "the budget").await;
    held.abort();
}

/// Everything an error shows: its message, its debug form and its causes.
fn everything_shown(error: &Error) -> String {
    let mut shown = format!("{error} {error:?}");
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        shown.push_str(&format!(" {cause} {cause:?}"));
        source = cause.source();
    }
    shown
}

#[tokio::test]
async fn a_server_that_echoes_the_credentials_never_gets_them_into_an_error() {
    let echo = format!("Bearer {TOKEN} and gpra_per_call_key");
    let answers = [
        json(
            500,
            &[("content-type", "application/problem+json")],
            &format!(r#"{{"title":"{echo}","detail":"{echo}","status":500,"seen":["{echo}"]}}"#),
        ),
        json(
            422,
            &[],
            &format!(
                r#"{{"detail":[{{"loc":["body","{TOKEN}"],"msg":"{echo}","type":"x","input":"{echo}"}}]}}"#
            ),
        ),
        json(418, &[("content-type", "text/plain")], &echo),
        json(200, &[], &format!(r#"{{"features": "{echo}"}}"#)),
        json(
            429,
            &[("retry-after", "600")],
            &format!(r#"{{"detail":"{echo}"}}"#),
        ),
    ];
    for (index, answer) in answers.into_iter().enumerate() {
        let server = Hostile::answering_once(answer);
        let client = AuthenticatedClient::builder(TOKEN)
            .base_url(server.url())
            .retries(0)
            .raise_on_unexpected_status(true)
            .build()
            .expect("valid");
        let request = Request::new(CatalogSearchInput::new(HOST)).api_key("gpra_per_call_key");
        let err = catalog_search::send(&client, request)
            .await
            .expect_err("an error answer");
        let shown = everything_shown(&err);
        for secret in [TOKEN, "gpra_per_call_key"] {
            assert!(!shown.contains(secret), "answer {index}: {shown}");
        }
        assert!(
            shown.contains("[redacted]"),
            "answer {index} says what was removed: {shown}"
        );
    }
}

/// A key given with an edge space (read from a file or an environment line) is sent, and a
/// server reads it trimmed, as RFC 9110 has it: echoed without the space, it is still
/// redacted.
#[tokio::test]
async fn a_credential_given_with_edge_spaces_is_redacted_as_the_server_echoes_it() {
    const KEY: &str = "gpra_spaced_key_0123456789";
    for (given, per_call) in [(format!(" {KEY} "), false), (format!("{KEY} "), true)] {
        let answer = json(
            401,
            &[("content-type", "application/problem+json")],
            &format!(
                r#"{{"title":"Unauthenticated","status":401,"detail":"unknown key '{KEY}'"}}"#
            ),
        );
        let server = Hostile::answering_once(answer);
        let client = AuthenticatedClient::builder(if per_call { TOKEN } else { given.as_str() })
            .base_url(server.url())
            .retries(0)
            .build()
            .expect("valid");
        let mut request = Request::new(CatalogSearchInput::new(HOST));
        if per_call {
            request = request.api_key(given.clone());
        }
        let err = catalog_search::send(&client, request)
            .await
            .expect_err("a 401");
        let shown = everything_shown(&err);
        assert!(!shown.contains(KEY), "{given:?}: {shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
    }
}

/// A token from the client's provider (a session's, not a fixed key) is kept out of the errors
/// of streams and page walks too, which quote what they could not decode after the call
/// itself has succeeded.
#[tokio::test]
async fn a_provider_token_echoed_into_a_stream_or_a_page_never_gets_into_an_error() {
    let echo = format!("Bearer {TOKEN}");
    let provider = std::sync::Arc::new(CountingProvider::default());
    let with_provider = |server: &Hostile| {
        Client::builder()
            .base_url(server.url())
            .retries(0)
            .build()
            .expect("valid")
            .with_credentials(ProviderHandle(provider.clone()))
            .expect("valid")
    };

    let server = Hostile::answering_once(json(
        200,
        &[],
        &format!("{{\"id\":1}}\n{echo} is no JSON\n"),
    ));
    let items: Vec<_> = catalog_search_stream::stream(&with_provider(&server), stream_input())
        .collect()
        .await;
    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!(
        items[0].as_ref().expect("the first line"),
        &json!({"id": 1})
    );
    let shown = everything_shown(items[1].as_ref().expect_err("the second line"));
    assert!(!shown.contains(TOKEN), "{shown}");
    assert!(shown.contains("[redacted]"), "{shown}");

    let server = Hostile::answering_once(json(
        200,
        &[],
        &format!(r#"{{"type":"FeatureCollection","features":"{echo}"}}"#),
    ));
    let pages: Vec<_> =
        catalog_search::pages(&with_provider(&server), CatalogSearchInput::new(HOST))
            .collect()
            .await;
    let error = pages
        .first()
        .expect("one page")
        .as_ref()
        .expect_err("a page that does not decode");
    let shown = everything_shown(error);
    assert!(!shown.contains(TOKEN), "{shown}");
    assert!(shown.contains("[redacted]"), "{shown}");
}

/// Credentials a caller sends as headers added by hand — the client's or the call's own
/// `Authorization`, `Proxy-Authorization` or `x-api-key`, a long cookie value — are kept out
/// of errors as the client's token is, when a server quotes the headers it was sent.
#[tokio::test]
async fn a_server_that_echoes_credentials_sent_as_plain_headers_never_gets_them_into_an_error() {
    const CLIENT_TOKEN: &str = "gpra_set_as_a_default_header";
    const CALL_PROXY: &str = "cHJveHktdXNlcjpwcm94eS1wYXNz";
    const CALL_KEY: &str = "gpra_set_as_a_call_header";
    const SESSION: &str = "session-cookie-0123456789abcdef";
    let server = Hostile::serve("127.0.0.1", |seen| {
        let quoted: Vec<String> = seen
            .headers
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        let body = serde_json::json!({"title": "Echo", "status": 500, "detail": quoted.join(", ")});
        json(
            500,
            &[("content-type", "application/problem+json")],
            &body.to_string(),
        )
    });
    let client = geopera::Client::builder()
        .base_url(server.url())
        .header("Authorization", format!("Bearer {CLIENT_TOKEN}"))
        .cookie("lang", "en")
        .cookie("session", SESSION)
        .retries(0)
        .build()
        .expect("valid");
    let request = Request::new(CatalogSearchInput::new(HOST))
        .header("Proxy-Authorization", format!("Basic {CALL_PROXY}"))
        .header("X-API-KEY", CALL_KEY);
    let err = catalog_search::send(&client, request)
        .await
        .expect_err("an error answer");
    let shown = everything_shown(&err);
    for secret in [CLIENT_TOKEN, CALL_PROXY, CALL_KEY, SESSION] {
        assert!(!shown.contains(secret), "{shown}");
    }
    assert!(shown.contains("[redacted]"), "{shown}");
    assert!(
        shown.contains("lang=en"),
        "a short cookie is no credential and stays readable: {shown}"
    );
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].header("x-api-key"),
        Some(CALL_KEY),
        "sent all the same"
    );
}

/// A session cookie sent in a `Cookie` header of the caller's own — the client's or the call's
/// — is a credential as one given with `cookie` is: a server that names the session it refused
/// quotes the cookie's value alone, and that stays out of errors on both faces.
#[test]
fn a_cookie_value_sent_in_a_cookie_header_never_gets_into_an_error() {
    const CLIENT_SESSION: &str = "client-session-0123456789abcdef";
    const CALL_SESSION: &str = "call-session-0123456789abcdef";
    let server = Hostile::serve("127.0.0.1", |seen| {
        let values: Vec<&str> = seen
            .header("cookie")
            .unwrap_or_default()
            .split(';')
            .filter_map(|pair| pair.split_once('=').map(|(_, value)| value.trim()))
            .collect();
        let detail = format!("unknown session {}", values.join(" and "));
        let body = serde_json::json!({"title": "Unauthenticated", "status": 401, "detail": detail});
        json(
            401,
            &[("content-type", "application/problem+json")],
            &body.to_string(),
        )
    });
    let client_wide = Client::builder()
        .base_url(server.url())
        .header("Cookie", format!("lang=en; session={CLIENT_SESSION}"))
        .retries(0)
        .build()
        .expect("valid");
    let plain = no_retries(&server);
    let by_call = || {
        Request::new(CatalogSearchInput::new(HOST))
            .header("cookie", format!("session=\"{CALL_SESSION}\""))
    };

    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let failed = [
        runtime
            .block_on(catalog_search::send(
                &client_wide,
                CatalogSearchInput::new(HOST),
            ))
            .expect_err("refused"),
        catalog_search::send_blocking(&client_wide, CatalogSearchInput::new(HOST))
            .expect_err("refused"),
        runtime
            .block_on(catalog_search::send(&plain, by_call()))
            .expect_err("refused"),
        catalog_search::send_blocking(&plain, by_call()).expect_err("refused"),
    ];
    for error in &failed {
        let shown = everything_shown(error);
        for secret in [CLIENT_SESSION, CALL_SESSION] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("unknown session"), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
    }
    assert!(
        everything_shown(&failed[0]).contains("en and [redacted]"),
        "a short cookie is no credential and stays readable"
    );
    assert_eq!(server.seen().len(), 4);
}

/// A client-wide credential header whose value is not all ASCII goes out as its bytes, so it
/// is kept out of errors like any other. Once, only visible-ASCII values were collected as the
/// client's secrets, and such a token came back whole in the error of a server that echoed it.
#[tokio::test]
async fn a_client_wide_credential_header_that_is_not_ascii_never_gets_into_an_error() {
    const TOKEN_TAIL: &str = "gpra_d\u{e9}faut_client_token";
    let server = Hostile::serve("127.0.0.1", |seen| {
        let quoted: Vec<String> = seen
            .headers
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        let body = serde_json::json!({"title": "Echo", "status": 500, "detail": quoted.join(", ")});
        json(
            500,
            &[("content-type", "application/problem+json")],
            &body.to_string(),
        )
    });
    let client = geopera::Client::builder()
        .base_url(server.url())
        .header("Authorization", format!("Bearer {TOKEN_TAIL}"))
        .header("X-API-Key", TOKEN_TAIL)
        .retries(0)
        .build()
        .expect("valid");
    let err = catalog_search::send(&client, CatalogSearchInput::new(HOST))
        .await
        .expect_err("an error answer");
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].header("x-api-key"),
        Some(TOKEN_TAIL),
        "sent as given"
    );
    let shown = everything_shown(&err);
    assert!(!shown.contains(TOKEN_TAIL), "{shown}");
    assert!(shown.contains("[redacted]"), "{shown}");
}

/// A client-wide `Idempotency-Key` would make every call replay the first one's answer.
#[test]
fn an_idempotency_key_for_every_call_is_refused() {
    let error = geopera::Client::builder()
        .header("Idempotency-Key", "one-for-all")
        .build()
        .expect_err("refused");
    assert!(matches!(error, Error::Config(_)), "{error:?}");
    assert!(error.to_string().contains("Idempotency-Key"), "{error}");
    let client = geopera::Client::new("http://127.0.0.1:9").expect("valid");
    let error = client
        .with_headers([("idempotency-key", "one-for-all")])
        .expect_err("refused");
    assert!(matches!(error, Error::Config(_)), "{error:?}");
}

/// A client-wide header the calls would not send as given is refused at build: each call
/// sends its own `X-Request-Id`, and a client's credential travels in its own header. Once,
/// such headers were taken and then silently replaced or sent beside the credential.
#[test]
fn client_wide_headers_a_call_would_replace_are_refused() {
    let refused = |builder: geopera::ClientBuilder<AuthenticatedClient>, name: &str| {
        let error = builder.build().expect_err("refused");
        assert!(matches!(error, Error::Config(_)), "{name}: {error:?}");
        assert!(
            error.to_string().to_ascii_lowercase().contains(name),
            "{name}: {error}"
        );
        assert!(!error.to_string().contains("SECRET"), "{error}");
    };
    for name in ["x-request-id", "authorization", "x-api-key"] {
        refused(
            AuthenticatedClient::builder(TOKEN).header(name.to_ascii_uppercase(), "SECRET"),
            name,
        );
    }
    let error = Client::builder()
        .header("X-Request-Id", "fixed")
        .build()
        .expect_err("refused");
    assert!(matches!(error, Error::Config(_)), "{error:?}");
    // A client without a credential may carry one of its own making.
    let client = Client::builder()
        .base_url("http://127.0.0.1:9")
        .header("Authorization", "Bearer own-scheme")
        .retries(0)
        .build()
        .expect("a client without a credential");
    drop(
        client
            .with_headers([("authorization", "Bearer other")])
            .expect("allowed"),
    );
    let authenticated = AuthenticatedClient::new("http://127.0.0.1:9", TOKEN).expect("valid");
    let error = authenticated
        .with_headers([("x-api-key", "SECRET")])
        .expect_err("refused");
    assert!(matches!(error, Error::Config(_)), "{error:?}");
    let error = client
        .with_headers([("x-request-id", "fixed")])
        .expect_err("refused");
    assert!(matches!(error, Error::Config(_)), "{error:?}");
    // Nor can a credential be given to a client carrying one of its own: once, both went out
    // and the API read the old bearer token.
    for credential in [
        geopera::auth::Credential::api_key("k2"),
        geopera::auth::Credential::bearer("k2"),
    ] {
        let error = client.with_credentials(credential).expect_err("refused");
        assert!(matches!(error, Error::Config(_)), "{error:?}");
        assert!(error.to_string().contains("authorization"), "{error}");
    }
    let keyed = Client::builder()
        .base_url("http://127.0.0.1:9")
        .header("X-API-Key", "own")
        .build()
        .expect("a client without a credential");
    let error = keyed
        .with_credentials(geopera::auth::Credential::bearer("k2"))
        .expect_err("refused");
    assert!(error.to_string().contains("x-api-key"), "{error}");
}

/// An empty credential can never work, so it is a configuration error, not a 401 on every call.
#[test]
fn an_empty_credential_is_refused_at_build() {
    for token in ["", "   "] {
        let error = AuthenticatedClient::new("http://127.0.0.1:9", token).expect_err("refused");
        assert!(matches!(error, Error::Config(_)), "{token:?}: {error:?}");
        assert!(error.to_string().contains("empty"), "{error}");
        let error = AuthenticatedClient::builder_with_credentials(
            geopera::auth::Credential::api_key(token),
        )
        .build()
        .expect_err("refused");
        assert!(matches!(error, Error::Config(_)), "{token:?}: {error:?}");
    }
}

/// A per-call key or request id given empty fails the call before anything is sent, as an
/// empty `Idempotency-Key` does.
#[tokio::test]
async fn an_empty_per_call_key_or_request_id_sends_nothing() {
    let server = Hostile::serve("127.0.0.1", |_| json(200, &[], "{}"));
    let client = AuthenticatedClient::builder(TOKEN)
        .base_url(server.url())
        .retries(0)
        .build()
        .expect("valid");
    let calls = [
        Request::new(CatalogSearchInput::new(HOST)).api_key(""),
        Request::new(CatalogSearchInput::new(HOST)).request_id(" "),
        Request::new(CatalogSearchInput::new(HOST)).header("X-Request-Id", ""),
    ];
    for request in calls {
        let error = catalog_search::send(&client, request)
            .await
            .expect_err("refused");
        assert_eq!(error.kind(), ErrorKind::InvalidRequest, "{error:?}");
        assert!(error.to_string().contains("empty"), "{error}");
    }
    assert!(server.seen().is_empty(), "{:?}", server.seen());
}

/// Limits no program reaches are taken as "no limit" rather than passed on to code that
/// panics on them: Tokio's semaphore (`max_in_flight`) and the connection pool's idle timer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_pool_and_in_flight_limits_mean_no_limit() {
    use std::sync::atomic::{AtomicBool, Ordering};
    static PANICKED: AtomicBool = AtomicBool::new(false);
    // A panic in the pool's own task would not fail the call; the hook sees it.
    let previous = std::sync::Arc::new(std::panic::take_hook());
    let chained = previous.clone();
    std::panic::set_hook(Box::new(move |info| {
        if info.to_string().contains("overflow") {
            PANICKED.store(true, Ordering::SeqCst);
        }
        chained(info);
    }));
    let emulator = emulator();
    let client = AuthenticatedClient::builder(emulator.api_key())
        .base_url(emulator.base_url())
        .max_in_flight(usize::MAX)
        .pool_idle_timeout(Duration::MAX)
        .build()
        .expect("valid");
    for _ in 0..3 {
        let page = catalog_search::send(&client, CatalogSearchInput::new(HOST).limit(1))
            .await
            .expect("answered");
        assert_eq!(page.features.len(), 1);
    }
    // The pool's idle sweep runs once a connection has been idle for a moment.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !PANICKED.load(Ordering::SeqCst),
        "the connection pool panicked"
    );
}

/// A server's words are quoted in an error's message and its `Debug` up to a bound — both go
/// to people and logs (`unwrap`, `fn main() -> Result`) — while the error's fields keep all
/// of them.
#[tokio::test]
async fn an_error_quotes_a_huge_answer_only_in_part_in_its_message_and_debug() {
    // Within `MAX_PROBLEM_BYTES`, so that the problem and the validation lists are read.
    let long = "w".repeat(900_000);
    let failures: Vec<serde_json::Value> = (0..5_000)
        .map(|i| json!({"loc": ["body", format!("field_{i}")], "msg": "bad", "type": "x"}))
        .collect();
    let answers = [
        json(
            500,
            &[("content-type", "application/problem+json")],
            &json!({"title": "Broken", "status": 500, "detail": long}).to_string(),
        ),
        json(
            422,
            &[],
            &json!({"detail": [{"loc": ["body"], "msg": long, "type": "x"}]}).to_string(),
        ),
        json(422, &[], &json!({"detail": failures}).to_string()),
        json(418, &[("content-type", "text/plain")], &long),
    ];
    for (index, answer) in answers.into_iter().enumerate() {
        let server = Hostile::answering_once(answer);
        let client = Client::builder()
            .base_url(server.url())
            .retries(0)
            .build()
            .expect("valid");
        let err = catalog_search::send(&client, CatalogSearchInput::new(HOST))
            .await
            .expect_err("an error answer");
        let message = err.to_string();
        assert!(
            message.len() < 2_000,
            "answer {index}: {} bytes",
            message.len()
        );
        assert!(
            message.contains('…') || message.ends_with("(and 4999 more)"),
            "answer {index} says it was cut: {message}"
        );
        for debug in [format!("{err:?}"), format!("{err:#?}")] {
            assert!(
                debug.len() < 20_000 && debug.contains('…'),
                "answer {index}: a Debug of {} bytes",
                debug.len()
            );
            assert!(debug.contains("catalog.search"), "answer {index}: {debug}");
        }
        match &err {
            Error::Api { problem, .. } => assert_eq!(problem.detail.len(), long.len()),
            Error::UnexpectedStatus { body, .. } => assert_eq!(body.len(), long.len()),
            Error::Validation { error, .. } => assert!(
                error.detail.len() == 5_000 || error.detail[0].msg.len() == long.len(),
                "answer {index}: the fields keep every failure whole"
            ),
            other => panic!("answer {index}: {other:?}"),
        }
    }
}

/// The credentials a body carries (a share link's token and password, a subscription's
/// delivery headers) are kept out of errors as the call's own are: a 422 that echoes the
/// input, or a problem that quotes it, shows `[redacted]` instead, typed call or `invoke`.
#[tokio::test]
async fn a_server_that_echoes_secrets_from_the_body_never_gets_them_into_an_error() {
    use geopera::models::{CreateSubscriptionInput, DeliveryHeaders, ShareLinkValidateInput};
    use geopera::operations::{event_subscriptions_create, share_link_validate};

    const PASSWORD: &str = "correct-horse-battery";
    const SHARE_TOKEN: &str = "shr_0123456789abcdef";
    const HEADER_VALUE: &str = "Bearer receiver-9d2c";
    let server = Hostile::serve("127.0.0.1", |seen| {
        // Whatever the body held, echoed back as pydantic does: the whole input, verbatim.
        let body = String::from_utf8_lossy(&seen.body).into_owned();
        if seen.body.len() % 2 == 0 {
            json(
                422,
                &[],
                &format!(
                    r#"{{"detail":[{{"loc":["body"],"msg":"bad","type":"x","input":{body}}}]}}"#
                ),
            )
        } else {
            json(
                400,
                &[("content-type", "application/problem+json")],
                &serde_json::json!({"title": "Bad", "status": 400, "detail": body}).to_string(),
            )
        }
    });
    let client = signed_in_no_retries(&server);

    let mut shown = Vec::new();
    for password in [PASSWORD, "correct-horse-battery!"] {
        let input = ShareLinkValidateInput::new(SHARE_TOKEN).password(password);
        let err = share_link_validate::send(&client, input)
            .await
            .expect_err("an error answer");
        shown.push((password, everything_shown(&err)));
    }
    let input = CreateSubscriptionInput::new("order.fulfilled", "https://example.com/hooks")
        .headers(DeliveryHeaders::new().with("Authorization", HEADER_VALUE));
    let err = event_subscriptions_create::send(&client, input)
        .await
        .expect_err("an error answer");
    shown.push((HEADER_VALUE, everything_shown(&err)));
    let err = geopera::Geopera::from(client.clone())
        .invoke(
            "share.link.validate",
            serde_json::json!({"token": SHARE_TOKEN, "password": PASSWORD}),
        )
        .await
        .expect_err("an error answer");
    shown.push((PASSWORD, everything_shown(&err)));

    assert_eq!(server.seen().len(), 4);
    for (secret, shown) in shown {
        assert!(!shown.contains(secret), "{shown}");
        assert!(
            !shown.contains(SHARE_TOKEN) || secret == HEADER_VALUE,
            "{shown}"
        );
        assert!(shown.contains("[redacted]"), "{shown}");
    }
}

/// Every credential is redacted in one pass over the server's words, so a short one (a share
/// link password of one letter) never cuts into the mark another left. Once the token was
/// replaced first and the password then inside `[redacted]`, which read `[r[redacted]dact…`.
#[tokio::test]
async fn a_short_credential_never_cuts_into_another_ones_mark() {
    use geopera::models::ShareLinkValidateInput;
    use geopera::operations::share_link_validate;

    let detail = format!("{TOKEN} sent the password e");
    let server = Hostile::answering_once(json(
        403,
        &[("content-type", "application/problem+json")],
        &json!({"title": "Forbidden", "status": 403, "detail": detail}).to_string(),
    ));
    let input = ShareLinkValidateInput::new("shr_0123456789abcdef").password("e");
    let err = share_link_validate::send(&signed_in_no_retries(&server), input)
        .await
        .expect_err("a problem");
    let Error::Api { problem, .. } = &err else {
        panic!("a problem, not {err:?}")
    };
    assert_eq!(
        problem.detail,
        "[redacted] s[redacted]nt th[redacted] password [redacted]"
    );
}

/// A body credential the SDK's own input checks refuse (a share link's password too short) is
/// kept out of the error as one a server echoes is: the failure quotes its input. Once, the
/// local checks ran before the body's credentials were known, and the password was shown.
#[tokio::test]
async fn a_secret_the_input_checks_refuse_never_gets_into_the_error() {
    use geopera::models::{ShareLinkCreate, ShareTargetType};
    use geopera::operations::share_link_create;

    const SHORT: &str = "Zq7!xw3";
    let client = geopera::AuthenticatedClient::builder(TOKEN)
        .base_url("http://127.0.0.1:9")
        .build()
        .expect("valid");
    let input = ShareLinkCreate::new(
        ShareTargetType::Item,
        "item_1",
        SHORT,
        "2030-01-01T00:00:00Z",
    );
    let err = share_link_create::send(&client, input)
        .await
        .expect_err("refused before sending");
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    let err_json = geopera::Geopera::from(client)
        .invoke(
            "share.link.create",
            serde_json::json!({"target_type": "item", "target_id": "item_1",
                "password": SHORT, "expires_at": "2030-01-01T00:00:00Z"}),
        )
        .await
        .expect_err("refused before sending");
    for err in [err, err_json] {
        let shown = everything_shown(&err);
        assert!(!shown.contains(SHORT), "{shown}");
        assert!(
            shown.contains("password"),
            "the field is still named: {shown}"
        );
    }
}

/// A server that quotes a credential inside a JSON string writes it escaped: `"` and `\` as
/// `\"` and `\\`, and, depending on its encoder, `é` as `\u00e9` (Python) or `/` as `\/`
/// (PHP). Raw bodies and excerpts keep those spellings, so each is redacted too.
#[tokio::test]
async fn a_credential_echoed_in_json_escapes_is_redacted_from_raw_bodies() {
    use geopera::models::ShareLinkValidateInput;
    use geopera::operations::share_link_validate;

    const PASSWORD: &str = r#"pa"ss\w/ord-é"#;
    const SPELLINGS: [&str; 4] = [
        r#"pa\"ss\\w/ord-é"#,
        r#"pa\"ss\\w/ord-\u00e9"#,
        r#"pa\"ss\\w/ord-\u00E9"#,
        r#"pa\"ss\\w\/ord-é"#,
    ];
    let echo = SPELLINGS.join(" ");
    let server = Hostile::serve("127.0.0.1", move |seen| {
        if seen.body.len() % 2 == 0 {
            json(418, &[("content-type", "text/plain")], &echo)
        } else {
            json(200, &[], &format!(r#"{{"valid": "{echo}"}}"#))
        }
    });
    let client = signed_in_no_retries(&server);

    let mut kinds = Vec::new();
    for token in ["shr_even", "shr_odd"] {
        let input = ShareLinkValidateInput::new(token).password(PASSWORD);
        let err = share_link_validate::send(&client, input)
            .await
            .expect_err("an error answer");
        let quoted = match &err {
            Error::UnexpectedStatus { body, .. } => String::from_utf8_lossy(body).into_owned(),
            Error::Decode { excerpt, .. } => excerpt.clone(),
            other => panic!("not an answer quoted raw: {other:?}"),
        };
        kinds.push(err.kind());
        let shown = format!("{quoted} {}", everything_shown(&err));
        for spelling in SPELLINGS {
            assert!(!shown.contains(spelling), "{spelling} in {shown}");
        }
        assert!(!shown.contains("ord-"), "{shown}");
        assert_eq!(quoted.matches("[redacted]").count(), 4, "{quoted}");
    }
    assert!(kinds.contains(&ErrorKind::Api), "{kinds:?}");
    assert!(kinds.contains(&ErrorKind::Decode), "{kinds:?}");
    assert_eq!(server.seen().len(), 2);
}

/// The header the servers below read the status to answer with from.
const ANSWER_STATUS: &str = "x-answer-status";

/// What the servers below answer with an error status: an error answer, which holds no
/// credential and is quoted as any other.
const ERROR_ANSWER: &str = r#"{"detail":"the teapot is out of keys"}"#;

/// A server that answers `answer` with the status the request names in [`ANSWER_STATUS`]
/// (200 without one), and [`ERROR_ANSWER`] with an error status.
fn answering_with_status(answer: String) -> Hostile {
    Hostile::serve("127.0.0.1", move |seen| {
        let status = seen
            .header(ANSWER_STATUS)
            .and_then(|status| status.parse().ok())
            .unwrap_or(200);
        if status >= 400 {
            json(status, &[], ERROR_ANSWER)
        } else {
            json(status, &[], &answer)
        }
    })
}

/// Both clients a quoted answer reaches an error through, each with whether it raises an
/// undocumented status: the default one, which decodes a success answer whatever its status,
/// and one that raises a status the contract does not document before decoding anything.
fn default_and_raising(server: &Hostile) -> [(AuthenticatedClient, bool); 2] {
    let raising = AuthenticatedClient::builder(TOKEN)
        .base_url(server.url())
        .retries(0)
        .raise_on_unexpected_status(true)
        .build()
        .expect("valid");
    [(signed_in_no_retries(server), false), (raising, true)]
}

/// The error of a success answer that does not fit the model, on the documented status (200)
/// or on one the contract does not document (203), of an operation whose answer holds
/// `credential`: it must not show it and must say why the answer is not shown. A client that
/// `raises` an undocumented status still keeps its raw body for the caller, as every such
/// error does.
fn assert_quoted_without(error: &Error, status: &str, raises: bool, credential: &str) {
    let shown = everything_shown(error);
    assert!(!shown.contains(credential), "{status}: {shown}");
    assert!(shown.contains("credential"), "{status}: says why: {shown}");
    match (status, raises, error) {
        ("200", _, Error::Decode { .. }) | ("203", false, Error::Decode { .. }) => {}
        ("203", true, Error::UnexpectedStatus { body, .. }) => assert!(
            String::from_utf8_lossy(body).contains(credential),
            "the raw body is kept"
        ),
        _ => panic!("{status}: not the error expected: {shown}"),
    }
}

/// A new API key is shown once, in the answer of `api_keys.create`, typed so that it never
/// prints. An answer that does not fit the model (here `created_at` is missing) or comes with
/// an undocumented success status is quoted by its error, which must leave the key out.
#[tokio::test]
async fn a_new_api_key_in_an_answer_that_does_not_fit_stays_out_of_the_error() {
    use geopera::models::ApiKeyCreateInput;
    use geopera::operations::api_keys_create;

    const KEY: &str = "gpra_live_5ecr3tK3yThatMustNeverPrint";
    let server = answering_with_status(format!(
        r#"{{"id":"key_1","key":"{KEY}","prefix":"gpra_live","name":"ci","permissions":["catalog:read"]}}"#
    ));
    for (client, raises) in default_and_raising(&server) {
        for status in ["200", "203"] {
            let request = Request::new(ApiKeyCreateInput::new("ci")).header(ANSWER_STATUS, status);
            let error = api_keys_create::send(&client, request)
                .await
                .expect_err("the answer does not fit");
            assert_quoted_without(&error, status, raises, KEY);
        }
        let request = Request::new(ApiKeyCreateInput::new("ci")).header(ANSWER_STATUS, "418");
        let error = api_keys_create::send(&client, request)
            .await
            .expect_err("an error status");
        assert!(error.to_string().contains("out of keys"), "{error}");
    }
}

/// The same for a signed upload URL, whose query string lets whoever holds it write the
/// file, when `uploads.signed_url` is called directly rather than through `Upload`.
#[tokio::test]
async fn a_signed_url_in_an_answer_that_does_not_fit_stays_out_of_the_error() {
    use geopera::models::SignedUrlInput;
    use geopera::operations::uploads_signed_url;

    const SIGNATURE: &str = "X-Signature=9f8e7d6c5b4a39281706f5e4d3c2b1a0";
    let server = answering_with_status(format!(
        r#"{{"upload_url":"https://storage.example/u_1/a.tif?{SIGNATURE}","object_path":42}}"#
    ));
    for (client, raises) in default_and_raising(&server) {
        for status in ["200", "203"] {
            let request =
                Request::new(SignedUrlInput::new("u_1", "a.tif")).header(ANSWER_STATUS, status);
            let error = uploads_signed_url::send(&client, request)
                .await
                .expect_err("the answer does not fit");
            assert_quoted_without(&error, status, raises, SIGNATURE);
        }
        let request =
            Request::new(SignedUrlInput::new("u_1", "a.tif")).header(ANSWER_STATUS, "418");
        let error = uploads_signed_url::send(&client, request)
            .await
            .expect_err("an error status");
        assert!(error.to_string().contains("out of keys"), "{error}");
    }
}

#[test]
fn a_stream_line_that_echoes_the_credentials_is_quoted_without_them() {
    let server = Hostile::serve("127.0.0.1", |_| {
        Reply::Raw(
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/x-ndjson\r\nconnection: close\r\n\r\n{{\"id\":1}}\nnot json {TOKEN}\n"
            )
            .into_bytes(),
        )
    });
    let client = signed_in_no_retries(&server);
    let items: Vec<_> = catalog_search_stream::stream_blocking(&client, stream_input()).collect();
    let [Ok(first), Err(err)] = items.as_slice() else {
        panic!("one item, then the error: {items:?}")
    };
    assert_eq!(first["id"], 1);
    assert!(!everything_shown(err).contains(TOKEN), "{err:?}");
}

#[tokio::test]
async fn a_detailed_answer_echoing_the_token_is_redacted_in_debug() {
    let server = Hostile::serve("127.0.0.1", |_| {
        let body = format!(r#"{{"title":"nope","detail":"you sent {TOKEN}","{TOKEN}":1}}"#);
        json(
            401,
            &[
                ("x-echo", &format!("Bearer {TOKEN}")),
                ("content-type", "application/problem+json"),
            ],
            &body,
        )
    });
    let client = AuthenticatedClient::builder(TOKEN)
        .base_url(server.url())
        .build()
        .expect("valid");
    let response = catalog_search::send_detailed(&client, CatalogSearchInput::new(HOST))
        .await
        .expect("a documented error comes back as a value");
    assert_eq!(response.status.as_u16(), 401);
    let shown = format!("{response:?}");
    assert!(!shown.contains(TOKEN), "{shown}");
    assert!(shown.contains("[redacted]"), "{shown}");
    let error = response.into_result().expect_err("a problem");
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains(TOKEN), "{shown}");
}

#[tokio::test]
async fn a_503_asking_for_a_longer_pause_than_the_ceiling_ends_the_call_at_once() {
    let server = Hostile::serve("127.0.0.1", |_| {
        json(
            503,
            &[("retry-after", "99999")],
            r#"{"title":"Service Unavailable","status":503}"#,
        )
    });
    let client = Client::builder()
        .base_url(server.url())
        .retry_policy(quick().max_retries(3))
        .build()
        .expect("valid");
    let started = Instant::now();
    let err = catalog_search::send(&client, CatalogSearchInput::new(HOST))
        .await
        .expect_err("unavailable");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(503), "{err:?}");
    assert_eq!(server.seen().len(), 1, "not retried");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn sloppy_problems_and_a_422_that_is_a_problem_are_typed_api_errors() {
    let server = Hostile::serve("127.0.0.1", |seen| {
        if seen.body.windows(3).any(|w| w == b"422") {
            json(422, &[], r#"{"detail":"limit too large"}"#)
        } else {
            json(404, &[], r#"{"title":"nf","detail":null,"status":"404"}"#)
        }
    });
    let client = no_retries(&server);
    let err = catalog_search::send(&client, CatalogSearchInput::new(HOST))
        .await
        .expect_err("not found");
    assert!(matches!(err, Error::Api { .. }), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(err.problem().map(|p| p.title.as_str()), Some("nf"));

    let err = catalog_search::send(&client, CatalogSearchInput::new("422"))
        .await
        .expect_err("invalid");
    assert!(matches!(err, Error::Api { .. }), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Validation);
    assert_eq!(
        err.problem().map(|p| p.detail.as_str()),
        Some("limit too large")
    );
}

#[tokio::test]
async fn a_transport_failure_says_whether_the_server_was_reached() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let url = format!("http://{}", closed.local_addr().expect("an address"));
    drop(closed);
    let client = Client::builder()
        .base_url(url)
        .retries(0)
        .build()
        .expect("valid");
    let err = catalog_search::send(&client, CatalogSearchInput::new(HOST))
        .await
        .expect_err("nothing listens");
    assert!(err.is_connect(), "{err:?}");
    assert!(
        err.to_string().starts_with("could not reach the API"),
        "{err}"
    );

    let server = Hostile::serve("127.0.0.1", |_| {
        Reply::Raw(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"type\""
                .to_vec(),
        )
    });
    let client = no_retries(&server);
    let err = catalog_search::send(&client, CatalogSearchInput::new(HOST))
        .await
        .expect_err("cut off");
    assert!(!err.is_connect(), "{err:?}");
    assert!(!err.to_string().contains("could not reach"), "{err}");
    assert_eq!(err.kind(), ErrorKind::Transport);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_asking_for_years_does_not_hold_a_shared_budget() {
    // The first answer asks for a wait far past `max_retry_after`; a shared budget told of it
    // would hold every later call of the class until then.
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = answered.clone();
    let server = Hostile::serve("127.0.0.1", move |_| {
        if count.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            json(
                429,
                &[("retry-after", "999999999")],
                r#"{"type":"about:blank","title":"Too Many Requests","status":429}"#,
            )
        } else {
            json(200, &[], r#"{"type":"FeatureCollection","features":[]}"#)
        }
    });
    let client = Client::builder()
        .base_url(server.url())
        .budget(std::sync::Arc::new(
            geopera::budget::LocalBudget::documented(),
        ))
        .retries(0)
        .build()
        .expect("valid");

    let first = catalog_search::send_detailed(&client, CatalogSearchInput::new(HOST))
        .await
        .expect("a 429 answer")
        .into_result()
        .expect_err("too long to wait");
    assert_eq!(first.kind(), ErrorKind::RateLimited, "{first:?}");
    let second = tokio::time::timeout(
        Duration::from_secs(10),
        catalog_search::send_detailed(&client, CatalogSearchInput::new(HOST)),
    )
    .await
    .expect("the next call is not held for years");
    assert_eq!(
        second.expect("answered").status,
        StatusCode::OK,
        "the second call reached the server"
    );
}

#[tokio::test]
async fn a_number_that_is_not_finite_is_refused_before_sending_naming_its_field() {
    use geopera::models::{CloudQuery, SetAutoTopupInput};
    use geopera::operations::billing_set_auto_topup;

    let server = Hostile::serve("127.0.0.1", |_| json(200, &[], "{}"));
    let client = AuthenticatedClient::builder(TOKEN)
        .base_url(server.url())
        .build()
        .expect("valid configuration");
    // Written as `null`, the first would be sent with no daily cap, the second with no bound.
    let capless = SetAutoTopupInput::new(true, 100, 1000).daily_charge_cap_aud(f64::NAN);
    let error = billing_set_auto_topup::send(&client, capless)
        .await
        .expect_err("refused");
    let query = [(
        "eo:cloud_cover".to_owned(),
        CloudQuery::new().lt(f64::INFINITY),
    )]
    .into_iter()
    .collect();
    let unbounded = catalog_search::send(&client, CatalogSearchInput::new(HOST).query(query))
        .await
        .expect_err("refused");
    for (error, at) in [
        (error, json!(["body", "daily_charge_cap_aud"])),
        (unbounded, json!(["body", "query", "eo:cloud_cover", "LT"])),
    ] {
        assert!(matches!(error, Error::InvalidInput { .. }), "{error:?}");
        let failures = &error.validation().expect("the failures").detail;
        assert_eq!(failures.len(), 1, "{failures:?}");
        assert_eq!(serde_json::to_value(&failures[0].loc).expect("JSON"), at);
        assert_eq!(failures[0].r#type, "finite_number");
        assert!(error.to_string().contains("finite"), "{error}");
    }
    assert!(server.seen().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn headers_the_connection_writes_itself_are_refused_not_sent() {
    let server = Hostile::serve("127.0.0.1", |_| json(200, &[], "{}"));
    for name in [
        "Content-Length",
        "transfer-encoding",
        "Host",
        "connection",
        "TE",
    ] {
        let built = AuthenticatedClient::builder(TOKEN)
            .base_url(server.url())
            .header(name, "2")
            .build();
        match built {
            Err(error @ Error::Config(_)) => assert!(
                error.to_string().contains(&name.to_ascii_lowercase()),
                "{error}"
            ),
            other => panic!("{name}: a client-wide header the connection writes: {other:?}"),
        }
    }
    let client = AuthenticatedClient::builder(TOKEN)
        .base_url(server.url())
        .build()
        .expect("valid configuration");
    // Sent, a Content-Length of 2 would cut the JSON body to `{"` on the wire.
    let call = Request::new(CatalogSearchInput::new(HOST)).header("content-length", "2");
    let error = catalog_search::send(&client, call)
        .await
        .expect_err("refused before sending");
    assert!(matches!(error, Error::InvalidRequest { .. }), "{error:?}");
    assert!(error.to_string().contains("content-length"), "{error}");
    assert!(server.seen().is_empty(), "nothing was sent");
}

#[test]
fn members_a_hand_written_body_adds_are_sent_with_a_warning_naming_them() {
    let emu = emulator();
    let client = crate::support::client(&emu);
    let ((), text) = crate::support::logged(&crate::support::this_threads_runtime(), async {
        let typo = json!({"host_name": HOST, "limt": 1});
        let page = catalog_search::send(&client, typo)
            .await
            .expect("valid: the API ignores what it does not declare");
        assert!(!page.features.is_empty());
        geopera::Geopera::from(client.clone())
            .invoke(
                "catalog.search",
                json!({"host_name": HOST, "colections": []}),
            )
            .await
            .expect("valid too");
        catalog_search::send(&client, CatalogSearchInput::new(HOST).limit(1))
            .await
            .expect("a typed body");
    });
    let warnings: Vec<&str> = text.lines().filter(|line| line.contains("WARN")).collect();
    assert_eq!(warnings.len(), 2, "one per hand-written body: {text}");
    assert!(warnings[0].contains("body.limt"), "{text}");
    assert!(warnings[1].contains("body.colections"), "{text}");
    assert!(
        warnings.iter().all(|line| line.contains("catalog.search")),
        "{text}"
    );
    // Warned about, not dropped: the API gets the body as it was written.
    let sent = crate::support::seen(&emu, "catalog.search");
    let first: serde_json::Value =
        serde_json::from_slice(&sent[0].body).expect("the first body, as JSON");
    assert_eq!(first["limt"], 1);
}

/// A 429 says the API ran nothing only of the request it answers. Past a redirect, the API
/// has answered the call's own request already (and may have made the top-up): a call that
/// may not be repeated is not sent again because a later hop, on another origin or on the
/// API's own, is rate limited; one with an idempotency key is retried as before.
#[tokio::test]
async fn a_429_after_a_redirect_does_not_repeat_a_call_that_may_not_be_repeated() {
    const TOPUP: &str = "/v1/op/billing.topup";
    let limited = || json(429, &[("retry-after", "0")], r#"{"detail":"slow down"}"#);
    let elsewhere = Hostile::serve("127.0.0.2", move |_| limited());
    let out = format!("{}/elsewhere", elsewhere.url());
    let leaving = Hostile::serve("127.0.0.1", move |seen| match seen.path.as_str() {
        TOPUP => redirect(307, &out),
        _ => limited(),
    });
    let staying = Hostile::serve("127.0.0.1", move |seen| match seen.path.as_str() {
        TOPUP => redirect(307, "/moved"),
        _ => limited(),
    });
    let topup = || {
        json!({"amount_aud": 10})
            .as_object()
            .cloned()
            .unwrap_or_default()
    };
    for api in [&leaving, &staying] {
        let client = |auto_keys: bool| {
            AuthenticatedClient::builder(TOKEN)
                .base_url(api.url())
                .follow_redirects(true)
                .retry_policy(
                    RetryPolicy::default()
                        .max_retries(2)
                        .backoff(Duration::from_millis(1), Duration::from_millis(5))
                        .auto_idempotency_keys(auto_keys),
                )
                .build()
                .expect("valid")
        };
        let topups = || api.seen().iter().filter(|seen| seen.path == TOPUP).count();

        let error = billing_topup::send(&client(false), topup())
            .await
            .expect_err("the later hop's 429");
        assert!(matches!(error, Error::RateLimited { .. }), "{error:?}");
        assert_eq!(error.attempts(), 1, "{error:?}");
        assert_eq!(topups(), 1, "one top-up asked for");

        let error = billing_topup::send(&client(true), topup())
            .await
            .expect_err("429 on every attempt");
        assert_eq!(error.attempts(), 3, "a keyed call is retried: {error:?}");
        assert_eq!(topups(), 1 + 3);
    }
}

/// A 401 says the API ran nothing only of the request it answers. Past a redirect within the
/// API's origin, the API has answered the call's own request already: a call that may not be
/// repeated hands the 401 back instead of being sent again with a renewed credential, while
/// one with an idempotency key is renewed and sent again as before.
#[tokio::test]
async fn a_401_after_a_redirect_within_the_origin_does_not_repeat_a_call_that_may_not_be_repeated()
{
    const TOPUP: &str = "/v1/op/billing.topup";
    let api = Hostile::serve("127.0.0.1", |seen| match seen.path.as_str() {
        TOPUP => redirect(307, "/moved"),
        _ => json(401, &[], r#"{"detail":"who are you"}"#),
    });
    let topup = || {
        json!({"amount_aud": 10})
            .as_object()
            .cloned()
            .unwrap_or_default()
    };
    let topups = || api.seen().iter().filter(|seen| seen.path == TOPUP).count();
    let provider = std::sync::Arc::new(CountingProvider::default());
    let client = |auto_keys: bool| {
        Client::builder()
            .base_url(api.url())
            .follow_redirects(true)
            .retry_policy(RetryPolicy::none().auto_idempotency_keys(auto_keys))
            .build()
            .expect("valid")
            .with_credentials(ProviderHandle(provider.clone()))
            .expect("valid")
    };

    let error = billing_topup::send(&client(false), topup())
        .await
        .expect_err("the 401");
    assert_eq!(error.status(), Some(StatusCode::UNAUTHORIZED), "{error:?}");
    assert_eq!(topups(), 1, "one top-up asked for");

    let error = billing_topup::send(&client(true), topup())
        .await
        .expect_err("the 401 again");
    assert_eq!(error.status(), Some(StatusCode::UNAUTHORIZED), "{error:?}");
    assert_eq!(topups(), 1 + 2, "a keyed call is sent again once, renewed");
}

/// A budget of the test's own that never grants a call, answering every ask with `wait`.
#[derive(Debug)]
struct NeverGrants {
    wait: Duration,
    asks: std::sync::atomic::AtomicUsize,
}

impl geopera::budget::Budget for NeverGrants {
    fn reserve(
        &self,
        _class: geopera::RateClass,
    ) -> geopera::budget::BudgetFuture<'_, geopera::budget::Reservation> {
        self.asks.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Box::pin(std::future::ready(geopera::budget::Reservation::Wait(
            self.wait,
        )))
    }

    fn limited(
        &self,
        _class: geopera::RateClass,
        _retry_after: Duration,
    ) -> geopera::budget::BudgetFuture<'_, ()> {
        Box::pin(std::future::ready(()))
    }
}

/// Time that passes only when waited for, at once: an hour of waiting takes no time.
#[derive(Debug, Default)]
struct Jumping {
    now: std::sync::Mutex<Duration>,
}

impl geopera::Clock for Jumping {
    fn now(&self) -> Duration {
        *self
            .now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn sleep_until(
        &self,
        at: Duration,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
        let mut now = self
            .now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *now = (*now).max(at);
        Box::pin(tokio::task::yield_now())
    }
}

/// A client of `emu` on a [`NeverGrants`] budget asking for `wait` and a [`Jumping`] clock,
/// set up further by `build`; with the budget and the clock, to read what happened.
fn never_granting(
    emu: &EmulatorHandle,
    wait: Duration,
    build: impl FnOnce(
        geopera::ClientBuilder<AuthenticatedClient>,
    ) -> geopera::ClientBuilder<AuthenticatedClient>,
) -> (AuthenticatedClient, Arc<NeverGrants>, Arc<Jumping>) {
    let budget = Arc::new(NeverGrants {
        wait,
        asks: Default::default(),
    });
    let clock = Arc::new(Jumping::default());
    let builder = AuthenticatedClient::builder(emu.api_key())
        .base_url(emu.base_url())
        .budget(budget.clone())
        .clock(clock.clone());
    let client = build(builder).build().expect("a client");
    (client, budget, clock)
}

/// A budget that never grants (the user's own code, or a store anyone can write to) holds a
/// call an hour at most in all, however long each wait it asks for, and at most 64 asks; then
/// the call goes, with a warning.
#[test]
fn a_budget_that_never_grants_holds_a_call_an_hour_at_most() {
    let emu = emulator();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let hour = Duration::from_secs(3600);
    assert_eq!(geopera::budget::MAX_HOLD, hour);
    let asks_at_most = geopera::budget::MAX_ASKS;
    // (the wait each answer asks for, the asks expected, the time waited in all)
    let cases = [
        (Duration::MAX, 2, hour),
        (Duration::from_secs(59 * 60), 3, hour),
        (
            Duration::from_secs(1),
            asks_at_most,
            Duration::from_secs(asks_at_most as u64),
        ),
    ];
    for (sent, (wait, asks, waited)) in (1..).zip(cases) {
        let (client, budget, clock) = never_granting(&emu, wait, |builder| builder);
        let ((), text) = crate::support::logged(&runtime, async {
            tokio::time::timeout(
                Duration::from_secs(30),
                catalog_search::send(&client, CatalogSearchInput::new(HOST).limit(1)),
            )
            .await
            .expect("the call is not held for ever")
            .expect("the call goes ahead");
        });
        assert_eq!(emu.executed("catalog.search"), sent, "{wait:?}: sent");
        assert_eq!(
            budget.asks.load(std::sync::atomic::Ordering::SeqCst),
            asks,
            "{wait:?}: asks"
        );
        assert_eq!(geopera::Clock::now(&*clock), waited, "{wait:?}: waited");
        assert_eq!(
            text.lines().filter(|line| line.contains("WARN")).count(),
            1,
            "{wait:?}: one warning: {text}"
        );
        assert!(text.contains("sending anyway"), "{text}");
    }
}

/// A call whose deadline the shared budget's next wait would pass fails at once with the
/// deadline's timeout, unsent, where it slept until the deadline. The waits that end before
/// it are waited: with 2 s asked each time and 5 s to go, the third answer is refused at 4 s.
#[test]
fn a_budget_wait_past_the_deadline_ends_the_call_at_once() {
    let emu = emulator();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    // (the wait each answer asks for, the asks expected, the time waited in all)
    let cases = [
        (Duration::from_secs(10), 1, Duration::ZERO),
        (Duration::from_secs(2), 3, Duration::from_secs(4)),
    ];
    for (wait, asks, waited) in cases {
        let (client, budget, clock) = never_granting(&emu, wait, |builder| {
            builder.deadline(Duration::from_secs(5))
        });
        let error = runtime
            .block_on(catalog_search::send(
                &client,
                CatalogSearchInput::new(HOST).limit(1),
            ))
            .expect_err("no time for the budget's wait");
        assert!(
            matches!(
                error,
                geopera::Error::Timeout {
                    limit: geopera::TimeoutLimit::Deadline,
                    ..
                }
            ),
            "{wait:?}: {error:?}"
        );
        assert_eq!(emu.executed("catalog.search"), 0, "{wait:?}: unsent");
        assert_eq!(
            budget.asks.load(std::sync::atomic::Ordering::SeqCst),
            asks,
            "{wait:?}: asks"
        );
        assert_eq!(geopera::Clock::now(&*clock), waited, "{wait:?}: waited");
    }
}

/// A lone UTF-16 surrogate escape in an answer's text (which RFC 8259 allows, and a server
/// that decoded a name leniently writes) reads as U+FFFD, on both faces and in every kind of
/// answer: a typed page, a page walk, a problem, an NDJSON line. The answer is not lost to a
/// decode error.
#[test]
fn an_answer_whose_text_holds_a_lone_surrogate_reads_with_the_replacement_character() {
    let page = r#"{"type":"FeatureCollection","features":[{"type":"Feature","id":"S2 \udce9 \ud83d\ude00"}]}"#;
    let server = Hostile::serve("127.0.0.1", move |seen| match seen.path.as_str() {
        "/v1/op/catalog.search" => json(200, &[], page),
        "/v1/op/orders.get" => {
            let body = r#"{"type":"about:blank","title":"Not Found","status":404,"detail":"no order \ud800 here"}"#;
            let head = format!(
                "HTTP/1.1 404 Not Found\r\ncontent-type: application/problem+json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            Reply::Raw(format!("{head}{body}").into_bytes())
        }
        _ => {
            let body = "{\"id\":\"a\\udce9\"}\n{\"id\":\"b\"}\n";
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/x-ndjson\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            Reply::Raw(format!("{head}{body}").into_bytes())
        }
    });
    let client = no_retries(&server);
    let read = "S2 \u{fffd} \u{1f600}";

    let blocking = catalog_search::send_blocking(&client, CatalogSearchInput::new(HOST))
        .expect("a page with a lone surrogate reads");
    assert_eq!(blocking.features[0].id, read);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let walked: Vec<_> = runtime.block_on(
        catalog_search::pages(&client, CatalogSearchInput::new(HOST)).collect::<Vec<_>>(),
    );
    let walked = walked[0].as_ref().expect("the walk reads the page");
    assert_eq!(walked.features[0].id, read);

    let missing = runtime
        .block_on(orders_get::send(&client, OrderGetInput::new("o-1")))
        .expect_err("a 404");
    let Error::Api { problem, .. } = &missing else {
        panic!("the problem is read as one: {missing:?}");
    };
    assert_eq!(problem.detail, "no order \u{fffd} here");

    let lines: Vec<serde_json::Value> =
        catalog_search_stream::stream_blocking(&client, stream_input())
            .collect::<Result<_, _>>()
            .expect("every line");
    assert_eq!(lines, [json!({"id": "a\u{fffd}"}), json!({"id": "b"})]);
}
