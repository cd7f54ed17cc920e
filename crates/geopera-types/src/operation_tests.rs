//! Unit tests of `operation.rs`.

/// The generator's reading of which operations answer NDJSON (the contract and its list; see
/// geopera-codegen's tests) reaches the descriptors, and such an answer is bytes, as the SDK
/// and the CLI read it before splitting its lines.
#[test]
fn the_descriptors_say_which_operations_answer_ndjson() {
    let ndjson: Vec<&str> = crate::generated::operations::ALL
        .iter()
        .filter(|info| info.answers_ndjson)
        .map(|info| info.id)
        .collect();
    assert_eq!(ndjson, ["catalog.search_stream"]);
    for info in crate::generated::operations::ALL {
        assert!(!info.answers_ndjson || info.answers_binary(), "{}", info.id);
    }
}

/// Every paged operation's input has each number its paging kind names, as an integer field
/// at the top of the body: what the SDK's page walk changes and the emulator clamps.
#[test]
fn the_paging_numbers_are_integer_fields_of_every_paged_input() {
    use crate::shape::Shape;
    let mut paged = 0;
    for info in crate::generated::operations::ALL {
        let Shape::Object(rule) = info.input.resolve() else {
            assert!(info.paging.numbers().is_empty(), "{}", info.id);
            continue;
        };
        for name in info.paging.numbers() {
            let field = rule.fields.iter().find(|field| field.name == *name);
            let shape = field.map(|field| field.shape.resolve());
            let integer = match shape {
                Some(Shape::Integer(_)) => true,
                Some(Shape::AnyOf(alternatives)) => alternatives
                    .iter()
                    .any(|alternative| matches!(alternative.resolve(), Shape::Integer(_))),
                _ => false,
            };
            assert!(integer, "{}: {name} is {shape:?}", info.id);
        }
        paged += usize::from(!info.paging.numbers().is_empty());
    }
    assert!(paged > 10, "only {paged} paged operations");
}

/// The generator's reading of which answers hold credentials — the outputs with a member it
/// types as a secret, and the hand-written ones that carry signed links or a signing secret —
/// reaches the descriptors, so that an error leaves such an answer out.
#[test]
fn the_descriptors_say_which_answers_hold_credentials() {
    let holding: Vec<(&str, &str)> = crate::generated::operations::ALL
        .iter()
        .filter(|info| info.answer_holds_credentials)
        .map(|info| (info.id, info.output_type))
        .collect();
    assert_eq!(
        holding,
        [
            ("api_keys.create", "ApiKeyCreateOutput"),
            ("clip.job.download", "DownloadLinks"),
            ("clip.job.downloads", "DownloadLinks"),
            ("clip.job.get", "Job"),
            ("clip.jobs.list", "DownloadLinks"),
            ("event_subscriptions.create", "SubscriptionOutput"),
            ("event_subscriptions.get", "SubscriptionOutput"),
            ("event_subscriptions.list", "SubscriptionList"),
            ("event_subscriptions.update", "SubscriptionOutput"),
            ("items.asset.download", "DownloadLinks"),
            ("items.list_assets", "DownloadLinks"),
            ("items.set_asset_band_names", "DownloadLinks"),
            ("orders.list_assets", "DownloadLinks"),
            ("payment_methods.create_setup_intent", "SetupIntentOutput"),
            ("processing.create", "Job"),
            ("processing.execute", "Job"),
            ("processing.job.get", "Job"),
            ("processing.job.register", "Job"),
            ("processing.jobs.list", "DownloadLinks"),
            ("processing.project_job.get", "Job"),
            ("processing.project_jobs.list", "DownloadLinks"),
            ("share.link.create", "ShareLinkCreateOutput"),
            ("share.tilejson", "serde_json::Value"),
            ("uploads.signed_url", "SignedUrlOutput"),
        ]
    );
}

/// An operation without credentials draws on the per-address budget and on no other; the
/// SDK's pacing and the emulator's limits both read the class alone.
#[test]
fn only_operations_without_credentials_draw_on_the_per_address_budget() {
    use crate::RateClass;
    for info in crate::generated::operations::ALL {
        assert_eq!(
            info.rate_class == RateClass::Unauthenticated,
            !info.needs_credentials,
            "{}",
            info.id
        );
    }
}

/// The SDK sends an idempotency key with exactly the calls that change state: what makes
/// `takes_idempotency_key`, which the emulator reads, honour every key the SDK sends.
#[test]
fn calls_that_change_state_take_an_idempotency_key() {
    use crate::RetryClass;
    for info in crate::generated::operations::ALL {
        assert_eq!(
            info.retry == RetryClass::NeedsIdempotencyKey,
            !info.is_read_only(),
            "{}",
            info.id
        );
    }
}

/// Arrays of one entry per class are indexed by `index`, so it must be the class's place in
/// `ALL`, and `drawn_from` must name only classes of `ALL`, its own first.
#[test]
fn rate_classes_index_their_place_in_all() {
    use crate::RateClass;
    for (place, class) in RateClass::ALL.into_iter().enumerate() {
        assert_eq!(class.index(), place, "{class:?}");
        assert_eq!(class.drawn_from().first(), Some(&class), "{class:?}");
        assert!(class
            .drawn_from()
            .iter()
            .all(|c| RateClass::ALL.contains(c)));
    }
    let names: std::collections::HashSet<_> = RateClass::ALL.map(RateClass::name).into();
    assert_eq!(
        names.len(),
        RateClass::ALL.len(),
        "names must be distinct: {names:?}"
    );
}

#[test]
fn admin_operations_are_those_under_admin_scopes() {
    let admin: Vec<&str> = crate::generated::operations::ALL
        .iter()
        .filter(|info| info.is_admin())
        .map(|info| info.id)
        .collect();
    assert_eq!(admin.len(), 25, "{admin:?}");
    assert!(admin.contains(&"billing.cleanup_deleted_orgs"), "{admin:?}");
    let search = crate::operations::find("catalog.search").expect("known operation");
    assert!(!search.is_admin());
}
