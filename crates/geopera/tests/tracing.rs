//! What the SDK records with `tracing`: a span per call, an event per attempt, never a token,
//! a password or a session's tokens.
//!
//! A test binary of its own: it installs a process-wide subscriber, which would otherwise see
//! (and race with) every other test's calls.

#[path = "support/captured.rs"]
mod captured;

use geopera::auth::{Oidc, Session};
use geopera::models::CatalogSearchInput;
use geopera::operations::catalog_search;
use geopera_emulator::{Emulator, FaultPlan, RateLimits};

use captured::Captured;

const HOST: &str = "earthsearch-aws";
const ONE_503: &str = "503;op=catalog.search;times=1";

#[test]
fn calls_and_retries_are_traced_without_the_token() {
    let emu = Emulator::builder()
        .rate_limits(RateLimits::off())
        .faults(FaultPlan::parse(ONE_503).expect("valid"))
        .start()
        .expect("starts");
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        // Everything, the HTTP stack's own events included.
        .with_max_level(tracing::Level::TRACE)
        .with_writer(captured.clone())
        .with_ansi(false)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .finish();
    let client = geopera::AuthenticatedClient::builder(emu.api_key())
        .base_url(emu.base_url())
        .retry_policy(geopera::RetryPolicy::default().backoff(
            std::time::Duration::from_millis(5),
            std::time::Duration::from_millis(10),
        ))
        .build()
        .expect("valid");
    // `try_init`, so that the `log` records of the HTTP stack (reqwest's) are seen too.
    tracing_subscriber::util::SubscriberInitExt::try_init(subscriber)
        .expect("the only subscriber of this binary");
    // A credential sent in clear text to another machine is warned about, once per client;
    // loopback (every other client of this test) is not.
    let cleartext = "the client's credential goes in clear text";
    geopera::AuthenticatedClient::builder("gpra_over_plain_http")
        .base_url("http://api.example.invalid")
        .build()
        .expect("allowed, with a warning");
    geopera::Client::builder()
        .base_url("http://api.example.invalid/")
        .build()
        .expect("no credential, no warning")
        .with_credentials(geopera::auth::Credential::bearer("gpra_added_later"))
        .expect("allowed, with a warning");
    geopera::Client::builder()
        .base_url("http://[::1]:8080")
        .build()
        .expect("loopback")
        .with_credentials(geopera::auth::Credential::bearer("gpra_on_loopback"))
        .expect("no warning");
    // So is a provider whose sign-ins would send a password or a refresh token in clear
    // text, once per provider; one on loopback is not.
    let sign_in_cleartext =
        "sign-in secrets (a password, an API key, a refresh token) go in clear text";
    Oidc::new("http://idp.example.invalid/realms/public").expect("allowed, with a warning");
    Oidc::for_base_url("http://localhost:8080").expect("loopback: no warning");
    // A base URL that ends in the version, which the SDK adds itself, is warned about.
    let versioned = "the base URL ends in /v1";
    geopera::Client::builder()
        .base_url("https://api.example.invalid/v1/")
        .build()
        .expect("allowed, with a warning");
    geopera::Client::builder()
        .base_url("https://api.example.invalid/v1beta")
        .build()
        .expect("no warning");
    // One engine: the async and the blocking call are traced alike, each after one retry.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(catalog_search::send(
            &client,
            CatalogSearchInput::new(HOST).limit(1),
        ))
        .expect("a page after one retry");
    emu.set_faults(FaultPlan::parse(ONE_503).expect("valid"));
    catalog_search::send_blocking(&client, CatalogSearchInput::new(HOST).limit(1))
        .expect("a page after one retry");
    // A session: its sign-in, a refresh after the API refuses a revoked access token, and
    // none of its secrets in the log either.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let oidc = Oidc::for_base_url(&emu.base_url()).expect("a provider");
    let session = Session::password(oidc, "admin", "admin-password");
    let signed_in = geopera::AuthenticatedClient::builder_with_credentials(session.clone())
        .base_url(emu.base_url())
        .build()
        .expect("valid");
    runtime
        .block_on(catalog_search::send(
            &signed_in,
            CatalogSearchInput::new(HOST).limit(1),
        ))
        .expect("signed in");
    let first = session.tokens().expect("signed in");
    let revoked = runtime
        .block_on(
            reqwest::Client::new()
                .post(format!(
                    "{}/realms/public/protocol/openid-connect/revoke",
                    emu.base_url()
                ))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!(
                    "client_id=geopera-cli&token={}",
                    first.access_token()
                ))
                .send(),
        )
        .expect("the revocation endpoint answers");
    assert!(revoked.status().is_success());
    runtime
        .block_on(catalog_search::send(
            &signed_in,
            CatalogSearchInput::new(HOST).limit(1),
        ))
        .expect("refreshed after the 401 and sent again");
    let second = session.tokens().expect("still signed in");
    assert_ne!(first.access_token(), second.access_token());
    let text = captured.text();
    assert_eq!(text.matches(cleartext).count(), 2, "{text}");
    assert_eq!(text.matches(sign_in_cleartext).count(), 1, "{text}");
    assert!(
        text.contains("issuer=http://idp.example.invalid/realms/public"),
        "{text}"
    );
    assert_eq!(text.matches(versioned).count(), 1, "{text}");
    assert!(
        text.contains(
            "base_url=https://api.example.invalid/v1 default_base_url=\"https://api.geopera.com\""
        ),
        "{text}"
    );
    assert!(
        text.contains("base_url=http://api.example.invalid"),
        "{text}"
    );
    assert!(!text.contains("gpra_over_plain_http") && !text.contains("gpra_added_later"));
    assert!(text.contains("geopera.call"), "{text}");
    assert!(text.contains("operation_id=\"catalog.search\""), "{text}");
    assert!(
        text.contains("status=503") && text.contains("status=200"),
        "{text}"
    );
    assert!(text.contains("retrying"), "{text}");
    // A retry's cause and wait are a text and a number a program can read, not `Debug`.
    let retrying = text
        .lines()
        .find(|line| line.contains("retrying"))
        .unwrap_or_default();
    assert!(
        retrying.contains("outcome=HTTP 503") && retrying.contains(" wait_ms="),
        "{retrying}"
    );
    let closed: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("close time.busy"))
        .collect();
    assert_eq!(closed.len(), 4, "{text}");
    assert!(
        closed[..2].iter().all(|line| line.contains("attempts=2")),
        "both faces record their attempts: {closed:?}"
    );
    assert!(
        closed[3].contains("attempts=2"),
        "the 401 and the retry: {closed:?}"
    );
    assert!(text.contains("credential renewed after 401"), "{text}");
    // One request id per call, the same on its retry: in the SDK's span (a quoted string)
    // and in the emulator's log line for each attempt (plain).
    let ids: Vec<String> = emu
        .requests()
        .into_iter()
        .filter(|r| r.operation_id.as_deref() == Some("catalog.search"))
        .map(|r| r.request_id)
        .collect();
    assert!(ids.len() >= 4, "{ids:?}");
    assert_eq!(ids[0], ids[1], "the async call's retry reuses its id");
    assert_eq!(ids[2], ids[3], "the blocking call's retry reuses its id");
    assert_ne!(ids[0], ids[2]);
    for id in &ids {
        assert!(
            text.contains(&format!("request_id=\"{id}\"")),
            "{id}: {text}"
        );
        assert!(text.contains(&format!("request_id={id}")), "{id}: {text}");
    }
    assert!(!text.contains(emu.api_key()), "the token is never logged");
    for secret in [
        first.access_token(),
        first.refresh_token().unwrap_or("no refresh token"),
        second.access_token(),
        "admin-password",
    ] {
        assert!(!text.contains(secret), "a session secret was logged");
    }
    assert!(!text.contains(HOST), "bodies are never logged");

    // Error paths, where more is said: a proxy that refuses the connection, a shared budget
    // whose Redis is not there, a share link's password the API refuses or the SDK's own
    // checks do. None of their credentials is logged or shown.
    const PROXY_PASSWORD: &str = "proxy-pass-7Hq2";
    const REDIS_PASSWORD: &str = "redis-pass-Xy9w";
    const SHARE_PASSWORD: &str = "share-pass-Kd83";
    let refused = geopera::AuthenticatedClient::builder(emu.api_key())
        .base_url(emu.base_url())
        .proxy(format!("http://proxy-user:{PROXY_PASSWORD}@127.0.0.1:9"))
        .retries(0)
        .build()
        .expect("valid");
    let proxy_error =
        catalog_search::send_blocking(&refused, CatalogSearchInput::new(HOST).limit(1))
            .expect_err("nothing listens on the proxy's port");
    let mut shown = format!("{proxy_error} {proxy_error:?} {refused:?}");
    #[cfg(feature = "redis")]
    {
        let budget = geopera::budget::RedisBudget::builder(
            format!("redis://:{REDIS_PASSWORD}@127.0.0.1:9/"),
            "org_tracing",
        )
        .timeout(std::time::Duration::from_millis(200))
        .build()
        .expect("valid");
        shown.push_str(&format!("{budget:?}"));
        let budgeted = geopera::AuthenticatedClient::builder(emu.api_key())
            .base_url(emu.base_url())
            .budget(std::sync::Arc::new(budget))
            .build()
            .expect("valid");
        catalog_search::send_blocking(&budgeted, CatalogSearchInput::new(HOST).limit(1))
            .expect("paced locally while Redis is unreachable");
    }
    let geopera = geopera::Geopera::from(client.clone());
    for (password, expires_at) in [
        (SHARE_PASSWORD, "2030-01-01T00:00:00Z"),
        (&SHARE_PASSWORD[..7], "2030-01-01T00:00:00Z"),
    ] {
        let body = serde_json::json!({"target_type": "item", "target_id": "no_such_item",
            "password": password, "expires_at": expires_at});
        let error = runtime
            .block_on(geopera.invoke("share.link.create", body))
            .expect_err("no such item, or a password too short");
        shown.push_str(&format!("{error} {error:?}"));
    }
    let text = captured.text();
    assert!(
        text.contains(" TRACE "),
        "the HTTP stack's own events are seen too"
    );
    #[cfg(feature = "redis")]
    assert!(text.contains("shared rate budget unreachable"), "{text}");
    for secret in [PROXY_PASSWORD, REDIS_PASSWORD, &SHARE_PASSWORD[..7]] {
        assert!(!text.contains(secret), "{secret} was logged");
        assert!(!shown.contains(secret), "{secret} was shown: {shown}");
    }
    assert!(!text.contains(emu.api_key()), "the token is never logged");

    // A call the limiter holds back says why and for how long, as a retry does: two calls
    // paced at 300 a minute, the second held for its turn, 200 ms after the first.
    let paced = geopera::AuthenticatedClient::builder(emu.api_key())
        .base_url(emu.base_url())
        .pace(geopera::RateClass::Default, 300)
        .build()
        .expect("valid");
    for _ in 0..2 {
        catalog_search::send_blocking(&paced, CatalogSearchInput::new(HOST).limit(1))
            .expect("paced");
    }
    let text = captured.text();
    let held: Vec<&str> = text
        .lines()
        .filter(|line| line.contains(" held "))
        .collect();
    assert_eq!(held.len(), 1, "{text}");
    let wait_ms: u64 = held[0]
        .split_once(" wait_ms=")
        .and_then(|(_, rest)| rest.split(' ').next())
        .and_then(|number| number.parse().ok())
        .unwrap_or(u64::MAX);
    assert!(
        held[0].contains("operation_id=\"catalog.search\"")
            && held[0].contains("reason=\"paced\"")
            && (1..=200).contains(&wait_ms),
        "{}",
        held[0]
    );

    // A 429 without `Retry-After` pauses its class for a backoff, and its retry waits that
    // same pause, so the retry is not held again when it wakes (with two draws of the
    // jittered backoff, 2 to 4 ms for this client, about one retry in three would be).
    for _ in 0..30 {
        emu.set_faults(FaultPlan::parse("status=429;op=catalog.search;times=1").expect("valid"));
        catalog_search::send_blocking(&client, CatalogSearchInput::new(HOST).limit(1))
            .expect("answered on the retry");
    }
    let text = captured.text();
    let retried = text
        .lines()
        .filter(|line| line.contains(" retrying ") && line.contains("outcome=HTTP 429"))
        .count();
    assert_eq!(retried, 30, "{text}");
    let held = text.lines().filter(|line| line.contains(" held ")).count();
    assert_eq!(held, 1, "only the paced call above was held: {text}");

    // With a shared budget, the budget is told the same wait the retry takes: one draw of
    // the backoff, where the budget was told one draw and the retry waited another, so that
    // a fleet's class was held for a wait this client did not take.
    let budget = std::sync::Arc::new(Recording::default());
    let budgeted = geopera::AuthenticatedClient::builder(emu.api_key())
        .base_url(emu.base_url())
        .retry_policy(geopera::RetryPolicy::default().backoff(
            std::time::Duration::from_millis(20),
            std::time::Duration::from_millis(40),
        ))
        .budget(budget.clone())
        .build()
        .expect("valid");
    let before = captured.text().len();
    for _ in 0..10 {
        emu.set_faults(FaultPlan::parse("status=429;op=catalog.search;times=1").expect("valid"));
        catalog_search::send_blocking(&budgeted, CatalogSearchInput::new(HOST).limit(1))
            .expect("answered on the retry");
    }
    let text = captured.text();
    let waited: Vec<u64> = text[before..]
        .lines()
        .filter(|line| line.contains(" retrying ") && line.contains("outcome=HTTP 429"))
        .filter_map(|line| {
            line.split_once(" wait_ms=")?
                .1
                .split(' ')
                .next()?
                .parse()
                .ok()
        })
        .collect();
    let told: Vec<u64> = budget
        .told
        .lock()
        .expect("not poisoned")
        .iter()
        .map(|wait| u64::try_from(wait.as_millis()).unwrap_or(u64::MAX))
        .collect();
    assert_eq!(waited.len(), 10, "{text}");
    assert_eq!(told, waited);
}

/// A budget that grants every call and keeps the waits it is told after a 429.
#[derive(Debug, Default)]
struct Recording {
    told: std::sync::Mutex<Vec<std::time::Duration>>,
}

impl geopera::budget::Budget for Recording {
    fn reserve(
        &self,
        _: geopera::RateClass,
    ) -> geopera::budget::BudgetFuture<'_, geopera::budget::Reservation> {
        Box::pin(async { geopera::budget::Reservation::Granted })
    }

    fn limited(
        &self,
        _: geopera::RateClass,
        retry_after: std::time::Duration,
    ) -> geopera::budget::BudgetFuture<'_, ()> {
        self.told.lock().expect("not poisoned").push(retry_after);
        Box::pin(async {})
    }
}
