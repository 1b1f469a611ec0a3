//! OAuth 1.0a signatures (RFC 5849 §3.4): the signature base string and the three methods.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use sha1::Sha1;
use sha2::Sha256;
use zeroize::Zeroizing;

use super::ct_eq;

/// RFC 3986 unreserved characters stay; everything else is %XX (upper-case hex).
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

pub fn encode(s: &str) -> String {
    utf8_percent_encode(s, UNRESERVED).to_string()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureMethod {
    HmacSha1,
    HmacSha256,
    Plaintext,
}

impl SignatureMethod {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "HMAC-SHA1" => Some(Self::HmacSha1),
            "HMAC-SHA256" => Some(Self::HmacSha256),
            "PLAINTEXT" => Some(Self::Plaintext),
            _ => None,
        }
    }
}

/// `scheme://host[:port]/path` with scheme and host lower-cased and default ports dropped
/// (§3.4.1.2). `path` is the request path exactly as received.
pub fn base_uri(scheme: &str, host: &str, path: &str) -> String {
    let scheme = scheme.to_ascii_lowercase();
    let host = host.to_ascii_lowercase();
    let host = match (scheme.as_str(), host.rsplit_once(':')) {
        ("http", Some((h, "80"))) | ("https", Some((h, "443"))) if !h.ends_with(']') || h.starts_with('[') => {
            h.to_owned()
        }
        _ => host,
    };
    format!("{scheme}://{host}{path}")
}

/// §3.4.1: method, base URI and the normalized parameters (every request parameter except
/// `oauth_signature` and `realm`, given here decoded).
pub fn base_string(method: &str, base_uri: &str, params: &[(String, String)]) -> String {
    let mut encoded: Vec<(String, String)> = params.iter().map(|(k, v)| (encode(k), encode(v))).collect();
    encoded.sort();
    let normalized: Vec<String> = encoded.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{}&{}&{}", method.to_ascii_uppercase(), encode(base_uri), encode(&normalized.join("&")))
}

fn signing_key(consumer_secret: &str, token_secret: &str) -> Zeroizing<String> {
    Zeroizing::new(format!("{}&{}", encode(consumer_secret), encode(token_secret)))
}

pub fn sign(method: SignatureMethod, base: &str, consumer_secret: &str, token_secret: &str) -> Zeroizing<String> {
    let key = signing_key(consumer_secret, token_secret);
    match method {
        SignatureMethod::Plaintext => key,
        SignatureMethod::HmacSha1 => {
            let mut mac =
                <Hmac<Sha1> as Mac>::new_from_slice(key.as_bytes()).unwrap_or_else(|_| unreachable!("any key size"));
            mac.update(base.as_bytes());
            Zeroizing::new(STANDARD.encode(mac.finalize().into_bytes()))
        }
        SignatureMethod::HmacSha256 => {
            let mut mac =
                <Hmac<Sha256> as Mac>::new_from_slice(key.as_bytes()).unwrap_or_else(|_| unreachable!("any key size"));
            mac.update(base.as_bytes());
            Zeroizing::new(STANDARD.encode(mac.finalize().into_bytes()))
        }
    }
}

/// Constant-time comparison of a presented (decoded) signature with the expected one.
pub fn verify(method: SignatureMethod, base: &str, consumer_secret: &str, token_secret: &str, presented: &str) -> bool {
    ct_eq(sign(method, base, consumer_secret, token_secret).as_bytes(), presented.as_bytes())
}

/// Parses `OAuth realm="x", oauth_consumer_key="…", …` into decoded pairs (§3.5.1).
pub fn parse_authorization_header(value: &str) -> Option<Vec<(String, String)>> {
    let (scheme, mut rest) = value.trim().split_once(char::is_whitespace)?;
    if !scheme.eq_ignore_ascii_case("OAuth") {
        return None;
    }
    // `OAuth OAuth oauth_consumer_key=…`: .NET's `AuthenticationHeaderValue("OAuth", header)`
    // around a header that already names its scheme. The scheme is no signed part, so the
    // signature decides as for any other request.
    while let Some((word, after)) = rest.trim_start().split_once(char::is_whitespace) {
        if !word.eq_ignore_ascii_case("OAuth") {
            break;
        }
        rest = after;
    }
    let mut pairs = Vec::new();
    for part in rest.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, quoted) = part.split_once('=')?;
        let value = quoted.trim().strip_prefix('"')?.strip_suffix('"')?;
        let decode = |s: &str| percent_decode_str(s).decode_utf8().ok().map(|c| c.into_owned());
        pairs.push((decode(name.trim())?, decode(value)?));
    }
    Some(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn rfc5849_section_3_4_1_base_string() {
        let params = pairs(&[
            ("b5", "=%3D"),
            ("a3", "a"),
            ("c@", ""),
            ("a2", "r b"),
            ("oauth_consumer_key", "9djdj82h48djs9d2"),
            ("oauth_token", "kkk9d7dh3k39sjv7"),
            ("oauth_signature_method", "HMAC-SHA1"),
            ("oauth_timestamp", "137131201"),
            ("oauth_nonce", "7d8f3e4a"),
            ("c2", ""),
            ("a3", "2 q"),
        ]);
        let base = base_string("POST", &base_uri("HTTP", "Example.com:80", "/request"), &params);
        assert_eq!(
            base,
            "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D\
             %26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1\
             %26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7"
        );
    }

    #[test]
    fn rfc5849_section_1_2_signature() {
        let params = pairs(&[
            ("file", "vacation.jpg"),
            ("size", "original"),
            ("oauth_consumer_key", "dpf43f3p2l4k3l03"),
            ("oauth_token", "nnch734d00sl2jdk"),
            ("oauth_signature_method", "HMAC-SHA1"),
            ("oauth_timestamp", "1191242096"),
            ("oauth_nonce", "kllo9940pd9333jh"),
            ("oauth_version", "1.0"),
        ]);
        let base = base_string("GET", &base_uri("http", "photos.example.net", "/photos"), &params);
        let expected = "tR3+Ty81lMeYAr/Fid0kMTYa/WM=";
        assert!(verify(SignatureMethod::HmacSha1, &base, "kd94hf93k423kf44", "pfkkdhi9sl3r4s00", expected));
        assert!(!verify(SignatureMethod::HmacSha1, &base, "kd94hf93k423kf44", "wrong", expected));
        assert_eq!(sign(SignatureMethod::Plaintext, &base, "a&b", "c").as_str(), "a%26b&c");
    }

    #[test]
    fn header_parsing() {
        let parsed =
            parse_authorization_header(r#"OAuth realm="", oauth_consumer_key="k%20y",oauth_nonce="n""#).expect("valid");
        assert_eq!(parsed, pairs(&[("realm", ""), ("oauth_consumer_key", "k y"), ("oauth_nonce", "n")]));
        assert!(parse_authorization_header("Bearer x").is_none());
        assert!(parse_authorization_header("OAuth oauth_nonce=unquoted").is_none());
        assert!(parse_authorization_header("OAuth oauth_nonce=\"%FF\"").is_none());
        let doubled = parse_authorization_header(r#"OAuth OAuth oauth_consumer_key="k", oauth_nonce="n""#);
        assert_eq!(doubled, Some(pairs(&[("oauth_consumer_key", "k"), ("oauth_nonce", "n")])));
        assert_eq!(parse_authorization_header("oauth  OAUTH\toauth realm=\"\""), Some(pairs(&[("realm", "")])));
        assert!(parse_authorization_header("OAuth OAuth").is_none());
    }
}
