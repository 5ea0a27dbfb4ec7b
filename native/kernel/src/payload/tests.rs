//! Tests for the payload module. Expected values are written by hand (or, in
//! the property tests, come from the reference evaluator checked against
//! the index), never from the code path under test.

mod canon;
mod errors;
mod ops;
mod prop;

use serde_json::Value;

use super::{canonical_object, Filter, PayloadIndex};
use crate::error::KernelError;

/// The message of an `InvalidArgument`, failing the test on anything else.
fn invalid_msg<T: std::fmt::Debug>(r: Result<T, KernelError>) -> String {
    match r {
        Err(KernelError::InvalidArgument(m)) => m,
        other => panic!("expected InvalidArgument, got {other:?}"),
    }
}

/// Records by id (`None`: no metadata), indexed from their canonical bytes.
struct Fixture {
    metas: Vec<Option<Value>>,
    index: PayloadIndex,
}

impl Fixture {
    fn new(records: &[Option<&str>]) -> Fixture {
        let mut index = PayloadIndex::new();
        let mut metas = Vec::new();
        for (id, rec) in records.iter().enumerate() {
            match rec {
                Some(json) => {
                    let bytes = canonical_object(json).expect("fixture metadata is valid");
                    index.insert(id as u32, &bytes);
                    metas.push(Some(serde_json::from_slice(&bytes).unwrap()));
                }
                None => metas.push(None),
            }
        }
        Fixture { metas, index }
    }

    /// Ids in `0..slots` that `filter` selects, after checking that the index
    /// and the reference evaluator agree on every id.
    fn ids(&self, filter: &str, slots: u32) -> Vec<u32> {
        let f = Filter::parse(filter).unwrap_or_else(|e| panic!("{filter}: {e:?}"));
        let bits = self.index.select(&f, slots);
        assert_eq!(
            bits.len(),
            (slots as usize).div_ceil(64),
            "{filter}: word count"
        );
        let from_index = bit_ids(&bits);
        let from_eval: Vec<u32> = (0..slots)
            .filter(|&id| f.matches(self.metas.get(id as usize).and_then(Option::as_ref)))
            .collect();
        assert_eq!(
            from_index, from_eval,
            "index and evaluator differ on {filter}"
        );
        from_index
    }
}

fn bit_ids(bits: &[u64]) -> Vec<u32> {
    let mut out = Vec::new();
    for (w, word) in bits.iter().enumerate() {
        for b in 0..64 {
            if word & (1u64 << b) != 0 {
                out.push((w * 64 + b) as u32);
            }
        }
    }
    out
}
