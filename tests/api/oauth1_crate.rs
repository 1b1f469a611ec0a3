//! OAuth 1.0a signed by `oauth1-request`, the client crate the project's stack names: a third
//! signer, independent of oauthlib and of cofre's own verifier, on each carrier (header with a
//! query string, form body, query), with characters that need percent-encoding.

use oauth1_request as oauth;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Backend, TestApp};
use crate::oauth1::oauth1_app;
use crate::on_both_stores;

on_both_stores!(oauth1_request_signatures_are_accepted_on_every_carrier);

async fn oauth1_request_signatures_are_accepted_on_every_carrier(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let created = oauth1_app(&app, false).await;
    let o = created.oauth1.as_ref().expect("oauth1 credentials");
    let signer = || {
        let mut builder = oauth::Builder::new(
            oauth::Credentials::new(o.consumer_key.as_str(), o.consumer_secret.as_str()),
            oauth::HMAC_SHA1,
        );
        builder.token(oauth::Credentials::new(o.token.as_str(), o.token_secret.as_str()));
        builder
    };
    let json = |response: reqwest::Response| async move {
        let status = response.status();
        (status, response.json::<Value>().await.expect("json"))
    };

    // Form carrier: the body's parameters are in the signature.
    let uri = app.url("/iso/pam/info");
    let secret = "a b & c=d 🦀 ~%";
    let fields = oauth::ParameterList::new([("content", secret), ("identifier", "crate-1")]);
    // The signer writes the protocol parameters (signed over the fields too); the fields go beside them.
    let form = format!("{}&{}", oauth::to_form(&fields), signer().to_form("POST", &uri, &fields));
    let response = app
        .client
        .post(&uri)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .expect("form");
    let (status, body) = json(response).await;
    assert_eq!(status, StatusCode::CREATED, "form carrier: {body}");

    // Header carrier, with a query string that is part of the signature.
    let uri = app.url("/api/pam/info/crate-1");
    let query = oauth::ParameterList::new([("extra", "x y/z"), ("z", "1")]);
    let header = signer().get(&uri, &query);
    let url = oauth::to_query(uri.clone(), &query);
    let response = app.client.get(&url).header("authorization", header).send().await.expect("header");
    let (status, body) = json(response).await;
    assert_eq!(status, StatusCode::OK, "header carrier: {body}");
    assert_eq!(body["info"]["content"], secret);

    // A signature over other parameters than those sent is refused.
    let header = signer().get(&uri, &oauth::ParameterList::new([("extra", "other")]));
    let response = app.client.get(&url).header("authorization", header).send().await.expect("tampered");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "a signature over other parameters");

    // Query carrier, on a DELETE.
    let url = signer().to_query(
        "DELETE",
        app.url("/iso/pam/info/crate-1"),
        &oauth::ParameterList::<&str, &str>::new(Vec::new()),
    );
    let response = app.client.delete(&url).send().await.expect("query");
    let (status, body) = json(response).await;
    assert_eq!(status, StatusCode::OK, "query carrier: {body}");
}
