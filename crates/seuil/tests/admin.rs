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
        .json(&serde_json::json!({"confirm": "DELETE", "password": "password one two"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    drop(server);

    // Restoring replaces the data: it is not done unasked.
    let refused = seuil()
        .env("SEUIL_DATA_DIR", &data)
        .args(["admin", "restore", "--from"])
        .arg(&backup)
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--yes"));
    // Nor under a running server.
    let running = Server::start(&data);
    let refused = seuil()
        .env("SEUIL_DATA_DIR", &data)
        .args(["admin", "restore", "--yes", "--from"])
        .arg(&backup)
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("a server is running"), "{stderr}");
    drop(running);

    let out = admin(
        &data,
        &[
            "restore",
            "--yes",
            "--json",
            "--from",
            backup.to_str().unwrap(),
        ],
    );
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["erased_again"], 1, "{report}");
    assert_eq!(
        report["replaced"],
        serde_json::Value::Null,
        "the replaced data, which still holds the erased customer's key, is removed"
    );
    assert!(
        !std::fs::read_dir(&data)
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("replaced-")),
        "a replaced-* folder is left"
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
    // Kept only when asked for.
    let out = admin(
        &data,
        &[
            "restore",
            "--yes",
            "--keep-replaced",
            "--from",
            backup.to_str().unwrap(),
        ],
    );
    assert!(out.contains("the replaced data is in"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_audit_exits_3_when_the_log_fails_verification() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data);
    sign_up(&server, "log@seuil.example", "a log password", "Log").await;
    drop(server);
    let ok: serde_json::Value =
        serde_json::from_str(&admin(&data, &["verify-audit", "--json"])).unwrap();
    assert_eq!(ok["ok"], true, "{ok}");

    // A checkpoint nobody signed, of a tree the log never had.
    let store = seuil_store::SqliteStore::open(&data.join("seuil.db")).unwrap();
    use seuil_store::Store;
    let size = store.audit_size().await.unwrap();
    store
        .put_checkpoint(&seuil_store::Checkpoint {
            size: size + 100,
            root: [7; 32],
            at: 1,
            signature: vec![0; 64],
        })
        .await
        .unwrap();
    drop(store);
    let out = seuil()
        .env("SEUIL_DATA_DIR", &data)
        .args(["admin", "verify-audit", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], false, "{report}");
    assert!(!report["error"].as_str().unwrap().is_empty(), "{report}");
}

#[test]
fn erasing_a_subject_asks_first() {
    let dir = tempfile::tempdir().unwrap();
    let out = seuil()
        .env("SEUIL_DATA_DIR", dir.path())
        .args(["admin", "erase", "subj_nobody"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("give --yes"), "{stderr}");
}

#[test]
fn analyses_simulators_and_benchmarks_do_not_read_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("seuil.toml");
    std::fs::write(&broken, "colour = \"blue\"").unwrap();
    let out = seuil()
        .arg("--config")
        .arg(&broken)
        .args(["sim", "keygen", "--out"])
        .arg(dir.path().join("k.key"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = seuil()
        .arg("--config")
        .arg(&broken)
        .args(["admin", "verify-audit"])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "an installation's command does read it"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid config file"));
}

#[test]
fn a_benchmark_refuses_a_folder_that_is_not_empty_and_leaves_it_alone() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("precious.txt"), b"keep me").unwrap();
    for bench in ["vault", "delivery"] {
        let out = seuil()
            .args(["bench", bench, "--dir"])
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{bench}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("is not empty"), "{stderr}");
        assert_eq!(
            std::fs::read(dir.path().join("precious.txt")).unwrap(),
            b"keep me"
        );
    }
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
