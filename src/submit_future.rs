//! [`SubmitFuture`]: `submit` for async code, waiting for a slot without blocking the thread.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use crate::error::SubmitError;
use crate::handle::TaskHandle;
use crate::shared::{Refusal, Shared};
use crate::sync::Arc;

/// The future returned by [`BoundedExecutor::submit_async`](crate::BoundedExecutor::submit_async):
/// resolves to the task's handle once a slot is free, without blocking the thread meanwhile.
///
/// It is woken when a slot frees for it (a release wakes as many waiting async producers as the
/// room it leaves holds, oldest first) or at shutdown, never by polling. Dropping it before it
/// resolves
/// is safe at any point: it holds no slot while pending, and the closure is dropped unrun.
///
/// # Examples
///
/// ```
/// use futures::executor::block_on; // any executor works
/// let exec = bounded_executor::BoundedExecutor::new(2);
/// let sum = block_on(async {
///     let mut handles = Vec::new();
///     for i in 0..100u64 {
///         handles.push(exec.submit_async(move || i).await.unwrap());
///     }
///     let mut sum = 0;
///     for handle in handles {
///         sum += handle.await.unwrap();
///     }
///     sum
/// });
/// assert_eq!(sum, 4950);
/// ```
#[must_use = "futures do nothing unless polled: the task is not submitted until this resolves"]
pub struct SubmitFuture<F, T> {
    shared: Arc<Shared>,
    f: Option<F>,
    waiter: Option<u64>,
    waiting_since: Option<Instant>,
    _output: PhantomData<fn() -> T>,
}

// The closure is never pinned: it is moved out when the task starts.
impl<F, T> Unpin for SubmitFuture<F, T> {}

impl<F, T> SubmitFuture<F, T> {
    pub(crate) fn new(shared: Arc<Shared>, f: F) -> Self {
        Self { shared, f: Some(f), waiter: None, waiting_since: None, _output: PhantomData }
    }

    fn stop_waiting(&mut self) {
        if let Some(id) = self.waiter.take() {
            self.shared.deregister_async_waiter(id);
        }
        if let Some(since) = self.waiting_since.take() {
            self.shared.add_submit_wait(since.elapsed());
        }
    }

    fn take_closure(&mut self) -> F {
        self.f.take().expect("`SubmitFuture` polled after it completed")
    }
}

impl<F, T> Future for SubmitFuture<F, T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    type Output = Result<TaskHandle<T>, SubmitError<F>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        // Checked before a slot is taken: a slot taken for a closure that is gone would leak.
        assert!(this.f.is_some(), "`SubmitFuture` polled after it completed");
        loop {
            match this.shared.try_admit(1) {
                Ok(admission) => {
                    this.stop_waiting();
                    let f = this.take_closure();
                    return Poll::Ready(Ok(TaskHandle::start_new(&this.shared, admission, f)));
                }
                Err(Refusal::Full) => {}
                Err(refusal) => {
                    this.stop_waiting();
                    this.shared.reject();
                    let f = this.take_closure();
                    return Poll::Ready(Err(SubmitError::from_refusal((refusal, f))));
                }
            }
            this.waiting_since.get_or_insert_with(Instant::now);
            if !this.shared.register_async_waiter(&mut this.waiter, cx.waker()) {
                return Poll::Pending;
            }
        }
    }
}

impl<F, T> Drop for SubmitFuture<F, T> {
    /// A future dropped after a release picked it to wake, but before it took the slot, passes
    /// the wake-up on, so that no other waiter sleeps next to a free slot.
    fn drop(&mut self) {
        if let Some(id) = self.waiter.take() {
            let was_woken = !self.shared.deregister_async_waiter(id);
            if was_woken && self.shared.has_free_slot() {
                self.shared.wake_one_async();
            }
        }
    }
}

impl<F, T> fmt::Debug for SubmitFuture<F, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubmitFuture")
            .field("submitted", &self.f.is_none())
            .field("waiting", &self.waiter.is_some())
            .finish()
    }
}
