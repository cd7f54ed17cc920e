//! Unit tests of `naming.rs`.
use super::*;

#[test]
fn type_names_follow_rust_case() {
    assert_eq!(type_name("HTTPValidationError"), "HttpValidationError");
    assert_eq!(type_name("CollectionDTO"), "CollectionDto");
    assert_eq!(type_name("_Empty"), "Empty");
    assert_eq!(
        type_name("src__operations__stac__reads__CollectionsListInput"),
        "StacCollectionsListInput"
    );
    assert_eq!(
        type_name("src__operations__collections__reads__CollectionsListInput"),
        "CollectionsListInput"
    );
}

#[test]
fn field_names_are_snake_case_and_escaped() {
    assert_eq!(field_name("splitByDate"), "split_by_date");
    assert_eq!(field_name("GT"), "gt");
    assert_eq!(field_name("filter-lang"), "filter_lang");
    assert_eq!(field_name("type"), "r#type");
    assert_eq!(field_name("self"), "self_");
}

#[test]
fn operation_names_follow_the_seed() {
    assert_eq!(
        module_name("orders.tasking.estimate"),
        "orders_tasking_estimate"
    );
    assert_eq!(
        operation_type("catalog.search_stream"),
        "CatalogSearchStream"
    );
    assert_eq!(namespace_type(&["orders", "tasking"]), "OrdersTaskingApi");
}
