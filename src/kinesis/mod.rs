//! Shard discovery and lineage, one reader per shard, and the fan-in of readers (lands with `ktail tail`).
