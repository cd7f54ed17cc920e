//! `event_subscriptions.*` and `webhooks.drain`: subscriptions of the caller's organization,
//! and delivering what is due. The rules live in `crate::webhooks`.

use geopera_types::models::{
    CreateSubscriptionInput, DeleteSubscriptionInput, DrainInput, GetSubscriptionInput,
    ListSubscriptionsInput, TestSubscriptionInput, UpdateSubscriptionInput,
};
use geopera_types::JsonObject;
use http::StatusCode;
use serde_json::{json, Value};

use super::{Ctx, Outcome};
use crate::error::ApiError;
use crate::records::{Pending, SigningSecret, Subscription};
use crate::webhooks::{
    deliver_due, endpoint_problem, headers_problem, post, Event, DEFAULT_DRAIN_LIMIT,
    MAX_SUBSCRIPTIONS_PER_ORG, WEBHOOK_TEST,
};

/// The longest `event_type` accepted.
const MAX_EVENT_TYPE_CHARS: usize = 100;
/// The longest `description` accepted.
const MAX_DESCRIPTION_CHARS: usize = 1000;
/// The most `filter_config` entries accepted, and their largest JSON size.
const MAX_FILTERS: usize = 20;
const MAX_FILTER_BYTES: usize = 4096;

pub(crate) fn create(ctx: &Ctx<'_>, input: CreateSubscriptionInput) -> Outcome {
    let event_type = input.event_type.trim().to_owned();
    if event_type.is_empty() || event_type.chars().count() > MAX_EVENT_TYPE_CHARS {
        return Err(ApiError::invalid(
            &["event_type"],
            format!("event_type must be 1 to {MAX_EVENT_TYPE_CHARS} characters"),
        ));
    }
    check_endpoint(ctx, &input.endpoint_url)?;
    let filter_config = input.filter_config.unwrap_or_default();
    check_filters(&filter_config)?;
    let headers = input.headers.unwrap_or_default();
    check_headers(&headers)?;
    check_description(input.description.as_deref())?;
    let secret = SigningSecret::generate().map_err(|_| {
        ApiError::problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "no randomness available for a signing secret",
        )
    })?;
    let mut inner = ctx.shared.lock();
    // Read under the lock, as every sweep's (see `deliver_due`).
    let now_ms = ctx.shared.clock.now_millis();
    let now = now_ms.div_euclid(1000);
    // Order changes before this subscription existed are not for it.
    inner.sweep(now_ms);
    if inner.webhooks.count(ctx.org) >= MAX_SUBSCRIPTIONS_PER_ORG {
        return Err(ApiError::invalid(
            &[],
            format!(
                "an organization may hold at most {MAX_SUBSCRIPTIONS_PER_ORG} subscriptions; \
                 delete one first"
            ),
        ));
    }
    let subscription = Subscription {
        id: format!("sub_{}", inner.rng.hex(12)),
        org: ctx.org.to_owned(),
        event_type,
        endpoint_url: input.endpoint_url,
        filter_config,
        headers,
        description: input.description,
        active: true,
        created_at: now,
        updated_at: now,
        secret,
    };
    let reply = subscription.to_json(true);
    inner
        .webhooks
        .subscriptions
        .insert(subscription.id.clone(), subscription);
    Ok(ctx.ok(&reply))
}

pub(crate) fn get(ctx: &Ctx<'_>, input: GetSubscriptionInput) -> Outcome {
    let inner = ctx.shared.lock();
    let subscription = own(
        &inner.webhooks.subscriptions,
        ctx.org,
        &input.subscription_id,
    )?;
    Ok(ctx.ok(&subscription.to_json(false)))
}

/// The contract gives this operation no paging fields, so it answers every match; an
/// organization holds at most [`MAX_SUBSCRIPTIONS_PER_ORG`].
pub(crate) fn list(ctx: &Ctx<'_>, input: ListSubscriptionsInput) -> Outcome {
    let inner = ctx.shared.lock();
    let mut found: Vec<&Subscription> = inner
        .webhooks
        .subscriptions
        .values()
        .filter(|subscription| subscription.org == ctx.org)
        .filter(|subscription| {
            input
                .event_type
                .as_deref()
                .is_none_or(|wanted| subscription.event_type == wanted)
        })
        .filter(|subscription| {
            input
                .active
                .is_none_or(|wanted| subscription.active == wanted)
        })
        .collect();
    found.sort_by(|a, b| {
        a.created_at
            .cmp(&b.created_at)
            .then_with(|| a.id.cmp(&b.id))
    });
    let subscriptions: Vec<Value> = found.iter().map(|s| s.to_json(false)).collect();
    Ok(ctx.ok(&json!({"total": subscriptions.len(), "subscriptions": subscriptions})))
}

pub(crate) fn update(ctx: &Ctx<'_>, input: UpdateSubscriptionInput) -> Outcome {
    if let Some(url) = &input.endpoint_url {
        check_endpoint(ctx, url)?;
    }
    if let Some(filters) = &input.filter_config {
        check_filters(filters)?;
    }
    if let Some(headers) = &input.headers {
        check_headers(headers)?;
    }
    check_description(input.description.as_deref())?;
    let mut inner = ctx.shared.lock();
    // Read under the lock, as every sweep's (see `deliver_due`).
    let now_ms = ctx.shared.clock.now_millis();
    inner.sweep(now_ms);
    let id = input.subscription_id;
    let Some(subscription) = inner
        .webhooks
        .subscriptions
        .get_mut(&id)
        .filter(|subscription| subscription.org == ctx.org)
    else {
        return Err(not_found(&id));
    };
    if let Some(url) = input.endpoint_url {
        subscription.endpoint_url = url;
    }
    if let Some(filters) = input.filter_config {
        subscription.filter_config = filters;
    }
    if let Some(headers) = input.headers {
        subscription.headers = headers;
    }
    if let Some(active) = input.active {
        subscription.active = active;
    }
    if let Some(description) = input.description {
        subscription.description = Some(description);
    }
    subscription.updated_at = now_ms.div_euclid(1000);
    Ok(ctx.ok(&subscription.to_json(false)))
}

/// Deletes the subscription; deliveries still waiting for it are dropped.
pub(crate) fn delete(ctx: &Ctx<'_>, input: DeleteSubscriptionInput) -> Outcome {
    let mut inner = ctx.shared.lock();
    let id = input.subscription_id;
    own(&inner.webhooks.subscriptions, ctx.org, &id)?;
    inner.webhooks.subscriptions.remove(&id);
    inner.webhooks.drop_deliveries_for(&id);
    Ok(ctx.ok(&json!({"deleted": true})))
}

/// Sends one `webhook.test` event to the subscription now, once, and reports how it went;
/// a failed test is not retried.
pub(crate) async fn test(ctx: &Ctx<'_>, input: TestSubscriptionInput) -> Outcome {
    let now_ms = ctx.shared.clock.now_millis();
    let attempt = {
        let mut inner = ctx.shared.lock();
        let subscription = own(
            &inner.webhooks.subscriptions,
            ctx.org,
            &input.subscription_id,
        )?;
        let event = Event {
            event_type: WEBHOOK_TEST,
            org: ctx.org.to_owned(),
            entity_type: "event_subscription",
            entity_id: subscription.id.clone(),
            data: json!({"subscription_id": subscription.id, "test": true}),
            at: now_ms.div_euclid(1000),
        };
        let event_id = format!("evt_{}", inner.rng.hex(12));
        let pending = Pending {
            // Sent at once, never queued.
            seq: 0,
            event_id: event_id.clone(),
            event_type: WEBHOOK_TEST.to_owned(),
            subscription_id: input.subscription_id.clone(),
            body: event.body_text(&event_id),
            attempts: 0,
            due_ms: now_ms,
            last_error: None,
        };
        // Even an inactive subscription can be tested.
        let allow_local = ctx.shared.allow_local_webhooks;
        inner.attempt_any(pending, allow_local)
    };
    let Some(attempt) = attempt else {
        return Err(not_found(&input.subscription_id));
    };
    let delivered = post(&ctx.shared.webhook_client, &attempt).await;
    Ok(ctx.ok(&json!({
        "status": if delivered.ok() { "delivered" } else { "failed" },
        "delivered": delivered.ok(),
        "http_status": delivered.http_status,
        "error": delivered.error,
        "event_id": attempt.pending.event_id,
        "event_type": WEBHOOK_TEST,
    })))
}

/// Delivers what is due on the emulator's clock (at most `limit`, default 2000).
pub(crate) async fn drain(ctx: &Ctx<'_>, input: DrainInput) -> Outcome {
    let limit = input
        .limit
        .and_then(|limit| usize::try_from(limit).ok())
        .unwrap_or(DEFAULT_DRAIN_LIMIT)
        .clamp(1, DEFAULT_DRAIN_LIMIT);
    let drained = deliver_due(ctx.shared, limit).await;
    Ok(ctx.ok(&json!({
        "drained": drained.delivered,
        "failed": drained.failed,
        "given_up": drained.given_up,
        "discarded": drained.discarded,
        "remaining": drained.remaining,
    })))
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("subscription '{id}' not found"))
}

/// The caller's own subscription; another organization's is as unknown as a missing one.
fn own<'a>(
    subscriptions: &'a std::collections::HashMap<String, Subscription>,
    org: &str,
    id: &str,
) -> Result<&'a Subscription, ApiError> {
    subscriptions
        .get(id)
        .filter(|subscription| subscription.org == org)
        .ok_or_else(|| not_found(id))
}

fn check_endpoint(ctx: &Ctx<'_>, url: &str) -> Result<(), ApiError> {
    match endpoint_problem(url, ctx.shared.allow_local_webhooks) {
        Some(problem) => Err(ApiError::invalid(&["endpoint_url"], problem)),
        None => Ok(()),
    }
}

fn check_filters(filters: &JsonObject) -> Result<(), ApiError> {
    let size = serde_json::to_string(filters).map_or(usize::MAX, |text| text.len());
    if filters.len() > MAX_FILTERS || size > MAX_FILTER_BYTES {
        return Err(ApiError::invalid(
            &["filter_config"],
            format!(
                "filter_config may hold at most {MAX_FILTERS} entries and \
                 {MAX_FILTER_BYTES} bytes"
            ),
        ));
    }
    Ok(())
}

fn check_headers(headers: &geopera_types::models::DeliveryHeaders) -> Result<(), ApiError> {
    match headers_problem(headers) {
        Some(problem) => Err(ApiError::invalid(&["headers"], problem)),
        None => Ok(()),
    }
}

fn check_description(description: Option<&str>) -> Result<(), ApiError> {
    if description.is_some_and(|text| text.chars().count() > MAX_DESCRIPTION_CHARS) {
        return Err(ApiError::invalid(
            &["description"],
            format!("description must be at most {MAX_DESCRIPTION_CHARS} characters"),
        ));
    }
    Ok(())
}
