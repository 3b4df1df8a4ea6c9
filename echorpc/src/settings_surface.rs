//! The builder setters of the [`Settings`](crate::config::Settings) both ends share (heartbeat,
//! timeouts, cancellation, limits), written once for `ServerBuilder` and `ClientBuilder`.

/// Implements the shared settings setters on `$builder` (a struct with a `settings` field).
/// `$pinged` says what the heartbeat pings, `$calls` which calls the request timeout covers,
/// `$limited` what the limits bound, each as the builder's docs show them.
macro_rules! settings_surface {
    ($builder:ident, pinged: $pinged:literal, calls: $calls:literal, limited: $limited:literal) => {
        impl $builder {
            #[doc = concat!("How often ", $pinged, " is pinged; default 30 s. `Duration::ZERO` turns pings off.")]
            pub fn ping_interval(mut self, interval: std::time::Duration) -> Self {
                self.settings.ping_interval = interval;
                self
            }

            /// How long to wait for a pong before closing the connection; default 5 s.
            pub fn pong_timeout(mut self, timeout: std::time::Duration) -> Self {
                self.settings.pong_timeout = timeout;
                self
            }

            #[doc = concat!("How long ", $calls, " wait for their answers unless given their own timeout; default 30 s.")]
            pub fn request_timeout(mut self, timeout: std::time::Duration) -> Self {
                self.settings.request_timeout = timeout;
                self
            }

            /// A time budget for every handler without one of its own (`#[echorpc(timeout = "…")]`):
            /// a handler still running after it is cancelled and its request answered `-32002`.
            /// Default: none (handlers run as long as they take).
            pub fn handler_timeout(mut self, budget: std::time::Duration) -> Self {
                self.settings.handler_timeout = Some(budget);
                self
            }

            /// Whether a call abandoned before its answer (its future dropped, its timeout passed)
            /// sends `$/cancelRequest` so the peer stops its handler; default `true`. Peers that do not
            /// know the notification ignore it, as the reference packages do.
            pub fn send_cancellations(mut self, send: bool) -> Self {
                self.settings.send_cancellations = send;
                self
            }

            #[doc = concat!("Limits on ", $limited, ".")]
            pub fn limits(mut self, limits: crate::config::Limits) -> Self {
                self.settings.limits = limits;
                self
            }
        }
    };
}

pub(crate) use settings_surface;
