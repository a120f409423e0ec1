//! Any bytes as a camera segment's footage (Annex B H.264), as a camera could send: the live
//! tamper analysis and the live view's still take it in or err, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seuil_delivery::footage::{Analyzer, still};

fuzz_target!(|data: &[u8]| {
    let mut analyzer = Analyzer::default();
    if analyzer.push_segment(data, 0.0, 1.0).is_ok() {
        let _ = analyzer.events();
    }
    let _ = still::last_picture_bmp(data);
});
