//! The documentation stays true to the code: the flag table of `docs/operating.md` is the one
//! `wsmith --help` prints, every relative link of README.md, CHANGELOG.md and docs/ resolves
//! (anchors included), README links every file of docs/ and stays short.
//!
//! After changing a flag: `WSMITH_BLESS_DOCS=1 cargo test --test docs` writes the new table
//! into `docs/operating.md`; review the diff.

use std::path::{Path, PathBuf};
use std::process::Command;

use wsmith::config::flags::{markdown_table, FLAGS};

const REPO: &str = env!("CARGO_MANIFEST_DIR");
const TABLE_START: &str =
    "<!-- flags: generated from src/config/flags.rs; tests/docs.rs checks it -->\n";
const TABLE_END: &str = "<!-- flags: end -->";

fn read(relative: &str) -> String {
    std::fs::read_to_string(Path::new(REPO).join(relative)).expect(relative)
}

/// README.md, README.ko.md, CHANGELOG.md and every Markdown file of docs/.
fn markdown_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = ["README.md", "README.ko.md", "CHANGELOG.md"]
        .iter()
        .map(|name| Path::new(REPO).join(name))
        .collect();
    let mut docs: Vec<PathBuf> = std::fs::read_dir(Path::new(REPO).join("docs"))
        .expect("docs/")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

#[test]
fn the_flag_table_in_the_docs_is_the_one_help_prints() {
    let path = Path::new(REPO).join("docs/operating.md");
    let text = read("docs/operating.md");
    let start = text.find(TABLE_START).expect("the table's start marker") + TABLE_START.len();
    let end = start
        + text[start..]
            .find(TABLE_END)
            .expect("the table's end marker");
    let expected = markdown_table();
    if text[start..end] != expected && std::env::var_os("WSMITH_BLESS_DOCS").is_some() {
        let blessed = format!("{}{expected}{}", &text[..start], &text[end..]);
        std::fs::write(&path, blessed).expect("write docs/operating.md");
        return;
    }
    assert!(
        text[start..end] == expected,
        "docs/operating.md's flag table differs from FLAGS (src/config/flags.rs); \
         WSMITH_BLESS_DOCS=1 cargo test --test docs writes it. Expected:\n{expected}"
    );
}

#[test]
fn help_prints_every_flag_of_the_docs_table_with_its_default() {
    let output = Command::new(env!("CARGO_BIN_EXE_wsmith"))
        .arg("--help")
        .output()
        .expect("run wsmith --help");
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).expect("utf-8");
    let text = read("docs/operating.md");
    let start = text.find(TABLE_START).expect("the table's start marker");
    let end = text.find(TABLE_END).expect("the table's end marker");
    let rows: Vec<&str> = text[start..end]
        .lines()
        .filter(|line| line.starts_with("| `--"))
        .collect();
    assert_eq!(rows.len(), FLAGS.len(), "one row per flag");
    for row in rows {
        let cells: Vec<&str> = row.split(" | ").collect();
        let name = cells
            .first()
            .and_then(|cell| cell.trim_start_matches("| `").split(' ').next())
            .expect("a flag name");
        let default = cells.get(1).expect("a default").replace("\\|", "|");
        let line = help
            .lines()
            .find(|line| line.trim_start().starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} is in the docs' table but not in --help"));
        assert!(
            line.contains(&default),
            "{name}: default {default:?} not in {line:?}"
        );
    }
}

/// GitHub's anchor for a heading: lowercase; letters, digits, `-` and `_` kept; spaces → `-`.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .flat_map(char::to_lowercase)
        .collect()
}

/// The anchors of a Markdown file's headings (outside code blocks).
fn anchors(text: &str) -> Vec<String> {
    outside_code(text)
        .filter_map(|line| line.strip_prefix('#'))
        .map(|heading| anchor(heading.trim_start_matches('#')))
        .collect()
}

/// The lines of a Markdown text that are not inside a fenced code block.
fn outside_code(text: &str) -> impl Iterator<Item = &str> {
    let mut fenced = false;
    text.lines().filter(move |line| {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            return false;
        }
        !fenced
    })
}

/// The targets of the `[text](target)` links of a line.
fn link_targets(line: &str) -> Vec<&str> {
    line.match_indices("](")
        .filter_map(|(at, _)| {
            let rest = &line[at + 2..];
            rest.find(')').map(|end| &rest[..end])
        })
        .collect()
}

#[test]
fn every_relative_link_resolves() {
    let mut broken = Vec::new();
    for file in markdown_files() {
        let text = std::fs::read_to_string(&file).expect("read");
        let name = file
            .strip_prefix(REPO)
            .unwrap_or(&file)
            .display()
            .to_string();
        for line in outside_code(&text) {
            for target in link_targets(line) {
                if target.contains("://") || target.starts_with("mailto:") {
                    continue;
                }
                let (path, fragment) = target.split_once('#').unwrap_or((target, ""));
                let linked = match path {
                    "" => file.clone(),
                    path => file.parent().expect("a folder").join(path),
                };
                if !linked.exists() {
                    broken.push(format!("{name}: {target} (no such file)"));
                    continue;
                }
                let is_markdown = linked.extension().is_some_and(|ext| ext == "md");
                if !fragment.is_empty() && is_markdown {
                    let linked_text = std::fs::read_to_string(&linked).expect("read");
                    if !anchors(&linked_text).iter().any(|a| a == fragment) {
                        broken.push(format!("{name}: {target} (no such heading)"));
                    }
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn readme_is_short_and_links_every_file_of_docs() {
    let readme = read("README.md");
    let lines = readme.lines().count();
    assert!(
        lines <= 250,
        "README.md has {lines} lines; the rest belongs in docs/"
    );
    for file in markdown_files().iter().chain(images().iter()) {
        let Ok(in_docs) = file.strip_prefix(Path::new(REPO).join("docs")) else {
            continue;
        };
        let link = format!("](docs/{})", in_docs.display());
        assert!(
            readme.contains(&link),
            "README.md does not link docs/{}",
            in_docs.display()
        );
    }
}

/// The images of docs/.
fn images() -> Vec<PathBuf> {
    std::fs::read_dir(Path::new(REPO).join("docs"))
        .expect("docs/")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "png"))
        .collect()
}

#[test]
fn anchors_follow_githubs_rules() {
    assert_eq!(anchor(" The hub's rules"), "the-hubs-rules");
    assert_eq!(
        anchor("Metrics (`GET /metrics`, the Status tab)"),
        "metrics-get-metrics-the-status-tab"
    );
    assert_eq!(anchor("Learn RFC 6455 here"), "learn-rfc-6455-here");
    assert_eq!(link_targets("see [a](b.md#c) and [d](e)"), ["b.md#c", "e"]);
}

/// The text files of the repository that people read: docs, code, tests, scripts.
fn prose_and_code(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.')
            || ["target", "node_modules", "corpus", "artifacts"].contains(&name.as_str())
        {
            continue;
        }
        if path.is_dir() {
            prose_and_code(&path, found);
        } else if ["rs", "md", "mjs", "js", "sh", "toml", "py", "html"]
            .iter()
            .any(|ext| path.extension().is_some_and(|e| e == *ext))
        {
            found.push(path);
        }
    }
}

#[test]
fn no_text_points_at_an_issue_by_number() {
    let mut files = Vec::new();
    prose_and_code(Path::new(REPO), &mut files);
    assert!(files.len() > 50, "{} files", files.len());
    let mut found = Vec::new();
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let lower = text.to_lowercase();
        for (at, _) in lower.match_indices("issue") {
            let after = lower[at + 5..].trim_start_matches('s');
            let numbered = after
                .strip_prefix(' ')
                .and_then(|rest| rest.chars().next())
                .is_some_and(|c| c.is_ascii_digit());
            if numbered {
                let line = lower[..at].lines().count();
                found.push(format!("{}:{line}", file.display()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "targets are stated as targets, not as issue numbers:\n{}",
        found.join("\n")
    );
}
