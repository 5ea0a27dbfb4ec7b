use super::*;
use crate::index::IndexError;

fn small(c: IndexConfig) -> (MemSource, Index) {
    let mut src = source(600, 8, 41);
    let mut ix = build(
        IndexConfig {
            train_min: 200,
            ..c
        },
        &src,
    );
    for id in [5u32, 77, 300] {
        src.alive[id as usize] = false;
        ix.on_delete(id);
    }
    (src, ix)
}

#[test]
fn every_index_round_trips_through_its_bytes() {
    for c in all_configs() {
        let (src, ix) = small(c);
        let bytes = ix.encode();
        let back = Index::decode(&bytes, *ix.config(), 8).expect("decodes");
        assert_eq!(back.encode(), bytes, "{c:?}");
        assert_eq!(back.memory_bytes(), ix.memory_bytes());
        for q in uniform(10, 8, 42).chunks_exact(8) {
            let p = SearchParams::default();
            assert_eq!(
                back.search(q, 10, p, &src, None),
                ix.search(q, 10, p, &src, None),
                "{c:?}"
            );
        }
    }
}

#[test]
fn a_blob_built_with_other_settings_is_refused_so_the_caller_rebuilds() {
    let (_, ix) = small(cfg(IndexKind::Hnsw, QuantKind::None));
    let bytes = ix.encode();
    let c = *ix.config();
    let other = [
        IndexConfig { hnsw_m: 8, ..c },
        IndexConfig {
            kind: IndexKind::Ivf,
            ..c
        },
        IndexConfig {
            quant: QuantKind::Scalar,
            ..c
        },
    ];
    for o in other {
        assert!(
            matches!(
                Index::decode(&bytes, o, 8),
                Err(IndexError::ConfigMismatch(_))
            ),
            "{o:?}"
        );
    }
    assert!(matches!(
        Index::decode(&bytes, c, 9),
        Err(IndexError::ConfigMismatch(_))
    ));
    // Search-time settings may differ.
    assert!(Index::decode(
        &bytes,
        IndexConfig {
            hnsw_ef_search: 7,
            ivf_nprobe: 3,
            ..c
        },
        8
    )
    .is_ok());
}

#[test]
fn truncated_or_random_bytes_give_errors_never_panics() {
    let mut r = Rng::new(43);
    for c in all_configs() {
        let (_, ix) = small(c);
        let c = *ix.config();
        let bytes = ix.encode();
        for len in 0..bytes.len() {
            assert!(Index::decode(&bytes[..len], c, 8).is_err());
        }
        for _ in 0..200 {
            let n = r.below(200) as usize;
            let junk: Vec<u8> = (0..n).map(|_| r.below(256) as u8).collect();
            assert!(Index::decode(&junk, c, 8).is_err());
        }
        let mut flipped = bytes.clone();
        flipped[bytes.len() / 2] ^= 0x10;
        assert_eq!(
            Index::decode(&flipped, c, 8).err(),
            Some(IndexError::Corrupt("checksum"))
        );
    }
}

#[test]
fn corrupted_bodies_with_a_valid_checksum_are_rejected_or_safe_to_search() {
    // Past the checksum, the structural checks alone must keep decode and
    // search from panicking.
    let mut r = Rng::new(44);
    for c in all_configs() {
        let (src, ix) = small(c);
        let c = *ix.config();
        let bytes = ix.encode();
        for _ in 0..300 {
            let mut b = bytes[..bytes.len() - 4].to_vec();
            for _ in 0..1 + r.below(3) {
                let at = 6 + r.below((b.len() - 6) as u64) as usize;
                b[at] = r.below(256) as u8;
            }
            let crc = crc32c::crc32c(&b);
            b.extend_from_slice(&crc.to_le_bytes());
            if let Ok(ix2) = Index::decode(&b, c, 8) {
                for q in uniform(3, 8, 45).chunks_exact(8) {
                    for row in ix2.search(q, 10, SearchParams::default(), &src, None) {
                        assert!(src.vector(row.1).is_some());
                    }
                }
                let _ = ix2.memory_bytes();
            }
        }
    }
}
