//! Path globs: `*` matches within one path segment, `**` across segments.
//!
//! `/news/*` matches `/news/item-1` but not `/news/a/b`; `/**/RSS` matches `/RSS` and
//! `/news/RSS`; `/static/**` matches everything under `/static/`. `**` must be a whole path
//! segment. Matching runs a small bit-set automaton: no allocation and no backtracking, so
//! its cost is linear in the path length whatever the pattern.

/// The longest glob accepted, in bytes (it keeps the automaton within a `u128`).
pub const MAX_GLOB_LEN: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// One literal byte.
    Byte(u8),
    /// `*`: any run of bytes other than `/`.
    Star,
    /// A final `**`: anything at all.
    Rest,
    /// `**/`: zero or more whole segments; occupies two steps (entry, inside).
    SegmentsEntry,
    SegmentsInside,
}

/// A compiled glob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    steps: Vec<Step>,
}

impl Glob {
    /// Compiles `pattern`, or says in a plain sentence why it is not a valid glob.
    pub fn new(pattern: &str) -> Result<Glob, String> {
        if !pattern.starts_with('/') {
            return Err("a glob must start with /".to_string());
        }
        if pattern.len() > MAX_GLOB_LEN {
            return Err(format!("a glob may be at most {MAX_GLOB_LEN} bytes long"));
        }
        let bytes = pattern.as_bytes();
        let mut steps = Vec::with_capacity(bytes.len() + 1);
        let mut i = 0;
        while let Some(&b) = bytes.get(i) {
            if b != b'*' {
                steps.push(Step::Byte(b));
                i += 1;
                continue;
            }
            let double = bytes.get(i + 1) == Some(&b'*');
            if !double {
                steps.push(Step::Star);
                i += 1;
                continue;
            }
            let after = bytes.get(i + 2).copied();
            if bytes.get(i.wrapping_sub(1)) != Some(&b'/') || !matches!(after, None | Some(b'/')) {
                return Err("\"**\" must be a whole path segment, as in /a/**/b".to_string());
            }
            if after.is_none() {
                steps.push(Step::Rest);
                i += 2;
            } else {
                steps.push(Step::SegmentsEntry);
                steps.push(Step::SegmentsInside);
                i += 3;
            }
        }
        Ok(Glob { steps })
    }

    /// The epsilon closure of a state set: steps that may match nothing pass on.
    fn close(&self, mut set: u128) -> u128 {
        for (i, step) in self.steps.iter().enumerate() {
            if set & (1u128 << i) != 0 {
                match step {
                    Step::Star | Step::Rest => set |= 1u128 << (i + 1),
                    Step::SegmentsEntry => set |= 1u128 << (i + 2),
                    _ => {}
                }
            }
        }
        set
    }

    /// Whether `path` matches the whole glob.
    pub fn matches(&self, path: &str) -> bool {
        let accept = 1u128 << self.steps.len();
        let mut set = self.close(1);
        for &c in path.as_bytes() {
            let mut next = 0u128;
            for (i, step) in self.steps.iter().enumerate() {
                if set & (1u128 << i) == 0 {
                    continue;
                }
                next |= match *step {
                    Step::Byte(b) if b == c => 1u128 << (i + 1),
                    Step::Byte(_) => 0,
                    Step::Star if c != b'/' => 1u128 << i,
                    Step::Star => 0,
                    Step::Rest => 1u128 << i,
                    Step::SegmentsEntry => {
                        let inside = 1u128 << (i + 1);
                        if c == b'/' {
                            inside | 1u128 << (i + 2)
                        } else {
                            inside
                        }
                    }
                    Step::SegmentsInside if c == b'/' => (1u128 << i) | 1u128 << (i + 1),
                    Step::SegmentsInside => 1u128 << i,
                };
            }
            if next == 0 {
                return false;
            }
            set = self.close(next);
        }
        set & accept != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(g: &str, p: &str) -> bool {
        Glob::new(g).map(|g| g.matches(p)).unwrap_or(false)
    }

    #[test]
    fn star_stays_within_a_segment() {
        assert!(m("/news/*", "/news/item-1"));
        assert!(!m("/news/*", "/news/a/b"));
        assert!(m("/news/*", "/news/"));
        assert!(m("/files/*.pdf", "/files/report.pdf"));
        assert!(!m("/files/*.pdf", "/files/a/report.pdf"));
        assert!(m("/**/@@images/*.*", "/a/logo.png/@@images/abc-123.png"));
        assert!(!m("/**/@@images/*.*", "/a/logo.png/@@images/image/preview"));
    }

    #[test]
    fn double_star_crosses_segments() {
        assert!(m("/**/RSS", "/RSS"));
        assert!(m("/**/RSS", "/news/RSS"));
        assert!(m("/**/RSS", "/a/b/c/RSS"));
        assert!(!m("/**/RSS", "/xRSS"));
        assert!(!m("/**/RSS", "/news/RSS/x"));
        assert!(m("/static/**", "/static/a/b.css"));
        assert!(m("/static/**", "/static/"));
        assert!(!m("/static/**", "/static"));
        assert!(m("/**/++resource++*/**", "/site/++resource++demo/style.css"));
        assert!(m("/**/++unique++*/**", "/++plone++static/++unique++2026-01-01/app.js"));
        assert!(m("/a/**/b/**/c", "/a/b/c"));
        assert!(m("/a/**/b/**/c", "/a/x/y/b/z/c"));
    }

    #[test]
    fn invalid_globs_say_why() {
        assert_eq!(Glob::new("news/*"), Err("a glob must start with /".to_string()));
        let whole = Err("\"**\" must be a whole path segment, as in /a/**/b".to_string());
        assert_eq!(Glob::new("/a**"), whole);
        assert_eq!(Glob::new("/***"), whole);
        assert_eq!(Glob::new("/**x/"), whole);
        assert!(Glob::new(&format!("/{}", "a".repeat(MAX_GLOB_LEN))).is_err());
        assert!(Glob::new(&format!("/{}", "*a".repeat(49))).is_ok());
    }
}
