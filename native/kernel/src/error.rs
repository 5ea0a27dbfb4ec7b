//! One error enum for the kernel. `code()` is the stable string that reaches
//! JavaScript as `err.code`; the HTTP layer maps it to a status in one table.

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
    /// Writes refused: an earlier I/O failure, or a follower.
    ReadOnly(String),
    /// The storage layer failed (write, fsync, rename…).
    Io(String),
    /// Bytes on disk or on the wire do not decode.
    Corrupt(String),
    /// A follower asked for events the leader no longer has (log trimmed).
    BootstrapRequired(String),
    /// A bug: should never happen; never caused by input.
    Internal(String),
}

impl KernelError {
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
            KernelError::Internal(_) => "INTERNAL",
        }
    }
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
            | KernelError::Internal(m) => f.write_str(m),
            KernelError::MetadataTooLarge { len, max } => {
                write!(f, "metadata is {len} bytes, the limit is {max}")
            }
        }
    }
}

impl std::error::Error for KernelError {}

pub type KResult<T> = Result<T, KernelError>;
