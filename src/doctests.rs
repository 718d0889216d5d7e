//! Doc tests that belong to no public item: compiled only under `cfg(doctest)`.
//!
//! The `compile_fail` tests here prove the `#[must_use]` marks (issue 23): each snippet denies
//! `unused_must_use` and drops one lazy or informative return, so it compiles only if the mark
//! is missing. The first test is the same code with every return used, so a typo cannot make
//! the `compile_fail` ones pass.
//!
//! ```
//! #![deny(unused_must_use)]
//! use std::time::Duration;
//! let exec = bounded_executor::BoundedExecutor::new(1);
//! let _ = exec.map(0..10, |i| i);
//! let _ = exec.map_unordered(0..10, |i| i);
//! let _ = exec.map_weighted(0..10, |_| 1, |i| i);
//! let handle = exec.submit(|| ()).unwrap();
//! let _ = handle.wait_timeout(Duration::ZERO);
//! let _ = handle.cancel();
//! exec.scope(|s| {
//!     let _ = s.submit(|| ());
//! });
//! let _ = bounded_executor::BoundedExecutor::builder().max_workers(1);
//! let _ = exec.shutdown_timeout(Duration::from_secs(60));
//! ```
//!
//! ```compile_fail
//! #![deny(unused_must_use)]
//! let exec = bounded_executor::BoundedExecutor::new(1);
//! exec.map(0..10, |i| i); // lazy: does nothing
//! ```
//!
//! ```compile_fail
//! #![deny(unused_must_use)]
//! let exec = bounded_executor::BoundedExecutor::new(1);
//! exec.map_unordered(0..10, |i| i);
//! ```
//!
//! ```compile_fail
//! #![deny(unused_must_use)]
//! let exec = bounded_executor::BoundedExecutor::new(1);
//! exec.map_weighted(0..10, |_| 1, |i| i);
//! ```
//!
//! ```compile_fail
//! #![deny(unused_must_use)]
//! let exec = bounded_executor::BoundedExecutor::new(1);
//! let handle = exec.submit(|| ()).unwrap();
//! handle.wait_timeout(std::time::Duration::ZERO);
//! ```
//!
//! ```compile_fail
//! #![deny(unused_must_use)]
//! let exec = bounded_executor::BoundedExecutor::new(1);
//! let handle = exec.submit(|| ()).unwrap();
//! handle.cancel();
//! ```
//!
//! ```compile_fail
//! #![deny(unused_must_use)]
//! let exec = bounded_executor::BoundedExecutor::new(1);
//! exec.scope(|s| {
//!     s.submit(|| ());
//! });
//! ```
//!
//! ```compile_fail
//! #![deny(unused_must_use)]
//! bounded_executor::BoundedExecutor::builder().max_workers(1);
//! ```
//!
//! ```compile_fail
//! #![deny(unused_must_use)]
//! let exec = bounded_executor::BoundedExecutor::new(1);
//! exec.shutdown_timeout(std::time::Duration::from_secs(60));
//! ```

/// The README's Rust snippets, compiled and run as doc tests.
#[doc = include_str!("../README.md")]
pub struct Readme;
