//! Names: each chat client has one, unique regardless of case; a taken name gets `-2`, `-3`, …
//! and a client that asked for none (or an invalid one) is `guest-N`. [`Names`] knows who holds
//! each name; the chat tells everyone of a rename (`join`).

use std::collections::{BTreeSet, HashMap};

use super::commands::ChatError;
use super::config::SERVER_NAME;
use super::spelling::{self, Misspelling};
use crate::app::clients::ClientId;

/// Checks a requested name and returns it trimmed and NFKC-normalised ([`spelling`]).
///
/// # Errors
///
/// [`ChatError::NameEmpty`], [`ChatError::NameTooLong`], [`ChatError::NameHasControlChar`],
/// [`ChatError::NameHasInvisibleChar`], [`ChatError::NameMixesScripts`] or
/// [`ChatError::NameReserved`] (`server`, in any case or disguise: [`spelling::skeleton`]).
pub(super) fn validate_name(raw: &str, max_chars: usize) -> Result<String, ChatError> {
    // Sizes first, on the raw text: normalising a long name is work the limit should spare.
    let raw = raw.trim();
    let raw_chars = raw.chars().count();
    if raw_chars > max_chars.saturating_mul(4) {
        return Err(ChatError::NameTooLong {
            chars: raw_chars,
            limit: max_chars,
        });
    }
    let normalised = spelling::normalise(raw);
    let name = normalised.trim();
    let chars = name.chars().count();
    if chars == 0 {
        return Err(ChatError::NameEmpty);
    }
    if chars > max_chars {
        return Err(ChatError::NameTooLong {
            chars,
            limit: max_chars,
        });
    }
    spelling::check_spelling(name).map_err(|why| match why {
        Misspelling::Control => ChatError::NameHasControlChar,
        Misspelling::Invisible => ChatError::NameHasInvisibleChar,
        Misspelling::MixedScripts => ChatError::NameMixesScripts,
    })?;
    if spelling::skeleton(name) == spelling::skeleton(SERVER_NAME) {
        return Err(ChatError::NameReserved);
    }
    Ok(name.to_owned())
}

/// The key under which a name is unique: names differing only in case are the same name.
fn name_key(name: &str) -> String {
    name.to_lowercase()
}

/// Who holds each name, and the number of the next `guest-N`.
#[derive(Debug)]
pub(super) struct Names {
    /// Who holds each name, keyed by [`name_key`].
    holders: HashMap<String, ClientId>,
    /// The numbered names handed out for each wanted name, keyed by [`name_key`] of it.
    families: HashMap<String, Family>,
    /// Each numbered name held: its family's key and its number.
    numbered: HashMap<String, (String, u64)>,
    /// The number of the next `guest-N` name.
    next_guest: u64,
}

/// The numbered names `wanted-2`, `wanted-3`, … of one wanted name, so that the next free one
/// is found in O(1) expected time, not by trying `-2`, `-3`, … against every name taken.
///
/// Every number below `next` is held or in `free`, unless a client took that numbered name by
/// asking for it outright (then it is skipped once). A family lives while one of its numbered
/// names is held.
#[derive(Debug)]
struct Family {
    /// The lowest number never handed out.
    next: u64,
    /// Numbers handed out and released since: the lowest is reused first.
    free: BTreeSet<u64>,
    /// Numbered names of this family held now.
    held: usize,
}

impl Default for Names {
    fn default() -> Self {
        Self {
            holders: HashMap::new(),
            families: HashMap::new(),
            numbered: HashMap::new(),
            next_guest: 1,
        }
    }
}

impl Names {
    /// `id` holds `name` from now on.
    pub(super) fn hold(&mut self, name: &str, id: ClientId) {
        self.holders.insert(name_key(name), id);
    }

    /// Nobody holds `name` any more; a numbered name's number is free again.
    pub(super) fn release(&mut self, name: &str) {
        let key = name_key(name);
        self.holders.remove(&key);
        let Some((family_key, number)) = self.numbered.remove(&key) else {
            return;
        };
        if let Some(family) = self.families.get_mut(&family_key) {
            family.held = family.held.saturating_sub(1);
            if family.held == 0 {
                self.families.remove(&family_key);
            } else {
                family.free.insert(number);
            }
        }
    }

    /// `wanted` if nobody else holds it, else the lowest free of `wanted-2`, `wanted-3`, …
    /// shortened so the result stays within `max_chars`
    /// ([`ChatConfig::max_name_chars`](super::ChatConfig::max_name_chars)). `current` is the
    /// asking client and the name it holds now, which it may keep when it is `wanted` or one of
    /// its numbered names.
    ///
    /// The caller holds the name returned (unless it is `current`'s).
    pub(super) fn unique(
        &mut self,
        wanted: &str,
        current: Option<(ClientId, &str)>,
        max_chars: usize,
    ) -> String {
        let owner = current.map(|(id, _)| id);
        let holder_of = |holders: &HashMap<String, ClientId>, candidate: &str| {
            holders.get(&name_key(candidate)).copied()
        };
        if holder_of(&self.holders, wanted).map_or(true, |holder| Some(holder) == owner) {
            return wanted.to_owned();
        }
        let family_key = name_key(wanted);
        if let Some((_, name)) = current {
            let is_of_family = self
                .numbered
                .get(&name_key(name))
                .is_some_and(|(key, _)| *key == family_key);
            if is_of_family {
                return name.to_owned();
            }
        }
        let family = self
            .families
            .entry(family_key.clone())
            .or_insert_with(|| Family {
                next: 2,
                free: BTreeSet::new(),
                held: 0,
            });
        // Ends: each turn takes a number never tried before, and only finitely many names are
        // taken. A number is skipped only if its name was taken outright, once per family.
        loop {
            let number = family.free.pop_first().unwrap_or_else(|| {
                let number = family.next;
                family.next = family.next.saturating_add(1);
                number
            });
            let suffix = format!("-{number}");
            let keep = max_chars.saturating_sub(suffix.len()).max(1);
            let candidate: String = wanted.chars().take(keep).chain(suffix.chars()).collect();
            if holder_of(&self.holders, &candidate).is_none() {
                family.held += 1;
                self.numbered
                    .insert(name_key(&candidate), (family_key, number));
                return candidate;
            }
        }
    }

    /// The next free `guest-N` name.
    pub(super) fn guest(&mut self) -> String {
        loop {
            let candidate = format!("guest-{}", self.next_guest);
            self.next_guest = self.next_guest.saturating_add(1);
            if !self.holders.contains_key(&name_key(&candidate)) {
                return candidate;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::*;
    use serde_json::json;

    #[test]
    fn a_taken_name_gets_a_numbered_suffix() {
        let mut chat = chat();
        let names: Vec<String> = (1..=4)
            .map(|id| welcome_name(&chat.connect(id, named("alice"), NOW), id))
            .collect();
        assert_eq!(names, ["alice", "alice-2", "alice-3", "alice-4"]);
        chat.disconnect(2);
        assert_eq!(
            welcome_name(&chat.connect(5, named("alice"), NOW), 5),
            "alice-2"
        );
    }

    #[test]
    fn names_differing_only_in_case_are_the_same_name() {
        let mut chat = chat();
        chat.connect(1, named("alice"), NOW);
        assert_eq!(
            welcome_name(&chat.connect(2, named("ALICE"), NOW), 2),
            "ALICE-2"
        );
    }

    #[test]
    fn a_suffixed_name_stays_within_the_name_limit() {
        let mut chat = chat();
        let long = "a".repeat(32);
        chat.connect(1, named(&long), NOW);
        let second = welcome_name(&chat.connect(2, named(&long), NOW), 2);
        assert_eq!(second, format!("{}-2", "a".repeat(30)));
        assert_eq!(second.chars().count(), 32);
    }

    #[test]
    fn a_client_without_a_name_becomes_guest_n() {
        let mut chat = chat();
        let first = chat.connect(1, ChatQuery::default(), NOW);
        assert_eq!(welcome_name(&first, 1), "guest-1");
        assert!(error_codes(&first, 1).is_empty());
        assert_eq!(
            welcome_name(&chat.connect(2, ChatQuery::default(), NOW), 2),
            "guest-2"
        );
        chat.connect(3, named("guest-3"), NOW);
        assert_eq!(
            welcome_name(&chat.connect(4, ChatQuery::default(), NOW), 4),
            "guest-4"
        );
    }

    #[test]
    fn an_invalid_name_yields_a_guest_name_and_an_error_saying_why() {
        let cases = [
            (
                "control char",
                "al\u{7}ice",
                "name contains a control character",
            ),
            (
                "too long",
                &"x".repeat(33)[..],
                "name is 33 characters long; the limit is 32",
            ),
            ("empty after trim", "   ", "name is empty"),
            ("reserved", "server", "name \"server\" is reserved"),
            (
                "reserved in any case",
                " Server ",
                "name \"server\" is reserved",
            ),
        ];
        for (case, name, why) in cases {
            let mut chat = chat();
            let connected = chat.connect(1, named(name), NOW);
            assert_eq!(welcome_name(&connected, 1), "guest-1", "{case}");
            let error = events(&connected, 1)
                .into_iter()
                .find(|e| matches!(e, ServerEvent::Error { .. }));
            let expected = ServerEvent::Error {
                error: "bad_name".into(),
                message: why.into(),
            };
            assert_eq!(error, Some(expected), "{case}");
            assert_eq!(types(&connected, 1)[..2], ["welcome", "error"], "{case}");
        }
    }

    #[test]
    fn a_name_at_the_limit_passes_and_one_char_over_fails() {
        let mut chat = chat();
        let at_limit = "한".repeat(32);
        assert_eq!(
            welcome_name(&chat.connect(1, named(&at_limit), NOW), 1),
            at_limit
        );
        let over = "한".repeat(33);
        assert_eq!(
            error_codes(&chat.connect(2, named(&over), NOW), 2),
            ["bad_name"]
        );
    }

    #[test]
    fn names_are_trimmed() {
        let mut chat = chat();
        assert_eq!(
            welcome_name(&chat.connect(1, named("  alice \t"), NOW), 1),
            "alice"
        );
        assert_eq!(chat.name_of(1), Some("alice"));
    }

    #[test]
    fn rename_tells_everyone_the_old_and_new_name() {
        let mut chat = chat();
        chat.connect(1, named("alice"), NOW);
        chat.connect(2, named("bob"), NOW);
        let renamed = chat.receive_text(1, r#"{"type":"join","name":"alicia"}"#, NOW);
        assert_eq!(renamed.len(), 1);
        assert_eq!(renamed[0].to, Recipients::Many(vec![1, 2]));
        assert_eq!(
            received(&renamed, 2)[0],
            json!({"type": "presence", "event": "rename", "name": "alicia", "old_name": "alice",
                   "users": 2, "text": "이름 변경: alice → alicia"})
        );
        assert_eq!(chat.name_of(1), Some("alicia"));
        let taken_again = chat.connect(3, named("alice"), NOW);
        assert_eq!(
            welcome_name(&taken_again, 3),
            "alice",
            "the old name is free again"
        );
    }

    #[test]
    fn rename_to_a_taken_name_gets_a_suffix() {
        let mut chat = chat();
        chat.connect(1, named("alice"), NOW);
        chat.connect(2, named("bob"), NOW);
        chat.receive_text(2, r#"{"type":"join","name":"alice"}"#, NOW);
        assert_eq!(chat.name_of(2), Some("alice-2"));
    }

    #[test]
    fn rename_to_the_same_name_changes_nothing() {
        let mut chat = chat();
        chat.connect(1, named("alice"), NOW);
        assert!(chat
            .receive_text(1, r#"{"type":"join","name":" alice "}"#, NOW)
            .is_empty());
        let recased = chat.receive_text(1, r#"{"type":"join","name":"Alice"}"#, NOW);
        assert_eq!(
            presence_of(&recased, 1)[0].1,
            "Alice",
            "a change of case is a rename"
        );
    }

    #[test]
    fn rename_to_an_invalid_name_is_an_error_and_keeps_the_old_name() {
        let mut chat = chat();
        chat.connect(1, named("alice"), NOW);
        chat.connect(2, named("bob"), NOW);
        let refused = chat.receive_text(1, r#"{"type":"join","name":"server"}"#, NOW);
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].to, Recipients::One(1));
        assert_eq!(error_codes(&refused, 1), ["bad_name"]);
        assert_eq!(chat.name_of(1), Some("alice"));
    }

    #[test]
    fn look_alike_invisible_and_mixed_script_names_are_refused() {
        let cases = [
            (
                "server\u{200b}",
                "name contains an invisible or bidi control character",
            ),
            (
                "bob\u{202e}ecila",
                "name contains an invisible or bidi control character",
            ),
            ("\u{430}lice", "name mixes letters of different scripts"),
            ("ѕеrvеr", "name mixes letters of different scripts"),
            ("ѕегѵег", "name \"server\" is reserved"),
            ("ｓｅｒｖｅｒ", "name \"server\" is reserved"),
        ];
        for (name, why) in cases {
            let mut chat = chat();
            let connected = chat.connect(1, named(name), NOW);
            assert_eq!(welcome_name(&connected, 1), "guest-1", "{name:?}");
            let error = events(&connected, 1)
                .into_iter()
                .find(|e| matches!(e, ServerEvent::Error { .. }));
            let expected = ServerEvent::Error {
                error: "bad_name".into(),
                message: why.into(),
            };
            assert_eq!(error, Some(expected), "{name:?}");
        }
    }

    #[test]
    fn names_are_nfkc_normalised_so_full_width_is_the_same_name() {
        let mut chat = chat();
        chat.connect(1, named("alice"), NOW);
        assert_eq!(
            welcome_name(&chat.connect(2, named("ａｌｉｃｅ"), NOW), 2),
            "alice-2"
        );
    }

    #[test]
    fn numbered_names_come_from_a_counter_not_a_scan() {
        let mut names = Names::default();
        names.hold("alice", 1);
        for id in 2..=3000 {
            let name = names.unique("alice", None, 32);
            assert_eq!(name, format!("alice-{id}"));
            names.hold(&name, id);
        }
        // One more costs one lookup: the family's counter is at 3001.
        assert_eq!(names.families.get("alice").map(|f| f.next), Some(3001));
        assert_eq!(names.unique("alice", None, 32), "alice-3001");
        names.hold("alice-3001", 3001);
        // A released number is reused first, lowest first.
        names.release("alice-7");
        names.release("alice-5");
        assert_eq!(names.unique("alice", None, 32), "alice-5");
        // Asking for a name of one's own family keeps it.
        assert_eq!(
            names.unique("alice", Some((3001, "alice-3001")), 32),
            "alice-3001"
        );
    }

    #[test]
    fn a_numbered_name_taken_outright_is_skipped() {
        let mut names = Names::default();
        names.hold("alice", 1);
        names.hold("alice-2", 2);
        assert_eq!(names.unique("alice", None, 32), "alice-3");
    }
}
