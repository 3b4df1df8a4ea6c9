//! The JSON ping/pong heartbeat of one connection: the one owner of sending pings, answering
//! the peer's pings, and closing a connection whose pong is overdue. The connection's control
//! loop polls its timer; the router hands it every `ping` and `pong` notification.

use std::pin::Pin;
use std::time::Duration;

use tokio::time::{Instant, Sleep, sleep_until};

use crate::frame::Frame;

/// The heartbeat request, answered by [`PONG`].
pub(crate) const PING: Frame = Frame::from_static(echorpc_protocol::PING_FRAME);
/// The heartbeat answer.
pub(crate) const PONG: Frame = Frame::from_static(echorpc_protocol::PONG_FRAME);

/// What the heartbeat asks the connection to do when its timer fires.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Beat {
    /// Send this ping now.
    Ping(Frame),
    /// No pong came in time: close the connection.
    Expired,
    /// Nothing yet (the timer was re-armed).
    Idle,
}

#[derive(Debug)]
pub(crate) struct Heartbeat {
    interval: Duration,
    pong_timeout: Duration,
    next_ping: Instant,
    pong_deadline: Option<Instant>,
    timer: Pin<Box<Sleep>>,
}

/// Far enough to mean "never" for a disabled heartbeat.
const NEVER: Duration = Duration::from_secs(86_400 * 365);

impl Heartbeat {
    /// A heartbeat pinging every `interval` (`ZERO`: never) and waiting `pong_timeout` for pongs.
    pub(crate) fn new(interval: Duration, pong_timeout: Duration) -> Self {
        let first = Instant::now() + if interval.is_zero() { NEVER } else { interval };
        Self {
            interval,
            pong_timeout,
            next_ping: first,
            pong_deadline: None,
            timer: Box::pin(sleep_until(first)),
        }
    }

    /// Completes when the heartbeat needs attention; then call [`fire`](Self::fire).
    ///
    /// Cancel safe: the timer keeps its deadline when the returned future is dropped.
    pub(crate) async fn due(&mut self) {
        self.timer.as_mut().await;
    }

    pub(crate) fn fire(&mut self) -> Beat {
        let now = Instant::now();
        if self.pong_deadline.is_some_and(|deadline| now >= deadline) {
            return Beat::Expired;
        }
        let beat = if now >= self.next_ping && !self.interval.is_zero() {
            self.next_ping = now + self.interval;
            self.pong_deadline.get_or_insert(now + self.pong_timeout);
            Beat::Ping(PING)
        } else {
            Beat::Idle
        };
        self.rearm();
        beat
    }

    /// Takes a received notification if it is the heartbeat's: a `ping` is answered with the
    /// returned frame, a `pong` proves the peer alive. `Err(())` for any other notification.
    pub(crate) fn receive(&mut self, method: &str) -> Result<Option<Frame>, ()> {
        match method {
            echorpc_protocol::PING => Ok(Some(PONG)),
            echorpc_protocol::PONG => {
                if self.pong_deadline.take().is_some() {
                    self.rearm();
                }
                Ok(None)
            }
            _ => Err(()),
        }
    }

    fn rearm(&mut self) {
        let at = match self.pong_deadline {
            Some(deadline) => deadline.min(self.next_ping),
            None if self.interval.is_zero() => Instant::now() + NEVER,
            None => self.next_ping,
        };
        self.timer.as_mut().reset(at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn pings_then_expires_without_pong() {
        let mut hb = Heartbeat::new(Duration::from_millis(100), Duration::from_millis(50));
        hb.due().await;
        assert_eq!(hb.fire(), Beat::Ping(PING));
        hb.due().await;
        assert_eq!(hb.fire(), Beat::Expired);
    }

    #[tokio::test(start_paused = true)]
    async fn pong_keeps_it_alive() {
        let start = Instant::now();
        let mut hb = Heartbeat::new(Duration::from_millis(100), Duration::from_millis(50));
        for round in 1..=5 {
            hb.due().await;
            assert_eq!(hb.fire(), Beat::Ping(PING));
            assert_eq!(Instant::now() - start, Duration::from_millis(100) * round);
            assert_eq!(hb.receive("pong"), Ok(None));
        }
    }

    #[tokio::test]
    async fn answers_pings_and_ignores_other_names() {
        let mut hb = Heartbeat::new(Duration::ZERO, Duration::from_millis(50));
        assert_eq!(hb.receive("ping"), Ok(Some(PONG)));
        assert_eq!(hb.receive("chat"), Err(()));
    }

    #[tokio::test(start_paused = true)]
    async fn disabled_never_fires() {
        let mut hb = Heartbeat::new(Duration::ZERO, Duration::from_millis(50));
        let fired = tokio::time::timeout(Duration::from_secs(3600), hb.due()).await;
        assert!(fired.is_err());
    }
}
