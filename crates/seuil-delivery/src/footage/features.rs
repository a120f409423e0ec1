//! What the detectors look at in each picture: a coarse grid of mean brightness, a sparse
//! sample of pixels, and how much the picture changed since the previous one.
//!
//! Everything is computed from the luma plane in one pass over a quarter of its rows, so
//! analysis costs a small fraction of decoding.

use super::decode::Luma;

/// Columns and rows of the brightness grid.
pub const GRID_W: usize = 16;
pub const GRID_H: usize = 12;
pub const GRID: usize = GRID_W * GRID_H;

/// Columns and rows of the finer grid a settled background is aligned on, to tell a camera
/// that turned from a person standing in the room.
pub const FINE_W: usize = 48;
pub const FINE_H: usize = 27;
pub const FINE: usize = FINE_W * FINE_H;

/// Pixels sampled for the change measure: every `STEP`th pixel of every `STEP`th row.
const STEP: usize = 4;

#[derive(Clone, Debug)]
pub struct Features {
    pub t: f64,
    /// Mean absolute difference of the sampled pixels from the previous picture (0 for the
    /// first one). Exactly repeated pictures give 0; a live sensor never does for long.
    pub change: f32,
    /// Mean luma, 0-255.
    pub mean: f32,
    /// Standard deviation of the grid cells: how much structure the picture has.
    pub spread: f32,
    /// Mean luma of each grid cell, row by row.
    pub grid: [f32; GRID],
    /// Mean luma of each cell of the finer grid, row by row.
    pub fine: [u8; FINE],
}

/// Computes [`Features`] picture after picture (it keeps the previous picture's samples).
#[derive(Default)]
pub struct Extractor {
    previous: Vec<u8>,
    samples: Vec<u8>,
}

impl Extractor {
    pub fn next(&mut self, t: f64, luma: &Luma<'_>) -> Features {
        let (w, h) = (luma.width.max(1), luma.height.max(1));
        let mut sums = [0u64; GRID];
        let mut counts = [0u32; GRID];
        let mut fine_sums = [0u32; FINE];
        let mut fine_counts = [0u16; FINE];
        self.samples.clear();
        for y in (0..h).step_by(STEP) {
            let row = luma.row(y);
            let gy = (y * GRID_H / h).min(GRID_H - 1);
            let fy = (y * FINE_H / h).min(FINE_H - 1);
            for x in (0..w).step_by(STEP) {
                let v = row[x];
                let cell = gy * GRID_W + (x * GRID_W / w).min(GRID_W - 1);
                sums[cell] += u64::from(v);
                counts[cell] += 1;
                let fine = fy * FINE_W + (x * FINE_W / w).min(FINE_W - 1);
                fine_sums[fine] += u32::from(v);
                fine_counts[fine] = fine_counts[fine].saturating_add(1);
                self.samples.push(v);
            }
        }
        let mut grid = [0f32; GRID];
        for (g, (&s, &n)) in grid.iter_mut().zip(sums.iter().zip(&counts)) {
            *g = if n == 0 { 0.0 } else { s as f32 / n as f32 };
        }
        let mean = grid.iter().sum::<f32>() / GRID as f32;
        let spread =
            (grid.iter().map(|g| (g - mean) * (g - mean)).sum::<f32>() / GRID as f32).sqrt();
        let change = if self.previous.len() == self.samples.len() && !self.samples.is_empty() {
            let total: u64 = self
                .samples
                .iter()
                .zip(&self.previous)
                .map(|(&a, &b)| u64::from(a.abs_diff(b)))
                .sum();
            total as f32 / self.samples.len() as f32
        } else {
            0.0
        };
        let mut fine = [0u8; FINE];
        for (f, (&s, &n)) in fine.iter_mut().zip(fine_sums.iter().zip(&fine_counts)) {
            *f = if n == 0 { 0 } else { (s / u32::from(n)) as u8 };
        }
        std::mem::swap(&mut self.previous, &mut self.samples);
        Features {
            t,
            change,
            mean,
            spread,
            grid,
            fine,
        }
    }
}

/// Mean absolute difference between two grids, after removing each one's mean brightness (so
/// an exposure change alone does not count as a different picture).
pub fn grid_distance(a: &[f32; GRID], b: &[f32; GRID]) -> f32 {
    let ma = a.iter().sum::<f32>() / GRID as f32;
    let mb = b.iter().sum::<f32>() / GRID as f32;
    a.iter()
        .zip(b)
        .map(|(x, y)| ((x - ma) - (y - mb)).abs())
        .sum::<f32>()
        / GRID as f32
}
