//! The closure-free error for `?` and the predicates of `BuildError` (issue 23).

mod common;

use std::cell::Cell;
use std::error::Error;

use bounded_executor::{
    BoundedExecutor, SubmitError, SubmitErrorKind, SubmitTimeoutError, TrySubmitError,
};

fn assert_send_sync_static<E: Error + Send + Sync + 'static>(_: &E) {}

/// A closure that is `Send` but not `Sync`: its error cannot go into `Box<dyn Error + Send +
/// Sync>` as it is.
fn not_sync() -> impl FnOnce() -> i32 + Send + 'static {
    let cell = Cell::new(3);
    move || cell.get()
}

fn submit_all(exec: &BoundedExecutor) -> Result<(), Box<dyn Error + Send + Sync>> {
    exec.submit(not_sync()).map_err(SubmitError::without_task)?;
    Ok(())
}

#[test]
fn without_task_gives_a_kind_that_questions_mark_accepts() {
    let _watchdog =
        common::test_watchdog("errors::without_task_gives_a_kind_that_questions_mark_accepts");
    let exec = BoundedExecutor::new(1);
    submit_all(&exec).unwrap();
    exec.shutdown();
    let err = submit_all(&exec).unwrap_err();
    assert_eq!(err.to_string(), "the executor was shut down");
    assert_eq!(*err.downcast::<SubmitErrorKind>().unwrap(), SubmitErrorKind::Shutdown);

    let kind = exec.try_submit(not_sync()).unwrap_err().without_task();
    assert_send_sync_static(&kind);
    assert_eq!(kind, SubmitErrorKind::Shutdown);
    let timeout = exec.submit_timeout(not_sync(), std::time::Duration::ZERO).unwrap_err();
    assert_eq!(timeout.kind(), SubmitErrorKind::Shutdown);
    assert_eq!(timeout.kind().to_string(), timeout.to_string(), "the same message");
}

#[test]
fn every_variant_maps_to_its_kind_with_the_same_message() {
    let _watchdog =
        common::test_watchdog("errors::every_variant_maps_to_its_kind_with_the_same_message");
    let cases: Vec<(String, SubmitErrorKind, SubmitErrorKind)> = vec![
        (
            SubmitError::Shutdown(()).to_string(),
            SubmitError::Shutdown(()).kind(),
            SubmitErrorKind::Shutdown,
        ),
        (
            SubmitError::Forked(()).to_string(),
            SubmitError::Forked(()).kind(),
            SubmitErrorKind::Forked,
        ),
        (
            SubmitError::TooHeavy(()).to_string(),
            SubmitError::TooHeavy(()).kind(),
            SubmitErrorKind::TooHeavy,
        ),
        (
            TrySubmitError::Full(()).to_string(),
            TrySubmitError::Full(()).kind(),
            SubmitErrorKind::Full,
        ),
        (
            SubmitTimeoutError::Timeout(()).to_string(),
            SubmitTimeoutError::Timeout(()).kind(),
            SubmitErrorKind::Timeout,
        ),
    ];
    for (message, kind, expected) in cases {
        assert_eq!(kind, expected);
        assert_eq!(kind.to_string(), message);
    }
    assert_eq!(SubmitError::Full(()).kind(), SubmitErrorKind::Full);
}

#[test]
fn build_error_predicates_tell_a_bad_setting_from_a_refused_thread() {
    let _watchdog = common::test_watchdog(
        "errors::build_error_predicates_tell_a_bad_setting_from_a_refused_thread",
    );
    let bad = [
        BoundedExecutor::builder().max_workers(0).build().unwrap_err(),
        BoundedExecutor::builder().capacity(0).build().unwrap_err(),
        BoundedExecutor::builder().max_workers(2).min_workers(3).build().unwrap_err(),
        BoundedExecutor::builder().thread_name("a\0b").build().unwrap_err(),
    ];
    for err in &bad {
        assert!(err.is_invalid_config(), "{err}");
        assert!(!err.is_spawn(), "{err}");
        assert!(err.spawn_error().is_none());
        assert!(err.source().is_none());
    }
}
