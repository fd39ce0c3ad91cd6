//! The Cloudflare Workers shell.
use worker::*;

#[event(fetch)]
async fn fetch(req: Request, _env: Env, _ctx: Context) -> Result<Response> {
    Fetch::Request(req).send().await
}
