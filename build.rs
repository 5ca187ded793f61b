//! Two things the binary carries from the place it was built:
//!
//! - **The page.** Every file of `www/` becomes a `(path, include_bytes!(…))` entry of
//!   `$OUT_DIR/www.rs`, which `src/server/static_files.rs` includes: `wsmith` serves its page from
//!   any directory, `cargo install`ed or not. Hidden files and symbolic links are left out, as
//!   the server would refuse them anyway. `include_bytes!` tells the compiler about each file;
//!   `rerun-if-changed=www` makes cargo run this script again when a file is added or removed.
//! - **The commit.** `WSMITH_GIT_COMMIT` is `git rev-parse --short HEAD`, or `unknown` when the
//!   source is not a git checkout (a crates.io download); `wsmith --version` prints it. The
//!   script runs again when `HEAD` or the branch it names moves, and on no other build.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=www");
    embed_www(&manifest.join("www"), &out.join("www.rs"));
    let commit = git_commit(&manifest).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=WSMITH_GIT_COMMIT={commit}");
}

/// Writes `www.rs`: the files of `www`, sorted by their path inside it.
fn embed_www(www: &Path, target: &Path) {
    let mut files = Vec::new();
    collect(www, "", &mut files);
    files.sort();
    let mut code = String::from(
        "/// Every file of `www/` as `(path inside www/, contents)`, sorted by path (build.rs).\n\
         pub static FILES: &[(&str, &[u8])] = &[\n",
    );
    for (name, path) in &files {
        let _ = writeln!(code, "    ({name:?}, include_bytes!({path:?})),");
    }
    code.push_str("];\n");
    fs::write(target, code).expect("write www.rs into OUT_DIR");
}

/// Adds the regular files under `dir` to `files` as `("css/page.css", "/abs/www/css/page.css")`.
fn collect(dir: &Path, prefix: &str, files: &mut Vec<(String, String)>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let entry = entry.expect("read a www/ entry");
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue; // no request path can name it
        };
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if name.starts_with('.') || kind.is_symlink() {
            continue;
        }
        let relative = format!("{prefix}{name}");
        if kind.is_dir() {
            collect(&entry.path(), &format!("{relative}/"), files);
        } else if kind.is_file() {
            let absolute = entry.path().canonicalize().expect("canonical path");
            files.push((relative, absolute.display().to_string()));
        }
    }
}

/// The short commit of `HEAD`, if `manifest` is the top of a git checkout; asks cargo to run
/// this script again when `HEAD` or its branch changes.
fn git_commit(manifest: &Path) -> Option<String> {
    let git = |args: &[&str]| -> Option<String> {
        let output = Command::new("git")
            .args(args)
            .current_dir(manifest)
            .output()
            .ok()?;
        let text = String::from_utf8(output.stdout).ok()?;
        output.status.success().then(|| text.trim().to_owned())
    };
    // Not a checkout of its own (say, unpacked inside some other repository): no commit.
    let top = PathBuf::from(git(&["rev-parse", "--show-toplevel"])?);
    if top.canonicalize().ok()? != manifest.canonicalize().ok()? {
        return None;
    }
    let watch = |path: String| {
        let path = manifest.join(path); // relative to the manifest, or already absolute
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    };
    watch(git(&["rev-parse", "--git-path", "HEAD"])?);
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        let loose = git(&["rev-parse", "--git-path", &branch])?;
        if manifest.join(&loose).exists() {
            watch(loose);
        } else {
            // A packed branch moves by rewriting packed-refs, or by a new loose file.
            watch(git(&["rev-parse", "--git-path", "packed-refs"])?);
            if let Some(folder) = Path::new(&loose).parent() {
                watch(folder.display().to_string());
            }
        }
    }
    git(&["rev-parse", "--short", "HEAD"])
}
