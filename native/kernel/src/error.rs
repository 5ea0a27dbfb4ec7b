//! One error enum for the kernel. `code()` is the stable string that reaches
//! JavaScript as `err.code`; the shell keeps it as a domain error and only its
//! HTTP layer maps it to a status, in one table (src/http/errors.ts). The
//! binding exports [`KernelError::CODES`] so a test keeps the shell's list equal.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelError {
    /// A vector's length differs from the configured dimension.
    DimensionMismatch { expected: usize, got: usize },
    /// A vector with no components.
    EmptyVector,
    /// NaN, ±Infinity or a magnitude outside the accepted range.
    InvalidVector(String),
    /// A malformed argument (bad count, bad k, …).
    InvalidArgument(String),
    /// An id that names nothing (or something deleted).
    NotFound(String),
    /// A pool is at its configured capacity.
    CapacityExceeded(String),
    /// One event would encode to more than `MAX_EVENT_BYTES`.
    PayloadTooLarge(String),
    /// Metadata JSON above the size cap.
    MetadataTooLarge { len: usize, max: usize },
    /// Writes refused after an earlier I/O failure or a committer panic.
    ReadOnly(String),
    /// The storage layer failed (write, fsync, rename…).
    Io(String),
    /// Bytes on disk or on the wire do not decode.
    Corrupt(String),
    /// A follower asked for events the leader no longer has (log trimmed).
    BootstrapRequired(String),
    /// A replicated event does not follow this node's height: an event in
    /// between is missing (the stream skipped one). Not evidence that the
    /// states differ; the follower resumes from its height.
    SequenceGap(String),
    /// A call after `close()`: the database serves nothing any more.
    Closed(String),
    /// A collection name or id that names no collection.
    CollectionNotFound(String),
    /// A collection of that name exists already.
    CollectionExists(String),
    /// The collection may not be dropped (`default`).
    CollectionProtected(String),
    /// An idempotency key seen before with a different request.
    IdempotencyKeyReused(String),
    /// A bug: should never happen; never caused by input.
    Internal(String),
    /// A cluster member that is not the leader was asked to write; nothing
    /// was proposed (the message names the leader when one is known).
    NotLeader(String),
    /// A cluster member knows of no leader (an election is running, or this
    /// node is cut off from the majority); nothing was proposed.
    NoLeader(String),
    /// A write was proposed but its outcome is unknown: leadership changed
    /// or the commit did not come in time. Retry with the same idempotency
    /// key; it applies once.
    LeaderChanged(String),
}

impl KernelError {
    /// The same error with `prefix` before its message (which batch item,
    /// which field); errors without a free-form message are returned as is.
    pub fn prefixed(self, prefix: &str) -> KernelError {
        let p = |m: String| format!("{prefix}{m}");
        match self {
            KernelError::InvalidArgument(m) => KernelError::InvalidArgument(p(m)),
            KernelError::InvalidVector(m) => KernelError::InvalidVector(p(m)),
            KernelError::PayloadTooLarge(m) => KernelError::PayloadTooLarge(p(m)),
            other => other,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            KernelError::DimensionMismatch { .. } => "DIMENSION_MISMATCH",
            KernelError::EmptyVector => "EMPTY_VECTOR",
            KernelError::InvalidVector(_) => "INVALID_VECTOR",
            KernelError::InvalidArgument(_) => "INVALID_ARGUMENT",
            KernelError::NotFound(_) => "NOT_FOUND",
            KernelError::CapacityExceeded(_) => "CAPACITY_EXCEEDED",
            KernelError::PayloadTooLarge(_) => "PAYLOAD_TOO_LARGE",
            KernelError::MetadataTooLarge { .. } => "METADATA_TOO_LARGE",
            KernelError::ReadOnly(_) => "READ_ONLY",
            KernelError::Io(_) => "IO_ERROR",
            KernelError::Corrupt(_) => "CORRUPT_DATA",
            KernelError::BootstrapRequired(_) => "BOOTSTRAP_REQUIRED",
            KernelError::SequenceGap(_) => "SEQUENCE_GAP",
            KernelError::Closed(_) => "CLOSED",
            KernelError::CollectionNotFound(_) => "COLLECTION_NOT_FOUND",
            KernelError::CollectionExists(_) => "COLLECTION_EXISTS",
            KernelError::CollectionProtected(_) => "COLLECTION_PROTECTED",
            KernelError::IdempotencyKeyReused(_) => "IDEMPOTENCY_KEY_REUSED",
            KernelError::Internal(_) => "INTERNAL",
            KernelError::NotLeader(_) => "NOT_LEADER",
            KernelError::NoLeader(_) => "NO_LEADER",
            KernelError::LeaderChanged(_) => "LEADER_CHANGED",
        }
    }

    /// Every value `code()` can return, in declaration order.
    pub const CODES: &'static [&'static str] = &[
        "DIMENSION_MISMATCH",
        "EMPTY_VECTOR",
        "INVALID_VECTOR",
        "INVALID_ARGUMENT",
        "NOT_FOUND",
        "CAPACITY_EXCEEDED",
        "PAYLOAD_TOO_LARGE",
        "METADATA_TOO_LARGE",
        "READ_ONLY",
        "IO_ERROR",
        "CORRUPT_DATA",
        "BOOTSTRAP_REQUIRED",
        "SEQUENCE_GAP",
        "CLOSED",
        "COLLECTION_NOT_FOUND",
        "COLLECTION_EXISTS",
        "COLLECTION_PROTECTED",
        "IDEMPOTENCY_KEY_REUSED",
        "INTERNAL",
        "NOT_LEADER",
        "NO_LEADER",
        "LEADER_CHANGED",
    ];
}

/// `e`'s message followed by each error in its `source()` chain
/// ("outer; caused by: inner; caused by: …"), so a flattened kernel error
/// still says what failed underneath (the OS error of a failed fsync).
pub fn with_causes(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    // Bounded: a chain is a handful of links; a cycle would be a bug elsewhere.
    for _ in 0..16 {
        let Some(inner) = cur else { break };
        out.push_str("; caused by: ");
        out.push_str(&inner.to_string());
        cur = inner.source();
    }
    out
}

impl fmt::Display for KernelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KernelError::DimensionMismatch { expected, got } => {
                write!(f, "vector has dimension {got}, expected {expected}")
            }
            KernelError::EmptyVector => write!(f, "vector is empty"),
            KernelError::InvalidVector(m)
            | KernelError::InvalidArgument(m)
            | KernelError::NotFound(m)
            | KernelError::CapacityExceeded(m)
            | KernelError::PayloadTooLarge(m)
            | KernelError::ReadOnly(m)
            | KernelError::Io(m)
            | KernelError::Corrupt(m)
            | KernelError::BootstrapRequired(m)
            | KernelError::SequenceGap(m)
            | KernelError::Closed(m)
            | KernelError::CollectionNotFound(m)
            | KernelError::CollectionExists(m)
            | KernelError::CollectionProtected(m)
            | KernelError::IdempotencyKeyReused(m)
            | KernelError::Internal(m)
            | KernelError::NotLeader(m)
            | KernelError::NoLeader(m)
            | KernelError::LeaderChanged(m) => f.write_str(m),
            KernelError::MetadataTooLarge { len, max } => {
                write!(f, "metadata is {len} bytes, the limit is {max}")
            }
        }
    }
}

impl std::error::Error for KernelError {}

pub type KResult<T> = Result<T, KernelError>;

#[cfg(test)]
mod tests {
    use super::*;

    /// One value of every variant. The match below has no wildcard, so a new
    /// variant fails to compile here until it is added to this list (and so
    /// to the check against `CODES`, which the shell's list is tested against).
    fn one_of_each() -> Vec<KernelError> {
        let all = vec![
            KernelError::DimensionMismatch {
                expected: 1,
                got: 2,
            },
            KernelError::EmptyVector,
            KernelError::InvalidVector(String::new()),
            KernelError::InvalidArgument(String::new()),
            KernelError::NotFound(String::new()),
            KernelError::CapacityExceeded(String::new()),
            KernelError::PayloadTooLarge(String::new()),
            KernelError::MetadataTooLarge { len: 2, max: 1 },
            KernelError::ReadOnly(String::new()),
            KernelError::Io(String::new()),
            KernelError::Corrupt(String::new()),
            KernelError::BootstrapRequired(String::new()),
            KernelError::SequenceGap(String::new()),
            KernelError::Closed(String::new()),
            KernelError::CollectionNotFound(String::new()),
            KernelError::CollectionExists(String::new()),
            KernelError::CollectionProtected(String::new()),
            KernelError::IdempotencyKeyReused(String::new()),
            KernelError::Internal(String::new()),
            KernelError::NotLeader(String::new()),
            KernelError::NoLeader(String::new()),
            KernelError::LeaderChanged(String::new()),
        ];
        for e in &all {
            match e {
                KernelError::DimensionMismatch { .. }
                | KernelError::EmptyVector
                | KernelError::InvalidVector(_)
                | KernelError::InvalidArgument(_)
                | KernelError::NotFound(_)
                | KernelError::CapacityExceeded(_)
                | KernelError::PayloadTooLarge(_)
                | KernelError::MetadataTooLarge { .. }
                | KernelError::ReadOnly(_)
                | KernelError::Io(_)
                | KernelError::Corrupt(_)
                | KernelError::BootstrapRequired(_)
                | KernelError::SequenceGap(_)
                | KernelError::Closed(_)
                | KernelError::CollectionNotFound(_)
                | KernelError::CollectionExists(_)
                | KernelError::CollectionProtected(_)
                | KernelError::IdempotencyKeyReused(_)
                | KernelError::Internal(_)
                | KernelError::NotLeader(_)
                | KernelError::NoLeader(_)
                | KernelError::LeaderChanged(_) => {}
            }
        }
        all
    }

    #[test]
    fn codes_lists_every_variant_once() {
        let codes: Vec<&str> = one_of_each().iter().map(KernelError::code).collect();
        assert_eq!(codes, KernelError::CODES);
        let mut unique = codes.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), codes.len(), "two variants share a code");
    }

    #[test]
    fn with_causes_walks_the_source_chain() {
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl fmt::Display for Outer {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("sync_data failed on events.log")
            }
        }
        impl std::error::Error for Outer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let e = Outer(std::io::Error::other("disk on fire"));
        assert_eq!(
            with_causes(&e),
            "sync_data failed on events.log; caused by: disk on fire"
        );
    }
}
