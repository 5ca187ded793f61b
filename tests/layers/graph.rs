//! The file graph of the crate: which file of `src/` imports which, found by parsing every file
//! with `syn` and resolving each path it names to the file that defines the item.
//!
//! How a path is resolved, as rustc would, as far as a reader of the layering needs:
//!
//! - Files are found as rustc finds them: from `src/lib.rs` (and `src/main.rs`, the binary,
//!   which names the library `wsmith::`), each `mod x;` is `x.rs` or `x/mod.rs` beside it.
//! - `crate::`, `super::` and `self::` are taken from the module the code is in, inline modules
//!   (`mod tests { … }`) included; a path whose first name is a child module, or a name that a
//!   `use` of that module binds (`use crate::protocol; … protocol::Connection`), is resolved
//!   through it. Every `use` tree and every path in code and types counts; attributes (doc
//!   comments, doc links, `cfg`, `derive`) do not; a macro's arguments count when they parse as
//!   expressions (`assert_eq!`, `format!`, `vec!`), a `macro_rules!` body never does.
//! - A path names the deepest module it walks through, then an item of it. The item is looked
//!   up where it is defined: if that module only binds the name with a `use` (`pub use
//!   connection::Connection` in `protocol/mod.rs`), the import is followed to the file that
//!   defines it, so `use crate::protocol::Connection` imports `protocol/connection.rs` and not
//!   `protocol/mod.rs`. `mod.rs` files are thus never a false stop on the way; their own
//!   `pub use` lines are imports of the files they re-export.
//! - A path to a module itself (`use super::hub;`) imports that module's file when it is a
//!   leaf; a folder's `mod.rs` is imported only for what it defines, found at the use sites.
//! - A `pub use` whose name the file's own code does not use is marked `reexport`: it passes
//!   the name on, and since importers are followed through it to the defining file, the file
//!   itself does not depend on what it re-exports. It is held to the layers, but is not part
//!   of a circle.
//! - Code under `#[cfg(test)]` (or `#[test]`), and files declared by a `#[cfg(test)] mod x;`,
//!   give edges marked `test`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use syn::punctuated::Punctuated;
use syn::visit::{self, Visit};
use syn::{Attribute, Expr, ImplItem, Item, Meta, Token, UseTree};

/// The library's name, as the binary writes it (`wsmith::server::Server`).
const LIBRARY: &str = "wsmith";
/// The binary's root module (`src/main.rs`); the library's is the empty path.
const BIN: &str = "#bin";
/// How many `use` bindings and globs one resolution may follow.
const MAX_DEPTH: u8 = 16;

/// A module's path from its crate's root: `["protocol", "frame"]`.
type ModPath = Vec<String>;

/// One file importing another.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Edge {
    /// The importing file (`src/…`).
    pub from: String,
    /// The imported file.
    pub to: String,
    /// The item imported, as the file that defines it names it (`*` for a glob).
    pub item: String,
    /// Whether the import is made only by `#[cfg(test)]` code.
    pub test: bool,
    /// Whether it is a `pub use` whose name the file's own code never uses: the name is only
    /// passed on (`pub use connection::Connection` in `protocol/mod.rs`).
    pub reexport: bool,
}

/// A path that leaves the crate (`std::net::TcpStream`), and whether only test code names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct External {
    /// The file that names it.
    pub file: String,
    /// The path, after `use` bindings are followed (`thread::spawn` → `std::thread::spawn`).
    pub path: String,
    /// Whether only `#[cfg(test)]` code names it.
    pub test: bool,
}

/// What the parser saw in the crate's sources.
#[derive(Default)]
pub struct Graph {
    /// Every file reached from `src/lib.rs` and `src/main.rs`, with its parsed syntax tree.
    pub files: BTreeMap<String, syn::File>,
    /// Every import between two files (one per file, file, item and test-ness).
    pub edges: BTreeSet<Edge>,
    /// Every path leaving the crate.
    pub externals: BTreeSet<External>,
    /// Items named through a module that neither defines nor binds them ("src/x.rs: a::b").
    pub unresolved: BTreeSet<String>,
    /// Files that do not parse, `mod x;` without a file, files no `mod` declares.
    pub problems: Vec<String>,
}

/// One module: where it lives and the names it holds.
#[derive(Debug, Default)]
struct Module {
    file: String,
    children: BTreeSet<String>,
    items: BTreeSet<String>,
    /// A name bound by a `use` → the paths it was written as, each with the module it is in.
    bindings: HashMap<String, Vec<(ModPath, Vec<String>)>>,
    /// `use path::*`: every name of that module.
    globs: Vec<(ModPath, Vec<String>)>,
}

/// Where a written path leads.
enum Resolved {
    /// An absolute path in one of the crate's modules.
    Crate(ModPath),
    /// Outside the crate (`std::…`, `serde_json::…`), a prelude name or a generic parameter.
    Other(Vec<String>),
}

/// What an absolute path names.
enum Target {
    /// A module itself.
    Module(ModPath),
    /// An item, in the file that defines it.
    Item { file: String, name: String },
    /// A name the module neither defines nor binds.
    Unresolved { file: String, name: String },
}

/// The module tree of the crate, for resolving paths.
#[derive(Debug, Default)]
struct Modules(BTreeMap<ModPath, Module>);

/// Parses the crate whose files are `sources` (`"src/lib.rs"` → its text) and builds its graph.
pub fn build(sources: &BTreeMap<String, String>) -> Graph {
    let mut graph = Graph::default();
    let mut modules = Modules::default();
    let mut test_files = BTreeSet::new();
    let mut queue = vec![
        ("src/main.rs".to_owned(), vec![BIN.to_owned()], false),
        ("src/lib.rs".to_owned(), Vec::new(), false),
    ];
    while let Some((file, path, test)) = queue.pop() {
        let Some(text) = sources.get(&file) else {
            continue;
        };
        let ast = match syn::parse_file(text) {
            Ok(ast) => ast,
            Err(e) => {
                graph.problems.push(format!("{file} does not parse: {e}"));
                continue;
            }
        };
        let mut declared = Vec::new();
        modules.register(
            &file,
            &path,
            &child_dir(&file),
            &ast.items,
            test,
            &mut declared,
        );
        for (child, dir, test) in declared {
            let name = child.last().expect("bug: a child module has a name");
            let found = [format!("{dir}/{name}.rs"), format!("{dir}/{name}/mod.rs")]
                .into_iter()
                .find(|candidate| sources.contains_key(candidate));
            match found {
                Some(child_file) => queue.push((child_file, child, test)),
                None => graph.problems.push(format!(
                    "{file} declares `mod {name};` but {dir}/{name}.rs is missing"
                )),
            }
        }
        if test {
            test_files.insert(file.clone());
        }
        graph.files.insert(file, ast);
    }
    for file in sources.keys() {
        if file.ends_with(".rs") && !graph.files.contains_key(file) {
            graph
                .problems
                .push(format!("{file} is in src/ but no `mod` declares it"));
        }
    }
    for (file, ast) in &graph.files {
        let scope = modules.module_of(file);
        let mut used = UsedNames::default();
        used.visit_file(ast);
        let mut imports = Imports {
            modules: &modules,
            file,
            scope,
            test: test_files.contains(file),
            used: used.0,
            reexport: false,
            graph_edges: &mut graph.edges,
            externals: &mut graph.externals,
            unresolved: &mut graph.unresolved,
        };
        imports.visit_file(ast);
    }
    graph
}

/// The folder where the files of `file`'s `mod x;` children are.
fn child_dir(file: &str) -> String {
    let stem = file.strip_suffix(".rs").unwrap_or(file);
    match stem.rsplit_once('/') {
        Some((dir, "mod" | "lib" | "main")) => dir.to_owned(),
        _ => stem.to_owned(),
    }
}

impl Modules {
    /// Records the module `path` of `file` and the modules inline in it; `mod x;` declarations
    /// are pushed to `declared` with the folder their file is in.
    fn register(
        &mut self,
        file: &str,
        path: &ModPath,
        dir: &str,
        items: &[Item],
        test: bool,
        declared: &mut Vec<(ModPath, String, bool)>,
    ) {
        self.0.entry(path.clone()).or_default().file = file.to_owned();
        for item in items {
            let test = test || is_test(attributes(item));
            let mut uses = UseCollector::default();
            match item {
                Item::Mod(module) => {
                    let name = module.ident.to_string();
                    let child = [path.as_slice(), std::slice::from_ref(&name)].concat();
                    self.module(path).children.insert(name.clone());
                    match &module.content {
                        Some((_, inner)) => self.register(
                            file,
                            &child,
                            &format!("{dir}/{name}"),
                            inner,
                            test,
                            declared,
                        ),
                        None => declared.push((child, dir.to_owned(), test)),
                    }
                    continue;
                }
                Item::Use(item) => uses.visit_item_use(item),
                other => {
                    if let Some(name) = item_name(other) {
                        self.module(path).items.insert(name);
                    }
                    // `use` inside a function body binds names for the module's paths too.
                    uses.visit_item(other);
                }
            }
            for use_path in uses.0 {
                let module = self.module(path);
                match use_path.bound {
                    Some(name) => module
                        .bindings
                        .entry(name)
                        .or_default()
                        .push((path.clone(), use_path.segments)),
                    None => module.globs.push((path.clone(), use_path.segments)),
                }
            }
        }
    }

    fn module(&mut self, path: &ModPath) -> &mut Module {
        self.0.entry(path.clone()).or_default()
    }

    /// The module whose root is `file`.
    fn module_of(&self, file: &str) -> ModPath {
        self.0
            .iter()
            .filter(|(_, module)| module.file == file)
            .map(|(path, _)| path.clone())
            .min_by_key(Vec::len)
            .unwrap_or_default()
    }

    fn is_module(&self, path: &[String]) -> bool {
        self.0.contains_key(path)
    }

    /// The absolute path that `segments`, written in module `scope`, stands for.
    fn absolute(&self, scope: &[String], segments: &[String], depth: u8) -> Resolved {
        let Some((first, rest)) = segments.split_first() else {
            return Resolved::Other(Vec::new());
        };
        let root: &[String] = match scope.first() {
            Some(name) if name == BIN => &scope[..1],
            _ => &[],
        };
        match first.as_str() {
            "crate" => Resolved::Crate([root, rest].concat()),
            "self" => Resolved::Crate([scope, rest].concat()),
            "super" => {
                let mut module = scope.to_vec();
                let mut rest = segments;
                while let Some(("super", after)) = rest.split_first().map(|(s, a)| (s.as_str(), a))
                {
                    if module.len() <= root.len() {
                        return Resolved::Other(segments.to_vec());
                    }
                    module.pop();
                    rest = after;
                }
                Resolved::Crate([module.as_slice(), rest].concat())
            }
            LIBRARY if !root.is_empty() => Resolved::Crate(rest.to_vec()),
            _ => self.in_scope(scope, first, rest, depth),
        }
    }

    /// Resolves `first::rest` where `first` is a name seen from module `scope`: one of its
    /// child modules or items, a name its `use`s bind, or a name one of its globs brings.
    fn in_scope(&self, scope: &[String], first: &str, rest: &[String], depth: u8) -> Resolved {
        let written = || [&[first.to_owned()], rest].concat();
        let Some(module) = self.0.get(scope) else {
            return Resolved::Other(written());
        };
        if depth > MAX_DEPTH {
            return Resolved::Other(written());
        }
        if module.children.contains(first) || module.items.contains(first) {
            return Resolved::Crate([scope, &written()].concat());
        }
        if let Some(bindings) = module.bindings.get(first) {
            let mut fallback = None;
            for (at, path) in bindings {
                match self.absolute(at, path, depth + 1) {
                    // `use super::metrics::{self, metrics}` binds a module and a function:
                    // `metrics::endpoint` goes through the module.
                    Resolved::Crate(bound) if rest.is_empty() || self.is_module(&bound) => {
                        return Resolved::Crate([bound.as_slice(), rest].concat())
                    }
                    Resolved::Crate(bound) => {
                        fallback.get_or_insert(Resolved::Crate([bound.as_slice(), rest].concat()));
                    }
                    Resolved::Other(bound) => {
                        fallback.get_or_insert(Resolved::Other([bound.as_slice(), rest].concat()));
                    }
                }
            }
            if let Some(resolved) = fallback {
                return resolved;
            }
        }
        for (at, path) in &module.globs {
            if let Resolved::Crate(glob) = self.absolute(at, path, depth + 1) {
                if self.holds(&glob, first) {
                    return self.in_scope(&glob, first, rest, depth + 1);
                }
            }
        }
        Resolved::Other(written())
    }

    /// Whether module `path` defines or binds `name`.
    fn holds(&self, path: &[String], name: &str) -> bool {
        self.0.get(path).is_some_and(|module| {
            module.children.contains(name)
                || module.items.contains(name)
                || module.bindings.contains_key(name)
        })
    }

    /// What the absolute path `path` names: walks down its modules, then finds the file that
    /// defines the item, through the `use` bindings and globs of the module it is named in.
    fn target(&self, path: &[String], depth: u8) -> Option<Target> {
        let mut module: ModPath = match path.first() {
            Some(name) if name == BIN => vec![BIN.to_owned()],
            _ => Vec::new(),
        };
        let mut rest = &path[module.len()..];
        while let Some((name, after)) = rest.split_first() {
            if !self.0.get(&module)?.children.contains(name) {
                break;
            }
            module.push(name.clone());
            rest = after;
        }
        let found = self.0.get(&module)?;
        let Some((name, after)) = rest.split_first() else {
            return Some(Target::Module(module));
        };
        if found.items.contains(name) || depth > MAX_DEPTH {
            return Some(Target::Item {
                file: found.file.clone(),
                name: name.clone(),
            });
        }
        for (at, written) in found.bindings.get(name).into_iter().flatten() {
            if let Resolved::Crate(bound) = self.absolute(at, written, depth + 1) {
                if let Some(target) = self.target(&[bound.as_slice(), after].concat(), depth + 1) {
                    return Some(target);
                }
            }
        }
        for (at, written) in &found.globs {
            if let Resolved::Crate(glob) = self.absolute(at, written, depth + 1) {
                if self.holds(&glob, name) {
                    return self.target(&[glob.as_slice(), rest].concat(), depth + 1);
                }
            }
        }
        Some(Target::Unresolved {
            file: found.file.clone(),
            name: name.clone(),
        })
    }
}

/// Visits one file's syntax tree and records what each path in it imports.
struct Imports<'a> {
    modules: &'a Modules,
    file: &'a str,
    /// The module the code being visited is in.
    scope: ModPath,
    test: bool,
    /// The first name of every path in the file's code, `use` items aside.
    used: BTreeSet<String>,
    /// Whether the `use` being visited only re-exports.
    reexport: bool,
    graph_edges: &'a mut BTreeSet<Edge>,
    externals: &'a mut BTreeSet<External>,
    unresolved: &'a mut BTreeSet<String>,
}

impl Imports<'_> {
    /// Records what `segments`, written here, imports; `glob` for `use segments::*`.
    fn import(&mut self, segments: &[String], glob: bool) {
        let absolute = match self.modules.absolute(&self.scope, segments, 0) {
            Resolved::Crate(absolute) => absolute,
            Resolved::Other(path) => {
                self.externals.insert(External {
                    file: self.file.to_owned(),
                    path: path.join("::"),
                    test: self.test,
                });
                return;
            }
        };
        let (to, item) = match self.modules.target(&absolute, 0) {
            None => return,
            Some(Target::Module(path)) => {
                let Some(module) = self.modules.0.get(&path) else {
                    return;
                };
                let name = path.last().cloned().unwrap_or_default();
                match (glob, module.children.is_empty()) {
                    (true, _) => (module.file.clone(), "*".to_owned()),
                    (false, true) => (module.file.clone(), name),
                    // A folder: what is used of it is imported at the use sites.
                    (false, false) => return,
                }
            }
            Some(Target::Item { file, name }) => (file, name),
            Some(Target::Unresolved { file, name }) => {
                self.unresolved
                    .insert(format!("{}: {}", self.file, segments.join("::")));
                (file, name)
            }
        };
        if to != self.file {
            self.graph_edges.insert(Edge {
                from: self.file.to_owned(),
                to,
                item,
                test: self.test,
                reexport: self.reexport,
            });
        }
    }

    /// Visits with `test` set while inside an item marked `#[cfg(test)]` or `#[test]`.
    fn marked(&mut self, attrs: &[Attribute], visit: impl FnOnce(&mut Self)) {
        let outer = self.test;
        self.test = outer || is_test(attrs);
        visit(self);
        self.test = outer;
    }
}

impl<'ast> Visit<'ast> for Imports<'_> {
    /// Doc comments (and the doc links in them), `cfg`, `derive`: none of them imports.
    fn visit_attribute(&mut self, _: &'ast Attribute) {}

    fn visit_item(&mut self, item: &'ast Item) {
        self.marked(attributes(item), |this| visit::visit_item(this, item));
    }

    fn visit_impl_item(&mut self, item: &'ast ImplItem) {
        self.marked(impl_item_attributes(item), |this| {
            visit::visit_impl_item(this, item)
        });
    }

    /// An inline module is a scope of its own; a `mod x;` is visited in its own file.
    fn visit_item_mod(&mut self, module: &'ast syn::ItemMod) {
        let Some((_, items)) = &module.content else {
            return;
        };
        self.scope.push(module.ident.to_string());
        for item in items {
            self.visit_item(item);
        }
        self.scope.pop();
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        let mut uses = UseCollector::default();
        uses.visit_item_use(item);
        let public = !matches!(item.vis, syn::Visibility::Inherited);
        for use_path in uses.0 {
            self.reexport = public
                && use_path
                    .bound
                    .as_ref()
                    .map_or(true, |name| !self.used.contains(name));
            self.import(&use_path.segments, use_path.bound.is_none());
        }
        self.reexport = false;
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        // One name alone (`x`, `Connection`) is a local or was brought by a `use`, which is
        // where its import is counted.
        if path.leading_colon.is_none() && path.segments.len() > 1 {
            let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
            self.import(&segments, false);
        }
        visit::visit_path(self, path);
    }

    /// A macro's arguments are tokens; those that parse as expressions are visited as such.
    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.visit_path(&mac.path);
        visit_macro_arguments(self, mac);
    }

    /// A `macro_rules!` body is a pattern language (`$crate::…`), not code.
    fn visit_item_macro(&mut self, item: &'ast syn::ItemMacro) {
        if item.ident.is_none() {
            self.visit_macro(&item.mac);
        }
    }
}

/// The first name of every path in a file's code (not in its `use` items, nor attributes).
#[derive(Default)]
struct UsedNames(BTreeSet<String>);

impl<'ast> Visit<'ast> for UsedNames {
    fn visit_attribute(&mut self, _: &'ast Attribute) {}

    fn visit_item_use(&mut self, _: &'ast syn::ItemUse) {}

    fn visit_path(&mut self, path: &'ast syn::Path) {
        if let Some(first) = path.segments.first() {
            self.0.insert(first.ident.to_string());
        }
        visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.visit_path(&mac.path);
        visit_macro_arguments(self, mac);
    }
}

/// One path of a `use` tree and the name it binds (`None` for a glob).
struct UsePath {
    segments: Vec<String>,
    bound: Option<String>,
}

/// The paths of every `use` it visits (not into inline modules, which are scopes of their own).
#[derive(Default)]
struct UseCollector(Vec<UsePath>);

impl UseCollector {
    fn tree(&mut self, prefix: &mut Vec<String>, tree: &UseTree) {
        match tree {
            UseTree::Path(path) => {
                prefix.push(path.ident.to_string());
                self.tree(prefix, &path.tree);
                prefix.pop();
            }
            UseTree::Name(name) => self.name(prefix, &name.ident, &name.ident),
            UseTree::Rename(rename) => self.name(prefix, &rename.ident, &rename.rename),
            UseTree::Glob(_) => self.0.push(UsePath {
                segments: prefix.clone(),
                bound: None,
            }),
            UseTree::Group(group) => {
                for tree in &group.items {
                    self.tree(prefix, tree);
                }
            }
        }
    }

    /// `use prefix::ident as bound`; `self` names the prefix itself.
    fn name(&mut self, prefix: &[String], ident: &syn::Ident, bound: &syn::Ident) {
        let (segments, name) = if ident == "self" {
            (prefix.to_vec(), prefix.last().cloned().unwrap_or_default())
        } else {
            ([prefix, &[ident.to_string()]].concat(), ident.to_string())
        };
        let bound = if bound == "self" {
            name
        } else {
            bound.to_string()
        };
        self.0.push(UsePath {
            segments,
            bound: Some(bound),
        });
    }
}

impl<'ast> Visit<'ast> for UseCollector {
    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        let mut prefix = Vec::new();
        if item.leading_colon.is_some() {
            prefix.push(String::new()); // `::std::…`: outside the crate, whatever follows
        }
        self.tree(&mut prefix, &item.tree);
    }

    fn visit_item_mod(&mut self, _: &'ast syn::ItemMod) {}
}

/// The name an item defines in its module's namespace, if any.
fn item_name(item: &Item) -> Option<String> {
    let ident = match item {
        Item::Const(item) => &item.ident,
        Item::Enum(item) => &item.ident,
        Item::Fn(item) => &item.sig.ident,
        Item::Macro(item) => item.ident.as_ref()?,
        Item::Static(item) => &item.ident,
        Item::Struct(item) => &item.ident,
        Item::Trait(item) => &item.ident,
        Item::TraitAlias(item) => &item.ident,
        Item::Type(item) => &item.ident,
        Item::Union(item) => &item.ident,
        _ => return None,
    };
    Some(ident.to_string())
}

/// An item's attributes.
/// A macro's arguments are tokens; those that parse as expressions are visited as such.
fn visit_macro_arguments<V: for<'a> Visit<'a>>(visitor: &mut V, mac: &syn::Macro) {
    if let Ok(arguments) = mac.parse_body_with(Punctuated::<Expr, Token![,]>::parse_terminated) {
        for argument in &arguments {
            visitor.visit_expr(argument);
        }
    }
}

/// The attributes of an item of an `impl` block (none for the kinds that carry none).
pub fn impl_item_attributes(item: &ImplItem) -> &[Attribute] {
    match item {
        ImplItem::Const(item) => &item.attrs,
        ImplItem::Fn(item) => &item.attrs,
        ImplItem::Type(item) => &item.attrs,
        ImplItem::Macro(item) => &item.attrs,
        _ => &[],
    }
}

pub fn attributes(item: &Item) -> &[Attribute] {
    match item {
        Item::Const(item) => &item.attrs,
        Item::Enum(item) => &item.attrs,
        Item::ExternCrate(item) => &item.attrs,
        Item::Fn(item) => &item.attrs,
        Item::ForeignMod(item) => &item.attrs,
        Item::Impl(item) => &item.attrs,
        Item::Macro(item) => &item.attrs,
        Item::Mod(item) => &item.attrs,
        Item::Static(item) => &item.attrs,
        Item::Struct(item) => &item.attrs,
        Item::Trait(item) => &item.attrs,
        Item::TraitAlias(item) => &item.attrs,
        Item::Type(item) => &item.attrs,
        Item::Union(item) => &item.attrs,
        Item::Use(item) => &item.attrs,
        _ => &[],
    }
}

/// Whether these attributes make an item exist only in test builds: `#[test]`, `#[cfg(test)]`,
/// `#[cfg(all(test, …))]`.
pub fn is_test(attrs: &[Attribute]) -> bool {
    attrs.iter().any(|attr| {
        attr.path().is_ident("test")
            || (attr.path().is_ident("cfg")
                && attr
                    .parse_args::<Meta>()
                    .is_ok_and(|meta| implies_test(&meta)))
    })
}

/// Whether a `cfg` predicate can hold only when `test` does.
fn implies_test(meta: &Meta) -> bool {
    match meta {
        Meta::Path(path) => path.is_ident("test"),
        Meta::List(list) => {
            let Ok(nested) = list.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)
            else {
                return false;
            };
            if list.path.is_ident("all") {
                nested.iter().any(implies_test)
            } else if list.path.is_ident("any") {
                !nested.is_empty() && nested.iter().all(implies_test)
            } else {
                false
            }
        }
        Meta::NameValue(_) => false,
    }
}
