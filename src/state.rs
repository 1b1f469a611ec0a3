//! Shared server state: one cheap clone per request, no globals.

use std::ops::Deref;
use std::sync::Arc;

use crate::service::Core;
use crate::service::audit::AuditSink;
use crate::service::sessions::live::LiveSessions;

#[derive(Clone)]
pub struct AppState(Arc<AppInner>);

pub struct AppInner {
    pub core: Core,
    pub audit: AuditSink,
    /// The remote sessions this process carries (web proxy and SSH), cut on drops and expiry.
    pub live: LiveSessions,
}

impl AppState {
    pub fn new(core: Core, audit: AuditSink) -> Self {
        Self(Arc::new(AppInner { core, audit, live: LiveSessions::default() }))
    }
}

impl Deref for AppState {
    type Target = AppInner;

    fn deref(&self) -> &AppInner {
        &self.0
    }
}
