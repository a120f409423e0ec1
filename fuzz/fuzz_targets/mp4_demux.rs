//! Any bytes as an MP4 file: the demuxer answers or errs, never panics or over-allocates.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seuil_delivery::footage::mp4;

fuzz_target!(|data: &[u8]| {
    if let Ok(track) = mp4::video_track(data) {
        for sample in &track.samples {
            let start = sample.offset as usize;
            let bytes = &data[start..start + sample.size as usize];
            for unit in mp4::nal_units(bytes, track.nal_length_size) {
                let _ = unit;
            }
        }
    }
});
