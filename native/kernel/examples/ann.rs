//! ANN tuning bench over Fashion-MNIST IDX files, straight on the kernel index
//! (no binding). One thread, one query per call.
//!
//! ```text
//! cargo run --release -p valori-kernel --example ann -- <dir with the un-gzipped IDX files> [--nq N] [--efc N] [hnsw|ivf|sq8|pq|exact ...]
//! ```
//! Ground truth (exact brute force, k = 10) is cached in `<dir>/gt-<nq>.bin`.

use std::time::Instant;
use valori_kernel::index::{Index, IndexConfig, IndexKind, QuantKind, SearchParams, VectorSource};

const K: usize = 10;

struct Flat {
    dim: usize,
    data: Vec<i32>,
}

impl VectorSource for Flat {
    fn dim(&self) -> usize {
        self.dim
    }
    fn vector(&self, id: u32) -> Option<&[i32]> {
        self.data
            .get(id as usize * self.dim..(id as usize + 1) * self.dim)
    }
    fn slot_count(&self) -> u32 {
        (self.data.len() / self.dim) as u32
    }
}

/// IDX images: 16-byte header, then u8 pixels; each pixel v becomes v real
/// units (raw v << 16), as the binding would store the float v.
fn load(path: &str) -> Flat {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let dim = 784;
    Flat {
        dim,
        data: bytes[16..].iter().map(|b| (*b as i32) << 16).collect(),
    }
}

fn ground_truth(dir: &str, base: &Flat, queries: &Flat, nq: usize) -> Vec<Vec<u32>> {
    let path = format!("{dir}/gt-{nq}.bin");
    if let Ok(b) = std::fs::read(&path) {
        let ids: Vec<u32> = b
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        return ids.chunks(K).map(|c| c.to_vec()).collect();
    }
    let ix = Index::new(IndexConfig::default(), base.dim);
    let gt: Vec<Vec<u32>> = (0..nq as u32)
        .map(|q| {
            ix.search(
                queries.vector(q).unwrap(),
                K,
                SearchParams::default(),
                base,
                None,
            )
            .iter()
            .map(|r| r.1)
            .collect()
        })
        .collect();
    let bytes: Vec<u8> = gt.iter().flatten().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(&path, bytes).ok();
    gt
}

/// Nanoseconds this thread has run on a CPU (Linux schedstat), so figures
/// on a busy shared machine count our work, not our waiting.
fn cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

fn run(ix: &Index, base: &Flat, queries: &Flat, gt: &[Vec<u32>], p: SearchParams, label: &str) {
    let nq = gt.len();
    let c0 = cpu_ns();
    let t = Instant::now();
    let mut hits = 0;
    for (q, truth) in gt.iter().enumerate() {
        let r = ix.search(queries.vector(q as u32).unwrap(), K, p, base, None);
        hits += r.iter().filter(|x| truth.contains(&x.1)).count();
    }
    let s = t.elapsed().as_secs_f64();
    let cpu = match (c0, cpu_ns()) {
        (Some(a), Some(b)) => format!(
            "  QPS per CPU-second {:>8.0}",
            nq as f64 / ((b - a) as f64 / 1e9)
        ),
        _ => String::new(),
    };
    println!(
        "{label:<28} recall@10 {:.4}  QPS {:>8.0}{cpu}",
        hits as f64 / (nq * K) as f64,
        nq as f64 / s
    );
}

fn build(cfg: IndexConfig, base: &Flat) -> Index {
    let t = Instant::now();
    let mut ix = Index::new(cfg, base.dim);
    for id in 0..base.slot_count() {
        ix.on_insert(id, base);
    }
    let m = ix.memory_bytes();
    println!(
        "build {:?}/{:?}: {:.1} s, codes {} B, structure {} B (vectors {} B), nlist {}",
        cfg.kind,
        cfg.quant,
        t.elapsed().as_secs_f64(),
        m.codes,
        m.structure,
        base.data.len() * 4,
        ix.nlist()
    );
    ix
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // Usage: ann <dir> [--nq N] [--efc N] [modes...]
    let mut nq: usize = 1000;
    let mut efc: usize = 100;
    let mut rest: Vec<&str> = Vec::new();
    let mut i = 2;
    while i < args.len() {
        match args[i].as_str() {
            "--nq" => {
                nq = args.get(i + 1).and_then(|s| s.parse().ok()).unwrap_or(nq);
                i += 1;
            }
            "--efc" => {
                efc = args.get(i + 1).and_then(|s| s.parse().ok()).unwrap_or(efc);
                i += 1;
            }
            m => rest.push(m),
        }
        i += 1;
    }
    let dir = args.get(1).map(String::as_str).unwrap_or("/tmp/fmnist");
    let modes: Vec<&str> = if rest.is_empty() {
        vec!["hnsw", "ivf", "sq8", "exact"]
    } else {
        rest
    };
    let base = load(&format!("{dir}/train-images-idx3-ubyte"));
    let queries = load(&format!("{dir}/t10k-images-idx3-ubyte"));
    let gt = ground_truth(dir, &base, &queries, nq);
    println!(
        "kernels: {}; base {} × {}; {} queries",
        valori_kernel::index::kernel_name(),
        base.slot_count(),
        base.dim,
        nq
    );
    for mode in modes {
        let mut cfg = IndexConfig {
            hnsw_ef_construction: efc,
            ..IndexConfig::default()
        };
        match mode {
            "hnsw" | "hnsw-sq8" => {
                cfg.kind = IndexKind::Hnsw;
                if mode == "hnsw-sq8" {
                    cfg.quant = QuantKind::Scalar;
                }
                let ix = build(cfg, &base);
                for ef in [10, 16, 20, 32, 40, 64, 80, 120] {
                    run(
                        &ix,
                        &base,
                        &queries,
                        &gt,
                        SearchParams {
                            ef: Some(ef),
                            ..Default::default()
                        },
                        &format!("{mode} ef={ef}"),
                    );
                }
            }
            "ivf" | "ivf-sq8" => {
                cfg.kind = IndexKind::Ivf;
                if mode == "ivf-sq8" {
                    cfg.quant = QuantKind::Scalar;
                }
                let mut ix = build(cfg, &base);
                let t = Instant::now();
                ix.train(&base);
                println!(
                    "retrain on all: {:.1} s, nlist {}",
                    t.elapsed().as_secs_f64(),
                    ix.nlist()
                );
                for np in [1, 2, 4, 6, 8, 12, 16, 24] {
                    run(
                        &ix,
                        &base,
                        &queries,
                        &gt,
                        SearchParams {
                            nprobe: Some(np),
                            ..Default::default()
                        },
                        &format!("{mode} nprobe={np}"),
                    );
                }
            }
            "sq8" | "pq" => {
                cfg.quant = if mode == "sq8" {
                    QuantKind::Scalar
                } else {
                    QuantKind::Product
                };
                let ix = build(cfg, &base);
                for r in [10, 20, 40, 100, 400] {
                    run(
                        &ix,
                        &base,
                        &queries,
                        &gt,
                        SearchParams {
                            rerank: Some(r),
                            ..Default::default()
                        },
                        &format!("{mode} rerank={r}"),
                    );
                }
            }
            "exact" => {
                let ix = build(cfg, &base);
                let few: Vec<Vec<u32>> = gt.iter().take(100).cloned().collect();
                run(
                    &ix,
                    &base,
                    &queries,
                    &few,
                    SearchParams::default(),
                    "exact scan",
                );
            }
            other => eprintln!("unknown mode {other}"),
        }
    }
}
