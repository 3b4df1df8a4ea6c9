//! The frames waiting to be written to one peer: a bounded queue that allocates nothing while
//! it is empty (most connections are idle most of the time), drained by the connection's
//! writer.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use tokio::sync::{Notify, Semaphore, TryAcquireError};

use crate::frame::Frame;

/// Why a frame was not queued.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The queue holds its maximum of frames.
    Full,
    /// The connection is closed.
    Closed,
}

/// Places an empty queue keeps allocated; a larger buffer is freed once drained.
const KEPT_CAPACITY: usize = 8;

#[derive(Debug)]
pub(crate) struct Outbound {
    frames: Mutex<VecDeque<Frame>>,
    /// One permit per free place; closed once the connection is.
    room: Semaphore,
    /// Wakes the writer when a frame arrives (a permit is kept when it is not waiting).
    arrived: Notify,
}

impl Outbound {
    /// A queue with room for `capacity` frames.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            frames: Mutex::new(VecDeque::new()),
            room: Semaphore::new(capacity.clamp(1, Semaphore::MAX_PERMITS)),
            arrived: Notify::new(),
        }
    }

    fn append(&self, frame: Frame) {
        self.frames
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_back(frame);
        self.arrived.notify_one();
    }

    /// Queues `frame` if there is room now.
    pub(crate) fn try_push(&self, frame: Frame) -> Result<(), Refused> {
        match self.room.try_acquire() {
            Ok(permit) => permit.forget(),
            Err(TryAcquireError::NoPermits) => return Err(Refused::Full),
            Err(TryAcquireError::Closed) => return Err(Refused::Closed),
        }
        self.append(frame);
        Ok(())
    }

    /// Queues `frame`, waiting for room.
    ///
    /// Cancel safe: nothing is queued unless it completes.
    pub(crate) async fn push(&self, frame: Frame) -> Result<(), Refused> {
        self.room
            .acquire()
            .await
            .map_err(|_| Refused::Closed)?
            .forget();
        self.append(frame);
        Ok(())
    }

    /// The next frame, waiting for one.
    ///
    /// Cancel safe: a frame is only taken when it completes.
    pub(crate) async fn next(&self) -> Frame {
        loop {
            if let Some(frame) = self.try_next() {
                return frame;
            }
            self.arrived.notified().await;
        }
    }

    /// The next frame, if one is queued.
    pub(crate) fn try_next(&self) -> Option<Frame> {
        let mut frames = self.frames.lock().unwrap_or_else(PoisonError::into_inner);
        let frame = frames.pop_front()?;
        if frames.is_empty() && frames.capacity() > KEPT_CAPACITY {
            // An idle connection keeps (almost) no buffer.
            *frames = VecDeque::new();
        }
        drop(frames);
        self.room.add_permits(1);
        Some(frame)
    }

    /// Refuses every frame from now on; senders waiting for room fail.
    pub(crate) fn close(&self) {
        self.room.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bounded_and_drained_in_order() {
        let queue = Outbound::new(2);
        queue.try_push(Frame::from("1")).unwrap();
        queue.push(Frame::from("2")).await.unwrap();
        assert_eq!(queue.try_push(Frame::from("3")), Err(Refused::Full));
        assert_eq!(queue.next().await.as_str(), "1");
        assert_eq!(
            queue.try_next().map(|f| f.as_str().to_owned()).as_deref(),
            Some("2")
        );
        assert!(queue.try_next().is_none());
        queue.try_push(Frame::from("3")).unwrap();
        queue.close();
        assert_eq!(queue.try_push(Frame::from("4")), Err(Refused::Closed));
        assert_eq!(queue.push(Frame::from("4")).await, Err(Refused::Closed));
    }

    #[tokio::test]
    async fn a_waiting_sender_gets_room_when_the_writer_drains() {
        let queue = std::sync::Arc::new(Outbound::new(1));
        queue.try_push(Frame::from("1")).unwrap();
        let sender = {
            let queue = std::sync::Arc::clone(&queue);
            tokio::spawn(async move { queue.push(Frame::from("2")).await })
        };
        assert_eq!(queue.next().await.as_str(), "1");
        sender.await.unwrap().unwrap();
        assert_eq!(queue.next().await.as_str(), "2");
    }
}
