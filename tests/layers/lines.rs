//! Lines of code: the lines that hold a token, not counting doc comments, and not counting
//! items that exist only in test builds (`#[cfg(test)] mod tests { … }`).

use std::collections::BTreeSet;
use std::ops::RangeInclusive;

use proc_macro2::{Delimiter, Span, TokenStream, TokenTree};
use syn::spanned::Spanned;
use syn::visit::{self, Visit};
use syn::{ImplItem, Item};

use crate::graph::{attributes, impl_item_attributes, is_test};

/// The lines of code of `text`, whose syntax tree is `file`.
pub fn lines_of_code(text: &str, file: &syn::File) -> usize {
    let mut tests = TestItems::default();
    tests.visit_file(file);
    let mut lines = BTreeSet::new();
    if let Ok(tokens) = text.parse::<TokenStream>() {
        token_lines(tokens, &mut lines);
    }
    lines
        .into_iter()
        .filter(|line| !tests.0.iter().any(|range| range.contains(line)))
        .count()
}

/// Adds the line of every token of `tokens` to `lines`, skipping `#[doc = …]` (a doc comment).
fn token_lines(tokens: TokenStream, lines: &mut BTreeSet<usize>) {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    let mut at = 0;
    while let Some(token) = tokens.get(at) {
        if let Some(length) = doc_attribute(&tokens[at..]) {
            at += length;
            continue;
        }
        match token {
            TokenTree::Group(group) => {
                lines.insert(group.span_open().start().line);
                lines.insert(group.span_close().end().line);
                token_lines(group.stream(), lines);
            }
            other => {
                let span = other.span();
                lines.extend(span.start().line..=span.end().line);
            }
        }
        at += 1;
    }
}

/// The number of tokens of the `#[doc …]` or `#![doc …]` attribute `tokens` starts with.
fn doc_attribute(tokens: &[TokenTree]) -> Option<usize> {
    let TokenTree::Punct(pound) = tokens.first()? else {
        return None;
    };
    if pound.as_char() != '#' {
        return None;
    }
    let bang = matches!(tokens.get(1), Some(TokenTree::Punct(p)) if p.as_char() == '!');
    let group_at = if bang { 2 } else { 1 };
    let TokenTree::Group(group) = tokens.get(group_at)? else {
        return None;
    };
    let first = group.stream().into_iter().next();
    let is_doc = group.delimiter() == Delimiter::Bracket
        && matches!(first, Some(TokenTree::Ident(ident)) if ident == "doc");
    is_doc.then_some(group_at + 1)
}

/// The line ranges of the items that exist only in test builds.
#[derive(Default)]
struct TestItems(Vec<RangeInclusive<usize>>);

impl TestItems {
    /// An item's lines, from its first attribute (doc comments included) to its last token.
    fn add(&mut self, span: Span) {
        self.0.push(span.start().line..=span.end().line);
    }
}

impl<'ast> Visit<'ast> for TestItems {
    fn visit_item(&mut self, item: &'ast Item) {
        if is_test(attributes(item)) {
            self.add(item.span());
        } else {
            visit::visit_item(self, item);
        }
    }

    fn visit_impl_item(&mut self, item: &'ast ImplItem) {
        if is_test(impl_item_attributes(item)) {
            self.add(item.span());
        }
    }
}
