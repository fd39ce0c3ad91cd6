//! A minimal Structured Field dictionary parser (RFC 8941 §4.2.2), enough for the targeted
//! cache-control fields of RFC 9213.

/// A member value, reduced to what cache directives use. Parameters are dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Bool(bool),
    Integer(i64),
    String(String),
    Token(String),
    /// Decimal, byte sequence or inner list.
    Other,
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn bump(&mut self) -> Option<u8> {
        let c = self.peek();
        if c.is_some() {
            self.i += 1;
        }
        c
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn skip_sp(&mut self) {
        while self.eat(b' ') {}
    }
    fn skip_ows(&mut self) {
        while self.eat(b' ') || self.eat(b'\t') {}
    }
}

/// Parses a dictionary; None on any parsing error. Later duplicates overwrite earlier
/// ones, keeping the first position (RFC 8941 §4.2.2).
pub fn parse_dictionary(input: &str) -> Option<Vec<(String, Value)>> {
    let mut c = Cursor { b: input.as_bytes(), i: 0 };
    c.skip_sp();
    let mut out: Vec<(String, Value)> = Vec::new();
    while c.peek().is_some() {
        let key = key(&mut c)?;
        let value = if c.eat(b'=') {
            if c.peek() == Some(b'(') {
                inner_list(&mut c)?;
                Value::Other
            } else {
                bare_item(&mut c)?
            }
        } else {
            Value::Bool(true)
        };
        parameters(&mut c)?;
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => out.push((key, value)),
        }
        c.skip_ows();
        if c.peek().is_none() {
            return Some(out);
        }
        if !c.eat(b',') {
            return None;
        }
        c.skip_ows();
        c.peek()?;
    }
    Some(out)
}

/// A dictionary key, lower-cased. RFC 8941 keys are lower case, but the members of a
/// targeted field are cache directives, and RFC 9111 §5.2 says "Cache directives are
/// identified by a token, to be compared case-insensitively": `Max-Age=60` in
/// `CDN-Cache-Control` is read as `max-age=60`, as it would be in `Cache-Control`, rather
/// than making the whole field a parsing error (RFC 9213 §2.1) that an origin would not
/// expect.
fn key(c: &mut Cursor) -> Option<String> {
    let first = c.peek()?;
    if !(first.is_ascii_alphabetic() || first == b'*') {
        return None;
    }
    let mut k = String::new();
    while let Some(b) = c.peek() {
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'*') {
            k.push(char::from(b.to_ascii_lowercase()));
            c.i += 1;
        } else {
            break;
        }
    }
    Some(k)
}

fn parameters(c: &mut Cursor) -> Option<()> {
    while c.eat(b';') {
        c.skip_sp();
        key(c)?;
        if c.eat(b'=') {
            bare_item(c)?;
        }
    }
    Some(())
}

fn inner_list(c: &mut Cursor) -> Option<()> {
    if !c.eat(b'(') {
        return None;
    }
    loop {
        c.skip_sp();
        if c.eat(b')') {
            return parameters(c);
        }
        bare_item(c)?;
        parameters(c)?;
        match c.peek()? {
            b' ' | b')' => {}
            _ => return None,
        }
    }
}

fn bare_item(c: &mut Cursor) -> Option<Value> {
    match c.peek()? {
        b'-' | b'0'..=b'9' => number(c),
        b'"' => string(c).map(Value::String),
        b'?' => {
            c.bump();
            match c.bump()? {
                b'0' => Some(Value::Bool(false)),
                b'1' => Some(Value::Bool(true)),
                _ => None,
            }
        }
        b':' => {
            c.bump();
            while let Some(b) = c.bump() {
                match b {
                    b':' => return Some(Value::Other),
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'+' | b'/' | b'=' => {}
                    _ => return None,
                }
            }
            None
        }
        b if b.is_ascii_alphabetic() || b == b'*' => Some(Value::Token(token(c))),
        _ => None,
    }
}

fn token(c: &mut Cursor) -> String {
    let mut t = String::new();
    while let Some(b) = c.peek() {
        if is_tchar(b) || b == b':' || b == b'/' {
            t.push(char::from(b));
            c.i += 1;
        } else {
            break;
        }
    }
    t
}

/// `tchar` of RFC 9110 §5.6.2.
pub fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn string(c: &mut Cursor) -> Option<String> {
    if !c.eat(b'"') {
        return None;
    }
    let mut s = String::new();
    loop {
        match c.bump()? {
            b'"' => return Some(s),
            b'\\' => match c.bump()? {
                b @ (b'"' | b'\\') => s.push(char::from(b)),
                _ => return None,
            },
            b @ 0x20..=0x7e => s.push(char::from(b)),
            _ => return None,
        }
    }
}

fn number(c: &mut Cursor) -> Option<Value> {
    let negative = c.eat(b'-');
    let mut n: i64 = 0;
    let mut digits = 0;
    while let Some(b @ b'0'..=b'9') = c.peek() {
        c.i += 1;
        digits += 1;
        if digits > 15 {
            return None;
        }
        n = n * 10 + i64::from(b - b'0');
    }
    if digits == 0 {
        return None;
    }
    if c.eat(b'.') {
        let mut frac = 0;
        while let Some(b'0'..=b'9') = c.peek() {
            c.i += 1;
            frac += 1;
        }
        if digits > 12 || frac == 0 || frac > 3 {
            return None;
        }
        return Some(Value::Other);
    }
    Some(Value::Integer(if negative { -n } else { n }))
}
