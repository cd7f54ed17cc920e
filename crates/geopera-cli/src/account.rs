//! `login`, `logout` and `whoami`.

use std::time::Duration;

use clap::ArgMatches;
use geopera::auth::Oidc;
use geopera_types::oidc::{codes, LOGOUT_ENDPOINT, USERINFO_ENDPOINT};
use serde_json::{Map, Value};

use crate::auth::{self, Held, Target, CLIENT_ID};
use crate::call::print;
use crate::failure::{chain, Failure, Outcome};
use crate::ordered::Ordered;
use crate::paint::inert;
use crate::store::{self, Auth, Store};

/// How long the session revocation of `logout` may take before it is reported as not done.
const LOGOUT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one userinfo request may take.
const USERINFO_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest line `login --api-key -` reads from stdin: a key is tens of bytes, and endless
/// input without a newline must not grow without end.
const MAX_API_KEY_LINE_BYTES: u64 = 16 * 1024;

/// The claims of a userinfo answer: read as an [`Ordered`] value for the few this program
/// shows, and the answer's text, which `whoami --json`, `--jq` and `-o` print as every answer
/// is printed. Both keep numbers as written: read into a `Value`, an integer beyond 64 bits
/// came out as a rounded float (`1.2345678901234568e+22`).
struct Claims {
    value: Ordered,
    text: String,
}

/// The userinfo claims of a credential: `Ok(None)` when the server refused it (401).
async fn userinfo(target: &Target, held: &Held) -> Result<Option<Claims>, Failure> {
    let api_url = target.api_url.as_str();
    let client = auth::http(api_url)?;
    let (name, value) = auth::header(held);
    let answer = client
        .http_client()
        .get(auth::endpoint(api_url, USERINFO_ENDPOINT))
        .header(name, value)
        .header("Accept", "application/json")
        .timeout(target.sign_in_timeout(USERINFO_TIMEOUT))
        .send()
        .await
        .map_err(|e| {
            let reached = crate::call::reached(api_url);
            Failure::other(format!("could not reach {reached}: {}", chain(&e)))
        })?;
    let status = answer.status();
    if status.as_u16() == 401 {
        return Ok(None);
    }
    let bytes = auth::read_answer(answer.content_length(), answer.bytes_stream())
        .await
        .map_err(|e| Failure::other(format!("userinfo failed: {e}")))?;
    if !status.is_success() {
        let message = crate::call::api_message("userinfo", status, &bytes).join("\n");
        // A credential refused for what it may see (`insufficient_scope`: a session signed in
        // without `openid`) is a credentials failure (exit 1), as a 401 is; a server failing
        // to answer is an API error (exit 2).
        return Err(if status == http::StatusCode::FORBIDDEN {
            Failure::other(message)
        } else {
            Failure::api(message)
        });
    }
    let not_json = |e: &dyn std::fmt::Display| {
        Failure::other(format!("userinfo answered something other than JSON: {e}"))
    };
    let text = String::from_utf8(bytes.to_vec()).map_err(|e| not_json(&e))?;
    let (value, _) = Ordered::parse(&text).map_err(|e| not_json(&e))?;
    Ok(Some(Claims { value, text }))
}

/// The claim `key` as this program shows it: `None` when it is missing, null or empty; a
/// list of strings (a `scope` some providers send as an array) space-separated, as OAuth
/// writes scopes; anything else as [`Ordered::cell`] writes it, a number as the server did. An
/// id sent as a number is an id all the same, not a missing one.
fn claim(claims: &Ordered, key: &str) -> Option<String> {
    match claims.get(key)? {
        Ordered::Null => None,
        Ordered::String(text) if text.is_empty() => None,
        Ordered::Array(items)
            if !items.is_empty() && items.iter().all(|i| matches!(i, Ordered::String(_))) =>
        {
            let words: Vec<String> = items.iter().map(Ordered::cell).collect();
            Some(words.join(" "))
        }
        value => Some(value.cell()),
    }
}

/// `geopera login`: an API key (checked first) or the device flow.
pub(crate) async fn login(matches: &ArgMatches, top: &ArgMatches) -> Outcome {
    let target = auth::target(top, true)?;
    match matches.get_one::<String>("api-key") {
        Some(key) => login_api_key(&target, key).await,
        None => {
            let scope = matches
                .get_one::<String>("scope")
                .map_or(geopera_types::oidc::DEFAULT_SCOPE, String::as_str);
            login_device(&target, scope, matches.get_flag("no-browser")).await
        }
    }?;
    warn_of_the_token_in_the_environment("instead of the credentials just stored");
    Ok(())
}

/// After a login or a logout, warns that `GEOPERA_API_TOKEN` is set: it wins over every stored
/// credential, so what the command just did changes nothing for the commands after it, which
/// its line of success alone would leave the user to find out from them.
fn warn_of_the_token_in_the_environment(instead: &str) {
    if let Ok(Some(_)) = auth::env_token() {
        crate::paint::warning(&format!(
            "GEOPERA_API_TOKEN is set: commands use it {instead} until it is unset."
        ));
    }
}

async fn login_api_key(target: &Target, argument: &str) -> Outcome {
    let key = if argument == "-" {
        // Typed at a terminal, the key is asked for and not shown (`crate::unechoed`); piped
        // in, it is read as it comes, with no prompt in the way of a script's output.
        let at_terminal = std::io::IsTerminal::is_terminal(&std::io::stdin());
        let unechoed = at_terminal
            .then(|| {
                crate::progress::say_inline("API key: ");
                crate::unechoed::Unechoed::stdin()
            })
            .flatten();
        // Ctrl-C must still end the command while nobody types a key (`crate::interruptible`).
        let line = crate::interruptible(|| {
            let mut line = String::new();
            let mut stdin =
                std::io::Read::take(std::io::stdin().lock(), MAX_API_KEY_LINE_BYTES + 1);
            std::io::BufRead::read_line(&mut stdin, &mut line).map(|_| line)
        });
        // The Enter that ends a key is echoed; an end of input (Ctrl-D) is not, and what is
        // said next would follow the prompt on its line.
        if at_terminal && !line.as_ref().is_ok_and(|line| line.ends_with('\n')) {
            crate::progress::say_inline("\n");
        }
        drop(unechoed);
        let line =
            line.map_err(|e| Failure::other(format!("cannot read the API key from stdin: {e}")))?;
        if line.len() as u64 > MAX_API_KEY_LINE_BYTES {
            return Err(Failure::usage(format!(
                "--api-key -: the line on stdin is longer than {} KiB, which no API key is",
                MAX_API_KEY_LINE_BYTES / 1024
            )));
        }
        line
    } else {
        argument.to_owned()
    };
    let key = key.trim().to_owned();
    if key.is_empty() {
        return Err(Failure::usage("no API key given"));
    }
    let held = Held::Stored(Auth::ApiKey(key.clone()));
    if let Some(why) = held.unsendable() {
        return Err(Failure::usage(format!(
            "the API key {why}; nothing was sent or saved"
        )));
    }
    if !key.starts_with(auth::API_KEY_PREFIX) {
        crate::paint::warning(&format!(
            "this key does not start with '{}', as Geopera API keys do; it is saved if the API \
             accepts it",
            auth::API_KEY_PREFIX
        ));
    }
    let claims = userinfo(target, &held)
        .await?
        .ok_or_else(|| Failure::other("API key validation failed: the server refused the key"))?;
    let api_url = target.api_url.clone();
    target
        .store
        .update(&target.profile, move |entry| {
            *entry = Map::new();
            entry.insert("api_url".to_owned(), Value::String(api_url));
            entry.insert(
                "auth".to_owned(),
                serde_json::json!({ "type": "api_key", "api_key": key }),
            );
        })
        .await?;
    let who = claim(&claims.value, "geopera_principal_id")
        .or_else(|| claim(&claims.value, "sub"))
        .unwrap_or_else(|| "api key".to_owned());
    print(&format!(
        "Logged in as {} (API key, profile '{}').",
        inert(&who),
        inert(&target.profile)
    ))
}

async fn login_device(target: &Target, scope: &str, no_browser: bool) -> Outcome {
    let client = auth::http(&target.api_url)?;
    // `--timeout` bounds each request of the flow — its start and every poll while the person
    // approves — as it bounds userinfo and logout.
    let limit = target.sign_in_timeout(auth::SIGN_IN_TIMEOUT);
    let oidc = Oidc::for_base_url(&target.api_url)
        .map_err(|e| Failure::other(chain(&e)))?
        .client_id(CLIENT_ID)
        .request_timeout(limit);
    let flow = oidc
        .device_authorization(&client, Some(scope))
        .await
        .map_err(|e| chain(&e))
        .map_err(|cause| {
            Failure::other(format!(
                "device sign-in could not start ({cause}); 'geopera login --api-key <key>' works without it"
            ))
        })?;
    let uri = flow
        .verification_uri_complete()
        .unwrap_or(flow.verification_uri())
        .to_owned();
    print(&format!(
        "\n  Open this page to sign in:\n    {}\n\n  and check that it shows this code:\n    {}\n",
        inert(&uri),
        inert(flow.user_code())
    ))?;
    if !no_browser {
        open_browser(&uri);
    }
    let session = flow.wait(&client).await.map_err(|e| match &e {
        geopera::Error::SignIn { code, .. } if code == codes::ACCESS_DENIED => {
            Failure::other("the sign-in was refused in the browser")
        }
        geopera::Error::SignIn { code, .. } if code == codes::EXPIRED_TOKEN => {
            Failure::other(format!(
                "the sign-in request expired; run '{}' again",
                target.login_command()
            ))
        }
        _ => Failure::other(format!("device sign-in failed: {}", chain(&e))),
    })?;
    let tokens = session
        .tokens()
        .ok_or_else(|| Failure::other("device sign-in ended without tokens"))?;
    let access_token = tokens.access_token().to_owned();
    let refresh_token = tokens.refresh_token().map(str::to_owned);
    // No lifetime in the answer is stored as no expiry (`null`), as a refresh stores it and
    // the official CLI writes it, not as the 300 s the SDK assumes for its sessions.
    let expires_at = tokens.stated_expires_at().map(auth::epoch_secs);
    let scope = tokens.scope().unwrap_or(scope).to_owned();
    let stored = store::oauth_json(
        &access_token,
        refresh_token.as_deref(),
        expires_at,
        &scope,
        &target.api_url,
    );
    let auth = Auth::OAuth {
        access_token,
        refresh_token,
        expires_at,
        scope: Some(scope),
    };
    auth.hide();
    // A new login replaces the whole profile entry, in one write: cut off part way, it leaves
    // the old entry or the new one, never one without its credential.
    let api_url = target.api_url.clone();
    target
        .store
        .update(&target.profile, move |entry| {
            *entry = Map::new();
            entry.insert("api_url".to_owned(), Value::String(api_url));
            entry.insert("auth".to_owned(), stored);
        })
        .await?;
    let who = match userinfo(target, &Held::Stored(auth)).await {
        Ok(Some(claims)) => claim(&claims.value, "sub").unwrap_or_else(|| "user".to_owned()),
        _ => "user".to_owned(),
    };
    print(&format!(
        "Logged in as {} (profile '{}').",
        inert(&who),
        inert(&target.profile)
    ))
}

/// Opens `url` in the default browser, best effort: a machine without one still shows the
/// link above. The link comes from the server, so only an `http(s)` one is opened (never a
/// `file:` path or another program's scheme), and through `webbrowser`, which hands it to the
/// platform without a shell (on Windows, `cmd /C start` would run whatever follows a `&`).
fn open_browser(url: &str) {
    let lower = url.to_ascii_lowercase();
    if (lower.starts_with("https://") || lower.starts_with("http://"))
        && !url.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        let _ = webbrowser::open(url);
    }
}

/// `geopera logout`: revokes a stored session and forgets the credential, keeping the
/// profile's `api_url`. A revocation that fails still forgets the credential (the user asked
/// for it gone from this machine, and a dead server must not keep it there) but warns, since
/// the session then stays usable until it expires; the exit code stays 0, as the local logout
/// did what it says.
pub(crate) async fn logout(top: &ArgMatches) -> Outcome {
    forget(top).await?;
    warn_of_the_token_in_the_environment("all the same");
    Ok(())
}

/// How many times `logout` finds the profile's server again when a login in another
/// terminal points the profile at another one while it waits for the lock.
const LOGOUT_RESOLVES: usize = 3;

/// Revokes and removes the profile's stored credential, saying what became of it.
///
/// The server is found from the profile before the lock is taken, and the profile read
/// again under it: a login elsewhere may have stored a session for another server
/// meanwhile, whose refresh token must go to the server that issued it, never to the one
/// found first. Then the server is found again.
async fn forget(top: &ArgMatches) -> Outcome {
    for _ in 0..LOGOUT_RESOLVES {
        let target = match auth::logout_target(top)? {
            auth::LogoutTarget::Server(target) => target,
            auth::LogoutTarget::NoServer {
                store,
                profile,
                why,
            } => match forget_unrevoked(&store, &profile, &why).await {
                Some(outcome) => return outcome,
                // A login elsewhere gave the profile a server meanwhile: its session goes
                // there to be revoked.
                None => continue,
            },
        };
        let lock = target.store.lock_async().await?;
        let parsed = store::parse_profile(target.store.read_all()?.get(&target.profile));
        if let Ok(profile) = &parsed {
            let stored_for = profile.api_url.as_deref().unwrap_or(auth::DEFAULT_API_URL);
            if profile.auth.is_some() && !auth::same_origin(stored_for, &target.api_url) {
                drop(lock);
                continue;
            }
        }
        return forget_at(&target, parsed).await;
    }
    Err(Failure::other(format!(
        "the server of profile '{}' changed {LOGOUT_RESOLVES} times while logging out (a \
         login elsewhere?); nothing was removed: run 'geopera logout' again",
        inert(&auth::profile(top)?)
    )))
}

/// [`forget`] for the profile as read under the lock, which the caller holds: its credential
/// was stored for `target`'s server.
async fn forget_at(
    target: &auth::Target,
    parsed: Result<store::Profile, store::Unreadable>,
) -> Outcome {
    let stored = match parsed {
        Ok(profile) => profile.auth,
        // What does not read cannot be revoked, only forgotten: logging out is how a user
        // clears it, so it is removed rather than refused.
        Err(unreadable) => {
            target.store.update_locked(&target.profile, |entry| {
                entry.remove("auth");
            })?;
            return print(&format!(
                "Logged out (profile '{}'): its credential did not read ({unreadable}), so it \
                 was removed without being revoked.",
                inert(&target.profile)
            ));
        }
    };
    let Some(stored) = stored else {
        return print(&format!(
            "No stored credentials for profile '{}'.",
            inert(&target.profile)
        ));
    };
    let unrevoked = match &stored {
        Auth::OAuth {
            refresh_token: Some(refresh_token),
            ..
        } => revoke(target, refresh_token).await.err(),
        _ => None,
    };
    target.store.update_locked(&target.profile, |entry| {
        entry.remove("auth");
    })?;
    if let Some(why) = unrevoked {
        crate::paint::warning(&format!(
            "the session could not be revoked on the server ({why}); it stays valid there \
             until it expires, although it is no longer stored here."
        ));
    }
    print(&format!(
        "Logged out (profile '{}').",
        inert(&target.profile)
    ))
}

/// Removes the profile's credential when its `api_url` names no server (`why`): a session
/// cannot be revoked then, but a user logging out wants the credential gone from this machine,
/// and a profile to mend by hand should not keep it there until it is mended. `None` when,
/// read again under the lock, the profile names a server after all (a login elsewhere stored
/// one meanwhile), and nothing was removed.
async fn forget_unrevoked(store: &Store, profile: &str, why: &Failure) -> Option<Outcome> {
    let _lock = match store.lock_async().await {
        Ok(lock) => lock,
        Err(failure) => return Some(Err(failure)),
    };
    if auth::names_a_server(store, profile) {
        return None;
    }
    Some(remove_unrevoked(store, profile, why))
}

/// [`forget_unrevoked`] once it holds the lock.
fn remove_unrevoked(store: &Store, profile: &str, why: &Failure) -> Outcome {
    let all = store.read_all()?;
    let Some(auth) = all
        .get(profile)
        .and_then(|entry| entry.get("auth"))
        .filter(|auth| !auth.is_null())
    else {
        return print(&format!(
            "No stored credentials for profile '{}'.",
            inert(profile)
        ));
    };
    let session = auth.get("type").and_then(Value::as_str) == Some("oauth")
        && auth
            .get("refresh_token")
            .and_then(Value::as_str)
            .is_some_and(|token| !token.is_empty());
    store.update_locked(profile, |entry| {
        entry.remove("auth");
    })?;
    if session {
        crate::paint::warning(&format!(
            "the session could not be revoked on the server, as the profile names none it can \
             be sent to ({}); it stays valid there until it expires, although it is no longer \
             stored here.",
            why.message
        ));
    }
    print(&format!(
        "Logged out (profile '{}'): its api_url names no server, so the credential was removed \
         without being revoked.",
        inert(profile)
    ))
}

/// Ends the stored session on the server. Forgetting the credential locally does not end it:
/// whoever copied the refresh token can go on using it, so a failure is reported as why.
async fn revoke(target: &Target, refresh_token: &str) -> Result<(), String> {
    let api_url = target.api_url.as_str();
    let client = auth::http(api_url).map_err(|e| e.message)?;
    let limit = target.sign_in_timeout(LOGOUT_TIMEOUT);
    let answer = client
        .http_client()
        .post(auth::endpoint(api_url, LOGOUT_ENDPOINT))
        .form(&[("client_id", CLIENT_ID), ("refresh_token", refresh_token)])
        .timeout(limit)
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                format!("no answer within {} s", limit.as_secs_f64())
            } else {
                format!("server unreachable: {}", chain(&e))
            }
        })?;
    let status = answer.status();
    if status.is_success() {
        return Ok(());
    }
    // An identity provider answers `invalid_grant` for a token it no longer knows: the
    // session has already ended (expired, revoked elsewhere), which is what was asked.
    let bytes = auth::read_answer(answer.content_length(), answer.bytes_stream())
        .await
        .unwrap_or_default();
    let code = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|body| body.get("error").and_then(Value::as_str).map(str::to_owned));
    if status.as_u16() == 400 && code.as_deref() == Some(codes::INVALID_GRANT) {
        return Ok(());
    }
    Err(format!("the server answered HTTP {}", status.as_u16()))
}

/// `geopera whoami`: who the credential belongs to, refreshing a stored session if needed.
pub(crate) async fn whoami(matches: &ArgMatches, top: &ArgMatches) -> Outcome {
    let target = auth::target(top, true)?;
    let held = auth::held(&target, true)
        .await?
        .ok_or_else(|| auth::not_signed_in(&target))?;
    let mut claims = userinfo(&target, &held).await?;
    if claims.is_none() {
        if let Held::Stored(Auth::OAuth { access_token, .. }) = &held {
            if let Some(fresh) = auth::refresh_stored(&target, Some(access_token)).await? {
                claims = userinfo(&target, &Held::Stored(fresh)).await?;
            }
        }
    }
    // A refused credential is a credentials failure (exit 1), as `login` reports the key it
    // could not validate, not an operation's error.
    let claims = claims.ok_or_else(|| match &held {
        Held::Env(_) => auth::env_token_refused(),
        Held::Stored(_) => Failure::other(format!(
            "the credentials were refused (HTTP 401); run '{}'",
            target.login_command()
        )),
    })?;
    // `--jq` and `--output` apply to the claims, the one form that is JSON. `--json` is that
    // form printed as any answer is: the claims are the server's text, whose control and
    // bidirectional characters must reach the terminal only as escapes.
    let settings = crate::settings(matches, true);
    let output_given = matches!(matches.try_get_one::<String>("output"), Ok(Some(_)));
    if settings.jq.is_some() || output_given || matches.get_flag("json") {
        return crate::call::print_json(&claims.text, &settings);
    }
    let field = |key: &str| claim(&claims.value, key).unwrap_or_else(|| "-".to_owned());
    let lines = [
        ("sub:", field("sub")),
        ("principal_type:", field("geopera_principal_type")),
        ("org_id:", field("geopera_org_id")),
        ("scope:", field("scope")),
        ("api_url:", target.api_url.clone()),
        ("profile:", target.profile.clone()),
    ];
    let text: Vec<String> = lines
        .iter()
        .map(|(label, value)| format!("{label:<17}{}", inert(value)))
        .collect();
    print(&text.join("\n"))
}
