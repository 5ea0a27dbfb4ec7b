//! Exact-scan cost of the chunked record pool against a flat array scanned
//! the way the kernel did before chunking (one contiguous Vec, status zip),
//! same scan (`index::exact_rows`), same data, same process, rounds
//! interleaved. One thread, one query per call.
//!
//! ```text
//! cargo run --release -p valori-kernel --example exact_scan -- [n=100000] [dim=384] [queries=200]
//! ```

use std::time::Instant;

use valori_kernel::engine::Db;
use valori_kernel::event::Event;
use valori_kernel::index::{exact_rows, Distance, IndexConfig, SearchParams};
use valori_kernel::state::{Limits, State, LIVE};

fn flat_exact(status: &[u8], vectors: &[i32], dim: usize, q: &[i32], k: usize) -> Vec<(i64, u32)> {
    let rows = status.iter().zip(vectors.chunks_exact(dim)).enumerate();
    exact_rows(
        q,
        k,
        rows.filter(|(_, (&st, _))| st == LIVE)
            .map(|(i, (_, v))| (i as u32, v)),
        None,
        Distance::L2,
    )
}

fn main() {
    let arg = |i: usize, d: usize| {
        std::env::args()
            .nth(i)
            .and_then(|s| s.parse().ok())
            .unwrap_or(d)
    };
    let (n, dim, nq) = (arg(1, 100_000), arg(2, 384), arg(3, 200));
    let mut s = 42u64;
    let mut next = move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 33) % 131_072) as i32 - 65_536
    };
    let data: Vec<i32> = (0..n * dim).map(|_| next()).collect();
    let queries: Vec<Vec<i32>> = (0..nq)
        .map(|_| (0..dim).map(|_| next()).collect())
        .collect();
    let mut st = State::new(Limits::new(dim, n as u64, 0, 0));
    st.apply(&Event::InsertBatch {
        first_id: 0,
        count: n as u32,
        vectors: data.clone(),
        payloads: Vec::new(),
    })
    .unwrap();
    let db = Db::new(st, IndexConfig::default());
    let search = |q: &[i32]| db.search(q, 10, SearchParams::default(), None);
    let status = vec![LIVE; n];
    for q in &queries[..3] {
        assert_eq!(search(q), flat_exact(&status, &data, dim, q, 10));
    }
    let (mut flat, mut chunked) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        let t = Instant::now();
        for q in &queries {
            std::hint::black_box(flat_exact(&status, &data, dim, q, 10));
        }
        flat.push(t.elapsed().as_secs_f64() * 1e3 / nq as f64);
        let t = Instant::now();
        for q in &queries {
            std::hint::black_box(search(q));
        }
        chunked.push(t.elapsed().as_secs_f64() * 1e3 / nq as f64);
    }
    flat.sort_by(f64::total_cmp);
    chunked.sort_by(f64::total_cmp);
    println!("exact k=10, {n} x {dim}, {nq} queries, median of 5 interleaved rounds");
    println!("flat array (pre-chunking layout)  {:.2} ms/query", flat[2]);
    println!(
        "chunked record pool (Db::search)  {:.2} ms/query  ({:.2}x)",
        chunked[2],
        chunked[2] / flat[2]
    );
}
