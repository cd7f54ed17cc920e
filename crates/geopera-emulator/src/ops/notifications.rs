//! `notifications.*`: what happened to the organization's orders, jobs and uploads, with
//! which of it the caller has read or dismissed.
//!
//! Why derived from the records rather than kept as a feed: each notification is a fact the
//! records already hold (an order fulfilled or cancelled at a time, a job finished, an upload
//! ended), so the feed is rebuilt on each read and cannot disagree with them, on any clock.
//! Only the marks — read, dismissed — are kept, one record per notification marked.

use geopera_types::models::{Empty, NotificationRef, NotificationsListInput};
use geopera_types::rfc3339::format_date_time;
use serde_json::{json, Map, Value};

use super::{Ctx, Outcome, MAX_PAGE_SIZE};
use crate::error::ApiError;
use crate::jobs::finished_between;
use crate::records::OrderKind;
use crate::resources::{page, Family};
use crate::rng::fnv;
use crate::state::Inner;
use crate::webhooks::{Event, ORDER_CANCELLED, ORDER_FULFILLED, UPLOAD_COMPLETED, UPLOAD_FAILED};

/// One notification as rebuilt: its id, the event behind it, and the caller's marks.
struct Notice {
    id: String,
    event: Event,
    read: bool,
    dismissed: bool,
}

pub(crate) fn list(ctx: &Ctx<'_>, input: NotificationsListInput) -> Outcome {
    let mut inner = ctx.shared.lock();
    let notices: Vec<Notice> = notices(&mut inner, ctx)
        .into_iter()
        .filter(|n| !(n.dismissed || (input.unread_only && n.read)))
        .collect();
    let unread = notices.iter().filter(|n| !n.read).count();
    let (found, limit, offset, total) = page(notices, input.limit, input.offset, MAX_PAGE_SIZE);
    let notifications: Vec<Value> = found.iter().map(notice_json).collect();
    Ok(ctx.ok(&json!({
        "notifications": notifications,
        "total": total,
        "unread": unread,
        "limit": limit,
        "offset": offset,
    })))
}

pub(crate) fn unread_count(ctx: &Ctx<'_>, _input: Empty) -> Outcome {
    let mut inner = ctx.shared.lock();
    let unread = notices(&mut inner, ctx)
        .iter()
        .filter(|n| !n.read && !n.dismissed)
        .count();
    Ok(ctx.ok(&json!({"unread_count": unread})))
}

pub(crate) fn mark_read(ctx: &Ctx<'_>, input: NotificationRef) -> Outcome {
    mark(ctx, &input.notification_id, "read")
}

pub(crate) fn dismiss(ctx: &Ctx<'_>, input: NotificationRef) -> Outcome {
    mark(ctx, &input.notification_id, "dismissed")
}

pub(crate) fn mark_all_read(ctx: &Ctx<'_>, _input: Empty) -> Outcome {
    let now = ctx.now();
    let mut inner = ctx.shared.lock();
    let unread: Vec<String> = notices(&mut inner, ctx)
        .into_iter()
        .filter(|n| !n.read && !n.dismissed)
        .map(|n| n.id)
        .collect();
    for id in &unread {
        set_mark(&mut inner, ctx.org, id, "read", now)?;
    }
    Ok(ctx.ok(&json!({"marked_count": unread.len()})))
}

/// Sets one mark on the caller's notification `id` and answers the notification.
///
/// # Errors
/// 404 when the organization has no such notification.
fn mark(ctx: &Ctx<'_>, id: &str, which: &str) -> Outcome {
    let now = ctx.now();
    let mut inner = ctx.shared.lock();
    if !notices(&mut inner, ctx).iter().any(|n| n.id == id) {
        return Err(ApiError::not_found(format!(
            "notification '{id}' not found"
        )));
    }
    set_mark(&mut inner, ctx.org, id, which, now)?;
    let notice = notices(&mut inner, ctx)
        .into_iter()
        .find(|n| n.id == id)
        .ok_or_else(|| ApiError::not_found(format!("notification '{id}' not found")))?;
    Ok(ctx.ok(&notice_json(&notice)))
}

fn set_mark(inner: &mut Inner, org: &str, id: &str, which: &str, now: i64) -> Result<(), ApiError> {
    let existing = inner
        .resources
        .list(Family::NotificationMark, org, Some(id))
        .first()
        .map(|r| r.id.clone());
    match existing {
        Some(mark_id) => {
            let mark =
                inner
                    .resources
                    .get_mut(Family::NotificationMark, org, Some(id), &mark_id)?;
            mark.set(which, Some(true));
            mark.updated_at = now;
        }
        None => {
            let mut fields = Map::new();
            fields.insert(which.to_owned(), Value::Bool(true));
            inner.resources.create(
                &mut inner.rng,
                Family::NotificationMark,
                org,
                Some(id),
                now,
                fields,
            )?;
        }
    }
    Ok(())
}

/// The organization's notifications up to now, newest first.
fn notices(inner: &mut Inner, ctx: &Ctx<'_>) -> Vec<Notice> {
    let now = ctx.now();
    let order_ids = inner.org(ctx.org, ctx.shared.seed, now).orders.clone();
    let mut events: Vec<Event> = Vec::new();
    for order in order_ids.iter().filter_map(|id| inner.orders.get(id)) {
        // Orders from before the organization was first seen are history, not news.
        if !order.detail.is_object() {
            continue;
        }
        let kind = if order.kind == OrderKind::Tasking {
            "tasking"
        } else {
            "archive"
        };
        let data = json!({"order_id": order.id, "type": kind, "display_name": order.display_name});
        if let Some(at) = order.cancelled_at.filter(|at| *at <= now) {
            events.push(order_event(
                ORDER_CANCELLED,
                order.id.clone(),
                ctx.org,
                data,
                at,
            ));
        } else if let Some(at) = order.fulfilled_at().filter(|at| *at <= now) {
            events.push(order_event(
                ORDER_FULFILLED,
                order.id.clone(),
                ctx.org,
                data,
                at,
            ));
        }
    }
    events.extend(
        finished_between(&inner.resources, i64::MIN, now)
            .into_iter()
            .filter(|event| event.org == ctx.org),
    );
    for upload in inner.resources.list(Family::Upload, ctx.org, None) {
        let event_type = match upload.str("status") {
            Some("completed") => UPLOAD_COMPLETED,
            Some("failed") => UPLOAD_FAILED,
            _ => continue,
        };
        events.push(Event {
            event_type,
            org: ctx.org.to_owned(),
            entity_type: "upload",
            entity_id: upload.id.clone(),
            data: json!({"upload_id": upload.id, "project_id": upload.fields.get("project_id")}),
            at: upload.updated_at,
        });
    }
    events.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| b.entity_id.cmp(&a.entity_id)));
    events
        .into_iter()
        .map(|event| {
            let id = format!(
                "ntf_{:016x}",
                fnv(&format!("{}/{}", event.event_type, event.entity_id))
            );
            let marks = inner
                .resources
                .list(Family::NotificationMark, ctx.org, Some(&id));
            let flag = |name: &str| {
                marks
                    .first()
                    .and_then(|m| m.fields.get(name))
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
            };
            let (read, dismissed) = (flag("read"), flag("dismissed"));
            Notice {
                id,
                event,
                read,
                dismissed,
            }
        })
        .collect()
}

fn order_event(event_type: &'static str, id: String, org: &str, data: Value, at: i64) -> Event {
    Event {
        event_type,
        org: org.to_owned(),
        entity_type: "order",
        entity_id: id,
        data,
        at,
    }
}

fn notice_json(notice: &Notice) -> Value {
    let event = &notice.event;
    json!({
        "id": notice.id,
        "type": event.event_type,
        "entity_type": event.entity_type,
        "entity_id": event.entity_id,
        "data": event.data,
        "created_at": format_date_time(event.at),
        "read": notice.read,
        "dismissed": notice.dismissed,
    })
}
