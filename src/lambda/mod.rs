//! The embedded grep function, its deployment, event source mappings and IAM role (lands with `ktail attach`).

pub mod artifact;
