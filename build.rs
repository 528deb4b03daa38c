//! Embeds every shipped rule pack (`rules/*.yaml`) in the binary, already
//! parsed, so a fresh install works with no files on disk and no YAML is
//! parsed on the hot path of every command. Also compiles the vendored
//! gitleaks secret rules (`rules/secrets/gitleaks.toml`) into a Rust table.

#[allow(dead_code)]
#[path = "src/rules/spec.rs"]
mod spec;

#[allow(dead_code)]
#[path = "src/rules/origins.rs"]
mod origins;

#[allow(dead_code)]
#[path = "src/rules/compiled.rs"]
mod compiled;

#[allow(dead_code)]
#[path = "src/detect/ids.rs"]
mod ids;

#[path = "src/detect/re2.rs"]
mod re2;

#[path = "src/detect/build_table.rs"]
mod gitleaks_table;

use std::path::Path;

fn main() {
    shell_front();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    println!("cargo:rerun-if-changed={}", dir.display());
    println!("cargo:rerun-if-changed=src/rules/spec.rs");
    println!("cargo:rerun-if-changed=src/rules/compiled.rs");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("rules/ exists")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    names.sort();
    let mut packed = Vec::new();
    for n in &names {
        let path = dir.join(n);
        println!("cargo:rerun-if-changed={}", path.display());
        let text = std::fs::read_to_string(&path).expect("read rule pack");
        let spec: spec::FileSpec = yaml_serde::from_str(&text).unwrap_or_else(|e| {
            panic!("rules/{n}: {e}");
        });
        let found = origins::rule_origins(&text);
        let origins = spec
            .rules
            .iter()
            .map(|r| {
                found
                    .iter()
                    .find(|(id, _, _)| *id == r.id)
                    .map_or((0, 0), |(_, l, c)| (*l, *c))
            })
            .collect();
        packed.push(compiled::Parsed {
            name: format!("rules/{n}"),
            spec,
            origins,
        });
    }
    let bytes = compiled::compile(packed).unwrap_or_else(|e| panic!("{e}"));
    let dest = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("embedded_rules.bin");
    std::fs::write(dest, bytes).expect("write embedded_rules.bin");
    gitleaks_rules();
}

/// rules/secrets/gitleaks.toml → `$OUT_DIR/gitleaks_rules.rs`.
fn gitleaks_rules() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/secrets/gitleaks.toml");
    println!("cargo:rerun-if-changed={}", src.display());
    for f in ["ids.rs", "re2.rs", "build_table.rs"] {
        println!("cargo:rerun-if-changed=src/detect/{f}");
    }
    let text = std::fs::read_to_string(&src).expect("read rules/secrets/gitleaks.toml");
    let table = gitleaks_table::generate(&text, &ids::GUARD_IDS)
        .unwrap_or_else(|e| panic!("rules/secrets/gitleaks.toml: {e}"));
    let dest = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("gitleaks_rules.rs");
    std::fs::write(dest, table).expect("write gitleaks_rules.rs");
}

/// The shell front (`src/front/`, README "The shell front"): a program
/// with no C library, so it cannot be a Cargo binary of this package,
/// whose every dependency is built with `std`. It is compiled here with
/// the same rustc, aborting on panic, linked static with no start files,
/// and put beside the full binary as `guard-shell` (and in `OUT_DIR`,
/// where the tests find it).
fn shell_front() {
    use std::path::PathBuf;
    println!("cargo:rerun-if-changed=src/front");
    println!("cargo:rerun-if-env-changed=GUARD_FULL_BIN");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    // OUT_DIR is <target>/<profile>/build/guard-<hash>/out.
    let profile_dir = out
        .ancestors()
        .nth(3)
        .expect("OUT_DIR is inside the target directory")
        .to_path_buf();
    let packaged = std::env::var("GUARD_FULL_BIN").ok();
    let full = packaged
        .clone()
        .unwrap_or_else(|| profile_dir.join("guard").display().to_string());
    std::fs::write(
        out.join("front_paths.rs"),
        format!(
            "/// The full binary this front was built beside.\nconst BUILT_FULL: &str = {full:?};\n\
             /// Whether a packager named it (`GUARD_FULL_BIN`), rather than the build tree.\n\
             const FULL_PACKAGED: bool = {};\n",
            packaged.is_some()
        ),
    )
    .expect("write front_paths.rs");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let dest = out.join("guard-shell");
    let status = std::process::Command::new(rustc)
        .args([
            "--edition=2021",
            "--crate-type=bin",
            "--crate-name=guard_shell",
            "-C",
            "opt-level=2",
            "-C",
            "panic=abort",
            "-C",
            "relocation-model=static",
            "-C",
            "target-feature=+crt-static",
            "-C",
            "strip=symbols",
            "-C",
            "link-arg=-nostartfiles",
            "-C",
            "link-arg=-nostdlib",
            "-o",
        ])
        .arg(&dest)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/front/main.rs"))
        .env("OUT_DIR", &out)
        .status()
        .expect("run rustc for the shell front");
    assert!(
        status.success(),
        "the shell front (src/front) did not build"
    );
    let beside = profile_dir.join("guard-shell");
    let tmp = profile_dir.join(".guard-shell.tmp");
    std::fs::copy(&dest, &tmp).expect("copy guard-shell");
    std::fs::rename(&tmp, &beside).expect("place guard-shell");
}
