//! MySafe files: streamed, sealed in chunks, returned byte-identical, limited in size.

use reqwest::{Method, StatusCode};

use crate::helpers::{Backend, TestApp};
use crate::mysafe::user_key;
use crate::on_both_stores;

on_both_stores!(files_round_trip_sealed);

async fn files_round_trip_sealed(backend: Backend) {
    use base64::Engine;
    let is_sqlite = matches!(backend, Backend::Sqlite);
    let app = TestApp::spawn_with(backend, |c| c.mysafe_file_limit = 300 * 1024).await;
    let ana = user_key(&app, "ana").await;
    user_key(&app, "bia").await;
    let marker = crate::helpers::canary();
    let content: Vec<u8> = (0..200_000u32)
        .flat_map(|i| if i % 1000 == 0 { marker.as_bytes().to_vec() } else { vec![(i % 251) as u8] })
        .collect();
    let form = reqwest::multipart::Form::new()
        .text("name", "backup.bin")
        .text("tags", "ops")
        .text("users_allowed", r#"[{"username": "bia"}]"#)
        .part(
            "file",
            reqwest::multipart::Part::bytes(content.clone())
                .file_name("backup.bin")
                .mime_str("application/octet-stream")
                .expect("mime"),
        );
    let created = app.send(app.authed(&ana, Method::POST, "/api/mysafe/file").multipart(form)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["file_entity"]["size"], content.len());
    let id = created.body["file_entity"]["identifier"].as_str().expect("id").to_owned();
    // The content is in the store only sealed.
    if !is_sqlite {
        let hex: String = marker.bytes().map(|b| format!("{b:02x}")).collect();
        for table in ["mysafe_file_chunks", "mysafe_items"] {
            let rows: Vec<String> = sqlx::query_scalar(&format!("SELECT t::text FROM {table} t"))
                .fetch_all(app.state.core.store.pool())
                .await
                .expect("rows");
            assert!(rows.iter().all(|r| !r.contains(&marker) && !r.contains(&hex)), "{table} holds file plaintext");
        }
    }

    let read = app.call(&ana, Method::GET, &format!("/api/mysafe/file/{id}")).await;
    let back = base64::engine::general_purpose::STANDARD
        .decode(read.body["file_entity"]["content"].as_str().expect("content"))
        .expect("base64");
    assert!(back == content, "the file comes back byte-identical");
    let listed = app.call(&ana, Method::GET, "/api/mysafe/file").await;
    assert_eq!(listed.body["file_on_list"][0]["name"], "backup.bin");

    let too_big = reqwest::multipart::Form::new()
        .text("name", "big")
        .part("file", reqwest::multipart::Part::bytes(vec![0u8; 301 * 1024]).file_name("big"));
    assert_eq!(
        app.send(app.authed(&ana, Method::POST, "/api/mysafe/file").multipart(too_big)).await.status,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    let no_file = reqwest::multipart::Form::new().text("name", "empty");
    assert_eq!(
        app.send(app.authed(&ana, Method::POST, "/api/mysafe/file").multipart(no_file)).await.body["exception"]["code"],
        1001
    );

    // Replace the content; the old chunks are gone.
    let replacement =
        reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(b"new".to_vec()).file_name("x"));
    let updated =
        app.send(app.authed(&ana, Method::PUT, &format!("/api/mysafe/file/update/{id}")).multipart(replacement)).await;
    assert_eq!(updated.body["file_entity"]["size"], 3);
    let read = app.call(&ana, Method::GET, &format!("/api/mysafe/file/{id}")).await;
    assert_eq!(
        read.body["file_entity"]["content"],
        base64::engine::general_purpose::STANDARD.encode(b"new"),
        "{}",
        read.body
    );

    // The first content never reached the store in plaintext.
    if is_sqlite {
        for file in app.sqlite_files().iter().filter(|f| f.exists()) {
            let bytes = std::fs::read(file).expect("read");
            assert!(
                !bytes.windows(marker.len()).any(|w| w == marker.as_bytes()),
                "{} holds file plaintext",
                file.display()
            );
        }
    }
}
