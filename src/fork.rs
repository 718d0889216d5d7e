//! Fork detection. A `fork()` child has a copy of every executor's memory but none of its
//! threads; waiting on them would hang forever. A `pthread_atfork` child handler bumps a process
//! generation, and each executor remembers the generation it was born in: the check on every
//! submit is one relaxed load of a global.

use std::sync::atomic::{AtomicUsize, Ordering};

static GENERATION: AtomicUsize = AtomicUsize::new(0);

/// The current process generation: it changes in every forked child.
#[inline]
pub(crate) fn generation() -> usize {
    // ORDERING: Relaxed: the child handler runs in the child's only thread before `fork` returns
    // there, so every later load on that thread sees the new value.
    GENERATION.load(Ordering::Relaxed)
}

/// Installs the child handler (once per process) and returns the current generation.
pub(crate) fn register() -> usize {
    #[cfg(unix)]
    {
        static INSTALL: std::sync::Once = std::sync::Once::new();
        INSTALL.call_once(|| {
            extern "C" fn in_child() {
                GENERATION.fetch_add(1, Ordering::Relaxed);
            }
            // SAFETY: `in_child` is async-signal-safe (one atomic add) and lives for the whole
            // program; registering handlers has no other precondition.
            let rc = unsafe { libc::pthread_atfork(None, None, Some(in_child)) };
            // Without the handler, fork detection is off; everything else still works.
            debug_assert_eq!(rc, 0, "pthread_atfork failed");
        });
    }
    generation()
}
