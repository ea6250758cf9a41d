//! The PII pre-filter: the engine's own relaxed patterns, in two alternations as the engine
//! defines them: *value* patterns (detectors, triggers, SQL) over a piece's bytes as they
//! are, *key* patterns (sensitive keys, URL parameters, SQL keys; case-insensitive) over the
//! bytes normalised like keys (ASCII lower case, `-`, `.` and space -> `_`). Two small
//! automata instead of one: together they would track every combination of partial
//! matches, and the lazy DFA would keep building states on unseen text.
//!
//! Beside the patterns, two bounded memories: pieces found clean before, for each role
//! (attribute, text, body) they were found clean in (most attributes of a batch repeat
//! those of earlier batches), and the keys whose values the engine never changes
//! (`conversation_id`, ids...), as the engine answered for each.
//!
//! Contract: `is_suspicious(role, piece)` is false only if no value pattern matches `piece`
//! and no key pattern matches it normalised; a piece found clean once is clean in that role
//! for the life of this pre-filter (the patterns never change: a new rule set gets a new
//! pre-filter), and only in that role: the same bytes may be an attribute whose key the
//! engine keeps and a span name to scan, a valid attribute and a string that is not UTF-8.

use ahash::AHashMap;
use regex::bytes::{Regex, RegexBuilder};

use crate::schema::Role;

/// Pieces longer than this are never remembered (they rarely repeat).
const MAX_REMEMBERED_PIECE: usize = 512;
/// Bound on the bytes held by each memory; a memory starts over when full.
const MAX_REMEMBERED_BYTES: usize = 4 << 20;
/// Per-entry overhead counted against `MAX_REMEMBERED_BYTES`.
const ENTRY_OVERHEAD: usize = 32;
/// Memory budget of each compiled alternation and of its lazy DFA (as RE2's `max_mem`).
pub const REGEX_MEMORY: usize = 64 << 20;

pub struct Prefilter {
    values: Regex,
    keys: Regex,
    scratch: Vec<u8>,
    /// Each clean piece with the roles it was found clean in (`role_bit`).
    clean: Memory<u8>,
    kept_keys: Memory<bool>,
    text_keys: Memory<bool>,
}

impl Prefilter {
    /// Compile the two alternations (RE2 syntax, which the regex crate shares).
    pub fn new(value_patterns: &[String], key_patterns: &[String]) -> Result<Prefilter, String> {
        Ok(Prefilter {
            values: alternation(value_patterns)?,
            keys: alternation(key_patterns)?,
            scratch: Vec::new(),
            clean: Memory::default(),
            kept_keys: Memory::default(),
            text_keys: Memory::default(),
        })
    }

    /// Whether `piece` was found clean before in `role` (then it is also known to be well
    /// formed for it: callers check a piece before asking `is_suspicious`).
    #[inline]
    pub fn is_known_clean(&self, role: Role, piece: &[u8]) -> bool {
        self.clean.get(piece).is_some_and(|roles| roles & role_bit(role) != 0)
    }

    /// Whether `piece` might hold something the engine would change (see the contract);
    /// a clean piece is remembered for `role`.
    pub fn is_suspicious(&mut self, role: Role, piece: &[u8]) -> bool {
        if self.matches(piece) {
            return true;
        }
        self.remember_clean(role, piece);
        false
    }

    /// Remember `piece` as clean in `role` (a valid piece the engine is known to leave
    /// unchanged there).
    pub fn remember_clean(&mut self, role: Role, piece: &[u8]) {
        if let Some(roles) = self.clean.get_mut(piece) {
            *roles |= role_bit(role);
            return;
        }
        self.clean.insert(piece, role_bit(role));
    }

    /// What the engine said of `key` (whether it keeps every value under it), if asked before.
    #[inline]
    pub fn kept_key(&self, key: &[u8]) -> Option<bool> {
        self.kept_keys.get(key).copied()
    }

    /// Remember the engine's answer for `key`.
    pub fn remember_key(&mut self, key: &[u8], kept: bool) {
        self.kept_keys.insert(key, kept);
    }

    /// Whether the engine scrubs the string values of `key` as text, if asked before.
    #[inline]
    pub fn text_key(&self, key: &[u8]) -> Option<bool> {
        self.text_keys.get(key).copied()
    }

    /// Remember the engine's answer for `key` (`scrubs_as_text`).
    pub fn remember_text_key(&mut self, key: &[u8], as_text: bool) {
        self.text_keys.insert(key, as_text);
    }

    fn matches(&mut self, piece: &[u8]) -> bool {
        if self.values.is_match(piece) {
            return true;
        }
        self.scratch.clear();
        self.scratch.extend(piece.iter().map(|&byte| KEY_BYTES[byte as usize]));
        self.keys.is_match(&self.scratch)
    }
}

/// The translation table of the bytes normalised like keys: ASCII lower case, `-`, `.`
/// and space as `_` (the engine's `KEY_BYTES`).
pub const KEY_BYTES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut index = 0;
    while index < 256 {
        let byte = index as u8;
        table[index] = match byte {
            b'A'..=b'Z' => byte + (b'a' - b'A'),
            b'-' | b'.' | b' ' => b'_',
            other => other,
        };
        index += 1;
    }
    table
};

/// The bit of `role` in the memory of clean pieces.
#[inline]
fn role_bit(role: Role) -> u8 {
    1 << (role as u8)
}

fn alternation(patterns: &[String]) -> Result<Regex, String> {
    let joined = if patterns.is_empty() {
        // matches nothing
        "[^\\x00-\\x{10FFFF}]".to_string()
    } else {
        patterns.iter().map(|pattern| format!("(?:{pattern})")).collect::<Vec<_>>().join("|")
    };
    compile(&joined)
}

/// A regex as the engine's patterns are compiled here (RE2's memory budget).
pub fn compile(pattern: &str) -> Result<Regex, String> {
    RegexBuilder::new(pattern)
        .size_limit(REGEX_MEMORY)
        .dfa_size_limit(REGEX_MEMORY)
        .build()
        .map_err(|error| error.to_string())
}

/// A bounded map from short byte strings: forgets everything when full.
struct Memory<T> {
    entries: AHashMap<Box<[u8]>, T>,
    bytes: usize,
}

impl<T> Default for Memory<T> {
    fn default() -> Self {
        Memory { entries: AHashMap::default(), bytes: 0 }
    }
}

impl<T> Memory<T> {
    #[inline]
    fn get(&self, piece: &[u8]) -> Option<&T> {
        if piece.len() > MAX_REMEMBERED_PIECE {
            return None;
        }
        self.entries.get(piece)
    }

    #[inline]
    fn get_mut(&mut self, piece: &[u8]) -> Option<&mut T> {
        if piece.len() > MAX_REMEMBERED_PIECE {
            return None;
        }
        self.entries.get_mut(piece)
    }

    fn insert(&mut self, piece: &[u8], value: T) {
        if piece.len() > MAX_REMEMBERED_PIECE {
            return;
        }
        if self.bytes + piece.len() + ENTRY_OVERHEAD > MAX_REMEMBERED_BYTES {
            self.entries.clear();
            self.bytes = 0;
        }
        self.bytes += piece.len() + ENTRY_OVERHEAD;
        self.entries.insert(piece.into(), value);
    }
}
