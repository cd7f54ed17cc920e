//! Signed-in sessions: access tokens, refresh-token families with rotation and reuse
//! detection, and device logins waiting for approval. Pure bookkeeping over the emulator's
//! clock; the HTTP side lives in the parent module.
//!
//! Tokens are kept only as SHA-256 digests, so neither memory nor the state file holds a
//! usable token. A refresh token is `<family key>.<secret>`: the family key finds the
//! session, and only the newest secret of that family refreshes it. Presenting any other
//! token of a live family means a rotated token was replayed, and the whole family ends.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::IpAddr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use geopera_types::oidc::codes;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use super::{OAuthError, OidcCounters};
use crate::changes::Tracked;
use crate::records::KeyWindow;

/// How long an access token is accepted, in seconds.
pub const ACCESS_TOKEN_SECS: i64 = 300;
/// How long a refresh token may wait before its next use, in seconds.
pub const REFRESH_TOKEN_SECS: i64 = 1800;
/// How long a device login waits for approval, in seconds.
pub const DEVICE_CODE_SECS: i64 = 600;
/// The polling interval a device login starts with, in seconds.
pub const DEVICE_INTERVAL_SECS: i64 = 5;
/// Live sessions kept at most; a new one beyond this is refused until some expire.
pub const MAX_SESSIONS: usize = 10_000;
/// Live sessions one principal may hold; a new one beyond this ends its oldest.
pub const MAX_SESSIONS_PER_PRINCIPAL: usize = 100;
/// Device logins waiting at most; a new one beyond this is refused until some expire.
pub const MAX_PENDING_DEVICE_LOGINS: usize = 1_000;
/// Device logins one client address may have waiting, a tenth of
/// [`MAX_PENDING_DEVICE_LOGINS`], so no one client can fill them and lock everyone else out.
pub const MAX_PENDING_DEVICE_LOGINS_PER_CLIENT: usize = 100;
/// Access tokens of one session accepted at once; a refresh beyond this retires the oldest.
pub const MAX_ACCESS_TOKENS_PER_SESSION: usize = 8;
/// Refresh tokens a session remembers having rotated away, to tell one replayed (which ends
/// it) from one made up; an older one presented again is refused as unknown.
pub const MAX_ROTATED_KEPT: usize = 64;

/// A SHA-256 digest of a token: how tokens are looked up and stored.
pub type TokenDigest = [u8; 32];

/// The digest a token is stored under.
pub fn digest(token: &str) -> TokenDigest {
    Sha256::digest(token.as_bytes()).into()
}

/// `bytes` bytes from the operating system's generator, base64url without padding.
///
/// # Errors
/// `server_error` when the operating system has no randomness to give.
pub fn random_token(bytes: usize) -> Result<String, OAuthError> {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer).map_err(|_| OAuthError::server("no randomness available"))?;
    Ok(URL_SAFE_NO_PAD.encode(buffer))
}

/// Whether two strings are equal, in time that depends only on their lengths.
pub fn same_secret(left: &str, right: &str) -> bool {
    left.as_bytes().ct_eq(right.as_bytes()).into()
}

/// What kind of principal a session or credential stands for, as userinfo names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    /// A person who signed in with a password or a device login.
    User,
    /// An API key, directly or through `client_credentials`.
    ApiKey,
}

impl PrincipalKind {
    /// The `geopera_principal_type` value.
    pub fn name(self) -> &'static str {
        match self {
            PrincipalKind::User => "user",
            PrincipalKind::ApiKey => "api_key",
        }
    }
}

/// Who a session acts for, and with what.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Principal {
    pub kind: PrincipalKind,
    /// The subject: `usr_<username>` or the key's id.
    pub id: String,
    /// The username or the key's name.
    pub name: String,
    pub org: String,
    /// What the session may do (the principal's grants, or the narrower ones it asked for).
    pub grants: Vec<String>,
    /// A key's own calls-per-minute, carried into its sessions.
    pub key_limit: Option<(String, u32)>,
    /// The windows a key inherited from the keys it was minted under, carried into its
    /// sessions so their calls count against them as the key's own do. Empty for a user, and
    /// in a session kept by an emulator that did not keep them (whose keys inherited none).
    #[serde(default)]
    pub inherited_limits: Vec<KeyWindow>,
    /// A key's expiry (Unix seconds), carried into its sessions: no key they mint outlives it.
    #[serde(default)]
    pub key_expires_at: Option<i64>,
}

/// The grant a session started with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantKind {
    Password,
    ClientCredentials,
    DeviceCode,
}

/// One session: a principal, its scope, its newest refresh token and live access tokens.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Family {
    pub principal: Principal,
    pub client_id: String,
    /// The granted scope, space-separated, as the token answer reports it.
    pub scope: String,
    pub grant: GrantKind,
    /// The newest refresh token's digest and when it expires; `None` for sessions without
    /// refresh tokens (`client_credentials`).
    pub refresh: Option<(TokenDigest, i64)>,
    /// Digests of the refresh tokens rotated away, oldest first, at most
    /// [`MAX_ROTATED_KEPT`]: one presented again is a replay, which ends the session, where
    /// a made-up one (of a family key anyone who saw a token knows) ends nothing.
    #[serde(default, skip_serializing_if = "VecDeque::is_empty")]
    pub rotated: VecDeque<TokenDigest>,
    /// Digests of the live access tokens, oldest first.
    pub access: VecDeque<TokenDigest>,
    /// When the session started, in Unix milliseconds (orders eviction).
    pub started_ms: i64,
}

/// An access token's record.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Access {
    /// The digest of the family key.
    pub family: TokenDigest,
    pub expires_at: i64,
}

/// Tokens just issued, in the clear, for the one answer that carries them.
#[derive(Debug)]
pub struct Issued {
    pub access_token: String,
    /// Seconds the access token is accepted for.
    pub expires_in: i64,
    pub refresh_token: Option<String>,
    /// Seconds the refresh token may wait before its next use (0 without one).
    pub refresh_expires_in: i64,
    pub scope: String,
}

/// When a token issued at `now` for `secs` stops working: never after the expiry of the key
/// its session acts for, or the token would outlive the credential it stands for.
fn token_expiry(principal: &Principal, now: i64, secs: i64) -> i64 {
    let full = now.saturating_add(secs);
    principal.key_expires_at.map_or(full, |at| at.min(full))
}

/// Where a device login stands.
#[derive(Clone, Debug)]
pub enum DeviceState {
    Pending,
    Approved(Principal),
    Denied,
}

/// A device login waiting for the user.
#[derive(Clone, Debug)]
pub struct DeviceLogin {
    pub user_code: String,
    pub client_id: String,
    /// The address that started it, whose share of the waiting logins it counts against.
    pub ip: IpAddr,
    pub scope: String,
    /// The PKCE `code_challenge` (S256).
    pub challenge: String,
    pub expires_at_ms: i64,
    pub interval_secs: i64,
    pub last_poll_ms: Option<i64>,
    pub state: DeviceState,
}

/// A device login a poll redeemed, as it stood before that poll: put back with
/// [`Sessions::unredeem`] when the tokens it gave cannot be handed out after all, so the
/// client's next poll redeems it instead of finding its device code used up.
#[derive(Debug)]
pub struct Redeemed {
    device: TokenDigest,
    login: DeviceLogin,
}

/// The client that asks for a token to be revoked (RFC 7009 §2.1: only the client a token
/// was issued to may revoke it).
#[derive(Debug)]
pub struct Presenter<'a> {
    pub client_id: &'a str,
    /// For the confidential client, the API key it authenticated with, as (key id,
    /// organization): its tokens are the sessions of that key, not of every key.
    pub key: Option<(&'a str, &'a str)>,
}

impl Presenter<'_> {
    /// Whether `family` was issued to this client.
    fn holds(&self, family: &Family) -> bool {
        let principal = &family.principal;
        family.client_id == self.client_id
            && self.key.is_none_or(|(id, org)| {
                principal.kind == PrincipalKind::ApiKey
                    && principal.id == id
                    && principal.org == org
            })
    }
}

/// What a revocation request did.
#[derive(Debug, PartialEq, Eq)]
pub enum Revocation {
    /// The token was the presenter's and no longer works.
    Revoked,
    /// No live token is like it: RFC 7009 answers this as a success that changes nothing.
    Unknown,
    /// The token is live but was issued to another client, which alone may revoke it.
    OtherClient,
}

/// Why an access token was not accepted.
#[derive(Debug, PartialEq, Eq)]
pub enum Rejected {
    Unknown,
    Expired,
}

/// Everything the sign-in endpoints remember.
#[derive(Debug, Default)]
pub struct Sessions {
    /// Keyed by the digest of the family key; the state file writes the ones that changed.
    pub families: Tracked<TokenDigest, Family>,
    /// Keyed by the digest of the access token; written as the families are.
    pub access: Tracked<TokenDigest, Access>,
    /// Keyed by the digest of the device code.
    pub devices: HashMap<TokenDigest, DeviceLogin>,
    /// Normalized user code → device code digest.
    pub user_codes: HashMap<String, TokenDigest>,
    pub counters: OidcCounters,
}

impl Sessions {
    /// Starts a session for `principal` and issues its first tokens (a refresh token only
    /// when `with_refresh`).
    ///
    /// # Errors
    /// `temporarily_unavailable` when [`MAX_SESSIONS`] sessions are live; `invalid_client`
    /// for a key that has expired; `server_error` without randomness.
    pub fn start(
        &mut self,
        principal: Principal,
        client_id: &str,
        scope: String,
        grant: GrantKind,
        with_refresh: bool,
        now_ms: i64,
    ) -> Result<Issued, OAuthError> {
        let now = now_ms.div_euclid(1000);
        if self.families.len() >= MAX_SESSIONS {
            self.purge(now_ms);
        }
        if self.families.len() >= MAX_SESSIONS {
            return Err(OAuthError::unavailable(
                "too many live sessions; try again later",
            ));
        }
        if principal.key_expires_at.is_some_and(|at| at <= now) {
            return Err(OAuthError::invalid_client("the API key has expired"));
        }
        self.make_room_for(&principal);
        let access_expires_at = token_expiry(&principal, now, ACCESS_TOKEN_SECS);
        let refresh_expires_at = token_expiry(&principal, now, REFRESH_TOKEN_SECS);
        let family_key = random_token(16)?;
        let family_id = digest(&family_key);
        let refresh_token = if with_refresh {
            Some(format!("{family_key}.{}", random_token(32)?))
        } else {
            None
        };
        let access_token = random_token(32)?;
        let access_digest = digest(&access_token);
        self.access.insert(
            access_digest,
            Access {
                family: family_id,
                expires_at: access_expires_at,
            },
        );
        self.families.insert(
            family_id,
            Family {
                principal,
                client_id: client_id.to_owned(),
                scope: scope.clone(),
                grant,
                refresh: refresh_token
                    .as_deref()
                    .map(|token| (digest(token), refresh_expires_at)),
                rotated: VecDeque::new(),
                access: VecDeque::from([access_digest]),
                started_ms: now_ms,
            },
        );
        Ok(Issued {
            access_token,
            expires_in: access_expires_at - now,
            refresh_expires_in: if refresh_token.is_some() {
                refresh_expires_at - now
            } else {
                0
            },
            refresh_token,
            scope,
        })
    }

    /// Ends the principal's oldest sessions while it holds
    /// [`MAX_SESSIONS_PER_PRINCIPAL`] or more.
    fn make_room_for(&mut self, principal: &Principal) {
        let mut own: Vec<(i64, TokenDigest)> = self
            .families
            .iter()
            .filter(|(_, family)| {
                family.principal.id == principal.id && family.principal.org == principal.org
            })
            .map(|(id, family)| (family.started_ms, *id))
            .collect();
        if own.len() < MAX_SESSIONS_PER_PRINCIPAL {
            return;
        }
        own.sort_unstable();
        let excess = own.len() + 1 - MAX_SESSIONS_PER_PRINCIPAL;
        for (_, id) in own.into_iter().take(excess) {
            self.end_family(&id);
        }
    }

    /// Rotates a refresh token: the presented one stops working and new tokens are issued.
    /// A token the session rotated away (one of its last [`MAX_ROTATED_KEPT`]) ends the
    /// session; any other that is not its newest is refused and changes nothing.
    ///
    /// # Errors
    /// `invalid_grant` for an unknown, expired, reused or other client's token;
    /// `invalid_scope` when `scope` asks for more than the session holds.
    pub fn refresh(
        &mut self,
        token: &str,
        client_id: &str,
        scope: Option<&str>,
        now_ms: i64,
    ) -> Result<Issued, OAuthError> {
        let now = now_ms.div_euclid(1000);
        let family_id = family_of(token).ok_or_else(invalid_refresh)?;
        let Some(family) = self.families.get(&family_id) else {
            return Err(invalid_refresh());
        };
        let Some((current, expires_at)) = family.refresh else {
            return Err(invalid_refresh());
        };
        let presented = digest(token);
        if !bool::from(presented.ct_eq(&current)) {
            let replayed = family
                .rotated
                .iter()
                .fold(subtle::Choice::from(0), |seen, old| {
                    seen | presented.ct_eq(old)
                });
            if !bool::from(replayed) {
                return Err(invalid_refresh());
            }
            self.end_family(&family_id);
            // Counted by the token endpoint, once the state file keeps the revocation.
            return Err(OAuthError {
                tells_of_revocation: true,
                ..OAuthError::invalid_grant(
                    "refresh token already used; the session has been revoked",
                )
                .ending()
            });
        }
        if expires_at <= now {
            self.end_family(&family_id);
            return Err(OAuthError::invalid_grant("refresh token expired").ending());
        }
        if family.principal.key_expires_at.is_some_and(|at| at <= now) {
            self.end_family(&family_id);
            return Err(
                OAuthError::invalid_grant("the API key this session acts for has expired").ending(),
            );
        }
        if family.client_id != client_id {
            return Err(OAuthError::invalid_grant(
                "refresh token was issued to another client",
            ));
        }
        if let Some(asked) = scope {
            let held: Vec<&str> = family.scope.split_whitespace().collect();
            if let Some(extra) = asked.split_whitespace().find(|word| !held.contains(word)) {
                return Err(OAuthError::invalid_scope(format!(
                    "scope '{extra}' was not granted to this session"
                )));
            }
        }
        let family_key = token.split_once('.').map_or("", |(key, _)| key);
        let refresh_token = format!("{family_key}.{}", random_token(32)?);
        let access_token = random_token(32)?;
        let access_digest = digest(&access_token);
        let Some(family) = self.families.get_mut(&family_id) else {
            return Err(invalid_refresh());
        };
        let access_expires_at = token_expiry(&family.principal, now, ACCESS_TOKEN_SECS);
        let refresh_expires_at = token_expiry(&family.principal, now, REFRESH_TOKEN_SECS);
        family.rotated.push_back(current);
        if family.rotated.len() > MAX_ROTATED_KEPT {
            family.rotated.pop_front();
        }
        family.refresh = Some((digest(&refresh_token), refresh_expires_at));
        family.access.push_back(access_digest);
        let mut retired = Vec::new();
        while family.access.len() > MAX_ACCESS_TOKENS_PER_SESSION {
            retired.extend(family.access.pop_front());
        }
        let scope = family.scope.clone();
        for old in retired {
            self.access.remove(&old);
        }
        self.access.insert(
            access_digest,
            Access {
                family: family_id,
                expires_at: access_expires_at,
            },
        );
        Ok(Issued {
            access_token,
            expires_in: access_expires_at - now,
            refresh_token: Some(refresh_token),
            refresh_expires_in: refresh_expires_at - now,
            scope,
        })
    }

    /// Ends the session whose current refresh token this is, if `presenter` may: the whole
    /// token is compared (in constant time), not only the family half, which anyone who once
    /// saw a token of the session would know. A rotated-away token is no longer this
    /// session's, so it ends nothing (it is told apart from a made-up one only by the
    /// refresh grant, which ends the session on it).
    pub fn revoke_refresh(&mut self, token: &str, presenter: &Presenter<'_>) -> Revocation {
        let Some(family_id) = family_of(token) else {
            return Revocation::Unknown;
        };
        let Some(family) = self.families.get(&family_id) else {
            return Revocation::Unknown;
        };
        let current = family
            .refresh
            .is_some_and(|(current, _)| bool::from(digest(token).ct_eq(&current)));
        if !current {
            return Revocation::Unknown;
        }
        if !presenter.holds(family) {
            return Revocation::OtherClient;
        }
        self.end_family(&family_id);
        Revocation::Revoked
    }

    /// Ends every session signed in with the API key `key_id` of `org` (client credentials),
    /// as revoking the key must: its sessions would otherwise keep acting for it, and could
    /// even mint a new key. Returns how many there were.
    pub fn end_sessions_of_key(&mut self, key_id: &str, org: &str) -> usize {
        let ended: Vec<TokenDigest> = self
            .families
            .iter()
            .filter(|(_, family)| {
                let principal = &family.principal;
                principal.kind == PrincipalKind::ApiKey
                    && principal.id == key_id
                    && principal.org == org
            })
            .map(|(id, _)| *id)
            .collect();
        for id in &ended {
            self.end_family(id);
        }
        ended.len()
    }

    /// Stops one access token, if `presenter` may.
    pub fn revoke_access(&mut self, token: &str, presenter: &Presenter<'_>) -> Revocation {
        let access = digest(token);
        let Some(record) = self.access.get(&access) else {
            return Revocation::Unknown;
        };
        let Some(family) = self.families.get_mut(&record.family) else {
            return Revocation::Unknown;
        };
        if !presenter.holds(family) {
            return Revocation::OtherClient;
        }
        family.access.retain(|live| *live != access);
        self.access.remove(&access);
        Revocation::Revoked
    }

    /// The session an access token acts for.
    ///
    /// # Errors
    /// When the token is unknown (never issued, revoked or long gone) or expired.
    pub fn authenticate(&self, token: &str, now: i64) -> Result<&Family, Rejected> {
        let record = self.access.get(&digest(token)).ok_or(Rejected::Unknown)?;
        if record.expires_at <= now {
            return Err(Rejected::Expired);
        }
        self.families.get(&record.family).ok_or(Rejected::Unknown)
    }

    fn end_family(&mut self, family_id: &TokenDigest) {
        if let Some(family) = self.families.remove(family_id) {
            for access in family.access {
                self.access.remove(&access);
            }
        }
    }

    /// Forgets expired access tokens, sessions that can no longer be used, and device
    /// logins past their expiry.
    pub fn purge(&mut self, now_ms: i64) {
        self.purge_sessions(now_ms);
        self.devices.retain(|_, login| login.expires_at_ms > now_ms);
        let devices = &self.devices;
        self.user_codes
            .retain(|_, device| devices.contains_key(device));
    }

    /// Forgets expired access tokens and sessions that can no longer be used, and nothing
    /// else: what a read-back of the state file, which holds those and not device logins,
    /// purges. A read-back at a time that is then put back (a clock move the file refused)
    /// must not end the device logins that time would have, as it never comes.
    pub fn purge_sessions(&mut self, now_ms: i64) {
        let now = now_ms.div_euclid(1000);
        self.access.retain(|_, access| access.expires_at > now);
        let access = &self.access;
        let live = |token: &TokenDigest| access.contains_key(token);
        // Sessions with nothing left to act or renew with end; the others drop the access
        // tokens that expired. Changed one by one, so the state file writes only those.
        let (mut ended, mut thinned) = (HashSet::new(), Vec::new());
        for (id, family) in self.families.iter() {
            let refreshable = family.refresh.is_some_and(|(_, until)| until > now);
            let alive = family.access.iter().filter(|token| live(token)).count();
            if !refreshable && alive == 0 {
                ended.insert(*id);
            } else if alive < family.access.len() {
                thinned.push(*id);
            }
        }
        self.families.retain(|id, _| !ended.contains(id));
        for id in thinned {
            if let Some(family) = self.families.get_mut(&id) {
                family.access.retain(|token| live(token));
            }
        }
    }

    /// Registers a device login and returns its device code and user code.
    ///
    /// # Errors
    /// `temporarily_unavailable` when [`MAX_PENDING_DEVICE_LOGINS`] are waiting, or
    /// [`MAX_PENDING_DEVICE_LOGINS_PER_CLIENT`] started from `ip`; `server_error` without
    /// randomness.
    pub fn begin_device(
        &mut self,
        client_id: &str,
        ip: IpAddr,
        scope: String,
        challenge: String,
        now_ms: i64,
    ) -> Result<(String, String), OAuthError> {
        let from_ip = |devices: &HashMap<TokenDigest, DeviceLogin>| {
            devices.values().filter(|login| login.ip == ip).count()
        };
        if self.devices.len() >= MAX_PENDING_DEVICE_LOGINS
            || from_ip(&self.devices) >= MAX_PENDING_DEVICE_LOGINS_PER_CLIENT
        {
            self.purge(now_ms);
        }
        if from_ip(&self.devices) >= MAX_PENDING_DEVICE_LOGINS_PER_CLIENT {
            return Err(OAuthError::unavailable(
                "too many device logins from this address are waiting; try again later",
            ));
        }
        if self.devices.len() >= MAX_PENDING_DEVICE_LOGINS {
            return Err(OAuthError::unavailable(
                "too many device logins are waiting; try again later",
            ));
        }
        let device_code = random_token(32)?;
        let user_code = loop {
            let code = user_code()?;
            if !self.user_codes.contains_key(&code) {
                break code;
            }
        };
        let device = digest(&device_code);
        self.user_codes.insert(user_code.clone(), device);
        self.devices.insert(
            device,
            DeviceLogin {
                user_code: user_code.clone(),
                client_id: client_id.to_owned(),
                ip,
                scope,
                challenge,
                expires_at_ms: now_ms + DEVICE_CODE_SECS * 1000,
                interval_secs: DEVICE_INTERVAL_SECS,
                last_poll_ms: None,
                state: DeviceState::Pending,
            },
        );
        self.counters.device_authorizations += 1;
        Ok((device_code, user_code))
    }

    /// Approves (`Some(principal)`) or denies (`None`) the device login with this user
    /// code. Returns whether a pending, unexpired login had that code.
    pub fn decide_device(
        &mut self,
        user_code: &str,
        approve: Option<Principal>,
        now_ms: i64,
    ) -> bool {
        let Some(device) = self.user_codes.get(&normalize_user_code(user_code)) else {
            return false;
        };
        let Some(login) = self.devices.get_mut(device) else {
            return false;
        };
        if login.expires_at_ms <= now_ms || !matches!(login.state, DeviceState::Pending) {
            return false;
        }
        login.state = match approve {
            Some(principal) => DeviceState::Approved(principal),
            None => DeviceState::Denied,
        };
        true
    }

    /// One poll of the token endpoint for a device login. On approval the login is used up
    /// and the approved principal is returned with the login's scope, and the login as it
    /// was, to put back if its tokens are not handed out.
    ///
    /// # Errors
    /// The RFC 8628 polling errors, and `invalid_grant` for an unknown code, another
    /// client, or a `code_verifier` that does not match the challenge (which also ends the
    /// login).
    pub fn poll_device(
        &mut self,
        device_code: &str,
        client_id: &str,
        verifier: Option<&str>,
        now_ms: i64,
    ) -> Result<(Principal, String, Redeemed), OAuthError> {
        let device = digest(device_code);
        let Some(login) = self.devices.get_mut(&device) else {
            return Err(OAuthError::invalid_grant("unknown device code"));
        };
        if login.client_id != client_id {
            return Err(OAuthError::invalid_grant(
                "device code was issued to another client",
            ));
        }
        if login.expires_at_ms <= now_ms {
            self.forget_device(&device);
            return Err(OAuthError::new(
                400,
                codes::EXPIRED_TOKEN,
                "the device code has expired",
            ));
        }
        let too_soon = login
            .last_poll_ms
            .is_some_and(|last| now_ms - last < login.interval_secs * 1000);
        let last_poll_ms = login.last_poll_ms.replace(now_ms);
        if too_soon {
            login.interval_secs += i64::from(geopera_types::oidc::SLOW_DOWN_STEP_SECS);
            let interval = login.interval_secs;
            return Err(OAuthError::new(
                400,
                codes::SLOW_DOWN,
                format!("polling too fast; wait {interval} s between polls"),
            ));
        }
        let verified = verifier.is_some_and(|verifier| pkce_matches(verifier, &login.challenge));
        if !verified {
            self.forget_device(&device);
            return Err(OAuthError::invalid_grant(
                "PKCE verification failed: code_verifier does not match the code_challenge",
            ));
        }
        match &login.state {
            DeviceState::Pending => Err(OAuthError::new(
                400,
                codes::AUTHORIZATION_PENDING,
                "the user has not approved the login yet",
            )),
            DeviceState::Denied => {
                self.forget_device(&device);
                Err(OAuthError::new(
                    400,
                    codes::ACCESS_DENIED,
                    "the user denied the login",
                ))
            }
            DeviceState::Approved(principal) => {
                let (principal, scope) = (principal.clone(), login.scope.clone());
                // As before this poll, so the one after a failure is not too soon.
                let mut before = login.clone();
                before.last_poll_ms = last_poll_ms;
                self.forget_device(&device);
                let redeemed = Redeemed {
                    device,
                    login: before,
                };
                Ok((principal, scope, redeemed))
            }
        }
    }

    /// Puts back a device login whose tokens were not handed out. Its user code may have
    /// gone to another login meanwhile (one chance in 20^8), and then it stays used up.
    pub fn unredeem(&mut self, redeemed: Redeemed) {
        let Redeemed { device, login } = redeemed;
        if self.user_codes.contains_key(&login.user_code) {
            return;
        }
        self.user_codes.insert(login.user_code.clone(), device);
        self.devices.insert(device, login);
    }

    fn forget_device(&mut self, device: &TokenDigest) {
        if let Some(login) = self.devices.remove(device) {
            self.user_codes.remove(&login.user_code);
        }
    }
}

fn invalid_refresh() -> OAuthError {
    OAuthError::invalid_grant("unknown, revoked or expired refresh token")
}

/// The family a refresh token names, if it has the shape of one.
fn family_of(token: &str) -> Option<TokenDigest> {
    let (key, secret) = token.split_once('.')?;
    (!key.is_empty() && !secret.is_empty()).then(|| digest(key))
}

/// Whether `verifier` is a valid RFC 7636 verifier whose S256 challenge is `challenge`.
pub fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-._~".contains(&byte));
    if !well_formed {
        return false;
    }
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    same_secret(&computed, challenge)
}

/// Letters that cannot be mistaken for one another or spell words by accident.
const USER_CODE_LETTERS: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";

/// A user code like `WDJB-MJHT` (20^8 possibilities), from the OS generator.
fn user_code() -> Result<String, OAuthError> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|_| OAuthError::server("no randomness available"))?;
    let letters: String = bytes
        .iter()
        .map(|byte| char::from(USER_CODE_LETTERS[usize::from(*byte) % USER_CODE_LETTERS.len()]))
        .collect();
    Ok(format!("{}-{}", &letters[..4], &letters[4..]))
}

/// A user code as typed (any case, with or without the dash or spaces) in the stored form.
pub fn normalize_user_code(typed: &str) -> String {
    let letters: String = typed
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|letter| letter.to_ascii_uppercase())
        .collect();
    if letters.len() == 8 {
        format!("{}-{}", &letters[..4], &letters[4..])
    } else {
        letters
    }
}

#[cfg(test)]
#[path = "sessions_tests.rs"]
mod tests;
