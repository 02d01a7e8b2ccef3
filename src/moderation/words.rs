//! The in-app word filter: whole words and phrases, ignoring case and accents.

use std::collections::HashSet;

use crate::error::{AppError, Result};

/// Refuse a message text containing a blocked word or phrase.
///
/// Errors: `422 validation_failed` with the field `body` and the message "contains a word that
/// is not allowed" (the word itself is not echoed). An empty filter accepts everything.
pub fn check_words(filter: &WordFilter, text: &str) -> Result<()> {
    if filter.matches(text) {
        return Err(AppError::invalid(
            "body",
            "contains a word that is not allowed",
        ));
    }
    Ok(())
}

/// Blocked words and phrases, folded once when built.
///
/// Text and entries are split into words (runs of letters and digits) and each word is folded:
/// lowercased, with accents and other Latin diacritics removed (`Á`→`a`, `ñ`→`n`, `ß`→`ss`),
/// combining marks dropped. An entry matches when its words occur in the text as whole,
/// consecutive words, so `ass` does not match "class" and `mala palabra` matches
/// "¡MALA  palabra!". Punctuation between letters separates words, so deliberately spelled-out
/// evasions ("a.s.s") are not caught.
#[derive(Debug, Clone, Default)]
pub struct WordFilter {
    /// One-word entries.
    words: HashSet<String>,
    /// Entries of several words, matched as consecutive words.
    phrases: Vec<Vec<String>>,
}

impl WordFilter {
    /// Build from configured entries; blank entries are ignored.
    pub fn new<I, S>(entries: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut filter = Self::default();
        for entry in entries {
            let mut w = words(entry.as_ref());
            match w.len() {
                0 => {}
                1 => {
                    filter.words.extend(w.pop());
                }
                _ => {
                    if !filter.phrases.contains(&w) {
                        filter.phrases.push(w);
                    }
                }
            }
        }
        filter
    }

    /// No entries: every text passes.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty() && self.phrases.is_empty()
    }

    /// Does `text` contain a blocked word or phrase?
    pub fn matches(&self, text: &str) -> bool {
        if self.is_empty() {
            return false;
        }
        let text = words(text);
        text.iter().any(|w| self.words.contains(w))
            || self
                .phrases
                .iter()
                .any(|p| text.windows(p.len()).any(|window| window == p.as_slice()))
    }
}

/// Split into folded words.
fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for c in text.chars() {
        if is_combining_mark(c) {
            // "e\u{301}" is "é" decomposed: drop the accent, stay in the word.
            continue;
        }
        if c.is_alphanumeric() {
            for lower in c.to_lowercase() {
                push_folded(lower, &mut current);
            }
        } else if !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

fn is_combining_mark(c: char) -> bool {
    matches!(c, '\u{0300}'..='\u{036F}' | '\u{1AB0}'..='\u{1AFF}' | '\u{1DC0}'..='\u{1DFF}' | '\u{20D0}'..='\u{20FF}' | '\u{FE20}'..='\u{FE2F}')
}

/// Append a lowercase character without its diacritics (Latin letters; others as they are).
fn push_folded(c: char, out: &mut String) {
    let base = match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => 'a',
        'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => 'c',
        'ď' | 'đ' | 'ð' => 'd',
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => 'e',
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => 'g',
        'ĥ' | 'ħ' => 'h',
        'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => 'i',
        'ĵ' => 'j',
        'ķ' => 'k',
        'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => 'l',
        'ñ' | 'ń' | 'ņ' | 'ň' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ŏ' | 'ő' => 'o',
        'ŕ' | 'ŗ' | 'ř' => 'r',
        'ś' | 'ŝ' | 'ş' | 'š' | 'ș' => 's',
        'ţ' | 'ť' | 'ŧ' | 'ț' => 't',
        'ù' | 'ú' | 'û' | 'ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => 'u',
        'ŵ' => 'w',
        'ý' | 'ÿ' | 'ŷ' => 'y',
        'ź' | 'ż' | 'ž' => 'z',
        'ß' => return out.push_str("ss"),
        'æ' => return out.push_str("ae"),
        'œ' => return out.push_str("oe"),
        'þ' => return out.push_str("th"),
        other => other,
    };
    out.push(base);
}
