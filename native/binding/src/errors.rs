//! Kernel errors → JS errors whose `code` is the kernel's stable code.

use napi::bindgen_prelude::*;
use valori_kernel::KernelError;

/// Error type of every export: `err.code` in JS is the kernel's code.
pub type JsResult<T> = std::result::Result<T, napi::Error<String>>;

pub fn to_js(e: KernelError) -> napi::Error<String> {
    napi::Error::new(e.code().to_string(), e.to_string())
}

fn internal(msg: impl Into<String>) -> napi::Error<String> {
    napi::Error::new("INTERNAL".to_string(), msg.into())
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

/// Run `f`, turning a Rust panic into an INTERNAL error instead of unwinding
/// into Node.
pub fn guard<T>(f: impl FnOnce() -> JsResult<T>) -> JsResult<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => {
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(internal(format!("internal error (panic): {msg}")))
        }
    }
}
