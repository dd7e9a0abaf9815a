//! HTTP/1.x request and response heads (via `httparse`): method, Host, path, content type and
//! status. Owns only head parsing and the privacy trimming of what it returns: the path loses
//! its query string and fragment (they routinely carry personal data), is replaced by
//! `[redacted]` when a personal-data detector fires in it, and is cut to 128 bytes. No I/O, no
//! state, no panics.

/// Longest path kept.
const MAX_PATH: usize = 128;
/// Longest Host / content type kept.
const MAX_FIELD: usize = 255;
const MAX_HEADERS: usize = 64;

/// The HTTP methods recognised at the start of a client payload (RFC 9110, WebDAV, SSDP).
const METHODS: [&[u8]; 16] = [
    b"GET ",
    b"POST ",
    b"PUT ",
    b"HEAD ",
    b"DELETE ",
    b"OPTIONS ",
    b"PATCH ",
    b"CONNECT ",
    b"TRACE ",
    b"PROPFIND ",
    b"PROPPATCH ",
    b"MKCOL ",
    b"COPY ",
    b"MOVE ",
    b"NOTIFY ",
    b"M-SEARCH ",
];

/// Whether a client payload starts like an HTTP/1.x request.
pub fn looks_like_request(first: &[u8]) -> bool {
    METHODS.iter().any(|m| first.starts_with(m))
}

/// Whether a server payload starts like an HTTP/1.x response.
pub fn looks_like_response(first: &[u8]) -> bool {
    first.starts_with(b"HTTP/1.")
}

/// A request head.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Request {
    pub method: String,
    /// Host header, lower-cased (port kept, as tshark shows it).
    pub host: Option<String>,
    /// Path without query or fragment.
    pub path: String,
    pub content_type: Option<String>,
}

/// Outcome of parsing the head seen so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Head<T> {
    Complete(T),
    /// The head is not complete yet: what the bytes so far hold.
    Partial(T),
    Invalid,
}

/// Parses a request head from the start of a client stream.
pub fn request(buf: &[u8]) -> Head<Request> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let status = match req.parse(buf) {
        Ok(s) => s,
        // Too many headers: the request line and the first headers still tell what we need.
        Err(httparse::Error::TooManyHeaders) => httparse::Status::Partial,
        Err(_) => return Head::Invalid,
    };
    let out = Request {
        method: req.method.map(clip).unwrap_or_default(),
        host: header(req.headers, "host").map(|h| h.to_ascii_lowercase()),
        path: req.path.map(trim_path).unwrap_or_default(),
        content_type: header(req.headers, "content-type"),
    };
    match status {
        httparse::Status::Complete(_) => Head::Complete(out),
        httparse::Status::Partial => Head::Partial(out),
    }
}

/// A response head.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Response {
    pub status: u16,
    pub content_type: Option<String>,
}

/// Parses a response head from the start of a server payload.
pub fn response(buf: &[u8]) -> Head<Response> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    let status = match resp.parse(buf) {
        Ok(s) => s,
        Err(httparse::Error::TooManyHeaders) => httparse::Status::Partial,
        Err(_) => return Head::Invalid,
    };
    let out = Response {
        status: resp.code.unwrap_or(0),
        content_type: header(resp.headers, "content-type"),
    };
    match status {
        httparse::Status::Complete(_) => Head::Complete(out),
        httparse::Status::Partial => Head::Partial(out),
    }
}

fn header(headers: &[httparse::Header<'_>], name: &str) -> Option<String> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| clip(&String::from_utf8_lossy(h.value)))
}

fn clip(s: &str) -> String {
    let s = s.trim();
    let mut end = s.len().min(MAX_FIELD);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// The path without query and fragment, cut to [`MAX_PATH`]; `[redacted]` when a
/// personal-data detector fires anywhere in it (checked before cutting, so an identifier cut in
/// half cannot slip through).
fn trim_path(p: &str) -> String {
    let p = p.split(['?', '#']).next().unwrap_or_default();
    if crate::pii::detect::contains_identifier(p.as_bytes()) {
        return "[redacted]".to_string();
    }
    let mut end = p.len().min(MAX_PATH);
    while !p.is_char_boundary(end) {
        end -= 1;
    }
    p[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_fields_and_query_dropped() {
        let r = b"POST /v1/users?email=maria.garcia@example.org HTTP/1.1\r\nHost: API.Example.com:8443\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
        let Head::Complete(q) = request(r) else {
            panic!("complete head expected")
        };
        assert_eq!(q.method, "POST");
        assert_eq!(q.host.as_deref(), Some("api.example.com:8443"));
        assert_eq!(q.path, "/v1/users");
        assert_eq!(q.content_type.as_deref(), Some("application/json"));
        assert!(looks_like_request(r));
    }

    #[test]
    fn a_path_with_an_identifier_is_redacted_even_past_the_cut() {
        let long = format!(
            "GET /{}/4111111111111111 HTTP/1.1\r\nHost: a\r\n\r\n",
            "x".repeat(120)
        );
        let Head::Complete(q) = request(long.as_bytes()) else {
            panic!("complete head expected")
        };
        assert_eq!(q.path, "[redacted]");
        let Head::Complete(q) =
            request(b"GET /users/maria.garcia@example.org/profile HTTP/1.1\r\n\r\n")
        else {
            panic!("complete head expected")
        };
        assert_eq!(q.path, "[redacted]");
    }

    #[test]
    fn split_head_is_partial_until_the_blank_line() {
        let r = b"GET / HTTP/1.1\r\nUser-Agent: x\r\nHost: example.org\r\n\r\n";
        let cut = 20;
        match request(&r[..cut]) {
            Head::Partial(q) => {
                assert_eq!(q.method, "GET");
                assert_eq!(q.host, None);
            }
            other => panic!("partial expected, got {other:?}"),
        }
        match request(r) {
            Head::Complete(q) => assert_eq!(q.host.as_deref(), Some("example.org")),
            other => panic!("complete expected, got {other:?}"),
        }
    }

    #[test]
    fn response_status_and_type() {
        let r = b"HTTP/1.1 404 Not Found\r\nContent-Type: text/html; charset=utf-8\r\n\r\n";
        assert!(looks_like_response(r));
        assert_eq!(
            response(r),
            Head::Complete(Response {
                status: 404,
                content_type: Some("text/html; charset=utf-8".into())
            })
        );
        assert_eq!(request(b"\x16\x03\x01\x02\x00"), Head::Invalid);
    }
}
