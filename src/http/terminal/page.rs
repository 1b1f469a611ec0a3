//! The terminal page: static markup, no inline script or style, under a strict
//! Content-Security-Policy.
//!
//! xterm.js's DOM renderer creates `<style>` elements (cell size, theme) and sets `style`
//! attributes on cells with 24-bit colours; neither accepts a nonce option. So each response
//! carries a fresh style nonce, in the policy and in a `<meta>` the page's script reads, and
//! `terminal.js` stamps it on the `<style>` elements xterm creates; `style` attributes are
//! allowed by `style-src-attr` (they cannot load anything: `img-src` and `default-src` still
//! hold). Scripts come only from this origin's embedded files.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::assets::versioned_url;

/// The terminal page for `GET /` on the proxy origin of an SSH session.
pub fn page() -> Response {
    let nonce = crate::crypto::random_hex(16);
    let html = format!(
        "<!doctype html>\n\
         <html lang=\"en\">\n\
         <head>\n\
         <meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"cofre-style-nonce\" content=\"{nonce}\">\n\
         <title>cofre session</title>\n\
         <link rel=\"stylesheet\" href=\"{xterm_css}\">\n\
         <link rel=\"stylesheet\" href=\"{terminal_css}\">\n\
         <script src=\"{xterm_js}\" defer></script>\n\
         <script src=\"{fit_js}\" defer></script>\n\
         <script src=\"{terminal_js}\" defer></script>\n\
         </head>\n\
         <body>\n\
         <div id=\"cofre-status\" role=\"status\" aria-live=\"polite\" hidden></div>\n\
         <div id=\"terminal\"></div>\n\
         </body>\n\
         </html>\n",
        nonce = nonce.as_str(),
        xterm_css = versioned_url("xterm.css"),
        terminal_css = versioned_url("terminal.css"),
        xterm_js = versioned_url("xterm.js"),
        fit_js = versioned_url("addon-fit.js"),
        terminal_js = versioned_url("terminal.js"),
    );
    let policy = format!(
        "default-src 'none'; script-src 'self'; style-src 'self' 'nonce-{}'; style-src-attr 'unsafe-inline'; \
         connect-src 'self'; img-src 'self' data:; font-src 'self'; base-uri 'none'; form-action 'none'; \
         frame-ancestors 'none'",
        nonce.as_str()
    );
    let mut response = (StatusCode::OK, html).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    if let Ok(policy) = HeaderValue::from_str(&policy) {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

#[cfg(test)]
mod tests {
    use axum::body::to_bytes;

    use super::*;

    async fn page_parts() -> (axum::http::HeaderMap, String) {
        let response = page();
        assert_eq!(response.status(), StatusCode::OK);
        let headers = response.headers().clone();
        let body = to_bytes(response.into_body(), usize::MAX).await.expect("body");
        (headers, String::from_utf8(body.to_vec()).expect("utf-8"))
    }

    fn nonce_in(html: &str) -> &str {
        let start = html.find("name=\"cofre-style-nonce\" content=\"").expect("nonce meta") + 34;
        &html[start..start + 32]
    }

    #[tokio::test]
    async fn the_policy_is_strict_and_names_this_responses_nonce() {
        let (headers, html) = page_parts().await;
        let policy = headers[header::CONTENT_SECURITY_POLICY].to_str().expect("ascii");
        let nonce = nonce_in(&html);
        assert!(nonce.bytes().all(|b| b.is_ascii_hexdigit()), "{nonce}");
        for directive in [
            "default-src 'none'".to_owned(),
            "script-src 'self'".to_owned(),
            format!("style-src 'self' 'nonce-{nonce}'"),
            "connect-src 'self'".to_owned(),
            "img-src 'self' data:".to_owned(),
            "base-uri 'none'".to_owned(),
            "frame-ancestors 'none'".to_owned(),
        ] {
            assert!(policy.split("; ").any(|d| d == directive), "no `{directive}` in `{policy}`");
        }
        assert!(!policy.contains("unsafe-eval") && !policy.contains("script-src 'self' '"), "{policy}");
        assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    }

    #[tokio::test]
    async fn each_page_has_its_own_nonce() {
        let ((_, first), (_, second)) = (page_parts().await, page_parts().await);
        assert_ne!(nonce_in(&first), nonce_in(&second));
    }

    #[tokio::test]
    async fn the_markup_has_no_inline_script_or_style_and_loads_the_assets() {
        let (_, html) = page_parts().await;
        assert!(html.contains("<title>cofre session</title>"));
        assert!(html.contains("<div id=\"terminal\"></div>") && html.contains("id=\"cofre-status\""));
        assert!(!html.contains("<style") && !html.contains("style=") && !html.contains("javascript:"));
        assert!(!html.contains(" on"), "no inline event handlers");
        let scripts: Vec<&str> = html.match_indices("<script").map(|(i, _)| &html[i..]).collect();
        assert_eq!(scripts.len(), 3);
        for script in scripts {
            assert!(script.starts_with("<script src=\"/_cofre/assets/"), "{}", &script[..60]);
            assert!(script.contains("defer></script>"));
        }
        for name in ["xterm.css", "terminal.css", "xterm.js", "addon-fit.js", "terminal.js"] {
            assert!(html.contains(&format!("\"{}\"", versioned_url(name))), "{name}");
        }
        let order: Vec<usize> = ["xterm.js", "addon-fit.js", "terminal.js"]
            .iter()
            .map(|n| html.find(&versioned_url(n)).expect(n))
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "xterm, then the addon, then terminal.js");
    }
}
