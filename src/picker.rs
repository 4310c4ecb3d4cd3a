//! The interactive stream picker (lands with the terminal-experience issue).
