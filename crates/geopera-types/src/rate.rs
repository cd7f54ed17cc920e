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
///
/// The API may add a budget, so a `match` outside this crate needs a wildcard arm; [`ALL`]
/// and [`index`] grow with such a class, which is added last.
///
/// [`ALL`]: RateClass::ALL
/// [`index`]: RateClass::index
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RateClass {
    /// The organization-wide default budget.
    Default,
    /// Order placement (`orders.archive.place` and friends).
    OrderPlacement,
    /// Other operations that spend credits or money.
    Spend,
    /// Operations that need no credentials (`webhooks.drain`): counted per client address,
    /// with or without credentials sent, and never against an organization's budgets, so
    /// that a 429 here says nothing about them. The identity provider's sign-in requests
    /// draw on the same budget.
    Unauthenticated,
}

impl RateClass {
    /// How long each budget's window is. Windows are aligned to the clock: one ends at the top
    /// of every minute, which is what a 429 without `Retry-After` asks a client to wait for.
    pub const WINDOW: std::time::Duration = std::time::Duration::from_secs(60);

    /// Every class: the organization's, widest budget first, then the per-address one.
    pub const ALL: [RateClass; 4] = [
        RateClass::Default,
        RateClass::OrderPlacement,
        RateClass::Spend,
        RateClass::Unauthenticated,
    ];

    /// This class's place in [`ALL`](Self::ALL), for arrays that hold one entry per class.
    pub const fn index(self) -> usize {
        match self {
            RateClass::Default => 0,
            RateClass::OrderPlacement => 1,
            RateClass::Spend => 2,
            RateClass::Unauthenticated => 3,
        }
    }

    /// Every budget one call of this class counts against: its own and, for order placement
    /// and spend, the organization-wide default as well. A call without credentials counts
    /// against its client address's budget alone.
    pub const fn drawn_from(self) -> &'static [RateClass] {
        match self {
            RateClass::Default => &[RateClass::Default],
            RateClass::OrderPlacement => &[RateClass::OrderPlacement, RateClass::Default],
            RateClass::Spend => &[RateClass::Spend, RateClass::Default],
            RateClass::Unauthenticated => &[RateClass::Unauthenticated],
        }
    }

    /// A short lower-case name of the budget, for logs and for keys where its count is kept.
    pub const fn name(self) -> &'static str {
        match self {
            RateClass::Default => "default",
            RateClass::OrderPlacement => "orders",
            RateClass::Spend => "spend",
            RateClass::Unauthenticated => "anonymous",
        }
    }

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
