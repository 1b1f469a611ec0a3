//! List parameters (issue 32, item 2): every value of a repeated name counts. Each list field is
//! sent in each of five encodings (`name[]` repeated, `name` repeated, `name[0]`…, a comma list,
//! a JSON array) in each of four carriers (form, multipart, query, JSON body), and the issued
//! certificate of a request sent as PHP sends `san[]` holds every name.

use cofre::domain::authorization::Resource;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::certificates::{KEY_PASSWORD, admin, authorities, pem_blocks, sign};
use crate::helpers::{Backend, Client, Reply, TestApp};
use crate::on_both_stores;
use crate::pam::device;

on_both_stores!(
    certificate_lists_keep_every_value_in_every_encoding_and_carrier,
    publishing_devices_keep_every_value_in_every_encoding_and_carrier,
    a_certificate_requested_with_repeated_san_holds_every_name,
    repeated_tags_reach_pam_credentials,
);

#[derive(Clone, Copy, Debug)]
enum Encoding {
    /// `tags[]=a&tags[]=b` (PHP, jQuery); in JSON, the same key repeated.
    Brackets,
    /// `tags=a&tags=b` (Go's `url.Values`, Python); in JSON, the same key repeated.
    Repeated,
    /// `tags[0]=a&tags[1]=b` (PHP's `http_build_query`).
    Indexed,
    /// `tags=a,b`.
    Comma,
    /// `tags=["a","b"]`: a JSON array, or its text in a form.
    JsonArray,
}

const ENCODINGS: [Encoding; 5] =
    [Encoding::Brackets, Encoding::Repeated, Encoding::Indexed, Encoding::Comma, Encoding::JsonArray];

#[derive(Clone, Copy, Debug)]
enum Carrier {
    Form,
    Multipart,
    Query,
    Json,
}

const CARRIERS: [Carrier; 4] = [Carrier::Form, Carrier::Multipart, Carrier::Query, Carrier::Json];

enum Field {
    Text(String),
    Array(Vec<String>),
}

impl Field {
    fn form_text(&self) -> String {
        match self {
            Self::Text(text) => text.clone(),
            Self::Array(items) => serde_json::to_string(items).expect("json"),
        }
    }

    fn json(&self) -> String {
        match self {
            Self::Text(text) => serde_json::to_string(text).expect("json"),
            Self::Array(items) => serde_json::to_string(items).expect("json"),
        }
    }
}

type Pairs = Vec<(String, Field)>;

fn text_pairs(fields: &[(&str, &str)]) -> Pairs {
    fields.iter().map(|(k, v)| ((*k).to_owned(), Field::Text((*v).to_owned()))).collect()
}

/// `name` with `items` in `encoding`, as pairs in the order a client writes them.
fn encoded(name: &str, items: &[&str], encoding: Encoding) -> Pairs {
    let each = |key: &dyn Fn(usize) -> String| -> Pairs {
        items.iter().enumerate().map(|(i, item)| (key(i), Field::Text((*item).to_owned()))).collect()
    };
    match encoding {
        Encoding::Brackets => each(&|_| format!("{name}[]")),
        Encoding::Repeated => each(&|_| name.to_owned()),
        Encoding::Indexed => each(&|i| format!("{name}[{i}]")),
        Encoding::Comma => vec![(name.to_owned(), Field::Text(items.join(",")))],
        Encoding::JsonArray => {
            vec![(name.to_owned(), Field::Array(items.iter().map(|s| (*s).to_owned()).collect()))]
        }
    }
}

fn urlencoded(pairs: &Pairs) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                utf8_percent_encode(k, NON_ALPHANUMERIC),
                utf8_percent_encode(&v.form_text(), NON_ALPHANUMERIC)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// A JSON object written member by member, so that a repeated key stays repeated.
fn json_object(pairs: &Pairs) -> String {
    let members: Vec<String> =
        pairs.iter().map(|(k, v)| format!("{}:{}", serde_json::to_string(k).expect("json"), v.json())).collect();
    format!("{{{}}}", members.join(","))
}

async fn post_in(app: &TestApp, client: &Client, path: &str, pairs: &Pairs, carrier: Carrier) -> Reply {
    let url = app.url(path);
    let request = match carrier {
        Carrier::Form => {
            app.client.post(&url).header("content-type", "application/x-www-form-urlencoded").body(urlencoded(pairs))
        }
        Carrier::Multipart => {
            let form =
                pairs.iter().fold(reqwest::multipart::Form::new(), |form, (k, v)| form.text(k.clone(), v.form_text()));
            app.client.post(&url).multipart(form)
        }
        Carrier::Query => app.client.post(format!("{url}?{}", urlencoded(pairs))),
        Carrier::Json => app.client.post(&url).header("content-type", "application/json").body(json_object(pairs)),
    };
    app.send(request.bearer_auth(&client.token)).await
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("an array: {value}"))
        .iter()
        .map(|v| v.as_str().expect("text").to_owned())
        .collect()
}

fn request_fields(common_name: &str) -> Pairs {
    text_pairs(&[
        ("certificate_type", "1"),
        ("domain_type", "MULT"),
        ("organization", "Example Ltda"),
        ("common_name", common_name),
        ("encryption", "ECDSA"),
        ("encryption_key_size", "256"),
        ("certificate_algorithm", "SHA256"),
        ("validity", "90"),
        ("key_password", KEY_PASSWORD),
    ])
}

async fn certificate_lists_keep_every_value_in_every_encoding_and_carrier(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client(&[Resource::Certificates]).await;
    let san = ["a.example.com", "b.example.com", "c.example.com"];
    let (tags, environments, systems) = (["web", "shop", "eu"], ["prod", "dr", "qa"], ["erp", "crm", "bi"]);
    for encoding in ENCODINGS {
        for carrier in CARRIERS {
            let case = format!("{encoding:?}-{carrier:?}").to_ascii_lowercase();
            let mut pairs = request_fields(&format!("{case}.example.com"));
            pairs.extend(encoded("san", &san, encoding));
            pairs.extend(encoded("tags", &tags, encoding));
            pairs.extend(encoded("environments", &environments, encoding));
            pairs.extend(encoded("systems", &systems, encoding));
            let reply = post_in(&app, &client, &format!("/iso/certificate/request/{case}"), &pairs, carrier).await;
            assert_eq!(reply.status, StatusCode::CREATED, "{case}: {}", reply.body);
            let request = &reply.body["certificate"];
            let sent_san = strings(&request["san"]);
            assert!(san.iter().all(|s| sent_san.iter().any(|x| x == s)), "{case}: san {sent_san:?}");
            assert_eq!(strings(&request["tags"]), tags, "{case}: tags");
            assert_eq!(strings(&request["environments"]), environments, "{case}: environments");
            assert_eq!(strings(&request["systems"]), systems, "{case}: systems");
        }
    }
}

async fn publishing_devices_keep_every_value_in_every_encoding_and_carrier(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client(&[Resource::Certificates, Resource::Pam]).await;
    let hosts = ["web01", "web02", "web03"];
    let mut ids = Vec::new();
    for host in hosts {
        ids.push(device(&app, &client, host).await["id"].as_str().expect("id").to_owned());
    }
    let credential = app
        .post_json(
            &client,
            "/iso/pam/credential",
            serde_json::json!({"username": "deploy", "hostname": "web01", "ip": "10.0.0.5", "content": "pw"}),
        )
        .await;
    let credential = credential.body["credential"]["id"].as_str().expect("credential id").to_owned();
    for encoding in ENCODINGS {
        for carrier in CARRIERS {
            let case = format!("{encoding:?}-{carrier:?}");
            let mut pairs = text_pairs(&[("nome_perfil", &case), ("codigo_credencial", &credential)]);
            pairs.extend(encoded("dispositivos", &hosts, encoding));
            let reply = post_in(&app, &client, "/iso/cert/perfil/apache", &pairs, carrier).await;
            assert_eq!(reply.status, StatusCode::CREATED, "{case}: {}", reply.body);
            assert_eq!(strings(&reply.body["profile"]["dispositivos"]), ids, "{case}: every device");
        }
    }
}

/// A PHP client's form (`http_build_query` writes `san%5B0%5D=…`; jQuery and hand-written PHP
/// `san%5B%5D=…`): the issued certificate's subjectAltName holds every name.
async fn a_certificate_requested_with_repeated_san_holds_every_name(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = admin(&app).await;
    let (_, issuing) = authorities(&app, &admin).await;
    let client = app.client(&[Resource::Certificates]).await;
    let names = ["b.example.com", "c.example.com", "d.example.com"];
    for (code, encoding) in [("php-brackets", Encoding::Brackets), ("php-indexed", Encoding::Indexed)] {
        let mut pairs = request_fields("a.example.com");
        pairs.extend(encoded("san", &names, encoding));
        let made = post_in(&app, &client, &format!("/iso/certificate/request/{code}"), &pairs, Carrier::Form).await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
        let signed =
            sign(&app, &client, code, &format!("self_signed=0&ca={}&reason=go-live", issuing.replace(' ', "%20")))
                .await;
        assert_eq!(signed.status, StatusCode::OK, "{}", signed.body);
        let pem = signed.body["certificate"]["certificate"].as_str().expect("pem");
        let der = pem_blocks(pem).into_iter().next().expect("one certificate");
        let (_, cert) = x509_parser::parse_x509_certificate(&der).expect("x509");
        let san = cert.subject_alternative_name().expect("valid extension").expect("a SAN extension");
        let dns: Vec<String> = san
            .value
            .general_names
            .iter()
            .filter_map(|n| match n {
                x509_parser::extensions::GeneralName::DNSName(d) => Some((*d).to_owned()),
                _ => None,
            })
            .collect();
        for name in names {
            assert!(dns.iter().any(|d| d == name), "{code}: {name} missing from {dns:?}");
        }
    }
}

async fn repeated_tags_reach_pam_credentials(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client(&[Resource::Pam]).await;
    device(&app, &client, "db01").await;
    let mut pairs = text_pairs(&[("username", "app"), ("hostname", "db01"), ("ip", "10.0.0.5"), ("content", "pw")]);
    pairs.extend(encoded("tags", &["linux", "prod", "db"], Encoding::Brackets));
    let made = post_in(&app, &client, "/iso/pam/credential", &pairs, Carrier::Form).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let id = made.body["credential"]["id"].as_str().expect("id");
    let read = app.call(&client, Method::GET, &format!("/iso/pam/credential/{id}")).await;
    assert_eq!(read.body["credential"]["tags"], "linux,prod,db");
}
