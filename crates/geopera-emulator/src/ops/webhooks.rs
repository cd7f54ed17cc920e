//! `webhooks.*`: the emulator delivers no webhooks, so there is never anything to drain.

use geopera_types::models::DrainInput;
use serde_json::json;

use super::{Ctx, Outcome};

pub(crate) fn drain(ctx: &Ctx<'_>, _input: DrainInput) -> Outcome {
    Ok(ctx.ok(&json!({"drained": 0, "remaining": 0})))
}
