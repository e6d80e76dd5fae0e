//! Deterministic parallel sums: fixed chunks summed in parallel, the chunk
//! results added in order. Rayon's own `sum` splits work adaptively, so its
//! floating-point result can differ from run to run; a fit must not.

use std::ops::Range;

use rayon::prelude::*;

/// Items per chunk: large enough to amortise scheduling, small enough to
/// balance two to a few dozen cores.
const CHUNK: usize = 8192;

/// Sum of `f(range)` over consecutive chunks of `0..len`, in a fixed order.
pub(crate) fn chunked_sum<const N: usize, F>(len: usize, f: F) -> [f64; N]
where
    F: Fn(Range<usize>) -> [f64; N] + Sync,
{
    let chunks = len.div_ceil(CHUNK);
    let partials: Vec<[f64; N]> =
        (0..chunks).into_par_iter().map(|c| f(c * CHUNK..((c + 1) * CHUNK).min(len))).collect();
    let mut total = [0.0; N];
    for p in partials {
        for (t, v) in total.iter_mut().zip(p) {
            *t += v;
        }
    }
    total
}
