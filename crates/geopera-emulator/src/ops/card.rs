//! Charges to an organization's card: top-ups, automatic top-ups and approved credit
//! purchases are paid with its default payment method, off-session, so each asks here
//! whether there is one and answers the same 402 when there is not.

use http::StatusCode;
use serde_json::Value;

use crate::error::ApiError;
use crate::resources::{Family, Resources};

/// Whether `org` has a default payment method: the card that top-ups, automatic top-ups and
/// approved credit purchases charge. Another attached card is not charged until
/// `payment_methods.set_default` chooses it, as with the payment provider's off-session
/// charges, so it does not count.
pub(crate) fn has_default_card(resources: &Resources, org: &str) -> bool {
    resources
        .list(Family::PaymentMethod, org, None)
        .iter()
        .any(|method| method.fields.get("isDefault") == Some(&Value::Bool(true)))
}

/// The 402 for `what`, a charge to the default card of an organization that has none: a
/// payment the API cannot take. Its detail says how to get one, since nothing in the
/// contract tells a client that a card is needed.
pub(crate) fn no_default_card(what: &str) -> ApiError {
    ApiError::problem(
        StatusCode::PAYMENT_REQUIRED,
        format!(
            "attach a payment method first: {what} charges the organization's default card, \
             and it has none (payment_methods.attach; the first card attached becomes the \
             default, and payment_methods.set_default chooses another)"
        ),
    )
}
