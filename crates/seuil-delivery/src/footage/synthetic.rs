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

#[cfg(test)]
mod tests {
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
