//! The SSH side of remote sessions (issue 15): the gateway a native SSH client logs in to with
//! a session ticket, cofre's own login to the device with the vaulted credential, and the relay
//! between the two that records the terminal. The browser terminal (`http::terminal`) runs the
//! same relay over a WebSocket.

pub mod device;
pub mod gateway;
pub mod relay;
