//! `seuil sim camera` against the real server: a paired camera streams real footage as signed
//! segments; it carries its chain on across runs, and a jammed one stops.

mod common;

use common::{Server, seuil, sign_up};
use std::path::{Path, PathBuf};

fn clip() -> Option<PathBuf> {
    common::shared_video("onvif_test_signed_h264.mp4")
}

fn sim(server: &Server, device: &str, key: &Path, video: &Path, extra: &[&str]) -> String {
    let out = seuil()
        .args([
            "sim",
            "camera",
            "--fast",
            "--server",
            &server.url,
            "--device",
            device,
        ])
        .arg("--key-file")
        .arg(key)
        .arg("--video")
        .arg(video)
        .args(extra)
        .output()
        .expect("seuil sim runs");
    assert!(
        out.status.success(),
        "seuil sim camera failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulated_camera_streams_real_footage_to_the_server() {
    let Some(video) = clip() else { return };
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let client = sign_up(&server, "cam@example.com", "a long enough password", "Cam").await;
    let key = dir.path().join("camera.key");
    let out = seuil()
        .args(["sim", "keygen", "--out"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(out.status.success());
    let public_key = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let res = client
        .post(server.api("/api/devices"))
        .json(&serde_json::json!({ "name": "Hall camera", "type": "camera", "public_key": public_key }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let device: serde_json::Value = res.json().await.unwrap();
    let device = device["id"].as_str().unwrap().to_owned();
    let res = client
        .put(server.api("/api/me/consents/delivery.video"))
        .json(&serde_json::json!({ "granted": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let first = sim(&server, &device, &key, &video, &[]);
    let last = first.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("sent ") && last.ends_with(" kept, 0 flagged"),
        "{first}"
    );
    let sent: u64 = last.split(' ').nth(1).unwrap().parse().unwrap();
    assert!(sent >= 3, "{first}");
    assert!(last.contains(&format!("{sent} kept")), "{first}");

    // A second run carries the chain on: nothing is flagged.
    let again = sim(&server, &device, &key, &video, &["--attack", "cover@2+3"]);
    assert!(
        again.contains(&format!("sent {sent} segments: {sent} kept, 0 flagged")),
        "{again}"
    );

    // A jammed camera stops sending.
    let jammed = sim(&server, &device, &key, &video, &["--attack", "jam@0"]);
    assert!(jammed.contains("jammed at 0.0 s"), "{jammed}");
    assert!(jammed.contains("sent 0 segments"), "{jammed}");

    // A bad attack is a clear error before anything is sent.
    let out = seuil()
        .args([
            "sim",
            "camera",
            "--server",
            &server.url,
            "--device",
            &device,
            "--attack",
            "melt@1+1",
        ])
        .arg("--key-file")
        .arg(&key)
        .arg("--video")
        .arg(&video)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unknown attack `melt`"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The footage a simulated camera sends under attack is real H.264 that `seuil eval tamper`
/// finds the attack in.
#[test]
fn attacked_footage_is_found_by_the_analysis() {
    let Some(video) = common::shared_video("one-by-one-person-detection.mp4") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("camera.key");
    assert!(
        seuil()
            .args(["sim", "keygen", "--out"])
            .arg(&key)
            .output()
            .unwrap()
            .status
            .success()
    );
    for (attack, kind, start, end) in [
        (None, None, 0.0, 0.0),
        (Some("freeze@30+2"), Some("freeze"), 30.0, 32.0),
        (Some("cover@60+6"), Some("covered"), 60.0, 66.0),
    ] {
        let saved = dir.path().join("sent.h264");
        let mut sim = seuil();
        sim.args(["sim", "camera", "--key-file"])
            .arg(&key)
            .arg("--video")
            .arg(&video)
            .arg("--save")
            .arg(&saved);
        if let Some(a) = attack {
            sim.args(["--attack", a]);
        }
        let out = sim.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = seuil()
            .args(["eval", "tamper", "--json", "--fps", "10"])
            .arg(&saved)
            .output()
            .unwrap();
        // 1 says tampering was found, 0 that none was.
        assert_eq!(
            out.status.code(),
            Some(if kind.is_some() { 1 } else { 0 }),
            "{attack:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let events = report["events"].as_array().unwrap();
        match kind {
            None => assert!(events.is_empty(), "{attack:?}: {report}"),
            Some(kind) => {
                assert_eq!(events.len(), 1, "{attack:?}: {report}");
                let e = &events[0];
                assert_eq!(e["kind"], kind, "{report}");
                let (s, t) = (e["start_s"].as_f64().unwrap(), e["end_s"].as_f64().unwrap());
                assert!(
                    (s - start).abs() <= 0.25 && (t - end).abs() <= 0.25,
                    "{attack:?}: {report}"
                );
            }
        }
    }
    // A raw stream without its frame rate is a clear error.
    let out = seuil()
        .args(["eval", "tamper"])
        .arg(dir.path().join("sent.h264"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--fps"));
}
