//! Terminal progress: spinners on a terminal, plain lines otherwise, nothing with --quiet.
