//! The race Miri found in the task word's reference count (issue 25), in a file of its own:
//! `task_refs.rs` measures the heap with a global counting allocator, which another test's
//! allocations would disturb. Under Miri (`.ci/miri`, Stacked and Tree Borrows) it fails on the
//! old code; natively it checks the counting alone.

mod common;

use bounded_executor::BoundedExecutor;
use common::DropCounter;

/// The race Miri found in the task word's reference count: a worker gives up the queue entry's
/// reference while the producer drops the handle, and whichever goes last frees the task. The
/// one that goes first must hold no borrow of the task across its decrement (the rule at the top
/// of `src/task_ref.rs`): under Miri, a `&Header` alive there is reported as undefined
/// behaviour when the other thread frees the task. Natively this checks the counting alone.
#[test]
fn a_reference_given_up_as_the_last_one_goes_holds_no_borrow_of_the_task() {
    let _watchdog = common::test_watchdog(
        "task_ref_race::a_reference_given_up_as_the_last_one_goes_holds_no_borrow_of_the_task",
    );
    let exec = BoundedExecutor::builder().max_workers(1).capacity(1).build().unwrap();
    let results = DropCounter::new();
    let rounds = common::rounds(5_000, 300);
    for i in 0..rounds {
        let result = results.clone();
        let handle = exec.submit(move || result.make()).unwrap();
        // Vary which side goes last: the worker's release, or this thread's detach.
        for _ in 0..i % 8 {
            std::hint::spin_loop();
        }
        drop(handle);
    }
    exec.shutdown();
    assert_eq!(results.dropped() as u64, rounds, "every result made and dropped once");
}
