//! The API's per-minute request budgets: the one place the numbers live.
//!
//! This file names nothing outside itself, on purpose: `geopera-codegen` compiles it too
//! (through `#[path]`), so the generator's doc text states these numbers without depending on
//! `geopera-types`, whose generated half it must be able to rewrite while stale.

/// Which per-minute budget of the API an operation draws from.
///
/// Budgets are fixed 60-second windows that reset at the top of each minute, counted per
/// organization. Calls of the narrower classes count against the default budget as well.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RateClass {
    /// The organization-wide default budget.
    Default,
    /// Order placement (`orders.archive.place` and friends).
    OrderPlacement,
    /// Other operations that spend credits or money.
    Spend,
}

impl RateClass {
    /// Every class, widest budget first.
    pub const ALL: [RateClass; 3] = [
        RateClass::Default,
        RateClass::OrderPlacement,
        RateClass::Spend,
    ];

    /// The API's documented cap on calls per minute for this budget, per organization.
    pub const fn documented_per_minute(self) -> u32 {
        match self {
            RateClass::Default => 600,
            RateClass::OrderPlacement => 60,
            RateClass::Spend => 30,
        }
    }
}

/// The API's documented cap on calls per minute without credentials, counted per client
/// address rather than per organization.
pub const UNAUTHENTICATED_PER_MINUTE: u32 = 60;
