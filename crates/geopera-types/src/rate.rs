//! The API's per-minute request budgets: the one place the numbers live.
//!
//! This file names nothing outside itself, on purpose: `geopera-codegen` compiles it too
//! (through `#[path]`), so the generator's doc text states these numbers without depending on
//! `geopera-types`, whose generated half it must be able to rewrite while stale.

/// Which per-minute budget of the API an operation draws from.
///
/// Budgets are fixed 60-second windows that reset at the top of each minute, counted per
/// organization, except [`Unauthenticated`](RateClass::Unauthenticated)'s. Calls of order
/// placement and spend count against the default budget as well.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RateClass {
    /// The organization-wide default budget.
    Default,
    /// Order placement (`orders.archive.place` and friends).
    OrderPlacement,
    /// Other operations that spend credits or money.
    Spend,
    /// Operations that need no credentials (`webhooks.drain`): counted per client address,
    /// with or without credentials sent, and never against an organization's budgets, so
    /// that a 429 here says nothing about them.
    Unauthenticated,
}

impl RateClass {
    /// Every class: the organization's, widest budget first, then the per-address one.
    pub const ALL: [RateClass; 4] = [
        RateClass::Default,
        RateClass::OrderPlacement,
        RateClass::Spend,
        RateClass::Unauthenticated,
    ];

    /// The API's documented cap on calls per minute for this budget: per organization, or per
    /// client address for [`Unauthenticated`](RateClass::Unauthenticated).
    pub const fn documented_per_minute(self) -> u32 {
        match self {
            RateClass::Default => 600,
            RateClass::OrderPlacement => 60,
            RateClass::Spend => 30,
            RateClass::Unauthenticated => 60,
        }
    }
}
