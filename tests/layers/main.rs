//! The crate's architecture, enforced: every file of `src/` is parsed with `syn`, the imports
//! between files are found ([`graph`]), and they are held to the rules below: the layers, the
//! sans-I/O fence around `protocol/`, and no circle between files.
//!
//! ```text
//! cargo test --test layers                          the check
//! cargo test --test layers -- --nocapture           and the summary: files, imports, circles,
//!                                                   the files over 500 lines of code
//! WSMITH_GRAPH=1 cargo test --test layers -- --nocapture   and every import, file by file
//! ```
//!
//! It is a test of its own, not a `#[cfg(test)]` module of `lib.rs`: it reads `src/` as files,
//! as a reader does, and `lib.rs` holds no logic.
//!
//! `#[cfg(test)]` code is held to the layers and the fences like any code (a test may import
//! anything of its own layer or below); it is left out of the circles, since a test module
//! importing a file that imports its own is not a circle of the library. So is a `pub use`
//! whose name the file itself never uses (a `mod.rs` passing a name on): importers are
//! followed through it to the file that defines the item.

mod checker;
mod graph;
mod lines;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use graph::{Edge, Graph};

/// The top-level modules, each with the ones it may import directly; a module may also import
/// what those may, all the way down. `lib.rs` is the root ([`ROOT`]). A module missing here
/// fails the check: a new one has to be placed.
///
/// ```text
/// main.rs → server → config → app → engine, explain → protocol → sync
///                         client → explain, protocol
/// ```
const LAYERS: &[(&str, &[&str])] = &[
    ("main.rs", &["server", "client"]),
    ("server", &["config"]),
    ("config", &["app"]),
    ("app", &["engine", "explain"]),
    ("engine", &["protocol"]),
    ("explain", &["protocol"]),
    ("client", &["explain", "protocol"]),
    ("protocol", &["sync"]),
    // The lock helper at the bottom, which anyone may import.
    ("sync", &[]),
];

/// `src/lib.rs`: declares the modules, may import any of them, and is imported by none.
const ROOT: &str = "lib.rs";

/// Folders whose files import nothing of the crate outside the folder.
const CLOSED: &[&str] = &["src/protocol/"];

/// (folder, folder its files never import).
const FENCES: &[(&str, &str)] = &[("src/app/", "src/server/")];

/// (folder, paths outside the crate its code never names, in `use` or inline).
const FORBIDDEN: &[(&str, &[&str])] = &[(
    "src/protocol/",
    &["serde_json", "std::net", "std::thread", "crossbeam_channel"],
)];

/// A file over this many lines of code is listed in the summary.
const LARGE_FILE: usize = 500;

/// What the check found over one tree of sources.
struct Report {
    /// One line per broken rule; none when the crate keeps its layers.
    violations: Vec<String>,
    /// Files, imports, circles, large files.
    summary: String,
    graph: Graph,
}

/// Parses `sources` (`"src/…"` → text) and checks every rule.
fn check(sources: &BTreeMap<String, String>) -> Report {
    let graph = graph::build(sources);
    let mut violations = graph.problems.clone();
    violations.extend(unplaced_modules(&graph));
    let imports = by_pair(&graph.edges, |_| true);
    for ((from, to), (items, test)) in &imports {
        let at = format!(
            "{from} imports {to} ({}){}",
            items.join(", "),
            in_tests(*test)
        );
        if let Err(why) = layered(top_level(from), top_level(to)) {
            violations.push(format!("{at}: {why}"));
        }
        for folder in CLOSED
            .iter()
            .filter(|f| from.starts_with(*f) && !to.starts_with(*f))
        {
            violations.push(format!("{at}: {folder} imports nothing outside it"));
        }
        for (folder, never) in FENCES {
            if from.starts_with(folder) && to.starts_with(never) {
                violations.push(format!("{at}: {folder} never imports {never}"));
            }
        }
    }
    for external in &graph.externals {
        for (folder, paths) in FORBIDDEN {
            if !external.file.starts_with(folder) {
                continue;
            }
            let named =
                |p: &&&str| external.path == **p || external.path.starts_with(&format!("{p}::"));
            if let Some(path) = paths.iter().find(named) {
                violations.push(format!(
                    "{} names {}{}: {folder} never names {path}",
                    external.file,
                    external.path,
                    in_tests(external.test)
                ));
            }
        }
    }
    let library = by_pair(&graph.edges, |edge| !edge.test && !edge.reexport);
    let circles = circles(&library);
    for circle in &circles {
        violations.extend(circle_imports(circle, &library));
    }
    violations.sort();
    violations.dedup();
    let summary = summary(sources, &graph, &imports, &library, &circles);
    Report {
        violations,
        summary,
        graph,
    }
}

/// " in #[cfg(test)] code" when only test code makes the import.
fn in_tests(test: bool) -> &'static str {
    if test {
        " in #[cfg(test)] code"
    } else {
        ""
    }
}

/// The imports that `keep`, grouped by (from, to): the items, and whether only test code
/// imports them.
fn by_pair(
    edges: &BTreeSet<Edge>,
    keep: impl Fn(&Edge) -> bool,
) -> BTreeMap<(String, String), (Vec<String>, bool)> {
    let mut pairs: BTreeMap<(String, String), (Vec<String>, bool)> = BTreeMap::new();
    for edge in edges.iter().filter(|edge| keep(edge)) {
        let (items, test) = pairs
            .entry((edge.from.clone(), edge.to.clone()))
            .or_insert((Vec::new(), true));
        if !items.contains(&edge.item) {
            items.push(edge.item.clone());
        }
        *test &= edge.test;
    }
    pairs
}

/// The top-level module a file belongs to: `src/protocol/frame.rs` → `protocol`,
/// `src/config.rs` → `config`, `src/lib.rs` → `lib.rs`.
fn top_level(file: &str) -> &str {
    let path = file.strip_prefix("src/").unwrap_or(file);
    match path.split_once('/') {
        Some((folder, _)) => folder,
        None if path == "lib.rs" || path == "main.rs" => path,
        None => path.strip_suffix(".rs").unwrap_or(path),
    }
}

/// Whether top-level module `from` may import `to`.
fn layered(from: &str, to: &str) -> Result<(), String> {
    if from == to || from == ROOT {
        return Ok(());
    }
    if to == ROOT {
        return Err(format!("nothing imports {ROOT}, the root"));
    }
    let mut below = BTreeSet::new();
    let mut next = vec![from];
    while let Some(module) = next.pop() {
        for (_, imports) in LAYERS.iter().filter(|(name, _)| *name == module) {
            for import in imports.iter().filter(|import| below.insert(**import)) {
                next.push(import);
            }
        }
    }
    if below.contains(to) {
        Ok(())
    } else {
        Err(format!("{from} may not import {to}"))
    }
}

/// A line for each top-level module that [`LAYERS`] does not place.
fn unplaced_modules(graph: &Graph) -> Vec<String> {
    let placed: BTreeSet<&str> = LAYERS.iter().map(|(name, _)| *name).collect();
    let mut seen = BTreeSet::new();
    graph
        .files
        .keys()
        .map(|file| (file, top_level(file)))
        .filter(|(_, top)| *top != ROOT && !placed.contains(top) && seen.insert(*top))
        .map(|(file, top)| format!("{file}: top-level module `{top}` has no layer in LAYERS"))
        .collect()
}

/// The circles: strongly connected components of more than one file (Tarjan's algorithm).
fn circles(imports: &BTreeMap<(String, String), (Vec<String>, bool)>) -> Vec<Vec<String>> {
    struct Tarjan<'a> {
        next: BTreeMap<&'a str, Vec<&'a str>>,
        index: BTreeMap<&'a str, (usize, usize)>,
        stack: Vec<&'a str>,
        found: Vec<Vec<String>>,
    }
    impl<'a> Tarjan<'a> {
        fn visit(&mut self, file: &'a str) {
            let at = self.index.len();
            self.index.insert(file, (at, at));
            self.stack.push(file);
            for to in self.next.get(file).cloned().unwrap_or_default() {
                match self.index.get(to) {
                    None => {
                        self.visit(to);
                        let low = self.index[to].1;
                        let entry = self.index.get_mut(file).expect("bug: visited");
                        entry.1 = entry.1.min(low);
                    }
                    Some(&(index, _)) if self.stack.contains(&to) => {
                        let entry = self.index.get_mut(file).expect("bug: visited");
                        entry.1 = entry.1.min(index);
                    }
                    Some(_) => {}
                }
            }
            if self.index[file].0 == self.index[file].1 {
                let mut component = Vec::new();
                while let Some(member) = self.stack.pop() {
                    component.push(member.to_owned());
                    if member == file {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut tarjan = Tarjan {
        next: BTreeMap::new(),
        index: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for (from, to) in imports.keys() {
        tarjan.next.entry(from).or_default().push(to);
    }
    let files: Vec<&str> = tarjan.next.keys().copied().collect();
    for file in files {
        if !tarjan.index.contains_key(file) {
            tarjan.visit(file);
        }
    }
    tarjan.found.sort();
    tarjan.found
}

/// One line per import inside a circle, with the shortest way back to the importing file:
/// `src/a/x.rs imports src/a/y.rs (Item): circle x → y → x`.
fn circle_imports(
    circle: &[String],
    imports: &BTreeMap<(String, String), (Vec<String>, bool)>,
) -> Vec<String> {
    let inside = |file: &String| circle.contains(file);
    let names = short_names(circle);
    let mut lines = Vec::new();
    for ((from, to), (items, _)) in imports.iter().filter(|((f, t), _)| inside(f) && inside(t)) {
        let way_back = shortest_path(to, from, imports, &inside);
        let names: Vec<&str> = [from]
            .into_iter()
            .chain(&way_back)
            .map(|file| names.get(file).map_or(file.as_str(), String::as_str))
            .collect();
        lines.push(format!(
            "{from} imports {to} ({}): circle {}",
            items.join(", "),
            names.join(" → ")
        ));
    }
    lines
}

/// The files from `start` to `end` (both included) along imports between files of `inside`.
fn shortest_path(
    start: &str,
    end: &str,
    imports: &BTreeMap<(String, String), (Vec<String>, bool)>,
    inside: &dyn Fn(&String) -> bool,
) -> Vec<String> {
    let mut came_from: BTreeMap<&str, &str> = BTreeMap::new();
    let mut frontier = std::collections::VecDeque::from([start]);
    while let Some(file) = frontier.pop_front() {
        if file == end {
            break;
        }
        for (_, to) in imports
            .keys()
            .filter(|(from, to)| from == file && inside(to))
        {
            if to != start && !came_from.contains_key(to.as_str()) {
                came_from.insert(to, file);
                frontier.push_back(to);
            }
        }
    }
    let mut path = vec![end.to_owned()];
    let mut at = end;
    while let Some(previous) = came_from.get(at) {
        path.push((*previous).to_owned());
        at = previous;
    }
    path.reverse();
    path
}

/// Names short enough to read a circle by: the path below the folder all its files share,
/// without `.rs` (`src/protocol/frame.rs` → `frame`).
fn short_names(files: &[String]) -> BTreeMap<String, String> {
    let folders: Vec<&str> = files
        .iter()
        .map(|file| file.rsplit_once('/').map_or("", |(folder, _)| folder))
        .collect();
    let mut common = folders.first().copied().unwrap_or("");
    while !folders
        .iter()
        .all(|folder| *folder == common || folder.starts_with(&format!("{common}/")))
    {
        common = common.rsplit_once('/').map_or("", |(parent, _)| parent);
    }
    files
        .iter()
        .map(|file| {
            let short = file.strip_prefix(common).unwrap_or(file);
            let short = short.trim_start_matches('/');
            (
                file.clone(),
                short.strip_suffix(".rs").unwrap_or(short).to_owned(),
            )
        })
        .collect()
}

/// Files, imports, circles and the files over [`LARGE_FILE`] lines of code.
fn summary(
    sources: &BTreeMap<String, String>,
    graph: &Graph,
    imports: &BTreeMap<(String, String), (Vec<String>, bool)>,
    library: &BTreeMap<(String, String), (Vec<String>, bool)>,
    circles: &[Vec<String>],
) -> String {
    let reexports = by_pair(&graph.edges, |edge| !edge.test && edge.reexport)
        .into_keys()
        .filter(|pair| !library.contains_key(pair))
        .count();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} files, {} imports between files (+{reexports} re-exports only, +{} only in \
         #[cfg(test)] code), {} circles",
        graph.files.len(),
        library.len(),
        imports.len() - library.len() - reexports,
        circles.len()
    );
    for circle in circles {
        let _ = writeln!(
            out,
            "  circle of {} files: {}",
            circle.len(),
            circle.join(", ")
        );
    }
    let mut large: Vec<(usize, &str)> = graph
        .files
        .iter()
        .filter_map(|(file, ast)| {
            Some((lines::lines_of_code(sources.get(file)?, ast), file.as_str()))
        })
        .filter(|(lines, _)| *lines > LARGE_FILE)
        .collect();
    large.sort_by(|a, b| b.cmp(a));
    let _ = writeln!(
        out,
        "{} files over {LARGE_FILE} lines of code (blank lines, comments, #[cfg(test)] items not counted)",
        large.len()
    );
    for (lines, file) in large {
        let _ = writeln!(out, "  {lines:>5} {file}");
    }
    out
}

/// Every `.rs` file under `dir`, keyed by its path from the crate's root (`src/…`).
fn read_sources(root: &Path, dir: &Path, sources: &mut BTreeMap<String, String>) {
    let entries = std::fs::read_dir(dir).expect("src/ is readable");
    for entry in entries {
        let path = entry.expect("src/ is readable").path();
        if path.is_dir() {
            read_sources(root, &path, sources);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            let key = path.strip_prefix(root).expect("under the root");
            let key = key.to_string_lossy().replace('\\', "/");
            let text = std::fs::read_to_string(&path).expect("a source file is UTF-8");
            sources.insert(key, text);
        }
    }
}

#[test]
fn the_crate_keeps_its_layers() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut sources = BTreeMap::new();
    read_sources(root, &root.join("src"), &mut sources);
    let report = check(&sources);
    println!("{}", report.summary);
    if std::env::var_os("WSMITH_GRAPH").is_some() {
        for edge in &report.graph.edges {
            let reexport = if edge.reexport { " (re-export)" } else { "" };
            let test = in_tests(edge.test);
            println!("{} → {}: {}{reexport}{test}", edge.from, edge.to, edge.item);
        }
        for unresolved in &report.graph.unresolved {
            println!("unresolved: {unresolved}");
        }
    }
    assert!(
        report.violations.is_empty(),
        "{} broken rules:\n{}\n",
        report.violations.len(),
        report.violations.join("\n")
    );
}
