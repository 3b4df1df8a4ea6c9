//! What one call leaves for an operator: a `call` span (method, request id, outcome, duration)
//! and, with the `metrics` feature, `echorpc_calls_total{method}`,
//! `echorpc_call_errors_total{method,code}` and `echorpc_call_duration_seconds{method}`.
//!
//! Nothing is made when nobody listens (no subscriber for the span at debug level, and no
//! `metrics` feature): the router's inline fast path then pays one cached interest check.

use std::time::Instant;

use tracing::field::Empty;

use crate::connection::ConnectionId;
use crate::error::Error;
use crate::handler::MethodResult;

/// One call being traced.
#[derive(Debug)]
pub(crate) struct CallTrace {
    span: tracing::Span,
    started: Instant,
    #[cfg(feature = "metrics")]
    method: String,
}

impl CallTrace {
    /// A trace of the call `id` of `method`, or `None` when nothing would record it.
    pub(crate) fn start(method: &str, id: &str, connection: ConnectionId) -> Option<Self> {
        let wanted = cfg!(feature = "metrics") || tracing::enabled!(tracing::Level::DEBUG);
        if !wanted {
            return None;
        }
        let span = tracing::debug_span!(
            "call",
            %connection,
            method,
            id,
            outcome = Empty,
            duration_ms = Empty
        );
        Some(Self {
            span,
            started: Instant::now(),
            #[cfg(feature = "metrics")]
            method: method.to_owned(),
        })
    }

    /// The span the handler runs in.
    pub(crate) fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// Records the outcome: `ok`, the error code, or `panicked`.
    pub(crate) fn finish(self, outcome: Result<&MethodResult, ()>) {
        let elapsed = self.started.elapsed();
        let code = match outcome {
            Ok(Ok(_)) => None,
            Ok(Err(err)) => Some(code_label(err)),
            Err(()) => Some("panicked".to_owned()),
        };
        self.span
            .record("outcome", code.as_deref().unwrap_or("ok"))
            .record("duration_ms", elapsed.as_secs_f64() * 1000.0);
        let _inside = self.span.enter();
        tracing::debug!("call answered");
        #[cfg(feature = "metrics")]
        {
            ::metrics::counter!("echorpc_calls_total", "method" => self.method.clone())
                .increment(1);
            ::metrics::histogram!("echorpc_call_duration_seconds", "method" => self.method.clone())
                .record(elapsed.as_secs_f64());
            if let Some(code) = code {
                ::metrics::counter!("echorpc_call_errors_total", "method" => self.method, "code" => code)
                    .increment(1);
            }
        }
    }
}

fn code_label(err: &Error) -> String {
    err.code()
        .map_or_else(|| "local".to_owned(), |code| code.to_string())
}
