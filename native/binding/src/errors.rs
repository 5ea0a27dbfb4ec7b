//! Kernel errors → JS errors whose `code` is the kernel's stable code.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use valori_kernel::KernelError;

/// Every code a kernel error can carry on `err.code` (the kernel's enum, in
/// declaration order). The shell's test keeps its own list equal to this one.
#[napi]
pub fn kernel_error_codes() -> Vec<String> {
    KernelError::CODES
        .iter()
        .map(|c| (*c).to_string())
        .collect()
}

/// A napi error that carries a JS Error object whose `code` is the kernel's
/// (napi's own `Status` codes cannot hold ours), thrown or rejected as is.
pub fn reject_with(env: &Env, e: KernelError) -> napi::Error {
    let err = napi::Error::new(e.code().to_string(), e.to_string());
    // SAFETY: `env` is the live environment of the calling export or callback.
    unsafe {
        let raw = JsError::from(err).into_value(env.raw());
        napi::Error::from(Unknown::from_raw_unchecked(env.raw(), raw))
    }
}
