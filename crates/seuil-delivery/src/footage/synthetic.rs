//! Pictures a tampered camera shows, encoded as H.264, so the camera simulator plays each
//! attack with real footage: a covered lens (nearly black, with sensor noise) and a frozen
//! picture (the last one before the freeze, held).

use openh264::OpenH264API;
use openh264::decoder::Decoder;
use openh264::encoder::{Encoder, EncoderConfig};
use openh264::formats::{YUVBuffer, YUVSource};

fn encoder() -> Result<Encoder, String> {
    // Every picture must come out: a camera does not drop seconds to save bits.
    let config = EncoderConfig::new().skip_frames(false);
    let mut encoder =
        Encoder::with_api_config(OpenH264API::from_source(), config).map_err(|e| e.to_string())?;
    encoder.force_intra_frame();
    Ok(encoder)
}

/// The last picture of an Annex B stream, held for `frames` pictures, as a new stream.
pub fn held(h264: &[u8], frames: usize) -> Result<Vec<u8>, String> {
    let mut decoder = Decoder::new().map_err(|e| e.to_string())?;
    let picture = decoder
        .decode(h264)
        .map_err(|e| e.to_string())?
        .ok_or("the footage has no picture to hold")?;
    let (w, h) = picture.dimensions();
    let (w, h) = (w & !1, h & !1);
    let (ys, us, vs) = picture.strides();
    let mut yuv = Vec::with_capacity(w * h * 3 / 2);
    for row in 0..h {
        yuv.extend_from_slice(&picture.y()[row * ys..row * ys + w]);
    }
    for row in 0..h / 2 {
        yuv.extend_from_slice(&picture.u()[row * us..row * us + w / 2]);
    }
    for row in 0..h / 2 {
        yuv.extend_from_slice(&picture.v()[row * vs..row * vs + w / 2]);
    }
    let still = YUVBuffer::from_vec(yuv, w, h);
    let mut encoder = encoder()?;
    let mut out = Vec::new();
    for _ in 0..frames {
        encoder
            .encode(&still)
            .map_err(|e| e.to_string())?
            .write_vec(&mut out);
    }
    Ok(out)
}

/// `frames` dark pictures of `width` x `height` (rounded down to even sizes) as one Annex B
/// stream that starts with a key frame and its parameter sets.
pub fn dark(width: u16, height: u16, frames: usize) -> Result<Vec<u8>, String> {
    let (w, h) = (usize::from(width) & !1, usize::from(height) & !1);
    if w == 0 || h == 0 {
        return Err(format!("cannot encode pictures of {width}x{height}"));
    }
    let mut encoder = encoder()?;
    let mut out = Vec::new();
    let mut noise = 0x2545_f491_u32;
    for _ in 0..frames {
        let mut yuv = vec![128u8; w * h * 3 / 2];
        for y in &mut yuv[..w * h] {
            noise ^= noise << 13;
            noise ^= noise >> 17;
            noise ^= noise << 5;
            *y = 10 + (noise >> 29) as u8;
        }
        let picture = YUVBuffer::from_vec(yuv, w, h);
        let encoded = encoder.encode(&picture).map_err(|e| e.to_string())?;
        encoded.write_vec(&mut out);
    }
    Ok(out)
}

/// A synthetic room for demos without footage of their own: a textured wall with sensor
/// noise and someone crossing it now and then, never twice the same way (so it does not
/// look like replayed footage). Made one second at a time, each a segment that starts with
/// a key frame and its parameter sets, as a camera sends them.
pub struct Room {
    w: usize,
    h: usize,
    fps: u32,
    encoder: Encoder,
}

impl Room {
    pub fn new(width: u16, height: u16, fps: u32) -> Result<Room, String> {
        let (w, h) = (usize::from(width) & !1, usize::from(height) & !1);
        if w < 16 || h < 16 || fps == 0 {
            return Err(format!(
                "cannot encode a room of {width}x{height} at {fps} pictures a second"
            ));
        }
        Ok(Room {
            w,
            h,
            fps,
            encoder: encoder()?,
        })
    }

    pub fn size(&self) -> (u16, u16) {
        (self.w as u16, self.h as u16)
    }

    /// Second `n` of the room.
    pub fn second(&mut self, n: u32) -> Result<super::segments::ClipSegment, String> {
        let (w, h, fps) = (self.w, self.h, self.fps as usize);
        let mut h264 = Vec::new();
        let mut noise = 0x9e37_79b9_u32 ^ n.wrapping_mul(0x85eb_ca6b);
        self.encoder.force_intra_frame();
        for i in 0..fps {
            let t = n as usize * fps + i;
            // One crossing every 6 s, each at its own height, size and speed.
            let crossing = t / (6 * fps);
            let mix = (crossing as u32).wrapping_mul(0x2c1b_3c6d).rotate_left(7);
            let width = w / 10 + (mix as usize % (w / 8));
            let top = h / 5 + (mix as usize >> 8) % (h / 3);
            let frames = (3 + (mix as usize >> 16) % 3) * fps;
            let along = t % (6 * fps);
            let x0 = (along * (w + width)) / frames.max(1);
            let mut yuv = vec![128u8; w * h * 3 / 2];
            for y in 0..h {
                for x in 0..w {
                    noise ^= noise << 13;
                    noise ^= noise >> 17;
                    noise ^= noise << 5;
                    let wall = 70 + ((x / 8 + y / 8) % 2) as u8 * 30 + (y * 60 / h) as u8;
                    let person = along < frames && x + width >= x0 && x < x0 && y > top;
                    let v = if person {
                        150 + (mix >> 24) as u8 % 90
                    } else {
                        wall
                    };
                    // A real sensor's noise: enough to survive encoding, so a still room
                    // still changes a little from picture to picture.
                    yuv[y * w + x] = v.saturating_add((noise >> 27) as u8);
                }
            }
            let picture = YUVBuffer::from_vec(yuv, w, h);
            self.encoder
                .encode(&picture)
                .map_err(|e| e.to_string())?
                .write_vec(&mut h264);
        }
        Ok(super::segments::ClipSegment {
            start_ms: i64::from(n) * 1_000,
            duration_ms: 1_000,
            pictures: fps,
            h264,
        })
    }
}

/// `seconds` of a [`Room`].
pub fn room(
    width: u16,
    height: u16,
    seconds: u32,
    fps: u32,
) -> Result<Vec<super::segments::ClipSegment>, String> {
    let mut room = Room::new(width, height, fps)?;
    (0..seconds).map(|n| room.second(n)).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_minute_of_the_room_shows_no_tampering() {
        let room = super::room(160, 120, 60, 10).expect("encodes");
        let stream: Vec<u8> = room.iter().flat_map(|s| s.h264.clone()).collect();
        let report = crate::footage::analyze_h264(&stream, 10.0).expect("decodes");
        assert_eq!(report.frames, 600);
        assert!(report.events.is_empty(), "{:?}", report.events);
    }

    #[test]
    fn every_second_of_the_room_decodes_on_its_own() {
        let room = super::room(64, 48, 3, 5).expect("encodes");
        assert_eq!(room.len(), 3);
        for seg in &room {
            let decoded =
                crate::footage::decode::decode_annexb(&seg.h264, 5.0, |_| {}).expect("decodes");
            assert_eq!(decoded.frames, 5, "segment at {} ms", seg.start_ms);
        }
    }

    #[test]
    fn a_held_picture_is_the_one_it_holds() {
        let dark = super::dark(64, 48, 3).expect("encodes");
        let held = super::held(&dark, 4).expect("holds");
        assert!(held.starts_with(&[0, 0, 0, 1]));
    }

    #[test]
    fn dark_pictures_encode_and_decode_dark() {
        let stream = super::dark(64, 48, 5).expect("encodes");
        assert!(stream.starts_with(&[0, 0, 0, 1]), "Annex B");
        use openh264::formats::YUVSource;
        let mut decoder = openh264::decoder::Decoder::new().expect("decoder");
        let picture = decoder
            .decode(&stream)
            .expect("decodes")
            .expect("a picture");
        let y = picture.y();
        let mean = y.iter().map(|&v| u64::from(v)).sum::<u64>() / y.len() as u64;
        assert!(mean < 24, "mean luma {mean}");
    }
}

#[cfg(test)]
mod live_tests {
    #[test]
    fn segments_pushed_one_by_one_show_a_cover() {
        let mut room = super::Room::new(160, 120, 10).unwrap();
        let mut analyzer = crate::footage::Analyzer::default();
        for (i, covered) in [false, false, true, true, true, false]
            .into_iter()
            .enumerate()
        {
            let h264 = if covered {
                super::dark(160, 120, 10).unwrap()
            } else {
                room.second(i as u32).unwrap().h264
            };
            analyzer.push_segment(&h264, i as f64, 1.0).unwrap();
        }
        let events = analyzer.events();
        assert!(
            events
                .iter()
                .any(|e| e.kind == crate::footage::Kind::Covered),
            "{events:?}"
        );
    }
}
