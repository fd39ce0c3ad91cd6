//! Structured Field Values (RFC 9651): the one shape the core reads, a List of Strings
//! (`"a", "b";p=1`), as `Cache-Groups` and `Cache-Group-Invalidation` (RFC 9875) are.
//!
//! RFC 9651 §4.2: "When a receiving implementation parses HTTP fields that are known to be
//! Structured Fields, it is important that care be taken, as there are a number of edge cases
//! that can cause interoperability or even security problems." The parser here follows §4.2's
//! algorithms for a List (§4.2.1), its members' Parameters (§4.2.3.2) and the bare items a
//! parameter may hold (§4.2.3.1), and fails on anything else: "If parsing fails [...] the
//! entire field value MUST be ignored" (§4.2). It never panics and reads each byte once.

/// The Strings of a List field whose lines are `lines` (RFC 9651 §4.2: "combine the field
/// lines [...] with a comma"), in order; members that are not Strings are left out (the
/// fields that use this are Lists of Strings: anything else in them names nothing), and so are
/// the members' Parameters. `None` when the combined value is not a valid List: the field is
/// then ignored as a whole. Parsing stops after `max_members` members (the rest are not
/// looked at, so a long field costs no more than that).
pub fn list_of_strings<'a>(lines: impl Iterator<Item = &'a str>, max_members: usize) -> Option<Vec<String>> {
    let mut combined = String::new();
    for (i, line) in lines.enumerate() {
        if i > 0 {
            combined.push(',');
        }
        combined.push_str(line);
    }
    let mut p = Parser { s: combined.as_bytes(), at: 0 };
    // §4.2: "Discard any leading SP characters from input_string."
    p.skip_sp();
    let mut members = Vec::new();
    // §4.2.1: an empty field value is an empty List.
    while !p.done() {
        if members.len() >= max_members {
            return Some(members);
        }
        let member = p.member()?;
        if let Some(text) = member {
            members.push(text);
        }
        p.skip_ows();
        if p.done() {
            break;
        }
        if !p.eat(b',') {
            return None;
        }
        p.skip_ows();
        if p.done() {
            // "If input_string is empty, there is a trailing comma; fail parsing."
            return None;
        }
    }
    Some(members)
}

struct Parser<'a> {
    s: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn done(&self) -> bool {
        self.at >= self.s.len()
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.at).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn skip_sp(&mut self) {
        while self.eat(b' ') {}
    }

    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.at += 1;
        }
    }

    /// One List member with its Parameters: `Some(text)` for a String, `None` for any other
    /// Item. Inner Lists fail (the fields read here never hold one).
    fn member(&mut self) -> Option<Option<String>> {
        let text = if self.peek() == Some(b'"') { Some(self.string()?) } else { self.non_string_item()? };
        self.parameters()?;
        Some(text)
    }

    /// §4.2.5: an sf-string; "\" escapes only `"` and `\`; only visible ASCII and space.
    fn string(&mut self) -> Option<String> {
        if !self.eat(b'"') {
            return None;
        }
        let mut out = String::new();
        loop {
            let c = self.peek()?;
            self.at += 1;
            match c {
                b'\\' => {
                    let next = self.peek()?;
                    if next != b'"' && next != b'\\' {
                        return None;
                    }
                    self.at += 1;
                    out.push(char::from(next));
                }
                b'"' => return Some(out),
                0x20..=0x7e => out.push(char::from(c)),
                _ => return None,
            }
        }
    }

    /// Any bare item but a String (§4.2.3.1): Integer or Decimal, Token, Byte Sequence,
    /// Boolean, Date, Display String. Returns `Some(None)` when one was read.
    fn non_string_item(&mut self) -> Option<Option<String>> {
        match self.peek()? {
            b'-' | b'0'..=b'9' => self.number()?,
            b':' => self.byte_sequence()?,
            b'?' => {
                self.at += 1;
                if !(self.eat(b'0') || self.eat(b'1')) {
                    return None;
                }
            }
            b'@' => {
                self.at += 1;
                self.number()?;
            }
            b'%' => self.display_string()?,
            b'*' | b'A'..=b'Z' | b'a'..=b'z' => self.token(),
            _ => return None,
        }
        Some(None)
    }

    fn bare_item(&mut self) -> Option<()> {
        if self.peek() == Some(b'"') {
            self.string().map(|_| ())
        } else {
            self.non_string_item().map(|_| ())
        }
    }

    /// §4.2.4: at most 15 digits, one `.` with at most 3 digits after it.
    fn number(&mut self) -> Option<()> {
        self.eat(b'-');
        let start = self.at;
        let mut dot: Option<usize> = None;
        while let Some(c) = self.peek() {
            match c {
                b'0'..=b'9' => self.at += 1,
                b'.' if dot.is_none() && self.at > start => {
                    dot = Some(self.at);
                    self.at += 1;
                }
                _ => break,
            }
        }
        let len = self.at - start;
        match dot {
            None => (1..=15).contains(&len).then_some(()),
            Some(d) => {
                let (int, frac) = (d - start, self.at - d - 1);
                (int <= 12 && (1..=3).contains(&frac)).then_some(())
            }
        }
    }

    /// §4.2.6: a Token.
    fn token(&mut self) {
        self.at += 1;
        while let Some(c) = self.peek() {
            let tchar = c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~:/".contains(&c);
            if !tchar {
                break;
            }
            self.at += 1;
        }
    }

    /// §4.2.7: `:` base64 `:`.
    fn byte_sequence(&mut self) -> Option<()> {
        self.at += 1;
        loop {
            let c = self.peek()?;
            self.at += 1;
            match c {
                b':' => return Some(()),
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'+' | b'/' | b'=' => {}
                _ => return None,
            }
        }
    }

    /// §4.2.10: `%"` then visible ASCII with lower-case `%xx` escapes, then `"`.
    fn display_string(&mut self) -> Option<()> {
        self.at += 1;
        if !self.eat(b'"') {
            return None;
        }
        loop {
            let c = self.peek()?;
            self.at += 1;
            match c {
                b'"' => return Some(()),
                b'%' => {
                    for _ in 0..2 {
                        let h = self.peek()?;
                        if !matches!(h, b'0'..=b'9' | b'a'..=b'f') {
                            return None;
                        }
                        self.at += 1;
                    }
                }
                0x20..=0x7e => {}
                _ => return None,
            }
        }
    }

    /// §4.2.3.2: `;` SP* key [`=` bare-item], any number of times.
    fn parameters(&mut self) -> Option<()> {
        while self.eat(b';') {
            self.skip_sp();
            match self.peek() {
                Some(b'a'..=b'z' | b'*') => self.at += 1,
                _ => return None,
            }
            while matches!(self.peek(), Some(b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.' | b'*')) {
                self.at += 1;
            }
            if self.eat(b'=') {
                self.bare_item()?;
            }
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(lines: &[&str]) -> Option<Vec<String>> {
        list_of_strings(lines.iter().copied(), 100)
    }

    #[test]
    fn strings_in_order_across_field_lines() {
        assert_eq!(
            parse(&[r#""eurovision-results", "australia""#]).unwrap(),
            ["eurovision-results", "australia"]
        );
        assert_eq!(parse(&[r#""a""#, r#" "b" ,"c""#]).unwrap(), ["a", "b", "c"]);
        assert_eq!(parse(&[""]).unwrap(), Vec::<String>::new());
        assert_eq!(parse(&[]).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn escapes_and_spaces_inside_strings() {
        assert_eq!(parse(&[r#""a \"b\" \\ c""#]).unwrap(), [r#"a "b" \ c"#]);
        assert_eq!(parse(&[r#""x, y""#]).unwrap(), ["x, y"]);
    }

    #[test]
    fn parameters_are_ignored_and_other_items_left_out() {
        assert_eq!(
            parse(&[r#""a";p=1;q="x";r=?1;s=:aGk=:;t=tok/1;u=@17;v=%"caf%c3%a9";w, tok, 12, "b";x=-1.5"#])
                .unwrap(),
            ["a", "b"]
        );
    }

    #[test]
    fn malformed_values_fail_as_a_whole() {
        for bad in [
            r#""unterminated"#,
            r#""a",,"b""#,
            r#""a","#,
            r#""a" "b""#,
            r#""bad \n escape""#,
            "\"tab\tinside\"",
            r#"("inner" "list")"#,
            r#""a";P=1"#,
            r#""a";p=""#,
            "1234567890123456",
            r#""é""#,
            r#""a";=1"#,
            "<html>",
        ] {
            assert_eq!(parse(&[bad]), None, "{bad}");
        }
    }

    #[test]
    fn stops_after_the_most_members_asked_for() {
        let many = (0..1000).map(|i| format!("\"g{i}\"")).collect::<Vec<_>>().join(", ");
        assert_eq!(list_of_strings([many.as_str()].into_iter(), 3).unwrap(), ["g0", "g1", "g2"]);
    }

    #[test]
    fn never_panics_on_any_prefix_of_a_tricky_value() {
        let tricky = r#""a\"b";p=:YWJj:;q=%"%2a";r=@-12;s=?0, tok;x=1.234, -9, "z""#;
        for end in 0..=tricky.len() {
            let _ = parse(&[&tricky[..end]]);
        }
        for b in 0u8..=255 {
            let s = String::from_utf8_lossy(&[b'"', b, b'"']).into_owned();
            let _ = parse(&[&s]);
        }
    }
}
