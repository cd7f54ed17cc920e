//! Where the profile, the API URL and the credentials of a command come from, and keeping a
//! stored session fresh.
//!
//! Precedence, as in the official CLI: the profile is `--profile`, then `GEOPERA_PROFILE`,
//! then `default`; the API URL is `--api-url`, then `GEOPERA_API_URL`, then the profile's
//! stored `api_url`, then the public API. `GEOPERA_API_TOKEN` wins over stored credentials
//! and is never written anywhere.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::ArgMatches;
use geopera::auth::{Credential, Oidc};
use serde_json::Value;

use crate::failure::{chain, Failure};
use crate::store::{oauth_json, Auth, Profile, ReadyWrite, Store};

/// The public API, when nothing else names a server.
pub(crate) const DEFAULT_API_URL: &str = geopera::DEFAULT_BASE_URL;
/// The OAuth client the official CLI signs in as; ours shares its sessions.
pub(crate) use geopera_types::oidc::PUBLIC_CLIENT_ID as CLIENT_ID;
/// A token that begins so is sent as `X-API-Key`, any other as a bearer token, as the official
/// CLI sends them.
pub(crate) use geopera_types::API_KEY_PREFIX;
/// How long one request to the identity provider may take.
pub(crate) const SIGN_IN_TIMEOUT: Duration = Duration::from_secs(30);
/// The most bytes of an identity provider's answer (token, userinfo) that are read, as the
/// SDK caps its own sign-in answers: a real one is well under a kilobyte, and an endless one
/// must not cost the process its memory.
const MAX_SIGN_IN_ANSWER_BYTES: usize = 64 * 1024;

/// The profile and server a command works with.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) profile: String,
    pub(crate) api_url: String,
    /// Whether `api_url` came from `--api-url`, which advice to run a command again repeats:
    /// without it, the command would go to the profile's server or the public API instead.
    pub(crate) api_url_given: bool,
    pub(crate) store: Store,
    /// A rate budget shared with other processes, when one is named.
    pub(crate) budget: Option<SharedBudget>,
    /// `--timeout`, when given: it bounds the sign-in, userinfo and sign-out requests too,
    /// which otherwise have their own defaults.
    pub(crate) timeout: Option<Duration>,
}

impl Target {
    /// The profile's name as messages quote it: [`crate::paint::inert`], since a line break in
    /// it (`GEOPERA_PROFILE` read from a file) would split one message over two `Error:`
    /// lines.
    pub(crate) fn shown_profile(&self) -> std::borrow::Cow<'_, str> {
        crate::paint::inert(&self.profile)
    }

    /// The time one request to the identity provider may take: `--timeout`, or `default`.
    pub(crate) fn sign_in_timeout(&self, default: Duration) -> Duration {
        self.timeout.unwrap_or(default)
    }

    /// The command that signs in to this profile, as messages advise it: a bare `geopera
    /// login` signs in to the profile `default`, so a user of another one who ran it as told
    /// would store credentials where the failing command never looks. A name a shell would
    /// split or expand is quoted for a POSIX shell, and joined to the option by `=` so that
    /// one beginning with `-` is not read as an option of its own. A name holding a line break
    /// or another character that [`crate::paint::steers`] a terminal cannot be shown as it must
    /// be typed, so the command names it `NAME`, the message quoting it escaped. An
    /// `--api-url` given on the command line is repeated the same way.
    pub(crate) fn login_command(&self) -> String {
        format!("geopera login{}", self.options())
    }

    /// The options that take another command to this one's profile and API, as advice
    /// repeats them (see [`Target::login_command`]): a command advised without them would
    /// ask the public API, or the default profile, about what this one made elsewhere.
    pub(crate) fn options(&self) -> String {
        let mut options = String::new();
        if self.profile != DEFAULT_PROFILE {
            options.push_str(&option("--profile", &self.profile, "NAME"));
        }
        if self.api_url_given {
            options.push_str(&option("--api-url", &self.api_url, "URL"));
        }
        options
    }
}

/// ` --name value` as a POSIX shell must be given it (see [`Target::login_command`]), or
/// ` --name=PLACEHOLDER` for a value that cannot be shown as typed.
pub(crate) fn option(name: &str, value: &str, placeholder: &str) -> String {
    if value.chars().any(crate::paint::steers) {
        return format!(" {name}={placeholder}");
    }
    let plain = !value.starts_with('-')
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-+@%,:=/".contains(c));
    if plain {
        format!(" {name} {value}")
    } else {
        format!(" {name}='{}'", value.replace('\'', r"'\''"))
    }
}

/// Where a rate budget shared by many processes lives (`--rate-budget-redis`), and the key of
/// the organization whose budget it is (`--rate-budget-org`).
#[derive(Clone)]
pub(crate) struct SharedBudget {
    #[cfg_attr(
        not(feature = "redis"),
        allow(
            dead_code,
            reason = "read only by the redis budget; without it, naming one is an error"
        )
    )]
    pub(crate) redis_url: String,
    pub(crate) organization: String,
    /// A certificate authority to trust for a `rediss://` Redis, besides the system's.
    #[cfg_attr(
        not(feature = "redis"),
        allow(
            dead_code,
            reason = "read only by the redis budget; without it, naming one is an error"
        )
    )]
    pub(crate) ca_file: Option<String>,
}

/// The Redis URL may carry a password, so it never prints.
impl std::fmt::Debug for SharedBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedBudget")
            .field("redis_url", &"[redacted]")
            .field("organization", &self.organization)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

/// A credential a command can use.
#[derive(Clone)]
pub(crate) enum Held {
    /// `GEOPERA_API_TOKEN`: a `gpra_` key or a bearer token, used as given.
    Env(String),
    /// From the credentials file.
    Stored(Auth),
}

impl Held {
    /// Keeps the credential out of every message printed from now on: called wherever one is
    /// about to be sent.
    fn hide(&self) {
        match self {
            Held::Env(token) => crate::hidden::hide(token),
            Held::Stored(auth) => auth.hide(),
        }
    }

    /// Why this cannot be a credential, or `None` when it can: keys and tokens are printable
    /// ASCII without spaces, so one that is blank or holds anything else was damaged on its
    /// way here (a pasted line break, a terminal's escape, a copy through a word processor).
    ///
    /// Checked once, where the credential is found. Left to the SDK, a line break or control
    /// character would be refused as a client setting (exit 2, as for a bad `--api-url`) and
    /// `whoami`'s own request would fail as if the server were unreachable, while any other
    /// character would be sent and refused by the server as no credential at all. The reason
    /// never quotes the secret.
    pub(crate) fn unsendable(&self) -> Option<&'static str> {
        let secret = match self {
            Held::Env(token) | Held::Stored(Auth::ApiKey(token)) => token,
            Held::Stored(Auth::OAuth { access_token, .. }) => access_token,
        };
        if secret.trim().is_empty() {
            Some("is blank")
        } else if secret.chars().all(|c| c.is_ascii_graphic()) {
            None
        } else {
            Some(
                "holds a character no key or token has (a space, a line break or another \
                 control character, or one outside ASCII)",
            )
        }
    }
}

impl std::fmt::Debug for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Held::Env(_) => f.write_str("Env([redacted])"),
            Held::Stored(auth) => f.debug_tuple("Stored").field(auth).finish(),
        }
    }
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

/// The environment variable `name`, `None` when unset or blank. A value that is not UTF-8 is
/// a usage error naming the variable: taken as unset, it would quietly send a token to the
/// public API instead of the server named, or use another profile's credentials.
fn env(name: &str) -> Result<Option<String>, Failure> {
    match std::env::var(name) {
        Ok(value) => Ok(non_empty(Some(value))),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(Failure::usage(format!(
            "the environment variable {name} is not valid UTF-8"
        ))),
    }
}

/// `GEOPERA_API_TOKEN`, which wins over every stored credential when it is set.
pub(crate) fn env_token() -> Result<Option<String>, Failure> {
    env("GEOPERA_API_TOKEN")
}

/// The variable naming the organization of a shared rate budget, as `--rate-budget-org` does.
const ORG_VARIABLE: &str = "GEOPERA_RATE_BUDGET_ORG";

/// The variable naming a shared rate budget's certificate authority, as
/// `--rate-budget-redis-ca` does.
const CA_VARIABLE: &str = "GEOPERA_RATE_BUDGET_REDIS_CA";

/// The budget in the Redis at `redis_url` for `organization`, trusting `ca_file` too.
#[cfg(feature = "redis")]
fn redis_budget(
    redis_url: &str,
    organization: &str,
    ca_file: Option<&str>,
) -> Result<geopera::budget::RedisBudget, geopera::Error> {
    let mut builder = geopera::budget::RedisBudget::builder(redis_url, organization);
    if let Some(path) = ca_file {
        builder = builder.ca_file(path);
    }
    builder.build()
}

/// The value of option `id`, else of the environment variable `name`.
fn option_or_env(matches: &ArgMatches, id: &str, name: &str) -> Result<Option<String>, Failure> {
    match non_empty(matches.get_one::<String>(id).cloned()) {
        Some(value) => Ok(Some(value)),
        None => env(name),
    }
}

/// Refuses, as usage errors and before anything is read or sent, a rate budget the command
/// line cannot have meant: `--rate-budget-org` without a Redis to keep the budget in (which
/// would be ignored, every process pacing alone while the user believes the fleet is paced
/// together), and a Redis URL that does not parse, named by where it came from. The Redis
/// may come from `GEOPERA_RATE_BUDGET_REDIS`, which clap's `requires` cannot see.
///
/// Only the commands that call the API through the SDK's client, which the budget paces (an
/// operation of the tree, `op`, `orders wait`, `upload`), ask this: the others never read a
/// budget, and failing them on one would break `eval "$(geopera completions bash)"` in a shell
/// start-up file for a variable set for other scripts.
pub(crate) fn check_rate_budget(matches: &ArgMatches) -> Result<(), Failure> {
    let flag = non_empty(matches.get_one::<String>("rate-budget-redis").cloned());
    let (redis_url, source) = match flag {
        Some(url) => (url, "--rate-budget-redis"),
        None => match env("GEOPERA_RATE_BUDGET_REDIS")? {
            Some(url) => (url, "GEOPERA_RATE_BUDGET_REDIS"),
            None => {
                if matches.get_one::<String>("rate-budget-org").is_some() {
                    return Err(Failure::usage(
                        "--rate-budget-org names the organization of a budget shared in Redis: \
                         it needs --rate-budget-redis URL (or GEOPERA_RATE_BUDGET_REDIS)",
                    ));
                }
                if matches.get_one::<String>("rate-budget-redis-ca").is_some() {
                    return Err(Failure::usage(
                        "--rate-budget-redis-ca names the certificate authority of a budget \
                         shared in Redis over TLS: it needs --rate-budget-redis rediss://... \
                         (or GEOPERA_RATE_BUDGET_REDIS)",
                    ));
                }
                // A variable may be set for every process of a machine, some of which share no
                // budget: said, not refused as the option is.
                // Read leniently: where it is ignored, a value that is not UTF-8 fails nothing.
                for name in [ORG_VARIABLE, CA_VARIABLE] {
                    let set = std::env::var_os(name)
                        .is_some_and(|value| !value.to_string_lossy().trim().is_empty());
                    if set {
                        crate::paint::warning(&format!(
                            "{name} is set but no Redis is named \
                             (--rate-budget-redis or GEOPERA_RATE_BUDGET_REDIS): this process \
                             paces alone"
                        ));
                    }
                }
                return Ok(());
            }
        },
    };
    #[cfg(feature = "redis")]
    {
        let (ca_file, ca_source) =
            match non_empty(matches.get_one::<String>("rate-budget-redis-ca").cloned()) {
                Some(path) => (Some(path), "--rate-budget-redis-ca"),
                None => (env(CA_VARIABLE)?, CA_VARIABLE),
            };
        let build = |organization: &str| redis_budget(&redis_url, organization, ca_file.as_deref());
        // A refusal names where it came from: the CA file's source when the URL alone
        // builds, the URL's otherwise. Judged only on failure, since every build starts the
        // budget's thread and, for `rediss://`, reads the system's trust store.
        build("check").map_err(|e| {
            let at = match &ca_file {
                Some(_) if redis_budget(&redis_url, "check", None).is_ok() => ca_source,
                _ => source,
            };
            Failure::usage(format!("{at}: {}", chain(&e)))
        })?;
        // The organization judged apart, so that the error names where it came from.
        let org_flag = non_empty(matches.get_one::<String>("rate-budget-org").cloned());
        let (organization, org_source) = match org_flag {
            Some(organization) => (Some(organization), "--rate-budget-org"),
            None => (env(ORG_VARIABLE)?, ORG_VARIABLE),
        };
        // Set but blank is `GEOPERA_RATE_BUDGET_ORG="$UNSET"`: taken as unset, every process
        // that makes the mistake, of whatever organization, would share the `default` budget.
        if organization.is_none()
            && std::env::var_os(ORG_VARIABLE)
                .is_some_and(|value| value.to_string_lossy().trim().is_empty())
        {
            return Err(Failure::usage(format!(
                "{ORG_VARIABLE} is set but empty: an empty key names no organization (an unset \
                 variable?); nothing was sent"
            )));
        }
        if let Some(organization) = organization {
            build(&organization)
                .map_err(|e| Failure::usage(format!("{org_source}: {}", chain(&e))))?;
        }
    }
    #[cfg(not(feature = "redis"))]
    let _ = (redis_url, source);
    Ok(())
}

/// The selected profile.
pub(crate) fn profile(matches: &ArgMatches) -> Result<String, Failure> {
    Ok(option_or_env(matches, "profile", "GEOPERA_PROFILE")?
        .unwrap_or_else(|| DEFAULT_PROFILE.to_owned()))
}

/// The profile used when neither `--profile` nor `GEOPERA_PROFILE` names one.
pub(crate) const DEFAULT_PROFILE: &str = "default";

/// Resolves profile and API URL. `use_url_sources` is false for `logout`, which always talks
/// to the server the session was stored for.
pub(crate) fn target(matches: &ArgMatches, use_url_sources: bool) -> Result<Target, Failure> {
    let store = Store::locate()?;
    let profile = profile(matches)?;
    let flag = non_empty(matches.get_one::<String>("api-url").cloned());
    let (api_url, source) = match (use_url_sources, flag) {
        (true, Some(url)) => (url, "--api-url".to_owned()),
        (true, None) => match env("GEOPERA_API_URL")? {
            Some(url) => (url, "GEOPERA_API_URL".to_owned()),
            None => stored_api_url(&store, &profile)?,
        },
        (false, _) => stored_api_url(&store, &profile)?,
    };
    let api_url = checked_api_url(api_url, &source)?;
    target_at(matches, store, profile, api_url, &source)
}

/// What `logout` works on: the profile's target, or, when the profile's stored `api_url`
/// names no server a request could go to (it does not read, or is no http(s) URL), the file
/// and profile alone, with why: the credential is still removed, but cannot be revoked.
pub(crate) enum LogoutTarget {
    /// The profile and the server its session was stored for.
    Server(Target),
    /// The profile, whose `api_url` names no server.
    NoServer {
        store: Store,
        profile: String,
        why: Failure,
    },
}

/// Resolves the profile and the server its credential was stored for, as [`target`] without
/// the URL flag and variable, for `logout`.
pub(crate) fn logout_target(matches: &ArgMatches) -> Result<LogoutTarget, Failure> {
    let store = Store::locate()?;
    let profile = profile(matches)?;
    let stored = stored_api_url(&store, &profile)
        .and_then(|(api_url, source)| Ok((checked_api_url(api_url, &source)?, source)));
    Ok(match stored {
        Ok((api_url, source)) => {
            LogoutTarget::Server(target_at(matches, store, profile, api_url, &source)?)
        }
        Err(why) => LogoutTarget::NoServer {
            store,
            profile,
            why,
        },
    })
}

/// Whether the profile as stored now names a server a logout can revoke its session at: read
/// again under the credentials lock, after [`logout_target`] found none without it.
pub(crate) fn names_a_server(store: &Store, profile: &str) -> bool {
    stored_api_url(store, profile)
        .and_then(|(api_url, source)| checked_api_url(api_url, &source))
        .is_ok()
}

/// `api_url` without the white space and trailing slashes a hand-written one may carry,
/// refused (naming `source`) when no call could go there.
fn checked_api_url(api_url: String, source: &str) -> Result<String, Failure> {
    let api_url = api_url.trim().trim_end_matches('/').to_owned();
    check_api_url(&api_url, source)?;
    Ok(api_url)
}

/// The target of `profile` at `api_url` (from `source`), with the command line's other
/// settings.
fn target_at(
    matches: &ArgMatches,
    store: Store,
    profile: String,
    api_url: String,
    source: &str,
) -> Result<Target, Failure> {
    let budget = match option_or_env(matches, "rate-budget-redis", "GEOPERA_RATE_BUDGET_REDIS")? {
        None => None,
        Some(redis_url) => Some(SharedBudget {
            redis_url,
            organization: option_or_env(matches, "rate-budget-org", ORG_VARIABLE)?
                .unwrap_or_else(|| "default".to_owned()),
            ca_file: option_or_env(matches, "rate-budget-redis-ca", CA_VARIABLE)?,
        }),
    };
    Ok(Target {
        profile,
        api_url_given: source == "--api-url",
        api_url,
        store,
        budget,
        timeout: matches
            .try_get_one::<Duration>("timeout")
            .ok()
            .flatten()
            .copied(),
    })
}

/// The profile's stored API URL, else the public API's, with where it came from.
fn stored_api_url(store: &Store, profile: &str) -> Result<(String, String), Failure> {
    Ok(match store.api_url(profile)? {
        Some(url) => (
            url,
            format!(
                "the api_url of profile '{}' in {}",
                crate::paint::inert(profile),
                crate::paint::path(&store.path())
            ),
        ),
        None => {
            // A profile written by hand with `api_url` misspelled would send its credential
            // to the public API without a word.
            let unread = store.unread_members(profile)?;
            if !unread.is_empty() {
                crate::paint::warning(&format!(
                    "profile '{}' in {} has no api_url, but members neither CLI reads ({}): \
                     it is used with {DEFAULT_API_URL} (is api_url misspelled?)",
                    crate::paint::inert(profile),
                    crate::paint::path(&store.path()),
                    unread.join(", ")
                ));
            }
            (DEFAULT_API_URL.to_owned(), "the default".to_owned())
        }
    })
}

/// Whether `api_url` ends in `/v1/op`, as an operation's URL copied up to its id does: every
/// call would then go to `.../v1/op/v1/op/...` and be answered 404.
fn ends_in_operations_path(api_url: &str) -> bool {
    url::Url::parse(api_url).is_ok_and(|url| {
        let path = url.path().trim_end_matches('/').to_ascii_lowercase();
        path.ends_with("/v1/op")
    })
}

/// Refuses an API URL that no call could go to, as a usage error naming `source` (the flag,
/// the variable or the profile it came from), before anything is read or sent. The rules are
/// the SDK's own ([`geopera::check_base_url`]); the message quotes the URL as the SDK does
/// ([`geopera::quoted_url`]) and says where credentials go instead of a password in it.
fn check_api_url(api_url: &str, source: &str) -> Result<(), Failure> {
    let Err(problem) = geopera::check_base_url(api_url) else {
        if geopera::base_url_ends_in_version(api_url) {
            crate::paint::warning(&format!(
                "{source}: the API URL {} ends in /v1, which this program adds itself, so \
                 calls go to .../v1/v1/op/...; the API's URL is {DEFAULT_API_URL}, without it",
                geopera::quoted_url(api_url)
            ));
        } else if ends_in_operations_path(api_url) {
            crate::paint::warning(&format!(
                "{source}: the API URL {} ends in /v1/op, which this program adds itself, so \
                 calls go to .../v1/op/v1/op/...; the API's URL is {DEFAULT_API_URL}, without it",
                geopera::quoted_url(api_url)
            ));
        }
        if geopera::base_url_in_clear_text(api_url) {
            crate::paint::warning(&format!(
                "{source}: the API URL {} is plain http to another machine, so the credential \
                 sent with each call crosses the network unencrypted; use https",
                geopera::quoted_url(api_url)
            ));
        }
        return Ok(());
    };
    let why = match problem {
        geopera::BaseUrlError::Userinfo => {
            format!("{problem}: credentials go in GEOPERA_API_TOKEN or 'geopera login'")
        }
        problem => problem.to_string(),
    };
    Err(Failure::usage(format!(
        "{source}: the API URL {} {why}",
        geopera::quoted_url(api_url)
    )))
}

/// Whether `a` and `b` name the same origin (scheme, host and port, default ports filled in).
/// Anything that does not parse matches nothing.
pub(crate) fn same_origin(a: &str, b: &str) -> bool {
    match (url::Url::parse(a), url::Url::parse(b)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin() && a.origin().is_tuple(),
        _ => false,
    }
}

/// The credential for a call: `GEOPERA_API_TOKEN`, else the stored one (refreshed first when
/// it is about to expire), else `None`.
///
/// A stored credential belongs to the server it was stored for (the profile's `api_url`, or
/// the public API): sent to the origin an `--api-url` or `GEOPERA_API_URL` names instead, a
/// key or a session would leave for a server that never issued it, and a session's refresh
/// token with it. So that is refused; `GEOPERA_API_TOKEN` is given by the caller for the
/// server they name, and is used as given.
pub(crate) async fn held(target: &Target, refresh: bool) -> Result<Option<Held>, Failure> {
    if let Some(token) = env_token()? {
        let held = Held::Env(token.trim().to_owned());
        held.hide();
        if let Some(why) = held.unsendable() {
            return Err(Failure::other(format!(
                "GEOPERA_API_TOKEN {why}; nothing was sent"
            )));
        }
        return Ok(Some(held));
    }
    let profile = target.store.profile(&target.profile)?;
    if let Some(auth) = &profile.auth {
        auth.hide();
    }
    only_for_its_server(target, &profile)?;
    let held = match profile.auth {
        Some(Auth::OAuth { expires_at, .. }) if refresh && due(expires_at) => {
            refresh_stored(target, None).await?.map(Held::Stored)
        }
        other => other.map(Held::Stored),
    };
    if let Some(why) = held.as_ref().and_then(Held::unsendable) {
        return Err(Failure::other(format!(
            "the stored credential of profile '{}' {why}; nothing was sent: run 'geopera \
             login' again",
            target.shown_profile()
        )));
    }
    Ok(held)
}

/// Refuses a stored credential that belongs to another origin than the one `target` talks
/// to (see [`held`]). Asked again wherever the file is read again, since a login in another
/// terminal may have pointed the profile at another server while this command ran.
fn only_for_its_server(target: &Target, profile: &Profile) -> Result<(), Failure> {
    let stored_for = profile.api_url.as_deref().unwrap_or(DEFAULT_API_URL);
    if profile.auth.is_none() || same_origin(stored_for, &target.api_url) {
        return Ok(());
    }
    Err(Failure::other(format!(
        "the credentials of profile '{}' are for {}, not {}: run '{}' for that server (with \
         another --profile to keep both), or set GEOPERA_API_TOKEN",
        target.shown_profile(),
        geopera::quoted_url(stored_for.trim_end_matches('/')),
        geopera::quoted_url(&target.api_url),
        target.login_command()
    )))
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Whether a session expiring at `expires_at` should be refreshed now (`None` and 0 never),
/// as early as the SDK's own sessions refresh.
fn due(expires_at: Option<f64>) -> bool {
    due_within(
        expires_at,
        geopera::auth::DEFAULT_REFRESH_LEEWAY.as_secs_f64(),
    )
}

/// Whether a session expiring at `expires_at` is `leeway` seconds or less from it.
fn due_within(expires_at: Option<f64>, leeway: f64) -> bool {
    matches!(expires_at, Some(at) if at > 0.0 && now_secs() >= at - leeway)
}

/// How long before `expires_at` a token renewed within a command is renewed again: the SDK's
/// lead, but no more than half the life it has left as it is taken on (the file keeps no
/// lifetime; the SDK's sessions bound the lead by half the lifetime). A token living 30 s or
/// less would otherwise be due as it arrives, and renewed before every call of the command.
/// A command's start renews a stored session within the SDK's lead of its expiry ([`held`]),
/// and a token read from the file is renewed by that lead.
fn leeway_for(expires_at: Option<f64>) -> f64 {
    let lead = geopera::auth::DEFAULT_REFRESH_LEEWAY.as_secs_f64();
    match expires_at {
        Some(at) if at > 0.0 => lead.min(((at - now_secs()) / 2.0).max(0.0)),
        _ => lead,
    }
}

/// The not-signed-in failure.
pub(crate) fn not_signed_in(target: &Target) -> Failure {
    Failure::other(format!(
        "no credentials for profile '{}': run '{}' or set GEOPERA_API_TOKEN",
        target.shown_profile(),
        target.login_command()
    ))
}

/// The HTTP client for sign-in requests: the SDK's, so TLS roots and proxies are the same.
pub(crate) fn http(api_url: &str) -> Result<geopera::Client, Failure> {
    geopera::Client::builder()
        .base_url(api_url)
        .build()
        .map_err(|e| {
            Failure::usage(format!(
                "invalid API URL '{}': {}",
                geopera::quoted_url(api_url),
                chain(&e)
            ))
        })
}

/// Why an identity provider's answer could not be read.
pub(crate) enum AnswerError {
    /// It is longer than [`MAX_SIGN_IN_ANSWER_BYTES`] (announced, or as it arrived).
    TooLarge,
    /// The connection failed or timed out while reading it.
    Transport(String),
}

impl std::fmt::Display for AnswerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AnswerError::TooLarge => write!(
                f,
                "the answer is larger than {} KiB",
                MAX_SIGN_IN_ANSWER_BYTES / 1024
            ),
            AnswerError::Transport(cause) => f.write_str(cause),
        }
    }
}

/// Reads an identity provider's answer (`announced` is its `Content-Length`, `chunks` its
/// body), at most [`MAX_SIGN_IN_ANSWER_BYTES`], stopping as soon as that is passed.
pub(crate) async fn read_answer<B, E>(
    announced: Option<u64>,
    chunks: impl futures::Stream<Item = Result<B, E>>,
) -> Result<Vec<u8>, AnswerError>
where
    B: AsRef<[u8]>,
    E: std::error::Error + 'static,
{
    use futures::StreamExt as _;
    if announced.is_some_and(|length| length > MAX_SIGN_IN_ANSWER_BYTES as u64) {
        return Err(AnswerError::TooLarge);
    }
    let mut chunks = std::pin::pin!(chunks);
    let mut content = Vec::new();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|e| AnswerError::Transport(chain(&e)))?;
        let chunk = chunk.as_ref();
        if content.len() + chunk.len() > MAX_SIGN_IN_ANSWER_BYTES {
            return Err(AnswerError::TooLarge);
        }
        content.extend_from_slice(chunk);
    }
    Ok(content)
}

/// The OIDC endpoint `name` of the server at `api_url`.
pub(crate) fn endpoint(api_url: &str, name: &str) -> String {
    geopera_types::oidc::endpoint(&geopera_types::oidc::issuer(api_url), name)
}

/// Refreshes the profile's stored session under the file lock and stores the rotated tokens.
///
/// `replaced` is the access token the caller means to replace (refused with a 401, or due by
/// its own lead), or `None` to renew whatever is stored once it is due. The file is read again
/// once the lock is held: when another process refreshed meanwhile (its access token differs
/// from `replaced`, or is no longer due), its tokens are used instead of spending the
/// already-rotated refresh token a second time. A credential another
/// login stored meanwhile for another server is refused, as [`held`] refuses it: it would
/// otherwise be sent where this command's calls go.
pub(crate) async fn refresh_stored(
    target: &Target,
    replaced: Option<&str>,
) -> Result<Option<Auth>, Failure> {
    let _lock = target.store.lock_async().await?;
    let profile = target.store.profile(&target.profile)?;
    only_for_its_server(target, &profile)?;
    // What another process stored meanwhile is taken over and sent from here on: kept out of
    // every message before it is, as the credential read at the start was.
    if let Some(auth) = &profile.auth {
        auth.hide();
    }
    let Some(Auth::OAuth {
        access_token,
        refresh_token,
        expires_at,
        scope,
    }) = profile.auth
    else {
        return Ok(profile.auth);
    };
    let needed = match replaced {
        Some(replaced) => replaced == access_token,
        None => due(expires_at),
    };
    if !needed {
        return Ok(Some(Auth::OAuth {
            access_token,
            refresh_token,
            expires_at,
            scope,
        }));
    }
    let Some(refresh_token) = refresh_token else {
        return Err(Failure::other(format!(
            "the session expired and no refresh token is stored; run '{}'",
            target.login_command()
        )));
    };
    let api_url = profile
        .api_url
        .clone()
        .unwrap_or_else(|| target.api_url.clone());
    // A refresh spends the stored refresh token: a file that cannot take the new one (a
    // folder the user may not write, a full disk) must be found before, or the session would
    // be lost with the token, and the next command refused as replaying it.
    let ready = target.store.ready().map_err(|failure| {
        Failure::other(format!(
            "{}; the session was not refreshed, and its refresh token stays good",
            failure.message
        ))
    })?;
    let client = http(&api_url)?;
    let oidc = Oidc::for_base_url(&api_url)
        .map_err(|e| Failure::other(chain(&e)))?
        .client_id(CLIENT_ID)
        .request_timeout(target.sign_in_timeout(SIGN_IN_TIMEOUT));
    // The SDK's refresh checks the answer as its sessions do; on any failure nothing is
    // written, so the stored session stays as it was.
    let tokens = oidc
        .refresh(&client, &refresh_token)
        .await
        .map_err(|error| refresh_failed(&error, target))?;
    let auth = Auth::OAuth {
        access_token: tokens.access_token().to_owned(),
        // The SDK keeps the refresh token sent when the answer gives none or an empty one.
        refresh_token: tokens.refresh_token().map(str::to_owned),
        // No lifetime in the answer is stored as no expiry (`null`), as the official CLI
        // stores it, not as the 300 s the SDK assumes for its own sessions.
        expires_at: tokens.stated_expires_at().map(epoch_secs),
        scope: tokens.scope().map(str::to_owned).or(scope),
    };
    save_oauth(target, ready, &auth).map_err(|failure| {
        Failure::other(format!(
            "{}; the session was refreshed, but the new tokens could not be stored and the \
             stored refresh token is spent; run '{}'",
            failure.message,
            target.login_command()
        ))
    })?;
    Ok(Some(auth))
}

/// Seconds since the epoch of `at`, as the credentials file writes an expiry.
pub(crate) fn epoch_secs(at: SystemTime) -> f64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// What the user is told when the SDK's refresh of a stored session failed.
fn refresh_failed(error: &geopera::Error, target: &Target) -> Failure {
    match error {
        // Kept, an access token no request can carry would fail every later command until a
        // new login, and the refresh token it replaced would be gone: the SDK refuses such an
        // answer (a 2xx that is no usable token) and nothing is stored.
        geopera::Error::SignIn {
            status: Some(status),
            ..
        } if status.is_success() => Failure::other(format!(
            "token refresh failed: the identity provider answered no usable access token; the \
             stored session is kept as it was; run '{}' if this goes on",
            target.login_command()
        )),
        // Only the provider's refusal of the grant says the session may be over, on the rule
        // a session of the SDK ends by; any other answer (a 503, a 429, a gateway's page)
        // says the provider could not renew it now.
        error if error.is_grant_refused() => refresh_refused(target),
        geopera::Error::SignIn { .. } => Failure::other(format!(
            "token refresh failed: {}; the stored session is kept; try again, or run '{}' if \
             this goes on",
            chain(error),
            target.login_command()
        )),
        geopera::Error::TooLarge { limit, .. } => Failure::other(format!(
            "token refresh failed: the answer is larger than {} KiB",
            limit / 1024
        )),
        other => Failure::other(format!("token refresh failed: {}", chain(other))),
    }
}

/// The identity provider would not renew a stored session (proactively, or after a 401).
fn refresh_refused(target: &Target) -> Failure {
    Failure::other(format!(
        "token refresh failed (the session may have been revoked); run '{}'",
        target.login_command()
    ))
}

/// Writes a session to the profile, keeping its `api_url` (or adding the target's when it has
/// none), with a write made ready before the refresh. The caller holds the file lock.
fn save_oauth(target: &Target, ready: ReadyWrite, auth: &Auth) -> Result<(), Failure> {
    auth.hide();
    let Auth::OAuth {
        access_token,
        refresh_token,
        expires_at,
        scope,
    } = auth
    else {
        return Ok(());
    };
    let json = oauth_json(
        access_token,
        refresh_token.as_deref(),
        *expires_at,
        scope
            .as_deref()
            .unwrap_or(geopera_types::oidc::DEFAULT_SCOPE),
        &target.api_url,
    );
    let api_url = target.api_url.clone();
    let change = move |entry: &mut serde_json::Map<String, Value>| {
        entry.insert("auth".to_owned(), json);
        entry
            .entry("api_url".to_owned())
            .or_insert(Value::String(api_url));
    };
    target.store.update_ready(ready, &target.profile, change)
}

/// Paces the client on the shared budget the command line or environment names: one budget
/// in Redis for every process of an organization, so a fleet of scripts stays under the API's
/// limits together. Redis being down is no failure: the budget falls back to pacing alone.
#[cfg(feature = "redis")]
fn shared_budget(
    target: &Target,
    builder: geopera::ClientBuilder<geopera::Geopera>,
) -> Result<geopera::ClientBuilder<geopera::Geopera>, Failure> {
    let Some(shared) = &target.budget else {
        return Ok(builder);
    };
    let budget = redis_budget(
        &shared.redis_url,
        &shared.organization,
        shared.ca_file.as_deref(),
    )
    .map_err(|e| Failure::other(format!("cannot use the shared rate budget: {}", chain(&e))))?;
    Ok(builder.budget(std::sync::Arc::new(budget)))
}

/// Without the `redis` feature a named shared budget cannot be honoured: say so rather than
/// pace alone while the user believes the fleet is paced together.
#[cfg(not(feature = "redis"))]
fn shared_budget(
    target: &Target,
    builder: geopera::ClientBuilder<geopera::Geopera>,
) -> Result<geopera::ClientBuilder<geopera::Geopera>, Failure> {
    match target.budget {
        None => Ok(builder),
        Some(_) => Err(Failure::other(
            "this build has no shared rate budget (feature `redis`)",
        )),
    }
}

/// The SDK client for a held credential. A stored session is handed to the SDK as a
/// [`StoredSession`], which keeps the credentials file up to date as it renews.
pub(crate) fn client(
    target: &Target,
    held: Option<&Held>,
    configure: impl FnOnce(
        geopera::ClientBuilder<geopera::Geopera>,
    ) -> geopera::ClientBuilder<geopera::Geopera>,
) -> Result<geopera::Geopera, Failure> {
    if let Some(held) = held {
        held.hide();
    }
    let built = |builder: geopera::ClientBuilder<geopera::Geopera>| {
        let builder = configure(builder.base_url(target.api_url.clone()));
        shared_budget(target, builder)?.build().map_err(|e| {
            let message = format!("cannot set up the client: {}", chain(&e));
            // What the command line or the environment set up (the API URL) is theirs to
            // change.
            if e.kind() == geopera::ErrorKind::Config {
                Failure::usage(message)
            } else {
                Failure::other(message)
            }
        })
    };
    match held {
        // A call of an operation that needs none (`webhooks.drain`): the SDK does not ask a
        // client's provider for such a call, and this one says why any other call fails.
        None => built(geopera::Geopera::builder_with_credentials(NotSignedIn(
            target.clone(),
        ))),
        // A session token in the environment: refused, it cannot be renewed (CLI-FACTS §1.11).
        Some(Held::Env(token)) if !token.starts_with(API_KEY_PREFIX) => {
            built(geopera::Geopera::builder_with_credentials(EnvBearer(
                Credential::bearer(token.clone()),
            )))
        }
        Some(Held::Env(token) | Held::Stored(Auth::ApiKey(token))) => {
            let credential =
                if token.starts_with(API_KEY_PREFIX) || matches!(held, Some(Held::Stored(_))) {
                    Credential::api_key(token.clone())
                } else {
                    Credential::bearer(token.clone())
                };
            built(geopera::Geopera::builder_with_credentials(credential))
        }
        Some(Held::Stored(Auth::OAuth {
            access_token,
            expires_at,
            ..
        })) => built(geopera::Geopera::builder_with_credentials(
            StoredSession::new(target.clone(), access_token.clone(), *expires_at),
        )),
    }
}

/// A session token given in `GEOPERA_API_TOKEN`, which has no refresh token: a 401 to it ends
/// the call as a credentials failure (exit 1) naming the variable, as `whoami` reports it and
/// as the official CLI does (CLI-FACTS §1.11), rather than as the API's error (exit 2) that
/// leaves the user to find out which credential was refused. API keys are refused as the
/// API's error, as there.
#[derive(Debug)]
struct EnvBearer(Credential);

impl geopera::auth::Credentials for EnvBearer {
    fn credential<'a>(
        &'a self,
        _cx: geopera::auth::AuthContext<'a>,
    ) -> geopera::auth::CredentialFuture<'a, Credential> {
        Box::pin(async move { Ok(self.0.clone()) })
    }

    fn rejected<'a>(
        &'a self,
        _rejected: &'a Credential,
        _cx: geopera::auth::AuthContext<'a>,
    ) -> geopera::auth::CredentialFuture<'a, bool> {
        Box::pin(async { Err(geopera::Error::credentials(env_token_refused())) })
    }
}

/// The provider of a client made without credentials, for an operation that needs none: it
/// has none to give, and says how to get one.
#[derive(Debug)]
struct NotSignedIn(Target);

impl geopera::auth::Credentials for NotSignedIn {
    fn credential<'a>(
        &'a self,
        _cx: geopera::auth::AuthContext<'a>,
    ) -> geopera::auth::CredentialFuture<'a, Credential> {
        Box::pin(async move { Err(geopera::Error::credentials(not_signed_in(&self.0))) })
    }
}

/// What a refused `GEOPERA_API_TOKEN` ends a command with: it wins over anything a login
/// would store, so signing in again would change nothing.
pub(crate) fn env_token_refused() -> Failure {
    Failure::other(
        "the credential in GEOPERA_API_TOKEN was refused (HTTP 401); set a valid one, or \
         unset it to use the profile's",
    )
}

/// A profile's stored session as the SDK's client asks for it: the credentials file is the
/// one place its tokens live, so every renewal goes through [`refresh_stored`] (under the
/// file lock, reading the file again first) and is stored as it happens.
///
/// A session the SDK kept in memory would spend the refresh token it was given, which another
/// command may have rotated already (the server then ends the session for reuse), and the
/// tokens it rotated during a long wait would only be stored when the call ended, if at all.
pub(crate) struct StoredSession {
    target: Target,
    /// The access token handed out and its stored expiry. An async lock, held while the
    /// session is renewed: calls of this process renew one at a time, and one that waited
    /// finds the token the other renewed to rather than renewing again.
    current: futures::lock::Mutex<Current>,
}

/// What a [`StoredSession`] hands out now.
struct Current {
    access_token: String,
    expires_at: Option<f64>,
    /// How long before `expires_at` it is renewed ([`leeway_for`], as it was taken on).
    leeway: f64,
    /// When a renewal that failed while the token was still good may be tried again (seconds
    /// since the epoch); 0 until one fails.
    retry_renewal_at: f64,
}

impl Current {
    fn credential(&self) -> Credential {
        Credential::bearer(self.access_token.clone())
    }

    /// Takes on the session now stored, when it is one; says whether its access token differs
    /// from the one handed out until now. Anything else stored (a key, no login) leaves the
    /// session as it was: it was not signed in with, and the next command will use it.
    fn adopt(&mut self, stored: Option<Auth>) -> bool {
        let Some(Auth::OAuth {
            access_token,
            expires_at,
            ..
        }) = stored
        else {
            return false;
        };
        let changed = access_token != self.access_token;
        self.access_token = access_token;
        self.expires_at = expires_at;
        self.leeway = leeway_for(expires_at);
        self.retry_renewal_at = 0.0;
        changed
    }
}

impl StoredSession {
    fn new(target: Target, access_token: String, expires_at: Option<f64>) -> Self {
        StoredSession {
            target,
            current: futures::lock::Mutex::new(Current {
                access_token,
                expires_at,
                // [`held`] has just renewed a session due by the SDK's lead: one still due is
                // a token issued with a shorter life, which that lead would renew before
                // every call.
                leeway: if due(expires_at) {
                    leeway_for(expires_at)
                } else {
                    geopera::auth::DEFAULT_REFRESH_LEEWAY.as_secs_f64()
                },
                retry_renewal_at: 0.0,
            }),
        }
    }
}

/// How long after a renewal that failed while the access token was still good it is tried
/// again: the SDK's sessions wait as long.
const RETRY_RENEWAL_AFTER_SECS: f64 = 10.0;

/// The tokens are left out.
impl std::fmt::Debug for StoredSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredSession")
            .field("profile", &self.target.profile)
            .field("api_url", &self.target.api_url)
            .finish_non_exhaustive()
    }
}

impl geopera::auth::Credentials for StoredSession {
    /// The access token handed out, renewed first when its stored expiry is due, by the rule a
    /// command follows before its first call.
    fn credential<'a>(
        &'a self,
        _cx: geopera::auth::AuthContext<'a>,
    ) -> geopera::auth::CredentialFuture<'a, Credential> {
        Box::pin(async move {
            let mut current = self.current.lock().await;
            let now = now_secs();
            if due_within(current.expires_at, current.leeway) && now >= current.retry_renewal_at {
                // Renewed unless another process already did (the stored access token is no
                // longer this one), by the token's own lead rather than the default one,
                // which a short-lived token is always within.
                match refresh_stored(&self.target, Some(&current.access_token)).await {
                    Ok(stored) => {
                        current.adopt(stored);
                    }
                    // Renewed early, the token is still good: one failed renewal (a 503 of
                    // the provider, a timeout) must not end a wait of hours or an upload
                    // midway while it is. Tried again a little later, as the SDK's sessions
                    // do; a refused one ends the call at the 401 that then comes.
                    Err(failure) if current.expires_at.is_some_and(|at| now < at) => {
                        crate::paint::warning(&format!(
                            "{}; the access token is still valid, so the command goes on",
                            failure.message
                        ));
                        current.retry_renewal_at = now + RETRY_RENEWAL_AFTER_SECS;
                    }
                    Err(failure) => return Err(geopera::Error::credentials(failure)),
                }
            }
            Ok(current.credential())
        })
    }

    /// Renews after a 401, unless another call of this process already did (the credential
    /// rejected is no longer the one handed out), or another process did (the stored access
    /// token differs from the one rejected: it is taken as it is, and nothing is spent).
    fn rejected<'a>(
        &'a self,
        rejected: &'a Credential,
        _cx: geopera::auth::AuthContext<'a>,
    ) -> geopera::auth::CredentialFuture<'a, bool> {
        Box::pin(async move {
            let mut current = self.current.lock().await;
            if *rejected != current.credential() {
                return Ok(true);
            }
            let stored = refresh_stored(&self.target, Some(&current.access_token))
                .await
                .map_err(geopera::Error::credentials)?;
            Ok(current.adopt(stored))
        })
    }
}

/// The failure behind `error` when a [`StoredSession`] could not renew the session in the
/// middle of a call (the provider refused, the credentials file, no refresh token stored): it
/// reads as it would have before the call. Else `None`.
pub(crate) fn renewal_failure(error: &geopera::Error) -> Option<Failure> {
    match error {
        geopera::Error::Credentials { source, .. } => source.downcast_ref::<Failure>().cloned(),
        _ => None,
    }
}

/// The header that carries a credential, with the secret itself. Names are spelled as
/// `--dry-run` shows them (HTTP reads them in any case).
pub(crate) fn header(held: &Held) -> (&'static str, String) {
    held.hide();
    match held {
        Held::Env(token) if !token.starts_with(API_KEY_PREFIX) => {
            ("Authorization", format!("Bearer {token}"))
        }
        Held::Env(key) | Held::Stored(Auth::ApiKey(key)) => ("X-API-Key", key.clone()),
        Held::Stored(Auth::OAuth { access_token, .. }) => {
            ("Authorization", format!("Bearer {access_token}"))
        }
    }
}
