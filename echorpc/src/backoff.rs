//! Exponential backoff between reconnect attempts.

use std::time::Duration;

/// The delays a client waits between reconnect attempts: `initial`, doubling up to `max`.
///
/// ```
/// use std::time::Duration;
/// use echorpc::Backoff;
///
/// let mut delays = Backoff::new(Duration::from_secs(1), Duration::from_secs(5));
/// let secs: Vec<u64> = (0..5).map(|_| delays.next_delay().as_secs()).collect();
/// assert_eq!(secs, [1, 2, 4, 5, 5]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    next: Duration,
}

impl Default for Backoff {
    /// The protocol's default: 1 s doubling to 5 s.
    fn default() -> Self {
        Self::new(Duration::from_secs(1), Duration::from_secs(5))
    }
}

impl Backoff {
    /// Delays starting at `initial` and doubling up to `max` (at least `initial`).
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max: max.max(initial),
            next: initial,
        }
    }

    /// The delay to wait now; the one after it doubles.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(self.max);
        delay
    }

    /// Starts again from the initial delay (after a successful connect).
    pub fn reset(&mut self) {
        self.next = self.initial;
    }
}
