//! Orders and their price estimates, typed where the contract leaves them open.
//!
//! `orders.get` and both `place` operations answer free-form objects, and the estimate
//! operations type their groups as bare objects, although every client reads the same few
//! members (the id, the state, the price). These models type those members and keep the rest
//! in `extra`.

use crate::open::{never, open_enum, open_model};
use crate::JsonObject;

open_enum! {
    /// Where an order is in its life. Only [`Fulfilled`](Self::Fulfilled) and
    /// [`Cancelled`](Self::Cancelled) are final; a value this version does not know is kept in
    /// [`Other`](Self::Other) and counts as not final.
    pub enum OrderStatus {
        /// Accepted by the API, nothing done yet.
        Received = "received",
        /// Being prepared or delivered.
        Processing = "processing",
        /// A tasking order waiting for its feasibility study.
        Feasibility = "feasibility",
        /// A tasking order whose study and quotation were accepted.
        Accepted = "accepted",
        /// Delivered: its assets are ready.
        Fulfilled = "fulfilled",
        /// Cancelled (by the caller, or by rejecting a quotation); its credits were returned.
        Cancelled = "cancelled",
    }
}

impl OrderStatus {
    /// Whether the order will not change state again.
    pub fn is_final(&self) -> bool {
        matches!(self, OrderStatus::Fulfilled | OrderStatus::Cancelled)
    }
}

open_model! {
    /// An order, as `orders.get`, `orders.list` and the `place` operations answer it.
    pub struct Order {
        /// The order id (`orderId`; placing answers also spell it `order_id`).
        id: String = "orderId" | "order_id", skip_if "never";
        /// `type`: `archive` or `tasking`.
        order_type: Option<String> = "type", skip_if "Option::is_none";
        /// `status`: where the order is.
        status: Option<OrderStatus> = "status", skip_if "Option::is_none";
        /// `displayName` the caller gave it.
        display_name: Option<String> = "displayName", skip_if "Option::is_none";
        /// `createdAt` (RFC 3339).
        created_at: Option<String> = "createdAt", skip_if "Option::is_none";
        /// `updatedAt` (RFC 3339).
        updated_at: Option<String> = "updatedAt", skip_if "Option::is_none";
        /// `totalAud`: the price in Australian dollars.
        total_aud: Option<f64> = "totalAud" | "total_aud", skip_if "Option::is_none" lenient;
        /// `totalCredits`: the price in credits (100 credits = A$1).
        total_credits: Option<i64> = "totalCredits" | "total_credits", skip_if "Option::is_none" lenient;
    }
}

impl Order {
    /// Whether the order will not change state again; `false` when the answer had no status.
    pub fn is_final(&self) -> bool {
        self.status.as_ref().is_some_and(OrderStatus::is_final)
    }
}

open_model! {
    /// The price of an archive cart (`orders.archive.estimate`).
    pub struct ArchiveEstimateOutput {
        /// One group per collection (and per capture date when split by date).
        groups: Vec<ArchiveEstimateGroup> = "groups", skip_if "never";
        /// Captures that could not be priced, with why.
        errors: Vec<JsonObject> = "errors", skip_if "never";
        /// `total_aud`: the whole cart in Australian dollars.
        total_aud: f64 = "total_aud", skip_if "never";
        /// `total_credits`: the whole cart in credits.
        total_credits: i64 = "total_credits", skip_if "never";
    }
}

open_model! {
    /// One priced group of an archive estimate.
    pub struct ArchiveEstimateGroup {
        /// `collection` the captures come from.
        collection: Option<String> = "collection", skip_if "Option::is_none";
        /// `captures`: the ids priced together.
        captures: Vec<String> = "captures", skip_if "never";
        /// `date` of capture, when the estimate was split by date.
        date: Option<String> = "date", skip_if "Option::is_none";
        /// `area_km2` billed.
        area_km2: Option<f64> = "area_km2", skip_if "Option::is_none" lenient;
        /// `total_aud` of the group.
        total_aud: Option<f64> = "total_aud", skip_if "Option::is_none" lenient;
        /// `total_credits` of the group.
        total_credits: Option<i64> = "total_credits", skip_if "Option::is_none" lenient;
    }
}

open_model! {
    /// The price of a tasking request (`orders.tasking.estimate`).
    pub struct TaskingEstimateOutput {
        /// One entry per requested area.
        groups: Vec<TaskingEstimateGroup> = "groups", skip_if "never";
        /// Areas that could not be priced, with why.
        errors: Vec<JsonObject> = "errors", skip_if "never";
        /// `totalAud`: the whole request in Australian dollars.
        total_aud: f64 = "totalAud", skip_if "never";
        /// `totalCredits`: the whole request in credits.
        total_credits: i64 = "totalCredits", skip_if "never";
    }
}

open_model! {
    /// One priced area of a tasking estimate.
    pub struct TaskingEstimateGroup {
        /// `index` of the group in the request.
        index: Option<u32> = "index", skip_if "Option::is_none" lenient;
        /// `product` requested.
        product: Option<String> = "product", skip_if "Option::is_none";
        /// `areaKm2`: the area as drawn.
        area_km2: Option<f64> = "areaKm2", skip_if "Option::is_none" lenient;
        /// `billedAreaKm2`: the area billed (at least the product's minimum).
        billed_area_km2: Option<f64> = "billedAreaKm2", skip_if "Option::is_none" lenient;
        /// `totalAud` of the group.
        total_aud: Option<f64> = "totalAud", skip_if "Option::is_none" lenient;
        /// `totalCredits` of the group.
        total_credits: Option<i64> = "totalCredits", skip_if "Option::is_none" lenient;
    }
}
