//! What the SDK puts on the wire, as the emulator recorded it.

use geopera::auth::{AuthContext, Credential, CredentialFuture, Credentials};
use geopera::models::{CatalogSearchInput, ImageAssetInput};
use geopera::operations::{catalog_image_quicklook, catalog_search};
use geopera::{AuthenticatedClient, Client, Parsed, Request, StatusCode, DEFAULT_USER_AGENT};

use crate::support::{anonymous, client, emulator, seen, HOST};

#[tokio::test]
async fn default_headers_cookies_and_user_agent_are_sent() {
    let emu = emulator();
    let configured = AuthenticatedClient::builder(emu.api_key())
        .base_url(emu.base_url())
        .header("X-Request-Source", "it")
        .cookie("a", "1")
        .cookie("b", "2")
        .build()
        .expect("valid");
    catalog_search::send(&configured, CatalogSearchInput::new(HOST).limit(1))
        .await
        .expect("a page");
    let request = seen(&emu, "catalog.search").pop().expect("recorded");
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/v1/op/catalog.search");
    let header = |name: &str| {
        request
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert!(request.header_is("authorization", &format!("Bearer {}", emu.api_key())));
    assert_eq!(header("user-agent").as_deref(), Some(DEFAULT_USER_AGENT));
    assert!(DEFAULT_USER_AGENT.starts_with("geopera-rs/"));
    assert_eq!(header("x-request-source").as_deref(), Some("it"));
    assert_eq!(header("cookie").as_deref(), Some("a=1; b=2"));
    assert_eq!(header("content-type").as_deref(), Some("application/json"));
    let body: serde_json::Value = serde_json::from_slice(&request.body).expect("JSON body");
    assert_eq!(body["host_name"], HOST);
    assert_eq!(body["limit"], 1);
}

/// A `Content-Type` given for the client is sent as given, as one given for a call is, on
/// both faces and through `with_headers`: it was once replaced by `application/json` without
/// a word.
#[test]
fn a_content_type_given_for_the_client_is_sent_as_given() {
    const GIVEN: &str = "application/json; charset=utf-8";
    let emu = emulator();
    let built = AuthenticatedClient::builder(emu.api_key())
        .base_url(emu.base_url())
        .header("Content-Type", GIVEN)
        .build()
        .expect("valid");
    let added = AuthenticatedClient::new(emu.base_url(), emu.api_key())
        .expect("valid")
        .with_headers([("content-type", GIVEN)])
        .expect("allowed");
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    for client in [built, added] {
        runtime
            .block_on(catalog_search::send(
                &client,
                CatalogSearchInput::new(HOST).limit(1),
            ))
            .expect("a page");
        catalog_search::send_blocking(&client, CatalogSearchInput::new(HOST).limit(1))
            .expect("a page");
    }
    let sent: Vec<_> = seen(&emu, "catalog.search")
        .iter()
        .map(|request| {
            request
                .headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(sent, vec![Some(GIVEN.to_owned()); 4]);
}

/// A `Cookie` header given by hand and cookies given one by one all go, in the one `Cookie`
/// header a request carries, whichever way the client got them and whichever face calls:
/// the cookies once replaced the header's own, which were lost without a word.
#[test]
fn a_cookie_header_and_cookies_given_one_by_one_all_go() {
    let emu = emulator();
    let built = AuthenticatedClient::builder(emu.api_key())
        .base_url(emu.base_url())
        .header("Cookie", "sid=from-header")
        .cookie("theme", "dark")
        .build()
        .expect("valid");
    let added = AuthenticatedClient::builder(emu.api_key())
        .base_url(emu.base_url())
        .header("Cookie", "sid=from-header")
        .build()
        .expect("valid")
        .with_cookies([("theme", "dark")])
        .expect("valid");
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    for client in [&built, &added] {
        runtime
            .block_on(catalog_search::send(
                client,
                CatalogSearchInput::new(HOST).limit(1),
            ))
            .expect("a page");
        catalog_search::send_blocking(client, CatalogSearchInput::new(HOST).limit(1))
            .expect("a page");
    }
    let recorded = seen(&emu, "catalog.search");
    assert_eq!(recorded.len(), 4);
    for request in recorded {
        let cookies: Vec<_> = request.headers.get_all("cookie").iter().collect();
        assert_eq!(cookies.len(), 1, "{cookies:?}");
        assert_eq!(cookies[0], "sid=from-header; theme=dark");
    }
}

/// A call's own `Cookie` header joins the client's cookies, whose cookie of a name it sets too
/// gives way to its own; it replaced them, and the client's session cookie was not sent. And
/// a cookie set by name over a hand-given `Cookie` header replaces the header's cookie of that
/// name, where both went.
#[test]
fn a_calls_cookie_joins_the_clients_and_a_cookie_set_by_name_replaces_the_headers() {
    let emu = emulator();
    let client = AuthenticatedClient::builder(emu.api_key())
        .base_url(emu.base_url())
        .cookie("session", "kept")
        .cookie("theme", "dark")
        .build()
        .expect("valid");
    let call = Request::new(CatalogSearchInput::new(HOST).limit(1))
        .header("Cookie", "lang=en; theme=light");
    catalog_search::send_blocking(&client, call).expect("a page");
    let replaced = AuthenticatedClient::builder(emu.api_key())
        .base_url(emu.base_url())
        .header("Cookie", "session=old; lang=en")
        .build()
        .expect("valid")
        .with_cookies([("session", "new")])
        .expect("valid");
    catalog_search::send_blocking(&replaced, CatalogSearchInput::new(HOST).limit(1))
        .expect("a page");
    // Given twice on a call, the last `Cookie` header is the call's, as for any header.
    let twice = Request::new(CatalogSearchInput::new(HOST).limit(1))
        .header("Cookie", "s=old")
        .header("Cookie", "s=new");
    catalog_search::send_blocking(&client, twice).expect("a page");
    let sent: Vec<_> = seen(&emu, "catalog.search")
        .iter()
        .map(|request| {
            let cookies: Vec<_> = request.headers.get_all("cookie").iter().collect();
            assert_eq!(cookies.len(), 1, "{cookies:?}");
            cookies[0].to_str().expect("text").to_owned()
        })
        .collect();
    assert_eq!(
        sent,
        [
            "lang=en; theme=light; session=kept",
            "lang=en; session=new",
            "s=new; session=kept; theme=dark"
        ]
    );
}

/// Cookies with characters beyond ASCII, which a cookie value may hold, are joined too, and
/// an empty `Cookie` of a call adds nothing: the join read the values as visible ASCII and
/// gave up on them, sending the call's header alone, and an empty one left a lone `; `.
#[test]
fn a_calls_cookie_joins_cookies_beyond_ascii_and_an_empty_one_adds_nothing() {
    let emu = emulator();
    let client = AuthenticatedClient::builder(emu.api_key())
        .base_url(emu.base_url())
        .cookie("session", "kept")
        .cookie("who", "José")
        .build()
        .expect("valid");
    for given in ["lang=en", "", "lang=en;"] {
        let call = Request::new(CatalogSearchInput::new(HOST).limit(1)).header("Cookie", given);
        catalog_search::send_blocking(&client, call).expect("a page");
    }
    let sent: Vec<_> = seen(&emu, "catalog.search")
        .iter()
        .map(|request| {
            let cookies: Vec<_> = request.headers.get_all("cookie").iter().collect();
            assert_eq!(cookies.len(), 1, "{cookies:?}");
            String::from_utf8_lossy(cookies[0].as_bytes()).into_owned()
        })
        .collect();
    assert_eq!(
        sent,
        [
            "lang=en; session=kept; who=José",
            "session=kept; who=José",
            "lang=en; session=kept; who=José"
        ]
    );
}

#[tokio::test]
async fn per_call_api_key_idempotency_key_and_headers_are_sent() {
    let emu = emulator();
    let request = Request::new(CatalogSearchInput::new(HOST).limit(1))
        .api_key("gpra_per_call")
        .idempotency_key("1b4e28ba-2fa1-11d2-883f-0016d3cca427")
        .header("x-trace", "abc");
    catalog_search::send_blocking(&client(&emu), request).expect("Bearer wins over x-api-key");
    let recorded = seen(&emu, "catalog.search").pop().expect("recorded");
    let header = |name: &str| {
        recorded
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert!(recorded.header_is("x-api-key", "gpra_per_call"));
    assert_eq!(
        header("idempotency-key").as_deref(),
        Some("1b4e28ba-2fa1-11d2-883f-0016d3cca427")
    );
    assert_eq!(header("x-trace").as_deref(), Some("abc"));

    // With no bearer token, the per-call key alone authenticates.
    let key_only = Request::new(CatalogSearchInput::new(HOST).limit(1)).api_key(emu.api_key());
    catalog_search::send(&anonymous(&emu), key_only)
        .await
        .expect("x-api-key authenticates");
    let recorded = seen(&emu, "catalog.search").pop().expect("recorded");
    assert!(recorded.headers.get("authorization").is_none());
}

#[tokio::test]
async fn an_invalid_per_call_header_fails_before_sending() {
    let emu = emulator();
    let request = Request::new(CatalogSearchInput::new(HOST)).header("bad header", "x");
    let err = catalog_search::send(&client(&emu), request)
        .await
        .expect_err("invalid");
    assert!(matches!(err, geopera::Error::InvalidRequest { .. }));
    assert!(seen(&emu, "catalog.search").is_empty());
}

/// A name with a space, a colon or a line break is no header name, and is what a credential
/// given in the wrong place looks like (`Authorization: Bearer …` as one name, a key read with
/// its line break, a cookie's value given as its name): the refusal says which character is
/// wrong and where, quoting only the name's first characters, so the credential does not go to
/// the log the message is written to.
#[tokio::test]
async fn a_refused_header_or_cookie_name_is_quoted_only_in_part() {
    const KEY: &str = "gpra_0123456789abcdef";
    let emu = emulator();
    let names = [
        format!("Authorization: Bearer {KEY}"),
        format!("{KEY}\n"),
        format!("{KEY}\u{1b}[2J"),
    ];
    for name in &names {
        let built = AuthenticatedClient::builder(emu.api_key())
            .base_url(emu.base_url())
            .header(name.as_str(), "x")
            .build()
            .expect_err("not a header name");
        let request = Request::new(CatalogSearchInput::new(HOST)).header(name.as_str(), "x");
        let described = format!("{request:?}");
        assert!(!described.contains("0123"), "{described}");
        let sent = catalog_search::send(&client(&emu), request)
            .await
            .expect_err("not a header name");
        assert!(
            matches!(sent, geopera::Error::InvalidRequest { .. }),
            "{sent:?}"
        );
        // One call's header is that call's mistake, not the client's.
        assert!(!sent.to_string().contains("configuration"), "{sent}");
        assert!(built.to_string().contains("configuration"), "{built}");
        for error in [built, sent] {
            let shown = format!("{error} {error:?}");
            assert!(!shown.contains("0123"), "{shown}");
            assert!(!shown.contains(char::is_control), "{shown:?}");
            assert!(shown.contains("the header name"), "{shown}");
        }
    }
    let cookie = AuthenticatedClient::builder(emu.api_key())
        .base_url(emu.base_url())
        .cookie(format!("{KEY}=="), "x")
        .build()
        .expect_err("not a cookie name");
    let shown = format!("{cookie} {cookie:?}");
    assert!(!shown.contains("0123"), "{shown}");
    let typo = AuthenticatedClient::builder(emu.api_key())
        .base_url(emu.base_url())
        .header("X-Trace: on", "x")
        .build()
        .expect_err("not a header name");
    assert!(
        typo.to_string()
            .ends_with(r#"the header name "X-T…" (11 characters) is not valid: character 8 is ':', which no name may hold (letters, digits and !#$%&'*+-.^_`|~)"#),
        "{typo}"
    );
    assert!(seen(&emu, "catalog.search").is_empty());
}

#[tokio::test]
async fn a_blank_idempotency_key_fails_before_sending() {
    let emu = emulator();
    for key in ["", "   "] {
        let request = Request::new(CatalogSearchInput::new(HOST)).idempotency_key(key);
        let err = catalog_search::send(&client(&emu), request)
            .await
            .expect_err("a blank key");
        assert!(
            matches!(err, geopera::Error::InvalidRequest { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("Idempotency-Key"), "{err}");
    }
    assert!(seen(&emu, "catalog.search").is_empty());
}

#[tokio::test]
async fn redirects_are_not_followed_unless_asked() {
    let emu = emulator();
    let page = catalog_search::send(&client(&emu), CatalogSearchInput::new(HOST).limit(1))
        .await
        .expect("a page");
    let id = page
        .features
        .first()
        .map(|item| item.id.clone())
        .expect("an item id")
        .to_owned();
    let body = || ImageAssetInput::new(HOST, id.as_str());
    let response = catalog_image_quicklook::send_detailed(&client(&emu), body())
        .await
        .expect("an answer");
    assert_eq!(response.status, StatusCode::TEMPORARY_REDIRECT);
    let location = response
        .headers
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("a Location");
    assert!(location.contains("/assets/"), "{location}");
    // Not followed, the redirect is the answer: the address, as the CLI prints it.
    assert_eq!(
        response.parsed,
        Parsed::Success(serde_json::json!({"status": 307, "location": location}))
    );
    let answer = catalog_image_quicklook::send(&client(&emu), body())
        .await
        .expect("the redirect is the answer");
    assert_eq!(answer["location"], location);

    let following = AuthenticatedClient::builder(emu.api_key())
        .base_url(emu.base_url())
        .follow_redirects(true)
        .build()
        .expect("valid");
    let response = catalog_image_quicklook::send_detailed(&following, body())
        .await
        .expect("an answer");
    assert_eq!(response.status, StatusCode::OK);
    assert!(!response.content.is_empty(), "the asset's bytes");
}

/// A client's own fixed credential decides who calls, as `Request::header` and
/// `Request::api_key` say: a call's `Authorization` gives way to it, and so does a call's
/// `x-api-key` when the client's credential is one. A call's headers replaced it, so a server
/// passing its callers' headers through called the API as whoever its caller claimed to be.
#[tokio::test]
async fn a_calls_own_credential_gives_way_to_the_clients() {
    let emu = emulator();
    let last = || seen(&emu, "catalog.search").pop().expect("recorded");
    let borrowed = || {
        Request::new(CatalogSearchInput::new(HOST).limit(1))
            .header("Authorization", "Bearer gpra_someone_else")
    };
    catalog_search::send(&client(&emu), borrowed())
        .await
        .expect("the client's token");
    assert!(last().header_is("authorization", &format!("Bearer {}", emu.api_key())));

    let keyed = AuthenticatedClient::builder_with_credentials(geopera::auth::Credential::api_key(
        emu.api_key(),
    ))
    .base_url(emu.base_url())
    .build()
    .expect("a client");
    catalog_search::send(&keyed, borrowed().api_key("gpra_someone_else"))
        .await
        .expect("the client's key");
    let recorded = last();
    assert!(recorded.header_is("x-api-key", emu.api_key()));
    assert!(recorded.headers.get("authorization").is_none());

    // A provider's key, asked call by call, decides as well.
    let provided = Client::builder()
        .base_url(emu.base_url())
        .build()
        .expect("a client")
        .with_credentials(KeyOfTheDay(emu.api_key().to_owned()))
        .expect("a provider");
    catalog_search::send(&provided, borrowed().api_key("gpra_someone_else"))
        .await
        .expect("the provider's key");
    let recorded = last();
    assert!(recorded.header_is("x-api-key", emu.api_key()));
    assert!(recorded.headers.get("authorization").is_none());
}

/// A provider that hands out an API key call by call, as a secrets manager would.
#[derive(Debug)]
struct KeyOfTheDay(String);

impl Credentials for KeyOfTheDay {
    fn credential<'a>(&'a self, _: AuthContext<'a>) -> CredentialFuture<'a, Credential> {
        Box::pin(async { Ok(Credential::api_key(self.0.clone())) })
    }
}
