//! The only module that knows about Spin: turns the incoming request into the engine's
//! request, and its response into a streamed outgoing body.

use spin_sdk::http::{Fields, IncomingRequest, OutgoingResponse, ResponseOutparam};
use spin_sdk::http_component;

#[http_component]
async fn handle(req: IncomingRequest, out: ResponseOutparam) {
    use futures::SinkExt;
    let path = req.path_with_query().unwrap_or_default();
    let db = spin_sdk::sqlite::Connection::open_default();
    let n = db
        .ok()
        .and_then(|c| c.execute("SELECT 1", &[]).ok())
        .map(|r| r.rows.len())
        .unwrap_or(0);
    let kv = spin_sdk::key_value::Store::open_default().is_ok();
    let issuer = spin_sdk::variables::get("jwt_issuer").unwrap_or_default();
    let headers = Fields::from_list(&[("content-type".to_owned(), b"application/json".to_vec())]).unwrap();
    let resp = OutgoingResponse::new(headers);
    resp.set_status_code(200).unwrap();
    let mut body = resp.take_body();
    out.set(resp);
    let text = format!("{{\"path\":{path:?},\"rows\":{n},\"kv\":{kv},\"issuer\":{issuer:?}}}");
    let _ = body.send(text.into_bytes()).await;
}
