//! KPL aggregation format; the codec lands with the foundation issue.
