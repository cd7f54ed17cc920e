//! Where and as whom Geopera's sign-in happens: the identity provider's realm and its
//! OpenID Connect endpoints, the two clients, and the grants and scope they use.
//!
//! The SDK and the CLI sign in with these and the emulator serves them, so the three cannot
//! drift apart on a path or a client id.

/// The realm every Geopera identity lives in, below the API's base URL: the issuer.
pub const REALM: &str = "/realms/public";

/// Where the OpenID Connect endpoints (`token`, `auth/device`, `userinfo`, ...) live, below
/// the issuer.
pub const PROTOCOL: &str = "/protocol/openid-connect";

/// The public client of the password, refresh-token and device-code grants: the one the
/// command-line clients sign in as, with no secret.
pub const PUBLIC_CLIENT_ID: &str = "geopera-cli";

/// The confidential client of the client-credentials grant, whose secret is an API key.
pub const KEY_CLIENT_ID: &str = "geopera";

/// The device-code grant's type (RFC 8628, section 3.4).
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// How many seconds a device-code poll answered `slow_down` adds to the polling interval, for
/// that poll and every one after it (RFC 8628, section 3.5).
pub const SLOW_DOWN_STEP_SECS: u32 = 5;

/// The scope a session is asked for, and given, when no other is named.
pub const DEFAULT_SCOPE: &str = "openid profile";

/// The token endpoint: every grant, and refreshes (RFC 6749, section 3.2).
pub const TOKEN_ENDPOINT: &str = "token";

/// The device authorization endpoint, where a device flow begins (RFC 8628, section 3.1).
pub const DEVICE_ENDPOINT: &str = "auth/device";

/// The userinfo endpoint, which names the holder of an access token (OpenID Connect Core,
/// section 5.3).
pub const USERINFO_ENDPOINT: &str = "userinfo";

/// The endpoint that ends a session, given its refresh token.
pub const LOGOUT_ENDPOINT: &str = "logout";

/// The token revocation endpoint (RFC 7009).
pub const REVOKE_ENDPOINT: &str = "revoke";

/// The issuer of the provider that serves the API at `base_url` (given without a trailing
/// slash), which the endpoints are found below.
///
/// ```
/// assert_eq!(
///     geopera_types::oidc::issuer("https://api.example.com"),
///     "https://api.example.com/realms/public"
/// );
/// ```
pub fn issuer(base_url: &str) -> String {
    format!("{base_url}{REALM}")
}

/// The OpenID Connect endpoint `name` of the provider whose issuer is `issuer`.
///
/// ```
/// use geopera_types::oidc::{endpoint, issuer, TOKEN_ENDPOINT};
/// assert_eq!(
///     endpoint(&issuer("https://api.example.com"), TOKEN_ENDPOINT),
///     "https://api.example.com/realms/public/protocol/openid-connect/token"
/// );
/// ```
pub fn endpoint(issuer: &str, name: &str) -> String {
    format!("{issuer}{PROTOCOL}/{name}")
}

/// The error codes of OAuth answers that the SDK, the CLI and the emulator name: RFC 6749
/// (section 5.2), RFC 8628 (section 3.5), RFC 7009 (section 2.2.1) and RFC 6750 (section
/// 3.1).
pub mod codes {
    /// The request is malformed: a parameter missing, repeated or not understood.
    pub const INVALID_REQUEST: &str = "invalid_request";
    /// The client is unknown or failed to authenticate.
    pub const INVALID_CLIENT: &str = "invalid_client";
    /// The password, refresh token or device code is wrong, spent, expired or revoked.
    pub const INVALID_GRANT: &str = "invalid_grant";
    /// The client may not use this grant.
    pub const UNAUTHORIZED_CLIENT: &str = "unauthorized_client";
    /// The provider does not know this grant.
    pub const UNSUPPORTED_GRANT_TYPE: &str = "unsupported_grant_type";
    /// The scope asked for is unknown or wider than the client may have.
    pub const INVALID_SCOPE: &str = "invalid_scope";
    /// The person declined, or the provider refused, the request.
    pub const ACCESS_DENIED: &str = "access_denied";
    /// The provider failed; the request may succeed later.
    pub const SERVER_ERROR: &str = "server_error";
    /// The provider cannot answer now; the request may succeed later.
    pub const TEMPORARILY_UNAVAILABLE: &str = "temporarily_unavailable";
    /// A device flow's person has not finished signing in: poll again after the interval.
    pub const AUTHORIZATION_PENDING: &str = "authorization_pending";
    /// A device flow is polled too fast: poll again, [`SLOW_DOWN_STEP_SECS`] less often.
    ///
    /// [`SLOW_DOWN_STEP_SECS`]: super::SLOW_DOWN_STEP_SECS
    pub const SLOW_DOWN: &str = "slow_down";
    /// A device flow's code expired before its person signed in.
    pub const EXPIRED_TOKEN: &str = "expired_token";
    /// The provider cannot revoke this kind of token.
    pub const UNSUPPORTED_TOKEN_TYPE: &str = "unsupported_token_type";
    /// An access token sent to a protected endpoint is unknown, expired or revoked.
    pub const INVALID_TOKEN: &str = "invalid_token";

    /// The codes with which a token endpoint refuses a grant (RFC 6749, section 5.2): asked
    /// again the same way, it would refuse again, so a session they answer is over. Any other
    /// answer of a client error's status (a gateway's page, a provider starting up) refuses
    /// nothing the session holds.
    pub const GRANT_REFUSALS: [&str; 7] = [
        INVALID_REQUEST,
        INVALID_CLIENT,
        INVALID_GRANT,
        UNAUTHORIZED_CLIENT,
        UNSUPPORTED_GRANT_TYPE,
        INVALID_SCOPE,
        ACCESS_DENIED,
    ];
}
