//! The shape of `src/`, checked: the rules the README's "Layout" section states.
//!
//! 1. **No import cycle between files.** Every `crate::…`, `super::…`, `self::…` path and
//!    every path through a `use`d module alias or a child module is an edge from the file
//!    that writes it to the file that defines the module it names. `mod x;` declarations are
//!    not edges (declaring is not depending); `pub use x::Y` is. Any strongly connected set of
//!    more than one file fails, with its edges printed.
//! 2. **Dependencies point down**: edges (HTTP, the WebSocket, the webhook receiver, the CLI,
//!    the workers, the composition root) → domain → infrastructure → vocabulary. See
//!    [`LAYERS`].
//! 3. **SQL lives in `src/db/`**: no query macro or builder anywhere else.
//! 4. **Background tasks are owned**: no bare `tokio::spawn` outside the composition root.
//!
//! The parser is deliberately small: comments and string literals are blanked out, then
//! `use` trees and inline paths are read with a tokenizer. It knows this codebase's Rust, not
//! all of Rust; when it cannot resolve a path it ignores it (an external crate, a local
//! variable), which can hide an edge but never invents one.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Layers, lowest first. A file belongs to the layer of the longest matching module prefix;
/// it may depend on its own layer and those below.
const LAYERS: &[(&str, &[&str])] = &[
    ("vocabulary", &["model", "config", "error"]),
    (
        "infrastructure",
        &["db", "runtime", "waha", "files", "metrics", "telemetry"],
    ),
    (
        "domain",
        &[
            "core",
            "auth",
            "links",
            "chat",
            "listings",
            "moderation",
            "ingest",
            "realtime",
        ],
    ),
    (
        "edge",
        &[
            "app",
            "cli",
            "http",
            "supervise",
            "workers",
            "realtime::ws",
            "ingest::receiver",
        ],
    ),
];

#[test]
fn no_import_cycle_between_files() {
    let graph = Graph::load();
    let cycles = graph.cycles();
    if cycles.is_empty() {
        return;
    }
    let mut report = String::new();
    for scc in &cycles {
        report.push_str(&format!("\ncycle of {} files:\n", scc.len()));
        for from in scc {
            for to in graph.edges[from].keys().filter(|to| scc.contains(*to)) {
                let via = &graph.edges[from][to];
                report.push_str(&format!("  {from} -> {to}   (via {via})\n"));
            }
        }
    }
    panic!(
        "{} import cycle(s) between files in src/:{report}",
        cycles.len()
    );
}

#[test]
fn dependencies_point_down_the_layers() {
    let graph = Graph::load();
    let mut wrong = Vec::new();
    for (from, tos) in &graph.edges {
        let Some(from_layer) = graph.layer_of(from) else {
            continue;
        };
        for (to, via) in tos {
            let Some(to_layer) = graph.layer_of(to) else {
                continue;
            };
            if to_layer > from_layer {
                wrong.push(format!(
                    "  {from} ({}) -> {to} ({})   (via {via})",
                    LAYERS[from_layer].0, LAYERS[to_layer].0
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} upward dependencies (edges → domain → infrastructure → vocabulary):\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn sql_lives_in_the_db_module() {
    let graph = Graph::load();
    let needles = [
        "sqlx::query",
        "query!(",
        "query_as!(",
        "query_scalar!(",
        "QueryBuilder",
    ];
    let mut outside = Vec::new();
    for (module, file) in &graph.files {
        if module == "db" || module.starts_with("db::") {
            continue;
        }
        // Comments and strings are blanked, so only code matches.
        for (n, line) in file.code.lines().enumerate() {
            if needles.iter().any(|needle| line.contains(needle)) {
                outside.push(format!("  {}:{}", file.path.display(), n + 1));
            }
        }
    }
    assert!(
        outside.is_empty(),
        "{} SQL statements outside src/db/:\n{}",
        outside.len(),
        outside.join("\n")
    );
}

/// Background work is owned (`Core::spawn` / its `TaskTracker`), so shutdown can wait for it:
/// a bare `tokio::spawn` is allowed only in the composition root, which awaits what it spawns.
#[test]
fn background_tasks_are_owned() {
    let graph = Graph::load();
    let mut bare = Vec::new();
    for (module, file) in &graph.files {
        if module == "app" {
            continue;
        }
        for (n, line) in file.code.lines().enumerate() {
            if line.contains("tokio::spawn(") || line.contains("task::spawn(") {
                bare.push(format!("  {}:{}", file.path.display(), n + 1));
            }
        }
    }
    assert!(
        bare.is_empty(),
        "tasks spawned outside the tracker (use Core::spawn):\n{}",
        bare.join("\n")
    );
}

/// The parser must see what it is meant to see, or the checks above prove nothing.
#[test]
fn the_parser_reads_use_trees_and_paths() {
    let code = blank_comments_and_strings(
        r##"
        // use crate::commented::Out;
        use crate::a::{b::{C, D}, e, self as f};
        use super::g::H;
        fn x() { let s = "crate::in_string::X"; let r = r#"super::raw"#; crate::i::j(); e::k(); }
        "##,
    );
    let uses = parse_uses(&code);
    let paths: Vec<String> = uses.iter().map(|u| u.path.join("::")).collect();
    assert_eq!(
        paths,
        [
            "crate::a::b::C",
            "crate::a::b::D",
            "crate::a::e",
            "crate::a",
            "super::g::H"
        ]
    );
    assert_eq!(uses[3].alias.as_deref(), Some("f"));
    let inline = inline_paths(&code);
    let inline: Vec<String> = inline.iter().map(|p| p.join("::")).collect();
    assert!(inline.contains(&"crate::i::j".to_string()), "{inline:?}");
    assert!(inline.contains(&"e::k".to_string()), "{inline:?}");
    assert!(!inline
        .iter()
        .any(|p| p.contains("in_string") || p.contains("raw") || p.contains("commented")));
}

struct SourceFile {
    path: PathBuf,
    /// The text with comments and string literals replaced by spaces (lines kept).
    code: String,
    /// `mod x;` / `mod x {` children declared here.
    children: BTreeSet<String>,
}

struct Graph {
    /// Module path (`chat::outbox`, `` for the crate root) → file.
    files: BTreeMap<String, SourceFile>,
    /// from module → (to module → one path that makes the edge).
    edges: BTreeMap<String, BTreeMap<String, String>>,
}

impl Graph {
    fn load() -> Graph {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = BTreeMap::new();
        collect(&root, &root, &mut files);
        let mut graph = Graph {
            files,
            edges: BTreeMap::new(),
        };
        let modules: Vec<String> = graph.files.keys().cloned().collect();
        for module in modules {
            let edges = graph.edges_of(&module);
            graph.edges.insert(module, edges);
        }
        graph
    }

    fn edges_of(&self, module: &str) -> BTreeMap<String, String> {
        let file = &self.files[module];
        let here: Vec<String> = split(module);
        let mut aliases: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut edges = BTreeMap::new();
        let add = |abs: Vec<String>, shown: String, edges: &mut BTreeMap<String, String>| {
            if let Some(target) = self.resolve(&abs) {
                if target != module {
                    edges.entry(target).or_insert(shown);
                }
            }
        };
        for u in parse_uses(&file.code) {
            if let Some(abs) = self.absolute(&here, &file.children, &aliases, &u.path) {
                // A `use` of a module makes its name (or alias) a way to reach it.
                let name = u
                    .alias
                    .clone()
                    .unwrap_or_else(|| abs.last().cloned().unwrap_or_default());
                if self.files.contains_key(&abs.join("::")) && name != "_" && name != "*" {
                    aliases.insert(name, abs.clone());
                }
                add(abs, u.path.join("::"), &mut edges);
            }
        }
        for path in inline_paths(&file.code) {
            if let Some(abs) = self.absolute(&here, &file.children, &aliases, &path) {
                add(abs, path.join("::"), &mut edges);
            }
        }
        edges
    }

    /// `path` as written in the file at module `here`, made absolute (without `crate`).
    fn absolute(
        &self,
        here: &[String],
        children: &BTreeSet<String>,
        aliases: &BTreeMap<String, Vec<String>>,
        path: &[String],
    ) -> Option<Vec<String>> {
        let first = path.first()?;
        let rest = &path[1..];
        let mut base: Vec<String> = match first.as_str() {
            "crate" => Vec::new(),
            "self" => here.to_vec(),
            "super" => {
                let mut base = here.to_vec();
                let mut rest = path;
                while rest.first().map(String::as_str) == Some("super") {
                    base.pop()?;
                    rest = &rest[1..];
                }
                base.extend(rest.iter().cloned());
                return Some(base);
            }
            name if children.contains(name) => {
                let mut base = here.to_vec();
                base.push(name.to_string());
                base
            }
            name => aliases.get(name)?.clone(),
        };
        base.extend(rest.iter().cloned());
        Some(base)
    }

    /// The file that defines the longest module prefix of `abs`.
    fn resolve(&self, abs: &[String]) -> Option<String> {
        (0..=abs.len())
            .rev()
            .map(|n| abs[..n].join("::"))
            .find(|m| self.files.contains_key(m))
    }

    fn layer_of(&self, module: &str) -> Option<usize> {
        let mut best: Option<(usize, usize)> = None; // (prefix length, layer)
        for (layer, (_, prefixes)) in LAYERS.iter().enumerate() {
            for prefix in *prefixes {
                let matches = module == *prefix || module.starts_with(&format!("{prefix}::"));
                if matches && best.is_none_or(|(len, _)| prefix.len() > len) {
                    best = Some((prefix.len(), layer));
                }
            }
        }
        best.map(|(_, layer)| layer)
    }

    /// Strongly connected sets of more than one file (Tarjan).
    fn cycles(&self) -> Vec<Vec<String>> {
        struct Tarjan<'g> {
            graph: &'g Graph,
            index: BTreeMap<&'g str, usize>,
            low: BTreeMap<&'g str, usize>,
            stack: Vec<&'g str>,
            on_stack: BTreeSet<&'g str>,
            next: usize,
            found: Vec<Vec<String>>,
        }
        impl<'g> Tarjan<'g> {
            fn visit(&mut self, v: &'g str) {
                self.index.insert(v, self.next);
                self.low.insert(v, self.next);
                self.next += 1;
                self.stack.push(v);
                self.on_stack.insert(v);
                for w in self.graph.edges[v].keys() {
                    let w = w.as_str();
                    if !self.index.contains_key(w) {
                        self.visit(w);
                        let low = self.low[v].min(self.low[w]);
                        self.low.insert(v, low);
                    } else if self.on_stack.contains(w) {
                        let low = self.low[v].min(self.index[w]);
                        self.low.insert(v, low);
                    }
                }
                if self.low[v] == self.index[v] {
                    let mut scc = Vec::new();
                    while let Some(w) = self.stack.pop() {
                        self.on_stack.remove(w);
                        scc.push(w.to_string());
                        if w == v {
                            break;
                        }
                    }
                    if scc.len() > 1 {
                        scc.sort();
                        self.found.push(scc);
                    }
                }
            }
        }
        let mut t = Tarjan {
            graph: self,
            index: BTreeMap::new(),
            low: BTreeMap::new(),
            stack: Vec::new(),
            on_stack: BTreeSet::new(),
            next: 0,
            found: Vec::new(),
        };
        for v in self.edges.keys() {
            if !t.index.contains_key(v.as_str()) {
                t.visit(v);
            }
        }
        t.found
    }
}

fn split(module: &str) -> Vec<String> {
    if module.is_empty() {
        Vec::new()
    } else {
        module.split("::").map(str::to_string).collect()
    }
}

/// Every `.rs` file under `src/` except the binary's root, by module path.
fn collect(root: &Path, dir: &Path, out: &mut BTreeMap<String, SourceFile>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .expect("read src/")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect(root, &path, out);
            continue;
        }
        if path.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        let rel = path.strip_prefix(root).expect("under src");
        let mut parts: Vec<String> = rel
            .iter()
            .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
            .collect();
        if parts == ["main"] {
            continue; // the binary: a separate crate that uses the library.
        }
        if parts.last().map(String::as_str) == Some("mod") || parts == ["lib"] {
            parts.pop();
        }
        let text = fs::read_to_string(&path).expect("read source");
        let code = blank_comments_and_strings(&text);
        let children = declared_children(&code);
        out.insert(
            parts.join("::"),
            SourceFile {
                path: path.clone(),
                code,
                children,
            },
        );
    }
}

/// Comments, string, byte-string, raw-string and char literals become spaces; newlines stay.
fn blank_comments_and_strings(text: &str) -> String {
    let b: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(b[i]));
                    i += 1;
                }
            }
        } else if (c == 'r' || (c == 'b' && next == Some('r')))
            && !prev_is_ident(&b, i)
            && raw_string_start(&b, i + usize::from(c == 'b')).is_some()
        {
            let start = i + usize::from(c == 'b');
            let hashes = raw_string_start(&b, start).unwrap_or(0);
            // r, hashes, quote
            let mut j = start + 1 + hashes + 1;
            loop {
                if j >= b.len() {
                    break;
                }
                if b[j] == '"' && (0..hashes).all(|h| b.get(j + 1 + h) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            for &ch in &b[i..j.min(b.len())] {
                out.push(blank(ch));
            }
            i = j;
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < b.len() {
                    out.push(blank(b[i]));
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' {
            // A char literal ('a', '\n', '\u{1F600}') or a lifetime ('a): blank only literals.
            let close = if next == Some('\\') {
                (i + 2..b.len().min(i + 12)).find(|&j| b[j] == '\'')
            } else if b.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match close {
                Some(end) => {
                    for _ in i..=end {
                        out.push(' ');
                    }
                    i = end + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn prev_is_ident(b: &[char], i: usize) -> bool {
    i > 0 && (b[i - 1].is_alphanumeric() || b[i - 1] == '_')
}

/// At `b[i] == 'r'`: the number of `#` before the opening quote of a raw string, if it is one.
fn raw_string_start(b: &[char], i: usize) -> Option<usize> {
    if b.get(i) != Some(&'r') {
        return None;
    }
    let mut j = i + 1;
    while b.get(j) == Some(&'#') {
        j += 1;
    }
    (b.get(j) == Some(&'"')).then_some(j - i - 1)
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Colons,
    Punct(char),
}

fn tokens(code: &str) -> Vec<Tok> {
    let b: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < b.len() && (b[i].is_alphanumeric() || b[i] == '_') {
                i += 1;
            }
            let word: String = b[start..i].iter().collect();
            // `r#type` raw identifiers.
            out.push(Tok::Ident(word));
        } else if c == ':' && b.get(i + 1) == Some(&':') {
            out.push(Tok::Colons);
            i += 2;
        } else if c.is_whitespace() {
            i += 1;
        } else {
            out.push(Tok::Punct(c));
            i += 1;
        }
    }
    out
}

fn declared_children(code: &str) -> BTreeSet<String> {
    let toks = tokens(code);
    let mut out = BTreeSet::new();
    for w in toks.windows(3) {
        if let [Tok::Ident(m), Tok::Ident(name), Tok::Punct(';' | '{')] = w {
            if m == "mod" {
                out.insert(name.clone());
            }
        }
    }
    out
}

struct Use {
    path: Vec<String>,
    alias: Option<String>,
}

/// Every leaf of every `use` tree, as a full path (`self` leaves name their parent).
fn parse_uses(code: &str) -> Vec<Use> {
    let toks = tokens(code);
    let depths = inline_module_depths(&toks);
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        if toks[i] == Tok::Ident("use".into()) {
            let mut j = i + 1;
            let first = out.len();
            tree(&toks, &mut j, Vec::new(), &mut out);
            for u in &mut out[first..] {
                u.path = out_of_inline_modules(std::mem::take(&mut u.path), depths[i]);
            }
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

fn tree(toks: &[Tok], j: &mut usize, mut prefix: Vec<String>, out: &mut Vec<Use>) {
    if toks.get(*j) == Some(&Tok::Colons) {
        *j += 1; // leading `::`
    }
    loop {
        match toks.get(*j) {
            Some(Tok::Ident(name)) => {
                *j += 1;
                if name == "self" && !prefix.is_empty() {
                    // `a::{self}` names `a`
                } else {
                    prefix.push(name.clone());
                }
                if toks.get(*j) == Some(&Tok::Colons) {
                    *j += 1;
                    continue;
                }
                let mut alias = None;
                if toks.get(*j) == Some(&Tok::Ident("as".into())) {
                    if let Some(Tok::Ident(a)) = toks.get(*j + 1) {
                        alias = Some(a.clone());
                    }
                    *j += 2;
                }
                out.push(Use {
                    path: prefix,
                    alias,
                });
                return;
            }
            Some(Tok::Punct('*')) => {
                *j += 1;
                out.push(Use {
                    path: prefix,
                    alias: Some("*".into()),
                });
                return;
            }
            Some(Tok::Punct('{')) => {
                *j += 1;
                loop {
                    match toks.get(*j) {
                        Some(Tok::Punct('}')) => {
                            *j += 1;
                            return;
                        }
                        Some(Tok::Punct(',')) => *j += 1,
                        None => return,
                        _ => tree(toks, j, prefix.clone(), out),
                    }
                }
            }
            _ => return,
        }
    }
}

/// Paths of two or more segments outside `use` items (`crate::x::y`, `e::k`).
fn inline_paths(code: &str) -> Vec<Vec<String>> {
    let toks = tokens(code);
    let depths = inline_module_depths(&toks);
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        if toks[i] == Tok::Ident("use".into()) {
            // Skip the use item: up to its `;`.
            while i < toks.len() && toks[i] != Tok::Punct(';') {
                i += 1;
            }
            continue;
        }
        let starts = matches!(&toks[i], Tok::Ident(_))
            && toks.get(i + 1) == Some(&Tok::Colons)
            && (i == 0 || toks[i - 1] != Tok::Colons);
        if starts {
            let mut path = Vec::new();
            let mut j = i;
            while let Some(Tok::Ident(name)) = toks.get(j) {
                path.push(name.clone());
                if toks.get(j + 1) == Some(&Tok::Colons) {
                    j += 2;
                } else {
                    j += 1;
                    break;
                }
            }
            out.push(out_of_inline_modules(path, depths[i]));
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

/// For each token, how many inline `mod x { … }` blocks of the file it sits in.
fn inline_module_depths(toks: &[Tok]) -> Vec<usize> {
    let mut out = Vec::with_capacity(toks.len());
    let mut braces = 0usize;
    let mut opened: Vec<usize> = Vec::new(); // brace depth inside each open inline module
    for (i, t) in toks.iter().enumerate() {
        match t {
            Tok::Punct('{') => {
                braces += 1;
                let is_mod = i >= 2
                    && toks[i - 2] == Tok::Ident("mod".into())
                    && matches!(toks[i - 1], Tok::Ident(_));
                if is_mod {
                    opened.push(braces);
                }
            }
            Tok::Punct('}') => {
                if opened.last() == Some(&braces) {
                    opened.pop();
                }
                braces = braces.saturating_sub(1);
            }
            _ => {}
        }
        out.push(opened.len());
    }
    out
}

/// Inside `depth` inline modules, the first `depth` `super`s stay in this file.
fn out_of_inline_modules(mut path: Vec<String>, depth: usize) -> Vec<String> {
    let mut n = 0;
    while n < depth && path.first().map(String::as_str) == Some("super") {
        path.remove(0);
        n += 1;
    }
    if n > 0 {
        path.insert(0, "self".into());
    }
    path
}
