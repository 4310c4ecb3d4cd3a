//! Test support: emulators on 127.0.0.1 (lands with the foundation issue).
