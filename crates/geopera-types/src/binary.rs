//! Answers that are not JSON: rendered tiles, thumbnails and WMTS documents.
//!
//! The contract types every answer as JSON, yet some operations answer an image or XML. Their
//! output is [`Binary`], and every output is decoded through [`DecodeOutput`], so one call path
//! serves both kinds.

use std::fmt;

use bytes::Bytes;
use serde::de::DeserializeOwned;

/// The content type assumed when a binary answer names none (RFC 9110's default for bytes).
pub const OCTET_STREAM: &str = "application/octet-stream";

/// The content type of an answer of newline-delimited JSON, one value per line
/// ([`OperationInfo::answers_ndjson`](crate::OperationInfo::answers_ndjson)).
pub const NDJSON: &str = "application/x-ndjson";

/// The body of an answer that is not JSON — a PNG or JPEG tile, a thumbnail, a WMTS
/// capabilities document — with the content type the server gave it.
///
/// The bytes are kept as they arrived (a cheap-to-clone [`Bytes`]), so an image can be written
/// to disk or handed on without a copy. `Debug` shows the type and length, never the content:
/// a tile is tens of kilobytes that would drown a log.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Binary {
    /// The `Content-Type` of the answer, e.g. `image/png`; [`OCTET_STREAM`] when it had none.
    pub content_type: String,
    /// The body, byte for byte.
    pub bytes: Bytes,
}

impl Binary {
    /// A binary answer from its content type and bytes.
    pub fn new(content_type: impl Into<String>, bytes: impl Into<Bytes>) -> Self {
        Binary {
            content_type: content_type.into(),
            bytes: bytes.into(),
        }
    }

    /// The media type without parameters, lowercased: `image/png` for `image/png; q=1`, so a
    /// caller can match on it.
    pub fn media_type(&self) -> String {
        self.content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    }

    /// The body as text, for XML and other textual answers; `None` when it is not UTF-8.
    pub fn text(&self) -> Option<&str> {
        std::str::from_utf8(&self.bytes).ok()
    }

    /// How many bytes the body has.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the body is empty.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

impl fmt::Debug for Binary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Binary")
            .field("content_type", &self.content_type)
            .field("len", &self.bytes.len())
            .finish()
    }
}

impl AsRef<[u8]> for Binary {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

impl From<Binary> for Bytes {
    fn from(binary: Binary) -> Self {
        binary.bytes
    }
}

/// The answer of an operation whose request chooses between JSON and bytes (the analytics
/// operations answer statistics as JSON, or the picture they render when `output_format` is
/// `png`): told apart by the answer's `Content-Type`, not by the request, so an API that
/// answers the other kind than asked is still read.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum JsonOrBinary {
    /// An answer of JSON (`application/json`, a `+json` type, or no content type at all).
    Json(serde_json::Value),
    /// Any other answer, with its content type.
    Binary(Binary),
}

impl JsonOrBinary {
    /// The JSON answer, if it was one.
    pub fn json(&self) -> Option<&serde_json::Value> {
        match self {
            JsonOrBinary::Json(value) => Some(value),
            JsonOrBinary::Binary(_) => None,
        }
    }

    /// The bytes of an answer that was not JSON, if it was one.
    pub fn binary(&self) -> Option<&Binary> {
        match self {
            JsonOrBinary::Json(_) => None,
            JsonOrBinary::Binary(binary) => Some(binary),
        }
    }
}

/// Whether `content_type` names JSON: `application/json` or a `+json` type (RFC 6839), in any
/// case and with any parameters.
pub fn is_json_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || essence.ends_with("+json")
}

impl DecodeOutput for JsonOrBinary {
    fn decode_output(content_type: Option<&str>, body: &Bytes) -> Result<Self, serde_json::Error> {
        match content_type {
            Some(kind) if !is_json_type(kind) => {
                Binary::decode_output(content_type, body).map(JsonOrBinary::Binary)
            }
            _ => crate::json::from_slice(body).map(JsonOrBinary::Json),
        }
    }
}

/// How a success answer's body becomes an operation's output: JSON models parse the body,
/// [`Binary`] keeps it with its content type. It is the bound on
/// [`Operation::Output`](crate::Operation::Output), so one generic call path decodes both.
pub trait DecodeOutput: Sized {
    /// Decodes the body of a success answer, given its `Content-Type` header when it had one.
    ///
    /// # Errors
    ///
    /// The body does not fit the output (only JSON models can fail). JSON is read by
    /// [`json::from_slice`](crate::json::from_slice): a lone surrogate in its text reads as
    /// U+FFFD rather than failing the whole answer.
    fn decode_output(content_type: Option<&str>, body: &Bytes) -> Result<Self, serde_json::Error>;
}

impl<T: DeserializeOwned> DecodeOutput for T {
    fn decode_output(_: Option<&str>, body: &Bytes) -> Result<Self, serde_json::Error> {
        crate::json::from_slice(body)
    }
}

impl DecodeOutput for Binary {
    fn decode_output(content_type: Option<&str>, body: &Bytes) -> Result<Self, serde_json::Error> {
        Ok(Binary {
            content_type: content_type.unwrap_or(OCTET_STREAM).to_owned(),
            bytes: body.clone(),
        })
    }
}

#[cfg(test)]
#[path = "binary_tests.rs"]
mod tests;
