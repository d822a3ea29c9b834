//! The recommender service's artifact: `cargo xtask build-static` (the static binary, checked) and
//! `cargo xtask publish` (that binary uploaded as a version). Its benchmark is `bench_service`.

use std::path::PathBuf;

use crate::project::{root, run_command, target_dir};
use crate::target::{Arch, require_std, rust_target};

/// `cargo xtask build-static`: the binary `publish` uploads, built and checked the same way;
/// prints its path (the container test builds its image from it).
pub fn build_static_command(arch: Arch, signal: bool) -> crate::Result {
    let path = if signal {
        build_static_signal(arch)?
    } else {
        build_static(arch)?
    };
    println!("{}", path.display());
    Ok(())
}

/// What `cargo xtask publish` was asked for.
pub struct Publish {
    pub store: canaryctl_args::ArtifactStore,
    /// `None`: the recommender crate's version.
    pub version: Option<String>,
    pub arch: Arch,
}

pub fn publish(request: Publish) -> crate::Result {
    let version = match request.version {
        Some(v) => v,
        None => service_version()?,
    };
    let binary = build_static(request.arch)?;
    // Every version carries its target signal: a stack with TargetSignal=enabled runs it.
    let signal = build_static_signal(request.arch)?;

    let mut cmd = crate::ops::canaryctl();
    cmd.args(["--", "publish"])
        .args(["--bucket", &request.store.bucket, "--version", &version])
        .args(["--prefix", &request.store.prefix])
        .arg("--file")
        .arg(&binary)
        .arg("--signal-file")
        .arg(&signal);
    if let Some(url) = &request.store.endpoint_url {
        cmd.args(["--endpoint-url", url]);
    }
    run_command(&mut cmd)
}

/// The recommender crate's version (`services/recommender/Cargo.toml`): what `publish` and
/// `release` call this checkout's binary.
pub fn service_version() -> crate::Result<String> {
    let manifest = root().join("services/recommender/Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .map_err(|err| format!("{}: {err}", manifest.display()))?;
    text.lines()
        .find_map(|line| {
            let value = line
                .strip_prefix("version")?
                .trim_start()
                .strip_prefix('=')?;
            Some(value.trim().trim_matches('"').to_string())
        })
        .ok_or_else(|| format!("{} has no version", manifest.display()).into())
}

/// `cargo build --release -p recommender --target <arch>` with `crt-static`: one binary that runs on
/// any Linux distribution and in a `scratch` image. Checked to be static and for the right machine.
pub fn build_static(arch: Arch) -> crate::Result<PathBuf> {
    build_static_binary("recommender", "recommender", arch)
}

/// The target signal's proxy, built and checked like the recommender.
pub fn build_static_signal(arch: Arch) -> crate::Result<PathBuf> {
    build_static_binary("target-signal", contract::release::SIGNAL_BINARY, arch)
}

/// One binary of one package built as [`build_static`] builds the recommender (the same flags, so
/// the binaries an instance runs share their dependencies' builds), checked the same way.
pub fn build_static_binary(package: &str, bin: &str, arch: Arch) -> crate::Result<PathBuf> {
    let target = rust_target(arch);
    require_std(target)?;
    eprintln!("building the static {bin} for {target}");
    let mut cmd = crate::project::cargo();
    // --target keeps build scripts and proc-macros out of crt-static (they must stay dynamic
    // to be loaded by the host compiler); RUSTFLAGS then applies to the target binary only.
    cmd.current_dir(root())
        .args([
            "build",
            "--release",
            "-p",
            package,
            "--bin",
            bin,
            "--target",
            target,
        ])
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .env_remove("CARGO_ENCODED_RUSTFLAGS");
    run_command(&mut cmd)?;
    let binary = target_dir().join(target).join("release").join(bin);
    let elf = std::fs::read(&binary).map_err(|err| format!("{}: {err}", binary.display()))?;
    check_static_elf(&elf, arch).map_err(|problem| format!("{}: {problem}", binary.display()))?;
    eprintln!("{} is static ({} bytes)", binary.display(), elf.len());
    Ok(binary)
}

const PT_INTERP: u32 = 3;
const EM_X86_64: u16 = 62;
const EM_AARCH64: u16 = 183;

/// A static executable has no program interpreter (`PT_INTERP`, the dynamic loader): glibc's
/// static-pie output keeps a `PT_DYNAMIC` for self-relocation, so that is no sign of dynamic linking.
fn check_static_elf(elf: &[u8], arch: Arch) -> Result<(), String> {
    let u16_at = |at: usize| {
        elf.get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let u32_at = |at: usize| {
        elf.get(at..at + 4)
            .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
    };
    let u64_at = |at: usize| {
        elf.get(at..at + 8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap()))
    };
    // 64-bit (class 2), little-endian (data 1): the only kind both our targets produce.
    if elf.get(..6) != Some(&[0x7f, b'E', b'L', b'F', 2, 1][..]) {
        return Err("not a 64-bit little-endian ELF file".into());
    }
    let (machine, expected) = (
        u16_at(0x12),
        match arch {
            Arch::X86_64 => EM_X86_64,
            Arch::Arm64 => EM_AARCH64,
        },
    );
    if machine != Some(expected) {
        return Err(format!(
            "ELF machine {machine:?} is not {expected} ({arch:?})"
        ));
    }
    let truncated = || "truncated ELF header".to_string();
    let phoff = u64_at(0x20).ok_or_else(truncated)? as usize;
    let phentsize = u16_at(0x36).ok_or_else(truncated)? as usize;
    let phnum = u16_at(0x38).ok_or_else(truncated)? as usize;
    for index in 0..phnum {
        let kind = u32_at(phoff + index * phentsize).ok_or_else(truncated)?;
        if kind == PT_INTERP {
            return Err("dynamically linked (it has a PT_INTERP program interpreter)".into());
        }
    }
    Ok(())
}

// ---- bench-service ----

/// wrk's POST body and a machine-readable summary line (latencies are in microseconds).
#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF64 header with the given machine and program header types.
    fn elf(machine: u16, program_headers: &[u32]) -> Vec<u8> {
        let mut bytes = vec![0u8; 64];
        bytes[..6].copy_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1]);
        bytes[0x12..0x14].copy_from_slice(&machine.to_le_bytes());
        bytes[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
        bytes[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        bytes[0x38..0x3a].copy_from_slice(&(program_headers.len() as u16).to_le_bytes());
        for kind in program_headers {
            let mut header = vec![0u8; 56];
            header[..4].copy_from_slice(&kind.to_le_bytes());
            bytes.extend(header);
        }
        bytes
    }

    #[test]
    fn an_executable_without_interpreter_is_static() {
        // PT_LOAD, PT_DYNAMIC (static-pie keeps it), PT_GNU_STACK
        assert_eq!(
            check_static_elf(&elf(EM_X86_64, &[1, 2, 0x6474e551]), Arch::X86_64),
            Ok(())
        );
    }

    #[test]
    fn an_interpreter_means_dynamic() {
        let err = check_static_elf(&elf(EM_X86_64, &[6, PT_INTERP, 1]), Arch::X86_64).unwrap_err();
        assert!(err.contains("dynamically linked"), "{err}");
        // This test binary itself is an ordinary dynamic executable.
        let own = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        assert!(
            check_static_elf(&own, Arch::X86_64)
                .unwrap_err()
                .contains("PT_INTERP")
        );
    }

    #[test]
    fn the_wrong_machine_or_a_non_elf_is_refused() {
        assert!(
            check_static_elf(&elf(EM_X86_64, &[1]), Arch::Arm64)
                .unwrap_err()
                .contains("not 183")
        );
        assert!(check_static_elf(b"#!/bin/sh\n", Arch::X86_64).is_err());
        assert!(
            check_static_elf(&elf(EM_AARCH64, &[1])[..0x30], Arch::Arm64)
                .unwrap_err()
                .contains("truncated")
        );
    }

    #[test]
    fn a_missing_standard_library_is_named() {
        let err = require_std("riscv64gc-unknown-linux-gnu")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("riscv64gc-unknown-linux-gnu standard library is not installed"),
            "{err}"
        );
    }
}
