//! Shared server state: one cheap clone per request, no globals.

use std::ops::Deref;
use std::sync::Arc;

use crate::service::Core;
use crate::service::audit::AuditSink;

#[derive(Clone)]
pub struct AppState(Arc<AppInner>);

pub struct AppInner {
    pub core: Core,
    pub audit: AuditSink,
}

impl AppState {
    pub fn new(core: Core, audit: AuditSink) -> Self {
        Self(Arc::new(AppInner { core, audit }))
    }
}

impl Deref for AppState {
    type Target = AppInner;

    fn deref(&self) -> &AppInner {
        &self.0
    }
}
