//! `--output table`.
//!
//! A table shows the rows of the answer's list: STAC items, orders and jobs get the columns a
//! person scans for; any other list of objects gets the scalar members of its objects, in the
//! server's order, up to 16 (a warning names how many more there are); a list of anything
//! else is one VALUE column of its rows; a single object is shown as key / value pairs.
//! Nested values stay in JSON and YAML, which is what `--output json` and `--jq` are for.

use crate::ordered::Ordered;

/// Members that commonly hold the list of an answer, in the order they are looked for: the
/// names the SDK's page walk tries, in its order, then the lists of orders and jobs, which a
/// walk finds as a page's only list. A table takes the first of them that holds rows, where a
/// walk takes the first that is a list: for a page with an empty list before a filled one
/// (`{"data": [], "subscriptions": [...]}`), the table shows rows `--all` does not.
fn list_keys() -> impl Iterator<Item = &'static str> {
    geopera::PAGE_ITEM_FIELDS
        .iter()
        .copied()
        .chain(["orders", "jobs"])
}

/// A column: its heading and where each row's cell comes from (the first path that exists).
struct Column {
    heading: String,
    paths: Vec<Vec<String>>,
}

fn column(heading: &str, paths: &[&[&str]]) -> Column {
    Column {
        heading: heading.to_owned(),
        paths: paths
            .iter()
            .map(|path| path.iter().map(|s| (*s).to_owned()).collect())
            .collect(),
    }
}

fn lookup<'a>(row: &'a Ordered, path: &[String]) -> Option<&'a Ordered> {
    let mut value = row;
    for key in path {
        value = value.get(key)?;
    }
    Some(value)
}

/// Members that mark an object as one page of a list rather than a single resource.
const PAGE_MARKERS: &[&str] = &[
    "next",
    "links",
    "total",
    "totalElements",
    "totalPages",
    "page",
    "limit",
    "offset",
    "count",
    "numberMatched",
    "numberReturned",
];

/// The list to show as rows, with the member it was found under: the answer itself when it
/// is an array; else its member of a well-known list name; else, when the answer looks like
/// a page (it has paging members), its first list of objects. In a page with no rows
/// anywhere, its empty list is taken (a page past the last, a search that matched nothing), so
/// that it is shown as a table with no rows rather than as the page's own members. A single
/// resource that merely holds a list (an order's `groups`) is shown as key / value pairs, not
/// as the rows of that list. A single STAC item is a row of its own, under the columns of a
/// page of them, and a STAC collection or catalog is a single resource: both hold `links`, a
/// list of objects that would otherwise pass for a page.
fn rows(answer: &Ordered) -> Option<(Option<&str>, &[Ordered])> {
    match answer {
        Ordered::Array(items) => Some((None, items)),
        Ordered::Object(_) if stac_type(answer) == Some("Feature") => {
            Some((None, std::slice::from_ref(answer)))
        }
        Ordered::Object(_) if matches!(stac_type(answer), Some("Collection" | "Catalog")) => None,
        Ordered::Object(members) => {
            let named: Vec<(&str, &Ordered)> = list_keys()
                .filter_map(|key| Some((key, answer.get(key)?)))
                .collect();
            // A page's `links` (STAC's, or a page's own) are where to go next, never its rows.
            let members: Vec<(&str, &Ordered)> = members
                .iter()
                .filter(|(key, _)| key != "links")
                .map(|(key, v)| (key.as_str(), v))
                .collect();
            let page = PAGE_MARKERS.iter().any(|key| answer.get(key).is_some());
            // Rows first wherever they are; an empty list only in a page, where it is the
            // page's (a resource holding an empty `results` is a resource).
            filled_list(&named)
                .or_else(|| filled_list(&members).filter(|_| page))
                .or_else(|| empty_list(&named).filter(|_| page))
                .or_else(|| empty_list(&members).filter(|_| page))
        }
        _ => None,
    }
}

/// The first of `candidates` that is a non-empty list of objects.
fn filled_list<'a>(
    candidates: &[(&'a str, &'a Ordered)],
) -> Option<(Option<&'a str>, &'a [Ordered])> {
    lists(candidates).find(|(_, items)| !items.is_empty())
}

/// The first of `candidates` that is an empty list.
fn empty_list<'a>(
    candidates: &[(&'a str, &'a Ordered)],
) -> Option<(Option<&'a str>, &'a [Ordered])> {
    lists(candidates).find(|(_, items)| items.is_empty())
}

/// The lists of objects among `candidates`, with their names.
fn lists<'a, 'b>(
    candidates: &'b [(&'a str, &'a Ordered)],
) -> impl Iterator<Item = (Option<&'a str>, &'a [Ordered])> + 'b {
    candidates.iter().filter_map(|(key, value)| match value {
        Ordered::Array(items) if items.iter().all(|i| matches!(i, Ordered::Object(_))) => {
            Some((Some(*key), items.as_slice()))
        }
        _ => None,
    })
}

/// The columns of an empty list, by the name of the member holding it: those of STAC items,
/// orders and jobs, whose pages name their lists so; none for any other, whose columns come
/// from its rows.
fn columns_of_none(key: Option<&str>) -> Vec<Column> {
    match key {
        Some("features") => stac_columns(),
        Some("orders") => order_columns(),
        Some("jobs") => job_columns(),
        _ => Vec::new(),
    }
}

fn stac_columns() -> Vec<Column> {
    vec![
        column("ID", &[&["id"]]),
        column("COLLECTION", &[&["collection"]]),
        column("DATETIME", &[&["properties", "datetime"]]),
        column("CLOUD COVER", &[&["properties", "eo:cloud_cover"]]),
    ]
}

fn order_columns() -> Vec<Column> {
    vec![
        column("ID", &[&["orderId"], &["order_id"], &["id"]]),
        column("TYPE", &[&["type"], &["orderType"]]),
        column("STATUS", &[&["status"]]),
        column("CREDITS", &[&["totalCredits"], &["total_credits"]]),
    ]
}

fn job_columns() -> Vec<Column> {
    vec![
        column("ID", &[&["id"], &["job_id"]]),
        column("STATUS", &[&["status"]]),
        column("PROGRESS", &[&["progress"]]),
    ]
}

/// An object's `type` member when it is a string: what STAC and GeoJSON call the object.
fn stac_type(object: &Ordered) -> Option<&str> {
    match object.get("type")? {
        Ordered::String(name) => Some(name),
        _ => None,
    }
}

/// The most columns of a list that is no list of STAC items, orders or jobs. Each row is
/// padded under every column, so rows that each bring members of their own would make a
/// table of the rows times their members, nearly all blanks and wider than any terminal.
const MAX_COLUMNS: usize = 16;

/// The columns for a list of rows, chosen from the first row's shape.
fn columns(rows: &[Ordered]) -> Vec<Column> {
    let Some(first) = rows.first() else {
        return Vec::new();
    };
    let has = |key: &str| first.get(key).is_some();
    if stac_type(first) == Some("Feature") || (has("properties") && has("collection")) {
        return stac_columns();
    }
    if has("orderId") || has("order_id") {
        return order_columns();
    }
    if has("progress") || has("job_id") {
        return job_columns();
    }
    // Any other list: the scalar members of its objects, in first-seen order, up to
    // `MAX_COLUMNS` of them.
    let mut names: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for row in rows {
        if let Ordered::Object(members) = row {
            for (key, value) in members {
                if value.is_scalar() && seen.insert(key.as_str()) && names.len() < MAX_COLUMNS {
                    names.push(key.clone());
                }
            }
        }
    }
    if seen.len() > names.len() {
        crate::paint::warning(&format!(
            "the table shows {} of the {} scalar members its rows have as columns; -o json or --jq \
             shows the other {}",
            names.len(),
            seen.len(),
            seen.len() - names.len()
        ));
    }
    names
        .into_iter()
        .map(|name| Column {
            heading: one_line(name.to_uppercase()),
            paths: vec![vec![name]],
        })
        .collect()
}

/// The widest a column is padded to. A longer cell is printed whole and pushes the rest of its
/// own row to the right: were the column padded to it, every other row would carry its width
/// in blanks, and one long value (a description, or a megabyte a hostile server put in an
/// id) would make the table the number of rows times that width.
const MAX_PADDED_WIDTH: usize = 64;

/// Lays out `cells` under `headings`, columns padded to their widest cell, in columns of a
/// terminal ([`columns_taken`]), up to [`MAX_PADDED_WIDTH`]; the header row is bold when
/// `bold` (a terminal without `NO_COLOR`).
fn layout(headings: &[String], cells: &[Vec<String>], bold: bool) -> String {
    let width = |i: usize| {
        cells
            .iter()
            .map(|row| row.get(i).map_or(0, |c| columns_taken(c)))
            .chain(std::iter::once(columns_taken(&headings[i])))
            .max()
            .unwrap_or(0)
            .min(MAX_PADDED_WIDTH)
    };
    let widths: Vec<usize> = (0..headings.len()).map(width).collect();
    let line = |row: &[String]| {
        let mut text = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                text.push_str(cell);
            } else {
                let pad = widths[i].saturating_sub(columns_taken(cell));
                text.push_str(cell);
                text.push_str(&" ".repeat(pad + 2));
            }
        }
        text.trim_end().to_owned()
    };
    let mut out = String::new();
    let header = line(headings);
    crate::paint::push(&mut out, crate::paint::HEADING, &header, bold);
    for row in cells {
        crate::stop_if_interrupted();
        out.push('\n');
        out.push_str(&line(row));
    }
    out
}

/// How many columns of a terminal `text` takes: a cell of characters that take two each (most
/// CJK ones) or none (a combining accent) would be padded out of line by its count of them.
fn columns_taken(text: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(text)
}

/// Cells are one line each: a line break or tab inside a value would break the columns. They
/// are shown as escapes, as every other control character is: as spaces, `a\nb` would read as
/// `a b`, another value.
fn one_line(text: String) -> String {
    match crate::paint::inert(&text) {
        std::borrow::Cow::Borrowed(_) => text,
        std::borrow::Cow::Owned(shown) => shown,
    }
}

/// The answer as a table; an empty list whose columns are unknown is no table at all.
pub(crate) fn table(answer: &Ordered, bold: bool) -> String {
    if let Some((key, rows)) = rows(answer) {
        if rows.is_empty() {
            let headings: Vec<String> = columns_of_none(key)
                .into_iter()
                .map(|c| c.heading)
                .collect();
            if headings.is_empty() {
                return String::new();
            }
            return layout(&headings, &[], bold);
        }
        // Columns come from objects' members: a list with other rows (`--jq
        // '[.features[].id]'`, a list of lists) or of objects with no scalar member has none,
        // and laid out under them its rows would be printed as nothing at all, with exit 0.
        // Such a list is one column of its rows instead.
        let columns = if rows.iter().all(|row| matches!(row, Ordered::Object(_))) {
            columns(rows)
        } else {
            Vec::new()
        };
        if columns.is_empty() && !rows.is_empty() {
            let cells: Vec<Vec<String>> = rows
                .iter()
                .map(|row| {
                    crate::stop_if_interrupted();
                    vec![one_line(row.cell())]
                })
                .collect();
            return layout(&["VALUE".to_owned()], &cells, bold);
        }
        if !columns.is_empty() {
            let headings: Vec<String> = columns.iter().map(|c| c.heading.clone()).collect();
            let cells: Vec<Vec<String>> = rows
                .iter()
                .map(|row| {
                    crate::stop_if_interrupted();
                    columns
                        .iter()
                        .map(|c| {
                            let value = c.paths.iter().find_map(|p| lookup(row, p));
                            one_line(value.map(Ordered::cell).unwrap_or_default())
                        })
                        .collect()
                })
                .collect();
            return layout(&headings, &cells, bold);
        }
    }
    match answer {
        Ordered::Object(members) => {
            let cells: Vec<Vec<String>> = members
                .iter()
                .map(|(key, value)| {
                    crate::stop_if_interrupted();
                    vec![one_line(key.clone()), one_line(value.cell())]
                })
                .collect();
            layout(&["KEY".to_owned(), "VALUE".to_owned()], &cells, bold)
        }
        scalar => one_line(scalar.cell()),
    }
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;
