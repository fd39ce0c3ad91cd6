//! Byte ranges (RFC 9110 §14): parse, resolve against a length, answer and cut.
#![no_main]

use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use rulecache::rfc::range::{self, Answer, Spec};

fn check(spec: Spec, len: u64) {
    if let Some((start, end)) = range::resolve(spec, len) {
        assert!(start <= end && end < len, "{spec:?} against {len} gave {start}-{end}");
    }
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(len) = u.arbitrary::<u64>() else { return };
    let Ok(value) = u.arbitrary::<String>() else { return };
    if let Some(spec) = range::parse(&value) {
        if let Spec::FromTo(first, Some(last)) = spec {
            assert!(first <= last);
        }
        check(spec, len);
        for small in [0, 1, 2, 100] {
            check(spec, small);
        }
    }

    let Ok(body) = u.arbitrary::<Vec<u8>>() else { return };
    let Ok(Some(mut req)) = rulecache_fuzz::request(&mut u, 6) else { return };
    req.headers.append("range", value.as_str());
    let Ok(head) = rulecache_fuzz::response(&mut u, 6) else { return };
    let answer = range::answer(&req, &head, Some(body.len() as u64));
    match answer {
        Answer::Full => {}
        Answer::Partial { start, end, len } => {
            assert!(start <= end && end < len && len == body.len() as u64);
            assert_eq!(range::cut(&body, Some((start, end))).len() as u64, end - start + 1);
        }
        Answer::Unsatisfiable { len } => assert_eq!(len, body.len() as u64),
    }
    let _ = range::answer(&req, &head, None);
    let mut out = head.clone();
    range::apply(&mut out, answer);
    // cut never panics, whatever the range.
    let a = u.arbitrary::<u64>().unwrap_or(0);
    let b = u.arbitrary::<u64>().unwrap_or(0);
    let _ = range::cut(&body, Some((a, b)));
    let _ = range::cut(&body, None);
    let _ = range::if_range_holds(&value, &head);
});
