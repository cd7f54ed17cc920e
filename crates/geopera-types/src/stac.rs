//! Typed STAC results for `catalog.search`, decoded fast and without losing a member.
//!
//! The contract types `catalog.search`'s answer as a free-form object. Decoding a page into
//! `serde_json::Value` costs a map and a heap string per member, and a `Value` per coordinate;
//! on a 500-item page that is most of a call's CPU time. These types decode the members every
//! STAC client reads into fields, keep any other member in `extra` (so nothing the server sends
//! is lost), and keep each geometry as its raw JSON text, parsed only when asked for.
//!
//! Unknown members go to `extra` through a hand-written visitor rather than
//! `#[serde(flatten)]`, which would buffer every member before matching it.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::open::{never, open_model, Key};

open_model! {
    /// A page of `catalog.search`: a STAC `FeatureCollection` with the API's paging members.
    pub struct CatalogSearchOutput {
        /// `type`, normally `FeatureCollection`.
        r#type: Option<String> = "type", skip_if "Option::is_none";
        /// The items of this page.
        features: Vec<StacItem> = "features", skip_if "never";
        /// `numberReturned`: how many items this page holds.
        number_returned: Option<u64> = "numberReturned", skip_if "Option::is_none";
        /// `numberMatched`: how many items match the search, when the server counts them.
        number_matched: Option<u64> = "numberMatched", skip_if "Option::is_none";
        /// `next`: the cursor of the next page; absent on the last page.
        next: Option<String> = "next", skip_if "Option::is_none";
        /// `links` of the collection.
        links: Option<Vec<Link>> = "links", skip_if "Option::is_none";
    }
}

open_model! {
    /// One STAC item (a GeoJSON `Feature`).
    pub struct StacItem {
        /// `type`, normally `Feature`.
        r#type: Option<String> = "type", skip_if "Option::is_none";
        /// `stac_version`.
        stac_version: Option<String> = "stac_version", skip_if "Option::is_none";
        /// `stac_extensions`: schema URLs of the extensions the item uses.
        stac_extensions: Option<Vec<String>> = "stac_extensions", skip_if "Option::is_none";
        /// `id`, unique within its collection.
        id: String = "id", skip_if "never";
        /// `collection` the item belongs to.
        collection: Option<String> = "collection", skip_if "Option::is_none";
        /// `bbox`: west, south, east, north (and heights in 3-D).
        bbox: Option<Vec<f64>> = "bbox", skip_if "Option::is_none";
        /// `geometry`, kept as raw JSON until asked for.
        geometry: Option<Geometry> = "geometry", skip_if "Option::is_none";
        /// `properties`: acquisition time, cloud cover and the rest.
        properties: Properties = "properties", skip_if "never";
        /// `assets` by key, e.g. `red`, `thumbnail`; decoded when read.
        assets: Option<Lazy<BTreeMap<String, Asset>>> = "assets", skip_if "Option::is_none";
        /// `links` of the item; decoded when read.
        links: Option<Lazy<Vec<Link>>> = "links", skip_if "Option::is_none";
    }
}

open_model! {
    /// The `properties` of a STAC item: the common members typed, the rest in `extra`.
    pub struct Properties {
        /// `datetime` of acquisition (RFC 3339), or null for a range.
        datetime: Option<String> = "datetime", skip_if "Option::is_none";
        /// `start_datetime` of a range.
        start_datetime: Option<String> = "start_datetime", skip_if "Option::is_none";
        /// `end_datetime` of a range.
        end_datetime: Option<String> = "end_datetime", skip_if "Option::is_none";
        /// `eo:cloud_cover`, in percent.
        cloud_cover: Option<f64> = "eo:cloud_cover", skip_if "Option::is_none";
        /// `gsd`: ground sample distance in metres.
        gsd: Option<f64> = "gsd", skip_if "Option::is_none";
        /// `platform`, e.g. `sentinel-2a`.
        platform: Option<String> = "platform", skip_if "Option::is_none";
        /// `constellation`, e.g. `sentinel-2`.
        constellation: Option<String> = "constellation", skip_if "Option::is_none";
        /// `instruments`, e.g. `["msi"]`.
        instruments: Option<Vec<String>> = "instruments", skip_if "Option::is_none";
    }
}

open_model! {
    /// A STAC asset: a file of an item.
    pub struct Asset {
        /// `href`: where the file is.
        href: String = "href", skip_if "never";
        /// `type`: its media type.
        r#type: Option<String> = "type", skip_if "Option::is_none";
        /// `title`.
        title: Option<String> = "title", skip_if "Option::is_none";
        /// `roles`, e.g. `["data"]` or `["thumbnail"]`.
        roles: Option<Vec<String>> = "roles", skip_if "Option::is_none";
    }
}

open_model! {
    /// A link of a STAC object.
    pub struct Link {
        /// `href`: the target.
        href: String = "href", skip_if "never";
        /// `rel`: the relation, e.g. `next` or `collection`.
        rel: Option<String> = "rel", skip_if "Option::is_none";
        /// `type`: the target's media type.
        r#type: Option<String> = "type", skip_if "Option::is_none";
        /// `title`.
        title: Option<String> = "title", skip_if "Option::is_none";
    }
}

/// A member kept as the exact JSON text the server sent and decoded into `T` only when read:
/// paging through results that are never looked at in detail costs a copy, not a decode.
///
/// It serializes as that text, which only `serde_json` writes as it is: another format (YAML,
/// CBOR, MessagePack) gets `serde_json`'s private wrapper of raw text instead of the member.
/// To write an item in another format, read the member first (or the item as a
/// `serde_json::Value`).
pub struct Lazy<T> {
    raw: Box<RawValue>,
    decoded: std::marker::PhantomData<fn() -> T>,
}

impl<T> Lazy<T> {
    /// The member's JSON text, exactly as received but for a lone surrogate escape, written
    /// as U+FFFD's.
    pub fn raw(&self) -> &str {
        self.raw.get()
    }

    /// Decodes the member.
    ///
    /// # Errors
    ///
    /// The text does not fit `T` (the server sent an unexpected shape).
    pub fn get(&self) -> Result<T, serde_json::Error>
    where
        T: serde::de::DeserializeOwned,
    {
        serde_json::from_str(self.raw())
    }

    /// Decodes the member as any JSON value.
    ///
    /// # Errors
    ///
    /// Never for an answer that parses as a whole as a `serde_json::Value`; see
    /// [`Geometry::to_value`] for the one kind of text that fails.
    pub fn to_value(&self) -> Result<Value, serde_json::Error> {
        serde_json::from_str(self.raw())
    }
}

impl<T> Clone for Lazy<T> {
    fn clone(&self) -> Self {
        Lazy {
            raw: self.raw.clone(),
            decoded: std::marker::PhantomData,
        }
    }
}

impl<T> fmt::Debug for Lazy<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Lazy").field(&self.raw()).finish()
    }
}

impl<T> PartialEq for Lazy<T> {
    fn eq(&self, other: &Self) -> bool {
        self.raw() == other.raw()
    }
}

impl<T> Serialize for Lazy<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.raw.serialize(serializer)
    }
}

impl<'de, T> Deserialize<'de> for Lazy<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Box::<RawValue>::deserialize(deserializer).map(|raw| Lazy {
            raw: readable(raw),
            decoded: std::marker::PhantomData,
        })
    }
}

/// `raw` with each lone surrogate escape written as U+FFFD's, as
/// [`json::from_slice`](crate::json::from_slice) reads the rest of an answer. Raw text is
/// only loosely checked as a page is read, so such an escape would stay in it, and fail every
/// later reading of the member (a Rust string cannot hold half a character) while the rest of
/// the page read fine.
fn readable(raw: Box<RawValue>) -> Box<RawValue> {
    match crate::json::lone_surrogates_replaced(raw.get().as_bytes()) {
        std::borrow::Cow::Borrowed(_) => raw,
        // ASCII written over ASCII: still UTF-8, and still the JSON it was.
        std::borrow::Cow::Owned(fixed) => String::from_utf8(fixed)
            .ok()
            .and_then(|text| RawValue::from_string(text).ok())
            .unwrap_or(raw),
    }
}

/// A GeoJSON geometry kept as the exact JSON text the server sent: copying text is far
/// cheaper than building a value per coordinate, and most callers never read it. Like
/// [`Lazy`], it serializes as that text, which only `serde_json` writes as it is.
#[derive(Clone)]
pub struct Geometry(Box<RawValue>);

impl Geometry {
    /// The geometry's JSON text, exactly as received but for a lone surrogate escape, written
    /// as U+FFFD's.
    pub fn raw(&self) -> &str {
        self.0.get()
    }

    /// The geometry as a JSON value (parsed now).
    ///
    /// # Errors
    ///
    /// Never for an answer that was read as a page: a lone surrogate escape in its text
    /// (`"\ud800"`, which the JSON grammar allows but a Rust string cannot hold) was written
    /// as U+FFFD's as it was read.
    pub fn to_value(&self) -> Result<Value, serde_json::Error> {
        serde_json::from_str(self.raw())
    }

    /// Decodes the geometry into a type of the caller's choosing (e.g. a `geojson` geometry).
    ///
    /// # Errors
    ///
    /// The geometry does not fit `T`.
    pub fn parse<'a, T: Deserialize<'a>>(&'a self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.raw())
    }

    /// The GeoJSON `type` member, e.g. `Polygon`; `None` unless the geometry is an object
    /// with a string `type`.
    pub fn kind(&self) -> Option<String> {
        /// Reads `type` from an object only: a derived `Deserialize` would also take the
        /// first item of an array (`["Polygon"]`) for it.
        struct Kind(Option<String>);
        impl<'de> Deserialize<'de> for Kind {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct KindVisitor;
                impl<'de> Visitor<'de> for KindVisitor {
                    type Value = Kind;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("a GeoJSON object")
                    }
                    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Kind, A::Error> {
                        let mut kind = None;
                        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
                            if key == "type" {
                                kind = Some(map.next_value::<String>()?);
                            } else {
                                map.next_value::<de::IgnoredAny>()?;
                            }
                        }
                        Ok(Kind(kind))
                    }
                }
                deserializer.deserialize_map(KindVisitor)
            }
        }
        self.parse::<Kind>().ok().and_then(|kind| kind.0)
    }
}

impl fmt::Debug for Geometry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Geometry").field(&self.raw()).finish()
    }
}

impl PartialEq for Geometry {
    fn eq(&self, other: &Self) -> bool {
        self.raw() == other.raw()
    }
}

impl Serialize for Geometry {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Geometry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Box::<RawValue>::deserialize(deserializer).map(|raw| Geometry(readable(raw)))
    }
}

impl CatalogSearchOutput {
    /// Decodes the page into a type of the caller's choosing, through its JSON form.
    ///
    /// # Errors
    ///
    /// The page does not fit `T`.
    pub fn to_typed<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_value(serde_json::to_value(self)?)
    }
}

#[cfg(test)]
#[path = "stac_tests.rs"]
mod tests;
