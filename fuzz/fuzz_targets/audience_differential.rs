//! The audience rule against origins' cookie parsers: whenever ZPublisher, Python's
//! `http.cookies`, Node's `cookie` or a lenient parser (re-implemented in
//! `rulecache::testing::cookie_parsers`) sees a non-empty auth cookie in a `Cookie` field, or in
//! two fields joined as the runtime joins them, the edge must find the request authenticated.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rulecache::http::Headers;
use rulecache::policy::audience::AudienceConfig;
use rulecache::policy::Policy;
use rulecache::storage::key::Audience;
use rulecache::testing::cookie_parsers::{sees_auth, PARSERS};

thread_local! {
    static CONFIGS: Vec<AudienceConfig> = {
        let mut out = vec![AudienceConfig { auth_cookie_prefixes: vec!["__ac_".into()], ..AudienceConfig::default() }];
        out.extend(Policy::profiles().iter().filter_map(|(id, _)| Policy::bundled(id)).map(|p| p.audience_config().clone()));
        out
    };
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // A NUL splits the input into two Cookie fields.
    let fields: Vec<&str> = text.splitn(2, '\0').collect();
    let h = Headers::from_pairs(fields.iter().map(|f| ("cookie", *f)));
    let mut readings: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
    if fields.len() == 2 {
        readings.push(fields.join(", "));
    }
    CONFIGS.with(|configs| {
        for cfg in configs {
            let edge = cfg.audience(&h);
            for reading in &readings {
                for (name, parse) in PARSERS {
                    if sees_auth(cfg, &parse(reading)) {
                        assert_eq!(edge, Audience::Authenticated, "{name} sees a login in {reading:?}");
                    }
                }
            }
        }
    });
});
