//! A router that remembers its paths. Every API route is registered through `RouteTable`, so the
//! test that holds `/openapi.json` to the router can list what the router really serves (axum
//! cannot be asked); clippy refuses `Router::route` anywhere else (clippy.toml).

use axum::Router;
use axum::routing::MethodRouter;

pub struct RouteTable<S> {
    router: Router<S>,
    paths: Vec<String>,
}

impl<S: Clone + Send + Sync + 'static> Default for RouteTable<S> {
    fn default() -> Self {
        Self { router: Router::new(), paths: Vec::new() }
    }
}

impl<S: Clone + Send + Sync + 'static> RouteTable<S> {
    pub fn new() -> Self {
        Self::default()
    }

    #[allow(clippy::disallowed_methods)]
    pub fn route(mut self, path: &str, methods: MethodRouter<S>) -> Self {
        self.router = self.router.route(path, methods);
        self.paths.push(path.to_owned());
        self
    }

    pub fn merge(mut self, other: Self) -> Self {
        self.router = self.router.merge(other.router);
        self.paths.extend(other.paths);
        self
    }

    pub fn nest(mut self, prefix: &str, other: Self) -> Self {
        self.router = self.router.nest(prefix, other.router);
        self.paths.extend(other.paths.into_iter().map(|path| format!("{prefix}{path}")));
        self
    }

    /// Applies to every route registered so far (axum's `route_layer`).
    pub fn map_router(mut self, f: impl FnOnce(Router<S>) -> Router<S>) -> Self {
        self.router = f(self.router);
        self
    }

    /// Every path as registered, in axum's template syntax (`{id}`, `{*rest}`).
    pub fn paths(&self) -> &[String] {
        &self.paths
    }

    pub fn into_router(self) -> Router<S> {
        self.router
    }
}
