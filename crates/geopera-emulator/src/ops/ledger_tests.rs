//! Unit tests of `ledger.rs`.
use super::*;

const DAY: i64 = 86_400;
/// 2025-01-01T00:00:00Z.
const NEW_YEAR: i64 = 1_735_689_600;

fn entry(reason: Reason, credits: i64, at: i64) -> Resource {
    let mut fields = Map::new();
    fields.insert("reason".to_owned(), Value::from(reason.name()));
    fields.insert("credits".to_owned(), Value::from(credits));
    Resource {
        family: Family::Transaction,
        id: format!("txn_{at}"),
        org: "org_test".to_owned(),
        parent: None,
        seq: 0,
        created_at: at,
        updated_at: at,
        fields,
    }
}

#[test]
fn dropped_entries_add_up_by_month() {
    let mut folded = Folded::default();
    fold(&mut folded, &entry(Reason::Order, -300, NEW_YEAR - 1));
    fold(&mut folded, &entry(Reason::Order, -200, NEW_YEAR));
    fold(&mut folded, &entry(Reason::Refund, 200, NEW_YEAR + DAY));
    fold(&mut folded, &entry(Reason::Topup, 5_000, NEW_YEAR + DAY));
    let december = folded.months["2024-12"];
    assert_eq!(
        (december.spent, december.refunded, december.orders),
        (300, 0, 1)
    );
    let january = folded.months["2025-01"];
    assert_eq!(
        (january.spent, january.refunded, january.orders),
        (200, 200, 1)
    );
    assert_eq!(folded.topup_day, None, "no auto top-up was dropped");
}

/// Only the months `usage.history` can answer are kept: the oldest goes first.
#[test]
fn no_more_months_are_kept_than_usage_answers() {
    let mut folded = Folded::default();
    for month in 0..=usage::MAX_MONTHS {
        let at = NEW_YEAR + i64::try_from(month).expect("a small number") * 31 * DAY;
        fold(&mut folded, &entry(Reason::Order, -1, at));
    }
    assert_eq!(folded.months.len(), usage::MAX_MONTHS);
    assert!(
        !folded.months.contains_key("2025-01"),
        "{:?}",
        folded.months.keys()
    );
}

/// The day's dropped auto top-ups add up; a later day starts again, and an entry of an
/// earlier day (a clock set back) leaves the kept day's sum alone.
#[test]
fn auto_top_ups_add_up_for_the_newest_day() {
    let mut folded = Folded::default();
    fold(&mut folded, &entry(Reason::AutoTopup, 1_000, NEW_YEAR));
    fold(&mut folded, &entry(Reason::AutoTopup, 500, NEW_YEAR + 60));
    assert_eq!(
        (folded.topup_day, folded.topup_credits),
        (Some(NEW_YEAR / DAY), 1_500)
    );
    fold(&mut folded, &entry(Reason::AutoTopup, 700, NEW_YEAR + DAY));
    assert_eq!(
        (folded.topup_day, folded.topup_credits),
        (Some(NEW_YEAR / DAY + 1), 700)
    );
    fold(&mut folded, &entry(Reason::AutoTopup, 900, NEW_YEAR));
    assert_eq!(
        (folded.topup_day, folded.topup_credits),
        (Some(NEW_YEAR / DAY + 1), 700)
    );
}
