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

pub fn to_js(e: KernelError) -> napi::Error<String> {
    napi::Error::new(e.code().to_string(), e.to_string())
}

/// Build a rejected-promise value from inside an AsyncTask's `resolve`
/// (the Task trait only carries `Status` codes, so the JS error object is
/// made here with our code and handed back as a raw JS exception).
pub fn reject_with(env: &Env, e: KernelError) -> napi::Error {
    let err = to_js(e);
    // SAFETY: `env` is the live environment of the resolve callback.
    unsafe {
        let raw = JsError::from(err).into_value(env.raw());
        napi::Error::from(Unknown::from_raw_unchecked(env.raw(), raw))
    }
}
