//! Forwards every request to `ORIGIN` (same path and query, method and headers) and streams
//! the origin's response back unchanged.

use worker::{event, Context, Env, Fetch, Request, RequestInit, Response, Result};

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let origin = env.var("ORIGIN")?.to_string();
    let url = req.url()?;
    let mut target = origin;
    target.push_str(url.path());
    if let Some(q) = url.query() {
        target.push('?');
        target.push_str(q);
    }
    let mut init = RequestInit::new();
    init.with_method(req.method()).with_headers(req.headers().clone());
    Fetch::Request(Request::new_with_init(&target, &init)?).send().await
}
