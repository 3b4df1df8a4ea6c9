//! The engine both ends run for every connection: it takes each received frame and answers
//! requests, delivers responses to waiting calls, hands events to subscribers in order, answers
//! pings and handles batches.
//!
//! Requests run concurrently. A handler that finishes on its first poll is answered inline
//! without spawning a task (the common case, and the fast path); one that waits is spawned, so
//! a slow handler never holds up the connection, and a handler can call back into the same peer
//! while its own call is open.
//!
//! Every task the router spawns belongs to the connection: it lives in the router's task set,
//! which the connection's control loop reaps and drops (aborting what still runs) when the
//! connection closes.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

use futures::FutureExt;
use futures::future::{Abortable, join_all};
use serde_json::value::RawValue;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::call_trace::CallTrace;
use crate::connection::Connection;
use crate::error::{Error, ErrorCode};
use crate::frame::Frame;
use crate::handler::{BoxFuture, MethodResult};
use crate::heartbeat::Heartbeat;
use crate::message::{
    Incoming, Received, cancelled_id, encode_batch, encode_error, encode_result_into, parse_frame,
};
use crate::raw::{Params, RawJson};
use crate::registry::{MethodTable, Registry, Subscribers};
use crate::running::Running;

/// Events waiting for their subscribers, per connection, in arrival order.
const EVENT_QUEUE: usize = 256;

/// A subscriber call, with a panic turned into an `Err`.
type SubscriberCall = Pin<Box<dyn Future<Output = std::thread::Result<()>> + Send>>;

/// An event still to deliver: a subscriber call already running (if any), then the subscribers
/// from `next` on.
struct EventJob {
    running: Option<SubscriberCall>,
    subscribers: Subscribers,
    next: usize,
    params: Params,
}

pub(crate) struct Router {
    registry: Arc<Registry>,
    /// This connection's snapshot of the method table and its version.
    methods: (u64, Arc<MethodTable>),
    conn: Connection,
    /// Started with the first event that cannot finish inline, so most connections carry no
    /// event task.
    events: Option<mpsc::Sender<EventJob>>,
    /// Events queued or being delivered by the event task; inline delivery only when zero, so
    /// order always holds.
    backlog: Arc<AtomicUsize>,
    /// Every task started for this connection: handlers still running, batches being
    /// assembled, the event task, the `on_connect` hooks. Dropped (and so aborted) with the
    /// router when the connection closes.
    tasks: JoinSet<()>,
    /// The peer's requests still running, for `$/cancelRequest`; made with the first one.
    running: Option<Arc<Running>>,
    /// Events that found the event queue full, in arrival order.
    held: Vec<EventJob>,
}

impl Router {
    pub(crate) fn new(registry: Arc<Registry>, conn: Connection) -> Self {
        Self {
            methods: registry.methods(),
            registry,
            conn,
            events: None,
            backlog: Arc::default(),
            tasks: JoinSet::new(),
            running: None,
            held: Vec::new(),
        }
    }

    /// Runs `task` as one of the connection's tasks.
    pub(crate) fn spawn_task(&mut self, task: BoxFuture<()>) {
        self.tasks.spawn(task);
    }

    /// Completes when one of the connection's tasks has finished (never while none runs).
    ///
    /// Cancel safe: a finished task stays in the set until joined.
    pub(crate) async fn task_finished(&mut self) {
        match self.tasks.join_next().await {
            Some(Err(err)) if err.is_panic() => {
                tracing::error!(connection = %self.conn.id(), "a connection task panicked");
            }
            Some(_) => {}
            None => std::future::pending().await,
        }
    }

    /// Handles one received text frame.
    ///
    /// Never waits: an event that finds the connection's event queue full is held back (with
    /// every event after it, in order) until the control loop awaits
    /// [`deliver_held_events`](Self::deliver_held_events).
    pub(crate) fn on_frame(&mut self, frame: Frame, heartbeat: &mut Heartbeat) {
        let text = frame.as_str();
        match parse_frame(text) {
            Received::Single(message) => {
                if let Some(reply) = self.on_message(message, &frame, heartbeat) {
                    self.spawn_reply(reply);
                }
            }
            Received::Batch(items) if items.len() > self.conn.settings().limits.max_batch_len() => {
                let limit = self.conn.settings().limits.max_batch_len();
                tracing::debug!(connection = %self.conn.id(), len = items.len(), limit, "batch too long");
                let err = Error::invalid_request(&format!(
                    "batch of {} messages is longer than the limit of {limit}",
                    items.len()
                ));
                self.conn.push(Frame::from(encode_error(None, &err)));
            }
            Received::Batch(items) => self.on_batch(&frame, items, heartbeat),
            Received::Invalid(err) => {
                tracing::debug!(connection = %self.conn.id(), %err, "invalid frame");
                self.conn.push(Frame::from(encode_error(None, &err)));
            }
        }
    }

    /// Handles one message; a request yields the future of its encoded response.
    fn on_message(
        &mut self,
        message: Incoming<'_>,
        frame: &Frame,
        heartbeat: &mut Heartbeat,
    ) -> Option<Reply> {
        match message {
            Incoming::Request { id, method, params } => {
                Some(self.start_request(id, &method, params, frame))
            }
            Incoming::Notification { method, params } => {
                match heartbeat.receive(&method) {
                    Ok(Some(answer)) => self.conn.push(answer),
                    Ok(None) => {}
                    Err(()) if method == echorpc_protocol::CANCEL_REQUEST => self.cancel(params),
                    Err(()) => self.deliver_event(&method, params, frame),
                }
                None
            }
            Incoming::Response { id, outcome } => {
                let outcome = outcome.map(|raw| RawJson::within(frame, raw.get()));
                if !self.conn.pending().complete(id.get(), outcome) {
                    tracing::debug!(connection = %self.conn.id(), id = id.get(), "response to no waiting call; dropped");
                }
                None
            }
            Incoming::Invalid(err) => Some(Reply::Ready(encode_error(None, &err))),
        }
    }

    /// Looks the method up and starts it; errors that need no handler are answered at once.
    fn start_request(
        &mut self,
        id: &RawValue,
        method: &str,
        params: Option<&RawValue>,
        frame: &Frame,
    ) -> Reply {
        if self.registry.methods_version() != self.methods.0 {
            self.methods = self.registry.methods();
        }
        let Some(handler) = self.methods.1.get(method) else {
            return Reply::Ready(encode_error(
                Some(id.get()),
                &Error::method_not_found(method),
            ));
        };
        if self.conn.in_flight_full() {
            let busy = Error::new(
                ErrorCode::SERVER_BUSY,
                "too many requests in flight on this connection",
            );
            return Reply::Ready(encode_error(Some(id.get()), &busy));
        }
        let params = Params::new(params.map(|raw| RawJson::within(frame, raw.get())));
        let mut call = handler.call(params, self.conn.clone());
        if let Some(budget) = handler
            .time_budget()
            .or(self.conn.settings().handler_timeout)
        {
            call = with_budget(call, budget);
        }
        let connection = self.conn.id();
        let trace = CallTrace::start(method, id.get(), connection);
        // The first poll happens here: most handlers finish at once, and then need no task, no
        // in-flight count and no copy of the id. The no-op waker is enough, since a handler
        // still pending is polled again, with a real waker, by the task that awaits it.
        let mut cx = Context::from_waker(Waker::noop());
        let first_poll = {
            let _inside = trace.as_ref().map(|trace| trace.span().enter());
            std::panic::catch_unwind(AssertUnwindSafe(|| call.as_mut().poll(&mut cx)))
        };
        match first_poll {
            Ok(Poll::Ready(result)) => {
                return Reply::Ready(respond(id.get(), Ok(result), connection, trace));
            }
            Err(panic) => return Reply::Ready(respond(id.get(), Err(panic), connection, trace)),
            Ok(Poll::Pending) => {}
        }
        let permit = self.conn.count_request();
        let running = self.running.get_or_insert_with(Arc::default);
        let (entry, registration) = running.start(id.get());
        let call = Abortable::new(call, registration);
        Reply::Running(Box::pin(async move {
            let span = trace
                .as_ref()
                .map_or_else(tracing::Span::none, |t| t.span().clone());
            let running =
                tracing::Instrument::instrument(AssertUnwindSafe(call).catch_unwind(), span);
            let outcome = match running.await {
                Ok(Ok(result)) => Ok(result),
                Ok(Err(_aborted)) => Ok(Err(Error::new(
                    ErrorCode::REQUEST_CANCELLED,
                    "request cancelled",
                ))),
                Err(panic) => Err(panic),
            };
            drop(permit);
            respond(entry.id(), outcome, connection, trace)
        }))
    }

    /// A `$/cancelRequest` arrived: stops the handler of that request, which answers `-32800`.
    /// An unknown or already answered id, or params without a valid id, are ignored.
    fn cancel(&mut self, params: Option<&RawValue>) {
        let Some(id) = cancelled_id(params) else {
            tracing::debug!(connection = %self.conn.id(), "cancellation without a valid id; ignored");
            return;
        };
        let stopped = self
            .running
            .as_ref()
            .is_some_and(|running| running.cancel(id));
        tracing::debug!(connection = %self.conn.id(), id, stopped, "cancellation received");
    }

    /// Sends a reply now if it is ready, otherwise from a task of the connection's.
    fn spawn_reply(&mut self, reply: Reply) {
        match reply {
            Reply::Ready(text) => self.conn.push(Frame::from(text)),
            Reply::Running(running) => {
                let conn = self.conn.clone();
                self.tasks
                    .spawn(async move { conn.push(Frame::from(running.await)) });
            }
        }
    }

    /// Handles a batch: events and responses in order now, requests concurrently, and their
    /// answers sent back as one array in request order.
    fn on_batch(&mut self, frame: &Frame, items: Vec<Incoming<'_>>, heartbeat: &mut Heartbeat) {
        let mut replies = Vec::with_capacity(items.len());
        for item in items {
            if let Some(reply) = self.on_message(item, frame, heartbeat) {
                replies.push(reply);
            }
        }
        if replies.is_empty() {
            return;
        }
        // Items that finished on their first poll are ready; only a batch with a waiting item
        // is finished in a task.
        if replies.iter().all(|r| matches!(r, Reply::Ready(_))) {
            let parts: Vec<String> = replies.into_iter().filter_map(Reply::ready).collect();
            self.conn.push(Frame::from(encode_batch(&parts)));
            return;
        }
        let conn = self.conn.clone();
        let all = async move {
            let parts = join_all(replies.into_iter().map(Reply::into_future)).await;
            conn.push(Frame::from(encode_batch(&parts)));
        };
        self.tasks.spawn(all);
    }

    /// Delivers an event to the connection's subscribers, in order. While nothing is queued,
    /// subscribers that finish on their first poll run right here (so an event is handled
    /// before a request sent after it); the rest goes to the connection's event task. A full
    /// event queue makes the reader wait, which stops reading from this peer until its events
    /// are handled (back-pressure, never loss).
    fn deliver_event(&mut self, event: &str, params: Option<&RawValue>, frame: &Frame) {
        let Some(subscribers) = self.registry.subscribers(event) else {
            tracing::trace!(connection = %self.conn.id(), event, "event with no subscriber; dropped");
            return;
        };
        let params = Params::new(params.map(|raw| RawJson::within(frame, raw.get())));
        let mut job = EventJob {
            running: None,
            subscribers,
            next: 0,
            params,
        };
        if self.backlog.load(Ordering::Acquire) == 0 {
            let mut cx = Context::from_waker(Waker::noop());
            while job.next < job.subscribers.len() {
                let mut call = subscriber_call(&job, &self.conn);
                job.next += 1;
                match call.as_mut().poll(&mut cx) {
                    Poll::Ready(outcome) => log_panic(outcome, &self.conn),
                    Poll::Pending => {
                        job.running = Some(call);
                        break;
                    }
                }
            }
            if job.running.is_none() {
                return;
            }
        }
        let conn = &self.conn;
        let backlog = &self.backlog;
        let tasks = &mut self.tasks;
        let queue = self.events.get_or_insert_with(|| {
            let (tx, rx) = mpsc::channel(EVENT_QUEUE);
            tasks.spawn(run_events(rx, conn.clone(), Arc::clone(backlog)));
            tx
        });
        self.backlog.fetch_add(1, Ordering::AcqRel);
        if !self.held.is_empty() {
            self.held.push(job);
            return;
        }
        match queue.try_send(job) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(job)) => self.held.push(job),
            // The receiver lives as long as the router's task set.
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }

    /// Whether events wait for room in the event queue (see [`on_frame`](Self::on_frame)).
    pub(crate) fn holds_events(&self) -> bool {
        !self.held.is_empty()
    }

    /// Queues the held events, in order, waiting for room: the reader stops reading from this
    /// peer meanwhile (back-pressure, never loss).
    pub(crate) async fn deliver_held_events(&mut self) {
        let Some(queue) = self.events.clone() else {
            return;
        };
        for job in std::mem::take(&mut self.held) {
            if queue.send(job).await.is_err() {
                return;
            }
        }
    }
}

fn subscriber_call(job: &EventJob, conn: &Connection) -> SubscriberCall {
    let call = job.subscribers[job.next]
        .1
        .call(job.params.clone(), conn.clone());
    Box::pin(AssertUnwindSafe(call).catch_unwind())
}

fn log_panic(outcome: std::thread::Result<()>, conn: &Connection) {
    if outcome.is_err() {
        tracing::error!(connection = %conn.id(), "event subscriber panicked");
    }
}

/// A response being produced: already encoded, or still running.
enum Reply {
    Ready(String),
    Running(Pin<Box<dyn Future<Output = String> + Send>>),
}

impl Reply {
    fn ready(self) -> Option<String> {
        match self {
            Reply::Ready(text) => Some(text),
            Reply::Running(_) => None,
        }
    }

    async fn into_future(self) -> String {
        match self {
            Reply::Ready(text) => text,
            Reply::Running(running) => running.await,
        }
    }
}

/// `call` cancelled and answered `-32002` once it runs past `budget`.
fn with_budget(
    call: BoxFuture<MethodResult>,
    budget: std::time::Duration,
) -> BoxFuture<MethodResult> {
    Box::pin(async move {
        match tokio::time::timeout(budget, call).await {
            Ok(result) => result,
            Err(_) => Err(Error::new(
                ErrorCode::TIMEOUT,
                format!("the handler ran past its time budget of {budget:?}"),
            )),
        }
    })
}

fn respond(
    id: &str,
    outcome: std::thread::Result<MethodResult>,
    connection: crate::ConnectionId,
    trace: Option<CallTrace>,
) -> String {
    if let Some(trace) = trace {
        trace.finish(outcome.as_ref().map_err(drop));
    }
    match outcome {
        Ok(Ok(result)) => encode_result_into(id, result.into_string()),
        Ok(Err(err)) => {
            tracing::debug!(%connection, id, %err, "handler returned an error");
            encode_error(Some(id), &err)
        }
        Err(_) => {
            tracing::error!(%connection, id, "handler panicked");
            encode_error(
                Some(id),
                &Error::internal("internal error: handler panicked"),
            )
        }
    }
}

/// Runs one connection's queued events one after another, so subscribers see them in order.
async fn run_events(
    mut queue: mpsc::Receiver<EventJob>,
    conn: Connection,
    backlog: Arc<AtomicUsize>,
) {
    while let Some(mut job) = queue.recv().await {
        if let Some(running) = job.running.take() {
            log_panic(running.await, &conn);
        }
        while job.next < job.subscribers.len() {
            let call = subscriber_call(&job, &conn);
            job.next += 1;
            log_panic(call.await, &conn);
        }
        backlog.fetch_sub(1, Ordering::AcqRel);
    }
}
