//! The one way an export runs. Sync exports: `sync`. Async exports: `promise`
//! (a future, settled on the JS thread: writes, which wait for the committer
//! without holding a thread) or `pooled` (CPU-bound or blocking kernel work
//! on the libuv pool). Each step runs under a panic guard, so a
//! kernel panic becomes an error with code INTERNAL instead of aborting the
//! process.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use napi::bindgen_prelude::*;
use valori_kernel::{KResult, KernelError};

use crate::errors::reject_with;

fn panicked(what: &str) -> KernelError {
    KernelError::Internal(format!(
        "the kernel panicked during {what} (a bug; the process keeps running)"
    ))
}

/// Run `f` under the panic guard (the closure owns or borrows nothing a
/// panic could leave half-updated on this side of the boundary).
fn guarded<T>(what: &str, f: impl FnOnce() -> KResult<T>) -> KResult<T> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| Err(panicked(what)))
}

/// A sync export: its error (or panic) is thrown with the kernel's code.
pub fn sync<T>(env: &Env, what: &str, f: impl FnOnce() -> KResult<T>) -> Result<T> {
    guarded(what, f).map_err(|e| reject_with(env, e))
}

/// Polls the inner future under the panic guard.
struct Guarded<F> {
    inner: Pin<Box<F>>,
    what: &'static str,
}

impl<T, F: Future<Output = KResult<T>>> Future for Guarded<F> {
    type Output = KResult<T>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<KResult<T>> {
        let what = self.what;
        let inner = self.inner.as_mut();
        catch_unwind(AssertUnwindSafe(|| inner.poll(cx)))
            .unwrap_or_else(|_| Poll::Ready(Err(panicked(what))))
    }
}

/// An async export. `start` runs now on the JS thread (argument checks, and
/// queueing a write so writes reach the committer in call order) and returns
/// the work to await; `map` turns the result into JS values on the JS thread.
/// Every failure, including one in `start`, rejects the promise.
pub fn promise<'e, T, V, F>(
    env: &'e Env,
    what: &'static str,
    start: impl FnOnce() -> KResult<F>,
    map: impl FnOnce(T) -> V + 'static,
) -> Result<PromiseRaw<'e, V>>
where
    T: Send + 'static,
    V: ToNapiValue,
    F: Future<Output = KResult<T>> + Send + 'static,
{
    let work = match guarded(what, start) {
        Ok(fut) => Ok(Guarded {
            inner: Box::pin(fut),
            what,
        }),
        Err(e) => Err(e),
    };
    env.spawn_future_with_callback(
        async move {
            Ok(match work {
                Ok(fut) => fut.await,
                Err(e) => Err(e),
            })
        },
        move |env, r: KResult<T>| {
            guarded(what, move || r.map(map)).map_err(|e| reject_with(env, e))
        },
    )
}

/// An async export whose work is CPU-bound or blocking kernel work (search,
/// hashing, snapshot I/O, recovery): it holds a libuv pool thread, so
/// `UV_THREADPOOL_SIZE` bounds how many run at once, and the promise settles
/// straight from the pool's completion on the JS thread. Same guard, same
/// errors as `promise`.
pub fn pooled<'e, T, V>(
    env: &'e Env,
    what: &'static str,
    work: impl FnOnce() -> KResult<T> + Send + 'static,
    map: impl FnOnce(T) -> V + Send + 'static,
) -> Result<PromiseRaw<'e, V>>
where
    T: Send + 'static,
    V: ToNapiValue + TypeName + 'static,
{
    let job = Job {
        what,
        work: Some(Box::new(work)),
        map: Some(Box::new(map)),
    };
    Ok(env.spawn(job)?.promise_object())
}

type Work<T> = Box<dyn FnOnce() -> KResult<T> + Send>;
type Map<T, V> = Box<dyn FnOnce(T) -> V + Send>;

struct Job<T, V> {
    what: &'static str,
    work: Option<Work<T>>,
    map: Option<Map<T, V>>,
}

impl<T: Send + 'static, V: ToNapiValue + TypeName + 'static> Task for Job<T, V> {
    type Output = KResult<T>;
    type JsValue = V;

    fn compute(&mut self) -> Result<KResult<T>> {
        let what = self.what;
        Ok(match self.work.take() {
            Some(f) => guarded(what, f),
            None => Err(KernelError::Internal(format!("{what} ran twice"))),
        })
    }

    fn resolve(&mut self, env: Env, output: KResult<T>) -> Result<V> {
        let map = self.map.take();
        guarded(self.what, move || {
            let map =
                map.ok_or_else(|| KernelError::Internal("a pool job resolved twice".into()))?;
            output.map(map)
        })
        .map_err(|e| reject_with(&env, e))
    }
}
