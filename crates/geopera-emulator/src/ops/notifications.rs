//! `notifications.*`: what happened to the organization's orders, jobs and uploads, with
//! which of it the caller has read or dismissed.
//!
//! Why derived from the records rather than kept as a feed: each notification is a fact the
//! records already hold (an order fulfilled or cancelled at a time, a job finished, an upload
//! ended), so the feed is rebuilt on each read and cannot disagree with them, on any clock.
//! Only the marks — read, dismissed — are kept, one record per notification and caller
//! (the key or user, as the spec's inbox is the caller's): one member reading a notification
//! leaves it unread for the others. `mark_all_read` keeps one record per caller instead, of
//! the moment up to which everything reads as read ([`READ_THROUGH`]). Once the marks would
//! fill their bound, those of notifications no longer there go, then those of the oldest
//! notifications, which read unread again, and last the records of callers written longest
//! ago.

use std::collections::{HashMap, HashSet};

use geopera_types::models::{Empty, NotificationRef, NotificationsListInput};
use geopera_types::rfc3339::format_date_time;
use geopera_types::subscriptions::{DATA_ORDER_ID, DATA_UPLOAD_ID};
use geopera_types::uploads::UploadStatus;
use serde_json::{json, Map, Value};

use super::{Ctx, Outcome, MAX_PAGE_SIZE};
use crate::error::ApiError;
use crate::jobs::finished_by;
use crate::resources::{page, Family, Resource, Resources, MAX_PER_ORG};
use crate::rng::fnv;
use crate::state::Inner;
use crate::webhooks::{Event, ORDER_CANCELLED, ORDER_FULFILLED, UPLOAD_COMPLETED, UPLOAD_FAILED};

/// The mark record's field naming whose mark it is.
const PRINCIPAL: &str = "principal";

/// The member of a caller's one mark without a notification (its parent) that says it read
/// every notification from before that moment (Unix seconds): what `mark_all_read` leaves,
/// rather than a mark per notification, which a long history would need more of than the
/// organization may hold. Before it, not at it: what happens later in the same second (on a
/// frozen clock, the same instant) is news, so the notifications of that second it read are
/// named in the same record ([`READ_AT_THROUGH`]).
const READ_THROUGH: &str = "read_through";

/// The member of the [`READ_THROUGH`] record naming the notifications `mark_all_read` found
/// at its moment or after it (an upload's end is stamped with the time it ended, which a clock
/// set back since may not have reached), which read as read too.
const READ_AT_THROUGH: &str = "read_at_through";

/// The member of the [`READ_THROUGH`] record holding how many times the clock had been set
/// back ([`crate::clock::SetBack`]) when it was last written. Read once the clock was set back
/// since, the record covers only what came before the reading the clock was set back to: what
/// happens after the move back is news, though its time may lie before the record's moment.
const READ_SET_BACKS: &str = "read_set_backs";

/// The most notifications a [`READ_THROUGH`] record names. More at its second (a frozen
/// clock's history) are read whole, what comes later in that second too, rather than a record
/// growing with every notification the organization has for each caller.
const MAX_READ_AT_THROUGH: usize = 1_000;

/// A caller's [`READ_THROUGH`] record as read: the moment, the notifications it names, and
/// the record's id.
struct ReadThrough {
    through: i64,
    at_through: HashSet<String>,
    id: String,
    /// When the record was last written (its `updated_at`).
    written: i64,
}

impl ReadThrough {
    /// Whether the record says the notification `id` of `at` was read.
    fn covers(&self, id: &str, at: i64) -> bool {
        at < self.through || self.at_through.contains(id)
    }
}

/// How many marks go at once when the organization's marks fill their bound and must make
/// room ([`Inbox::make_room_for_a_mark`]).
const MARKS_RETIRED_AT_ONCE: usize = MAX_PER_ORG / 10;

/// One notification as rebuilt: its id, the event behind it, and the caller's marks.
struct Notice {
    id: String,
    event: Event,
    read: bool,
    dismissed: bool,
}

/// The organization's notifications as rebuilt for one call, with its marks indexed by the
/// notification each marks.
///
/// Why an index: an organization may hold as many marks as notifications, up to
/// [`MAX_PER_ORG`] (a full book of orders, every one read),
/// and every call runs under the emulator's one lock. Looking each notification's mark up
/// among all the marks made one call cost the square of that, held every other
/// organization's calls for many seconds, and made `mark_all_read` cost it once more per
/// mark. Built once per call, the index keeps a call linear in what the organization holds,
/// and marks are set through it.
struct Inbox {
    /// Newest first.
    notices: Vec<Notice>,
    /// The id of each mark, by the id of the notification it marks.
    marks: HashMap<String, String>,
    /// The caller's moment before which every notification reads as read
    /// ([`READ_THROUGH`]).
    read_through: Option<ReadThrough>,
    /// The clock's reading the inbox was built at, under the state's lock (Unix seconds).
    now: i64,
    /// The clock's moves back when it was built.
    set_back: crate::clock::SetBack,
}

pub(crate) fn list(ctx: &Ctx<'_>, input: NotificationsListInput) -> Outcome {
    let mut inner = ctx.shared.lock();
    let notices: Vec<Notice> = Inbox::of(&mut inner, ctx)
        .notices
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
    let unread = Inbox::of(&mut inner, ctx)
        .notices
        .iter()
        .filter(|n| !n.read && !n.dismissed)
        .count();
    Ok(ctx.ok(&json!({"unread_count": unread})))
}

pub(crate) fn mark_read(ctx: &Ctx<'_>, input: NotificationRef) -> Outcome {
    mark(ctx, &input.notification_id, Flag::Read)
}

pub(crate) fn dismiss(ctx: &Ctx<'_>, input: NotificationRef) -> Outcome {
    mark(ctx, &input.notification_id, Flag::Dismissed)
}

/// Every notification listed now reads as read for the caller: one record says up to when
/// ([`READ_THROUGH`]), however many there are, and the caller's marks it makes redundant go.
pub(crate) fn mark_all_read(ctx: &Ctx<'_>, _input: Empty) -> Outcome {
    let mut inner = ctx.shared.lock();
    let mut inbox = Inbox::of(&mut inner, ctx);
    let unread = inbox
        .notices
        .iter()
        .filter(|notice| !notice.read && !notice.dismissed)
        .count();
    // The newest listed, and never past the clock (one reading, the inbox's): an upload that
    // ended before the clock was set back keeps its later time, and is named instead.
    let now = inbox.now;
    if let Some(through) = inbox
        .notices
        .iter()
        .map(|notice| notice.event.at.min(now))
        .max()
    {
        inbox.read_through(&mut inner, (ctx.org, ctx.principal), through)?;
    }
    Ok(ctx.ok(&json!({"marked_count": unread})))
}

/// Sets one mark on the caller's notification `id` and answers the notification.
///
/// # Errors
/// 404 when the organization has no such notification.
fn mark(ctx: &Ctx<'_>, id: &str, flag: Flag) -> Outcome {
    let now = ctx.now();
    let mut inner = ctx.shared.lock();
    let mut inbox = Inbox::of(&mut inner, ctx);
    let Some(at) = inbox.notices.iter().position(|n| n.id == id) else {
        return Err(ApiError::not_found(format!(
            "notification '{id}' not found"
        )));
    };
    inbox.set_mark(&mut inner, (ctx.org, ctx.principal), at, flag, now)?;
    Ok(ctx.ok(&notice_json(&inbox.notices[at])))
}

/// The two marks a notification may carry.
#[derive(Clone, Copy)]
enum Flag {
    Read,
    Dismissed,
}

impl Flag {
    /// The mark record's field, named as the notification's.
    const fn field(self) -> &'static str {
        match self {
            Flag::Read => "read",
            Flag::Dismissed => "dismissed",
        }
    }
}

impl Inbox {
    /// The organization's notifications up to now, newest first, with its marks.
    fn of(inner: &mut Inner, ctx: &Ctx<'_>) -> Inbox {
        let now = ctx.now();
        crate::uploads::expire_idle(inner, Some(ctx.org), ctx.shared.clock.now_millis());
        let order_ids = inner.org(ctx.org, ctx.shared.seed, now).orders.clone();
        let mut events: Vec<Event> = Vec::new();
        for order in order_ids.iter().filter_map(|id| inner.orders.get(id)) {
            // Orders from before the organization was first seen are history, not news.
            if order.is_history() {
                continue;
            }
            // Named as the order's own answers and its webhook events name its kind.
            let data = json!({DATA_ORDER_ID: order.id, "type": order.kind.name(), "display_name": order.display_name});
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
        events.extend(finished_by(&inner.resources, ctx.org, now));
        for upload in inner.resources.owned(Family::Upload, ctx.org) {
            let event_type = match crate::uploads::status(upload) {
                Some(UploadStatus::Completed) => UPLOAD_COMPLETED,
                Some(UploadStatus::Failed) => UPLOAD_FAILED,
                _ => continue,
            };
            events.push(Event {
                event_type,
                org: ctx.org.to_owned(),
                entity_type: "upload",
                entity_id: upload.id.clone(),
                data: json!({DATA_UPLOAD_ID: upload.id, "project_id": upload.fields.get("project_id")}),
                at: upload.updated_at,
            });
        }
        events.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| b.entity_id.cmp(&a.entity_id)));
        // The caller's own mark of each notification, else one from before marks were each
        // caller's own (no principal), which counts for everyone until they mark it.
        let mut marked: HashMap<&str, &Resource> = HashMap::new();
        let mut shared: HashMap<&str, &Resource> = HashMap::new();
        let mut read_through: Option<ReadThrough> = None;
        let set_back = ctx.shared.clock.set_back();
        let mut stale_set_backs = false;
        for mark in inner.resources.owned(Family::NotificationMark, ctx.org) {
            let Some(notice) = mark.parent.as_deref() else {
                let through = mark
                    .fields
                    .get(READ_THROUGH)
                    .and_then(Value::as_i64)
                    .filter(|_| mark.str(PRINCIPAL) == Some(ctx.principal));
                // One per caller; should a damaged file hold more, the one written last counts.
                if let Some(through) = through {
                    if read_through
                        .as_ref()
                        .is_none_or(|held| mark.updated_at >= held.written)
                    {
                        let at_through = mark
                            .fields
                            .get(READ_AT_THROUGH)
                            .and_then(Value::as_array)
                            .map(|ids| {
                                ids.iter()
                                    .filter_map(Value::as_str)
                                    .map(str::to_owned)
                                    .collect()
                            })
                            .unwrap_or_default();
                        let counted = mark.fields.get(READ_SET_BACKS).and_then(Value::as_u64);
                        read_through = Some(ReadThrough {
                            through,
                            at_through,
                            id: mark.id.clone(),
                            written: mark.updated_at,
                        });
                        stale_set_backs = counted != Some(set_back.count);
                    }
                }
                continue;
            };
            match mark.str(PRINCIPAL) {
                // The oldest mark of a notification is the one that counts.
                Some(whose) if whose == ctx.principal => {
                    marked.entry(notice).or_insert(mark);
                }
                Some(_) => {}
                None => {
                    shared.entry(notice).or_insert(mark);
                }
            }
        }
        // The clock was set back since the record was written: it covers what came before the
        // reading the clock was set back to, and no more.
        if let Some(held) = read_through.as_mut().filter(|_| stale_set_backs) {
            held.through = held.through.min(set_back.to_secs);
        }
        let notices = events
            .into_iter()
            .map(|event| {
                let id = notice_id(event.event_type, &event.entity_id);
                let mark = marked.get(id.as_str()).or_else(|| shared.get(id.as_str()));
                let flag = |flag: Flag| {
                    mark.and_then(|m| m.fields.get(flag.field()))
                        .and_then(Value::as_bool)
                        .unwrap_or(false)
                };
                let read_before = read_through
                    .as_ref()
                    .is_some_and(|held| held.covers(&id, event.at));
                let (read, dismissed) = (flag(Flag::Read) || read_before, flag(Flag::Dismissed));
                Notice {
                    id,
                    event,
                    read,
                    dismissed,
                }
            })
            .collect();
        // Only the caller's own marks are changed; a shared one is copied into one first.
        let marks = marked
            .into_iter()
            .map(|(notice, mark)| (notice.to_owned(), mark.id.clone()))
            .collect();
        // The record cut back to a clock set back is kept so: read again after the clock moved
        // on, it would cover what happened after the move back.
        if let Some(held) = read_through.as_ref().filter(|_| stale_set_backs) {
            if let Ok(record) =
                inner
                    .resources
                    .get_mut(Family::NotificationMark, ctx.org, None, &held.id)
            {
                record.set(READ_THROUGH, Some(held.through));
                record.set(READ_SET_BACKS, Some(set_back.count));
            }
        }
        Inbox {
            notices,
            marks,
            read_through,
            now,
            set_back,
        }
    }

    /// Records that the caller read every notification from before `through` (Unix
    /// seconds) and those listed now at it or after it, and removes the caller's marks that
    /// only said that of one of them, first, so that they make the room the record needs
    /// rather than other callers' marks.
    ///
    /// `through` replaces the moment held, also when it is earlier: on a clock set back, a
    /// later moment kept would read what happens next as read.
    ///
    /// # Errors
    /// As [`set_mark`](Self::set_mark).
    fn read_through(
        &mut self,
        inner: &mut Inner,
        (org, principal): (&str, &str),
        through: i64,
    ) -> Result<(), ApiError> {
        let now = self.now;
        let mut at_through: Vec<String> = self
            .notices
            .iter()
            .filter(|notice| notice.event.at >= through)
            .map(|notice| notice.id.clone())
            .collect();
        // Too many to name (a frozen clock's history shares one second): that whole second
        // is read.
        let through = if at_through.len() > MAX_READ_AT_THROUGH {
            at_through.clear();
            through.saturating_add(1)
        } else {
            through
        };
        let held = ReadThrough {
            through,
            at_through: at_through.iter().cloned().collect(),
            id: String::new(),
            written: now,
        };
        let covered: HashSet<&str> = self
            .notices
            .iter()
            .filter(|notice| held.covers(&notice.id, notice.event.at) && !notice.dismissed)
            .map(|notice| notice.id.as_str())
            .collect();
        let redundant: Vec<String> = self
            .marks
            .iter()
            .filter(|(notice, _)| covered.contains(notice.as_str()))
            .map(|(_, mark)| mark.clone())
            .collect();
        for mark in &redundant {
            // In the index a moment ago, under the same lock: it is there to remove.
            let _ = inner
                .resources
                .remove(Family::NotificationMark, org, None, mark);
        }
        let gone: HashSet<&str> = redundant.iter().map(String::as_str).collect();
        self.marks.retain(|_, mark| !gone.contains(mark.as_str()));
        let id = match self.read_through.as_ref().map(|held| held.id.clone()) {
            Some(id) => {
                let record = inner
                    .resources
                    .get_mut(Family::NotificationMark, org, None, &id)?;
                record.set(READ_THROUGH, Some(through));
                record.set(READ_AT_THROUGH, Some(at_through));
                record.set(READ_SET_BACKS, Some(self.set_back.count));
                record.updated_at = now;
                id
            }
            None => {
                self.make_room_for_a_mark(&mut inner.resources, org);
                let mut fields = Map::new();
                fields.insert(PRINCIPAL.to_owned(), Value::from(principal));
                fields.insert(READ_THROUGH.to_owned(), Value::from(through));
                fields.insert(READ_AT_THROUGH.to_owned(), Value::from(at_through));
                fields.insert(READ_SET_BACKS.to_owned(), Value::from(self.set_back.count));
                inner
                    .resources
                    .create(
                        &mut inner.rng,
                        Family::NotificationMark,
                        org,
                        None,
                        now,
                        fields,
                    )?
                    .id
                    .clone()
            }
        };
        for notice in &mut self.notices {
            if held.covers(&notice.id, notice.event.at) {
                notice.read = true;
            }
        }
        self.read_through = Some(ReadThrough { id, ..held });
        Ok(())
    }

    /// Sets `flag` on the notice at `at`, in the store and in the inbox.
    ///
    /// # Errors
    /// Only for a mark the index names that the store no longer holds, which the state's one
    /// lock rules out; a full bound of marks makes room ([`Self::make_room_for_a_mark`]).
    fn set_mark(
        &mut self,
        inner: &mut Inner,
        (org, principal): (&str, &str),
        at: usize,
        flag: Flag,
        now: i64,
    ) -> Result<(), ApiError> {
        let Some(id) = self.notices.get(at).map(|n| n.id.clone()) else {
            return Ok(());
        };
        match self.marks.get(&id) {
            Some(mark_id) => {
                let mark =
                    inner
                        .resources
                        .get_mut(Family::NotificationMark, org, Some(&id), mark_id)?;
                mark.set(flag.field(), Some(true));
                mark.updated_at = now;
            }
            None => {
                self.make_room_for_a_mark(&mut inner.resources, org);
                let mut fields = Map::new();
                // What the caller saw before, a shared mark's flags included, stays so.
                if let Some(notice) = self.notices.get(at) {
                    fields.insert(Flag::Read.field().to_owned(), Value::Bool(notice.read));
                    fields.insert(
                        Flag::Dismissed.field().to_owned(),
                        Value::Bool(notice.dismissed),
                    );
                }
                fields.insert(flag.field().to_owned(), Value::Bool(true));
                fields.insert(PRINCIPAL.to_owned(), Value::from(principal));
                let mark = inner.resources.create(
                    &mut inner.rng,
                    Family::NotificationMark,
                    org,
                    Some(&id),
                    now,
                    fields,
                )?;
                self.marks.insert(id, mark.id.clone());
            }
        }
        if let Some(notice) = self.notices.get_mut(at) {
            match flag {
                Flag::Read => notice.read = true,
                Flag::Dismissed => notice.dismissed = true,
            }
        }
        Ok(())
    }

    /// Once the organization holds [`MAX_PER_ORG`] marks, removes those of notifications
    /// that are no longer there (an order retired to make room for new ones, an upload
    /// deleted with its project) and, when those are fewer than [`MARKS_RETIRED_AT_ONCE`],
    /// the marks of its oldest notifications up to that many.
    ///
    /// Why: no operation deletes a mark, and marks are each caller's own under one bound for
    /// the organization, so marks outliving what they marked, or one caller's
    /// `mark_all_read` of a long history, would otherwise fill the bound and refuse every
    /// caller's next mark for good. A notification whose mark goes reads unread again, and
    /// the oldest go first. A batch at a time, so a long `mark_all_read` past the bound sorts
    /// the marks once per batch, not once per mark.
    fn make_room_for_a_mark(&mut self, resources: &mut Resources, org: &str) {
        if resources.count(Family::NotificationMark, org) < MAX_PER_ORG {
            return;
        }
        // Newest first, as the inbox is: a higher place is an older notification.
        let place: HashMap<&str, usize> = self
            .notices
            .iter()
            .enumerate()
            .map(|(at, notice)| (notice.id.as_str(), at))
            .collect();
        // In the order they go: stale marks (of no notification listed), then the oldest
        // notifications' marks, then, last, callers' [`READ_THROUGH`] records, the longest
        // unwritten first (each stands for every notification it covers, but callers come
        // and go: keys retired, and a record of each would otherwise fill the bound for good).
        let mut held: Vec<(u8, i64, String)> = resources
            .owned(Family::NotificationMark, org)
            .map(|mark| {
                let key = match mark.parent.as_deref() {
                    None if mark.fields.contains_key(READ_THROUGH) => (2, mark.updated_at),
                    None => (0, 0),
                    Some(notice) => match place.get(notice) {
                        Some(&at) => (1, -i64::try_from(at).unwrap_or(i64::MAX)),
                        None => (0, 0),
                    },
                };
                (key.0, key.1, mark.id.clone())
            })
            .collect();
        held.sort_unstable();
        let stale = held.iter().take_while(|(class, ..)| *class == 0).count();
        let going: HashSet<&str> = held
            .iter()
            .take(stale.max(MARKS_RETIRED_AT_ONCE))
            .map(|(.., id)| id.as_str())
            .collect();
        for id in &going {
            // Found a moment ago, under the same lock: it is there to remove.
            let _ = resources.remove(Family::NotificationMark, org, None, id);
        }
        self.marks.retain(|_, mark| !going.contains(mark.as_str()));
    }
}

/// A notification's id: a digest of what happened, so it is the same on every rebuild.
fn notice_id(event_type: &str, entity_id: &str) -> String {
    format!("ntf_{:016x}", fnv(&format!("{event_type}/{entity_id}")))
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
