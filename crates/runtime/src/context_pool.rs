//! A pool of runtime contexts: the user-space stand-in for the per-CPU compression contexts of
//! the kernel's zswap and zram. A thread takes one for a whole batch (or folio) and gives it
//! back afterwards, so the context's lock is taken once per batch, never per page.

use std::ops::{Deref, DerefMut};
use std::sync::Mutex;

use crate::{Context, Runtime};

/// Contexts of one runtime, reused across threads.
pub struct ContextPool {
    rt: Runtime,
    free: Mutex<Vec<Context>>,
}

impl std::fmt::Debug for ContextPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.free.lock().map(|v| v.len()).unwrap_or(0);
        f.debug_struct("ContextPool").field("idle", &n).finish()
    }
}

impl ContextPool {
    /// An empty pool over `rt`; contexts are created on demand.
    pub fn new(rt: Runtime) -> Self {
        ContextPool {
            rt,
            free: Mutex::new(Vec::new()),
        }
    }

    /// The runtime.
    pub fn runtime(&self) -> &Runtime {
        &self.rt
    }

    /// An idle context, or a new one.
    pub fn get(&self) -> PooledContext<'_> {
        let ctx = self.free.lock().ok().and_then(|mut v| v.pop());
        let ctx = ctx.unwrap_or_else(|| self.rt.context());
        PooledContext {
            pool: self,
            ctx: Some(ctx),
        }
    }
}

/// A context borrowed from a [`ContextPool`]; goes back on drop.
pub struct PooledContext<'a> {
    pool: &'a ContextPool,
    ctx: Option<Context>,
}

impl Deref for PooledContext<'_> {
    type Target = Context;
    fn deref(&self) -> &Context {
        // Always Some until drop.
        self.ctx.as_ref().expect("context present until drop")
    }
}

impl DerefMut for PooledContext<'_> {
    fn deref_mut(&mut self) -> &mut Context {
        self.ctx.as_mut().expect("context present until drop")
    }
}

impl Drop for PooledContext<'_> {
    fn drop(&mut self) {
        if let (Some(ctx), Ok(mut v)) = (self.ctx.take(), self.pool.free.lock()) {
            v.push(ctx);
        }
    }
}
