//! A forensic scan of the data folder: a customer's marker strings never appear in plaintext
//! in the database, its WAL or the media — before or after erasure — and after erasure their
//! export and access log are gone.

mod common;

use common::{Server, files_under, sign_up};
use seuil_store::{LocalBlobs, SqliteStore};
use seuil_vault::{Actor, FileKek, Vault, VaultConfig, VaultError};
use std::path::Path;
use std::sync::Arc;

const MARKERS: [&str; 4] = [
    "zqmarkeremail7f3a",
    "ZQ-MARKER-NAME-91C2",
    "zq-marker-hook-44d1",
    "ZQ-MARKER-DEVICE-5E0B",
];

fn assert_no_marker(dir: &Path, when: &str) {
    let files = files_under(dir);
    assert!(
        files.iter().any(|f| f.ends_with("seuil.db")),
        "no database under {}",
        dir.display()
    );
    for file in files {
        let bytes = std::fs::read(&file).unwrap_or_default();
        for marker in MARKERS {
            for variant in [
                marker.to_owned(),
                marker.to_lowercase(),
                marker.to_uppercase(),
            ] {
                let hit = bytes
                    .windows(variant.len())
                    .any(|w| w == variant.as_bytes());
                assert!(
                    !hit,
                    "{when}: `{variant}` found in plaintext in {}",
                    file.display()
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_marker_is_ever_stored_in_plaintext_and_erasure_removes_everything() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data);
    let email = format!("{}@example.com", MARKERS[0]);
    let client = sign_up(&server, &email, "a long enough password", MARKERS[1]).await;
    let me: serde_json::Value = client
        .get(server.api("/api/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let subject = me["subject"]
        .as_str()
        .expect("GET /api/me names the subject")
        .to_owned();
    let res = client
        .post(server.api("/api/me/webhooks"))
        .json(&serde_json::json!({ "url": format!("https://{}.example.com/hook", MARKERS[2]) }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        201,
        "{}",
        res.text().await.unwrap_or_default()
    );
    let res = client
        .post(server.api("/api/devices"))
        .json(&serde_json::json!({ "name": MARKERS[3], "type": "camera", "public_key": "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=" }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        201,
        "{}",
        res.text().await.unwrap_or_default()
    );
    for purpose in ["delivery.video", "panel.receipts"] {
        let res = client
            .put(server.api(&format!("/api/me/consents/{purpose}")))
            .json(&serde_json::json!({"granted": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    let export = client
        .get(server.api("/api/me/export"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(
        export
            .windows(MARKERS[1].len())
            .any(|w| w == MARKERS[1].as_bytes()),
        "the export holds the customer's data"
    );

    assert_no_marker(&data, "while running");
    // Control: the scan does see what is stored in plaintext, such as the pseudonymous subject id.
    let seen = files_under(&data).iter().any(|f| {
        std::fs::read(f)
            .unwrap_or_default()
            .windows(subject.len())
            .any(|w| w == subject.as_bytes())
    });
    assert!(
        seen,
        "the scan reads the database: the subject id must be found in it"
    );

    let res = client
        .delete(server.api("/api/me"))
        .json(&serde_json::json!({"confirm": "DELETE", "password": "a long enough password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        200,
        "{}",
        res.text().await.unwrap_or_default()
    );
    let cert: seuil_vault::ErasureCertificate = res.json().await.unwrap();
    assert!(cert.verify());
    assert_eq!(cert.subject, subject);
    let res = client
        .get(server.api("/api/me/export"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "the session ends with the account");
    let res = server
        .client()
        .post(server.api("/api/sessions"))
        .json(&serde_json::json!({"email": email, "password": "a long enough password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "an erased account cannot sign in");
    let public: seuil_vault::ErasureCertificate = server
        .client()
        .get(server.api(&format!("/api/erasure-certificates/{subject}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(public, cert);

    assert_no_marker(&data, "after erasure, server running");
    drop(server);
    assert_no_marker(&data, "after erasure, server stopped");

    // Open the data directly with the key: nothing of the subject can be read or exported.
    let store = Arc::new(SqliteStore::open(&data.join("seuil.db")).unwrap());
    let blobs = Arc::new(LocalBlobs::new(data.join("blobs")).unwrap());
    let vault = Vault::new(
        store.clone(),
        blobs,
        &FileKek::new(data.join("kek.key")),
        VaultConfig::default(),
    )
    .await
    .unwrap();
    let operator = Actor::Operator("forensics".into());
    assert!(matches!(
        vault.export(&operator, &subject).await,
        Err(VaultError::NotFound { .. })
    ));
    assert!(matches!(
        vault.access_log(&subject).await,
        Err(VaultError::NotFound { .. })
    ));
    vault.purge_erased(&subject).await.unwrap();
    assert!(
        seuil_store::Store::subject_records(store.as_ref(), &subject)
            .await
            .unwrap()
            .is_empty()
    );
    vault.verify_audit(&|_, _| {}).await.unwrap();
}
