//! The test kit is a library, so it finds the `ktail` binary and the scratch directory from the
//! running executable; here it must agree with what cargo tells this test crate.

use std::path::Path;

#[test]
fn testkit_finds_what_cargo_built_for_these_tests() {
    assert_eq!(
        ktail_testkit::ktail_bin(),
        Path::new(env!("CARGO_BIN_EXE_ktail"))
    );
    assert_eq!(
        ktail_testkit::target_tmp(),
        Path::new(env!("CARGO_TARGET_TMPDIR"))
    );
}
