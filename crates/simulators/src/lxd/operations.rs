//! `/1.0/operations` handlers.

use std::sync::Arc;
use std::time::Duration;

use crate::http::{ApiError, Reply, Request};

use super::LxdService;
use super::ops::{self};

impl LxdService {
    /// Operations of every member (LXD lists cluster-wide).
    pub(super) fn cluster_ops(&self) -> Vec<(Arc<LxdService>, ops::Op)> {
        let mut out = Vec::new();
        let Some(fabric) = self.fabric() else {
            return out;
        };
        let members: Vec<String> = self
            .with_db(|db| db.members.iter().map(|m| m.sim_node.clone()).collect())
            .unwrap_or_default();
        let mut nodes = members;
        if !nodes.contains(&self.ctl.name) {
            nodes.push(self.ctl.name.clone());
        }
        for n in nodes {
            if let Some(node) = fabric.node(&n)
                && (node.ctl.is_alive() || n == self.ctl.name)
            {
                for op in node.lxd.ops.all() {
                    out.push((node.lxd.clone(), op));
                }
            }
        }
        out
    }

    pub(super) fn operations_get(&self, req: &Request) -> Reply {
        let ops: Vec<ops::Op> = self.cluster_ops().into_iter().map(|(_, o)| o).collect();
        Reply::sync(ops::group(&ops, req.recursion() > 0, self.op_fields()))
    }

    pub(super) fn find_op(&self, id: &str) -> Option<(Arc<LxdService>, ops::Op)> {
        self.cluster_ops().into_iter().find(|(_, o)| o.id == id)
    }

    pub(super) fn operation_get(&self, id: &str) -> Reply {
        match self.find_op(id) {
            Some((_, op)) => Reply::sync(op.to_json(self.op_fields())),
            None => Reply::error(404, "Operation not found"),
        }
    }

    pub(super) fn operation_delete(&self, id: &str) -> Reply {
        match self.find_op(id) {
            Some((owner, _)) => match owner.ops.cancel(&self.ctl.clock, id) {
                Ok(()) => Reply::empty(),
                Err(e) => e.into(),
            },
            None => Reply::error(404, "Operation not found"),
        }
    }

    pub(super) async fn operation_wait(&self, req: &Request, id: &str) -> Reply {
        let timeout = req
            .query("timeout")
            .and_then(|t| t.parse::<i64>().ok())
            .unwrap_or(-1);
        let timeout = u64::try_from(timeout).ok().map(Duration::from_secs);
        let Some((owner, _)) = self.find_op(id) else {
            return Reply::error(404, "Operation not found");
        };
        let fields = self.op_fields();
        if !self.b.wait_error_envelope() {
            return match owner.ops.wait(id, timeout).await {
                Some(op) => Reply::sync(op.to_json(fields)),
                None => Reply::error(404, "Operation not found"),
            };
        }
        // Current LXD: 200 + keep-alive right away, body when done.
        let (tx, rx) = tokio::sync::oneshot::channel::<bytes::Bytes>();
        let id = id.to_string();
        tokio::spawn(async move {
            let body = match owner.ops.wait(&id, timeout).await {
                None => crate::http::error_body(&ApiError::not_found("Operation not found")),
                Some(op) if op.status() == ops::OpStatus::Failure => {
                    crate::http::error_body(&ApiError::new(
                        if op.err_code == 0 { 500 } else { op.err_code },
                        op.err.clone(),
                    ))
                }
                Some(op) if !op.is_done() => crate::http::error_body(&ApiError::internal(
                    "Operation wait timed out: context deadline exceeded",
                )),
                Some(op) => crate::http::sync_body(&op.to_json(fields)),
            };
            let _ = tx.send(body);
        });
        let body = crate::http::OneshotBody::new(rx);
        match http::Response::builder()
            .status(200)
            .header("Content-Type", "application/json")
            .header("Connection", "keep-alive")
            .body(http_body_util::BodyExt::boxed(body))
        {
            Ok(r) => Reply::Raw(r),
            Err(e) => Reply::error(500, e.to_string()),
        }
    }
}
