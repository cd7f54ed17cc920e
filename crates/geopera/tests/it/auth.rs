//! Credentials over real HTTP: fixed keys in either header, sessions that refresh themselves
//! against the emulator's OpenID Connect endpoints on the emulator's clock, refusals as typed
//! errors, and the device flow approved through the emulator's control.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::stream::{self, StreamExt as _};
use geopera::auth::{Credential, Credentials, Oidc, Session};
use geopera::models::{CatalogSearchInput, DrainInput};
use geopera::operations::{catalog_search, webhooks_drain};
use geopera::{AuthenticatedClient, Client, ClientBuilder, Error, ErrorKind, Request};
use geopera_emulator::{Emulator, EmulatorHandle, ManualClock, RateLimits, User};

use crate::hostile::{json as hostile_json, Hostile};
use crate::support::{seen, SharedTime, HOST};

const PASSWORD: &str = "correct horse battery staple";

fn emulator_at(clock: &ManualClock) -> EmulatorHandle {
    Emulator::builder()
        .seed(5)
        .clock(clock.clone())
        .rate_limits(RateLimits::off())
        .record_limit(20_000)
        .users([
            User::new("alice", PASSWORD),
            User::new("reader", PASSWORD).grants(&["*:read"]),
        ])
        .control(true)
        .start()
        .expect("the emulator starts")
}

fn oidc(emulator: &EmulatorHandle) -> Oidc {
    Oidc::for_base_url(&emulator.base_url()).expect("a provider")
}

/// A client of `emu` with `credentials`, on the emulator's time.
fn signed_in(
    emu: &EmulatorHandle,
    time: &Arc<SharedTime>,
    credentials: impl Credentials,
) -> AuthenticatedClient {
    AuthenticatedClient::builder_with_credentials(credentials)
        .base_url(emu.base_url())
        .clock(time.clone())
        .build()
        .expect("valid configuration")
}

fn search() -> CatalogSearchInput {
    CatalogSearchInput::new(HOST).limit(1)
}

/// Revokes a refresh token (and its session) the way a user signing out elsewhere would.
async fn sign_out(emulator: &EmulatorHandle, refresh_token: &str) {
    let body = format!("client_id=geopera-cli&refresh_token={refresh_token}");
    let status = reqwest::Client::new()
        .post(format!(
            "{}/realms/public/protocol/openid-connect/logout",
            emulator.base_url()
        ))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("the logout endpoint answers")
        .status();
    assert!(status.is_success(), "logout answered {status}");
}

/// How many of the requests `emulator` recorded it answered with `status`.
fn answered(emulator: &EmulatorHandle, status: u16) -> usize {
    emulator
        .requests()
        .iter()
        .filter(|r| r.status == Some(status))
        .count()
}

fn sign_in_code(error: &Error) -> Option<&str> {
    match error {
        Error::SignIn { code, .. } => Some(code),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_stays_signed_in_through_an_hour_of_expiries_with_one_refresh_each() {
    let clock = ManualClock::new();
    let emu = emulator_at(&clock);
    let time = SharedTime::new(&clock);
    let rotations = Arc::new(AtomicUsize::new(0));
    let counted = rotations.clone();
    let session = Session::password(oidc(&emu), "alice", PASSWORD)
        .clock(time.clone())
        .on_refresh(move |_| {
            counted.fetch_add(1, Ordering::SeqCst);
        });
    let client = signed_in(&emu, &time, session);

    // 64 calls in flight at each step, then 30 s of emulated time: 125 steps make more than
    // an hour, through a dozen and more access-token lifetimes of 300 s. Calls come often
    // enough to fall inside the refresh leeway, so every refresh happens ahead of expiry.
    let step = Duration::from_secs(30);
    let mut failures = Vec::new();
    for _ in 0..125 {
        let outcomes: Vec<_> = stream::iter(0..64)
            .map(|_| catalog_search::send(&client, search()))
            .buffer_unordered(64)
            .collect()
            .await;
        failures.extend(outcomes.into_iter().filter_map(Result::err));
        clock.advance(step);
    }
    let shown: Vec<String> = failures.iter().take(3).map(ToString::to_string).collect();
    assert!(
        failures.is_empty(),
        "{} calls failed, first: {shown:?}",
        failures.len()
    );

    let counters = emu.oidc_counters();
    assert_eq!(counters.password_grants, 1, "signed in once");
    assert_eq!(
        counters.refresh_reuse_detected, 0,
        "no refresh token was sent twice"
    );
    // Each refresh the emulator served was one rotation the session adopted: none ran twice.
    let refreshes = usize::try_from(counters.refresh_grants).expect("small");
    assert_eq!(refreshes + 1, rotations.load(Ordering::SeqCst));
    // 3,720 s of 300 s tokens, each refreshed by the first call 30–45 s before it expires
    // (the call at 270 s into its life, with 30 s steps): 13 refreshes.
    assert_eq!(refreshes, 13, "refreshes in 3,720 s");
    let unauthorized = answered(&emu, 401);
    assert_eq!(unauthorized, 0, "no call was sent with an expired token");
}

#[cfg(feature = "blocking")]
#[test]
fn blocking_calls_share_the_session_and_its_single_refresh() {
    let clock = ManualClock::new();
    let emu = emulator_at(&clock);
    let time = SharedTime::new(&clock);
    let session = Session::password(oidc(&emu), "alice", PASSWORD).clock(time.clone());
    let client = signed_in(&emu, &time, session);
    for _ in 0..8 {
        std::thread::scope(|scope| {
            let calls: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| catalog_search::send_blocking(&client, search())))
                .collect();
            for call in calls {
                call.join().expect("no panic").expect("the call succeeds");
            }
        });
        clock.advance(Duration::from_secs(300));
    }
    let counters = emu.oidc_counters();
    assert_eq!(counters.password_grants, 1);
    assert_eq!(counters.refresh_grants, 7, "one refresh per expired token");
}

/// An emulator on `clock` with `limits` (the budget without credentials, per client address,
/// is the one sign-in requests draw from too), and a client of it, configured by `configure`,
/// whose session signs alice in, both on the emulator's time.
fn alice_under(
    clock: &ManualClock,
    limits: RateLimits,
    configure: impl FnOnce(ClientBuilder<AuthenticatedClient>) -> ClientBuilder<AuthenticatedClient>,
) -> (EmulatorHandle, AuthenticatedClient) {
    let emu = Emulator::builder()
        .clock(clock.clone())
        .rate_limits(limits)
        .users([User::new("alice", PASSWORD)])
        .start()
        .expect("the emulator starts");
    let time = SharedTime::new(clock);
    let session = Session::password(oidc(&emu), "alice", PASSWORD).clock(time.clone());
    let builder = AuthenticatedClient::builder_with_credentials(session)
        .base_url(emu.base_url())
        .clock(time);
    let client = configure(builder).build().expect("valid configuration");
    (emu, client)
}

/// A session's sign-in and refresh count against the per-address budget as drains do, so a
/// client draining at that budget's full pace spaces its token requests into the same pace:
/// 400 drains, with searches between them for which the session signs in and renews, with no
/// retries, meet no 429, on both faces, starting at the top of a minute or a second before its
/// end. Before sign-in requests were paced, the first minute's 60th drain was refused: the
/// sign-in had spent a unit of its window. (A drain asks for no credential, so the order of a
/// call's turn and its sign-in's, which drains once showed, is not what this test sees.)
#[test]
fn a_session_draining_at_the_per_address_pace_meets_no_429_through_its_refresh() {
    let starts = [0, 59].map(|second| geopera_emulator::DEFAULT_START_UNIX_SECS + second);
    let runs = starts
        .iter()
        .flat_map(|start| ["async", "blocking"].map(|face| (face, *start)));
    for (face, start) in runs {
        let clock = ManualClock::starting_at(start);
        let (emu, client) = alice_under(&clock, RateLimits::documented(), |b| {
            b.pace_documented_limits().retries(0)
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        for n in 0..400 {
            let outcome = match face {
                "async" => runtime.block_on(webhooks_drain::send(&client, DrainInput::new())),
                _ => webhooks_drain::send_blocking(&client, DrainInput::new()),
            };
            if let Err(error) = outcome {
                panic!("{face}, from {start}: drain {n} failed: {error:?}");
            }
            // A drain needs no credential, so the session signs in and renews for the calls
            // that do, between the drains.
            if n % 20 == 0 {
                let searched = match face {
                    "async" => runtime
                        .block_on(catalog_search::send(&client, search()))
                        .map(drop),
                    _ => catalog_search::send_blocking(&client, search()).map(drop),
                };
                if let Err(error) = searched {
                    panic!("{face}, from {start}: search {n} failed: {error:?}");
                }
            }
        }
        let counters = emu.oidc_counters();
        assert_eq!(
            counters.password_grants, 1,
            "{face}, from {start}: signed in once"
        );
        assert!(
            counters.refresh_grants >= 1,
            "{face}, from {start}: 400 s outlast a 300 s token: {counters:?}"
        );
        assert_eq!(
            counters.token_errors, 0,
            "{face}, from {start}: {counters:?}"
        );
        let limited = answered(&emu, 429);
        assert_eq!(limited, 0, "{face}, from {start}: requests answered 429");
    }
}

/// A 429 of the token endpoint pauses what draws on the per-address budget, as a drain's 429
/// does: the session's next sign-in waits for the window the answer named, and is granted
/// there, rather than asking again into the spent one.
#[tokio::test]
async fn a_429_of_the_token_endpoint_holds_the_next_sign_in_until_the_window_ends() {
    let clock = ManualClock::new();
    let limits = RateLimits {
        unauthenticated_per_min: Some(1),
        ..RateLimits::off()
    };
    let (emu, client) = alice_under(&clock, limits, |b| b.retries(0));
    // An anonymous drain spends the address's one request of the window.
    let anonymous = Client::builder()
        .base_url(emu.base_url())
        .build()
        .expect("valid configuration");
    webhooks_drain::send(&anonymous, DrainInput::new())
        .await
        .expect("the window's one request");

    let refused = catalog_search::send(&client, search())
        .await
        .expect_err("the sign-in finds the window spent");
    assert_eq!(
        refused.status(),
        Some(geopera::StatusCode::TOO_MANY_REQUESTS),
        "{refused:?}"
    );
    // The emulator's windows are whole minutes of its clock.
    let window_ends = (clock.now_millis().div_euclid(60_000) + 1) * 60_000;
    // Past the moment a session repeats a refusal without asking, still inside the window.
    clock.advance(Duration::from_secs(6));
    assert!(
        clock.now_millis() < window_ends,
        "the test starts early in a window"
    );

    catalog_search::send(&client, search())
        .await
        .expect("signed in once the window ended");
    assert!(
        clock.now_millis() >= window_ends,
        "the sign-in went {} ms before the window it was told to wait for",
        window_ends - clock.now_millis()
    );
    let counters = emu.oidc_counters();
    assert_eq!(counters.password_grants, 1, "{counters:?}");
}

/// A shared budget that holds the first request of `class` it is asked about for `wait`, and
/// grants everything else.
#[derive(Debug)]
struct HoldsTheFirst {
    class: geopera::RateClass,
    wait: Duration,
    held: std::sync::atomic::AtomicBool,
}

impl HoldsTheFirst {
    fn new(class: geopera::RateClass, seconds: u64) -> Arc<Self> {
        Arc::new(HoldsTheFirst {
            class,
            wait: Duration::from_secs(seconds),
            held: Default::default(),
        })
    }
}

impl geopera::budget::Budget for HoldsTheFirst {
    fn reserve(
        &self,
        class: geopera::RateClass,
    ) -> geopera::budget::BudgetFuture<'_, geopera::budget::Reservation> {
        let first = class == self.class && !self.held.swap(true, Ordering::SeqCst);
        let wait = self.wait;
        Box::pin(async move {
            if first {
                geopera::budget::Reservation::Wait(wait)
            } else {
                geopera::budget::Reservation::Granted
            }
        })
    }

    fn limited(
        &self,
        _class: geopera::RateClass,
        _retry_after: Duration,
    ) -> geopera::budget::BudgetFuture<'_, ()> {
        Box::pin(async {})
    }
}

/// A session's sign-in waits for its turn (here, a shared budget's word) as long as the
/// client waits out a 429's pause, which every call waiting for the session counts in its
/// patience, and no longer: a turn further off goes at once, and the provider's own limit
/// guards it.
#[tokio::test]
async fn a_sign_in_waits_for_its_turn_as_long_as_a_pause_the_client_waits_out() {
    for (max_pause, waited) in [(700, 600), (5, 0)] {
        let clock = ManualClock::new();
        let (emu, client) = alice_under(&clock, RateLimits::off(), |b| {
            b.budget(HoldsTheFirst::new(geopera::RateClass::Unauthenticated, 600))
                .retry_policy(
                    geopera::RetryPolicy::default().max_retry_after(Duration::from_secs(max_pause)),
                )
        });
        let started = clock.now_millis();
        catalog_search::send(&client, search())
            .await
            .expect("signed in");
        assert_eq!(
            (clock.now_millis() - started) / 1000,
            waited,
            "with pauses of up to {max_pause} s waited out"
        );
        assert_eq!(emu.oidc_counters().password_grants, 1);
    }
}

/// A call held up on its way (here, by a shared budget, past its session's access token's
/// life) asks for its credential again once it is let go: it goes with a renewed token, not
/// with the one it was handed before the wait, which the API would answer with a 401.
#[tokio::test]
async fn a_call_held_past_its_tokens_life_goes_with_a_renewed_one() {
    let clock = ManualClock::new();
    let (emu, client) = alice_under(&clock, RateLimits::off(), |b| {
        b.budget(HoldsTheFirst::new(geopera::RateClass::Default, 310))
    });
    catalog_search::send(&client, search())
        .await
        .expect("the call goes after its wait");
    let counters = emu.oidc_counters();
    assert_eq!(
        (counters.password_grants, counters.refresh_grants),
        (1, 1),
        "signed in, then renewed after the wait: {counters:?}"
    );
    let unauthorized = answered(&emu, 401);
    assert_eq!(unauthorized, 0, "no call went with the expired token");
}

/// A provider at another origin than the API's is not the API: its requests take no turn of
/// the API's per-address budget, and its 429 holds none of the client's calls.
#[tokio::test]
async fn a_provider_at_another_origin_neither_spends_nor_pauses_the_apis_budget() {
    let clock = ManualClock::new();
    let emu = Emulator::builder()
        .clock(clock.clone())
        .rate_limits(RateLimits::off())
        .start()
        .expect("the emulator starts");
    let provider = Hostile::serve("127.0.0.1", |_| {
        hostile_json(
            429,
            &[("retry-after", "30")],
            r#"{"error":"temporarily_unavailable"}"#,
        )
    });
    // One drain a minute: a turn the refresh took would hold the drain for most of one.
    let client = Client::builder()
        .base_url(emu.base_url())
        .clock(SharedTime::new(&clock))
        .pace(geopera::RateClass::Unauthenticated, 1)
        .build()
        .expect("valid configuration");
    let oidc = Oidc::new(format!("{}/realms/public", provider.url())).expect("a provider");
    let started = clock.now_millis();
    let refused = oidc
        .refresh(&client, "rt")
        .await
        .expect_err("the provider is busy");
    assert_eq!(
        refused.status(),
        Some(geopera::StatusCode::TOO_MANY_REQUESTS)
    );
    webhooks_drain::send(&client, DrainInput::new())
        .await
        .expect("drained");
    assert_eq!(clock.now_millis(), started, "nothing held the drain");
}

#[tokio::test]
async fn a_revoked_refresh_token_is_a_typed_error_once_the_access_token_expires() {
    let clock = ManualClock::new();
    let emu = emulator_at(&clock);
    let time = SharedTime::new(&clock);
    let session = Session::password(oidc(&emu), "alice", PASSWORD).clock(time.clone());
    let client = signed_in(&emu, &time, session.clone());
    catalog_search::send(&client, search())
        .await
        .expect("signed in");
    let tokens = session.tokens().expect("signed in");
    let refresh = tokens.refresh_token().expect("a refresh token");
    sign_out(&emu, refresh).await;

    clock.advance(Duration::from_secs(301));
    let error = catalog_search::send(&client, search())
        .await
        .expect_err("the session has ended");
    assert_eq!(error.kind(), ErrorKind::Auth);
    assert_eq!(sign_in_code(&error), Some("invalid_grant"), "{error}");
    let text = format!("{error} {error:?}");
    assert!(!text.contains(refresh), "the refresh token leaked: {text}");
    assert!(!text.contains(PASSWORD), "the password leaked: {text}");

    // The refused token is not sent again once the refusal is no longer fresh: the session
    // has ended, and says so without asking the provider.
    let asked = emu.oidc_counters().token_errors;
    clock.advance(Duration::from_secs(6));
    let error = catalog_search::send(&client, search())
        .await
        .expect_err("still ended");
    assert_eq!(sign_in_code(&error), Some("invalid_grant"), "{error}");
    assert_eq!(emu.oidc_counters().token_errors, asked, "asked again");
    assert_eq!(
        session
            .tokens()
            .and_then(|t| t.refresh_token().map(str::len)),
        None
    );
}

/// A refresh refused while the access token is still valid: the token serves until it
/// expires, and the refused refresh token is not sent every few seconds meanwhile, nor after.
#[tokio::test]
async fn a_refused_refresh_is_not_repeated_while_the_access_token_serves() {
    let refreshes = Arc::new(AtomicUsize::new(0));
    let counted = refreshes.clone();
    let server = Hostile::serve("127.0.0.1", move |seen| {
        if seen.path.ends_with("/protocol/openid-connect/token") {
            counted.fetch_add(1, Ordering::SeqCst);
            return hostile_json(400, &[], r#"{"error":"invalid_grant"}"#);
        }
        match seen.header("authorization") {
            Some("Bearer at-1") => {
                hostile_json(200, &[], r#"{"type":"FeatureCollection","features":[]}"#)
            }
            _ => hostile_json(401, &[], r#"{"title":"Unauthenticated","status":401}"#),
        }
    });
    let clock = ManualClock::new();
    let (_session, client) = session_at_1(&server, Some(&clock));
    // Into the refresh lead: refused, and the access token serves on.
    clock.advance(Duration::from_secs(275));
    for _ in 0..3 {
        catalog_search::send(&client, CatalogSearchInput::new(HOST))
            .await
            .expect("the access token still serves");
        clock.advance(Duration::from_secs(11));
    }
    assert_eq!(
        refreshes.load(Ordering::SeqCst),
        1,
        "the refused token sent again"
    );
    // Expired: the session has ended, said without asking again.
    clock.advance(Duration::from_secs(10));
    let error = catalog_search::send(&client, CatalogSearchInput::new(HOST))
        .await
        .expect_err("the session has ended");
    assert_eq!(sign_in_code(&error), Some("invalid_grant"), "{error}");
    assert_eq!(refreshes.load(Ordering::SeqCst), 1, "asked after expiry");
}

#[tokio::test]
async fn a_server_side_revocation_gets_one_refresh_attempt_then_the_typed_error() {
    let clock = ManualClock::new();
    let emu = emulator_at(&clock);
    let time = SharedTime::new(&clock);
    let session = Session::password(oidc(&emu), "alice", PASSWORD).clock(time.clone());
    let client = signed_in(&emu, &time, session.clone());
    catalog_search::send(&client, search())
        .await
        .expect("signed in");
    let before = emu.oidc_counters();
    sign_out(
        &emu,
        session
            .tokens()
            .expect("tokens")
            .refresh_token()
            .expect("refresh"),
    )
    .await;
    emu.clear_requests();

    // The access token has not expired: the API refuses it all the same.
    let error = catalog_search::send(&client, search())
        .await
        .expect_err("the session was ended by the server");
    assert_eq!(sign_in_code(&error), Some("invalid_grant"), "{error}");
    let after = emu.oidc_counters();
    assert_eq!(
        after.refresh_grants, before.refresh_grants,
        "no refresh succeeded"
    );
    assert_eq!(
        after.token_errors,
        before.token_errors + 1,
        "exactly one refresh attempt"
    );
    assert_eq!(
        seen(&emu, "catalog.search").len(),
        1,
        "one call, answered 401, not resent"
    );

    // The ended session answers at once from then on, without asking the server again.
    let again = catalog_search::send(&client, search())
        .await
        .expect_err("still ended");
    assert_eq!(again.kind(), ErrorKind::Auth);
    assert_eq!(emu.oidc_counters().token_errors, after.token_errors);
}

#[tokio::test]
async fn a_replayed_rotated_refresh_token_is_refused_and_ends_the_family() {
    let clock = ManualClock::new();
    let emu = emulator_at(&clock);
    let time = SharedTime::new(&clock);
    let first = Arc::new(Mutex::new(None::<String>));
    let kept = first.clone();
    let session = Session::password(oidc(&emu), "alice", PASSWORD)
        .clock(time.clone())
        .on_refresh(move |tokens| {
            let mut kept = kept.lock().expect("not poisoned");
            if kept.is_none() {
                *kept = tokens.refresh_token().map(str::to_owned);
            }
        });
    let client = signed_in(&emu, &time, session);
    catalog_search::send(&client, search())
        .await
        .expect("signed in");
    clock.advance(Duration::from_secs(299));
    catalog_search::send(&client, search())
        .await
        .expect("refreshed");
    assert_eq!(emu.oidc_counters().refresh_grants, 1);

    // Someone replays the first, already rotated, refresh token.
    let stolen = first.lock().expect("not poisoned").clone().expect("kept");
    let thief = Session::from_refresh_token(oidc(&emu), stolen).clock(time.clone());
    let thief = signed_in(&emu, &time, thief);
    let error = catalog_search::send(&thief, search())
        .await
        .expect_err("replay refused");
    assert_eq!(sign_in_code(&error), Some("invalid_grant"), "{error}");
    assert_eq!(emu.oidc_counters().refresh_reuse_detected, 1);

    // The replay revoked the whole family: the legitimate session cannot refresh either.
    clock.advance(Duration::from_secs(300));
    let ended = catalog_search::send(&client, search())
        .await
        .expect_err("family revoked");
    assert_eq!(sign_in_code(&ended), Some("invalid_grant"), "{ended}");
}

#[tokio::test]
async fn an_api_key_session_exchanges_the_key_and_keeps_going() {
    let clock = ManualClock::new();
    let emu = emulator_at(&clock);
    let time = SharedTime::new(&clock);
    let session = Session::client_credentials(oidc(&emu), emu.api_key()).clock(time.clone());
    let client = signed_in(&emu, &time, session);
    for _ in 0..4 {
        catalog_search::send(&client, search())
            .await
            .expect("the call succeeds");
        clock.advance(Duration::from_secs(600));
    }
    let counters = emu.oidc_counters();
    assert!(counters.client_credentials_grants >= 1);
    let calls = seen(&emu, "catalog.search");
    assert_eq!(calls.len(), 4);
    assert!(
        calls.iter().all(|r| r.status == Some(200)
            && !r.header_is("authorization", &format!("Bearer {}", emu.api_key()))),
        "every call went through with a session token, not the key"
    );
}

/// A token given with its scheme (`Bearer gpra_...`, as copied from a curl command) would
/// travel as `Bearer Bearer gpra_...` and be refused call by call as an unknown credential:
/// the client is refused when built instead, naming the mistake and not the token.
#[tokio::test]
async fn a_token_given_with_its_scheme_is_refused_when_the_client_is_built() {
    let emu = emulator_at(&ManualClock::new());
    let pasted = format!("Bearer {}", emu.api_key());
    let refused = [
        AuthenticatedClient::new(emu.base_url(), pasted.clone()).map(drop),
        AuthenticatedClient::builder_with_credentials(Credential::api_key(pasted.clone()))
            .base_url(emu.base_url())
            .build()
            .map(drop),
    ];
    for result in refused {
        let error = result.expect_err("refused");
        assert_eq!(error.kind(), ErrorKind::Config, "{error}");
        let shown = format!("{error} {error:?}");
        assert!(shown.contains("give the token alone"), "{shown}");
        assert!(!shown.contains(emu.api_key()), "{shown}");
    }
    assert!(seen(&emu, "catalog.search").is_empty(), "nothing was sent");
    let client = AuthenticatedClient::new(emu.base_url(), emu.api_key()).expect("the key alone");
    catalog_search::send(&client, search())
        .await
        .expect("the key alone signs in");
}

#[tokio::test]
async fn an_issuer_or_base_url_given_with_spaces_signs_in_and_one_with_a_query_is_refused() {
    let clock = ManualClock::new();
    let emu = emulator_at(&clock);
    let base = emu.base_url();
    // As read from a file or pasted: spaces, a line break, a trailing slash.
    let providers = [
        Oidc::new(format!(" {base}/realms/public/\n")),
        Oidc::new(format!("{base}/realms/public ")),
        Oidc::for_base_url(&format!(" {base}/ ")),
    ];
    for provider in providers {
        let provider = provider.expect("a provider");
        assert_eq!(provider.issuer(), format!("{base}/realms/public"));
        let session = Session::client_credentials(provider, emu.api_key());
        let client = AuthenticatedClient::builder_with_credentials(session)
            .base_url(base.clone())
            .build()
            .expect("valid configuration");
        catalog_search::send(&client, search())
            .await
            .expect("signed in");
    }
    // Each endpoint's path would follow the query or fragment, and a sign-in go elsewhere.
    for refused in [
        Oidc::new(format!("{base}/realms/public?key=gpra_in_the_query")),
        Oidc::new(format!("{base}/realms/public#gpra_in_the_fragment")),
        Oidc::for_base_url(&format!("{base}?key=gpra_in_the_query")),
    ] {
        let error = refused.expect_err("refused");
        assert_eq!(error.kind(), ErrorKind::Config, "{error}");
        let shown = format!("{error} {error:?}");
        assert!(
            shown.contains("must not have a query or fragment"),
            "{shown}"
        );
        assert!(!shown.contains("gpra_in_the"), "{shown}");
    }
    assert_eq!(emu.oidc_counters().client_credentials_grants, 3);
}

#[tokio::test]
async fn a_wrong_password_is_a_typed_error_that_names_the_grant_failure() {
    let clock = ManualClock::new();
    let emu = emulator_at(&clock);
    // The second is part of the code itself: OAuth codes are public words, so redacting the
    // password from them hides nothing, and "invalid_[redacted]" would name no failure.
    for password in ["not the password", "grant"] {
        let session = Session::password(oidc(&emu), "alice", password);
        let client = AuthenticatedClient::builder_with_credentials(session)
            .base_url(emu.base_url())
            .build()
            .expect("valid configuration");
        let error = catalog_search::send(&client, search())
            .await
            .expect_err("refused");
        assert_eq!(error.kind(), ErrorKind::Auth);
        assert_eq!(sign_in_code(&error), Some("invalid_grant"), "{error}");
        if !"invalid_grant".contains(password) {
            assert!(!format!("{error:?}").contains(password));
        }
    }
    assert!(
        seen(&emu, "catalog.search").is_empty(),
        "nothing was sent without a token"
    );
}

#[tokio::test]
async fn an_api_key_goes_in_x_api_key_when_asked() {
    let clock = ManualClock::new();
    let emu = emulator_at(&clock);
    let client = Client::new(emu.base_url())
        .expect("valid configuration")
        .with_credentials(Credential::api_key(emu.api_key()))
        .expect("a valid header");
    catalog_search::send(&client, search())
        .await
        .expect("the key is accepted");
    let request = seen(&emu, "catalog.search").pop().expect("recorded");
    assert!(request.header_is("x-api-key", emu.api_key()));
    assert!(request.headers.get("authorization").is_none());
    assert!(!format!("{client:?}").contains(emu.api_key()));
}

#[tokio::test]
async fn the_device_flow_signs_in_once_the_code_is_approved() {
    let clock = ManualClock::new();
    let emu = emulator_at(&clock);
    let time = SharedTime::new(&clock);
    let anonymous = Client::builder()
        .base_url(emu.base_url())
        .clock(time.clone())
        .build()
        .expect("valid configuration");
    let flow = oidc(&emu)
        .device_authorization(&anonymous, None)
        .await
        .expect("a device code");
    assert!(flow.verification_uri().starts_with(&emu.base_url()));
    assert!(!format!("{flow:?}").contains("device_code"));

    // Polling before approval waits on the client's clock (emulated time), never sleeping;
    // the person approves once 20 s of it have passed.
    let start = clock.now_millis();
    let user_code = flow.user_code().to_owned();
    let approve = async {
        while clock.now_millis() - start < 20_000 {
            tokio::task::yield_now().await;
        }
        emu.approve_device(&user_code, "alice")
    };
    let (session, approved) = tokio::join!(flow.wait(&anonymous), approve);
    assert_eq!(approved, Ok(true), "{user_code} approved");
    let session = session.expect("approved");
    let polls = emu.oidc_counters().token_errors;
    assert!(polls >= 2, "polled while pending ({polls} pending answers)");
    let client = anonymous.with_credentials(session).expect("valid");
    catalog_search::send(&client, search())
        .await
        .expect("the device session works");
    assert_eq!(emu.oidc_counters().device_code_grants, 1);
}

#[tokio::test]
async fn a_denied_device_code_is_access_denied() {
    let clock = ManualClock::new();
    let emu = emulator_at(&clock);
    let time = SharedTime::new(&clock);
    let anonymous = Client::builder()
        .base_url(emu.base_url())
        .clock(time)
        .build()
        .expect("valid configuration");
    let flow = oidc(&emu)
        .device_authorization(&anonymous, None)
        .await
        .expect("a device code");
    assert!(emu.deny_device(flow.user_code()));
    let error = flow.wait(&anonymous).await.expect_err("denied");
    assert_eq!(sign_in_code(&error), Some("access_denied"), "{error}");
}

#[cfg(feature = "blocking")]
#[test]
fn the_device_flow_works_from_blocking_code() {
    let clock = ManualClock::new();
    let emu = emulator_at(&clock);
    let time = SharedTime::new(&clock);
    let anonymous = Client::builder()
        .base_url(emu.base_url())
        .clock(time)
        .build()
        .expect("valid configuration");
    let flow = oidc(&emu)
        .device_authorization_blocking(&anonymous, Some("catalog:read"))
        .expect("a device code");
    assert_eq!(emu.approve_device(flow.user_code(), "alice"), Ok(true));
    let session = flow.wait_blocking(&anonymous).expect("approved");
    let client = anonymous.with_credentials(session).expect("valid");
    catalog_search::send_blocking(&client, search()).expect("the device session works");
}

#[tokio::test]
async fn a_session_signs_in_through_a_bring_your_own_http_client() {
    let clock = ManualClock::new();
    let emu = emulator_at(&clock);
    let session = Session::password(oidc(&emu), "reader", PASSWORD);
    assert!(
        session.tokens().is_none(),
        "nothing is sent before the first call"
    );
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client");
    let client = AuthenticatedClient::builder_with_credentials(session.clone())
        .base_url(emu.base_url())
        .build()
        .expect("valid configuration")
        .with_http_client(http);
    catalog_search::send(&client, search())
        .await
        .expect("signed in and answered");
    let tokens = session.tokens().expect("signed in");
    assert!(tokens.refresh_token().is_some());
    assert!(!format!("{session:?} {tokens:?}").contains(tokens.access_token()));
    // The reader's scopes hold: a write is refused by the API, not by the session.
    let error = geopera::operations::api_keys_create::send(
        &client,
        geopera::models::ApiKeyCreateInput::new("k").permissions(["catalog:read"]),
    )
    .await
    .expect_err("a reader may not create keys");
    assert_eq!(error.status().map(|s| s.as_u16()), Some(403), "{error}");
}

/// A new API key is shown once, typed as a `SecretString`: the answer's `Debug` never shows it,
/// `expose` gives it, and it works as a credential against the same emulator.
#[tokio::test]
async fn a_new_api_key_never_prints_and_signs_calls() {
    let emulator = crate::support::emulator();
    let geopera = geopera::Geopera::from(crate::support::client(&emulator));
    let created = geopera
        .api_keys()
        .create(serde_json::json!({"name": "ci", "permissions": ["catalog:read"]}))
        .await
        .expect("a key");
    let key = created.key.clone().expect("the key, shown once");
    let detailed = geopera
        .api_keys()
        .create(serde_json::json!({"name": "ci-detailed"}))
        .send_detailed()
        .await
        .expect("a second key");
    let second = detailed.clone().into_result().expect("created");
    let second = second.key.expect("shown once");
    assert!(String::from_utf8_lossy(&detailed.content).contains(second.expose()));
    let printed = format!("{detailed:?}");
    assert!(!printed.contains(second.expose()), "{printed}");
    assert!(printed.contains(&format!("<{} bytes>", detailed.content.len())));
    assert!(key.expose().starts_with("gpra_"), "a gpra_ key");
    for printed in [
        format!("{created:?}"),
        format!("{created:#?}"),
        key.to_string(),
    ] {
        assert!(!printed.contains(key.expose()), "{printed}");
    }
    let with_it = AuthenticatedClient::builder(key.into_exposed())
        .base_url(emulator.base_url())
        .build()
        .expect("valid configuration");
    let page = catalog_search::send(&with_it, CatalogSearchInput::new(HOST).limit(1))
        .await
        .expect("the new key is accepted");
    assert_eq!(page.features.len(), 1);
}

#[tokio::test]
async fn a_provider_that_names_an_absurd_device_interval_or_lifetime_gets_an_error_not_a_panic() {
    // Numbers at the edge of what the answer's fields hold, and an interval longer than the
    // code lives: the code could only expire unpolled, which the start says at once, naming
    // the interval, instead of a wait that asks nothing and reports the code expired.
    for (expires_in, interval) in [(600, u64::MAX), (u64::MAX, u64::MAX), (600, 99_999_999_999)] {
        let provider = Hostile::serve("127.0.0.1", move |seen| {
            if seen.path.ends_with("/auth/device") {
                hostile_json(
                    200,
                    &[],
                    &format!(
                        r#"{{"device_code":"dev-code-that-no-error-message-contains","user_code":"U","verification_uri":"http://127.0.0.1/v","expires_in":{expires_in},"interval":{interval}}}"#
                    ),
                )
            } else {
                hostile_json(400, &[], r#"{"error":"authorization_pending"}"#)
            }
        });
        let anonymous = Client::builder()
            .base_url(provider.url())
            .build()
            .expect("valid configuration");
        let error = Oidc::for_base_url(&provider.url())
            .expect("a provider")
            .device_authorization(&anonymous, None)
            .await
            .expect_err("no poll could be made in time");
        assert_eq!(
            sign_in_code(&error),
            Some("invalid_response"),
            "{expires_in} s, every {interval} s: {error}"
        );
        let message = error.to_string();
        assert!(message.contains("interval"), "{message}");
        assert!(!message.contains("dev-code-that"), "{message}");
        assert_eq!(provider.seen().len(), 1, "nothing polled");
    }
}

#[tokio::test]
async fn a_device_authorization_that_fails_is_named_as_such() {
    // Answers the device authorization with a body far larger than any sign-in answer.
    let provider = Hostile::serve("127.0.0.1", |_| {
        hostile_json(200, &[], &format!(r#"{{"pad":"{}"}}"#, "x".repeat(100_000)))
    });
    let anonymous = Client::builder()
        .base_url(provider.url())
        .build()
        .expect("valid configuration");
    let error = Oidc::for_base_url(&provider.url())
        .expect("a provider")
        .device_authorization(&anonymous, None)
        .await
        .expect_err("too large");
    assert_eq!(
        error.operation_id(),
        Some("oidc.device_authorization"),
        "{error}"
    );
}

/// `Oidc::refresh` of `refresh_token` against the provider at `url`, by a client without
/// credentials, as the CLI refreshes a stored session.
async fn refreshed_at(
    url: &str,
    refresh_token: &str,
) -> Result<geopera::auth::TokenSet, geopera::Error> {
    let anonymous = Client::builder()
        .base_url(url)
        .build()
        .expect("valid configuration");
    Oidc::for_base_url(url)
        .expect("a provider")
        .refresh(&anonymous, refresh_token)
        .await
}

/// Starts a device flow against a provider that answers the device authorization with
/// `answer`.
async fn device_answered(
    answer: &'static str,
) -> Result<geopera::auth::DeviceAuthorization, geopera::Error> {
    let provider = Hostile::serve("127.0.0.1", move |_| hostile_json(200, &[], answer));
    let anonymous = Client::builder()
        .base_url(provider.url())
        .build()
        .expect("valid configuration");
    Oidc::for_base_url(&provider.url())
        .expect("a provider")
        .device_authorization(&anonymous, None)
        .await
}

/// A token answer that is no object (the token alone, as a JSON string) is refused as a
/// sign-in that does not fit, without the decoder's words, which quoted the string whole (the
/// token the provider issued) in the error any program prints and the session logs.
#[tokio::test]
async fn a_token_answer_that_does_not_fit_is_refused_without_quoting_it() {
    let provider = Hostile::serve("127.0.0.1", move |_| {
        hostile_json(200, &[], r#""eyJhbGciOiJub25lIn0.issued-token-s3cr3t""#)
    });
    let error = refreshed_at(&provider.url(), "rt_given")
        .await
        .expect_err("no token set");
    assert_eq!(sign_in_code(&error), Some("invalid_response"), "{error}");
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains("s3cr3t"), "{shown}");
    assert!(shown.contains("line 1, column"), "says where: {shown}");
}

/// A device authorization's lifetimes are read as a token answer's are: a numeric string or a
/// fraction means what it says, and a lifetime that is missing or no number is named.
#[tokio::test]
async fn a_device_answer_with_lifetimes_written_as_strings_or_fractions_is_read() {
    let flow = device_answered(
        r#"{"device_code":"d","user_code":"U","verification_uri":"https://id.example/d","expires_in":"600","interval":7.9}"#,
    )
    .await
    .expect("read as numbers");
    assert_eq!(flow.expires_in(), Duration::from_secs(600));
    assert!(format!("{flow:?}").contains("interval: 7s"), "{flow:?}");
    for answer in [
        r#"{"device_code":"d","user_code":"U","verification_uri":"https://id.example/d"}"#,
        r#"{"device_code":"d","user_code":"U","verification_uri":"https://id.example/d","expires_in":"ten minutes"}"#,
    ] {
        let error = device_answered(answer).await.expect_err(answer);
        assert_eq!(
            sign_in_code(&error),
            Some("invalid_response"),
            "{answer}: {error}"
        );
        assert!(error.to_string().contains("expires_in"), "{error}");
    }
}

/// What a device flow hands the caller to show a person is checked first: a page that is no
/// http(s) URL or a user code with control characters is an answer that is no sign-in; a
/// broken optional "complete" page is left out, with the plain one still given.
#[tokio::test]
async fn a_device_answer_with_a_page_or_code_not_fit_to_show_is_refused() {
    for answer in [
        r#"{"device_code":"d","user_code":"U","verification_uri":"javascript:alert(1)","expires_in":600}"#,
        r#"{"device_code":"d","user_code":"U","verification_uri":"file:///etc/passwd","expires_in":600}"#,
        r#"{"device_code":"d","user_code":"U","verification_uri":"https://","expires_in":600}"#,
        r#"{"device_code":"d","user_code":"AB[2J","verification_uri":"https://id.example/device","expires_in":600}"#,
        r#"{"device_code":"d","user_code":"AB\u001b[2J","verification_uri":"https://id.example/device","expires_in":600}"#,
        // Shown reversed from the override on: the person would type another code.
        r#"{"device_code":"d","user_code":"WDJB-\u202eMJHT","verification_uri":"https://id.example/device","expires_in":600}"#,
        r#"{"device_code":"d","user_code":"WDJB\u2028MJHT","verification_uri":"https://id.example/device","expires_in":600}"#,
        r#"{"device_code":"d","user_code":"   ","verification_uri":"https://id.example/device","expires_in":600}"#,
    ] {
        let error = device_answered(answer).await.expect_err(answer);
        assert_eq!(
            sign_in_code(&error),
            Some("invalid_response"),
            "{answer}: {error}"
        );
    }
    let flow = device_answered(
        r#"{"device_code":"d","user_code":"WDJB-MJHT","verification_uri":"https://id.example/device","verification_uri_complete":"javascript:x","expires_in":600}"#,
    )
    .await
    .expect("the plain page is enough");
    assert_eq!(flow.verification_uri(), "https://id.example/device");
    assert_eq!(flow.verification_uri_complete(), None);
    assert_eq!(flow.user_code(), "WDJB-MJHT");
}

#[tokio::test]
async fn a_refresh_leeway_of_duration_max_refreshes_each_token_half_way_instead_of_overflowing() {
    let clock = ManualClock::new();
    let emu = emulator_at(&clock);
    let time = SharedTime::new(&clock);
    let session = Session::password(oidc(&emu), "alice", PASSWORD)
        .clock(time.clone())
        .refresh_leeway(Duration::MAX);
    let client = signed_in(&emu, &time, session);
    catalog_search::send(&client, search())
        .await
        .expect("signed in");
    assert_eq!(emu.oidc_counters().password_grants, 1);
}

/// The API of the hostile identity-provider tests: `at-2` is the only token it takes.
fn api_taking_only_at_2(seen: &crate::hostile::Seen) -> crate::hostile::Reply {
    match seen.header("authorization") {
        Some("Bearer at-2") => {
            hostile_json(200, &[], r#"{"type":"FeatureCollection","features":[]}"#)
        }
        _ => hostile_json(
            401,
            &[("content-type", "application/problem+json")],
            r#"{"title":"Unauthenticated","status":401}"#,
        ),
    }
}

/// Tokens kept from an earlier run, `at-1` renewed by `rt-1`, valid for five minutes.
fn tokens_at_1() -> geopera::auth::TokenSet {
    geopera::auth::TokenSet::new(
        "at-1",
        Some("rt-1".to_owned()),
        std::time::SystemTime::now() + Duration::from_secs(300),
    )
}

/// A session on `at-1`/`rt-1` with `server` as its provider, on `clock` when given, and a
/// client of `server` using it that never retries.
fn session_at_1(server: &Hostile, clock: Option<&ManualClock>) -> (Session, AuthenticatedClient) {
    let mut session = Session::from_tokens(
        Oidc::for_base_url(&server.url()).expect("a provider"),
        tokens_at_1(),
    );
    if let Some(clock) = clock {
        session = session.clock(SharedTime::new(clock));
    }
    let client = AuthenticatedClient::builder_with_credentials(session.clone())
        .base_url(server.url())
        .retries(0)
        .build()
        .expect("valid configuration");
    (session, client)
}

/// An API that refuses every token (a wrong base URL, an audience the provider does not
/// give) is not asked for a renewal by every call it refuses: a token renewed after a 401 and
/// refused again within the moment a refusal is remembered ends the call with its 401, so
/// ten calls make one token request, not ten (each rotating the refresh token).
#[tokio::test]
async fn a_renewed_token_refused_again_is_not_renewed_by_every_call() {
    let refreshes = Arc::new(AtomicUsize::new(0));
    let counted = refreshes.clone();
    let server = Hostile::serve("127.0.0.1", move |seen| {
        if seen.path.ends_with("/protocol/openid-connect/token") {
            let n = counted.fetch_add(1, Ordering::SeqCst) + 2;
            return hostile_json(
                200,
                &[],
                &format!(
                    r#"{{"access_token":"at-{n}","token_type":"Bearer","expires_in":300,"refresh_token":"rt-{n}"}}"#
                ),
            );
        }
        hostile_json(
            401,
            &[("content-type", "application/problem+json")],
            r#"{"title":"Unauthenticated","status":401}"#,
        )
    });
    let clock = ManualClock::new();
    let (session, client) = session_at_1(&server, Some(&clock));
    for _ in 0..10 {
        let error = catalog_search::send(&client, CatalogSearchInput::new(HOST))
            .await
            .expect_err("every token is refused");
        assert_eq!(
            error.status(),
            Some(geopera::StatusCode::UNAUTHORIZED),
            "{error}"
        );
    }
    assert_eq!(refreshes.load(Ordering::SeqCst), 1);
    assert_eq!(session.tokens().expect("kept").access_token(), "at-2");
    // Past that moment, the next call refused tries one renewal again.
    clock.advance(Duration::from_secs(6));
    catalog_search::send(&client, CatalogSearchInput::new(HOST))
        .await
        .expect_err("refused still");
    assert_eq!(refreshes.load(Ordering::SeqCst), 2);
}

/// Sign-in requests carry the client's `User-Agent`, as its calls do (a gateway in front of a
/// provider may refuse requests without one), and none of its other headers, which may be
/// the API's secrets; on both faces.
#[test]
fn a_sign_in_sends_the_client_s_user_agent_and_no_other_header_of_its() {
    let server = Hostile::serve("127.0.0.1", |seen| {
        if seen.path.ends_with("/protocol/openid-connect/token") {
            return hostile_json(
                200,
                &[],
                r#"{"access_token":"at-2","token_type":"Bearer","expires_in":300,"refresh_token":"rt-2"}"#,
            );
        }
        api_taking_only_at_2(seen)
    });
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    for blocking in [false, true] {
        let session = Session::from_tokens(
            Oidc::for_base_url(&server.url()).expect("a provider"),
            tokens_at_1(),
        );
        let client = AuthenticatedClient::builder_with_credentials(session)
            .base_url(server.url())
            .user_agent("survey-app/2.1")
            .header("x-team-token", "team-secret")
            .retries(0)
            .build()
            .expect("valid configuration");
        if blocking {
            catalog_search::send_blocking(&client, CatalogSearchInput::new(HOST))
                .expect("renewed after the 401");
        } else {
            runtime
                .block_on(catalog_search::send(&client, CatalogSearchInput::new(HOST)))
                .expect("renewed after the 401");
        }
    }
    let sign_ins: Vec<_> = server
        .seen()
        .into_iter()
        .filter(|seen| seen.path.ends_with("/token"))
        .collect();
    assert_eq!(sign_ins.len(), 2);
    for seen in sign_ins {
        assert_eq!(seen.header("user-agent"), Some("survey-app/2.1"));
        assert_eq!(seen.header("x-team-token"), None);
    }
}

/// A provider that fails to answer a refresh (503 `temporarily_unavailable`) after the API
/// turned the access token down fails that call only: the refresh token, never spent, renews
/// the session on the next call once the provider is back. A refusal (`invalid_grant`) ends it.
#[tokio::test]
async fn a_provider_outage_during_a_refresh_after_a_401_does_not_end_the_session() {
    let refreshes = Arc::new(AtomicUsize::new(0));
    let counted = refreshes.clone();
    let server = Hostile::serve("127.0.0.1", move |seen| {
        if seen.path.ends_with("/protocol/openid-connect/token") {
            let body = String::from_utf8_lossy(&seen.body).into_owned();
            return match counted.fetch_add(1, Ordering::SeqCst) {
                0 => hostile_json(503, &[], r#"{"error":"temporarily_unavailable"}"#),
                _ if body.contains("refresh_token=rt-1") => hostile_json(
                    200,
                    &[],
                    r#"{"access_token":"at-2","token_type":"Bearer","expires_in":300,"refresh_token":"rt-2"}"#,
                ),
                _ => hostile_json(400, &[], r#"{"error":"invalid_grant"}"#),
            };
        }
        api_taking_only_at_2(seen)
    });
    let clock = ManualClock::new();
    let (session, client) = session_at_1(&server, Some(&clock));

    let error = catalog_search::send(&client, CatalogSearchInput::new(HOST))
        .await
        .expect_err("the provider is down");
    assert_eq!(
        sign_in_code(&error),
        Some("temporarily_unavailable"),
        "{error}"
    );
    // An outage, not a refusal: worth asking again, as the session itself judges it.
    assert_eq!(error.kind(), geopera::ErrorKind::Server, "{error:?}");
    assert!(error.is_retryable(), "{error:?}");
    // Past the moment a failure is remembered for, the provider is asked again.
    clock.advance(Duration::from_secs(6));
    let page = catalog_search::send(&client, CatalogSearchInput::new(HOST))
        .await
        .expect("the same refresh token renews the session");
    assert!(page.features.is_empty());
    assert_eq!(refreshes.load(Ordering::SeqCst), 2);
    let held = session.tokens().expect("the session goes on");
    assert_eq!(held.access_token(), "at-2");
}

/// A client error from the token endpoint that is no OAuth refusal (a gateway's 403 page, a
/// provider answering 404 while its realm loads) never judged the refresh token: the session
/// keeps it and renews once the provider answers. Only a refusal's code ends a session.
#[tokio::test]
async fn a_client_error_of_the_token_endpoint_without_a_refusal_s_code_does_not_end_the_session() {
    let refreshes = Arc::new(AtomicUsize::new(0));
    let counted = refreshes.clone();
    let server = Hostile::serve("127.0.0.1", move |seen| {
        if seen.path.ends_with("/protocol/openid-connect/token") {
            let page = "<html>blocked</html>";
            return match counted.fetch_add(1, Ordering::SeqCst) {
                0 => crate::hostile::Reply::Raw(
                    format!(
                        "HTTP/1.1 403 Forbidden\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
                        page.len()
                    )
                    .into_bytes(),
                ),
                1 => hostile_json(404, &[], r#"{"error":"Realm does not exist"}"#),
                2 => hostile_json(
                    200,
                    &[],
                    r#"{"access_token":"at-2","token_type":"Bearer","expires_in":300,"refresh_token":"rt-2"}"#,
                ),
                _ => hostile_json(400, &[], r#"{"error":"invalid_grant"}"#),
            };
        }
        api_taking_only_at_2(seen)
    });
    let clock = ManualClock::new();
    let (session, client) = session_at_1(&server, Some(&clock));
    for code in ["invalid_response", "Realm does not exist"] {
        let error = catalog_search::send(&client, CatalogSearchInput::new(HOST))
            .await
            .expect_err("the provider does not renew");
        assert_eq!(sign_in_code(&error), Some(code), "{error}");
        assert!(session.tokens().is_some(), "{code}: the session goes on");
        // Past the moment a failure is remembered for, the provider is asked again.
        clock.advance(Duration::from_secs(6));
    }
    catalog_search::send(&client, CatalogSearchInput::new(HOST))
        .await
        .expect("the same refresh token renews the session");
    assert_eq!(refreshes.load(Ordering::SeqCst), 3);
    assert_eq!(session.tokens().expect("renewed").access_token(), "at-2");
}

/// A session on `at-1`/`rt-1` against a server whose token endpoint answers each refresh with
/// `answer`, counting them, and whose API takes `at-2` only.
fn refreshing_with(
    answer: &'static str,
) -> (Hostile, Session, AuthenticatedClient, Arc<AtomicUsize>) {
    refreshing_by(move || hostile_json(200, &[], answer))
}

/// [`refreshing_with`], the token endpoint answering each refresh with what `answer` makes.
fn refreshing_by(
    answer: impl Fn() -> crate::hostile::Reply + Send + Sync + 'static,
) -> (Hostile, Session, AuthenticatedClient, Arc<AtomicUsize>) {
    let refreshes = Arc::new(AtomicUsize::new(0));
    let counted = refreshes.clone();
    let server = Hostile::serve("127.0.0.1", move |seen| {
        if seen.path.ends_with("/protocol/openid-connect/token") {
            counted.fetch_add(1, Ordering::SeqCst);
            return answer();
        }
        api_taking_only_at_2(seen)
    });
    let (session, client) = session_at_1(&server, None);
    (server, session, client, refreshes)
}

/// A lifetime written as a string, a fraction or a negative number is read as seconds (or as
/// none left), not a reason to throw away the answer: it holds the rotated refresh token,
/// the only one left once the old one is spent.
#[tokio::test]
async fn a_token_answer_with_an_odd_lifetime_is_adopted_with_its_rotated_refresh_token() {
    for (answer, lasts_a_while) in [
        (
            r#"{"access_token":"at-2","token_type":"Bearer","expires_in":"300","refresh_token":"rt-2"}"#,
            true,
        ),
        (
            r#"{"access_token":"at-2","token_type":"Bearer","expires_in":300.5,"refresh_token":"rt-2"}"#,
            true,
        ),
        (
            r#"{"access_token":"at-2","token_type":"Bearer","expires_in":-1,"refresh_token":"rt-2"}"#,
            false,
        ),
        (
            r#"{"access_token":"at-2","token_type":"Bearer","expires_in":{"s":1},"refresh_token":"rt-2"}"#,
            true,
        ),
    ] {
        let (_server, session, client, _) = refreshing_with(answer);
        catalog_search::send(&client, CatalogSearchInput::new(HOST))
            .await
            .unwrap_or_else(|e| panic!("{answer}: {e}"));
        let held = session.tokens().expect("the session goes on");
        assert_eq!(held.refresh_token(), Some("rt-2"), "{answer}");
        let left = held
            .expires_at()
            .duration_since(std::time::SystemTime::now())
            .unwrap_or_default();
        assert_eq!(
            left > Duration::from_secs(200),
            lasts_a_while,
            "{answer}: {left:?}"
        );
    }
}

/// A scope written otherwise than as one string (a list of words, a number) is no reason to
/// throw away the answer holding the rotated refresh token: refused as undecodable, the
/// session was left with the spent one.
#[tokio::test]
async fn a_token_answer_with_a_scope_of_another_form_is_adopted_with_its_rotated_refresh_token() {
    for (answer, scope) in [
        (
            r#"{"access_token":"at-2","expires_in":300,"refresh_token":"rt-2","scope":["openid","profile"]}"#,
            Some("openid profile"),
        ),
        (
            r#"{"access_token":"at-2","expires_in":300,"refresh_token":"rt-2","scope":5}"#,
            None,
        ),
    ] {
        let (_server, session, client, _) = refreshing_with(answer);
        catalog_search::send(&client, CatalogSearchInput::new(HOST))
            .await
            .unwrap_or_else(|e| panic!("{answer}: {e}"));
        let held = session.tokens().expect("the session goes on");
        assert_eq!(held.refresh_token(), Some("rt-2"), "{answer}");
        assert_eq!(held.scope(), scope, "{answer}");
    }
}

/// A lifetime past the range of any float (`1e400`) is a long one, or none left when
/// negative, as one of 2^64 seconds is: the answer holding the rotated refresh token used to
/// be refused whole as undecodable, and the session ended with the spent token.
#[tokio::test]
async fn a_token_answer_with_a_lifetime_past_any_float_is_adopted_with_its_rotated_refresh_token() {
    for (answer, lasts_a_while) in [
        (
            r#"{"access_token":"at-2","token_type":"Bearer","expires_in":1e400,"refresh_token":"rt-2"}"#,
            true,
        ),
        (
            r#"{"access_token":"at-2","token_type":"Bearer","expires_in":300,"refresh_expires_in":1e400,"refresh_token":"rt-2"}"#,
            true,
        ),
        (
            r#"{"access_token":"at-2","token_type":"Bearer","expires_in":-1e400,"refresh_token":"rt-2"}"#,
            false,
        ),
    ] {
        let (_server, session, client, refreshes) = refreshing_with(answer);
        catalog_search::send(&client, CatalogSearchInput::new(HOST))
            .await
            .unwrap_or_else(|e| panic!("{answer}: {e}"));
        assert_eq!(refreshes.load(Ordering::SeqCst), 1, "{answer}");
        let held = session.tokens().expect("the session goes on");
        assert_eq!(held.access_token(), "at-2", "{answer}");
        assert_eq!(held.refresh_token(), Some("rt-2"), "{answer}");
        let left = held
            .expires_at()
            .duration_since(std::time::SystemTime::now())
            .unwrap_or_default();
        assert_eq!(
            left > Duration::from_secs(200),
            lasts_a_while,
            "{answer}: {left:?}"
        );
    }
}

/// A token said to expire at once is still used for a moment: one refresh serves calls made
/// one after another, not one refresh each.
#[tokio::test]
async fn a_token_that_expires_at_once_is_not_refreshed_for_every_call() {
    let (_server, _session, client, refreshes) = refreshing_with(
        r#"{"access_token":"at-2","token_type":"Bearer","expires_in":0,"refresh_token":"rt-2"}"#,
    );
    for _ in 0..5 {
        catalog_search::send(&client, CatalogSearchInput::new(HOST))
            .await
            .expect("a page");
    }
    assert_eq!(refreshes.load(Ordering::SeqCst), 1);
}

/// An access token no HTTP header can carry is refused when it arrives, as an answer that is
/// no token: taken up, it failed every call as a configuration error until it expired.
#[tokio::test]
async fn an_access_token_with_control_characters_is_refused_on_arrival() {
    let (_server, _session, client, _) = refreshing_with(
        r#"{"access_token":"at\n2","token_type":"Bearer","expires_in":300,"refresh_token":"rt-2"}"#,
    );
    let error = catalog_search::send(&client, CatalogSearchInput::new(HOST))
        .await
        .expect_err("no usable token");
    assert_eq!(sign_in_code(&error), Some("invalid_response"), "{error:?}");
    assert_eq!(error.kind(), geopera::ErrorKind::Auth, "{error:?}");
}

/// An access token with white space inside it (a provider that writes its scheme into the
/// token) is refused when it arrives, as one no header can carry is: taken up, every call
/// failed as a configuration error until the token expired, and nothing refreshed it.
#[tokio::test]
async fn an_access_token_with_white_space_inside_is_refused_on_arrival() {
    for token in ["Bearer at-2", "at 2", "at\t2"] {
        let answer = serde_json::json!({
            "access_token": token,
            "expires_in": 300,
            "refresh_token": "rt-2",
        })
        .to_string();
        let (_server, session, client, _) = refreshing_by(move || hostile_json(200, &[], &answer));
        for _ in 0..2 {
            let error = catalog_search::send(&client, CatalogSearchInput::new(HOST))
                .await
                .expect_err("no usable token");
            assert_eq!(
                sign_in_code(&error),
                Some("invalid_response"),
                "{token:?}: {error:?}"
            );
            assert_eq!(
                error.kind(),
                geopera::ErrorKind::Auth,
                "{token:?}: {error:?}"
            );
        }
        assert!(session
            .tokens()
            .is_none_or(|held| held.access_token() != token));
    }
}

/// A token answer whose access token is refused (white space inside, empty, missing, not a
/// string) still holds the refresh token the provider rotated as it answered, the one sent
/// being spent: the session keeps it, tells `on_refresh`, and renews with it once the refusal
/// is no longer remembered. It used to go with the refused answer, and the next refresh sent
/// the spent token, which a rotating provider answers by ending the session.
#[tokio::test]
async fn a_refused_token_answer_leaves_its_rotated_refresh_token_with_the_session() {
    let refused_answers = [
        r#"{"access_token":"Bearer at-2","expires_in":300,"refresh_token":"rt-2"}"#,
        r#"{"access_token":"","expires_in":300,"refresh_token":"rt-2"}"#,
        r#"{"access_token":5,"expires_in":300,"refresh_token":"rt-2"}"#,
        r#"{"expires_in":300,"refresh_token":"rt-2"}"#,
    ];
    for refused in refused_answers {
        // Resumed from tokens (`at-1`, `rt-1`) and signed in with a password: the rotated
        // token joins the tokens held, or is the only one held.
        for resumed in [true, false] {
            let asked = Arc::new(Mutex::new(Vec::<String>::new()));
            let log = asked.clone();
            let server = Hostile::serve("127.0.0.1", move |seen| {
                if seen.path.ends_with("/protocol/openid-connect/token") {
                    let form = String::from_utf8_lossy(&seen.body).into_owned();
                    let mut log = log.lock().expect("log");
                    log.push(form.clone());
                    return if log.len() == 1 {
                        hostile_json(200, &[], refused)
                    } else if form.contains("refresh_token=rt-2") {
                        hostile_json(
                            200,
                            &[],
                            r#"{"access_token":"at-2","expires_in":300,"refresh_token":"rt-3"}"#,
                        )
                    } else {
                        hostile_json(400, &[], r#"{"error":"invalid_grant"}"#)
                    };
                }
                api_taking_only_at_2(seen)
            });
            let clock = ManualClock::new();
            let oidc = Oidc::for_base_url(&server.url()).expect("a provider");
            let session = if resumed {
                Session::from_tokens(oidc, tokens_at_1())
            } else {
                Session::password(oidc, "alice", PASSWORD)
            };
            let announced = Arc::new(Mutex::new(Vec::<Option<String>>::new()));
            let heard = announced.clone();
            let session = session
                .clock(SharedTime::new(&clock))
                .on_refresh(move |tokens| {
                    let refresh = tokens.refresh_token().map(str::to_owned);
                    heard.lock().expect("announced").push(refresh);
                });
            let client = AuthenticatedClient::builder_with_credentials(session.clone())
                .base_url(server.url())
                .retries(0)
                .build()
                .expect("valid configuration");
            let case = format!("{refused} (resumed: {resumed})");

            let error = catalog_search::send(&client, CatalogSearchInput::new(HOST))
                .await
                .expect_err("no usable access token");
            assert_eq!(
                sign_in_code(&error),
                Some("invalid_response"),
                "{case}: {error:?}"
            );
            // A session signed in with no access token yet shows no tokens (`tokens` says so);
            // one resumed keeps `at-1` beside the new refresh token.
            let held = session.tokens();
            if resumed {
                let held = held.unwrap_or_else(|| panic!("{case}: tokens are held"));
                assert_eq!(held.access_token(), "at-1", "{case}");
                assert_eq!(held.refresh_token(), Some("rt-2"), "{case}");
            } else {
                assert!(held.is_none(), "{case}");
            }
            assert_eq!(
                announced.lock().expect("announced").as_slice(),
                [Some("rt-2".to_owned())],
                "{case}"
            );

            clock.advance(Duration::from_secs(6));
            catalog_search::send(&client, CatalogSearchInput::new(HOST))
                .await
                .unwrap_or_else(|e| panic!("{case}: renewed with rt-2: {e}"));
            let held = session.tokens().expect("the session goes on");
            assert_eq!(held.access_token(), "at-2", "{case}");
            assert_eq!(held.refresh_token(), Some("rt-3"), "{case}");
            let asked = asked.lock().expect("log");
            assert_eq!(asked.len(), 2, "{case}: {asked:?}");
            assert!(asked[1].contains("grant_type=refresh_token"), "{case}");
        }
    }
}

/// The blocking face of [`an_access_token_with_white_space_inside_is_refused_on_arrival`].
#[test]
fn a_blocking_call_refuses_an_access_token_with_white_space_inside_on_arrival() {
    let (_server, _session, client, _) = refreshing_with(
        r#"{"access_token":"Bearer at-2","expires_in":300,"refresh_token":"rt-2"}"#,
    );
    for _ in 0..2 {
        let error = catalog_search::send_blocking(&client, CatalogSearchInput::new(HOST))
            .expect_err("no usable token");
        assert_eq!(sign_in_code(&error), Some("invalid_response"), "{error:?}");
        assert_eq!(error.kind(), geopera::ErrorKind::Auth, "{error:?}");
    }
}

/// A session resumed from stored tokens whose access token no call can send, valid for five
/// more minutes by its stored expiry, and a provider that renews `rt-1` as `at-2`.
fn resumed_with_unsendable(access_token: &str) -> (Hostile, AuthenticatedClient) {
    let server = Hostile::serve("127.0.0.1", |seen| {
        if seen.path.ends_with("/protocol/openid-connect/token") {
            let body = String::from_utf8_lossy(&seen.body).into_owned();
            return if body.contains("refresh_token=rt-1") {
                hostile_json(
                    200,
                    &[],
                    r#"{"access_token":"at-2","expires_in":300,"refresh_token":"rt-2"}"#,
                )
            } else {
                hostile_json(400, &[], r#"{"error":"invalid_grant"}"#)
            };
        }
        api_taking_only_at_2(seen)
    });
    let stored = geopera::auth::TokenSet::new(
        access_token,
        Some("rt-1".to_owned()),
        std::time::SystemTime::now() + Duration::from_secs(300),
    );
    let session = Session::from_tokens(
        Oidc::for_base_url(&server.url()).expect("a provider"),
        stored,
    );
    let client = AuthenticatedClient::builder_with_credentials(session)
        .base_url(server.url())
        .retries(0)
        .build()
        .expect("valid configuration");
    (server, client)
}

/// Stored tokens whose access token no call can send (read from a file with its line break,
/// or kept with its scheme) are renewed with their refresh token at the first call: held to
/// their stored expiry, every call failed as a configuration error until then.
#[tokio::test]
async fn a_stored_access_token_no_call_can_send_is_renewed_at_first_use() {
    for stored in ["at-1\n", "Bearer at-1", "at-1\u{0}"] {
        let (_server, client) = resumed_with_unsendable(stored);
        catalog_search::send(&client, CatalogSearchInput::new(HOST))
            .await
            .unwrap_or_else(|error| panic!("{stored:?}: {error:?}"));
    }
}

/// The blocking face of [`a_stored_access_token_no_call_can_send_is_renewed_at_first_use`].
#[test]
fn a_blocking_call_renews_a_stored_access_token_no_call_can_send() {
    for stored in ["at-1\n", "Bearer at-1"] {
        let (_server, client) = resumed_with_unsendable(stored);
        catalog_search::send_blocking(&client, CatalogSearchInput::new(HOST))
            .unwrap_or_else(|error| panic!("{stored:?}: {error:?}"));
    }
}

/// A token endpoint that redirects (`status`) to another origin, which would answer with a
/// token of its own, and a session held by tokens the API turns down; `elsewhere` records
/// what reached the other origin.
fn redirecting_provider(status: u16) -> (Hostile, Hostile, Session) {
    let elsewhere = Hostile::serve("127.0.0.2", |_| {
        hostile_json(
            200,
            &[],
            r#"{"access_token":"at-2","expires_in":300,"refresh_token":"rt-2"}"#,
        )
    });
    let target = format!("{}/token", elsewhere.url());
    let provider = Hostile::serve("127.0.0.1", move |seen| {
        if seen.path.ends_with("/protocol/openid-connect/token") {
            return crate::hostile::redirect(status, &target);
        }
        api_taking_only_at_2(seen)
    });
    let session = Session::from_tokens(
        Oidc::for_base_url(&provider.url()).expect("a provider"),
        tokens_at_1(),
    );
    (provider, elsewhere, session)
}

/// What a refresh through a redirecting token endpoint must come to: the refresh token never
/// reached the other origin, and no answer of that origin became the session's token.
fn assert_refresh_stayed_home(
    status: u16,
    outcome: Result<impl std::fmt::Debug, Error>,
    elsewhere: &Hostile,
) {
    for seen in elsewhere.seen() {
        let body = String::from_utf8_lossy(&seen.body);
        assert!(
            !body.contains("rt-1"),
            "{status}: the refresh token left: {seen:?}"
        );
    }
    let error = outcome.expect_err("no token from another origin");
    assert_eq!(
        sign_in_code(&error),
        Some("invalid_response"),
        "{status}: {error:?}"
    );
}

/// A sign-in through an HTTP client of the caller's that follows redirects (reqwest's
/// default) stays with the identity provider: a 307 or 308 would have replayed the form, with
/// its refresh token, password or API key, to whatever origin the provider's answer named, and
/// a 303 would have had a token of that origin taken up.
#[tokio::test]
async fn a_sign_in_through_a_redirect_following_http_client_stays_with_the_provider() {
    for status in [307, 308, 303, 302] {
        let (provider, elsewhere, session) = redirecting_provider(status);
        let client = AuthenticatedClient::builder_with_credentials(session)
            .base_url(provider.url())
            .http_client(reqwest::Client::new())
            .retries(0)
            .build()
            .expect("valid configuration");
        let outcome = catalog_search::send(&client, CatalogSearchInput::new(HOST)).await;
        assert_refresh_stayed_home(status, outcome, &elsewhere);
    }
}

/// The blocking face of
/// [`a_sign_in_through_a_redirect_following_http_client_stays_with_the_provider`].
#[test]
fn a_blocking_sign_in_through_a_redirect_following_http_client_stays_with_the_provider() {
    for status in [307, 303] {
        let (provider, elsewhere, session) = redirecting_provider(status);
        let client = AuthenticatedClient::builder_with_credentials(session)
            .base_url(provider.url())
            .blocking_http_client(reqwest::Client::new)
            .retries(0)
            .build()
            .expect("valid configuration");
        let outcome = catalog_search::send_blocking(&client, CatalogSearchInput::new(HOST));
        assert_refresh_stayed_home(status, outcome, &elsewhere);
    }
}

/// A token endpoint that cannot be reached is asked once by calls that all need a new token,
/// not once by each in turn: the others are answered from memory for a moment, with an error
/// that says to try again.
#[tokio::test]
async fn an_unreachable_token_endpoint_is_asked_once_by_calls_that_all_need_it() {
    let attempts = Arc::new(AtomicUsize::new(0));
    let counted = attempts.clone();
    let server = Hostile::serve("127.0.0.1", move |seen| {
        if seen.path.ends_with("/protocol/openid-connect/token") {
            counted.fetch_add(1, Ordering::SeqCst);
            // The connection closes without an answer.
            return crate::hostile::Reply::Raw(Vec::new());
        }
        api_taking_only_at_2(seen)
    });
    let expired = geopera::auth::TokenSet::new(
        "at-1",
        Some("rt-1".to_owned()),
        std::time::SystemTime::now() - Duration::from_secs(1),
    );
    let session = Session::from_tokens(
        Oidc::for_base_url(&server.url()).expect("a provider"),
        expired,
    );
    let client = AuthenticatedClient::builder_with_credentials(session)
        .base_url(server.url())
        .retries(0)
        .build()
        .expect("valid configuration");
    let calls = (0..20).map(|_| catalog_search::send(&client, CatalogSearchInput::new(HOST)));
    let results = futures::future::join_all(calls).await;
    for result in &results {
        let error = result.as_ref().expect_err("no token to be had");
        assert!(error.is_retryable(), "an outage: {error:?}");
    }
    assert_eq!(attempts.load(Ordering::SeqCst), 1);
}

/// Calls that the API turned away together (a token revoked on its side) while the token
/// endpoint is down ask it once between them, as calls that find their token expired do: each
/// 401 used to send a refresh of its own, one after another, to a provider just found down.
#[tokio::test]
async fn calls_turned_away_together_ask_a_token_endpoint_that_is_down_once() {
    let (server, session, client, attempts) = refreshing_by(|| {
        // Long enough for every call's 401 to arrive while the first refresh is out.
        std::thread::sleep(Duration::from_millis(300));
        hostile_json(503, &[], r#"{"error":"temporarily_unavailable"}"#)
    });
    let calls = (0..10).map(|_| catalog_search::send(&client, CatalogSearchInput::new(HOST)));
    let results = tokio::time::timeout(Duration::from_secs(30), futures::future::join_all(calls))
        .await
        .expect("the calls end");
    for result in &results {
        let error = result.as_ref().expect_err("no token to be had");
        assert!(error.is_retryable(), "an outage: {error:?}");
    }
    let turned_away = server
        .seen()
        .iter()
        .filter(|seen| seen.header("authorization") == Some("Bearer at-1"))
        .count();
    assert_eq!(turned_away, 10, "every call was sent and turned away");
    assert_eq!(attempts.load(Ordering::SeqCst), 1);
    assert_eq!(
        session
            .tokens()
            .and_then(|t| t.refresh_token().map(str::to_owned)),
        Some("rt-1".to_owned()),
        "the refresh token, never spent, stays"
    );
}

/// A provider that quotes the form it was sent gives the password as the form spelled it
/// (`+` for a space, `%24` for `$`); that spelling is kept out of the error too.
#[tokio::test]
async fn a_password_echoed_form_encoded_by_the_provider_is_redacted() {
    const PASSWORD: &str = "s3cr3t pa$$/word+&=";
    let provider = Hostile::serve("127.0.0.1", |seen| {
        let form = String::from_utf8_lossy(&seen.body).into_owned();
        let answer = serde_json::json!({"error": "invalid_grant", "error_description": form});
        hostile_json(400, &[], &answer.to_string())
    });
    let session = Session::password(
        Oidc::for_base_url(&provider.url()).expect("a provider"),
        "alice",
        PASSWORD,
    );
    let client = AuthenticatedClient::builder_with_credentials(session)
        .base_url(provider.url())
        .build()
        .expect("valid configuration");
    let error = catalog_search::send(&client, CatalogSearchInput::new(HOST))
        .await
        .expect_err("refused");
    let shown = format!("{error} {error:?}");
    let form_spelling: String = url::form_urlencoded::byte_serialize(PASSWORD.as_bytes()).collect();
    assert!(!shown.contains(&form_spelling), "{shown}");
    assert!(!shown.contains(PASSWORD), "{shown}");
    assert!(shown.contains("[redacted]"), "{shown}");
    assert!(
        shown.contains("username=alice"),
        "the rest is kept: {shown}"
    );
}

/// How long the provider of the cancelled-refresh tests takes to answer a refresh.
const SLOW_REFRESH: Duration = Duration::from_secs(2);

/// A provider that rotates `rt-1` into `at-2`/`rt-2` as the request arrives and answers
/// [`SLOW_REFRESH`] later, refusing any other refresh as a replay; the counter tells how many
/// refreshes it saw. The API takes only `at-2`.
fn slow_rotating_provider() -> (Hostile, Arc<AtomicUsize>) {
    let spent = Arc::new(AtomicUsize::new(0));
    let counted = spent.clone();
    let server = Hostile::serve("127.0.0.1", move |seen| {
        if seen.path.ends_with("/protocol/openid-connect/token") {
            let body = String::from_utf8_lossy(&seen.body).into_owned();
            if counted.fetch_add(1, Ordering::SeqCst) > 0 || !body.contains("refresh_token=rt-1") {
                return hostile_json(
                    400,
                    &[],
                    r#"{"error":"invalid_grant","error_description":"reused"}"#,
                );
            }
            std::thread::sleep(SLOW_REFRESH);
            return hostile_json(
                200,
                &[],
                r#"{"access_token":"at-2","token_type":"Bearer","expires_in":300,"refresh_token":"rt-2"}"#,
            );
        }
        api_taking_only_at_2(seen)
    });
    (server, spent)
}

/// A session holding `at-1`/`rt-1` for `server`'s provider, and a client using it.
fn client_of_session(server: &Hostile) -> (Session, AuthenticatedClient) {
    let oidc = Oidc::for_base_url(&server.url()).expect("a provider");
    let session = Session::from_tokens(oidc, tokens_at_1());
    let client = AuthenticatedClient::builder_with_credentials(session.clone())
        .base_url(server.url())
        .retries(0)
        .build()
        .expect("valid configuration");
    (session, client)
}

/// A search whose deadline passes while its refresh is on the way.
fn cut_short() -> Request<CatalogSearchInput> {
    Request::new(CatalogSearchInput::new(HOST)).deadline(Duration::from_millis(500))
}

/// What must hold after a call gave up during its refresh and the next one succeeded: the
/// provider saw one refresh (the spent token was never sent again), and the session holds the
/// rotated pair.
fn check_one_refresh(session: &Session, spent: &AtomicUsize) {
    assert_eq!(
        spent.load(Ordering::SeqCst),
        1,
        "the spent refresh token was sent again"
    );
    let tokens = session.tokens().expect("tokens");
    assert_eq!(tokens.access_token(), "at-2");
    assert_eq!(tokens.refresh_token(), Some("rt-2"));
}

/// A call given up while its refresh is on the way (its deadline passed) loses neither the
/// rotated tokens nor the session: the provider spent `rt-1` as the request arrived, and the
/// next call, made at once, waits for that refresh instead of sending `rt-1` again.
async fn a_call_cancelled_during_its_refresh_keeps_the_session() {
    let (server, spent) = slow_rotating_provider();
    let (session, client) = client_of_session(&server);
    let error = catalog_search::send(&client, cut_short())
        .await
        .expect_err("the deadline passes during the refresh");
    assert_eq!(error.kind(), ErrorKind::Timeout, "{error}");
    let page = catalog_search::send(&client, CatalogSearchInput::new(HOST))
        .await
        .expect("the next call is served with the rotated tokens");
    assert!(page.features.is_empty());
    check_one_refresh(&session, &spent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_cancelled_during_its_refresh_keeps_the_session_on_a_multi_thread_runtime() {
    a_call_cancelled_during_its_refresh_keeps_the_session().await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_call_cancelled_during_its_refresh_keeps_the_session_on_a_current_thread_runtime() {
    a_call_cancelled_during_its_refresh_keeps_the_session().await;
}

/// The same from blocking code, where the call's runtime belongs to the calling thread and
/// stops with the call: the call still returns at its deadline, not when the refresh ends.
#[test]
fn a_blocking_call_cancelled_during_its_refresh_keeps_the_session() {
    let (server, spent) = slow_rotating_provider();
    let (session, client) = client_of_session(&server);
    let started = std::time::Instant::now();
    let error = catalog_search::send_blocking(&client, cut_short())
        .expect_err("the deadline passes during the refresh");
    assert_eq!(error.kind(), ErrorKind::Timeout, "{error}");
    assert!(
        started.elapsed() < SLOW_REFRESH,
        "the call waited for the refresh past its deadline: {:?}",
        started.elapsed()
    );
    let page = catalog_search::send_blocking(&client, CatalogSearchInput::new(HOST))
        .expect("the next call is served with the rotated tokens");
    assert!(page.features.is_empty());
    check_one_refresh(&session, &spent);
}

/// A blocking call made on the thread of a current-thread runtime while an async call of that
/// runtime is signing in: the sign-in's token request runs on that runtime, holding the
/// session's lock, and cannot go on while the blocking call stops the thread, so waiting for
/// the lock would last until the deadline. The blocking call is refused at once instead; the
/// sign-in is not disturbed (one token request, its tokens kept), and a blocking call made
/// once it is done is served.
#[test]
fn a_blocking_call_during_a_sign_in_on_its_own_runtime_does_not_hang() {
    let answer_token = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let gate = answer_token.clone();
    let server = Hostile::serve("127.0.0.1", move |seen| {
        if seen.path.ends_with("/protocol/openid-connect/token") {
            // Held until the test lets it go (bounded, so a failing test ends).
            let held = std::time::Instant::now();
            while !gate.load(Ordering::SeqCst) && held.elapsed() < Duration::from_secs(30) {
                std::thread::sleep(Duration::from_millis(5));
            }
            return hostile_json(
                200,
                &[],
                r#"{"access_token":"at-2","token_type":"Bearer","expires_in":300}"#,
            );
        }
        api_taking_only_at_2(seen)
    });
    let token_requests = || {
        server
            .seen()
            .iter()
            .filter(|r| r.path.ends_with("/token"))
            .count()
    };
    let oidc = Oidc::for_base_url(&server.url()).expect("a provider");
    let session = Session::password(oidc, "alice", "pw");
    let client = AuthenticatedClient::builder_with_credentials(session.clone())
        .base_url(server.url())
        .build()
        .expect("valid configuration");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let signing_in = {
            let client = client.clone();
            tokio::spawn(async move { catalog_search::send(&client, search()).await })
        };
        for _ in 0..1000 {
            if token_requests() > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(token_requests(), 1, "the sign-in is on the way");
        let started = std::time::Instant::now();
        let refused = catalog_search::send_blocking(
            &client,
            Request::new(search()).deadline(Duration::from_secs(10)),
        )
        .expect_err("the sign-in cannot finish while this thread waits");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the blocking call waited {:?} and ended with {refused}",
            started.elapsed()
        );
        assert_eq!(refused.kind(), ErrorKind::Config, "{refused}");
        assert!(refused.to_string().contains("sign-in"), "{refused}");
        answer_token.store(true, Ordering::SeqCst);
        signing_in
            .await
            .expect("joined")
            .expect("the sign-in went through");
        catalog_search::send_blocking(&client, search()).expect("served once signed in");
    });
    assert_eq!(token_requests(), 1, "one sign-in");
    let tokens = session.tokens().expect("signed in");
    assert_eq!(tokens.access_token(), "at-2");
}

/// `Oidc::refresh` renews stored tokens once, without a session: the emulator rotates the
/// refresh token, states a lifetime, and refuses the spent token afterwards.
#[tokio::test]
async fn oidc_refresh_renews_stored_tokens_and_the_spent_one_is_refused() {
    let clock = ManualClock::new();
    let emu = emulator_at(&clock);
    let time = SharedTime::new(&clock);
    let session = Session::password(oidc(&emu), "alice", PASSWORD).clock(time.clone());
    let client = signed_in(&emu, &time, session.clone());
    catalog_search::send(&client, search())
        .await
        .expect("signed in");
    let stored = session.tokens().expect("tokens");
    let spent = stored.refresh_token().expect("a refresh token").to_owned();

    let anonymous = Client::builder()
        .base_url(emu.base_url())
        .build()
        .expect("valid configuration");
    let renewed = oidc(&emu)
        .refresh(&anonymous, &spent)
        .await
        .expect("renewed");
    assert_ne!(renewed.access_token(), stored.access_token());
    let rotated = renewed.refresh_token().expect("a refresh token");
    assert_ne!(rotated, spent);
    assert!(renewed.stated_expires_at().is_some(), "{renewed:?}");
    assert_eq!(emu.oidc_counters().refresh_grants, 1);

    let error = oidc(&emu)
        .refresh(&anonymous, &spent)
        .await
        .expect_err("a spent refresh token");
    assert_eq!(sign_in_code(&error), Some("invalid_grant"), "{error:?}");
    assert!(!format!("{error} {error:?}").contains(&spent), "{error:?}");
}

/// What a session and `Oidc::refresh` make of one token answer, to compare: the tokens taken
/// up (access, refresh, whether a lifetime was stated, the lifetime assumed or stated, in
/// whole minutes), or the sign-in error code.
type Verdict = Result<(String, Option<String>, bool, u64), Option<String>>;

fn verdict(tokens: Result<geopera::auth::TokenSet, Error>) -> Verdict {
    match tokens {
        Ok(tokens) => Ok((
            tokens.access_token().to_owned(),
            tokens.refresh_token().map(str::to_owned),
            tokens.stated_expires_at().is_some(),
            tokens
                .expires_at()
                .duration_since(std::time::SystemTime::now())
                .unwrap_or_default()
                .as_secs()
                .div_ceil(60),
        )),
        Err(error) => Err(sign_in_code(&error).map(str::to_owned)),
    }
}

/// The same hostile token answers given to a session refreshing after a 401 and to
/// `Oidc::refresh`: the same verdicts, since both read them by one set of rules.
#[tokio::test]
async fn oidc_refresh_and_a_session_judge_every_token_answer_alike() {
    let answers = [
        r#"{"access_token":"at-2","expires_in":300,"refresh_token":"rt-2"}"#,
        r#"{"access_token":"at-2","refresh_token":"rt-2"}"#,
        r#"{"access_token":"at-2","expires_in":null,"refresh_token":"rt-2"}"#,
        r#"{"access_token":"at-2","expires_in":"300","refresh_token":"rt-2"}"#,
        r#"{"access_token":"at-2","expires_in":300.5,"refresh_token":"rt-2"}"#,
        r#"{"access_token":"at-2","expires_in":-1,"refresh_token":"rt-2"}"#,
        r#"{"access_token":"at-2","expires_in":{"s":1},"refresh_token":"rt-2"}"#,
        r#"{"access_token":"at-2","expires_in":300,"refresh_token":""}"#,
        r#"{"access_token":"at-2","expires_in":300}"#,
        r#"{"access_token":"","expires_in":300,"refresh_token":"rt-2"}"#,
        r#"{"access_token":"at\u00002","expires_in":300,"refresh_token":"rt-2"}"#,
        r#"{"access_token":"Bearer at-2","expires_in":300,"refresh_token":"rt-2"}"#,
        r#"{"access_token":5,"expires_in":300,"refresh_token":"rt-2"}"#,
        r#"{"expires_in":300,"refresh_token":"rt-2"}"#,
        r#"{"access_token":"at-2","refresh_token":7}"#,
        r#"not json"#,
    ];
    for answer in answers {
        let (server, session, client, _) = refreshing_with(answer);
        let by_session = catalog_search::send(&client, CatalogSearchInput::new(HOST))
            .await
            .map(|_| session.tokens().expect("the session goes on"));
        let by_refresh = refreshed_at(&server.url(), "rt-1").await;
        let (by_session, by_refresh) = (verdict(by_session), verdict(by_refresh));
        assert_eq!(by_session, by_refresh, "{answer}");
    }
    // And the verdicts themselves, so that the two cannot drift together.
    let (server, _, _, _) = refreshing_with(r#"{"access_token":"at-2"}"#);
    let kept = refreshed_at(&server.url(), "rt-1").await;
    assert_eq!(
        verdict(kept),
        Ok(("at-2".to_owned(), Some("rt-1".to_owned()), false, 5)),
        "no lifetime stated: 300 s assumed, and the refresh token sent is kept"
    );
}

/// A provider's own failure, as a secrets manager or a credentials file of the caller's might
/// have.
#[derive(Debug, thiserror::Error)]
#[error("the vault is sealed")]
struct Sealed;

/// A provider that never has a credential, for a reason of its own.
#[derive(Debug)]
struct SealedVault;

impl Credentials for SealedVault {
    fn credential<'a>(
        &'a self,
        _: geopera::auth::AuthContext<'a>,
    ) -> geopera::auth::CredentialFuture<'a, Credential> {
        Box::pin(async { Err(Error::credentials(Sealed)) })
    }
}

/// The provider's error reaches the caller whole, as its own type, from either face, and the
/// call sends nothing and is not retried.
#[test]
fn a_providers_own_failure_reaches_the_caller_as_its_source() {
    let api = Hostile::serve("127.0.0.1", |_| hostile_json(200, &[], "{}"));
    let client = Client::builder()
        .base_url(api.url())
        .retries(3)
        .build()
        .expect("valid configuration")
        .with_credentials(SealedVault)
        .expect("valid credentials");
    let check = |error: Error| {
        assert_eq!(error.kind(), ErrorKind::Auth, "{error}");
        assert_eq!(error.attempts(), 0);
        assert!(error.to_string().contains("the vault is sealed"), "{error}");
        let Error::Credentials { source, .. } = &error else {
            panic!("not the provider's error: {error:?}");
        };
        assert!(source.downcast_ref::<Sealed>().is_some(), "{source:?}");
    };
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    check(
        runtime
            .block_on(catalog_search::send(&client, search()))
            .expect_err("no credential"),
    );
    #[cfg(feature = "blocking")]
    check(catalog_search::send_blocking(&client, search()).expect_err("no credential"));
    assert!(api.seen().is_empty(), "nothing was sent");
}

/// An operation that needs no credentials (`webhooks.drain`) does not ask the provider for
/// one: a provider that cannot give one (its vault sealed, its identity provider down) does
/// not fail it, on either face, and it is sent without `Authorization`.
#[test]
fn an_operation_that_needs_no_credentials_does_not_ask_the_provider() {
    let emu = Emulator::builder()
        .rate_limits(RateLimits::off())
        .start()
        .expect("emulator");
    let client = Client::builder()
        .base_url(emu.base_url())
        .retries(0)
        .build()
        .expect("valid configuration")
        .with_credentials(SealedVault)
        .expect("valid credentials");
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime
        .block_on(webhooks_drain::send(&client, DrainInput::new()))
        .expect("a drain needs no credential");
    #[cfg(feature = "blocking")]
    webhooks_drain::send_blocking(&client, DrainInput::new()).expect("a drain needs no credential");
    let drained = seen(&emu, "webhooks.drain");
    assert!(!drained.is_empty());
    for drain in drained {
        assert!(
            drain.headers.get("authorization").is_none(),
            "{:?}",
            drain.headers
        );
    }
    let refused = runtime
        .block_on(catalog_search::send(&client, search()))
        .expect_err("a search needs one");
    assert_eq!(refused.kind(), ErrorKind::Auth, "{refused}");
}

/// A device answer that lets the code live `expires_in` seconds, polled every second.
fn device_answer(expires_in: u64) -> String {
    format!(
        r#"{{"device_code":"device-code-of-the-test","user_code":"U","verification_uri":"http://127.0.0.1/v","expires_in":{expires_in},"interval":1}}"#
    )
}

/// A token answer that never completes: its head, then a byte every 5 s.
fn stalled_answer() -> crate::hostile::Reply {
    crate::hostile::Reply::Trickle {
        head: "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n"
            .to_owned(),
        body: vec![b' '; 100],
        every: Duration::from_secs(5),
    }
}

/// A provider whose device code lives `expires_in` seconds and whose token endpoint gives
/// `answers` in turn (the last one for ever); a client of it on `clock`; the flow started.
fn device_flow(
    expires_in: u64,
    answers: fn(usize) -> crate::hostile::Reply,
    clock: Option<Arc<dyn geopera::Clock>>,
    request_timeout: Duration,
) -> (Hostile, Client, geopera::auth::DeviceAuthorization) {
    let polls = AtomicUsize::new(0);
    let device = device_answer(expires_in);
    let provider = Hostile::serve("127.0.0.1", move |seen| {
        if seen.path.ends_with("/auth/device") {
            hostile_json(200, &[], &device)
        } else {
            answers(polls.fetch_add(1, Ordering::SeqCst))
        }
    });
    let mut builder = Client::builder().base_url(provider.url());
    if let Some(clock) = clock {
        builder = builder.clock(clock);
    }
    let client = builder.build().expect("valid configuration");
    let flow = Oidc::for_base_url(&provider.url())
        .expect("a provider")
        .request_timeout(request_timeout)
        .device_authorization_blocking(&client, None)
        .expect("a device code");
    (provider, client, flow)
}

/// Waits for `flow` from `face`: `async` on a runtime of its own, or `blocking`.
fn wait_from(
    face: &str,
    flow: geopera::auth::DeviceAuthorization,
    client: &Client,
) -> Result<Session, Error> {
    match face {
        "async" => tokio::runtime::Runtime::new()
            .expect("a runtime")
            .block_on(flow.wait(client)),
        _ => flow.wait_blocking(client),
    }
}

/// The token endpoint answers a 503, then not at all within the request timeout, then
/// `authorization_pending`, then the tokens.
fn hiccuping_provider(poll: usize) -> crate::hostile::Reply {
    match poll {
        0 => hostile_json(503, &[], "{}"),
        1 => stalled_answer(),
        2 => hostile_json(400, &[], r#"{"error":"authorization_pending"}"#),
        _ => hostile_json(
            200,
            &[],
            r#"{"access_token":"at","refresh_token":"rt","expires_in":300,"token_type":"Bearer"}"#,
        ),
    }
}

/// A 503 and a timeout of the token endpoint while the person has yet to approve are
/// hiccups of minutes-long polling, not a refusal: the flow polls on and signs in, on both
/// faces.
#[test]
fn a_device_flow_polls_on_through_a_503_and_a_timeout_of_the_token_endpoint() {
    for face in ["async", "blocking"] {
        // Simulated time for the pauses; the timeout is real, and short.
        let clock: Arc<dyn geopera::Clock> = SharedTime::new(&ManualClock::new());
        let (provider, client, flow) = device_flow(
            600,
            hiccuping_provider,
            Some(clock),
            Duration::from_millis(300),
        );
        let session = wait_from(face, flow, &client).unwrap_or_else(|e| panic!("{face}: {e:?}"));
        assert!(session.tokens().is_some(), "{face}: signed in");
        assert_eq!(provider.seen().len(), 5, "{face}: the start and four polls");
    }
}

/// A poll in flight when the device code expires is cut there, not at the end of its request
/// timeout (30 s): the flow ends with `expired_token` naming the poll that failed, on both
/// faces.
#[test]
fn a_device_flow_polls_no_longer_than_its_code_lives() {
    for face in ["async", "blocking"] {
        let (_provider, client, flow) =
            device_flow(2, |_| stalled_answer(), None, Duration::from_secs(30));
        let started = std::time::Instant::now();
        let error = wait_from(face, flow, &client).expect_err("never approved");
        let took = started.elapsed();
        assert!(
            took < Duration::from_secs(10),
            "{face}: ended after {took:?}"
        );
        assert_eq!(
            sign_in_code(&error),
            Some("expired_token"),
            "{face}: {error:?}"
        );
        let message = error.to_string();
        assert!(
            message.contains("the last poll failed") && message.contains("timed out"),
            "{face}: {message}"
        );
    }
}

/// A code's life counts from when the flow started, not from the wait: one that expired
/// while the application showed it (the clock moved past `expires_in` before `wait`) is
/// reported expired without a poll, where the wait polled for another `expires_in`, on both
/// faces.
#[test]
fn a_device_flow_waited_for_after_its_code_expired_polls_nothing() {
    for face in ["async", "blocking"] {
        let manual = ManualClock::new();
        let clock: Arc<dyn geopera::Clock> = SharedTime::new(&manual);
        let (provider, client, flow) = device_flow(
            600,
            |_| hostile_json(400, &[], r#"{"error":"authorization_pending"}"#),
            Some(clock),
            Duration::from_secs(5),
        );
        manual.advance(Duration::from_secs(601));
        let error = wait_from(face, flow, &client).expect_err("expired");
        assert_eq!(
            sign_in_code(&error),
            Some("expired_token"),
            "{face}: {error:?}"
        );
        assert_eq!(provider.seen().len(), 1, "{face}: the start, and no poll");
    }
}

/// A token endpoint that answers only 503 has stopped, not hiccuped: the third failed poll in
/// a row ends the sign-in with its error, long before the code expires (ten minutes), on both
/// faces. A pending answer between failures starts the count again (see
/// [`hiccuping_provider`]).
#[test]
fn a_device_flow_ends_on_the_third_failed_poll_in_a_row() {
    for face in ["async", "blocking"] {
        let clock: Arc<dyn geopera::Clock> = SharedTime::new(&ManualClock::new());
        let (provider, client, flow) = device_flow(
            600,
            |_| hostile_json(503, &[], "{}"),
            Some(clock),
            Duration::from_secs(5),
        );
        let error = wait_from(face, flow, &client).expect_err("the provider is down");
        assert_eq!(
            error.status().map(|status| status.as_u16()),
            Some(503),
            "{face}: {error:?}"
        );
        assert_eq!(
            provider.seen().len(),
            4,
            "{face}: the start and three polls"
        );
    }
}

/// A token endpoint that answers 429 is pacing its pollers, as `slow_down` does, and is no
/// outage: the flow polls on five seconds slower each time and signs in once the person has
/// approved, on both faces. Once, three 429s in a row ended the sign-in, and the interval
/// never grew.
#[test]
fn a_device_flow_slows_down_on_429_and_signs_in() {
    fn pacing_provider(poll: usize) -> crate::hostile::Reply {
        match poll {
            0..=3 => hostile_json(429, &[], r#"{"error":"too_many_requests"}"#),
            _ => hostile_json(
                200,
                &[],
                r#"{"access_token":"at","refresh_token":"rt","expires_in":300,"token_type":"Bearer"}"#,
            ),
        }
    }
    for face in ["async", "blocking"] {
        let time = SharedTime::new(&ManualClock::new());
        let clock: Arc<dyn geopera::Clock> = time.clone();
        let (provider, client, flow) =
            device_flow(600, pacing_provider, Some(clock), Duration::from_secs(5));
        let started = geopera::Clock::now(&*time);
        let session = wait_from(face, flow, &client).unwrap_or_else(|e| panic!("{face}: {e:?}"));
        assert!(session.tokens().is_some(), "{face}: signed in");
        assert_eq!(provider.seen().len(), 6, "{face}: the start and five polls");
        // Polls after 1 s, then 6, 11, 16 and 21 s more: 55 s of simulated time.
        let waited = geopera::Clock::now(&*time).saturating_sub(started);
        assert_eq!(waited.as_secs(), 55, "{face}: {waited:?}");
    }
}

/// A 429's pause that outlasts the device code ends the wait as expired, at once: polling
/// never runs past `expires_in`, as the docs say. It waited out the pause (a minute here)
/// and asked about a code that had expired long before.
#[test]
fn a_device_poll_does_not_wait_for_its_turn_past_the_code_s_expiry() {
    fn limiting_provider(_: usize) -> crate::hostile::Reply {
        hostile_json(
            429,
            &[("retry-after", "60")],
            r#"{"error":"too_many_requests"}"#,
        )
    }
    for face in ["async", "blocking"] {
        let time = SharedTime::new(&ManualClock::new());
        let clock: Arc<dyn geopera::Clock> = time.clone();
        let (provider, client, flow) =
            device_flow(30, limiting_provider, Some(clock), Duration::from_secs(5));
        let started = geopera::Clock::now(&*time);
        let error = wait_from(face, flow, &client).expect_err("never approved");
        assert_eq!(
            sign_in_code(&error),
            Some("expired_token"),
            "{face}: {error:?}"
        );
        let waited = geopera::Clock::now(&*time).saturating_sub(started);
        assert!(waited <= Duration::from_secs(30), "{face}: {waited:?}");
        // The start and the one poll the pause answered: none asked during the pause.
        assert_eq!(provider.seen().len(), 2, "{face}");
    }
}

/// A pause of the API's own (a 429 to `webhooks.drain`, longer than the code lives) does not
/// end a device wait whose provider is at another origin: the API's budget does not hold the
/// provider's requests, so the polls go on and the approval is taken.
#[test]
fn an_api_pause_does_not_end_a_device_wait_at_a_provider_elsewhere() {
    for face in ["async", "blocking"] {
        let api = Hostile::serve("127.0.0.1", |_| {
            hostile_json(429, &[("retry-after", "45")], r#"{"detail":"slow down"}"#)
        });
        let polls = AtomicUsize::new(0);
        // The code lives 30 s; the API's pause, 45 s.
        let device = device_answer(30);
        let provider = Hostile::serve("127.0.0.2", move |seen| {
            if seen.path.ends_with("/auth/device") {
                return hostile_json(200, &[], &device);
            }
            match polls.fetch_add(1, Ordering::SeqCst) {
                0 => hostile_json(400, &[], r#"{"error":"authorization_pending"}"#),
                _ => hostile_json(
                    200,
                    &[],
                    r#"{"access_token":"at-elsewhere","token_type":"Bearer","expires_in":300}"#,
                ),
            }
        });
        let time = SharedTime::new(&ManualClock::new());
        let client = Client::builder()
            .base_url(api.url())
            .clock(time.clone())
            .retries(0)
            .build()
            .expect("valid configuration");
        let flow = Oidc::for_base_url(&provider.url())
            .expect("a provider")
            .device_authorization_blocking(&client, None)
            .expect("a device code");
        let paused = webhooks_drain::send_blocking(&client, DrainInput::new())
            .expect_err("the API answers 429");
        assert!(matches!(paused, Error::RateLimited { .. }), "{paused:?}");
        let approved = wait_from(face, flow, &client);
        assert!(approved.is_ok(), "{face}: {approved:?}");
        assert_eq!(provider.seen().len(), 3, "{face}: the start and two polls");
        assert_eq!(
            api.seen().len(),
            1,
            "{face}: only the drain reached the API"
        );
    }
}

/// A provider at the API's origin that takes a while to answer 429 with `Retry-After: 1`
/// holds the per-address budget for that second after its answer, as a call's 429 does: the
/// drain that follows waits for it, where the pause counted from the request had already
/// ended.
#[tokio::test]
async fn a_slow_providers_429_pauses_from_its_answer() {
    let answered = crate::support::Moment::default();
    let drained = crate::support::Moment::default();
    let (answered_at, drained_at) = (answered.clone(), drained.clone());
    let server = Hostile::serve("127.0.0.1", move |seen| {
        if seen.path.ends_with("/protocol/openid-connect/token") {
            std::thread::sleep(Duration::from_millis(1500));
            answered_at.mark();
            return hostile_json(429, &[("retry-after", "1")], r#"{"error":"slow_down"}"#);
        }
        drained_at.mark();
        hostile_json(200, &[], r#"{"delivered":0,"failed":0,"pending":0}"#)
    });
    let client = Client::builder()
        .base_url(server.url())
        .retries(0)
        .build()
        .expect("valid configuration");
    let oidc = Oidc::for_base_url(&server.url()).expect("a provider");
    let refused = oidc.refresh(&client, "rt-1").await;
    assert!(refused.is_err(), "{refused:?}");
    let _ = webhooks_drain::send(&client, DrainInput::new()).await;
    let waited = drained.since(&answered);
    assert!(
        waited >= Duration::from_millis(900),
        "the drain went {waited:?} after the 429 that asked for a second"
    );
}

/// A token request a blocking call left running on the client's I/O thread (its deadline
/// passed first) is finished when the client is dropped, not cancelled with the thread's
/// runtime: its answer holds the rotated refresh token, the only one left, and the session,
/// which outlives the client, keeps it.
#[test]
fn a_refresh_left_on_the_io_thread_is_finished_when_the_client_is_dropped() {
    let server = Hostile::serve("127.0.0.1", |seen| {
        if seen.path.ends_with("/protocol/openid-connect/token") {
            std::thread::sleep(Duration::from_millis(500));
            return hostile_json(
                200,
                &[],
                r#"{"access_token":"at-2","token_type":"Bearer","expires_in":300,"refresh_token":"rt-2"}"#,
            );
        }
        api_taking_only_at_2(seen)
    });
    // Due for a refresh at once: it expires within the 30 s lead.
    let session = Session::from_tokens(
        Oidc::for_base_url(&server.url()).expect("a provider"),
        geopera::auth::TokenSet::new(
            "at-1",
            Some("rt-1".to_owned()),
            std::time::SystemTime::now() + Duration::from_secs(10),
        ),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let client = AuthenticatedClient::builder_with_credentials(session.clone())
            .base_url(server.url())
            .deadline(Duration::from_millis(100))
            .retries(0)
            .build()
            .expect("valid configuration");
        // Inside a current-thread runtime, a blocking call runs on the I/O thread.
        let error = catalog_search::send_blocking(&client, CatalogSearchInput::new(HOST))
            .expect_err("the deadline passes during the refresh");
        assert!(error.is_timeout(), "{error:?}");
        drop(client);
    });
    let started = std::time::Instant::now();
    while session
        .tokens()
        .and_then(|t| t.refresh_token().map(str::to_owned))
        != Some("rt-2".to_owned())
    {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the rotated token was lost"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
