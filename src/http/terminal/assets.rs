//! The terminal page's scripts and styles, embedded and served with long-lived caching: the page
//! names each with `?v=<content hash>`, so a new build's files are new URLs.

use std::sync::OnceLock;

use crate::http::routes::RouteTable;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

/// Where the assets are served on the proxy origin.
pub const ASSETS_PREFIX: &str = "/_cofre/assets";

const JAVASCRIPT: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const CACHE: &str = "public, max-age=86400, immutable";

pub(super) struct Asset {
    pub name: &'static str,
    content_type: &'static str,
    pub body: &'static [u8],
}

pub(super) static ASSETS: [Asset; 5] = [
    Asset { name: "xterm.js", content_type: JAVASCRIPT, body: include_bytes!("../../../assets/xterm/xterm.js") },
    Asset { name: "xterm.css", content_type: CSS, body: include_bytes!("../../../assets/xterm/xterm.css") },
    Asset {
        name: "addon-fit.js",
        content_type: JAVASCRIPT,
        body: include_bytes!("../../../assets/xterm/addon-fit.js"),
    },
    Asset { name: "terminal.js", content_type: JAVASCRIPT, body: include_bytes!("terminal.js") },
    Asset { name: "terminal.css", content_type: CSS, body: include_bytes!("terminal.css") },
];

/// `GET /_cofre/assets/{xterm.js, xterm.css, addon-fit.js, terminal.js, terminal.css}`; any state,
/// so it merges into whichever router serves the page.
pub fn assets_router<S: Clone + Send + Sync + 'static>() -> RouteTable<S> {
    ASSETS.iter().fold(RouteTable::new(), |router, asset| {
        router.route(&format!("{ASSETS_PREFIX}/{}", asset.name), get(move || async move { serve(asset) }))
    })
}

fn serve(asset: &'static Asset) -> Response {
    let mut response = asset.body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(CACHE));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// The URL the page loads `name` from: its path and the first 16 hex digits of its sha256.
pub(super) fn versioned_url(name: &str) -> String {
    static VERSIONS: OnceLock<Vec<(&'static str, String)>> = OnceLock::new();
    let versions = VERSIONS.get_or_init(|| {
        ASSETS.iter().map(|asset| (asset.name, hex::encode(&Sha256::digest(asset.body)[..8]))).collect()
    });
    let version = versions.iter().find(|(n, _)| *n == name).map_or("", |(_, v)| v.as_str());
    format!("{ASSETS_PREFIX}/{name}?v={version}")
}

#[cfg(test)]
mod tests {
    use axum::body::{Body, to_bytes};
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    use super::*;

    async fn get(path: &str) -> Response {
        let request = Request::get(path).body(Body::empty()).expect("request");
        assets_router::<()>().into_router().oneshot(request).await.expect("infallible")
    }

    #[tokio::test]
    async fn every_asset_is_served_whole_with_its_type_and_caching() {
        for (name, kind) in [
            ("xterm.js", JAVASCRIPT),
            ("xterm.css", CSS),
            ("addon-fit.js", JAVASCRIPT),
            ("terminal.js", JAVASCRIPT),
            ("terminal.css", CSS),
        ] {
            let response = get(&format!("/_cofre/assets/{name}")).await;
            assert_eq!(response.status(), StatusCode::OK, "{name}");
            let headers = response.headers().clone();
            assert_eq!(headers[header::CONTENT_TYPE], kind, "{name}");
            assert_eq!(headers[header::CACHE_CONTROL], CACHE, "{name}");
            assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{name}");
            let body = to_bytes(response.into_body(), usize::MAX).await.expect("body");
            let embedded = ASSETS.iter().find(|a| a.name == name).expect("listed").body;
            assert!(body.len() > 100, "{name} is {} bytes", body.len());
            assert_eq!(body, embedded, "{name}");
        }
    }

    #[tokio::test]
    async fn the_vendored_files_are_the_ones_versions_names() {
        let versions = include_str!("../../../assets/xterm/VERSIONS");
        for name in ["xterm.js", "xterm.css", "addon-fit.js"] {
            let body = ASSETS.iter().find(|a| a.name == name).expect("listed").body;
            let line = format!("{}  {name}", hex::encode(Sha256::digest(body)));
            assert!(versions.lines().any(|l| l == line), "VERSIONS has no line `{line}`");
        }
        assert!(versions.contains("@xterm/xterm@") && versions.contains("@xterm/addon-fit@"));
    }

    #[tokio::test]
    async fn other_paths_and_methods_are_not_served() {
        assert_eq!(get("/_cofre/assets/xterm.js.map").await.status(), StatusCode::NOT_FOUND);
        assert_eq!(get("/_cofre/assets/../Cargo.toml").await.status(), StatusCode::NOT_FOUND);
        assert_eq!(get("/xterm.js").await.status(), StatusCode::NOT_FOUND);
        let post = Request::post("/_cofre/assets/terminal.js").body(Body::empty()).expect("request");
        let response = assets_router::<()>().into_router().oneshot(post).await.expect("infallible");
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    }

    #[test]
    fn versioned_urls_change_with_the_content() {
        let url = versioned_url("terminal.js");
        let digest = hex::encode(Sha256::digest(include_bytes!("terminal.js")));
        assert_eq!(url, format!("/_cofre/assets/terminal.js?v={}", &digest[..16]));
        assert_ne!(versioned_url("xterm.js"), versioned_url("addon-fit.js"));
    }
}
