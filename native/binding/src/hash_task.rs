//! BLAKE3 state hash on the libuv pool (O(state size)).

use std::sync::Arc;

use napi::bindgen_prelude::*;
use valori_kernel::codec;
use valori_kernel::engine::Engine;

pub struct HashTask {
    pub engine: Arc<Engine>,
}

impl Task for HashTask {
    type Output = (u64, String);
    type JsValue = String;

    fn compute(&mut self) -> Result<Self::Output> {
        let engine = self.engine.clone();
        std::panic::catch_unwind(move || {
            let db = engine.read();
            (db.state.height(), codec::hex(&codec::state_hash(&db.state)))
        })
        .map_err(|_| Error::from_reason("state hash panicked"))
    }

    fn resolve(&mut self, _env: Env, output: Self::Output) -> Result<Self::JsValue> {
        Ok(output.1)
    }
}
