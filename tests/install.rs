//! The binary runs anywhere: copied away from where it was built and started from an empty
//! directory outside the repository (what `cargo install --path .` gives), it serves its page, `/favicon.ico` and every
//! tutorial's page from the copy built into it, byte for byte as `www/` holds them; and it
//! says its version and which port is taken.
//!
//! `WSMITH_BIN` names the binary to test (the release build, say); by default, this build's.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use support::TIMEOUT;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// The binary, copied once into cargo's scratch folder for tests. Once, before any test starts
/// a process: a file open for writing while another thread forks cannot be executed (ETXTBSY).
fn installed_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let built = std::env::var_os("WSMITH_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_wsmith")));
        let folder = Path::new(env!("CARGO_TARGET_TMPDIR")).join("installed");
        std::fs::create_dir_all(&folder).expect("a folder for the copy");
        let copy = folder.join("wsmith");
        std::fs::copy(&built, &copy).expect("copy the binary");
        copy
    })
}

/// An empty working directory of its own under the temp dir, outside the repository; removed
/// on drop.
struct Installed {
    base: PathBuf,
}

impl Installed {
    fn new(test: &str) -> Self {
        assert!(installed_binary().is_file());
        let base =
            std::env::temp_dir().join(format!("wsmith-install-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).expect("an empty directory");
        Self { base }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(installed_binary());
        command.args(args).current_dir(&self.base);
        command
    }

    /// Starts it; returns the child and the addresses it printed (`listening on`, `page on`).
    fn start(&self, args: &[&str]) -> Running {
        let mut child = self
            .command(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start wsmith");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut address = |prefix: &str| -> SocketAddr {
            let line = lines.next().and_then(Result::ok).unwrap_or_default();
            line.strip_prefix(prefix)
                .and_then(|addr| addr.trim().parse().ok())
                .unwrap_or_else(|| panic!("expected {prefix:?}, got {line:?}"))
        };
        let addr = address("wsmith listening on http://");
        let page = args
            .contains(&"--page-addr")
            .then(|| address("wsmith page on http://"));
        Running { child, addr, page }
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

/// A running `wsmith`, killed on drop.
struct Running {
    child: Child,
    addr: SocketAddr,
    page: Option<SocketAddr>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET path`: the status, the `Content-Type`, the body as bytes.
fn get(addr: SocketAddr, path: &str) -> (u16, String, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    stream.write_all(request.as_bytes()).expect("request");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let end = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("{path}: no head in {:?}", String::from_utf8_lossy(&answer)));
    let head = String::from_utf8_lossy(&answer[..end]).into_owned();
    let body = answer[end + 4..].to_vec();
    let content_type = head
        .lines()
        .find_map(|line| line.strip_prefix("Content-Type: "))
        .unwrap_or_default()
        .to_owned();
    (support::status_of(&head), content_type, body)
}

/// The file of the repository's `www/` at `relative`.
fn in_repo(relative: &str) -> Vec<u8> {
    std::fs::read(Path::new(REPO).join("www").join(relative)).expect(relative)
}

/// Each tutorial's folder under `www/tutorials/` (`common` included).
fn tutorial_folders() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(Path::new(REPO).join("www/tutorials"))
        .expect("www/tutorials")
        .filter_map(Result::ok)
        .filter(|entry| entry.path().is_dir())
        .filter_map(|entry| entry.file_name().into_string().ok())
        .collect();
    names.sort();
    names
}

#[test]
fn started_outside_the_repository_it_serves_its_page_favicon_and_tutorial_pages() {
    let installed = Installed::new("page");
    let server = installed.start(&["--addr", "127.0.0.1:0"]);
    for (path, file, content_type) in [
        ("/", "index.html", "text/html; charset=utf-8"),
        ("/favicon.ico", "favicon.ico", "image/x-icon"),
        ("/style.css", "style.css", "text/css; charset=utf-8"),
        (
            "/js/main.js",
            "js/main.js",
            "text/javascript; charset=utf-8",
        ),
    ] {
        let (status, served_type, body) = get(server.addr, path);
        assert_eq!(
            (status, served_type.as_str()),
            (200, content_type),
            "{path}"
        );
        assert!(body == in_repo(file), "{path}: not the bytes of www/{file}");
    }
    let folders = tutorial_folders();
    assert!(folders.len() >= 10, "{folders:?}");
    for folder in folders {
        let file = match folder.as_str() {
            "common" => format!("tutorials/{folder}/inspector.html"),
            _ => format!("tutorials/{folder}/index.html"),
        };
        let (status, _, body) = get(server.addr, &format!("/{file}"));
        assert_eq!(status, 200, "/{file}");
        assert!(
            body == in_repo(&file),
            "/{file}: not the bytes of www/{file}"
        );
    }
    for (path, status) in [
        ("/nope.html", 404),
        ("/tutorials", 404),
        ("/../Cargo.toml", 403),
    ] {
        assert_eq!(get(server.addr, path).0, status, "{path}");
    }
}

#[test]
fn a_tutorial_started_outside_the_repository_serves_its_page_inspector_and_favicon() {
    let installed = Installed::new("tutorial");
    for (name, has_page_port) in [("welcome-echo", false), ("hello-chat", true)] {
        let mut args = vec!["tutorial", name, "--addr", "127.0.0.1:0"];
        if has_page_port {
            args.extend(["--page-addr", "127.0.0.1:0"]);
        }
        let server = installed.start(&args);
        let page = server.page.unwrap_or(server.addr);
        let index = format!("tutorials/{name}/index.html");
        for (path, file) in [
            ("/", index.as_str()),
            ("/inspector.html", "tutorials/common/inspector.html"),
            ("/favicon.ico", "favicon.ico"),
        ] {
            let (status, _, body) = get(page, path);
            assert_eq!(status, 200, "{name} {path}");
            assert!(body == in_repo(file), "{name} {path}: not www/{file}");
        }
    }
}

#[test]
fn version_names_the_package_version_and_a_commit() {
    let installed = Installed::new("version");
    for flag in ["--version", "-V"] {
        let output = installed.command(&[flag]).output().expect("run");
        assert!(output.status.success(), "{flag}");
        let text = String::from_utf8(output.stdout).expect("utf-8");
        let expected = format!("wsmith {} (", env!("CARGO_PKG_VERSION"));
        assert!(
            text.starts_with(&expected) && text.ends_with(")\n"),
            "{text:?}"
        );
        let commit = &text[expected.len()..text.len() - 2];
        assert!(
            commit == "unknown"
                || (commit.len() >= 7 && commit.chars().all(|c| c.is_ascii_hexdigit())),
            "{commit:?}"
        );
    }
}

#[test]
fn a_port_in_use_names_the_address_and_the_flag_to_change() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind a port");
    let addr = taken.local_addr().expect("address").to_string();
    let installed = Installed::new("in-use");
    let output = installed.command(&["--addr", &addr]).output().expect("run");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).expect("utf-8");
    assert!(
        stderr.contains(&format!("cannot listen on {addr} (--addr)"))
            && stderr.contains("choose another port with --addr"),
        "{stderr}"
    );
}

#[test]
fn a_missing_www_folder_names_the_flag_and_the_folder() {
    let installed = Installed::new("www");
    let output = installed
        .command(&["--addr", "127.0.0.1:0", "--www", "no-such-folder"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).expect("utf-8");
    assert!(stderr.contains("--www no-such-folder: "), "{stderr}");
}
