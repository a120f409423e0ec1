//! `seuil admin` against real data folders: backup and restore keep erased subjects erased,
//! KEK rotation keeps data readable, a wrong key refuses to start.

mod common;

use common::{Server, admin, seuil, sign_up};

async fn sign_in_status(server: &Server, email: &str, password: &str) -> u16 {
    let res = server
        .client()
        .post(server.api("/api/sessions"))
        .json(&serde_json::json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap();
    res.status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_backup_does_not_bring_back_an_erased_customer() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let backup = dir.path().join("backup");
    let server = Server::start(&data);
    let gone = sign_up(&server, "gone@seuil.example", "password one two", "Gone").await;
    sign_up(&server, "kept@seuil.example", "password three four", "Kept").await;
    drop(server);

    let out = admin(&data, &["backup", "--out", backup.to_str().unwrap()]);
    assert!(out.contains("backed up"), "{out}");
    let files = common::files_under(&backup);
    assert!(
        !files.iter().any(|f| f.ends_with("kek.key")),
        "the key stays out of backups"
    );

    // Erase after the backup was taken.
    let server = Server::start(&data);
    let res = gone
        .post(server.api("/api/sessions"))
        .json(&serde_json::json!({"email": "gone@seuil.example", "password": "password one two"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = gone
        .delete(server.api("/api/me"))
        .json(&serde_json::json!({"confirm": "DELETE"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    drop(server);

    let out = admin(&data, &["restore", "--from", backup.to_str().unwrap()]);
    assert!(
        out.contains("replayed 1 erasures (1 subjects were back"),
        "{out}"
    );
    let server = Server::start(&data);
    assert_eq!(
        sign_in_status(&server, "gone@seuil.example", "password one two").await,
        401,
        "erased stays erased"
    );
    assert_eq!(
        sign_in_status(&server, "kept@seuil.example", "password three four").await,
        200,
        "the others are restored"
    );
    drop(server);
    assert!(admin(&data, &["verify-audit"]).contains("audit log OK"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kek_rotation_keeps_data_readable_and_a_wrong_key_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data);
    sign_up(
        &server,
        "rotate@seuil.example",
        "rotation password",
        "Rotate",
    )
    .await;
    drop(server);
    let old_key = std::fs::read_to_string(data.join("kek.key")).unwrap();
    let out = admin(&data, &["rotate-kek"]);
    assert!(out.contains("rewrapped"), "{out}");
    let new_key = std::fs::read_to_string(data.join("kek.key")).unwrap();
    assert_ne!(old_key, new_key);
    let server = Server::start(&data);
    assert_eq!(
        sign_in_status(&server, "rotate@seuil.example", "rotation password").await,
        200
    );
    drop(server);

    // The old key no longer opens anything: start-up fails with a clear message.
    std::fs::write(data.join("kek.key"), &old_key).unwrap();
    let out = seuil()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Refusing to start"), "{stderr}");
}

#[test]
fn every_command_has_help() {
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["demo", "--help"],
        vec!["admin", "--help"],
        vec!["admin", "create-operator", "--help"],
        vec!["admin", "create-courier", "--help"],
        vec!["admin", "rotate-kek", "--help"],
        vec!["admin", "verify-audit", "--help"],
        vec!["admin", "erase", "--help"],
        vec!["admin", "backup", "--help"],
        vec!["admin", "restore", "--help"],
        vec!["bench", "--help"],
        vec!["bench", "vault", "--help"],
        vec!["bench", "delivery", "--help"],
        vec!["eval", "--help"],
        vec!["eval", "tamper", "--help"],
        vec!["sim", "--help"],
        vec!["sim", "camera", "--help"],
        vec!["sim", "lock", "--help"],
        vec!["sim", "courier", "--help"],
        vec!["sim", "keygen", "--help"],
    ] {
        let out = seuil().args(&args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage"),
            "{args:?}"
        );
    }
}

#[test]
fn bad_configuration_is_a_clear_error() {
    let out = seuil()
        .args(["serve"])
        .env("SEUIL_STORE", "mysql")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown store backend `mysql`"));
}
