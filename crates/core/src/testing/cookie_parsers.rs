//! Re-implementations of how origins read a `Cookie` field, for differential tests of the
//! edge's audience rule (`audience`): whenever one of these sees a non-empty auth cookie, the
//! edge must see one too.
//!
//! * [`zope`]: ZPublisher's `parse_cookie` (its `QPARMRE`, `PARMRE` and `PARAMLESSRE`
//!   expressions): a quoted value ends at `"` and then `;` *or* `,` separates; an unquoted value
//!   runs to the next `;`; the first cookie of a name wins; values are `%XX`-unquoted.
//! * [`python`]: Python's `http.cookies.SimpleCookie.load` (`_CookiePattern`): a value ends at
//!   whitespace or `;`; a bare word invalidates the whole field; reserved attribute names
//!   (`path`, `expires`…) are not cookies; the last cookie of a name wins.
//! * [`node`]: the `cookie` npm package's `parse`: split on `;` only, names and values trimmed
//!   of spaces and tabs, one pair of quotes removed, the first cookie of a name wins.
//! * [`lenient`]: a parser that splits at `;`, `,` and any whitespace, strips quotes,
//!   percent-decodes and lower-cases names.
//!
//! Each returns the `(name, value)` pairs the application would see.

use crate::policy::audience::{percent_decode, AudienceConfig};

/// Whether `cookies` holds an auth cookie (under `cfg`) with a value that is not empty once
/// spaces and tabs are trimmed.
pub fn sees_auth(cfg: &AudienceConfig, cookies: &[(String, String)]) -> bool {
    cookies.iter().any(|(n, v)| cfg.is_auth_cookie(n) && !v.trim_matches([' ', '\t']).is_empty())
}

/// A parser: a `Cookie` field to the `(name, value)` pairs an application sees.
pub type Parser = fn(&str) -> Vec<(String, String)>;

/// Every parser, by name.
pub const PARSERS: [(&str, Parser); 4] =
    [("zope", zope), ("python", python), ("node", node), ("lenient", lenient)];

fn push_first(out: &mut Vec<(String, String)>, name: String, value: String) {
    if !out.iter().any(|(n, _)| *n == name) {
        out.push((name, value));
    }
}

// ---------------------------------------------------------------------------------------------
// ZPublisher
// ---------------------------------------------------------------------------------------------

/// `[\x00- ]`
fn zope_ws(c: char) -> bool {
    u32::from(c) <= 0x20
}

/// `[^\x00- ;,="]`
fn zope_name_char(c: char) -> bool {
    !(zope_ws(c) || matches!(c, ';' | ',' | '=' | '"'))
}

fn run(s: &[char], from: usize, pred: impl Fn(char) -> bool) -> usize {
    s.get(from..).unwrap_or(&[]).iter().take_while(|c| pred(**c)).count()
}

fn text(s: &[char], from: usize, to: usize) -> String {
    s.get(from..to).unwrap_or(&[]).iter().collect()
}

/// One match of ZPublisher's expressions at the start of `s`: (length, name, raw value).
fn zope_match(s: &[char]) -> Option<(usize, String, String)> {
    let start = run(s, 0, zope_ws);
    let name_len = run(s, start, zope_name_char);
    if name_len == 0 {
        return None;
    }
    let name_end = start + name_len;
    let name = text(s, start, name_end);
    // QPARMRE: name="value" ([ws]*[;,])? [ws]*
    if s.get(name_end) == Some(&'=') && s.get(name_end + 1) == Some(&'"') {
        let vstart = name_end + 2;
        let vlen = run(s, vstart, |c| c != '"');
        if s.get(vstart + vlen) == Some(&'"') {
            let mut i = vstart + vlen + 1;
            let j = i + run(s, i, zope_ws);
            if matches!(s.get(j), Some(';' | ',')) {
                i = j + 1;
            }
            i += run(s, i, zope_ws);
            return Some((i, name, text(s, vstart, vstart + vlen)));
        }
    }
    // PARMRE: name=value-up-to-';' ([ws]*[;,])? [ws]*
    if s.get(name_end) == Some(&'=') {
        let vstart = name_end + 1;
        let vlen = run(s, vstart, |c| c != ';');
        let mut i = vstart + vlen;
        if s.get(i) == Some(&';') {
            i += 1;
        }
        i += run(s, i, zope_ws);
        return Some((i, name, text(s, vstart, vstart + vlen)));
    }
    // PARAMLESSRE: name [ws]* [;,] [ws]*
    let j = name_end + run(s, name_end, zope_ws);
    if matches!(s.get(j), Some(';' | ',')) {
        let i = j + 1 + run(s, j + 1, zope_ws);
        return Some((i, name, String::new()));
    }
    None
}

/// ZPublisher's reading of a `Cookie` field.
pub fn zope(field: &str) -> Vec<(String, String)> {
    let chars: Vec<char> = field.chars().collect();
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some((len, name, value)) = zope_match(chars.get(pos..).unwrap_or(&[])) {
        push_first(&mut out, name, percent_decode(&value));
        if len == 0 {
            break;
        }
        pos += len;
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Python http.cookies
// ---------------------------------------------------------------------------------------------

fn py_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

fn py_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// `_LegalKeyChars`
fn py_key_char(c: char) -> bool {
    py_word(c) || "!#%&'~`><@,:/$*+-.^|)(?}{=".contains(c)
}

/// `_LegalValueChars`
fn py_value_char(c: char) -> bool {
    py_key_char(c) || c == '[' || c == ']'
}

/// `\s*(\s+|;|$)` at `p`: where the match ends.
fn py_tail(s: &[char], p: usize) -> Option<usize> {
    let q = p + run(s, p, py_ws);
    if s.get(q) == Some(&';') {
        Some(q + 1)
    } else if q == s.len() || q > p {
        Some(q)
    } else {
        None
    }
}

/// The value alternatives at `j`, in the order the expression tries them: (value, end).
fn py_values(s: &[char], j: usize) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    if s.get(j) == Some(&'"') {
        let mut p = j + 1;
        loop {
            match s.get(p) {
                None | Some('\n') => break,
                Some('\\') if s.get(p + 1).is_some_and(|c| *c != '\n') => p += 2,
                Some('\\') => break,
                Some('"') => {
                    out.push((text(s, j, p + 1), p + 1));
                    break;
                }
                Some(_) => p += 1,
            }
        }
    }
    // \w{3},\s[\w\d\s-]{9,11}\s[\d:]{8}\sGMT
    let word3 = (0..3).all(|k| s.get(j + k).is_some_and(|c| py_word(*c)));
    if word3 && s.get(j + 3) == Some(&',') && s.get(j + 4).is_some_and(|c| py_ws(*c)) {
        let mid = j + 5;
        let max = run(s, mid, |c| py_word(c) || py_ws(c) || c == '-').min(11);
        for m in (9..=max).rev() {
            let p = mid + m;
            let ok = s.get(p).is_some_and(|c| py_ws(*c))
                && (1..=8).all(|k| s.get(p + k).is_some_and(|c| c.is_ascii_digit() || *c == ':'))
                && s.get(p + 9).is_some_and(|c| py_ws(*c))
                && text(s, p + 10, p + 13) == "GMT";
            if ok {
                out.push((text(s, j, p + 13), p + 13));
            }
        }
    }
    let n = run(s, j, py_value_char);
    out.push((text(s, j, j + n), j + n));
    out
}

/// One `_CookiePattern` match at `i`: (key, value, end).
fn py_match(s: &[char], i: usize) -> Option<(String, Option<String>, usize)> {
    let kstart = i + run(s, i, py_ws);
    let mut kend = kstart;
    loop {
        if !s.get(kend).is_some_and(|c| py_key_char(*c)) {
            return None;
        }
        kend += 1;
        let key = text(s, kstart, kend);
        // (\s*=\s*(?P<val>…))?
        let eq = kend + run(s, kend, py_ws);
        if s.get(eq) == Some(&'=') {
            let after = eq + 1;
            let ws = run(s, after, py_ws);
            for consumed in (0..=ws).rev() {
                for (value, vend) in py_values(s, after + consumed) {
                    if let Some(end) = py_tail(s, vend) {
                        return Some((key, Some(value), end));
                    }
                }
            }
        }
        if let Some(end) = py_tail(s, kend) {
            return Some((key, None, end));
        }
    }
}

/// `_unquote`: a quoted value loses its quotes and backslash escapes.
fn py_unquote(v: &str) -> String {
    let chars: Vec<char> = v.chars().collect();
    if chars.len() < 2 || chars.first() != Some(&'"') || chars.last() != Some(&'"') {
        return v.to_string();
    }
    let inner = chars.get(1..chars.len() - 1).unwrap_or(&[]);
    let mut out = String::new();
    let mut i = 0;
    while let Some(&c) = inner.get(i) {
        if c != '\\' {
            out.push(c);
            i += 1;
            continue;
        }
        let octal: String = inner.get(i + 1..i + 4).unwrap_or(&[]).iter().collect();
        if octal.len() == 3 && octal.chars().all(|d| ('0'..='3').contains(&d) || ('4'..='7').contains(&d)) {
            if let Some(ch) = u32::from_str_radix(&octal, 8).ok().and_then(char::from_u32) {
                out.push(ch);
            }
            i += 4;
        } else {
            if let Some(&next) = inner.get(i + 1) {
                out.push(next);
            }
            i += 2;
        }
    }
    out
}

const PY_RESERVED: [&str; 9] =
    ["expires", "path", "comment", "domain", "max-age", "secure", "httponly", "version", "samesite"];

/// `Morsel.set` refuses keys outside `_LegalChars`.
fn py_legal_key(k: &str) -> bool {
    !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~:".contains(c))
}

/// Python's `SimpleCookie().load(field)`.
pub fn python(field: &str) -> Vec<(String, String)> {
    let s: Vec<char> = field.chars().collect();
    let mut items: Vec<(String, String)> = Vec::new();
    let mut morsel_seen = false;
    let mut i = 0;
    while i < s.len() {
        let Some((key, value, end)) = py_match(&s, i) else { break };
        i = end;
        if key.starts_with('$') {
            continue;
        }
        let lower = key.to_ascii_lowercase();
        if PY_RESERVED.contains(&lower.as_str()) {
            if !morsel_seen {
                return Vec::new();
            }
            if value.is_none() && lower != "secure" && lower != "httponly" {
                return Vec::new();
            }
            continue;
        }
        match value {
            Some(v) => {
                items.push((key, py_unquote(&v)));
                morsel_seen = true;
            }
            None => return Vec::new(),
        }
    }
    let mut out: Vec<(String, String)> = Vec::new();
    for (k, v) in items {
        if !py_legal_key(&k) || PY_RESERVED.contains(&k.to_ascii_lowercase().as_str()) {
            break;
        }
        match out.iter_mut().find(|(n, _)| *n == k) {
            Some(slot) => slot.1 = v,
            None => out.push((k, v)),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Node (cookie npm)
// ---------------------------------------------------------------------------------------------

fn node_ws(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// The `cookie` package's `parse(field)`.
pub fn node(field: &str) -> Vec<(String, String)> {
    let s: Vec<char> = field.chars().collect();
    let len = s.len();
    let mut out = Vec::new();
    if len < 2 {
        return out;
    }
    let find =
        |c: char, from: usize| s.get(from..).and_then(|t| t.iter().position(|x| *x == c)).map(|p| p + from);
    let mut index = 0;
    while let Some(eq) = find('=', index) {
        let end = find(';', index).unwrap_or(len);
        if eq > end {
            index = s.get(..eq).and_then(|t| t.iter().rposition(|x| *x == ';')).map_or(0, |p| p + 1);
        } else {
            let ks = index + run(&s, index, node_ws).min(eq - index);
            let mut ke = eq;
            while ke > ks && s.get(ke - 1).is_some_and(|c| node_ws(*c)) {
                ke -= 1;
            }
            let key = text(&s, ks, ke);
            if !out.iter().any(|(n, _): &(String, String)| *n == key) {
                let mut vs = eq + 1 + run(&s, eq + 1, node_ws).min(end.saturating_sub(eq + 1));
                let mut ve = end;
                while ve > vs && s.get(ve - 1).is_some_and(|c| node_ws(*c)) {
                    ve -= 1;
                }
                if s.get(vs) == Some(&'"') && ve > 0 && s.get(ve - 1) == Some(&'"') {
                    vs += 1;
                    ve = ve.saturating_sub(1);
                }
                let value = if vs < ve { text(&s, vs, ve) } else { String::new() };
                let value = if value.contains('%') { percent_decode(&value) } else { value };
                out.push((key, value));
            }
            index = end + 1;
        }
        if index >= len {
            break;
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Lenient
// ---------------------------------------------------------------------------------------------

/// Splits at `;`, `,` and whitespace; names lose quotes, are percent-decoded and lower-cased;
/// values lose surrounding whitespace and quotes.
pub fn lenient(field: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for piece in field.split(|c: char| c == ';' || c == ',' || c.is_whitespace()) {
        let Some((name, value)) = piece.split_once('=') else { continue };
        let name = percent_decode(name.trim_matches('"')).to_lowercase();
        if name.is_empty() {
            continue;
        }
        let value = value.trim().trim_matches('"').to_string();
        out.push((name, value));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: Vec<(String, String)>) -> Vec<String> {
        v.into_iter().map(|(n, v)| format!("{n}={v}")).collect()
    }

    #[test]
    fn zope_ends_a_quoted_value_at_a_comma() {
        assert_eq!(names(zope("a=\"1\", __ac=tok")), ["a=1", "__ac=tok"]);
        assert_eq!(names(zope("a=1, __ac=tok")), ["a=1, __ac=tok"]);
        assert_eq!(names(zope("x,__ac=1")), ["x=", "__ac=1"]);
        assert_eq!(names(zope("__ac=a%20b; __ac=second")), ["__ac=a b"]);
    }

    #[test]
    fn python_ends_a_value_at_whitespace_and_drops_fields_with_bare_words() {
        assert_eq!(names(python("a=1 __ac=tok")), ["a=1", "__ac=tok"]);
        assert_eq!(names(python("a=\"x\\\"y\"; b=2")), ["a=x\"y", "b=2"]);
        assert!(python("junk; __ac=tok").is_empty());
        assert!(python("path=/; __ac=tok").is_empty());
        assert_eq!(names(python("__ac=1; __ac=2")), ["__ac=2"]);
        assert_eq!(
            names(python("a=Wed, 09 Jun 2021 10:18:14 GMT; b=1")),
            ["a=Wed, 09 Jun 2021 10:18:14 GMT", "b=1"]
        );
    }

    #[test]
    fn node_splits_on_semicolons_only() {
        assert_eq!(names(node("a=1, __ac=tok")), ["a=1, __ac=tok"]);
        assert_eq!(names(node(" a = \"1\" ;b;__ac=x")), ["a=1", "__ac=x"]);
        assert_eq!(names(node("__ac=\"")), ["__ac="]);
        assert_eq!(names(node("a=\"x;__ac=1\"")), ["a=\"x", "__ac=1\""]);
    }

    #[test]
    fn lenient_splits_everywhere() {
        assert_eq!(names(lenient("a=1 %5F%5FAC=\"t\"")), ["a=1", "__ac=t"]);
    }
}
