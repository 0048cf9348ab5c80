//! Outbound HTTP as Spin allows it: only to hosts in `allowed_outbound_hosts`
//! (`https://api.example.com`, `https://*.example.com:443`, `*://*:*`); anything else is
//! refused with `HttpRequestDenied` before a connection is made.

use std::sync::Arc;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

#[derive(Clone, Default)]
pub struct OutboundPolicy {
    allowed: Arc<Vec<String>>,
}

impl OutboundPolicy {
    pub fn new(allowed: Vec<String>) -> Self {
        Self {
            allowed: Arc::new(allowed),
        }
    }

    /// Whether `scheme://host:port` matches one of the allowed patterns.
    pub fn allows(&self, scheme: &str, host: &str, port: u16) -> bool {
        self.allowed.iter().any(|pattern| {
            let (p_scheme, rest) = pattern.split_once("://").unwrap_or(("*", pattern));
            let rest = rest.trim_end_matches('/');
            let (p_host, p_port) = match rest.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (rest, None),
            };
            let default_port = if scheme == "https" { 443 } else { 80 };
            let scheme_ok = p_scheme == "*" || p_scheme == scheme;
            let host_ok = p_host == "*"
                || p_host.eq_ignore_ascii_case(host)
                || p_host
                    .strip_prefix("*.")
                    .is_some_and(|suffix| host.ends_with(&format!(".{suffix}")));
            let port_ok = match p_port {
                None => port == default_port,
                Some("*") => true,
                Some(p) => p.parse() == Ok(port),
            };
            scheme_ok && host_ok && port_ok
        })
    }
}

type SendFuture = Box<
    dyn std::future::Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn std::future::Future<Output = Result<(), Error>> + Send>,
                ),
                Error,
            >,
        > + Send,
>;

impl WasiHttpHooks for OutboundPolicy {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn std::future::Future<Output = Result<(), Error>> + Send>,
    ) -> SendFuture {
        let uri = request.uri();
        let scheme = uri.scheme_str().unwrap_or("https").to_owned();
        let host = uri.host().unwrap_or_default().to_owned();
        let port = uri
            .port_u16()
            .unwrap_or(if scheme == "https" { 443 } else { 80 });
        if !self.allows(&scheme, &host, port) {
            return Box::new(async { Err(Error::HttpRequestDenied) });
        }
        let default: &mut dyn WasiHttpHooks = wasmtime_wasi_http::default_hooks();
        default.send_request(request, options, fut)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_spin_host_patterns() {
        let p = OutboundPolicy::new(vec![
            "https://api.example.com".into(),
            "http://*.internal:8080".into(),
        ]);
        assert!(p.allows("https", "api.example.com", 443));
        assert!(!p.allows("http", "api.example.com", 80));
        assert!(p.allows("http", "db.internal", 8080));
        assert!(!p.allows("http", "db.internal", 80));
        assert!(!p.allows("https", "evil.com", 443));
        assert!(!OutboundPolicy::default().allows("https", "api.example.com", 443));
        assert!(OutboundPolicy::new(vec!["*://*:*".into()]).allows("http", "x", 1));
    }
}
