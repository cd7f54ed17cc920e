//! Emits the `geopera` crate's generated folder: one module per operation and the fluent
//! namespaces. Every function body is a single call into the hand-written runtime.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use anyhow::{bail, Result};

use crate::docs::{self, input_path, operation_summary, output_path, type_link};
use crate::ir::{Api, OperationDef, Paging};
use crate::naming;
use crate::Files;

/// Emits every file of the SDK crate's generated folder, keyed by path relative to it.
///
/// # Errors
///
/// An operation id that cannot become a fluent path (no namespace, or a clash).
pub fn emit(api: &Api, header: &str) -> Result<Files> {
    let mut files = Files::new();
    files.insert(
        "mod.rs".into(),
        format!(
            "{header}\n//! Generated from the contract; see the crate documentation.\n\n\
             pub mod fluent;\npub mod inputs;\npub mod operations;\n"
        ),
    );
    let mut ops_mod = format!(
        "{header}\n//! One module per operation, named after its id (`orders.tasking.estimate` is\n\
         //! [`orders_tasking_estimate`]). Each has the same four functions: [`send`](catalog_search::send),\n\
         //! [`send_detailed`](catalog_search::send_detailed), `send_blocking` and `send_blocking_detailed`.\n\n"
    );
    for op in &api.operations {
        let module = naming::module_name(&op.id);
        let _ = writeln!(ops_mod, "pub mod {module};");
        files.insert(
            format!("operations/{}.rs", naming::bare(&module)),
            format!("{header}\n{}", operation_module(op)),
        );
    }
    files.insert("operations/mod.rs".into(), ops_mod);
    files.insert("inputs.rs".into(), format!("{header}\n{}", inputs(api)));
    files.insert("fluent.rs".into(), format!("{header}\n{}", fluent(api)?));
    Ok(files)
}

/// The stream and iterator functions of a paged operation.
fn paging_functions(op: &OperationDef) -> String {
    if op.paging == Paging::None {
        return String::new();
    }
    let (item, item_doc) = page_item(op);
    format!(
        "\n/// Every page, fetched one after the other as the stream is polled, each decoded as [`Output`].\n\
         /// The walk starts from `body` and stops on the last page; dropping the stream stops it.\n\
         /// A page that goes wrong is an error in its place or the walk's end, as [`crate::PageStream`] says.\n\
         pub fn pages(client: &impl ApiClient, body: impl IntoRequest<Input>) -> crate::PageStream<Output> {{\n\
         crate::paging::pages::<Operation>(client.core(), body)\n}}\n\n\
         /// Every item of every page, {item_doc}, fetched page by page as the stream is polled.\n\
         pub fn items(client: &impl ApiClient, body: impl IntoRequest<Input>) -> crate::PageStream<{item}> {{\n\
         crate::paging::items::<Operation>(client.core(), body)\n}}\n\n\
         /// The blocking form of [`pages`]: an iterator that fetches as it is advanced.\n\
         #[cfg(feature = \"blocking\")]\n\
         pub fn pages_blocking(client: &impl ApiClient, body: impl IntoRequest<Input>) -> crate::BlockingPages<Output> {{\n\
         crate::paging::pages_blocking::<Operation>(client.core(), body)\n}}\n\n\
         /// The blocking form of [`items`].\n\
         #[cfg(feature = \"blocking\")]\n\
         pub fn items_blocking(client: &impl ApiClient, body: impl IntoRequest<Input>) -> impl Iterator<Item = Result<{item}, Error>> {{\n\
         crate::paging::items_blocking::<Operation>(client.core(), body)\n}}\n"
    )
}

/// What `items()` yields for `op`, and how its doc says so: typed items where the page model
/// types them, items that keep their links out of `Debug` where the page does, JSON
/// otherwise.
fn page_item(op: &OperationDef) -> (&'static str, &'static str) {
    if op.output_override == Some("crate::models::DownloadLinks") {
        return (
            "crate::models::DownloadLinks",
            "as JSON whose signed links `Debug` cuts short",
        );
    }
    match op.output.as_deref() {
        Some("CatalogSearchOutput") => ("crate::models::StacItem", "as a typed STAC item"),
        _ => ("serde_json::Value", "as JSON"),
    }
}

/// The item stream of an operation that answers newline-delimited JSON, and the marker that
/// gives its fluent call the same `stream`: both come from `op.ndjson`, so neither can miss an
/// operation the other has. The seal is implemented beside it, as only generated code may.
fn ndjson_functions(op: &OperationDef) -> String {
    if !op.ndjson {
        return String::new();
    }
    // Named by the descriptor, not the `Operation` alias, so the trait's implementors read as
    // the operations they are.
    format!(
        "\n/// The answer's items (one JSON value per line), parsed as they arrive.\n\
         pub fn stream(client: &impl ApiClient, body: impl IntoRequest<Input>) -> crate::PageStream<serde_json::Value> {{\n\
         crate::ndjson::stream::<Operation>(client.core(), body)\n}}\n\n\
         /// The blocking form of [`stream`]: an iterator that reads the answer as it is advanced.\n\
         #[cfg(feature = \"blocking\")]\n\
         pub fn stream_blocking(client: &impl ApiClient, body: impl IntoRequest<Input>) -> impl Iterator<Item = Result<serde_json::Value, Error>> {{\n\
         crate::ndjson::stream_blocking::<Operation>(client.core(), body)\n}}\n\n\
         impl crate::ndjson::Sealed for geopera_types::operations::{descriptor} {{}}\n\n\
         /// Gives the fluent call `stream` and `stream_blocking`.\n\
         impl crate::NdjsonOperation for geopera_types::operations::{descriptor} {{}}\n",
        descriptor = naming::operation_type(&op.id),
    )
}

/// The body stream of an operation that answers raw content (an image or XML).
fn binary_functions(op: &OperationDef) -> String {
    if !op.binary {
        return String::new();
    }
    "\n/// Sends the call and hands back the success body as it arrives, with its content type,\n\
     /// rather than read whole into a [`crate::Binary`]; for large images.\n///\n/// # Errors\n///\n\
     /// As for [`send`], up to the start of the body; the stream yields later failures.\n\
     pub async fn stream_body(client: &impl ApiClient, body: impl IntoRequest<Input>) -> Result<crate::ByteStream, Error> {\n\
     crate::binary::stream_body::<Operation>(client.core(), body).await\n}\n\n\
     /// The blocking form of [`stream_body`]: an iterator of chunks, read as it is advanced.\n///\n/// # Errors\n///\n/// As for [`stream_body`].\n\
     #[cfg(feature = \"blocking\")]\n\
     pub fn stream_body_blocking(client: &impl ApiClient, body: impl IntoRequest<Input>) -> Result<crate::BlockingByteStream, Error> {\n\
     crate::binary::stream_body_blocking::<Operation>(client.core(), body)\n}\n"
        .to_owned()
}

fn operation_module(op: &OperationDef) -> String {
    let input = input_path(op);
    let output = output_path(op);
    let errors: Vec<String> = op.errors.iter().map(|s| format!("`{s}`")).collect();
    let descriptor = naming::operation_type(&op.id);
    format!(
        "//! {summary}\n//!\n//! `{id}`: `POST {path}`.\n//!\n\
         //! | | |\n//! |---|---|\n\
         //! | scope | {scope} |\n\
         //! | input | {input_link} |\n\
         //! | output | {output_link}{output_note} |\n\
         //! | success | `{success}` |\n\
         //! | errors | {errors} |\n\
         //! | paging | {paging} |\n\
         //! | retry | {retry} |\n\
         //! | rate limit | {rate} |\n\n\
         use std::future::Future;\n\n\
         use crate::{{ApiClient, Error, IntoRequest, Response}};\n\n\
         /// The operation id, as used in routes, errors and spans.\n\
         pub const OPERATION_ID: &str = {id:?};\n\n\
         /// The request body.\npub type Input = {input};\n\n\
         /// The model of a successful answer.\npub type Output = {output};\n\n\
         /// The operation's descriptor.\npub type Operation = geopera_types::operations::{descriptor};\n\n\
         /// Sends the call and returns the success model.\n///\n\
         /// The body is checked and serialized when this is called; the future borrows neither\n\
         /// it nor the client, so it may be spawned as it is.\n///\n/// # Errors\n///\n\
         /// A body the input checks refuse or a header that cannot be sent (before anything\n\
         /// is), an error status, a timeout, a transport failure, an answer past the size cap\n\
         /// or one that does not decode, a credential that cannot be had; see [`Error`].\n\
         pub fn send(client: &impl ApiClient, body: impl IntoRequest<Input>) -> impl Future<Output = Result<Output, Error>> + Send {{\n\
         crate::runtime::send::<Operation>(client.core(), body)\n}}\n\n\
         /// Sends the call and returns status, headers, raw bytes and the parsed value, with\n\
         /// documented error statuses as values rather than errors. Checked and serialized at\n\
         /// once, as for [`send`].\n///\n/// # Errors\n///\n\
         /// A body the input checks refuse or a header that cannot be sent, a timeout, a\n\
         /// transport failure, an answer past the size cap, a credential that cannot be had,\n\
         /// and an undocumented status when the client raises on those (a 429 among them). An\n\
         /// error status, or an answer that does not decode, is a value ([`crate::Parsed`]).\n\
         pub fn send_detailed(client: &impl ApiClient, body: impl IntoRequest<Input>) -> impl Future<Output = Result<Response<Output>, Error>> + Send {{\n\
         crate::runtime::send_detailed::<Operation>(client.core(), body)\n}}\n\n\
         /// The blocking form of [`send`].\n///\n/// # Errors\n///\n/// As for [`send`].\n\
         #[cfg(feature = \"blocking\")]\n\
         pub fn send_blocking(client: &impl ApiClient, body: impl IntoRequest<Input>) -> Result<Output, Error> {{\n\
         crate::runtime::send_blocking::<Operation>(client.core(), body)\n}}\n\n\
         /// The blocking form of [`send_detailed`].\n///\n/// # Errors\n///\n/// As for [`send_detailed`].\n\
         #[cfg(feature = \"blocking\")]\n\
         pub fn send_blocking_detailed(client: &impl ApiClient, body: impl IntoRequest<Input>) -> Result<Response<Output>, Error> {{\n\
         crate::runtime::send_blocking_detailed::<Operation>(client.core(), body)\n}}\n{paging_fns}{ndjson_fns}{binary_fns}",
        summary = operation_summary(op),
        id = op.id,
        path = op.path,
        scope = docs::scope_detail(op),
        input_link = type_link(&input),
        output_link = type_link(&output),
        output_note = docs::output_note(op),
        success = op.success,
        errors = errors.join(", "),
        paging = docs::paging_detail(op.paging),
        retry = docs::retry_detail(op),
        rate = docs::budget_detail(op),
        paging_fns = paging_functions(op),
        ndjson_fns = ndjson_functions(op),
        binary_fns = binary_functions(op),
    )
}

fn inputs(api: &Api) -> String {
    let types: BTreeSet<String> = api.operations.iter().map(input_path).collect();
    let mut out =
        String::from("//! Lets every input model be passed where an operation expects a body.\n\n");
    for ty in types {
        let _ = writeln!(out, "crate::request::impl_into_request!({ty});");
    }
    out
}

/// A namespace node: the operations and child namespaces under one id prefix.
#[derive(Default)]
struct Node<'a> {
    operations: BTreeMap<&'a str, &'a OperationDef>,
    children: BTreeMap<&'a str, Node<'a>>,
}

fn fluent(api: &Api) -> Result<String> {
    let mut root = Node::default();
    for op in &api.operations {
        let segments: Vec<&str> = op.id.split('.').collect();
        let Some((last, prefix)) = segments.split_last() else {
            bail!("empty operation id");
        };
        if prefix.is_empty() {
            bail!("{}: operation ids need a namespace", op.id);
        }
        let mut node = &mut root;
        for segment in prefix {
            node = node.children.entry(segment).or_default();
        }
        node.operations.insert(last, op);
    }
    let mut out = String::from(
        "//! The fluent namespaces of [`Geopera`](crate::Geopera): `geopera.orders().tasking().estimate(body)`.\n\n\
         use crate::fluent::Call;\nuse crate::{AuthenticatedClient, IntoRequest};\n\n\
         impl crate::Geopera {\n",
    );
    for name in root.children.keys() {
        let _ = write!(
            out,
            "/// Operations whose id starts with `{name}.`.\npub fn {method}(&self) -> {ty}<'_> {{\n{ty} {{ client: self.client() }}\n}}\n\n",
            method = naming::ident(name),
            ty = naming::namespace_type(&[name]),
        );
    }
    out.push_str("}\n");
    for (name, node) in &root.children {
        namespace(&mut out, &[name], node)?;
    }
    Ok(out)
}

fn namespace(out: &mut String, path: &[&str], node: &Node<'_>) -> Result<()> {
    let ty = naming::namespace_type(path);
    let prefix = path.join(".");
    let _ = write!(
        out,
        "\n/// Operations whose id starts with `{prefix}.`.\n#[derive(Clone, Copy, Debug)]\npub struct {ty}<'a> {{\nclient: &'a AuthenticatedClient,\n}}\n\nimpl<'a> {ty}<'a> {{\n"
    );
    for (segment, op) in &node.operations {
        if node.children.contains_key(segment) {
            bail!("{}: also a namespace", op.id);
        }
        let module = naming::module_name(&op.id);
        let _ = write!(
            out,
            "/// Calls `{id}`; see [`operations::{module}`](crate::operations::{module}).\n\
             pub fn {method}(self, body: impl IntoRequest<crate::operations::{module}::Input>) -> Call<crate::operations::{module}::Operation> {{\n\
             Call::new(self.client, body)\n}}\n\n",
            id = op.id,
            method = naming::ident(segment),
        );
    }
    for segment in node.children.keys() {
        let mut child = path.to_vec();
        child.push(segment);
        let _ = write!(
            out,
            "/// Operations whose id starts with `{prefix}.{segment}.`.\npub fn {method}(self) -> {child_ty}<'a> {{\n{child_ty} {{ client: self.client }}\n}}\n\n",
            method = naming::ident(segment),
            child_ty = naming::namespace_type(&child),
        );
    }
    out.push_str("}\n");
    for (segment, child) in &node.children {
        let mut child_path = path.to_vec();
        child_path.push(segment);
        namespace(out, &child_path, child)?;
    }
    Ok(())
}
