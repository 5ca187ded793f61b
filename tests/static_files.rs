//! Static files over plain HTTP on the WebSocket port: the right file with the right type, and
//! nothing outside `www/` however the path is spelled.

mod support;

use std::fs;
use std::path::{Path, PathBuf};

use support::{http_exchange, status_of, TestServer};

/// The repository's `www/` folder, which [`TestServer::start`] serves.
fn www() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("www")
}

/// `METHOD target HTTP/1.1` with a Host and nothing else.
fn request(method: &str, target: &str) -> String {
    format!("{method} {target} HTTP/1.1\r\nHost: localhost\r\n\r\n")
}

/// Sends `method target` and returns the whole answer (the server closes after it).
fn fetch(server: &TestServer, method: &str, target: &str) -> String {
    http_exchange(server.addr, request(method, target).as_bytes())
}

/// The value of header field `name` in an answer head (case-insensitive name).
fn header<'a>(answer: &'a str, name: &str) -> Option<&'a str> {
    let head = answer.split("\r\n\r\n").next()?;
    head.split("\r\n").skip(1).find_map(|line| {
        let (field, value) = line.split_once(':')?;
        field.eq_ignore_ascii_case(name).then_some(value.trim())
    })
}

/// The body of an answer: everything after the blank line.
fn body(answer: &str) -> &str {
    answer.split_once("\r\n\r\n").map_or("", |(_, body)| body)
}

#[test]
fn root_serves_index_html_as_utf8_html() {
    let server = TestServer::start();
    let answer = fetch(&server, "GET", "/");
    assert_eq!(status_of(&answer), 200, "{answer:.300}");
    assert_eq!(
        header(&answer, "Content-Type"),
        Some("text/html; charset=utf-8")
    );
    let index = fs::read_to_string(www().join("index.html")).expect("read www/index.html");
    assert_eq!(body(&answer), index);
    assert_eq!(
        header(&answer, "Content-Length").and_then(|v| v.parse().ok()),
        Some(index.len())
    );
}

#[test]
fn script_and_style_are_served_with_their_types() {
    let server = TestServer::start();
    let cases = [
        ("/js/main.js", "js/main.js", "text/javascript"),
        ("/style.css", "style.css", "text/css"),
    ];
    for (target, file, mime) in cases {
        let answer = fetch(&server, "GET", target);
        assert_eq!(status_of(&answer), 200, "{target}: {answer:.300}");
        let content_type = header(&answer, "Content-Type").unwrap_or_default();
        assert!(
            content_type.starts_with(mime),
            "{target}: Content-Type {content_type:?}"
        );
        let contents = fs::read_to_string(www().join(file)).expect("read the file");
        assert_eq!(body(&answer), contents, "{target}");
    }
}

/// `<script type="module">` and every `import` are fetched in CORS mode, and a browser refuses
/// to run a module unless it comes with a JavaScript MIME type (HTML Standard, "fetch a single
/// module script"): every module under `www/js/` must be found at its nested path and typed so.
#[test]
fn every_page_module_is_served_from_its_nested_path_as_javascript() {
    let server = TestServer::start();
    let index = fs::read_to_string(www().join("index.html")).expect("read www/index.html");
    assert!(
        index.contains(r#"<script type="module" src="js/main.js"></script>"#),
        "index.html loads js/main.js as a module"
    );
    let mut modules: Vec<_> = fs::read_dir(www().join("js"))
        .expect("read www/js")
        .map(|entry| entry.expect("a directory entry").file_name())
        .filter_map(|name| name.to_str().map(str::to_owned))
        .filter(|name| name.ends_with(".js"))
        .collect();
    modules.sort();
    assert!(
        modules.len() >= 6,
        "www/js holds the page's modules: {modules:?}"
    );
    for name in modules {
        let target = format!("/js/{name}");
        let answer = fetch(&server, "GET", &target);
        assert_eq!(status_of(&answer), 200, "{target}: {answer:.300}");
        assert_eq!(
            header(&answer, "Content-Type"),
            Some("text/javascript; charset=utf-8"),
            "{target}"
        );
        assert_eq!(header(&answer, "X-Content-Type-Options"), Some("nosniff"));
        let contents = fs::read_to_string(www().join("js").join(&name)).expect("read module");
        assert_eq!(body(&answer), contents, "{target}");
    }
    // The old single script is gone: nothing may still load it.
    assert_eq!(status_of(&fetch(&server, "GET", "/app.js")), 404);
}

#[test]
fn missing_file_is_404() {
    let server = TestServer::start();
    let answer = fetch(&server, "GET", "/missing.html");
    assert_eq!(status_of(&answer), 404, "{answer}");
}

#[test]
fn traversal_attempts_are_refused_and_never_serve_cargo_toml() {
    let server = TestServer::start();
    let cases = [
        "/../Cargo.toml",
        "/%2e%2e/Cargo.toml",
        "/%2E%2E%2FCargo.toml",
        "/..%2fCargo.toml",
        "//etc/passwd",
        "/a/../../Cargo.toml",
        "/%2e%2e%2f%2e%2e%2fCargo.toml",
        "/..\\Cargo.toml",
        "/%5c..%5cCargo.toml",
        "/../../../../../../etc/passwd",
    ];
    for target in cases {
        let answer = fetch(&server, "GET", target);
        let status = status_of(&answer);
        assert!(
            status == 403 || status == 404,
            "{target}: status {status}: {answer:.300}"
        );
        assert!(!answer.contains("[package]"), "{target} served Cargo.toml");
        assert!(!answer.contains("root:"), "{target} served /etc/passwd");
    }
}

#[test]
fn put_is_405_with_allow() {
    let server = TestServer::start();
    let answer = fetch(&server, "PUT", "/");
    assert_eq!(status_of(&answer), 405, "{answer}");
    let allow = header(&answer, "Allow").unwrap_or_default();
    assert!(allow.contains("GET") && allow.contains("HEAD"), "{answer}");
}

#[test]
fn head_gets_content_length_and_no_body() {
    let server = TestServer::start();
    let answer = fetch(&server, "HEAD", "/");
    assert_eq!(status_of(&answer), 200, "{answer}");
    let index = fs::read(www().join("index.html")).expect("read www/index.html");
    assert_eq!(
        header(&answer, "Content-Length").and_then(|v| v.parse().ok()),
        Some(index.len()),
        "{answer}"
    );
    assert!(
        answer.ends_with("\r\n\r\n"),
        "HEAD answer has a body: {answer:.400}"
    );
}

/// A temporary site: `base/www/` served, with a file `base/secret.txt` beside (outside) it;
/// removed on drop.
struct TempSite {
    base: PathBuf,
}

impl TempSite {
    fn new(test: &str) -> Self {
        let base =
            std::env::temp_dir().join(format!("wsmith-it-static-{}-{test}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        let files = [
            ("secret.txt", "TOP SECRET outside www"),
            ("www/index.html", "<h1>temp site</h1>"),
            ("www/page.txt", "a page inside www"),
            ("www/sub/inner.txt", "inner file"),
        ];
        for (name, contents) in files {
            let path = base.join(name);
            fs::create_dir_all(path.parent().expect("has a parent")).expect("create dirs");
            fs::write(path, contents).expect("write file");
        }
        Self { base }
    }

    fn www(&self) -> PathBuf {
        self.base.join("www")
    }
}

impl Drop for TempSite {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.base);
    }
}

#[test]
fn directory_is_404_not_a_listing() {
    let site = TempSite::new("dir");
    let server = TestServer::with(|c| c.www = site.www().into());
    // The server really serves the temporary folder.
    let answer = fetch(&server, "GET", "/sub/inner.txt");
    assert_eq!(body(&answer), "inner file", "{answer}");
    for target in ["/sub", "/sub/"] {
        let answer = fetch(&server, "GET", target);
        assert_eq!(status_of(&answer), 404, "{target}: {answer}");
        assert!(!answer.contains("inner.txt"), "{target} listed: {answer}");
    }
}

#[cfg(unix)]
#[test]
fn symbolic_link_out_of_www_is_refused() {
    use std::os::unix::fs::symlink;
    let site = TempSite::new("symlink");
    let www = site.www();
    symlink(site.base.join("secret.txt"), www.join("leak.txt")).expect("symlink out");
    symlink(www.join("page.txt"), www.join("alias.txt")).expect("symlink in");
    let server = TestServer::with(|c| c.www = www.clone().into());
    let index = fetch(&server, "GET", "/");
    assert_eq!(
        body(&index),
        "<h1>temp site</h1>",
        "serves the temp www: {index}"
    );
    let inside = fetch(&server, "GET", "/alias.txt");
    assert_eq!(
        body(&inside),
        "a page inside www",
        "link inside www: {inside}"
    );
    let leak = fetch(&server, "GET", "/leak.txt");
    let status = status_of(&leak);
    assert!(status == 403 || status == 404, "link out: {leak}");
    assert!(!leak.contains("TOP SECRET"), "link out served: {leak}");
}
