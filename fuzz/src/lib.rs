//! Helpers shared by the fuzz targets: header lists, request and response heads built from
//! fuzzer bytes. Header names are mostly drawn from the fields the cache reads, so the
//! fuzzer spends its time on values rather than on guessing names.

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use rulecache::http::{Headers, RequestHead, ResponseHead};

/// The header fields the cache looks at, requests and responses alike.
pub use rulecache::testing::HEADER_NAMES as NAMES;

pub const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "DELETE", "PURGE", "OPTIONS", "get"];

/// A header name: usually a known one, sometimes arbitrary.
pub fn name(u: &mut Unstructured) -> Result<String> {
    let i = usize::from(u.arbitrary::<u8>()?);
    Ok(match NAMES.get(i % (NAMES.len() + 4)) {
        Some(n) => (*n).to_string(),
        None => u.arbitrary::<String>()?,
    })
}

/// Up to `max` header fields.
pub fn headers(u: &mut Unstructured, max: usize) -> Result<Headers> {
    let n = u.int_in_range(0..=max)?;
    let mut h = Headers::new();
    for _ in 0..n {
        let name = name(u)?;
        let value: String = u.arbitrary()?;
        h.append(&name, value);
    }
    Ok(h)
}

pub fn method(u: &mut Unstructured) -> Result<String> {
    Ok(match METHODS.get(usize::from(u.arbitrary::<u8>()?) % (METHODS.len() + 1)) {
        Some(m) => (*m).to_string(),
        None => u.arbitrary()?,
    })
}

/// A request for a fuzzed path on a fixed origin; None when the URL does not parse.
pub fn request(u: &mut Unstructured, max_headers: usize) -> Result<Option<RequestHead>> {
    let method = method(u)?;
    let path: String = u.arbitrary()?;
    let headers = headers(u, max_headers)?;
    Ok(RequestHead::parse(&method, &format!("https://origin.example/{path}"), headers))
}

/// A response head; the status is usually a common one.
pub fn response(u: &mut Unstructured, max_headers: usize) -> Result<ResponseHead> {
    const STATUSES: &[u16] = &[200, 203, 204, 206, 301, 302, 304, 307, 404, 410, 416, 500, 502, 503];
    let i = usize::from(u.arbitrary::<u8>()?);
    let status = match STATUSES.get(i % (STATUSES.len() + 1)) {
        Some(s) => *s,
        None => u.arbitrary()?,
    };
    Ok(ResponseHead::new(status, headers(u, max_headers)?))
}
