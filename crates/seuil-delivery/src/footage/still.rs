//! The newest picture of a segment as an image a browser shows: the live view's frame.
//!
//! Only the luma plane is decoded for analysis, so the still is greyscale: an 8-bit BMP with a
//! grey palette, halved until it is at most 640 pixels wide. BMP needs no compression
//! library, and every browser displays it.

use super::decode::{DecodeError, decode_annexb};

const MAX_WIDTH: usize = 640;

/// The last picture of an Annex B segment (which starts with its parameter sets) as a BMP.
pub fn last_picture_bmp(h264: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let mut last: Option<(usize, usize, Vec<u8>)> = None;
    decode_annexb(h264, 30.0, |p| {
        let l = &p.luma;
        let mut plane = Vec::with_capacity(l.width * l.height);
        for y in 0..l.height {
            plane.extend_from_slice(l.row(y));
        }
        last = Some((l.width, l.height, plane));
    })?;
    let (mut w, mut h, mut plane) =
        last.ok_or_else(|| DecodeError::Decoder("the segment holds no picture".into()))?;
    while w > MAX_WIDTH {
        (w, h, plane) = halve(w, h, &plane);
    }
    Ok(bmp(w, h, &plane))
}

fn halve(w: usize, h: usize, plane: &[u8]) -> (usize, usize, Vec<u8>) {
    let (nw, nh) = (w / 2, h / 2);
    let mut out = Vec::with_capacity(nw * nh);
    for y in 0..nh {
        for x in 0..nw {
            let at = |dx: usize, dy: usize| u16::from(plane[(2 * y + dy) * w + 2 * x + dx]);
            out.push(((at(0, 0) + at(1, 0) + at(0, 1) + at(1, 1) + 2) / 4) as u8);
        }
    }
    (nw, nh, out)
}

/// An 8-bit, grey-palette, bottom-up BMP (BITMAPINFOHEADER).
fn bmp(w: usize, h: usize, plane: &[u8]) -> Vec<u8> {
    let row = w.div_ceil(4) * 4;
    let offset = 14 + 40 + 256 * 4;
    let size = offset + row * h;
    let mut out = Vec::with_capacity(size);
    let u32le = |out: &mut Vec<u8>, v: usize| out.extend_from_slice(&(v as u32).to_le_bytes());
    out.extend_from_slice(b"BM");
    u32le(&mut out, size);
    u32le(&mut out, 0);
    u32le(&mut out, offset);
    u32le(&mut out, 40);
    u32le(&mut out, w);
    u32le(&mut out, h);
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&8u16.to_le_bytes());
    for v in [0, row * h, 2835, 2835, 256, 0] {
        u32le(&mut out, v);
    }
    for g in 0..=255u8 {
        out.extend_from_slice(&[g, g, g, 0]);
    }
    for y in (0..h).rev() {
        out.extend_from_slice(&plane[y * w..(y + 1) * w]);
        out.resize(out.len() + row - w, 0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bmp_has_its_declared_size_and_padded_rows() {
        let plane: Vec<u8> = (0..15).collect();
        let out = bmp(5, 3, &plane);
        assert_eq!(&out[..2], b"BM");
        assert_eq!(
            u32::from_le_bytes(out[2..6].try_into().unwrap()) as usize,
            out.len()
        );
        // Rows of 5 pixels are padded to 8 bytes; the bottom row comes first.
        let pixels = &out[14 + 40 + 1024..];
        assert_eq!(pixels.len(), 8 * 3);
        assert_eq!(&pixels[..5], &[10, 11, 12, 13, 14]);
    }

    #[test]
    fn halving_averages_blocks() {
        let (w, h, out) = halve(4, 2, &[0, 4, 8, 8, 4, 0, 8, 8]);
        assert_eq!((w, h, out), (2, 1, vec![2, 8]));
    }
}
