//! Static files from `www/`: the page, script and style that open the WebSockets.
//!
//! The files come from the copy of `www/` built into the binary (`build.rs` lists them and
//! `include_bytes!` embeds them), so `wsmith` serves its page from any directory; or, with
//! `--www DIR`, from a folder read at each request ([`Www`]). Both answer the same paths with
//! the same headers.
//!
//! Not part of RFC 6455, but of every WebSocket server a browser talks to: the same port serves
//! plain HTTP for requests without an `Upgrade` header (§4.2.1's handshake "is intended to be
//! compatible with HTTP-based server-side software", §1.3). Three rules keep it safe:
//!
//! - **Only files inside `www/`.** The request path is percent-decoded one segment at a time,
//!   and any segment that could move up or sideways (`..`, `.`, one that decodes to hold `/`,
//!   `\` or NUL, an empty one as in `//etc/passwd`) is refused with 403 before the file system
//!   is touched. Then the path is canonicalized and must still be under the canonical root, so
//!   a symbolic link that points out of the folder is refused too.
//! - **No hidden files** (`.env`, `.git/`): a segment starting with `.` is refused with 403.
//! - **No directory listings**: a directory is answered 404, only `/` maps to `index.html`.
//!
//! An invalid percent escape (`%zz`, `%4`) or one that decodes to bytes that are not UTF-8 is
//! answered 404: no file in `www/` has such a name, and nothing about it is dangerous.

use std::borrow::Cow;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use crate::config::Www;
use crate::protocol::http::{reason_phrase, response, response_head};

/// The copy of `www/` written by `build.rs`.
mod built_in {
    include!(concat!(env!("OUT_DIR"), "/www.rs"));
}

/// The file served for the request path `/`.
pub(crate) const INDEX: &str = "index.html";

/// Why a static file is not served, each with its HTTP status.
#[derive(Debug)]
pub(crate) enum StaticError {
    /// No file at this path, or a directory, or a path no file can have (404).
    NotFound,
    /// The path tries to leave `www/` or names a hidden file (403).
    Forbidden,
    /// A method other than GET and HEAD (405; RFC 9110 §9.1: "All general-purpose servers MUST
    /// support the methods GET and HEAD").
    MethodNotAllowed,
    /// The file exists but cannot be read, or the root itself cannot be found (500).
    Io(io::Error),
}

impl StaticError {
    /// The HTTP status code that answers this error.
    pub(crate) fn status(&self) -> u16 {
        match self {
            Self::NotFound => 404,
            Self::Forbidden => 403,
            Self::MethodNotAllowed => 405,
            Self::Io(_) => 500,
        }
    }
}

impl fmt::Display for StaticError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound => f.write_str("no such file"),
            Self::Forbidden => f.write_str("path leaves the www folder or names a hidden file"),
            Self::MethodNotAllowed => f.write_str("only GET and HEAD are allowed"),
            Self::Io(err) => write!(f, "cannot read the file: {err}"),
        }
    }
}

impl std::error::Error for StaticError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(err) => Some(err),
            _ => None,
        }
    }
}

/// A tree of files a request path can name: a folder on disk, or a [`Www`].
pub(crate) trait Files {
    /// What a request path resolves to: a canonical path, for a folder.
    type Found;
    /// The file at `relative`, a path of plain names that [`resolve`] has checked.
    ///
    /// # Errors
    ///
    /// As [`resolve`].
    fn find(&self, relative: &Path) -> Result<Self::Found, StaticError>;
    /// The contents of a file found, and its `Content-Type`.
    ///
    /// # Errors
    ///
    /// [`StaticError::Io`] if a file on disk cannot be read.
    fn read(found: &Self::Found) -> Result<(Cow<'static, [u8]>, &'static str), StaticError>;
}

impl<P: AsRef<Path> + ?Sized> Files for P {
    type Found = PathBuf;

    /// The canonical path inside the canonical folder, so that no symbolic link leads out.
    fn find(&self, relative: &Path) -> Result<PathBuf, StaticError> {
        let root = self.as_ref().canonicalize().map_err(StaticError::Io)?;
        // Any failure here (no such file, a file used as a directory, a dangling link) means
        // there is nothing to serve at this path.
        let resolved = root
            .join(relative)
            .canonicalize()
            .map_err(|_| StaticError::NotFound)?;
        if !resolved.starts_with(&root) {
            return Err(StaticError::Forbidden);
        }
        if !fs::metadata(&resolved).is_ok_and(|metadata| metadata.is_file()) {
            return Err(StaticError::NotFound);
        }
        Ok(resolved)
    }

    fn read(found: &PathBuf) -> Result<(Cow<'static, [u8]>, &'static str), StaticError> {
        let body = fs::read(found).map_err(StaticError::Io)?;
        Ok((Cow::Owned(body), content_type(found)))
    }
}

/// A file of a [`Www`]: one built into the binary, or a canonical path on disk.
#[derive(Debug)]
pub(crate) enum Found {
    /// A file of the built-in copy, by its path inside `www/`.
    BuiltIn {
        /// `js/main.js`.
        path: &'static str,
        /// Its contents, as they were when the binary was built.
        contents: &'static [u8],
    },
    /// A file of `--www DIR`.
    OnDisk(PathBuf),
}

impl Files for Www {
    type Found = Found;

    fn find(&self, relative: &Path) -> Result<Found, StaticError> {
        let folder = match self {
            Self::Folder(folder) => return folder.find(relative).map(Found::OnDisk),
            Self::BuiltIn(folder) => folder,
        };
        // Plain names only (checked by `relative_path`), joined as the table writes them.
        let names: Vec<&str> = relative
            .components()
            .filter_map(|component| component.as_os_str().to_str())
            .collect();
        let mut wanted = folder.clone();
        for name in names {
            if !wanted.is_empty() {
                wanted.push('/');
            }
            wanted.push_str(name);
        }
        // A folder is not in the table, so it is not found, as on disk.
        let files = built_in::FILES;
        let index = files
            .binary_search_by(|(path, _)| (*path).cmp(wanted.as_str()))
            .map_err(|_| StaticError::NotFound)?;
        let &(path, contents) = files.get(index).ok_or(StaticError::NotFound)?;
        Ok(Found::BuiltIn { path, contents })
    }

    fn read(found: &Found) -> Result<(Cow<'static, [u8]>, &'static str), StaticError> {
        match found {
            Found::BuiltIn { path, contents } => {
                Ok((Cow::Borrowed(*contents), content_type(Path::new(path))))
            }
            Found::OnDisk(path) => <PathBuf as Files>::read(path),
        }
    }
}

/// Finds the file that a request path names inside `root`.
///
/// `target_path` is the path part of the request-target, still percent-encoded
/// ([`crate::protocol::http::RequestHead::path`]); `/` names [`INDEX`]. A folder `root` need not
/// be canonical: it is canonicalized here, and the returned path is canonical and inside it.
///
/// # Errors
///
/// - [`StaticError::Forbidden`] if the path does not start with `/`, or a segment is empty,
///   `.` or `..`, starts with `.`, or decodes to hold `/`, `\` or NUL; or if the file it
///   resolves to (following symbolic links) is outside `root`.
/// - [`StaticError::NotFound`] if a percent escape is invalid or decodes to non-UTF-8 bytes, if
///   nothing exists at the path, or if it is a directory or ends with `/` (other than `/`).
/// - [`StaticError::Io`] if a folder `root` itself cannot be canonicalized.
pub(crate) fn resolve<R: Files + ?Sized>(
    root: &R,
    target_path: &str,
) -> Result<R::Found, StaticError> {
    let relative = relative_path(target_path)?;
    root.find(&relative)
}

/// Turns `/a/b%20c` into the relative path `a/b c`, refusing every segment that is not a
/// plain file or folder name.
fn relative_path(target_path: &str) -> Result<PathBuf, StaticError> {
    let rest = target_path
        .strip_prefix('/')
        .ok_or(StaticError::Forbidden)?;
    if rest.is_empty() {
        return Ok(PathBuf::from(INDEX));
    }
    let mut path = PathBuf::new();
    let mut segments = rest.split('/').peekable();
    while let Some(raw) = segments.next() {
        if raw.is_empty() {
            // A trailing `/` names a folder, and folders are not listed; an empty segment
            // elsewhere, as in `//etc/passwd` or `/a//b`, is how absolute-path tricks start.
            return Err(match segments.peek() {
                None => StaticError::NotFound,
                Some(_) => StaticError::Forbidden,
            });
        }
        let segment = percent_decode(raw)?;
        if !is_plain_name(&segment) {
            return Err(StaticError::Forbidden);
        }
        path.push(segment);
    }
    Ok(path)
}

/// Whether a decoded segment is one ordinary, visible file or folder name.
fn is_plain_name(segment: &str) -> bool {
    let has_separator = segment.contains(['/', '\\', '\0']);
    // `.` and `..` start with a dot too, so this also refuses moving up or staying put.
    let is_hidden = segment.starts_with('.');
    // On Windows, `C:` or `\\server` would parse as a prefix, not a name.
    let mut components = Path::new(segment).components();
    let is_one_name =
        matches!(components.next(), Some(Component::Normal(_))) && components.next().is_none();
    !has_separator && !is_hidden && is_one_name
}

/// Decodes the `%XX` escapes of one path segment (RFC 3986 §2.1).
fn percent_decode(raw: &str) -> Result<String, StaticError> {
    let mut decoded = Vec::with_capacity(raw.len());
    let mut rest = raw.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        rest = tail;
        if byte != b'%' {
            decoded.push(byte);
            continue;
        }
        let (&[high, low], tail) = rest.split_first_chunk::<2>().ok_or(StaticError::NotFound)?;
        rest = tail;
        let value = hex_digit(high)
            .zip(hex_digit(low))
            .map(|(high, low)| (high << 4) | low)
            .ok_or(StaticError::NotFound)?;
        decoded.push(value);
    }
    String::from_utf8(decoded).map_err(|_| StaticError::NotFound)
}

/// The value of one hexadecimal digit, either case.
fn hex_digit(byte: u8) -> Option<u8> {
    char::from(byte)
        .to_digit(16)
        .and_then(|digit| u8::try_from(digit).ok())
}

/// The `Content-Type` for a file, from its extension (case-insensitive).
///
/// Text types say `charset=utf-8`, so a browser never has to guess; anything unknown is
/// `application/octet-stream`, which a browser downloads rather than runs.
pub(crate) fn content_type(path: &Path) -> &'static str {
    let extension = path
        .extension()
        .and_then(|ext| ext.to_str())
        .unwrap_or_default();
    match extension.to_ascii_lowercase().as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "txt" => "text/plain; charset=utf-8",
        "json" => "application/json",
        "png" => "image/png",
        "svg" => "image/svg+xml",
        "ico" => "image/x-icon",
        "wasm" => "application/wasm",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}

/// Headers on every static response: revalidate before reusing a cached copy, never guess a
/// type other than the one sent, and close the connection after the response.
const COMMON_HEADERS: [(&str, &str); 3] = [
    ("Cache-Control", "no-cache"),
    ("X-Content-Type-Options", "nosniff"),
    ("Connection", "close"),
];

/// Builds the whole HTTP response to a request for a static file.
///
/// GET gets the file; HEAD gets the same head, `Content-Length` included, and no body (RFC 9110
/// §9.3.2). Any other method gets 405 with `Allow: GET, HEAD`. Errors get a one-line
/// `text/plain` body with the status and its reason phrase, and nothing about the file system.
pub(crate) fn serve<R: Files + ?Sized>(root: &R, method: &str, target_path: &str) -> Vec<u8> {
    let head_only = match method {
        "GET" => false,
        "HEAD" => true,
        _ => return error_page(&StaticError::MethodNotAllowed, false),
    };
    let file = resolve(root, target_path).and_then(|found| R::read(&found));
    match file {
        Ok((body, content_type)) => {
            let mut headers = vec![("Content-Type", content_type)];
            headers.extend(COMMON_HEADERS);
            if head_only {
                response_head(200, &headers, body.len())
            } else {
                response(200, &headers, &body)
            }
        }
        Err(err) => {
            match &err {
                StaticError::Io(_) => log::warn!("static file {target_path:?}: {err}"),
                _ => log::debug!("static file {target_path:?}: {err}"),
            }
            error_page(&err, head_only)
        }
    }
}

/// The response for a static-file error: `404 Not Found` and the like, as plain text.
fn error_page(err: &StaticError, head_only: bool) -> Vec<u8> {
    let status = err.status();
    let mut headers = vec![("Content-Type", "text/plain; charset=utf-8")];
    headers.extend(COMMON_HEADERS);
    if let StaticError::MethodNotAllowed = err {
        // RFC 9110 §15.5.6: a 405 "MUST generate an Allow header field".
        headers.push(("Allow", "GET, HEAD"));
    }
    let body = format!("{status} {}\n", reason_phrase(status));
    if head_only {
        response_head(status, &headers, body.len())
    } else {
        response(status, &headers, body.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A temporary folder holding `www/` (the root) and a secret file beside it; removed on drop.
    struct Site {
        base: PathBuf,
    }

    impl Site {
        fn new(test: &str) -> Self {
            let base =
                std::env::temp_dir().join(format!("wsmith-static-{}-{test}", std::process::id()));
            let _ = fs::remove_dir_all(&base);
            let files: &[(&str, &str)] = &[
                ("secret.txt", "SECRET outside the root"),
                ("Cargo.toml", "SECRET outside the root"),
                ("www/index.html", "<h1>wsmith</h1>"),
                ("www/style.css", "body {}"),
                ("www/hello world.txt", "hello"),
                ("www/.env", "SECRET hidden file"),
                ("www/sub/page.txt", "page"),
            ];
            for (name, contents) in files {
                let path = base.join(name);
                fs::create_dir_all(path.parent().expect("has a parent")).expect("create dirs");
                fs::write(path, contents).expect("write file");
            }
            #[cfg(unix)]
            {
                use std::os::unix::fs::symlink;
                let www = base.join("www");
                symlink(base.join("secret.txt"), www.join("out.txt")).expect("symlink");
                symlink(&base, www.join("outdir")).expect("symlink");
                symlink(www.join("style.css"), www.join("inside.css")).expect("symlink");
                symlink("..", www.join("sub/up")).expect("symlink");
            }
            Self { base }
        }

        fn root(&self) -> PathBuf {
            self.base.join("www")
        }
    }

    impl Drop for Site {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.base);
        }
    }

    fn text(bytes: Vec<u8>) -> String {
        String::from_utf8(bytes).expect("utf-8 response")
    }

    #[test]
    fn traversal_attempts_are_forbidden_and_never_served() {
        let site = Site::new("traversal");
        let mut cases = vec![
            "/../Cargo.toml",
            "/../secret.txt",
            "/%2e%2e/secret.txt",
            "/%2e%2e/x",
            "/a/%2E%2E/%2e%2e/x",
            "/sub/../index.html",
            "/..%2fx",
            "/..%2Fsecret.txt",
            "/sub/..%2F..%2Fsecret.txt",
            "/%2fetc%2fpasswd",
            "//etc/passwd",
            "/sub//page.txt",
            "/a\\..\\b",
            "/sub/%5c..%5csecret.txt",
            "/%00",
            "/index.html%00.txt",
            "/.",
            "/./index.html",
            "/.env",
            "/%2eenv",
            "index.html",
            "http://localhost/index.html",
            "*",
            "",
        ];
        if cfg!(unix) {
            cases.extend(["/out.txt", "/outdir/secret.txt", "/outdir/Cargo.toml"]);
        }
        for target in cases {
            let result = resolve(&site.root(), target);
            assert!(
                matches!(result, Err(StaticError::Forbidden)),
                "{target:?}: {result:?}"
            );
            let served = text(serve(&site.root(), "GET", target));
            assert!(
                served.starts_with("HTTP/1.1 403 Forbidden\r\n"),
                "{target:?}: {served}"
            );
            assert!(!served.contains("SECRET"), "{target:?}");
        }
    }

    #[test]
    fn missing_files_directories_and_bad_escapes_are_not_found() {
        let site = Site::new("not-found");
        let cases = [
            "/nope.html",
            "/sub",
            "/sub/",
            "/sub/page.txt/",
            "/index.html/x",
            "/%zz",
            "/%4",
            "/index%2",
            "/%ff.txt",
        ];
        for target in cases {
            let result = resolve(&site.root(), target);
            assert!(
                matches!(result, Err(StaticError::NotFound)),
                "{target:?}: {result:?}"
            );
            let served = text(serve(&site.root(), "GET", target));
            assert!(
                served.starts_with("HTTP/1.1 404 Not Found\r\n"),
                "{target:?}: {served}"
            );
            assert!(
                served.ends_with("\r\n\r\n404 Not Found\n"),
                "{target:?}: {served}"
            );
        }
    }

    #[cfg(unix)]
    #[test]
    fn symbolic_links_inside_the_root_are_followed() {
        let site = Site::new("links");
        let resolved = resolve(&site.root(), "/inside.css").expect("inside");
        assert_eq!(fs::read_to_string(resolved).expect("read"), "body {}");
        // `sub/up` points back to `www/` itself: a folder, so no listing.
        assert!(matches!(
            resolve(&site.root(), "/sub/up"),
            Err(StaticError::NotFound)
        ));
        assert!(resolve(&site.root(), "/sub/up/style.css").is_ok());
    }

    #[test]
    fn files_inside_the_root_are_found_with_escapes_decoded() {
        let site = Site::new("found");
        let cases = [
            ("/", "<h1>wsmith</h1>"),
            ("/index.html", "<h1>wsmith</h1>"),
            ("/st%79le.css", "body {}"),
            ("/hello%20world.txt", "hello"),
            ("/sub/page.txt", "page"),
            ("/sub/page%2etxt", "page"),
        ];
        for (target, contents) in cases {
            let resolved = resolve(&site.root(), target).expect(target);
            assert!(resolved.starts_with(site.root().canonicalize().expect("root")));
            assert_eq!(
                fs::read_to_string(resolved).expect("read"),
                contents,
                "{target}"
            );
        }
    }

    #[test]
    fn index_is_served_at_the_root_with_its_headers() {
        let site = Site::new("index");
        let served = text(serve(&site.root(), "GET", "/"));
        let expected = "HTTP/1.1 200 OK\r\n\
            Content-Type: text/html; charset=utf-8\r\n\
            Cache-Control: no-cache\r\n\
            X-Content-Type-Options: nosniff\r\n\
            Connection: close\r\n\
            Content-Length: 15\r\n\
            \r\n\
            <h1>wsmith</h1>";
        assert_eq!(served, expected);
    }

    #[test]
    fn head_gets_the_same_head_and_no_body() {
        let site = Site::new("head");
        let get = serve(&site.root(), "GET", "/style.css");
        let head = serve(&site.root(), "HEAD", "/style.css");
        assert_eq!(get.strip_suffix(b"body {}"), Some(&head[..]));
        let missing = text(serve(&site.root(), "HEAD", "/nope"));
        assert!(
            missing.starts_with("HTTP/1.1 404 Not Found\r\n"),
            "{missing}"
        );
        assert!(missing.ends_with("Content-Length: 14\r\n\r\n"), "{missing}");
    }

    #[test]
    fn other_methods_are_not_allowed() {
        let site = Site::new("methods");
        for method in ["POST", "PUT", "DELETE", "get", "OPTIONS"] {
            let served = text(serve(&site.root(), method, "/index.html"));
            assert!(
                served.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"),
                "{method}"
            );
            assert!(served.contains("\r\nAllow: GET, HEAD\r\n"), "{method}");
        }
    }

    #[test]
    fn missing_root_is_an_io_error() {
        let root = std::env::temp_dir().join(format!("wsmith-no-root-{}", std::process::id()));
        let result = resolve(&root, "/index.html");
        assert!(matches!(result, Err(StaticError::Io(_))), "{result:?}");
        let served = text(serve(&root, "GET", "/index.html"));
        assert!(
            served.starts_with("HTTP/1.1 500 Internal Server Error\r\n"),
            "{served}"
        );
    }

    #[test]
    fn content_types_follow_the_extension() {
        let cases = [
            ("index.html", "text/html; charset=utf-8"),
            ("INDEX.HTM", "text/html; charset=utf-8"),
            ("style.css", "text/css; charset=utf-8"),
            ("app.js", "text/javascript; charset=utf-8"),
            ("notes.txt", "text/plain; charset=utf-8"),
            ("data.json", "application/json"),
            ("logo.png", "image/png"),
            ("logo.svg", "image/svg+xml"),
            ("favicon.ico", "image/x-icon"),
            ("module.wasm", "application/wasm"),
            ("font.woff2", "font/woff2"),
            ("archive.tar.gz", "application/octet-stream"),
            ("Makefile", "application/octet-stream"),
        ];
        for (name, expected) in cases {
            assert_eq!(content_type(Path::new(name)), expected, "{name}");
        }
    }

    #[test]
    fn each_error_has_its_status() {
        let cases = [
            (StaticError::NotFound, 404),
            (StaticError::Forbidden, 403),
            (StaticError::MethodNotAllowed, 405),
            (StaticError::Io(io::Error::other("disk")), 500),
        ];
        for (err, status) in cases {
            assert_eq!(err.status(), status, "{err}");
        }
    }
}
