//! Requests, replies and the JSON envelope shared by LXD and microcluster.
//!
//! Every reply a simulated service gives is one of: a `sync` envelope
//! (200, or 201 with `Location`), an `async` envelope (202 with
//! `Location: /1.0/operations/<id>`), an `error` envelope, or one of the
//! fault outcomes (drop the connection, never answer). Request bodies are
//! decoded like Go's `encoding/json` decoder does it: unknown fields are
//! ignored, an empty body is the error `EOF`, and syntax errors carry Go's
//! wording (`invalid character 'b' looking for beginning of object key
//! string`) so clients see the messages the real services produce.

use std::collections::BTreeMap;
use std::convert::Infallible;

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use http_body_util::BodyExt as _;
use http_body_util::combinators::BoxBody;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Response body type of every simulated service.
pub(crate) type Body = BoxBody<Bytes, Infallible>;

pub(crate) fn full(bytes: impl Into<Bytes>) -> Body {
    http_body_util::Full::new(bytes.into()).boxed()
}

/// Who sent a request.
#[derive(Debug, Clone)]
pub(crate) enum Peer {
    /// Over the unix socket: always fully trusted.
    Unix,
    /// Over HTTPS.
    Tls {
        /// Fingerprint of the client certificate, if one was presented.
        fingerprint: Option<String>,
        /// The client certificate (DER), if one was presented.
        cert: Option<Vec<u8>>,
    },
}

impl Peer {
    pub(crate) fn is_unix(&self) -> bool {
        matches!(self, Peer::Unix)
    }
    pub(crate) fn fingerprint(&self) -> Option<&str> {
        match self {
            Peer::Unix => None,
            Peer::Tls { fingerprint, .. } => fingerprint.as_deref(),
        }
    }
}

/// A decoded request.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub method: Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub peer: Peer,
}

impl Request {
    pub(crate) fn query(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    /// `?target=` value, empty treated as absent.
    pub(crate) fn target(&self) -> Option<&str> {
        self.query("target").filter(|t| !t.is_empty())
    }
    pub(crate) fn recursion(&self) -> u32 {
        self.query("recursion")
            .and_then(|r| r.parse().ok())
            .unwrap_or(0)
    }
    pub(crate) fn segments(&self) -> Vec<&str> {
        self.path.split('/').filter(|s| !s.is_empty()).collect()
    }
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    /// Decodes the JSON body into `T` the way Go's decoder would.
    pub(crate) fn json<T: DeserializeOwned>(&self, go_type: &str) -> Result<T, ApiError> {
        decode_go_json(&self.body, go_type).map_err(ApiError::bad_request)
    }
}

/// Percent-decodes a path segment or query component.
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes.get(i) {
            Some(b'%') => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok());
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            Some(b'+') => {
                out.push(b' ');
                i += 1;
            }
            Some(b) => {
                out.push(*b);
                i += 1;
            }
            None => break,
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(crate) fn parse_query(q: Option<&str>) -> Vec<(String, String)> {
    q.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(p), String::new()),
        })
        .collect()
}

/// An API error: HTTP status plus message, rendered as an error envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub status: u16,
    pub message: String,
}

impl ApiError {
    pub(crate) fn new(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }
    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::new(500, message)
    }
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, message)
    }
    pub(crate) fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, message)
    }
}

/// What a handler answers.
#[derive(Debug)]
pub(crate) enum Reply {
    /// `type: sync`; 201 when `location` is set.
    Sync {
        metadata: Value,
        location: Option<String>,
        etag: Option<String>,
    },
    /// `type: async`, 202 + `Location`.
    Async { operation: Value, url: String },
    /// `type: error`.
    Error(ApiError),
    /// A ready-made response (used for proxying and streaming).
    Raw(http::Response<Body>),
}

impl From<ApiError> for Reply {
    fn from(e: ApiError) -> Self {
        Reply::Error(e)
    }
}

impl Reply {
    pub(crate) fn sync(metadata: impl Serialize) -> Self {
        Reply::Sync {
            metadata: serde_json::to_value(metadata).unwrap_or(Value::Null),
            location: None,
            etag: None,
        }
    }
    /// `{}` sync response.
    pub(crate) fn empty() -> Self {
        Self::sync(serde_json::json!({}))
    }
    pub(crate) fn created(location: impl Into<String>) -> Self {
        Reply::Sync {
            metadata: Value::Null,
            location: Some(location.into()),
            etag: None,
        }
    }
    pub(crate) fn with_etag(self, etag: String) -> Self {
        match self {
            Reply::Sync {
                metadata, location, ..
            } => Reply::Sync {
                metadata,
                location,
                etag: Some(etag),
            },
            other => other,
        }
    }
    pub(crate) fn error(status: u16, message: impl Into<String>) -> Self {
        Reply::Error(ApiError::new(status, message))
    }
}

/// The JSON envelope, fields in the order LXD writes them.
#[derive(Debug, Serialize)]
pub(crate) struct Envelope<'a> {
    #[serde(rename = "type")]
    pub kind: &'a str,
    pub status: &'a str,
    pub status_code: u16,
    pub operation: &'a str,
    pub error_code: u16,
    pub error: &'a str,
    pub metadata: &'a Value,
}

pub(crate) fn envelope_bytes(env: &Envelope<'_>) -> Bytes {
    let mut v = serde_json::to_vec(env).unwrap_or_default();
    v.push(b'\n');
    Bytes::from(v)
}

pub(crate) fn error_body(err: &ApiError) -> Bytes {
    envelope_bytes(&Envelope {
        kind: "error",
        status: "",
        status_code: 0,
        operation: "",
        error_code: err.status,
        error: &err.message,
        metadata: &Value::Null,
    })
}

pub(crate) fn sync_body(metadata: &Value) -> Bytes {
    envelope_bytes(&Envelope {
        kind: "sync",
        status: "Success",
        status_code: 200,
        operation: "",
        error_code: 0,
        error: "",
        metadata,
    })
}

/// Renders a reply into an HTTP response.
pub(crate) fn render(reply: Reply) -> http::Response<Body> {
    let builder = http::Response::builder().header("Content-Type", "application/json");
    let resp = match reply {
        Reply::Sync {
            metadata,
            location,
            etag,
        } => {
            let mut b = builder;
            let status = if let Some(loc) = &location {
                b = b.header("Location", loc.as_str());
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            if let Some(etag) = etag {
                b = b.header("ETag", format!("\"{etag}\""));
            }
            b.status(status).body(full(sync_body(&metadata)))
        }
        Reply::Async { operation, url } => builder
            .status(StatusCode::ACCEPTED)
            .header("Location", url.as_str())
            .body(full(envelope_bytes(&Envelope {
                kind: "async",
                status: "Operation created",
                status_code: 100,
                operation: &url,
                error_code: 0,
                error: "",
                metadata: &operation,
            }))),
        Reply::Error(err) => builder
            .status(StatusCode::from_u16(err.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
            .header("X-Content-Type-Options", "nosniff")
            .body(full(error_body(&err))),
        Reply::Raw(resp) => return resp,
    };
    resp.unwrap_or_else(|_| http::Response::new(full(Bytes::new())))
}

/// Decodes JSON like Go's `json.NewDecoder(r.Body).Decode(&v)`: empty input
/// is `EOF`, syntax errors use Go's messages, unknown fields are ignored,
/// type errors name the Go type the real daemon decodes into.
pub(crate) fn decode_go_json<T: DeserializeOwned>(body: &[u8], go_type: &str) -> Result<T, String> {
    go_syntax_check(body)?;
    serde_json::from_slice(body).map_err(|e| go_type_error(&e, go_type))
}

fn go_type_error(e: &serde_json::Error, go_type: &str) -> String {
    // serde: "invalid type: integer `5`, expected a map at line 1 column 11"
    let msg = e.to_string();
    let found = msg
        .strip_prefix("invalid type: ")
        .and_then(|rest| rest.split([',', ' ']).next())
        .map(|kind| match kind {
            "integer" | "floating" => "number",
            "string" => "string",
            "boolean" => "bool",
            "map" => "object",
            "sequence" => "array",
            "null" => "null",
            other => other,
        });
    match found {
        Some(kind) => format!("json: cannot unmarshal {kind} into Go value of type {go_type}"),
        None => format!("json: {msg}"),
    }
}

/// Checks JSON syntax with the messages of Go's `encoding/json` scanner.
/// Only the first JSON value matters (the Go decoder stops after it).
pub(crate) fn go_syntax_check(input: &[u8]) -> Result<(), String> {
    let mut p = GoScanner { s: input, i: 0 };
    p.ws();
    if p.i >= p.s.len() {
        return Err("EOF".to_string());
    }
    p.value()
}

struct GoScanner<'a> {
    s: &'a [u8],
    i: usize,
}

impl GoScanner<'_> {
    fn ws(&mut self) {
        while matches!(self.s.get(self.i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn invalid(&self, c: u8, context: &str) -> String {
        let shown = match c {
            b'\'' => "'\\''".to_string(),
            b'"' => "'\"'".to_string(),
            c if c.is_ascii_graphic() || c == b' ' => format!("'{}'", c as char),
            c => format!("'\\x{c:02x}'"),
        };
        format!("invalid character {shown} {context}")
    }
    fn eof(&self) -> String {
        "unexpected EOF".to_string()
    }
    fn value(&mut self) -> Result<(), String> {
        self.ws();
        let Some(c) = self.peek() else {
            return Err(self.eof());
        };
        match c {
            b'{' => self.object(),
            b'[' => self.array(),
            b'"' => self.string(),
            b'-' | b'0'..=b'9' => self.number(),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            c => Err(self.invalid(c, "looking for beginning of value")),
        }
    }
    fn literal(&mut self, lit: &[u8]) -> Result<(), String> {
        for (k, want) in lit.iter().enumerate() {
            match self.peek() {
                None => return Err(self.eof()),
                Some(c) if c == *want => self.i += 1,
                Some(c) => {
                    let ctx = format!(
                        "in literal {} (expecting '{}')",
                        String::from_utf8_lossy(lit),
                        lit.get(k).map(|b| *b as char).unwrap_or(' ')
                    );
                    return Err(self.invalid(c, &ctx));
                }
            }
        }
        Ok(())
    }
    fn number(&mut self) -> Result<(), String> {
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0'..=b'9') => {}
            Some(c) => return Err(self.invalid(c, "in numeric literal")),
            None => return Err(self.eof()),
        }
        while matches!(
            self.peek(),
            Some(b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')
        ) {
            self.i += 1;
        }
        Ok(())
    }
    fn string(&mut self) -> Result<(), String> {
        self.i += 1;
        loop {
            match self.peek() {
                None => return Err(self.eof()),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    self.i += 1;
                    match self.peek() {
                        None => return Err(self.eof()),
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' | b'u') => {
                            self.i += 1
                        }
                        Some(c) => return Err(self.invalid(c, "in string escape code")),
                    }
                }
                Some(c) if c < 0x20 => return Err(self.invalid(c, "in string literal")),
                Some(_) => self.i += 1,
            }
        }
    }
    fn object(&mut self) -> Result<(), String> {
        self.i += 1;
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(());
        }
        loop {
            self.ws();
            match self.peek() {
                None => return Err(self.eof()),
                Some(b'"') => self.string()?,
                Some(c) => {
                    return Err(self.invalid(c, "looking for beginning of object key string"));
                }
            }
            self.ws();
            match self.peek() {
                None => return Err(self.eof()),
                Some(b':') => self.i += 1,
                Some(c) => return Err(self.invalid(c, "after object key")),
            }
            self.value()?;
            self.ws();
            match self.peek() {
                None => return Err(self.eof()),
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(());
                }
                Some(c) => return Err(self.invalid(c, "after object key:value pair")),
            }
        }
    }
    fn array(&mut self) -> Result<(), String> {
        self.i += 1;
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(());
        }
        loop {
            self.value()?;
            self.ws();
            match self.peek() {
                None => return Err(self.eof()),
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(());
                }
                Some(c) => return Err(self.invalid(c, "after array element")),
            }
        }
    }
}

/// Collects a request body with a size limit.
pub(crate) async fn collect_body(body: hyper::body::Incoming) -> Result<Bytes, String> {
    const LIMIT: usize = 16 * 1024 * 1024;
    let limited = http_body_util::Limited::new(body, LIMIT);
    limited
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| e.to_string())
}

/// A sorted string map, the shape of every `config` object.
pub(crate) type Config = BTreeMap<String, String>;

/// A body whose single chunk arrives later (LXD's `/wait` writes the
/// status line first and the envelope when the operation ends).
pub(crate) struct OneshotBody {
    rx: Option<tokio::sync::oneshot::Receiver<Bytes>>,
}

impl OneshotBody {
    pub(crate) fn new(rx: tokio::sync::oneshot::Receiver<Bytes>) -> Self {
        Self { rx: Some(rx) }
    }
}

impl http_body::Body for OneshotBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        use std::future::Future as _;
        let Some(rx) = self.rx.as_mut() else {
            return std::task::Poll::Ready(None);
        };
        match std::pin::Pin::new(rx).poll(cx) {
            std::task::Poll::Ready(Ok(b)) => {
                self.rx = None;
                std::task::Poll::Ready(Some(Ok(http_body::Frame::data(b))))
            }
            std::task::Poll::Ready(Err(_)) => {
                self.rx = None;
                std::task::Poll::Ready(None)
            }
            std::task::Poll::Pending => std::task::Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_messages_match_real_lxd() {
        // Observed from LXD 5.0.2 on this machine.
        assert_eq!(
            go_syntax_check(b"{bad"),
            Err("invalid character 'b' looking for beginning of object key string".into())
        );
        assert_eq!(go_syntax_check(b""), Err("EOF".into()));
        assert_eq!(go_syntax_check(b"  \n"), Err("EOF".into()));
        assert_eq!(
            go_syntax_check(b"{\"a\" 1}"),
            Err("invalid character '1' after object key".into())
        );
        assert_eq!(go_syntax_check(b"{\"a\":"), Err("unexpected EOF".into()));
        assert_eq!(go_syntax_check(b"{\"a\":[1,2]} trailing"), Ok(()));
        assert_eq!(
            go_syntax_check(b"x"),
            Err("invalid character 'x' looking for beginning of value".into())
        );
    }

    #[test]
    fn type_errors_name_the_go_type() {
        #[derive(serde::Deserialize, Debug)]
        struct S {
            #[allow(dead_code)]
            config: BTreeMap<String, String>,
        }
        let e = decode_go_json::<S>(b"{\"config\":5}", "api.ServerPut").unwrap_err();
        assert_eq!(
            e,
            "json: cannot unmarshal number into Go value of type api.ServerPut"
        );
    }

    #[test]
    fn query_parsing_decodes_percent() {
        assert_eq!(
            parse_query(Some("target=n%201&recursion=1&x")),
            vec![
                ("target".to_string(), "n 1".to_string()),
                ("recursion".to_string(), "1".to_string()),
                ("x".to_string(), String::new())
            ]
        );
    }
}
