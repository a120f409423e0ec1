//! The MP4 demuxer faces files from outside: whatever the bytes, it answers, never panics.

mod common;

use proptest::prelude::*;
use seuil_delivery::footage::mp4::{self, Mp4Error};

fn clip() -> Option<Vec<u8>> {
    common::video("onvif_test_h264.mp4")
}

/// A box: 32-bit size, type, payload.
fn boxed(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut out = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(payload);
    out
}

#[test]
fn a_real_clip_has_its_track_read() {
    let Some(data) = clip() else { return };
    let track = mp4::video_track(&data).expect("a real MP4");
    assert_eq!((track.width, track.height), (480, 640));
    assert!(track.samples.len() >= 250, "{}", track.samples.len());
    assert!(track.samples[0].sync, "the first picture is a key frame");
    assert!(!track.sps.is_empty() && !track.pps.is_empty());
}

#[test]
fn files_that_are_not_mp4_say_so() {
    assert!(matches!(
        mp4::video_track(b"hello, world, not a video"),
        Err(Mp4Error::Malformed(_))
    ));
    let no_moov = boxed(b"ftyp", b"isom\0\0\0\0");
    assert_eq!(
        mp4::video_track(&no_moov),
        Err(Mp4Error::Malformed("'file' has no 'moov' box".into()))
    );
    let empty_moov = [no_moov.clone(), boxed(b"moov", &[])].concat();
    assert_eq!(mp4::video_track(&empty_moov), Err(Mp4Error::NoVideo));
    let fragmented = [no_moov, boxed(b"moof", &[])].concat();
    assert_eq!(mp4::video_track(&fragmented), Err(Mp4Error::Fragmented));
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = mp4::video_track(&bytes);
        for unit in mp4::nal_units(&bytes, 4) {
            let _ = unit;
        }
    }

    #[test]
    fn a_damaged_real_file_never_panics(
        cuts in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        truncate in any::<prop::sample::Index>(),
    ) {
        let Some(mut data) = clip() else { return Ok(()) };
        for (at, byte) in cuts {
            let i = at.index(data.len());
            data[i] = byte;
        }
        let _ = mp4::video_track(&data);
        let len = truncate.index(data.len());
        let _ = mp4::video_track(&data[..len]);
    }
}

/// `ctts` runs claiming 2^32 - 1 samples each are cut at the samples the file has: the parse
/// ends at once instead of counting to four billion per run (minutes of a core per request).
#[test]
fn a_crafted_ctts_run_count_stops_at_the_sample_count() {
    let Some(mut data) = common::video("one-by-one-person-detection.mp4") else {
        return;
    };
    let at = data
        .windows(4)
        .position(|w| w == b"ctts")
        .expect("the clip has a ctts box");
    // Type, version and flags, entry count, then runs of (sample count, offset): every run
    // now claims 2^32 - 1 samples.
    let runs = u32::from_be_bytes(data[at + 8..at + 12].try_into().unwrap()) as usize;
    assert!(runs > 10, "{runs} runs");
    for run in 0..runs {
        let count = at + 12 + run * 8;
        data[count..count + 4].copy_from_slice(&u32::MAX.to_be_bytes());
    }
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(mp4::video_track(&data).map(|t| t.samples.len()));
    });
    let parsed = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("the parse of a crafted ctts box did not end");
    assert!(parsed.is_ok_and(|n| n > 0));
}
