//! Task timings: [`Histogram`], a fixed log2 histogram of durations, and [`Timings`], the three
//! an executor keeps (queue wait, run time, submit wait); with the atomic recorders behind them.
//!
//! # Sampling
//!
//! Timing a task takes three clock reads and a few counter updates, about 100 ns, which is most
//! of what a no-op task costs. So tasks are timed by sampling, always on:
//!
//! - where a per-task hook is set ([`Builder::before_task`](crate::Builder::before_task),
//!   [`Builder::after_task`](crate::Builder::after_task)), every task is timed (the hooks are
//!   given its times anyway);
//! - otherwise one task in the *stride* is timed, picked by a hash of the count of tasks
//!   submitted before it (so that any repeating mix of tasks has each kind sampled), and its
//!   timing counts for `stride` tasks. The stride is 1 (every task) while the
//!   last timed task ran for at least `TIME_EVERY_TASK_FROM` (20 µs), and `SAMPLE_STRIDE`
//!   (128) below that: timing is then about 1% of what the tasks cost at most, and tasks long
//!   enough to be few are all timed.
//!
//! The choice is made at submit, before anything about the task is known, so the counts
//! estimate the tasks run without bias (to within a stride each time the stride changes). What
//! a submit pays for it is two loads and a branch: the count is the one the submit raises next.
//! Submit waits are not sampled: only a submit that waits is timed, and it waits anyway.

use std::ops::Range;
use std::time::Duration;

use crate::sync::{AtomicU64, Ordering};

/// Below this run time, tasks are timed one in `SAMPLE_STRIDE`.
pub(crate) const TIME_EVERY_TASK_FROM: Duration = Duration::from_micros(20);

/// One task in this many is timed while tasks are short (see the module docs). A power of two:
/// the test is a mask.
pub(crate) const SAMPLE_STRIDE: u32 = 128;
const _: () = assert!(SAMPLE_STRIDE.is_power_of_two());

/// Bucket 0 holds durations under this; bucket `i > 0` holds `[FIRST << (i - 1), FIRST << i)`.
const FIRST_NANOS: u64 = 64;

/// A log2 histogram of durations: how many fell in each of 32 buckets, and the longest.
///
/// Bucket 0 holds durations under 64 ns; bucket `i` (1 to 30) holds those from
/// `64 ns << (i - 1)` up to `64 ns << i`; bucket 31 holds everything from `64 ns << 30` (about
/// 68.7 s) up. Quantiles are read off the buckets, so they are exact to within a factor of 2:
/// [`quantile`](Self::quantile) gives the upper end of the bucket the quantile falls in, which
/// the true quantile never exceeds, capped at the longest duration recorded (the max is exact:
/// the longest of the durations recorded, which for sampled task timings are the sample's).
///
/// The task histograms of [`Timings`] are sampled (see there): their counts are estimates.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use bounded_executor::BoundedExecutor;
///
/// let exec = BoundedExecutor::new(2);
/// for _ in 0..10 {
///     exec.submit(|| std::thread::sleep(Duration::from_millis(1))).unwrap().join().unwrap();
/// }
/// let run_time = exec.stats().timings.run_time;
/// // Tasks of a millisecond are all timed.
/// assert_eq!(run_time.count(), 10);
/// let p50 = run_time.p50().unwrap();
/// assert!(p50 >= Duration::from_millis(1) && p50 <= run_time.max().unwrap());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Histogram {
    buckets: [u64; Histogram::BUCKETS],
    max: Duration,
}

impl Histogram {
    /// The number of buckets.
    pub const BUCKETS: usize = 32;

    /// The bucket a duration falls in.
    ///
    /// ```
    /// use std::time::Duration;
    /// use bounded_executor::Histogram;
    ///
    /// assert_eq!(Histogram::bucket_of(Duration::from_nanos(63)), 0);
    /// assert_eq!(Histogram::bucket_of(Duration::from_nanos(64)), 1);
    /// assert_eq!(Histogram::bucket_of(Duration::from_micros(1)), 4); // [512 ns, 1024 ns)
    /// assert_eq!(Histogram::bucket_of(Duration::MAX), Histogram::BUCKETS - 1);
    /// ```
    pub fn bucket_of(duration: Duration) -> usize {
        bucket_of_nanos(nanos(duration))
    }

    /// The durations bucket `index` holds: `start..end`, where the last bucket's `end` is
    /// `Duration::MAX`.
    ///
    /// # Panics
    ///
    /// If `index >= Histogram::BUCKETS`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use bounded_executor::Histogram;
    ///
    /// assert_eq!(Histogram::bucket_range(0), Duration::ZERO..Duration::from_nanos(64));
    /// assert_eq!(Histogram::bucket_range(2), Duration::from_nanos(128)..Duration::from_nanos(256));
    /// ```
    pub fn bucket_range(index: usize) -> Range<Duration> {
        assert!(index < Self::BUCKETS, "bucket {index} of {}", Self::BUCKETS);
        let start = if index == 0 { 0 } else { FIRST_NANOS << (index - 1) };
        let end = if index == Self::BUCKETS - 1 {
            Duration::MAX
        } else {
            Duration::from_nanos(FIRST_NANOS << index)
        };
        Duration::from_nanos(start)..end
    }

    /// How many durations each bucket holds (see [`bucket_range`](Self::bucket_range)).
    pub fn buckets(&self) -> &[u64; Self::BUCKETS] {
        &self.buckets
    }

    /// How many durations are counted, in all buckets.
    pub fn count(&self) -> u64 {
        self.buckets.iter().fold(0u64, |sum, &n| sum.saturating_add(n))
    }

    /// True if nothing is counted.
    pub fn is_empty(&self) -> bool {
        self.count() == 0
    }

    /// The longest duration recorded; `None` if nothing is counted.
    pub fn max(&self) -> Option<Duration> {
        (!self.is_empty()).then_some(self.max)
    }

    /// An upper bound of the `q`-quantile (`q` in `0.0..=1.0`, clamped; 0.5 is the median): the
    /// end of the bucket where the `ceil(q * count)`-th shortest duration falls, capped at
    /// [`max`](Self::max). Within a factor of 2 of the true quantile. `None` if nothing is
    /// counted.
    ///
    /// ```
    /// use std::time::Duration;
    /// use bounded_executor::Histogram;
    ///
    /// let empty = Histogram::default();
    /// assert_eq!(empty.quantile(0.5), None);
    /// ```
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        let count = self.count();
        if count == 0 {
            return None;
        }
        let q = if q.is_nan() { 1.0 } else { q.clamp(0.0, 1.0) };
        // At least the first: the 0-quantile is the shortest.
        let rank = ((q * count as f64).ceil() as u64).clamp(1, count);
        let mut seen = 0u64;
        for (index, &n) in self.buckets.iter().enumerate() {
            seen = seen.saturating_add(n);
            if seen >= rank {
                // Capped at the max, but never below the bucket's start: a snapshot taken
                // while durations are recorded may count one before its max is raised.
                let range = Self::bucket_range(index);
                return Some(range.end.min(self.max.max(range.start)));
            }
        }
        Some(self.max)
    }

    /// [`quantile(0.5)`](Self::quantile): an upper bound of the median.
    pub fn p50(&self) -> Option<Duration> {
        self.quantile(0.5)
    }

    /// [`quantile(0.99)`](Self::quantile).
    pub fn p99(&self) -> Option<Duration> {
        self.quantile(0.99)
    }

    /// Adds `other`'s counts to these, and keeps the longer maximum.
    pub fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.buckets.iter_mut().zip(other.buckets) {
            *mine = mine.saturating_add(theirs);
        }
        self.max = self.max.max(other.max);
    }
}

/// How long tasks waited and ran, and how long submits waited, as [`Histogram`]s: part of
/// [`Stats`](crate::Stats).
///
/// - `queue_wait`: from a task's admission (its submit got a slot) to the start of its run;
/// - `run_time`: the task's closure, from its start to its return or panic (per-task hooks
///   not included);
/// - `submit_wait`: each submit that found the executor full and waited for a slot, from the
///   start of that wait to its end (spinning and parked, not running tasks while helping; see
///   [`Builder::producer_helps`](crate::Builder::producer_helps)), whether it then got its
///   slot or timed out; a submit that found a slot at once, or got one by helping, is not
///   counted. A `map` or `map_unordered` whose window is full waits for a result instead of a
///   slot: that wait is counted here too, when it blocks.
///
/// The task histograms are **sampled**: every task is timed where a per-task hook is set, or
/// while tasks run for 20 µs or more; otherwise one in 128, picked at submit by a hash of the
/// count of submits before it, and counted for 128. So their counts are estimates of the tasks run and
/// do not add up to `Stats::completed`; their quantiles are those of the sample. Timing costs
/// about 100 ns per timed task, which this keeps near 1% of the tasks' own cost, and a task that
/// is not timed pays two loads and a branch. The submit waits are all counted.
///
/// # Examples
///
/// ```
/// use bounded_executor::BoundedExecutor;
///
/// let exec = BoundedExecutor::new(2);
/// exec.submit(|| std::thread::sleep(std::time::Duration::from_millis(2))).unwrap().join().unwrap();
/// let timings = exec.stats().timings;
/// assert_eq!(timings.run_time.count(), 1);
/// assert!(timings.queue_wait.max().is_some());
/// assert!(timings.submit_wait.is_empty(), "the executor was never full");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timings {
    /// From admission to the start of the run.
    pub queue_wait: Histogram,
    /// The closure's run.
    pub run_time: Histogram,
    /// Each submit that waited for a slot.
    pub submit_wait: Histogram,
}

#[inline]
fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

#[inline]
fn bucket_of_nanos(nanos: u64) -> usize {
    let above_first = nanos / FIRST_NANOS;
    // 0 for [0, 64 ns), else 1 + floor(log2(nanos / 64)).
    let bits = (u64::BITS - above_first.leading_zeros()) as usize;
    bits.min(Histogram::BUCKETS - 1)
}

/// A [`Histogram`] that threads record into: one Relaxed RMW per bucket count and one for the
/// maximum. A statistic: it guards no data, and a snapshot read while durations are recorded
/// may count a bucket and miss its maximum, or the reverse.
#[derive(Debug, Default)]
pub(crate) struct AtomicHistogram {
    buckets: [AtomicU64; Histogram::BUCKETS],
    max_nanos: AtomicU64,
}

impl AtomicHistogram {
    /// Counts `duration` `weight` times (a sample that stands for `weight` tasks).
    pub(crate) fn record(&self, duration: Duration, weight: u64) {
        // Under loom a measured time would pick the bucket and the max's branch, so a model
        // would not replay the same operations; there every sample counts as zero.
        let nanos = if cfg!(loom) { 0 } else { nanos(duration) };
        // ORDERING: Relaxed; statistics.
        self.buckets[bucket_of_nanos(nanos)].fetch_add(weight, Ordering::Relaxed);
        if nanos > self.max_nanos.load(Ordering::Relaxed) {
            self.max_nanos.fetch_max(nanos, Ordering::Relaxed);
        }
    }

    /// Adds these counts to `into`.
    #[cfg_attr(loom, allow(dead_code))] // `Shared::stats` leaves timings out under loom
    pub(crate) fn read_into(&self, into: &mut Histogram) {
        let mut read = Histogram::default();
        for (count, bucket) in read.buckets.iter_mut().zip(&self.buckets) {
            // ORDERING: Relaxed; statistics.
            *count = bucket.load(Ordering::Relaxed);
        }
        read.max = Duration::from_nanos(self.max_nanos.load(Ordering::Relaxed));
        into.merge(&read);
    }
}

/// What a worker (or the helping producers) records for the tasks it runs.
#[derive(Debug, Default)]
pub(crate) struct TaskTimings {
    pub(crate) queue_wait: AtomicHistogram,
    pub(crate) run_time: AtomicHistogram,
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn histogram(durations: &[(u64, u64)]) -> Histogram {
        let atomic = AtomicHistogram::default();
        for &(nanos, weight) in durations {
            atomic.record(Duration::from_nanos(nanos), weight);
        }
        let mut read = Histogram::default();
        atomic.read_into(&mut read);
        read
    }

    #[test]
    fn every_duration_falls_in_the_bucket_whose_range_holds_it() {
        let mut probes = vec![0, 1, 63, 64, 65, 127, 128, 1000, 1 << 20, u64::MAX];
        for shift in 0..64 {
            probes.extend([(1u64 << shift).saturating_sub(1), 1 << shift, (1 << shift) + 1]);
        }
        for nanos in probes {
            let duration = Duration::from_nanos(nanos);
            let range = Histogram::bucket_range(Histogram::bucket_of(duration));
            assert!(range.contains(&duration), "{duration:?} not in {range:?}");
        }
        // The buckets tile the durations: each starts where the one before ends.
        for index in 1..Histogram::BUCKETS {
            assert_eq!(
                Histogram::bucket_range(index - 1).end,
                Histogram::bucket_range(index).start
            );
        }
        assert_eq!(Histogram::bucket_of(Duration::MAX), Histogram::BUCKETS - 1);
    }

    #[test]
    fn quantiles_are_upper_bounds_within_a_factor_of_two_capped_at_the_max() {
        // 98 of 1 µs, one of 1 ms, one of 50 ms.
        let mut durations = vec![(1_000, 1); 98];
        durations.extend([(1_000_000, 1), (50_000_000, 1)]);
        let h = histogram(&durations);
        assert_eq!(h.count(), 100);
        let p50 = h.p50().unwrap();
        assert!(p50 >= Duration::from_micros(1) && p50 < Duration::from_micros(2), "{p50:?}");
        let p99 = h.p99().unwrap();
        assert!(p99 >= Duration::from_millis(1) && p99 < Duration::from_millis(2), "{p99:?}");
        assert_eq!(h.quantile(1.0), Some(Duration::from_millis(50)), "capped at the max");
        assert_eq!(h.max(), Some(Duration::from_millis(50)));
        assert!(h.quantile(0.0).unwrap() >= Duration::from_micros(1));
        assert_eq!(h.quantile(f64::NAN), h.quantile(1.0));
        assert_eq!(h.quantile(-3.0), h.quantile(0.0));
    }

    #[test]
    fn weights_count_a_sample_for_its_stride_and_merging_adds_up() {
        let sampled = histogram(&[(500, 128), (5_000, 1)]);
        assert_eq!(sampled.count(), 129);
        assert_eq!(sampled.buckets()[Histogram::bucket_of(Duration::from_nanos(500))], 128);
        let mut merged = sampled;
        merged.merge(&histogram(&[(10, 2)]));
        assert_eq!((merged.count(), merged.buckets()[0]), (131, 2));
        assert_eq!(merged.max(), Some(Duration::from_nanos(5_000)));
        assert_eq!(Histogram::default().max(), None);
        assert_eq!(Histogram::default().p99(), None);
    }
}
