//! Sending one event to many connections: serialised once, queued to each without waiting, so
//! one slow or dead peer never holds up the others.

use serde::Serialize;

use crate::connection::Connection;
use crate::error::Error;
use crate::frame::Frame;
use crate::message::encode_notification;
use crate::server::Server;

impl Server {
    /// Sends an event to every open connection; returns how many it was queued to.
    ///
    /// # Errors
    /// `-32603` when `data` cannot be encoded.
    pub fn broadcast(&self, event: &str, data: impl Serialize) -> Result<usize, Error> {
        self.broadcast_where(event, &data, |_| true)
    }

    /// Sends an event to every connection whose metadata `role` equals `role`.
    ///
    /// # Errors
    /// `-32603` when `data` cannot be encoded.
    pub fn broadcast_to_role(
        &self,
        role: &str,
        event: &str,
        data: impl Serialize,
    ) -> Result<usize, Error> {
        self.broadcast_where(event, &data, |conn| conn.meta().role() == role)
    }

    /// Sends an event to every connection except `except` (typically the sender).
    ///
    /// # Errors
    /// `-32603` when `data` cannot be encoded.
    pub fn broadcast_except(
        &self,
        except: &Connection,
        event: &str,
        data: impl Serialize,
    ) -> Result<usize, Error> {
        self.broadcast_where(event, &data, |conn| !conn.same_as(except))
    }

    /// Sends an event to every connection `filter` selects.
    ///
    /// # Errors
    /// `-32603` when `data` cannot be encoded.
    pub fn broadcast_where<P: Serialize + ?Sized>(
        &self,
        event: &str,
        data: &P,
        filter: impl Fn(&Connection) -> bool,
    ) -> Result<usize, Error> {
        let frame = Frame::from(encode_notification(event, data)?);
        let mut sent = 0;
        self.for_each_connection(|conn| {
            if conn.is_open() && filter(conn) {
                conn.push(frame.clone());
                sent += 1;
            }
        });
        Ok(sent)
    }
}
