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

/// The OpenID Connect endpoint `name` of the provider whose issuer is `issuer`.
///
/// ```
/// use geopera_types::oidc::{endpoint, REALM};
/// let issuer = format!("https://api.example.com{REALM}");
/// assert_eq!(
///     endpoint(&issuer, "token"),
///     "https://api.example.com/realms/public/protocol/openid-connect/token"
/// );
/// ```
pub fn endpoint(issuer: &str, name: &str) -> String {
    format!("{issuer}{PROTOCOL}/{name}")
}
