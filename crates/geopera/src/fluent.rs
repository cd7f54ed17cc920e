//! The fluent client: `geopera.catalog().search(body).await`.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::pin::Pin;
use std::time::Duration;

use geopera_types::{DecodeOutput, Operation};

use crate::client::{ApiClient, AuthenticatedClient, Client, ClientBuilder};
use crate::request::Converted;
use crate::{Error, IntoRequest, NdjsonOperation, Request, Response};

/// The fluent entry point: one method per namespace of operation ids, down to the operation.
///
/// ```no_run
/// # async fn run() -> Result<(), geopera::Error> {
/// use geopera::{models::CatalogSearchInput, Geopera};
///
/// let geopera = Geopera::new("gpra_...")?;
/// let page = geopera
///     .catalog()
///     .search(CatalogSearchInput::new("earthsearch-aws").limit(10))
///     .await?;
/// // The same call, blocking:
/// let page = geopera.catalog().search(CatalogSearchInput::new("earthsearch-aws")).send_blocking()?;
/// # Ok(()) }
/// ```
///
/// Unlike the Python SDK's fluent client, every call can be awaited *or* finished with
/// `send_blocking`, and [`Geopera::client`] hands out the same configured client for the
/// operation functions.
#[derive(Clone, Debug)]
pub struct Geopera {
    client: AuthenticatedClient,
}

impl Geopera {
    /// A fluent client for the public API with `token` (a `gpra_` key or a session token).
    ///
    /// # Errors
    ///
    /// The token contains characters that cannot be sent in a header.
    pub fn new(token: impl Into<String>) -> Result<Self, Error> {
        Self::builder(token).build()
    }

    /// A builder with every knob of [`ClientBuilder`].
    pub fn builder(token: impl Into<String>) -> ClientBuilder<Geopera> {
        ClientBuilder::<Geopera>::with_token(token.into())
    }

    /// A builder for a fluent client whose credentials come from `credentials`, e.g. a
    /// [`Session`](crate::auth::Session) that keeps itself signed in.
    pub fn builder_with_credentials(
        credentials: impl crate::auth::Credentials,
    ) -> ClientBuilder<Geopera> {
        ClientBuilder::<Geopera>::with_credentials(std::sync::Arc::new(credentials))
    }

    /// The underlying client, to pass to the operation functions.
    pub fn client(&self) -> &AuthenticatedClient {
        &self.client
    }

    /// Calls any operation by id with a JSON body and returns the JSON answer.
    ///
    /// # Errors
    ///
    /// Before any request is sent: an unknown id, or an operation that answers bytes rather
    /// than JSON (see [`OperationInfo::answers_binary`]) or is asked for them (an analytics
    /// `output_format` other than `json`), fails with
    /// [`Error::InvalidRequest`]; a body that does not fit the operation's input, with
    /// [`Error::InvalidInput`] naming the field. Otherwise as for any operation's `send`. The
    /// bytes of such an answer are the `content` of [`invoke_detailed`](Self::invoke_detailed).
    ///
    /// [`OperationInfo::answers_binary`]: crate::OperationInfo::answers_binary
    pub async fn invoke(
        &self,
        operation_id: &str,
        body: serde_json::Value,
    ) -> Result<serde_json::Value, Error> {
        answers_json(operation_id, &body)?;
        self.invoke_detailed(operation_id, body)
            .await?
            .into_result()
    }

    /// [`Geopera::invoke`] returning the detailed answer.
    ///
    /// # Errors
    ///
    /// As for [`Geopera::invoke`], with documented error statuses returned as values, except
    /// that an operation answering bytes is called: its answer is the response's `content`.
    pub async fn invoke_detailed(
        &self,
        operation_id: &str,
        body: serde_json::Value,
    ) -> Result<Response<serde_json::Value>, Error> {
        crate::runtime::invoke(self.client.core(), operation_id, body).await
    }

    /// [`Geopera::invoke_detailed`] with per-call options: a [`Request`] wrapping the JSON body
    /// carries an `Idempotency-Key`, a timeout, extra headers. Tools that call operations by id
    /// (a command line, a proxy) need those options without a typed input model.
    ///
    /// # Errors
    ///
    /// As for [`Geopera::invoke_detailed`].
    pub async fn invoke_request(
        &self,
        operation_id: &str,
        request: Request<serde_json::Value>,
    ) -> Result<Response<serde_json::Value>, Error> {
        self.invoke_request_as(operation_id, request).await
    }

    /// [`Geopera::invoke_request`] with the success answer decoded as `T`: a model of the
    /// caller's own, or [`Binary`](crate::Binary) to keep the bytes unread. A tool that passes
    /// answers on as text (a command line printing JSON) has no use for a
    /// `serde_json::Value` tree, which takes many times the answer's size in memory.
    ///
    /// # Errors
    ///
    /// As for [`Geopera::invoke_detailed`].
    pub async fn invoke_request_as<T: DecodeOutput>(
        &self,
        operation_id: &str,
        request: Request<serde_json::Value>,
    ) -> Result<Response<T>, Error> {
        let (body, options) = request.into_json_parts();
        crate::runtime::invoke_with(self.client.core(), operation_id, body, options).await
    }

    /// The blocking form of [`Geopera::invoke`].
    ///
    /// # Errors
    ///
    /// As for [`Geopera::invoke`].
    #[cfg(feature = "blocking")]
    pub fn invoke_blocking(
        &self,
        operation_id: &str,
        body: serde_json::Value,
    ) -> Result<serde_json::Value, Error> {
        answers_json(operation_id, &body)?;
        self.invoke_detailed_blocking(operation_id, body)?
            .into_result()
    }

    /// The blocking form of [`Geopera::invoke_detailed`].
    ///
    /// # Errors
    ///
    /// As for [`Geopera::invoke_detailed`].
    #[cfg(feature = "blocking")]
    pub fn invoke_detailed_blocking(
        &self,
        operation_id: &str,
        body: serde_json::Value,
    ) -> Result<Response<serde_json::Value>, Error> {
        self.invoke_request_as_blocking(operation_id, Request::new(body))
    }

    /// The blocking form of [`Geopera::invoke_request`].
    ///
    /// # Errors
    ///
    /// As for [`Geopera::invoke_request`].
    #[cfg(feature = "blocking")]
    pub fn invoke_request_blocking(
        &self,
        operation_id: &str,
        request: Request<serde_json::Value>,
    ) -> Result<Response<serde_json::Value>, Error> {
        self.invoke_request_as_blocking(operation_id, request)
    }

    /// The blocking form of [`Geopera::invoke_request_as`].
    ///
    /// # Errors
    ///
    /// As for [`Geopera::invoke_request_as`].
    #[cfg(feature = "blocking")]
    pub fn invoke_request_as_blocking<T: DecodeOutput + Send + 'static>(
        &self,
        operation_id: &str,
        request: Request<serde_json::Value>,
    ) -> Result<Response<T>, Error> {
        let (body, options) = request.into_json_parts();
        crate::runtime::invoke_with_blocking(self.client.core(), operation_id, body, options)
    }
}

/// Refuses, before sending, a call whose answer `invoke` could only lose: an operation that
/// answers bytes would run, and its answer would then fail to decode as JSON; so would one
/// whose body asks for bytes (an analytics picture, `"output_format": "png"`).
fn answers_json(operation_id: &str, body: &serde_json::Value) -> Result<(), Error> {
    let Some(info) = geopera_types::operations::find(operation_id) else {
        return Ok(());
    };
    let asks_for_bytes = info.may_answer_binary()
        && body
            .get("output_format")
            .and_then(serde_json::Value::as_str)
            .is_some_and(|format| !format.eq_ignore_ascii_case("json"));
    if info.answers_binary() || asks_for_bytes {
        return Err(Error::invalid(
            operation_id,
            "answers bytes (an image, an XML document or NDJSON), not one JSON value: read the \
             `content` of `invoke_detailed`, or call the operation's typed `send`",
        ));
    }
    Ok(())
}

impl From<AuthenticatedClient> for Geopera {
    fn from(client: AuthenticatedClient) -> Self {
        Geopera { client }
    }
}

impl ApiClient for Geopera {
    fn core(&self) -> &Client {
        self.client.core()
    }
}

impl ClientBuilder<Geopera> {
    /// Builds the fluent client.
    ///
    /// # Errors
    ///
    /// The first invalid setting, as for [`ClientBuilder::build`](ClientBuilder#method.build).
    pub fn build(self) -> Result<Geopera, Error> {
        Ok(Geopera {
            client: self.into_authenticated().build()?,
        })
    }
}

/// One pending call of the fluent client. `.await` it for the success model, or finish it with
/// [`send_detailed`](Call::send_detailed), `send_blocking` or `send_blocking_detailed`
/// (feature `blocking`). Nothing is sent until then.
#[must_use = "a call does nothing until it is awaited or sent"]
pub struct Call<O: Operation> {
    client: AuthenticatedClient,
    request: Request<O::Input>,
    operation: PhantomData<fn() -> O>,
}

impl<O: Operation> fmt::Debug for Call<O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Call")
            .field("operation_id", &O::INFO.id)
            .finish_non_exhaustive()
    }
}

impl<O: Operation> Call<O> {
    pub(crate) fn new(client: &AuthenticatedClient, body: impl IntoRequest<O::Input>) -> Self {
        Call {
            client: client.clone(),
            request: body.into_request(),
            operation: PhantomData,
        }
    }

    fn map_request(mut self, f: impl FnOnce(Request<O::Input>) -> Request<O::Input>) -> Self {
        self.request = f(self.request);
        self
    }

    /// Sends `Idempotency-Key`; see [`Request::idempotency_key`].
    pub fn idempotency_key(self, key: impl Into<String>) -> Self {
        self.map_request(|r| r.idempotency_key(key))
    }

    /// Sends a chosen `X-Request-Id`; see [`Request::request_id`].
    pub fn request_id(self, id: impl Into<String>) -> Self {
        self.map_request(|r| r.request_id(id))
    }

    /// Sends `x-api-key`; see [`Request::api_key`].
    pub fn api_key(self, key: impl Into<String>) -> Self {
        self.map_request(|r| r.api_key(key))
    }

    /// Overrides the per-attempt timeout; see [`Request::timeout`].
    pub fn timeout(self, timeout: Duration) -> Self {
        self.map_request(|r| r.timeout(timeout))
    }

    /// Adds a header; see [`Request::header`].
    pub fn header(self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.map_request(|r| r.header(name, value))
    }

    /// Overrides the retry count; see [`Request::retries`].
    pub fn retries(self, retries: u32) -> Self {
        self.map_request(|r| r.retries(retries))
    }

    /// Bounds the whole call; see [`Request::deadline`].
    pub fn deadline(self, deadline: Duration) -> Self {
        self.map_request(|r| r.deadline(deadline))
    }

    /// Sends the call and returns the detailed answer. The body is checked and serialized
    /// here; the future owns what it needs.
    ///
    /// # Errors
    ///
    /// As for the operation's `send_detailed`.
    pub fn send_detailed(self) -> impl Future<Output = Result<Response<O::Output>, Error>> + Send {
        crate::runtime::send_detailed::<O>(self.client.core(), Converted(self.request))
    }

    /// Sends the call and returns the success model (what `.await` does). The body is checked
    /// and serialized here; the future owns what it needs.
    ///
    /// # Errors
    ///
    /// As for the operation's `send`.
    pub fn send(self) -> impl Future<Output = Result<O::Output, Error>> + Send {
        crate::runtime::send::<O>(self.client.core(), Converted(self.request))
    }

    /// Sends the call, blocking the current thread, and returns the success model.
    ///
    /// # Errors
    ///
    /// As for the operation's `send_blocking`.
    #[cfg(feature = "blocking")]
    pub fn send_blocking(self) -> Result<O::Output, Error> {
        self.send_blocking_detailed()?.into_result()
    }

    /// Sends the call, blocking the current thread, and returns the detailed answer.
    ///
    /// # Errors
    ///
    /// As for the operation's `send_blocking_detailed`.
    #[cfg(feature = "blocking")]
    pub fn send_blocking_detailed(self) -> Result<Response<O::Output>, Error> {
        crate::runtime::send_blocking_detailed::<O>(self.client.core(), Converted(self.request))
    }
}

/// Operations that answer newline-delimited JSON ([`NdjsonOperation`]), such as
/// `catalog.search_stream`, are finished with `stream` rather than awaited: awaited, the call
/// hands over the raw lines as [`Binary`](crate::Binary).
impl<O: NdjsonOperation> Call<O> {
    /// The answer's items (one JSON value per line), parsed as they arrive, as the operation
    /// module's `stream` reads them (e.g.
    /// [`operations::catalog_search_stream::stream`](crate::operations::catalog_search_stream::stream)).
    pub fn stream(self) -> crate::PageStream<serde_json::Value> {
        crate::ndjson::stream::<O>(self.client.core(), Converted(self.request))
    }

    /// The blocking form of [`Call::stream`]: an iterator that reads the answer as it is
    /// advanced.
    ///
    /// A thread of its own reads the answer a little ahead of the caller: at most 64 items,
    /// and no more of their lines than one
    /// [`max_response_bytes`](crate::ClientBuilder::max_response_bytes) (one line when a line
    /// is longer), so a caller slower than the server holds about three times that cap at
    /// most.
    #[cfg(feature = "blocking")]
    pub fn stream_blocking(self) -> impl Iterator<Item = Result<serde_json::Value, Error>> {
        crate::ndjson::stream_blocking::<O>(self.client.core(), Converted(self.request))
    }
}

/// Operations that answer images or XML ([`Binary`](crate::Binary)) can also hand their body
/// over as it arrives.
impl<O: Operation<Output = crate::Binary>> Call<O> {
    /// Sends the call and returns the success body as a stream of chunks with its content
    /// type; see [`ByteStream`](crate::ByteStream).
    ///
    /// # Errors
    ///
    /// As for the operation's `send`, up to the start of the body.
    pub async fn stream_body(self) -> Result<crate::ByteStream, Error> {
        crate::binary::stream_body::<O>(self.client.core(), Converted(self.request)).await
    }

    /// The blocking form of [`Call::stream_body`]: an iterator of chunks, read as it is
    /// advanced.
    ///
    /// # Errors
    ///
    /// As for [`Call::stream_body`].
    #[cfg(feature = "blocking")]
    pub fn stream_body_blocking(self) -> Result<crate::BlockingByteStream, Error> {
        crate::binary::stream_body_blocking::<O>(self.client.core(), Converted(self.request))
    }
}

impl<O: Operation + 'static> IntoFuture for Call<O>
where
    O::Input: Send,
{
    type Output = Result<O::Output, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}
