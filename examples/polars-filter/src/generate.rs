//! The synthetic data of `--generate`: a CSV of the bundled file's shape, any size, same bytes for
//! the same seed.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{bail, Context, Result};

/// Code number `i` of `distinct`, zero-padded one digit wider than needed so that every code has
/// a leading zero (what CSV type inference would destroy).
pub(crate) fn code(i: u64, distinct: u64) -> String {
    let digits = distinct.saturating_sub(1).max(1).ilog10() as usize + 1;
    let width = (digits + 1).max(4);
    format!("{i:0width$}")
}

/// Every code of a generated file, in order.
pub(crate) fn codes(distinct: u64) -> Vec<String> {
    (0..distinct).map(|i| code(i, distinct)).collect()
}

/// SplitMix64: tiny, fast, and good enough to scatter codes; no dependency needed.
#[derive(Debug)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        // Multiply-shift: unbiased enough for test data, and no division.
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }
}

const SYLLABLES: [&str; 8] = ["ho", "ge", "fu", "ga", "pi", "yo", "ba", "ru"];

/// Writes `rows` rows of `code,name,age` with codes drawn uniformly from `distinct` codes.
/// An existing file is refused unless `force`: a mistyped `--csv` must not cost a real input.
pub(crate) fn write(path: &Path, rows: u64, distinct: u64, seed: u64, force: bool) -> Result<()> {
    let context = || format!("cannot write generated CSV {}", path.display());
    let file = if force {
        File::create(path)
    } else {
        OpenOptions::new().write(true).create_new(true).open(path)
    };
    let file = match file {
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => bail!(
            "{} already exists: --generate does not overwrite a file unless --force is given",
            path.display()
        ),
        file => file.with_context(context)?,
    };
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut rng = SplitMix64(seed);
    let mut line = String::new();
    writeln!(out, "code,name,age").with_context(context)?;
    for _ in 0..rows {
        line.clear();
        line.push_str(&code(rng.below(distinct), distinct));
        line.push(',');
        for _ in 0..2 + rng.below(3) {
            line.push_str(SYLLABLES[rng.below(SYLLABLES.len() as u64) as usize]);
        }
        line.push(',');
        line.push_str(&rng.below(100).to_string());
        line.push('\n');
        out.write_all(line.as_bytes()).with_context(context)?;
    }
    out.flush().with_context(context)
}
