//! Which request an operation is waiting on, for the caller that cuts the
//! operation off at a deadline and must say what hung.
//!
//! A caller runs its future inside [`track`] with a [`Slot`]; every request
//! [`crate::transport::Transport::send`] makes inside it records itself in
//! the slot while it is in flight. When the caller gives up, the slot
//! still holds the request that never answered (method, path, node,
//! service). Outside [`track`], recording does nothing.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use crate::error::RequestContext;

/// Where the request in flight is recorded.
#[derive(Debug, Clone, Default)]
pub struct Slot(Arc<Mutex<Option<RequestContext>>>);

impl Slot {
    /// A slot with nothing in flight.
    pub fn new() -> Slot {
        Slot::default()
    }

    /// The request in flight, if one is.
    pub fn current(&self) -> Option<RequestContext> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set(&self, value: Option<RequestContext>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = value;
    }
}

tokio::task_local! {
    static SLOT: Slot;
}

/// Runs `future`, recording its requests in flight in `slot`.
pub async fn track<F: Future>(slot: Slot, future: F) -> F::Output {
    SLOT.scope(slot, future).await
}

/// Marks `ctx` as in flight until the returned guard is dropped (when the
/// request ends, or when the future making it is dropped).
pub(crate) fn start(ctx: &RequestContext) -> Guard {
    let slot = SLOT.try_with(Slot::clone).ok();
    if let Some(s) = &slot {
        s.set(Some(ctx.clone()));
    }
    Guard { slot }
}

/// A request in flight. [`Guard::done`] clears the slot when the request
/// ends; a request cut off (its future dropped) leaves itself in the slot,
/// which is the point.
pub(crate) struct Guard {
    slot: Option<Slot>,
}

impl Guard {
    /// The request answered (or failed): nothing is in flight any more.
    pub(crate) fn done(mut self) {
        if let Some(s) = self.slot.take() {
            s.set(None);
        }
    }
}
