//! What the API does that its contract does not say, where the generator states it too.
//!
//! Like `rate.rs`, this file names nothing outside itself: `geopera-codegen` compiles it
//! through `#[path]`, so that the docs it writes and the descriptors' behaviour read one list.

/// The operations the API answers with a `307` to where their result is stored (an image on
/// its host), where the contract documents a `200` with JSON: the redirect is the answer.
pub const ANSWERED_WITH_REDIRECT: [&str; 2] =
    ["catalog.image.quicklook", "catalog.image.thumbnail"];
