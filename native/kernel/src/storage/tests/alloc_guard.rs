//! A global allocator wrapper that records, per thread, any single
//! allocation above a limit. Lets the fuzz tests prove that no length read
//! from hostile bytes is used to allocate (R8): with a 1 KiB input, a 2^28
//! length word must never turn into a 256 MiB buffer.
//!
//! It is installed for the whole unit-test binary but does nothing unless a
//! thread has set a limit; the cost elsewhere is one thread-local read.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    static LIMIT: Cell<usize> = const { Cell::new(usize::MAX) };
    static LARGEST_OVER: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    let _ = LIMIT.try_with(|limit| {
        if size > limit.get() {
            let _ = LARGEST_OVER.try_with(|l| l.set(l.get().max(size)));
        }
    });
}

struct Guard;

// SAFETY: every call is forwarded unchanged to the system allocator; the
// wrapper only reads and writes thread-local counters.
unsafe impl GlobalAlloc for Guard {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Guard = Guard;

/// Runs `f` and returns its result plus the largest single allocation it
/// made above `limit` bytes on this thread (0 if none).
pub fn with_alloc_limit<R>(limit: usize, f: impl FnOnce() -> R) -> (R, usize) {
    LARGEST_OVER.with(|l| l.set(0));
    LIMIT.with(|l| l.set(limit));
    let r = f();
    LIMIT.with(|l| l.set(usize::MAX));
    (r, LARGEST_OVER.with(|l| l.get()))
}

#[test]
fn guard_reports_a_large_allocation() {
    let (_, over) = with_alloc_limit(1024, || vec![0u8; 4096]);
    assert_eq!(over, 4096);
    let (_, over) = with_alloc_limit(1024, || vec![0u8; 16]);
    assert_eq!(over, 0);
}
