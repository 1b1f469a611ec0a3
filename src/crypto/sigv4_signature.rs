//! AWS Signature Version 4 (as botocore's `SigV4Auth` produces it for a non-S3 service).

use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
const PATH: &AsciiSet = &UNRESERVED.remove(b'/');

/// The parts of `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
#[derive(Debug, PartialEq, Eq)]
pub struct AuthHeader {
    pub access_key_id: String,
    pub date: String,
    pub region: String,
    pub service: String,
    pub signed_headers: Vec<String>,
    pub signature: String,
}

pub fn parse_authorization(value: &str) -> Option<AuthHeader> {
    let rest = value.trim().strip_prefix(ALGORITHM)?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',').map(str::trim) {
        let (name, value) = part.split_once('=')?;
        match name.trim() {
            "Credential" => credential = Some(value.trim()),
            "SignedHeaders" => signed = Some(value.trim()),
            "Signature" => signature = Some(value.trim()),
            _ => return None,
        }
    }
    let mut scope = credential?.split('/');
    let header = AuthHeader {
        access_key_id: scope.next()?.to_owned(),
        date: scope.next()?.to_owned(),
        region: scope.next()?.to_owned(),
        service: scope.next()?.to_owned(),
        signed_headers: signed?.split(';').map(str::to_owned).collect(),
        signature: signature?.to_ascii_lowercase(),
    };
    let valid = scope.next() == Some("aws4_request")
        && scope.next().is_none()
        && header.date.len() == 8
        && header.date.bytes().all(|b| b.is_ascii_digit())
        && header.signature.len() == 64
        && header.signature.bytes().all(|b| b.is_ascii_hexdigit())
        && !header.signed_headers.iter().any(String::is_empty);
    valid.then_some(header)
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// RFC 3986 dot-segment removal, keeping a trailing slash (botocore's `normalize_url_path`).
fn normalize_path(path: &str) -> String {
    if path.is_empty() {
        return "/".to_owned();
    }
    let mut out: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    let mut normalized = format!("/{}", out.join("/"));
    if path.ends_with('/') && !normalized.ends_with('/') {
        normalized.push('/');
    }
    normalized
}

/// The canonical request. `raw_path` and `raw_query` are as received (still percent-encoded);
/// `headers` holds every header as lower-case name and value.
pub fn canonical_request(
    method: &str,
    raw_path: &str,
    raw_query: &str,
    headers: &[(String, String)],
    signed_headers: &[String],
    payload_hash: &str,
) -> String {
    // The path is encoded once more, as botocore does for every service but S3.
    let path = utf8_percent_encode(&normalize_path(raw_path), PATH).to_string();
    let mut query: Vec<(String, String)> = raw_query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let reencode =
                |s: &str| utf8_percent_encode(&percent_decode_str(s).decode_utf8_lossy(), UNRESERVED).to_string();
            (reencode(k), reencode(v))
        })
        .collect();
    query.sort();
    let query: Vec<String> = query.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut names: Vec<&String> = signed_headers.iter().collect();
    names.sort();
    let canonical_headers: String = names
        .iter()
        .map(|name| {
            let values: Vec<String> = headers
                .iter()
                .filter(|(n, _)| n == *name)
                .map(|(_, v)| v.split_whitespace().collect::<Vec<_>>().join(" "))
                .collect();
            format!("{name}:{}\n", values.join(","))
        })
        .collect();
    let signed: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
    format!(
        "{}\n{path}\n{}\n{canonical_headers}\n{}\n{payload_hash}",
        method.to_ascii_uppercase(),
        query.join("&"),
        signed.join(";")
    )
}

pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!("{ALGORITHM}\n{amz_date}\n{scope}\n{}", sha256_hex(canonical_request.as_bytes()))
}

fn hmac(key: &[u8], data: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("any key size"));
    mac.update(data);
    Zeroizing::new(mac.finalize().into_bytes().to_vec())
}

/// hex(HMAC(signing key, string to sign)), the signing key derived from the secret and scope.
pub fn signature(secret: &str, date: &str, region: &str, service: &str, string_to_sign: &str) -> String {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    let k_signing = hmac(&k_service, b"aws4_request");
    hex::encode(hmac(&k_signing, string_to_sign.as_bytes()).as_slice())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `get-vanilla` case of the AWS SigV4 test suite.
    #[test]
    fn aws_test_suite_get_vanilla() {
        let headers = vec![
            ("host".to_owned(), "example.amazonaws.com".to_owned()),
            ("x-amz-date".to_owned(), "20150830T123600Z".to_owned()),
        ];
        let signed = vec!["host".to_owned(), "x-amz-date".to_owned()];
        let canonical = canonical_request("GET", "/", "", &headers, &signed, &sha256_hex(b""));
        assert_eq!(
            canonical,
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let sts = string_to_sign("20150830T123600Z", "20150830/us-east-1/service/aws4_request", &canonical);
        let sig = signature("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830", "us-east-1", "service", &sts);
        assert_eq!(sig, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    }

    #[test]
    fn query_is_sorted_and_path_normalised() {
        let headers = vec![("host".to_owned(), "h".to_owned())];
        let signed = vec!["host".to_owned()];
        let canonical = canonical_request("get", "/a/./b/../c%20d/", "b=2&a=1&a%20b=x%2Fy", &headers, &signed, "p");
        assert!(canonical.starts_with("GET\n/a/c%2520d/\na=1&a%20b=x%2Fy&b=2\n"), "{canonical}");
    }

    #[test]
    fn authorization_header_parsing() {
        let value = "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/cofre/aws4_request, \
                     SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
        let parsed = parse_authorization(value).expect("valid");
        assert_eq!(parsed.access_key_id, "AKID");
        assert_eq!(parsed.signed_headers, ["host", "x-amz-date"]);
        assert!(
            parse_authorization(
                "AWS4-HMAC-SHA256 Credential=AKID/2015/us-east-1/cofre/aws4_request, SignedHeaders=host, Signature=00"
            )
            .is_none()
        );
        assert!(parse_authorization("Bearer x").is_none());
    }
}
