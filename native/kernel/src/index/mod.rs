//! Search indexes (HNSW, IVF) and quantizers (SQ8, PQ).
