//! The record event and its printers (line, raw, json), colours, and the single stdout writer (lands with `ktail tail`).
