//! The prebuilt grep Lambda (`lambda-artifact/dist/`), embedded at compile time so that installing
//! ktail needs no cross toolchain: `attach` uploads these bytes as they are.

use base64::Engine as _;
use sha2::{Digest, Sha256};

/// The CPU a function runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Architecture {
    /// Graviton: about 20 % cheaper per GB-second, the default.
    Arm64,
    X86_64,
}

impl Architecture {
    /// The name Lambda uses (`Architectures` in CreateFunction).
    pub fn lambda_name(self) -> &'static str {
        match self {
            Architecture::Arm64 => "arm64",
            Architecture::X86_64 => "x86_64",
        }
    }
}

static ARM64_ZIP: &[u8] = include_bytes!("../../lambda-artifact/dist/ktail-grep-arm64.zip");
static X86_64_ZIP: &[u8] = include_bytes!("../../lambda-artifact/dist/ktail-grep-x86_64.zip");

/// The deployment package (a zip holding `bootstrap`, runtime `provided.al2023`).
pub fn zip(arch: Architecture) -> &'static [u8] {
    match arch {
        Architecture::Arm64 => ARM64_ZIP,
        Architecture::X86_64 => X86_64_ZIP,
    }
}

/// The package's hash as Lambda reports it in `CodeSha256` (base64 of SHA-256), to tell whether
/// a deployed function already runs this build.
pub fn code_sha256(arch: Architecture) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(zip(arch)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_zips_are_embedded_and_distinct() {
        for arch in [Architecture::Arm64, Architecture::X86_64] {
            let zip = zip(arch);
            assert!(zip.starts_with(b"PK\x03\x04"), "{arch:?} is not a zip");
            assert!(zip.len() <= 5 * 1024 * 1024, "{arch:?} zip is over 5 MB");
        }
        assert_ne!(
            code_sha256(Architecture::Arm64),
            code_sha256(Architecture::X86_64)
        );
    }

    #[test]
    fn code_sha256_is_base64_of_sha256() {
        let hash = code_sha256(Architecture::X86_64);
        assert_eq!(hash.len(), 44);
        let raw = base64::engine::general_purpose::STANDARD
            .decode(&hash)
            .unwrap();
        assert_eq!(
            raw.as_slice(),
            Sha256::digest(zip(Architecture::X86_64)).as_slice()
        );
    }

    #[test]
    fn names_are_lambdas() {
        assert_eq!(Architecture::Arm64.lambda_name(), "arm64");
        assert_eq!(Architecture::X86_64.lambda_name(), "x86_64");
    }
}
