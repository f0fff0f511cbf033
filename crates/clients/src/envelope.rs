//! The response envelope and background operations, shared by LXD and every
//! microcluster daemon.
//!
//! ```json
//! {"type":"sync","status":"Success","status_code":200,"operation":"","error_code":0,"error":"","metadata":{}}
//! ```
//!
//! * `sync`: HTTP 200, or 201 with a `Location` for creations;
//! * `async`: HTTP 202 with `Location: /1.0/operations/<id>`, `operation`
//!   naming the same URL and `metadata` holding the [`Operation`];
//! * `error`: `error_code` and `error`. Normally the HTTP status equals
//!   `error_code`, but LXD's `/wait` answers **200** with an error envelope
//!   when the operation failed, so the body's `type` always decides.
//!
//! These types are lenient on input (missing fields take defaults, unknown
//! fields are ignored: services add fields over time) and produce the
//! services' own shapes on output, so that fakes can use them too.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The `type` of an envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResponseType {
    /// A finished request; `metadata` is the result.
    Sync,
    /// A background operation was started; `metadata` is the operation.
    Async,
    /// The request failed.
    Error,
}

/// The JSON envelope around every response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// `sync`, `async` or `error`.
    #[serde(rename = "type")]
    pub kind: ResponseType,
    /// `Success`, `Operation created`, or empty for errors.
    #[serde(default)]
    pub status: String,
    /// 200, 100, or 0 for errors.
    #[serde(default)]
    pub status_code: u16,
    /// The operation URL of an `async` response.
    #[serde(default)]
    pub operation: String,
    /// The error code of an `error` response.
    #[serde(default)]
    pub error_code: u16,
    /// The error message of an `error` response.
    #[serde(default)]
    pub error: String,
    /// The payload.
    #[serde(default)]
    pub metadata: Value,
}

impl Envelope {
    /// A `sync` envelope with the given payload.
    pub fn sync(metadata: Value) -> Self {
        Envelope {
            kind: ResponseType::Sync,
            status: "Success".to_owned(),
            status_code: 200,
            operation: String::new(),
            error_code: 0,
            error: String::new(),
            metadata,
        }
    }

    /// An `async` envelope for an operation at `url`.
    pub fn async_operation(url: &str, operation: &Operation) -> Result<Self, serde_json::Error> {
        Ok(Envelope {
            kind: ResponseType::Async,
            status: "Operation created".to_owned(),
            status_code: 100,
            operation: url.to_owned(),
            error_code: 0,
            error: String::new(),
            metadata: serde_json::to_value(operation)?,
        })
    }

    /// An `error` envelope.
    pub fn error(code: u16, message: &str) -> Self {
        Envelope {
            kind: ResponseType::Error,
            status: String::new(),
            status_code: 0,
            operation: String::new(),
            error_code: code,
            error: message.to_owned(),
            metadata: Value::Null,
        }
    }
}

/// Operation status codes (`canonical/lxd:shared/api/status_code.go`).
pub mod status_code {
    /// Operation created.
    pub const OPERATION_CREATED: u16 = 100;
    /// Started.
    pub const STARTED: u16 = 101;
    /// Stopped.
    pub const STOPPED: u16 = 102;
    /// Running.
    pub const RUNNING: u16 = 103;
    /// Cancelling.
    pub const CANCELLING: u16 = 104;
    /// Pending.
    pub const PENDING: u16 = 105;
    /// Success.
    pub const SUCCESS: u16 = 200;
    /// Failure.
    pub const FAILURE: u16 = 400;
    /// Cancelled.
    pub const CANCELLED: u16 = 401;
}

/// Where an operation is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationState {
    /// Not finished (created, pending, running, cancelling…).
    InProgress,
    /// Finished successfully.
    Success,
    /// Finished with an error (`err`).
    Failure,
    /// Cancelled.
    Cancelled,
}

/// A background operation (`canonical/lxd:shared/api/operation.go`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Operation {
    /// UUID.
    #[serde(default)]
    pub id: String,
    /// `task`, `websocket`, `token` or `durable`.
    #[serde(default)]
    pub class: String,
    /// Human description.
    #[serde(default)]
    pub description: String,
    /// RFC 3339 creation time.
    #[serde(default)]
    pub created_at: String,
    /// RFC 3339 update time.
    #[serde(default)]
    pub updated_at: String,
    /// `Running`, `Success`, `Failure`, `Cancelled`…
    #[serde(default)]
    pub status: String,
    /// See [`status_code`].
    #[serde(default)]
    pub status_code: u16,
    /// Affected resources by kind.
    #[serde(default, deserialize_with = "nullable_lists")]
    pub resources: Option<BTreeMap<String, Vec<String>>>,
    /// Operation-specific data (token secrets, `entity_url`…).
    #[serde(default)]
    pub metadata: Option<serde_json::Map<String, Value>>,
    /// Whether it can be cancelled.
    #[serde(default)]
    pub may_cancel: bool,
    /// The error of a failed operation.
    #[serde(default)]
    pub err: String,
    /// The cluster member running it.
    #[serde(default)]
    pub location: String,
    /// The error code of a failed operation (LXD 6.8+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub err_code: Option<u16>,
    /// Who started it (LXD 5.21.7 / 6.6+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requestor: Option<Value>,
}

impl Operation {
    /// The state, from `status_code` (falling back to `status` when the
    /// code is missing).
    pub fn state(&self) -> OperationState {
        match self.status_code {
            status_code::SUCCESS => OperationState::Success,
            status_code::FAILURE => OperationState::Failure,
            status_code::CANCELLED => OperationState::Cancelled,
            0 => match self.status.as_str() {
                "Success" => OperationState::Success,
                "Failure" => OperationState::Failure,
                "Cancelled" => OperationState::Cancelled,
                _ => OperationState::InProgress,
            },
            _ => OperationState::InProgress,
        }
    }

    /// A metadata string field.
    pub fn metadata_str(&self, key: &str) -> Option<&str> {
        self.metadata.as_ref()?.get(key)?.as_str()
    }
}

/// Go encodes a nil slice as `null`: `{"cluster": null}` is an empty list.
fn nullable_lists<'de, D>(
    deserializer: D,
) -> Result<Option<BTreeMap<String, Vec<String>>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let raw: Option<BTreeMap<String, Option<Vec<String>>>> =
        serde::Deserialize::deserialize(deserializer)?;
    Ok(raw.map(|m| {
        m.into_iter()
            .map(|(k, v)| (k, v.unwrap_or_default()))
            .collect()
    }))
}
