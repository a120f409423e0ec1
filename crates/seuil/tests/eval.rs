//! `seuil eval tamper` through the real binary: the JSON contract, and clear errors.

mod common;

use common::seuil;
use std::path::PathBuf;

fn clip() -> Option<PathBuf> {
    common::shared_video("onvif_test_signed_h264.mp4")
}

#[test]
fn json_output_is_exactly_the_contract() {
    let Some(path) = clip() else { return };
    let out = seuil()
        .args(["eval", "tamper", "--json"])
        .arg(&path)
        .output()
        .unwrap();
    // 0 for no tampering, 1 for some, as `diff` says whether files differ.
    let code = out.status.code();
    assert!(
        matches!(code, Some(0 | 1)),
        "{code:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "one object: {stdout}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    // serde_json's map sorts its keys: compare sets, not order.
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["events", "frames", "seconds"]);
    assert_eq!(code == Some(1), !v["events"].as_array().unwrap().is_empty());
    assert!(v["frames"].as_u64().unwrap() >= 250);
    assert!((v["seconds"].as_f64().unwrap() - 10.0).abs() < 0.2);
    for e in v["events"].as_array().unwrap() {
        let keys: Vec<&str> = e.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["end_s", "kind", "start_s"]);
        assert!(["freeze", "covered", "replay", "moved"].contains(&e["kind"].as_str().unwrap()));
        assert!(e["start_s"].as_f64().unwrap() < e["end_s"].as_f64().unwrap());
    }
}

#[test]
fn a_file_that_is_not_a_video_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.mp4");
    std::fs::write(&path, "not a video at all").unwrap();
    let out = seuil()
        .args(["eval", "tamper"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "trouble is 2: 1 means tampering found"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not an MP4 file"), "{stderr}");
    let out = seuil()
        .args(["eval", "tamper", "/no/such/clip.mp4"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
}
