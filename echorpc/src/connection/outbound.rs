//! The frames waiting to be written to one peer: a bounded queue that allocates nothing while
//! it is empty (most connections are idle most of the time), drained by the connection's
//! writer.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
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

/// Places an empty queue (or the writer's empty burst) keeps allocated; a larger buffer is
/// freed once drained.
const KEPT_CAPACITY: usize = 8;

/// Frees `frames`' buffer when it is empty and larger than an idle connection keeps.
fn shed(frames: &mut VecDeque<Frame>) {
    if frames.is_empty() && frames.capacity() > KEPT_CAPACITY {
        *frames = VecDeque::new();
    }
}

#[derive(Debug)]
pub(crate) struct Outbound {
    frames: Mutex<VecDeque<Frame>>,
    /// One permit per free place; closed once the connection is.
    room: Semaphore,
    /// Wakes the writer when a frame arrives (a permit is kept when it is not waiting).
    arrived: Notify,
    /// Control frames queued past the bound ([`push_control`](Self::push_control)): the next
    /// places given back repay them first.
    over: AtomicUsize,
}

impl Outbound {
    /// A queue with room for `capacity` frames.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            frames: Mutex::new(VecDeque::new()),
            room: Semaphore::new(capacity.clamp(1, Semaphore::MAX_PERMITS)),
            arrived: Notify::new(),
            over: AtomicUsize::new(0),
        }
    }

    fn append(&self, frame: Frame) {
        self.lock().push_back(frame);
        self.arrived.notify_one();
    }

    /// Takes a free place, if there is one now.
    fn take_place(&self) -> Result<(), Refused> {
        match self.room.try_acquire() {
            Ok(permit) => {
                permit.forget();
                Ok(())
            }
            Err(TryAcquireError::NoPermits) => Err(Refused::Full),
            Err(TryAcquireError::Closed) => Err(Refused::Closed),
        }
    }

    /// Queues `frame` if there is room now.
    pub(crate) fn try_push(&self, frame: Frame) -> Result<(), Refused> {
        self.take_place()?;
        self.append(frame);
        Ok(())
    }

    /// Queues a control frame (a `$/cancelRequest`) even when the queue is full: dropping it
    /// would leave the peer's handler running, and there are few (at most one per call of ours,
    /// and those are bounded by the pending table). Refused only once the connection is closed.
    pub(crate) fn push_control(&self, frame: Frame) -> Result<(), Refused> {
        match self.take_place() {
            Ok(()) => {}
            Err(Refused::Full) => {
                self.over.fetch_add(1, Ordering::AcqRel);
            }
            Err(Refused::Closed) => return Err(Refused::Closed),
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

    /// Waits until at least one frame is queued.
    ///
    /// Cancel safe: it takes nothing.
    pub(crate) async fn ready(&self) {
        while self.lock().is_empty() {
            self.arrived.notified().await;
        }
    }

    /// Moves up to `max` queued frames, oldest first, to the back of `burst`, under one lock.
    /// Their places stay taken until [`written`](Self::written) gives them back, so frames in
    /// the writer's hands still count against the queue's bound.
    pub(crate) fn take_burst(&self, burst: &mut VecDeque<Frame>, max: usize) -> usize {
        let mut frames = self.lock();
        let taken = frames.len().min(max);
        if taken == frames.len() && burst.is_empty() {
            // The common case, in O(1): the writer's empty buffer becomes the queue's.
            std::mem::swap(&mut *frames, burst);
        } else {
            burst.extend(frames.drain(..taken));
        }
        shed(&mut frames);
        taken
    }

    /// Gives back the places of `count` frames taken with [`take_burst`](Self::take_burst)
    /// and since written (or dropped), and frees the emptied `burst`'s buffer if it grew past
    /// what an idle connection keeps.
    pub(crate) fn written(&self, count: usize, burst: &mut VecDeque<Frame>) {
        let mut give = count;
        if self.over.load(Ordering::Acquire) > 0 {
            // Rare: control frames went past the bound; their places are not given back.
            let repay = |over: usize| Some(over - over.min(count));
            if let Ok(over) = self
                .over
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, repay)
            {
                give -= over.min(count);
            }
        }
        self.room.add_permits(give);
        shed(burst);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Frame>> {
        self.frames.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Refuses every frame from now on; senders waiting for room fail.
    pub(crate) fn close(&self) {
        self.room.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(burst: &mut VecDeque<Frame>) -> Vec<String> {
        burst.drain(..).map(|f| f.as_str().to_owned()).collect()
    }

    #[tokio::test]
    async fn bounded_and_drained_in_order() {
        let queue = Outbound::new(2);
        queue.try_push(Frame::from("1")).unwrap();
        queue.push(Frame::from("2")).await.unwrap();
        assert_eq!(queue.try_push(Frame::from("3")), Err(Refused::Full));
        queue.ready().await;
        let mut burst = VecDeque::new();
        assert_eq!(queue.take_burst(&mut burst, 1), 1);
        assert_eq!(queue.take_burst(&mut burst, 8), 1);
        assert_eq!(texts(&mut burst), ["1", "2"]);
        // Taken but not yet written: the places are still taken.
        assert_eq!(queue.try_push(Frame::from("3")), Err(Refused::Full));
        queue.written(2, &mut burst);
        queue.try_push(Frame::from("3")).unwrap();
        queue.close();
        assert_eq!(queue.try_push(Frame::from("4")), Err(Refused::Closed));
        assert_eq!(queue.push(Frame::from("4")).await, Err(Refused::Closed));
    }

    #[tokio::test]
    async fn a_control_frame_goes_past_the_bound_and_its_place_is_repaid() {
        let queue = Outbound::new(2);
        queue.try_push(Frame::from("1")).unwrap();
        queue.try_push(Frame::from("2")).unwrap();
        assert_eq!(queue.try_push(Frame::from("3")), Err(Refused::Full));
        queue.push_control(Frame::from("cancel")).unwrap();
        let mut burst = VecDeque::new();
        assert_eq!(queue.take_burst(&mut burst, 8), 3);
        assert_eq!(texts(&mut burst), ["1", "2", "cancel"]);
        // Three written, one of them past the bound: two places come back, not three.
        queue.written(3, &mut burst);
        queue.try_push(Frame::from("4")).unwrap();
        queue.try_push(Frame::from("5")).unwrap();
        assert_eq!(queue.try_push(Frame::from("6")), Err(Refused::Full));
        queue.close();
        assert_eq!(
            queue.push_control(Frame::from("late")),
            Err(Refused::Closed)
        );
    }

    #[tokio::test]
    async fn a_burst_is_capped_and_keeps_the_order() {
        let queue = Outbound::new(16);
        for i in 0..5 {
            queue.try_push(Frame::from(i.to_string())).unwrap();
        }
        let mut burst = VecDeque::new();
        assert_eq!(queue.take_burst(&mut burst, 3), 3);
        assert_eq!(texts(&mut burst), ["0", "1", "2"]);
        assert_eq!(queue.take_burst(&mut burst, 3), 2);
        assert_eq!(texts(&mut burst), ["3", "4"]);
        assert_eq!(queue.take_burst(&mut burst, 3), 0);
    }

    #[tokio::test]
    async fn a_large_burst_frees_its_buffer_once_written() {
        let queue = Outbound::new(64);
        for i in 0..40 {
            queue.try_push(Frame::from(i.to_string())).unwrap();
        }
        let mut burst = VecDeque::new();
        assert_eq!(queue.take_burst(&mut burst, 64), 40);
        assert!(burst.capacity() >= 40);
        assert_eq!(texts(&mut burst).len(), 40);
        queue.written(40, &mut burst);
        assert!(burst.capacity() <= KEPT_CAPACITY);
        queue.try_push(Frame::from("again")).unwrap();
    }

    #[tokio::test]
    async fn a_waiting_sender_gets_room_when_the_writer_has_written() {
        let queue = std::sync::Arc::new(Outbound::new(1));
        queue.try_push(Frame::from("1")).unwrap();
        let sender = {
            let queue = std::sync::Arc::clone(&queue);
            tokio::spawn(async move { queue.push(Frame::from("2")).await })
        };
        let mut burst = VecDeque::new();
        queue.ready().await;
        assert_eq!(queue.take_burst(&mut burst, 8), 1);
        queue.written(1, &mut burst);
        sender.await.unwrap().unwrap();
        queue.ready().await;
        assert_eq!(queue.take_burst(&mut burst, 8), 1);
        assert_eq!(texts(&mut burst), ["1", "2"]);
    }
}
