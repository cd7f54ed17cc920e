//! The project every organization starts with: "Default project", three collections and
//! [`STARTER_ITEMS`] items, so `items.list` and `items.list_by_collection` have pages to walk
//! before a test has created anything; and the default card the demo organization starts
//! with ([`demo_card`]).
//!
//! They are made when the organization is first seen (as its order history is), with ids
//! drawn from a generator seeded by the emulator's seed and the organization, so the same
//! seed gives every organization the same ids on every start — [`default_project_id`] names
//! the project without asking the server. They are ordinary records afterwards: they can be
//! changed and deleted, and a deleted default project or detached card does not come back. An
//! organization a state file already knows is never first seen again, so one kept by a file
//! written before the default project (or the demo card) existed has none.

use geopera_types::models::{ItemCreateInput, ItemType};
use serde_json::{json, Map, Value};

use crate::ops::item_fields;
use crate::resources::{Family, Resources};
use crate::rng::{fnv, Rng};

/// Items the default project starts with.
pub const STARTER_ITEMS: usize = 300;
/// Its collections: name and the platform its items come from. Every fourth item is in none.
const COLLECTIONS: [(&str, &str); 3] = [
    ("Optical", "sentinel-2a"),
    ("Radar", "sentinel-1a"),
    ("Elevation", "copernicus-dem"),
];

/// Keeps this generator's draws apart from the order history's, which also starts from the
/// seed and the organization.
const SALT: u64 = 0x0057_a27e_12d0;

fn generator(seed: u64, org: &str) -> Rng {
    Rng::new(seed ^ fnv(org) ^ SALT)
}

/// The id of `org`'s default project under `seed`.
pub fn default_project_id(seed: u64, org: &str) -> String {
    format!(
        "{}_{}",
        Family::Project.prefix(),
        generator(seed, org).hex(12)
    )
}

/// Adds the default project, its collections and items for `org`, made `now`.
pub fn seed(resources: &mut Resources, seed: u64, org: &str, now: i64) {
    let mut rng = generator(seed, org);
    let project = format!("{}_{}", Family::Project.prefix(), rng.hex(12));
    let mut fields = Map::new();
    fields.insert("organization_id".to_owned(), Value::from(org));
    fields.insert("name".to_owned(), Value::from("Default project"));
    fields.insert("description".to_owned(), Value::Null);
    fields.insert("gcs_region".to_owned(), Value::Null);
    fields.insert("is_archived".to_owned(), Value::Bool(false));
    fields.insert("members".to_owned(), json!({}));
    fields.insert(
        "gcs_bucket_name".to_owned(),
        Value::from(format!("geopera-{}", project.replace('_', "-"))),
    );
    resources.insert(project.clone(), Family::Project, org, None, now, fields);

    let mut collections = Vec::with_capacity(COLLECTIONS.len());
    for (order, (name, _)) in COLLECTIONS.iter().enumerate() {
        let id = resources.fresh_id(&mut rng, Family::Collection);
        let fields = json!({
            "project_id": project,
            "name": name,
            "description": null,
            "color": null,
            "show_on_map": true,
            "layer_order": order,
            "auto_created": false,
            "source_type": null,
            "source_id": null,
            "deleted_at": null,
        });
        if let Value::Object(fields) = fields {
            let at = now - STARTER_ITEMS as i64 * 3600 - 3600;
            resources.insert(
                id.clone(),
                Family::Collection,
                org,
                Some(&project),
                at,
                fields,
            );
        }
        collections.push(id);
    }

    for n in 0..STARTER_ITEMS {
        // Oldest first, one an hour, so creation order and `created_at` agree.
        let at = now - (STARTER_ITEMS - n) as i64 * 3600;
        let which = (n % 4 != 3).then_some(n % 4 % 3);
        let lon = rng.range(-170.0, 170.0);
        let lat = rng.range(-60.0, 60.0);
        let cloud = (rng.range(0.0, 100.0) * 10.0).round() / 10.0;
        let mut input = ItemCreateInput::new(
            ItemType::SatelliteCapture,
            format!("item {n}"),
            project.clone(),
        )
        .bbox(vec![lon, lat, lon + 0.1, lat + 0.1])
        .geometry(box_polygon(lon, lat))
        .datetime(geopera_types::rfc3339::format_date_time(at))
        .cloud_cover(cloud)
        .gsd(10.0);
        if let Some(which) = which {
            input = input.collection_id(collections[which].clone());
            let mut properties = Map::new();
            properties.insert("platform".to_owned(), Value::from(COLLECTIONS[which].1));
            input = input.properties(properties);
        }
        let id = resources.fresh_id(&mut rng, Family::Item);
        let mut fields = item_fields(&input);
        fields.insert("stac_id".to_owned(), Value::from(id.as_str()));
        resources.insert(id, Family::Item, org, Some(&project), at, fields);
    }
}

/// The payment provider's id of the card the demo organization starts with.
pub const DEMO_CARD: &str = "pm_demo_visa";

/// Keeps the demo card's id apart from the default project's draws.
const CARD_SALT: u64 = 0x00ca_2d5a_17ed;

/// Adds the default card [`DEMO_CARD`] to `org`, made `now`: the demo organization's, so that
/// `billing.topup` and auto top-up, which charge the default card, work with the demo key
/// from the first request. Other organizations start with none, as a new customer does. Its
/// row id derives from the seed, as the default project's does.
pub fn demo_card(resources: &mut Resources, seed: u64, org: &str, now: i64) {
    let mut rng = Rng::new(seed ^ fnv(org) ^ CARD_SALT);
    let id = resources.fresh_id(&mut rng, Family::PaymentMethod);
    let mut fields = Map::new();
    fields.insert("payment_method_id".to_owned(), Value::from(DEMO_CARD));
    fields.insert("isDefault".to_owned(), Value::Bool(true));
    fields.insert("brand".to_owned(), Value::from("visa"));
    fields.insert("last4".to_owned(), Value::from("4242"));
    resources.insert(id, Family::PaymentMethod, org, None, now, fields);
}

/// A GeoJSON polygon of the 0.1° box whose south-west corner is at `lon`, `lat`.
fn box_polygon(lon: f64, lat: f64) -> Map<String, Value> {
    let (east, north) = (lon + 0.1, lat + 0.1);
    let polygon = json!({
        "type": "Polygon",
        "coordinates": [[[lon, lat], [east, lat], [east, north], [lon, north], [lon, lat]]],
    });
    match polygon {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}
