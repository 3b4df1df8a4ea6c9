//! Opening one WebSocket to the server: the URL with its query parameters, and the upgrade.

use std::fmt::Write as _;

use tokio::net::TcpStream;

use crate::config::Limits;
use crate::error::Error;
use crate::ws::socket::{IntoClientRequest, WebSocketStream, WsError, client_async_with_config};

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
    /// Anything else; retried when reconnecting is on.
    Failed(Error),
}

/// Connects to `url` and upgrades; `shown` is the URL as errors and logs may show it.
pub(crate) async fn dial(
    url: &str,
    shown: &str,
    limits: &Limits,
) -> Result<WebSocketStream<TcpStream>, DialError> {
    let failed = |reason: String| DialError::Failed(Error::connect(shown, reason));
    let request = url
        .into_client_request()
        .map_err(|err| failed(format!("not a valid URL: {err}")))?;
    let uri = request.uri();
    if uri.scheme_str() != Some("ws") {
        return Err(failed(format!(
            "unsupported scheme {:?}: only ws:// is built in",
            uri.scheme_str().unwrap_or("")
        )));
    }
    let host = uri
        .host()
        .unwrap_or("localhost")
        .trim_matches(['[', ']'])
        .to_owned();
    let port = uri.port_u16().unwrap_or(80);
    let stream = TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|err| {
            DialError::Failed(Error::connect_because(shown, "TCP connect failed", err))
        })?;
    let _ = stream.set_nodelay(true);
    match client_async_with_config(request, stream, Some(crate::ws::config(limits))).await {
        Ok((socket, _response)) => Ok(socket),
        Err(WsError::Http(response)) if response.status().as_u16() == 401 => {
            Err(DialError::Unauthorized)
        }
        Err(WsError::Http(response)) => Err(failed(format!(
            "upgrade refused with HTTP {}",
            response.status()
        ))),
        Err(err) => Err(DialError::Failed(Error::connect_because(
            shown,
            "WebSocket upgrade failed",
            err,
        ))),
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
