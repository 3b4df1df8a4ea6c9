//! Opening one WebSocket to the server: the URL with its query parameters, TCP, TLS for
//! `wss://`, and the upgrade with any extra headers.

use std::fmt::Write as _;
#[cfg(feature = "tls")]
use std::sync::Arc;

use tokio::net::TcpStream;

use crate::config::Limits;
use crate::error::Error;
use crate::net::Stream;
use crate::ws::socket::{
    IntoClientRequest, WebSocketStream, WsError, client_async_with_config, http,
};

/// The server's URL with `token`, `role` and `client_id` appended; empty values are left out.
pub(crate) fn url_with_query(url: &str, params: &[(&str, &str)]) -> String {
    let mut out = url.to_owned();
    // `ws://host:port` has an empty path; the request needs `/` before the query.
    let authority_start = url.find("://").map_or(0, |i| i + 3);
    let path_start = url[authority_start..]
        .find(['/', '?', '#'])
        .map(|i| i + authority_start);
    match path_start {
        None => out.push('/'),
        Some(i) if url.as_bytes()[i] != b'/' => out.insert(i, '/'),
        Some(_) => {}
    }
    let mut separator = if url.contains('?') { '&' } else { '?' };
    for (name, value) in params.iter().filter(|(_, v)| !v.is_empty()) {
        out.push(separator);
        separator = '&';
        out.push_str(name);
        out.push('=');
        for byte in value.bytes() {
            match byte {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    out.push(byte as char);
                }
                _ => {
                    let _ = write!(out, "%{byte:02X}");
                }
            }
        }
    }
    out
}

/// The URL without its query and fragment: what logs and errors may show (the query holds the
/// token).
pub(crate) fn without_query(url: &str) -> &str {
    url.find(['?', '#']).map_or(url, |end| &url[..end])
}

/// Why a dial failed.
#[derive(Debug)]
pub(crate) enum DialError {
    /// HTTP 401: never retried.
    Unauthorized,
    /// A failure the same dial would meet again at once: the server's certificate refused by
    /// verification, or a URL, header or TLS configuration that cannot be used. `connect`
    /// returns it without retrying; background reconnects keep trying (a server's
    /// certificate may be replaced meanwhile).
    Refused(Error),
    /// Anything else; retried when reconnecting is on.
    Failed(Error),
}

/// Whether a TLS handshake failed on the server's certificate (verification), which no retry
/// can fix, rather than on the network.
#[cfg(feature = "tls")]
fn certificate_refused(err: &std::io::Error) -> bool {
    use crate::tls::rustls::Error as TlsError;
    err.get_ref()
        .and_then(|inner| inner.downcast_ref::<TlsError>())
        .is_some_and(|tls| {
            matches!(
                tls,
                TlsError::InvalidCertificate(_) | TlsError::NoCertificatesPresented
            )
        })
}

/// What every dial of one client uses besides the URL: TLS and extra upgrade headers.
#[derive(Debug, Default)]
pub(crate) struct Dialer {
    /// The client's own TLS settings, resolved once; `None` uses the process-wide default.
    #[cfg(feature = "tls")]
    tls: Option<Result<Arc<crate::tls::rustls::ClientConfig>, crate::tls::TlsError>>,
    headers: Vec<(String, String)>,
}

impl Dialer {
    pub(crate) fn new(builder: &crate::client::ClientBuilder) -> Self {
        Self {
            #[cfg(feature = "tls")]
            tls: builder.tls.as_ref().map(crate::tls::ClientTls::config),
            headers: builder.headers.clone(),
        }
    }

    /// The extra headers, as an in-process server's auth handler sees them.
    pub(crate) fn headers(&self) -> crate::auth::Headers {
        let mut headers = crate::auth::Headers::new();
        for (name, value) in &self.headers {
            headers.append(name.as_str(), value.as_str());
        }
        headers
    }

    /// Connects to `url` and upgrades; `shown` is the URL as errors and logs may show it.
    pub(crate) async fn dial(
        &self,
        url: &str,
        shown: &str,
        limits: &Limits,
    ) -> Result<WebSocketStream<Stream>, DialError> {
        let refused = |reason: String| DialError::Refused(Error::connect(shown, reason));
        let mut request = url
            .into_client_request()
            .map_err(|err| refused(format!("not a valid URL: {err}")))?;
        for (name, value) in &self.headers {
            let name = http::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| refused(format!("invalid upgrade header name {name:?}")))?;
            // The value may be a secret: never shown.
            let value = http::HeaderValue::from_str(value)
                .map_err(|_| refused(format!("invalid value for upgrade header {name}")))?;
            request.headers_mut().append(name, value);
        }
        let uri = request.uri();
        let secure = match uri.scheme_str() {
            Some("ws") => false,
            Some("wss") => true,
            other => {
                return Err(refused(format!(
                    "unsupported scheme {:?}: use ws:// or wss://",
                    other.unwrap_or("")
                )));
            }
        };
        let host = uri
            .host()
            .unwrap_or("localhost")
            .trim_matches(['[', ']'])
            .to_owned();
        let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
        let tcp = TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|err| {
                DialError::Failed(Error::connect_because(shown, "TCP connect failed", err))
            })?;
        let _ = tcp.set_nodelay(true);
        let stream = if secure {
            self.tls_handshake(tcp, host, shown).await?
        } else {
            Stream::Plain(tcp)
        };
        match client_async_with_config(request, stream, Some(crate::ws::config(limits))).await {
            Ok((socket, _response)) => Ok(socket),
            Err(WsError::Http(response)) if response.status().as_u16() == 401 => {
                Err(DialError::Unauthorized)
            }
            Err(WsError::Http(response)) => Err(DialError::Failed(Error::connect(
                shown,
                format!("upgrade refused with HTTP {}", response.status()),
            ))),
            Err(err) => Err(DialError::Failed(Error::connect_because(
                shown,
                "WebSocket upgrade failed",
                err,
            ))),
        }
    }

    #[cfg(feature = "tls")]
    async fn tls_handshake(
        &self,
        tcp: TcpStream,
        host: String,
        shown: &str,
    ) -> Result<Stream, DialError> {
        use crate::tls::rustls::pki_types::ServerName;
        let config = match &self.tls {
            Some(config) => config.clone(),
            None => crate::tls::default_client_config(),
        }
        .map_err(|err| {
            DialError::Refused(Error::connect(shown, format!("TLS configuration: {err}")))
        })?;
        let name = ServerName::try_from(host).map_err(|err| {
            DialError::Refused(Error::connect_because(
                shown,
                "not a valid TLS server name",
                err,
            ))
        })?;
        let tls = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|err| {
                let reason = format!("TLS handshake failed: {err}");
                if certificate_refused(&err) {
                    DialError::Refused(Error::connect_because(shown, reason, err))
                } else {
                    DialError::Failed(Error::connect_because(shown, reason, err))
                }
            })?;
        Ok(Stream::TlsClient(Box::new(tls)))
    }

    #[cfg(not(feature = "tls"))]
    async fn tls_handshake(
        &self,
        _tcp: TcpStream,
        _host: String,
        shown: &str,
    ) -> Result<Stream, DialError> {
        Err(DialError::Refused(Error::connect(
            shown,
            "wss:// needs the `tls` feature of echorpc".to_owned(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::url_with_query;

    #[test]
    fn query_leaves_out_empty_values_and_escapes() {
        assert_eq!(
            url_with_query(
                "ws://h:1/rpc",
                &[("token", "a b&c"), ("role", "web"), ("client_id", "")]
            ),
            "ws://h:1/rpc?token=a%20b%26c&role=web"
        );
        assert_eq!(
            url_with_query("ws://h/?x=1", &[("role", "r")]),
            "ws://h/?x=1&role=r"
        );
    }

    #[test]
    fn shown_url_has_no_query() {
        assert_eq!(
            super::without_query("ws://h:1/rpc?token=s3cret"),
            "ws://h:1/rpc"
        );
        assert_eq!(super::without_query("ws://h:1"), "ws://h:1");
    }
}
