//! The one glob of settings (exemption namespaces and names, exempt images,
//! public hosts): `*` stands for any run of characters, everything else for
//! itself, and the pattern matches the whole text. Compiled once, matched in
//! time linear in the text: each literal piece between stars is found at its
//! leftmost place, which is always as good as any later one, so nothing is
//! ever tried twice (a backtracking matcher took seconds on a pattern of a
//! dozen stars).

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    /// The pattern as written, for messages.
    pattern: String,
    /// The literal pieces between the stars; one piece when there is no star.
    pieces: Vec<String>,
}

impl Glob {
    pub fn new(pattern: &str) -> Glob {
        Glob {
            pattern: pattern.to_string(),
            pieces: pattern.split('*').map(str::to_string).collect(),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    pub fn matches(&self, text: &str) -> bool {
        let Some((first, rest)) = self.pieces.split_first() else {
            return text.is_empty();
        };
        let Some(mut tail) = text.strip_prefix(first.as_str()) else {
            return false;
        };
        let Some((last, middle)) = rest.split_last() else {
            // no star: the pattern is the whole text
            return tail.is_empty();
        };
        for piece in middle {
            match tail.find(piece.as_str()) {
                Some(at) => tail = tail.get(at + piece.len()..).unwrap_or_default(),
                None => return false,
            }
        }
        tail.ends_with(last.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Glob;

    fn glob(p: &str, t: &str) -> bool {
        Glob::new(p).matches(t)
    }

    #[test]
    fn stars_match_any_run_and_the_rest_itself() {
        assert!(glob("kube-*", "kube-system"));
        assert!(glob("*", ""));
        assert!(glob("a*c*e", "abcde"));
        assert!(!glob("a*c*e", "abcd"));
        assert!(glob("shop", "shop"));
        assert!(!glob("shop", "shops"));
        assert!(!glob("", "x"));
        assert!(glob("", ""));
        assert!(glob("a*b*c", "abc"));
        assert!(!glob("a*bc*c", "abc"));
        assert!(glob("a**b", "ab"));
        // a piece may not overlap the prefix or the suffix it sits between
        assert!(!glob("ab*ba", "aba"));
        assert!(glob("ab*ba", "abba"));
        assert!(glob("*ü*", "grüße"));
        assert!(glob("safeimages.com/*", "safeimages.com/a/b:1"));
        assert!(!glob("safeimages.com/*", "evil.com/safeimages.com/nginx"));
    }

    /// The pattern that took a backtracking matcher seconds: every star
    /// tries every split of what is left, for a text that cannot match.
    #[test]
    fn many_stars_against_a_near_miss() {
        let pattern = format!("{}b", "a*".repeat(11));
        let text = "a".repeat(32);
        assert!(!glob(&pattern, &text));
        assert!(glob(&pattern, &format!("{text}b")));
    }
}
