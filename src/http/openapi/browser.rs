//! The API browser at `/docs`: Swagger UI from its npm package (assets/swagger-ui), embedded and
//! served from cofre itself, reading `/openapi.json`. The page's policy allows only these files.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

pub struct Asset {
    pub path: &'static str,
    pub content_type: &'static str,
    body: &'static [u8],
}

pub static ASSETS: [Asset; 3] = [
    Asset {
        path: "/docs/assets/swagger-ui-bundle.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../../assets/swagger-ui/swagger-ui-bundle.js"),
    },
    Asset {
        path: "/docs/assets/swagger-ui.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../../assets/swagger-ui/swagger-ui.css"),
    },
    Asset {
        path: "/docs/assets/init.js",
        content_type: "text/javascript; charset=utf-8",
        body: b"window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true });\n",
    },
];

const PAGE: &str = concat!(
    "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n",
    "<title>cofre API</title>\n<link rel=\"stylesheet\" href=\"/docs/assets/swagger-ui.css\">\n",
    "</head>\n<body>\n<div id=\"swagger-ui\"></div>\n",
    "<script src=\"/docs/assets/swagger-ui-bundle.js\"></script>\n",
    "<script src=\"/docs/assets/init.js\"></script>\n</body>\n</html>\n",
);

/// Swagger UI sets inline styles and draws its icons from data: URLs; it runs no inline script.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                      img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'";

pub async fn page() -> Response {
    let mut response = PAGE.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

pub fn serve(asset: &'static Asset) -> Response {
    let mut response = asset.body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}
