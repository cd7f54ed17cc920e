//! Unit tests of `resources.rs`.
use super::*;

#[test]
fn another_organizations_record_is_not_found_and_lists_keep_creation_order() {
    let mut store = Resources::default();
    let mut rng = Rng::new(7);
    let mut ids = Vec::new();
    for n in 0..5 {
        let mut fields = Map::new();
        fields.insert("name".to_owned(), Value::from(format!("p{n}")));
        let record = store
            .create(&mut rng, Family::Project, "org_a", None, n, fields)
            .map(|r| r.id.clone());
        ids.push(record.unwrap_or_default());
    }
    assert!(store.get(Family::Project, "org_a", None, &ids[2]).is_ok());
    let other = store.get(Family::Project, "org_b", None, &ids[2]);
    assert_eq!(
        other.err().map(|e| e.status()),
        Some(http::StatusCode::NOT_FOUND)
    );
    assert!(store
        .get(Family::Collection, "org_a", None, &ids[2])
        .is_err());
    let listed: Vec<&str> = store
        .list(Family::Project, "org_a", None)
        .iter()
        .map(|r| r.id.as_str())
        .collect();
    assert_eq!(listed, ids.iter().map(String::as_str).collect::<Vec<_>>());
    let restored = Resources::restored(store.records().cloned().collect());
    assert_eq!(restored.next_seq, 5);
}

#[test]
fn changes_are_kept_only_for_a_state_file_and_name_every_record_touched() {
    let make = |store: &mut Resources, rng: &mut Rng, parent: Option<&str>| {
        store
            .create(rng, Family::Item, "org_a", parent, 0, Map::new())
            .map(|r| r.id.clone())
            .unwrap_or_default()
    };
    let mut rng = Rng::new(3);
    let mut untracked = Resources::default();
    let id = make(&mut untracked, &mut rng, None);
    let _ = untracked.remove(Family::Item, "org_a", None, &id);
    assert!(
        untracked.changes.take().is_empty(),
        "nothing would take them"
    );

    let mut store = Resources::default();
    store.changes.track();
    let kept = make(&mut store, &mut rng, Some("p1"));
    let dropped = make(&mut store, &mut rng, Some("p2"));
    assert_eq!(store.changes.take().len(), 2);
    assert!(store.get_mut(Family::Item, "org_a", None, &kept).is_ok());
    assert_eq!(store.remove_children(Family::Item, "org_a", "p2"), 1);
    let changed = store.changes.take();
    assert_eq!(
        changed,
        std::collections::HashSet::from([kept.clone(), dropped.clone()])
    );
    assert!(store.record(&dropped).is_none(), "a row to delete");
    assert!(store.changes.take().is_empty());
}

#[test]
fn pages_clamp_their_bounds() {
    let (items, limit, offset, total) = page((0..10).collect(), 0, -3, 4);
    assert_eq!((items, limit, offset, total), (vec![0], 1, 0, 10));
    let (items, _, _, _) = page((0..10).collect::<Vec<i32>>(), 4, 8, 4);
    assert_eq!(items, vec![8, 9]);
}

#[test]
fn a_full_family_makes_room_by_retiring_its_oldest_settled_record_only() {
    let mut store = Resources::default();
    let mut rng = Rng::new(3);
    let mut ids = Vec::new();
    for n in 0..MAX_PER_ORG {
        let mut fields = Map::new();
        // Every third record is over.
        let status = if n % 3 == 1 { "failed" } else { "pending" };
        fields.insert("status".to_owned(), Value::from(status));
        let id = store
            .create(&mut rng, Family::Upload, "org_a", Some("prj_1"), 0, fields)
            .map(|r| r.id.clone())
            .expect("room");
        ids.push(id);
    }
    let settled = |_: &Resources, r: &Resource| r.str("status") == Some("failed");
    assert!(
        store
            .create(
                &mut rng,
                Family::Upload,
                "org_a",
                Some("prj_1"),
                0,
                Map::new()
            )
            .is_err(),
        "full"
    );
    store.retire_oldest_settled(Family::Upload, "org_a", settled);
    assert!(
        store.get(Family::Upload, "org_a", None, &ids[1]).is_err(),
        "the oldest settled went"
    );
    assert!(
        store.get(Family::Upload, "org_a", None, &ids[0]).is_ok(),
        "an open one stays"
    );
    assert!(store
        .create(
            &mut rng,
            Family::Upload,
            "org_a",
            Some("prj_1"),
            0,
            Map::new()
        )
        .is_ok());
    // With nothing settled, nothing is retired.
    store.retire_oldest_settled(Family::Upload, "org_a", |_, _| false);
    assert_eq!(store.list(Family::Upload, "org_a", None).len(), MAX_PER_ORG);
}

/// Lists and counts read an index kept beside the records: a record replaced under its id,
/// removed, or removed with its parent's children leaves it right, and a restored store
/// rebuilds it.
#[test]
fn lists_and_counts_follow_every_change_and_a_restore() {
    let mut store = Resources::default();
    let mut rng = Rng::new(3);
    let ids = |store: &Resources, family| -> Vec<String> {
        store
            .list(family, "org_a", None)
            .iter()
            .map(|r| r.id.clone())
            .collect()
    };
    let project = |store: &mut Resources, id: &str| {
        store.insert(id.to_owned(), Family::Project, "org_a", None, 0, Map::new());
    };
    project(&mut store, "p_1");
    project(&mut store, "p_2");
    // Replaced under its id: listed once, now the newest.
    project(&mut store, "p_1");
    assert_eq!(ids(&store, Family::Project), ["p_2", "p_1"]);
    assert_eq!(store.count(Family::Project, "org_a"), 2);
    assert_eq!(store.count(Family::Project, "org_b"), 0);

    for _ in 0..3 {
        let made = store.create(&mut rng, Family::Item, "org_a", Some("p_1"), 2, Map::new());
        assert!(made.is_ok());
    }
    let kept = store
        .create(&mut rng, Family::Item, "org_a", Some("p_2"), 2, Map::new())
        .map(|r| r.id.clone())
        .unwrap_or_default();
    // Another organization's record under a parent of the same id stays.
    let theirs = store.create(&mut rng, Family::Item, "org_b", Some("p_1"), 2, Map::new());
    assert!(theirs.is_ok());
    assert_eq!(store.remove_children(Family::Item, "org_a", "p_1"), 3);
    assert_eq!(ids(&store, Family::Item), std::slice::from_ref(&kept));
    assert_eq!(store.count(Family::Item, "org_b"), 1);
    assert!(store.remove(Family::Project, "org_a", None, "p_2").is_ok());
    assert_eq!(ids(&store, Family::Project), ["p_1"]);

    let restored = Resources::restored(store.records().cloned().collect());
    assert_eq!(ids(&restored, Family::Project), ["p_1"]);
    assert_eq!(ids(&restored, Family::Item), [kept]);
    assert_eq!(restored.count(Family::Item, "org_a"), 1);
}

/// A lookup by something other than the id walks the records of its family only, of every
/// organization, and changing what it finds marks that record for the state file.
#[test]
fn a_family_is_walked_across_organizations_and_nothing_else() {
    let mut store = Resources::default();
    let mut rng = Rng::new(7);
    let mut made = Vec::new();
    for org in ["org_a", "org_b"] {
        for family in [Family::ShareLink, Family::Project] {
            let record = store
                .create(&mut rng, family, org, None, 0, serde_json::Map::new())
                .expect("created");
            made.push((family, record.id.clone()));
        }
    }
    let links: Vec<&str> = store
        .of_family(Family::ShareLink)
        .map(|r| r.id.as_str())
        .collect();
    assert_eq!(links.len(), 2);
    assert!(made
        .iter()
        .filter(|(family, _)| *family == Family::ShareLink)
        .all(|(_, id)| links.contains(&id.as_str())));
    let wanted = made[2].1.clone();
    store.changes.track();
    assert!(store.changes.take().is_empty());
    assert!(store.find(Family::Project, |r| r.id == wanted).is_none());
    let found = store
        .find_mut(Family::ShareLink, |r| r.id == wanted)
        .expect("org_b's link");
    assert_eq!(found.org, "org_b");
    assert!(store.changes.take().contains(&wanted));
}

/// A full family that no operation deletes (share links, approvals, uploads, organizations)
/// says what makes room instead, or that nothing does; other families say to delete some.
#[test]
fn a_full_family_says_how_to_make_room() {
    let mut store = Resources::default();
    let mut rng = Rng::new(5);
    for family in [
        Family::ShareLink,
        Family::Approval,
        Family::Upload,
        Family::Organization,
        Family::BandFormula,
    ] {
        for _ in 0..MAX_PER_ORG {
            store
                .create(&mut rng, family, "org_a", None, 0, Map::new())
                .expect("room");
        }
        let refused = store
            .create(&mut rng, family, "org_a", None, 0, Map::new())
            .map(|_| ())
            .expect_err("full");
        let said = format!("{refused:?}");
        let remedy = match family {
            Family::ShareLink => "revoke one",
            Family::Approval => "approve or reject one",
            Family::Upload => "fail an open one",
            Family::Organization => "are not deleted",
            _ => "delete some",
        };
        assert!(said.contains(remedy), "{said}");
        if family == Family::Upload {
            assert!(said.contains("projects.delete"), "{said}");
        }
        assert_eq!(
            said.contains("delete some"),
            remedy == "delete some",
            "{said}"
        );
    }
}
