//! Static descriptions of the contract's JSON schemas.
//!
//! The generator turns every component schema into a [`Shape`] so that code without the
//! OpenAPI document at hand (the emulator's request validation, the SDK's checks of
//! free-form JSON bodies) can still reason about required fields, types and limits.

/// The JSON type and constraints a value must satisfy.
#[derive(Debug)]
pub enum Shape {
    /// Any JSON value.
    Any,
    /// `null` only.
    Null,
    /// `true` or `false`.
    Boolean,
    /// A whole number within the given bounds.
    Integer(Bounds),
    /// Any number within the given bounds.
    Number(Bounds),
    /// A string within the given limits.
    String(StringRule),
    /// One of a fixed set of strings.
    Enum(&'static [&'static str]),
    /// An array whose items all have one shape.
    Array(ArrayRule),
    /// A fixed-length array whose positions have their own shapes.
    Tuple(&'static [Shape]),
    /// An object with named fields.
    Object(ObjectRule),
    /// An object whose every member has one shape.
    Map(&'static Shape),
    /// A value matching at least one of the alternatives.
    AnyOf(&'static [Shape]),
    /// A reference to a named component schema.
    Ref(&'static Schema),
}

/// A component schema: its contract name and its shape.
#[derive(Debug)]
pub struct Schema {
    /// The schema's name in the contract, e.g. `CatalogSearchInput`.
    pub name: &'static str,
    /// The Rust type generated for it, e.g. `CatalogSearchInput`.
    pub rust_name: &'static str,
    /// What a value of the schema looks like.
    pub shape: Shape,
}

impl Schema {
    /// The numeric limits of the member `name`, looking past a `null` alternative: for code
    /// that must apply the contract's bound where the contract does not check it (a free-form
    /// body, a default the server picks), so that it reads the number rather than copying it.
    /// `None` when the member is unknown or not a number.
    ///
    /// ```
    /// let limit = geopera_types::schemas::CATALOG_SEARCH_INPUT.number_bounds("limit");
    /// assert_eq!(limit.and_then(|bounds| bounds.minimum), Some(1.0));
    /// ```
    pub fn number_bounds(&self, name: &str) -> Option<&'static Bounds> {
        let field = self
            .shape
            .fields()
            .iter()
            .find(|field| field.name == name)?;
        let numeric = |shape: &'static Shape| match shape.resolve() {
            Shape::Integer(bounds) | Shape::Number(bounds) => Some(bounds),
            _ => None,
        };
        match field.shape.resolve() {
            Shape::AnyOf(alternatives) => alternatives.iter().find_map(numeric),
            _ => numeric(&field.shape),
        }
    }
}

/// Inclusive and exclusive numeric limits; `None` means unbounded.
#[derive(Debug, Default)]
pub struct Bounds {
    /// The smallest allowed value.
    pub minimum: Option<f64>,
    /// The largest allowed value.
    pub maximum: Option<f64>,
    /// Values must be strictly greater than this.
    pub exclusive_minimum: Option<f64>,
    /// Values must be strictly smaller than this.
    pub exclusive_maximum: Option<f64>,
}

/// Limits on a string.
#[derive(Debug, Default)]
pub struct StringRule {
    /// The fewest characters allowed.
    pub min_length: Option<u64>,
    /// The most characters allowed.
    pub max_length: Option<u64>,
    /// An ECMA-262 regular expression the string must match somewhere.
    pub pattern: Option<&'static str>,
    /// The declared format: `date-time` and `date` are checked as the API reads them; any
    /// other (`uuid`, `email`, `uri`) is informative only: the input check leaves it to the API.
    pub format: Option<&'static str>,
}

/// Limits on an array.
#[derive(Debug)]
pub struct ArrayRule {
    /// The shape of every item.
    pub items: &'static Shape,
    /// The fewest items allowed.
    pub min_items: Option<u64>,
    /// The most items allowed.
    pub max_items: Option<u64>,
}

/// The fields of an object.
#[derive(Debug)]
pub struct ObjectRule {
    /// The declared fields, in contract order.
    pub fields: &'static [Field],
    /// Whether members beyond the declared fields are expected (they are never rejected).
    pub open: bool,
}

/// One declared field of an object.
#[derive(Debug)]
pub struct Field {
    /// The member name on the wire, e.g. `splitByDate`.
    pub name: &'static str,
    /// Whether the member must be present.
    pub required: bool,
    /// What the member's value looks like.
    pub shape: Shape,
}

impl Shape {
    /// Follows references until a concrete shape is reached.
    pub fn resolve(&self) -> &Shape {
        let mut shape = self;
        while let Shape::Ref(schema) = shape {
            shape = &schema.shape;
        }
        shape
    }

    /// The declared fields when this is (a reference to) an object, else an empty slice.
    pub fn fields(&self) -> &'static [Field] {
        match self.resolve() {
            Shape::Object(rule) => rule.fields,
            _ => &[],
        }
    }
}
