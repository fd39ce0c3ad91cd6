//! `/t/…`: a response built from query parameters, and `echo=1`.

use super::*;

/// `/t/…`: a response built from query parameters.
pub(super) fn test_surface(ctx: &Ctx) -> Response {
    let req = ctx.req;
    let p = Params::parse(&req.query, true);
    let bad = |msg: String| Response::text(400, TEXT, format!("bad test parameter: {msg}\n"));

    let status = match p.get("status") {
        None => 200,
        Some(s) => match s.trim().parse::<u16>() {
            Ok(s) if (200..=599).contains(&s) => s,
            _ => return bad(format!("status={s}")),
        },
    };
    let mut resp = Response::new(status);
    let echo = p.flag("echo");
    let default_ct = if echo { JSON } else { TEXT };
    resp.push_header("Content-Type", p.get("ct").unwrap_or(default_ct));

    let mut etag = None;
    let mut last_modified = None;
    for (param, header) in [
        ("cc", "Cache-Control"),
        ("cdn", "CDN-Cache-Control"),
        ("etag", "ETag"),
        ("vary", "Vary"),
        ("location", "Location"),
    ] {
        for value in p.all(param) {
            resp.push_header(header, value);
            if param == "etag" {
                etag = Some(value.to_string());
            }
        }
    }
    for (param, header) in [("lm", "Last-Modified"), ("date", "Date"), ("expires", "Expires")] {
        if let Some(value) = p.get(param) {
            let Some(secs) = parse_time_param(value) else {
                if param == "expires" {
                    // Invalid Expires values are legal test input (they mean "already expired").
                    resp.push_header(header, value);
                    continue;
                }
                return bad(format!("{param}={value}"));
            };
            resp.push_header(header, http_date(secs));
            if param == "lm" {
                last_modified = Some(secs);
            }
        }
    }
    for h in p.all("h") {
        let Some((name, value)) = h.split_once(':') else { return bad(format!("h={h}")) };
        let name = name.trim();
        // `Connection` may name extra hop-by-hop fields, but never `close`/`keep-alive`: the
        // connection's own persistence stays the server's business.
        let persistence = name.eq_ignore_ascii_case("connection")
            && value
                .split(',')
                .any(|o| ["close", "keep-alive"].iter().any(|f| o.trim().eq_ignore_ascii_case(f)));
        if !is_token(name)
            || persistence
            || ["content-length", "transfer-encoding"].iter().any(|f| name.eq_ignore_ascii_case(f))
        {
            return bad(format!("h={h}"));
        }
        resp.push_header(name, value.trim());
    }
    if let Some((name, value)) = resp.headers.iter().find(|(_, v)| !is_field_value(v)) {
        return bad(format!("{name} value {value:?}"));
    }

    let number = |name: &str, cap: u64| -> Result<u64, Response> {
        match p.get(name) {
            None => Ok(0),
            Some(v) => v.trim().parse::<u64>().map(|n| n.min(cap)).map_err(|_| bad(format!("{name}={v}"))),
        }
    };
    let delay = match number("delay_ms", MAX_DELAY_MS) {
        Ok(d) => d,
        Err(r) => return r,
    };
    let chunk_delay = match number("chunk_delay_ms", 10_000) {
        Ok(d) => d,
        Err(r) => return r,
    };
    let bytes = match p.get("bytes") {
        None => None,
        Some(_) => match number("bytes", MAX_GENERATED) {
            Ok(n) => Some(n),
            Err(r) => return r,
        },
    };

    let has_request_body = matches!(req.method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE");
    resp.body = if echo {
        Body::Bytes(format!("{}\n", echo_json(req)).into_bytes())
    } else if let Some(len) = bytes {
        Body::Generated { len, chunk_delay: Duration::from_millis(chunk_delay), chunked: p.flag("chunked") }
    } else if let Some(body) = p.get("body") {
        Body::Bytes(body.as_bytes().to_vec())
    } else {
        // HEAD describes the GET body, so its Content-Length is the one a GET would have.
        let method = if req.is_head() { "GET" } else { req.method.as_str() };
        let mut text =
            format!("demo-origin {method} {} hit={}\n{}\n", req.path, ctx.hit, ctx.marker()).into_bytes();
        if has_request_body {
            text.extend_from_slice(format!("request-body-length={}\n", req.body.len()).as_bytes());
            if req.body.len() <= ECHO_BODY_LIMIT {
                text.extend_from_slice(&req.body);
            }
        }
        Body::Bytes(text)
    };

    if delay > 0 {
        thread::sleep(Duration::from_millis(delay));
    }
    if status == 200
        && (etag.is_some() || last_modified.is_some())
        && not_modified(req, etag.as_deref(), last_modified)
    {
        return into_304(resp);
    }
    resp
}

pub(super) fn echo_json(req: &Request) -> Value {
    let mut headers = serde_json::Map::new();
    for (name, value) in &req.headers {
        let joined: Cow<str> = match headers.get(name).and_then(Value::as_str) {
            Some(prev) => {
                let sep = if name == "cookie" { "; " } else { ", " };
                Cow::Owned(format!("{prev}{sep}{value}"))
            }
            None => Cow::Borrowed(value.as_str()),
        };
        headers.insert(name.clone(), Value::String(joined.into_owned()));
    }
    let list: Vec<Value> = req.headers.iter().map(|(n, v)| json!([n, v])).collect();
    let mut v = json!({
        "method": req.method,
        "target": req.target,
        "path": req.path,
        "query": req.query,
        "version": format!("HTTP/1.{}", req.minor),
        "headers": headers,
        "header_list": list,
        "body_length": req.body.len(),
    });
    if req.body.len() <= ECHO_BODY_LIMIT {
        if let Some(obj) = v.as_object_mut() {
            obj.insert("body".into(), Value::String(String::from_utf8_lossy(&req.body).into_owned()));
        }
    }
    v
}
