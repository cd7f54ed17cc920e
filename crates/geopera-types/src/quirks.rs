//! What the API does that its contract does not say, where the generator states it too.
//!
//! Like `rate.rs`, this file names nothing of this crate outside itself (only `serde_json`,
//! which the generator has too): `geopera-codegen` compiles it through `#[path]`, so that the
//! docs it writes and the descriptors' behaviour read one list.

/// The operations the API answers with a `307` to where their result is stored (an image on
/// its host), where the contract documents a `200` with JSON: the redirect is the answer.
pub const ANSWERED_WITH_REDIRECT: [&str; 2] =
    ["catalog.image.quicklook", "catalog.image.thumbnail"];

/// The answer to an operation the API answers with a redirect (one of the list above) when
/// that redirect is not followed: the redirect's status and the address it names, as JSON
/// text. The SDK decodes it as the operation's output and the CLI prints it, so both say
/// the same.
pub fn redirect_answer(status: u16, location: &str) -> String {
    serde_json::json!({ "status": status, "location": location }).to_string()
}
