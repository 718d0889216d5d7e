//! The thread hooks a [`Builder`](crate::Builder) hands to every worker: here, below both the
//! builder and the shared state, so that neither imports the other to name them.

use std::sync::Arc;

/// A hook run on a worker thread, given the worker's index. An `Arc` so that `Builder` stays
/// `Clone` and every worker shares one closure.
#[derive(Clone)]
pub(crate) struct Hook(Arc<dyn Fn(usize) + Send + Sync + 'static>);

impl Hook {
    pub(crate) fn new(hook: impl Fn(usize) + Send + Sync + 'static) -> Self {
        Self(Arc::new(hook))
    }

    pub(crate) fn call(&self, index: usize) {
        (self.0)(index);
    }
}

// A hook is only ever called under the worker's own `catch_unwind`, which contains its panic
// (see `Builder::on_thread_start`): no caller observes state it left broken, as with tasks. So a
// hook does not take away `Builder`'s `UnwindSafe`, which it had before hooks existed.
impl std::panic::UnwindSafe for Hook {}
impl std::panic::RefUnwindSafe for Hook {}

/// The per-thread hooks, handed to each worker.
#[derive(Clone, Default)]
pub(crate) struct Hooks {
    pub(crate) on_start: Option<Hook>,
    pub(crate) on_stop: Option<Hook>,
}
