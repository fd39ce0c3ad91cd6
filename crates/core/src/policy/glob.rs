//! Path globs: `*` matches within one path segment, `**` across segments.
//!
//! `/news/*` matches `/news/item-1` but not `/news/a/b`; `/**/RSS` matches `/RSS` and
//! `/news/RSS`; `/static/**` matches everything under `/static/`. `**` must be a whole path
//! segment.
//!
//! A glob is compiled into runs of segment patterns separated by `**`. Matching walks the
//! path's `/`-separated segments: the first run is anchored at the start, each middle run is
//! found at its leftmost place, and the last run is anchored at the end (a final `**` takes
//! whatever is left, at least one segment). A glob's literal prefix and suffix reject most
//! paths before any of that. No allocation and no backtracking across `**`.

/// The longest glob accepted, in bytes.
pub const MAX_GLOB_LEN: usize = 100;

/// One path segment of a glob (between two `/`), other than `**`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// Exactly these bytes.
    Literal(Box<[u8]>),
    /// Pieces separated by `*` (at least two): the first must start the segment, the last
    /// end it, and the others appear in order between them.
    Wild(Box<[Box<[u8]>]>),
}

impl Segment {
    fn parse(text: &str) -> Segment {
        if text.contains('*') {
            Segment::Wild(text.split('*').map(|p| Box::from(p.as_bytes())).collect())
        } else {
            Segment::Literal(Box::from(text.as_bytes()))
        }
    }

    /// Whether one path segment (no `/` in it) matches.
    fn matches(&self, seg: &[u8]) -> bool {
        match self {
            Segment::Literal(lit) => **lit == *seg,
            Segment::Wild(pieces) => {
                let (Some((first, rest)), Some(last)) = (pieces.split_first(), pieces.last()) else {
                    return false;
                };
                if seg.len() < first.len() + last.len() || !seg.starts_with(first) || !seg.ends_with(last) {
                    return false;
                }
                let mut middle = seg.get(first.len()..seg.len() - last.len()).unwrap_or(&[]);
                for piece in rest.split_last().map_or(&[][..], |(_, m)| m) {
                    match find(middle, piece) {
                        Some(at) => middle = middle.get(at + piece.len()..).unwrap_or(&[]),
                        None => return false,
                    }
                }
                true
            }
        }
    }
}

/// The first position of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The path segments not yet consumed: `Some(rest)` starts at a segment (possibly the empty
/// last one), `None` when every segment was consumed.
type Cursor<'a> = Option<&'a [u8]>;

fn next_segment<'a>(cursor: &mut Cursor<'a>) -> Option<&'a [u8]> {
    let s = (*cursor)?;
    match s.iter().position(|&b| b == b'/') {
        Some(at) => {
            *cursor = s.get(at + 1..);
            s.get(..at)
        }
        None => {
            *cursor = None;
            Some(s)
        }
    }
}

fn segments_left(cursor: Cursor<'_>) -> usize {
    cursor.map_or(0, |s| s.iter().filter(|&&b| b == b'/').count() + 1)
}

/// Matches `run` segment by segment at `cursor`; the cursor after it on success.
fn match_run<'a>(run: &[Segment], mut cursor: Cursor<'a>) -> Option<Cursor<'a>> {
    for seg in run {
        let s = next_segment(&mut cursor)?;
        if !seg.matches(s) {
            return None;
        }
    }
    Some(cursor)
}

/// A compiled glob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    /// The bytes before the first `*`: every match starts with them.
    prefix: Box<[u8]>,
    /// The bytes after the last `*`: every match ends with them.
    suffix: Box<[u8]>,
    /// Runs of segments separated by `**` (one more run than there are `**`; the run after a
    /// final `**` is empty).
    runs: Vec<Vec<Segment>>,
    /// The glob ends with `/**`: anything at all after the last run (at least one segment).
    rest: bool,
    /// Every byte outside a `*`, as a [`byte_set`]: each appears in every matching path.
    literal_bytes: u128,
}

/// The set of bytes in `text`, one bit each (bytes above 127 share the bit of their low seven
/// bits). A text can only contain another whose set is a subset of its own: a one-instruction
/// test that rejects most non-matching rules before any comparison.
pub fn byte_set(text: &[u8]) -> u128 {
    text.iter().fold(0, |set, &b| set | 1u128 << (b & 0x7f))
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
        for (i, w) in bytes.windows(2).enumerate() {
            if w == b"**" {
                let before = i.checked_sub(1).and_then(|j| bytes.get(j)).copied();
                let after = bytes.get(i + 2).copied();
                if before != Some(b'/') || !matches!(after, None | Some(b'/')) {
                    return Err("\"**\" must be a whole path segment, as in /a/**/b".to_string());
                }
            }
        }
        let mut runs = vec![Vec::new()];
        for text in pattern.split('/') {
            if text == "**" {
                runs.push(Vec::new());
            } else if let Some(run) = runs.last_mut() {
                run.push(Segment::parse(text));
            }
        }
        let rest = pattern.ends_with("/**");
        let prefix = pattern.split('*').next().unwrap_or("");
        let suffix = pattern.rsplit('*').next().unwrap_or("");
        let literal_bytes = byte_set(pattern.replace('*', "").as_bytes());
        Ok(Glob {
            prefix: Box::from(prefix.as_bytes()),
            suffix: Box::from(suffix.as_bytes()),
            runs,
            rest,
            literal_bytes,
        })
    }

    /// The bytes every matching path contains (see [`byte_set`]).
    pub fn literal_bytes(&self) -> u128 {
        self.literal_bytes
    }

    /// Whether `path` matches the whole glob.
    pub fn matches(&self, path: &str) -> bool {
        let path = path.as_bytes();
        if !path.starts_with(&self.prefix) || !path.ends_with(&self.suffix) {
            return false;
        }
        let Some((first, others)) = self.runs.split_first() else {
            return false;
        };
        let Some(mut cursor) = match_run(first, Some(path)) else {
            return false;
        };
        let Some((last, middle)) = others.split_last() else {
            // No `**`: the segments must match exactly.
            return cursor.is_none();
        };
        for run in middle {
            // `**/`: zero or more whole segments, then the run at its leftmost place.
            loop {
                if let Some(after) = match_run(run, cursor) {
                    cursor = after;
                    break;
                }
                if next_segment(&mut cursor).is_none() {
                    return false;
                }
            }
        }
        if self.rest {
            return cursor.is_some();
        }
        let left = segments_left(cursor);
        if left < last.len() {
            return false;
        }
        for _ in 0..left - last.len() {
            next_segment(&mut cursor);
        }
        match_run(last, cursor) == Some(None)
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

    /// The bit-set automaton globs were first matched with, as a reference.
    mod reference {
        #[derive(Clone, Copy)]
        enum Step {
            Byte(u8),
            Star,
            Rest,
            SegmentsEntry,
            SegmentsInside,
        }

        pub fn matches(pattern: &str, path: &str) -> bool {
            let bytes = pattern.as_bytes();
            let mut steps = Vec::new();
            let mut i = 0;
            while let Some(&b) = bytes.get(i) {
                if b != b'*' {
                    steps.push(Step::Byte(b));
                    i += 1;
                } else if bytes.get(i + 1) != Some(&b'*') {
                    steps.push(Step::Star);
                    i += 1;
                } else if bytes.get(i + 2).is_none() {
                    steps.push(Step::Rest);
                    i += 2;
                } else {
                    steps.push(Step::SegmentsEntry);
                    steps.push(Step::SegmentsInside);
                    i += 3;
                }
            }
            let close = |mut set: u128| {
                for (i, step) in steps.iter().enumerate() {
                    if set & (1u128 << i) != 0 {
                        match step {
                            Step::Star | Step::Rest => set |= 1u128 << (i + 1),
                            Step::SegmentsEntry => set |= 1u128 << (i + 2),
                            _ => {}
                        }
                    }
                }
                set
            };
            let mut set = close(1);
            for &c in path.as_bytes() {
                let mut next = 0u128;
                for (i, step) in steps.iter().enumerate() {
                    if set & (1u128 << i) == 0 {
                        continue;
                    }
                    next |= match *step {
                        Step::Byte(b) if b == c => 1u128 << (i + 1),
                        Step::Byte(_) => 0,
                        Step::Star if c != b'/' => 1u128 << i,
                        Step::Star => 0,
                        Step::Rest => 1u128 << i,
                        Step::SegmentsEntry if c == b'/' => (1u128 << (i + 1)) | 1u128 << (i + 2),
                        Step::SegmentsEntry => 1u128 << (i + 1),
                        Step::SegmentsInside if c == b'/' => (1u128 << i) | 1u128 << (i + 1),
                        Step::SegmentsInside => 1u128 << i,
                    };
                }
                set = close(next);
            }
            set & (1u128 << steps.len()) != 0
        }
    }

    /// Every string over `alphabet` of at most `max` bytes.
    fn strings(alphabet: &[&str], max: usize) -> Vec<String> {
        let mut all = vec![String::new()];
        let mut last = vec![String::new()];
        for _ in 0..max {
            last = last.iter().flat_map(|s| alphabet.iter().map(move |a| format!("{s}{a}"))).collect();
            all.extend(last.iter().cloned());
        }
        all
    }

    #[test]
    fn agrees_with_the_reference_automaton() {
        let segments = ["", "a", "ab", "*", "a*", "*b", "a*b", "*a*", "**", "**x", "b**"];
        let mut patterns = vec![String::new()];
        let mut level = vec![String::new()];
        for _ in 0..3 {
            level = level.iter().flat_map(|p| segments.iter().map(move |s| format!("{p}/{s}"))).collect();
            patterns.extend(level.iter().cloned());
        }
        let paths = strings(&["a", "b", "/"], 7);
        let mut checked = 0;
        for pattern in &patterns {
            let Ok(glob) = Glob::new(pattern) else {
                continue;
            };
            for path in &paths {
                let matched = glob.matches(path);
                assert_eq!(matched, reference::matches(pattern, path), "{pattern} on {path:?}");
                if matched {
                    // The byte-set prefilter never rejects a path that matches.
                    assert_eq!(glob.literal_bytes() & !byte_set(path.as_bytes()), 0, "{pattern} on {path:?}");
                }
                checked += 1;
            }
        }
        assert!(checked > 100_000, "{checked}");
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
