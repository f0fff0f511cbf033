//! LXD background operations.
//!
//! An operation is created `Running` (103) and answered with 202 +
//! `Location`. Tasks finish as `Success` (200) or `Failure` (400, `err`
//! set); token operations stay `Running` until used or cancelled
//! (`Cancelled`, 401). Like LXD, finished operations are forgotten five
//! seconds after they end, after which `GET /1.0/operations/<id>` is 404
//! `Operation not found`.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::watch;

use crate::clock::{SimClock, rfc3339_nano};
use crate::http::ApiError;

/// How long finished operations stay visible.
pub(crate) const RETENTION: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpStatus {
    Running,
    Success,
    Failure,
    Cancelled,
}

impl OpStatus {
    fn text(self) -> &'static str {
        match self {
            OpStatus::Running => "Running",
            OpStatus::Success => "Success",
            OpStatus::Failure => "Failure",
            OpStatus::Cancelled => "Cancelled",
        }
    }
    fn code(self) -> u16 {
        match self {
            OpStatus::Running => 103,
            OpStatus::Success => 200,
            OpStatus::Failure => 400,
            OpStatus::Cancelled => 401,
        }
    }
    fn group(self) -> &'static str {
        match self {
            OpStatus::Running => "running",
            OpStatus::Success => "success",
            OpStatus::Failure => "failure",
            OpStatus::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Op {
    pub id: String,
    pub class: &'static str,
    pub description: String,
    pub created_at: String,
    pub updated_at: String,
    pub status: OpStatus,
    pub resources: Value,
    pub metadata: Value,
    pub may_cancel: bool,
    pub err: String,
    pub err_code: u16,
    pub location: String,
    finished: Option<Instant>,
}

/// Which optional fields the advertised API has.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OpFields {
    pub requestor: bool,
    pub err_code: bool,
}

impl Op {
    pub(crate) fn to_json(&self, fields: OpFields) -> Value {
        let mut v = json!({
            "id": self.id,
            "class": self.class,
            "description": self.description,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "status": self.status.text(),
            "status_code": self.status.code(),
            "resources": self.resources,
            "metadata": self.metadata,
            "may_cancel": self.may_cancel,
            "err": self.err,
            "location": self.location,
        });
        if let Some(o) = v.as_object_mut() {
            if fields.requestor {
                o.insert(
                    "requestor".into(),
                    json!({"username": "root", "protocol": "unix", "address": "@"}),
                );
            }
            if fields.err_code {
                o.insert("err_code".into(), json!(self.err_code));
                o.insert("children".into(), json!([]));
            }
        }
        v
    }
    pub(crate) fn is_done(&self) -> bool {
        self.status != OpStatus::Running
    }
    pub(crate) fn status(&self) -> OpStatus {
        self.status
    }
}

/// The operations of one LXD daemon.
#[derive(Debug)]
pub(crate) struct Ops {
    ops: Mutex<BTreeMap<String, Op>>,
    changed: watch::Sender<u64>,
}

impl Default for Ops {
    fn default() -> Self {
        let (changed, _) = watch::channel(0);
        Self {
            ops: Mutex::new(BTreeMap::new()),
            changed,
        }
    }
}

impl Ops {
    fn prune(map: &mut BTreeMap<String, Op>) {
        map.retain(|_, op| op.finished.is_none_or(|f| f.elapsed() < RETENTION));
    }

    fn bump(&self) {
        self.changed.send_modify(|g| *g = g.wrapping_add(1));
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn create(
        &self,
        clock: &SimClock,
        class: &'static str,
        description: &str,
        resources: Value,
        metadata: Value,
        may_cancel: bool,
        location: &str,
    ) -> Op {
        let now = rfc3339_nano(clock.now());
        let op = Op {
            id: crate::util::uuid_v4(),
            class,
            description: description.to_string(),
            created_at: now.clone(),
            updated_at: now,
            status: OpStatus::Running,
            resources,
            metadata,
            may_cancel,
            err: String::new(),
            err_code: 0,
            location: location.to_string(),
            finished: None,
        };
        if let Ok(mut m) = self.ops.lock() {
            Self::prune(&mut m);
            m.insert(op.id.clone(), op.clone());
        }
        self.bump();
        op
    }

    pub(crate) fn finish(&self, clock: &SimClock, id: &str, result: Result<(), ApiError>) {
        if let Ok(mut m) = self.ops.lock()
            && let Some(op) = m.get_mut(id)
            && !op.is_done()
        {
            op.updated_at = rfc3339_nano(clock.now());
            op.finished = Some(Instant::now());
            match result {
                Ok(()) => op.status = OpStatus::Success,
                Err(e) => {
                    op.status = OpStatus::Failure;
                    op.err = e.message;
                    op.err_code = e.status;
                }
            }
        }
        self.bump();
    }

    /// Forgets an operation (its daemon crashed: operations live in memory).
    pub(crate) fn forget(&self, id: &str) {
        if let Ok(mut m) = self.ops.lock() {
            m.remove(id);
        }
        self.bump();
    }

    /// Cancels a running operation; false if it does not exist or is done.
    pub(crate) fn cancel(&self, clock: &SimClock, id: &str) -> Result<(), ApiError> {
        let r = match self.ops.lock() {
            Ok(mut m) => {
                Self::prune(&mut m);
                match m.get_mut(id) {
                    None => Err(ApiError::not_found("Operation not found")),
                    Some(op) if !op.may_cancel => {
                        Err(ApiError::bad_request("This operation can't be cancelled"))
                    }
                    Some(op) if op.is_done() => Err(ApiError::bad_request(
                        "Only running operations can be cancelled",
                    )),
                    Some(op) => {
                        op.status = OpStatus::Cancelled;
                        op.updated_at = rfc3339_nano(clock.now());
                        op.finished = Some(Instant::now());
                        Ok(())
                    }
                }
            }
            Err(_) => Err(ApiError::internal("operations poisoned")),
        };
        self.bump();
        r
    }

    pub(crate) fn get(&self, id: &str) -> Option<Op> {
        let mut m = self.ops.lock().ok()?;
        Self::prune(&mut m);
        m.get(id).cloned()
    }

    pub(crate) fn all(&self) -> Vec<Op> {
        match self.ops.lock() {
            Ok(mut m) => {
                Self::prune(&mut m);
                m.values().cloned().collect()
            }
            Err(_) => Vec::new(),
        }
    }

    /// Waits until the operation is done or `timeout` passes (`None` =
    /// forever); returns its state at that point.
    pub(crate) async fn wait(&self, id: &str, timeout: Option<Duration>) -> Option<Op> {
        let mut rx = self.changed.subscribe();
        let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
        loop {
            let op = self.get(id)?;
            if op.is_done() {
                return Some(op);
            }
            let changed = rx.changed();
            match deadline {
                Some(d) => {
                    if tokio::time::timeout_at(d, changed).await.is_err() {
                        return self.get(id);
                    }
                }
                None => {
                    let _ = changed.await;
                }
            }
        }
    }
}

/// Groups operations the way `GET /1.0/operations` does.
pub(crate) fn group(ops: &[Op], recursion: bool, fields: OpFields) -> Value {
    let mut groups: BTreeMap<&'static str, Vec<Value>> = BTreeMap::new();
    for op in ops {
        let entry = if recursion {
            op.to_json(fields)
        } else {
            Value::String(format!("/1.0/operations/{}", op.id))
        };
        groups.entry(op.status.group()).or_default().push(entry);
    }
    serde_json::to_value(groups).unwrap_or(Value::Null)
}
