//! HTTP/1.1 message framing (RFC 9112 §6): where a message's head and body end.
//!
//! The relay forwards bytes as they arrive and never rebuilds a message. It only needs to know
//! where each request and response starts on a keep-alive connection (to time and count them) and
//! whether the connection goes on after it. Bodies are scanned, never buffered.

use crate::window::is_counted;

/// Headers a head may carry: the ALB adds its `X-Forwarded-*` and `X-Amzn-Trace-Id` to the client's.
const MAX_HEADERS: usize = 128;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FramingError {
    #[error("malformed head: {0}")]
    Head(httparse::Error),
    #[error("conflicting or invalid Content-Length")]
    ContentLength,
    #[error("a request body with a transfer coding other than chunked last")]
    TransferCoding,
    #[error("malformed chunked body")]
    Chunk,
}

/// How a message's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    Empty,
    Length(u64),
    Chunked,
    /// A response without length: it ends when the server closes the connection.
    UntilClose,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestHead {
    /// Bytes of the head, its final empty line included.
    pub len: usize,
    pub body: Body,
    /// The client (or the protocol version) asks to close the connection after this exchange.
    pub close: bool,
    /// A `HEAD` request: its response has no body whatever its headers say.
    pub is_head: bool,
    /// Not an ALB health check: it counts as a request (see [`is_counted`]).
    pub counted: bool,
    /// `Connection: upgrade`: after a 101 the connection carries another protocol.
    pub upgrade: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseHead {
    pub len: usize,
    pub status: u16,
    pub body: Body,
    pub close: bool,
}

impl ResponseHead {
    /// 1xx other than 101: the final response to the same request follows.
    pub fn is_interim(&self) -> bool {
        (100..200).contains(&self.status) && self.status != 101
    }
}

/// `Ok(None)`: the head is not complete yet.
pub fn parse_request(bytes: &[u8]) -> Result<Option<RequestHead>, FramingError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    let len = match request.parse(bytes).map_err(FramingError::Head)? {
        httparse::Status::Complete(len) => len,
        httparse::Status::Partial => return Ok(None),
    };
    let fields = Fields::read(request.headers, request.version == Some(0))?;
    let body = match (fields.chunked, fields.transfer_encoded, fields.length) {
        (true, _, _) => Body::Chunked,
        // A request cannot be delimited by closing (RFC 9112 §6.3): refuse it rather than guess.
        (false, true, _) => return Err(FramingError::TransferCoding),
        (false, false, Some(length)) => Body::Length(length),
        (false, false, None) => Body::Empty,
    };
    let method = request.method.unwrap_or_default();
    Ok(Some(RequestHead {
        len,
        body,
        close: fields.close,
        is_head: method == "HEAD",
        counted: is_counted(fields.user_agent),
        upgrade: fields.upgrade,
    }))
}

/// `request_is_head`: the request this answers was a `HEAD`.
pub fn parse_response(
    bytes: &[u8],
    request_is_head: bool,
) -> Result<Option<ResponseHead>, FramingError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let len = match response.parse(bytes).map_err(FramingError::Head)? {
        httparse::Status::Complete(len) => len,
        httparse::Status::Partial => return Ok(None),
    };
    let status = response.code.unwrap_or_default();
    let fields = Fields::read(response.headers, response.version == Some(0))?;
    let bodiless =
        request_is_head || (100..200).contains(&status) || status == 204 || status == 304;
    let body = match (
        bodiless,
        fields.chunked,
        fields.transfer_encoded,
        fields.length,
    ) {
        (true, ..) => Body::Empty,
        (false, true, _, _) => Body::Chunked,
        (false, false, true, _) => Body::UntilClose,
        (false, false, false, Some(length)) => Body::Length(length),
        (false, false, false, None) => Body::UntilClose,
    };
    Ok(Some(ResponseHead {
        len,
        status,
        body,
        close: fields.close || body == Body::UntilClose,
    }))
}

/// What the framing needs from a head's header fields.
struct Fields<'a> {
    length: Option<u64>,
    transfer_encoded: bool,
    /// The last transfer coding is `chunked`.
    chunked: bool,
    close: bool,
    upgrade: bool,
    user_agent: Option<&'a [u8]>,
}

impl<'a> Fields<'a> {
    fn read(headers: &[httparse::Header<'a>], http_1_0: bool) -> Result<Fields<'a>, FramingError> {
        let mut fields = Fields {
            length: None,
            transfer_encoded: false,
            chunked: false,
            close: false,
            upgrade: false,
            user_agent: None,
        };
        let mut keep_alive = false;
        for header in headers {
            let name = header.name;
            if name.eq_ignore_ascii_case("content-length") {
                let length = parse_length(header.value)?;
                if fields.length.is_some_and(|seen| seen != length) {
                    return Err(FramingError::ContentLength);
                }
                fields.length = Some(length);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                fields.transfer_encoded = true;
                // Only the last coding of the last field decides (RFC 9112 §6.3).
                fields.chunked = tokens(header.value)
                    .last()
                    .is_some_and(|coding| coding.eq_ignore_ascii_case(b"chunked"));
            } else if name.eq_ignore_ascii_case("connection") {
                for option in tokens(header.value) {
                    fields.close |= option.eq_ignore_ascii_case(b"close");
                    keep_alive |= option.eq_ignore_ascii_case(b"keep-alive");
                    fields.upgrade |= option.eq_ignore_ascii_case(b"upgrade");
                }
            } else if name.eq_ignore_ascii_case("user-agent") {
                fields.user_agent = Some(header.value);
            }
        }
        fields.close |= http_1_0 && !keep_alive;
        Ok(fields)
    }
}

fn tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|byte| *byte == b',')
        .map(|token| token.trim_ascii())
        .filter(|token| !token.is_empty())
}

/// A list of equal values is allowed (RFC 9110 §8.6); anything else is not a length.
fn parse_length(value: &[u8]) -> Result<u64, FramingError> {
    let mut length = None;
    for token in tokens(value) {
        if !token.iter().all(u8::is_ascii_digit) || token.len() > 18 {
            return Err(FramingError::ContentLength);
        }
        let parsed = std::str::from_utf8(token)
            .ok()
            .and_then(|digits| digits.parse::<u64>().ok())
            .ok_or(FramingError::ContentLength)?;
        if length.is_some_and(|seen| seen != parsed) {
            return Err(FramingError::ContentLength);
        }
        length = Some(parsed);
    }
    length.ok_or(FramingError::ContentLength)
}

/// Where a body ends, fed the bytes after its head as they arrive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyScan {
    state: Scan,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scan {
    Done,
    Remaining(u64),
    UntilClose,
    /// In a chunk-size line: the size so far and whether a digit was seen.
    Size {
        size: u64,
        digits: bool,
    },
    /// After the size: an extension, up to the line's end.
    Extension {
        size: u64,
    },
    SizeLf {
        size: u64,
    },
    Data(u64),
    DataCr,
    DataLf,
    /// The trailer section: bytes on the current line (a carriage return not counted).
    Trailer {
        line: u64,
    },
}

impl BodyScan {
    pub fn new(body: Body) -> BodyScan {
        let state = match body {
            Body::Empty | Body::Length(0) => Scan::Done,
            Body::Length(length) => Scan::Remaining(length),
            Body::Chunked => Scan::Size {
                size: 0,
                digits: false,
            },
            Body::UntilClose => Scan::UntilClose,
        };
        BodyScan { state }
    }

    pub fn is_done(&self) -> bool {
        self.state == Scan::Done
    }

    /// Consumes the body's part of `bytes`: `Ok(n)` bytes of it belong to the body; when the body
    /// ended within them, [`is_done`](Self::is_done) and the rest is the next message.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<usize, FramingError> {
        let mut used = 0;
        while used < bytes.len() {
            match self.state {
                Scan::Done => break,
                Scan::UntilClose => return Ok(bytes.len()),
                Scan::Remaining(left) | Scan::Data(left) => {
                    let take = left.min((bytes.len() - used) as u64);
                    used += take as usize;
                    let left = left - take;
                    self.state = match (self.state, left) {
                        (Scan::Remaining(_), 0) => Scan::Done,
                        (Scan::Remaining(_), left) => Scan::Remaining(left),
                        (_, 0) => Scan::DataCr,
                        (_, left) => Scan::Data(left),
                    };
                }
                _ => {
                    self.state = self.step(bytes[used])?;
                    used += 1;
                }
            }
        }
        Ok(used)
    }

    /// One byte of the chunked framing outside chunk data.
    fn step(&self, byte: u8) -> Result<Scan, FramingError> {
        let next = match (self.state, byte) {
            (Scan::Size { size, .. }, b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F') => {
                let digit = u64::from((byte as char).to_digit(16).unwrap_or_default());
                let size = size
                    .checked_mul(16)
                    .and_then(|size| size.checked_add(digit))
                    .ok_or(FramingError::Chunk)?;
                Scan::Size { size, digits: true }
            }
            (Scan::Size { size, digits: true }, b';' | b' ' | b'\t') => Scan::Extension { size },
            (Scan::Size { size, digits: true }, b'\r') => Scan::SizeLf { size },
            (Scan::Size { size, digits: true }, b'\n') => after_size_line(size),
            (Scan::Extension { size }, b'\n') | (Scan::SizeLf { size }, b'\n') => {
                after_size_line(size)
            }
            (Scan::Extension { size }, _) => Scan::Extension { size },
            (Scan::DataCr, b'\r') => Scan::DataLf,
            (Scan::DataCr, b'\n') | (Scan::DataLf, b'\n') => Scan::Size {
                size: 0,
                digits: false,
            },
            (Scan::Trailer { line: 0 }, b'\n') => Scan::Done,
            (Scan::Trailer { .. }, b'\n') => Scan::Trailer { line: 0 },
            (Scan::Trailer { line }, b'\r') => Scan::Trailer { line },
            (Scan::Trailer { line }, _) => Scan::Trailer { line: line + 1 },
            _ => return Err(FramingError::Chunk),
        };
        Ok(next)
    }
}

fn after_size_line(size: u64) -> Scan {
    if size == 0 {
        Scan::Trailer { line: 0 }
    } else {
        Scan::Data(size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn request(text: &str) -> RequestHead {
        parse_request(text.as_bytes()).unwrap().unwrap()
    }

    fn response(text: &str, is_head: bool) -> ResponseHead {
        parse_response(text.as_bytes(), is_head).unwrap().unwrap()
    }

    #[test]
    fn request_heads_say_how_their_body_ends_and_whether_the_connection_goes_on() {
        let post = request("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\n");
        assert_eq!(post.body, Body::Length(12));
        assert_eq!(post.len, 49);
        assert!(!post.close && post.counted && !post.is_head && !post.upgrade);
        let chunked = request("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
        assert_eq!(chunked.body, Body::Chunked);
        let get = request("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n");
        assert_eq!((get.body, get.close), (Body::Empty, true));
        assert!(request("GET / HTTP/1.0\r\n\r\n").close);
        assert!(!request("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").close);
        assert!(request("HEAD / HTTP/1.1\r\n\r\n").is_head);
        let check = request("GET /health HTTP/1.1\r\nUser-Agent: ELB-HealthChecker/2.0\r\n\r\n");
        assert!(!check.counted);
        let socket = request("GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
        assert!(socket.upgrade);
        assert_eq!(parse_request(b"GET / HTTP/1.1\r\nHost: x\r\n"), Ok(None));
    }

    #[test]
    fn ambiguous_request_framing_is_refused() {
        let refused = |text: &str| parse_request(text.as_bytes()).unwrap_err();
        assert_eq!(
            refused("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n"),
            FramingError::ContentLength
        );
        assert_eq!(
            refused("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"),
            FramingError::ContentLength
        );
        assert_eq!(
            refused("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"),
            FramingError::TransferCoding
        );
        assert!(matches!(refused("GARBAGE\r\n\r\n"), FramingError::Head(_)));
        // Equal repeated lengths are one length.
        let same = request("POST / HTTP/1.1\r\nContent-Length: 4, 4\r\n\r\n");
        assert_eq!(same.body, Body::Length(4));
    }

    #[test]
    fn response_bodies_follow_the_status_the_request_and_the_headers() {
        let ok = response("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", false);
        assert_eq!(
            (ok.status, ok.body, ok.close),
            (200, Body::Length(5), false)
        );
        let to_head = response("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", true);
        assert_eq!(to_head.body, Body::Empty);
        for status in ["204 No Content", "304 Not Modified", "100 Continue"] {
            let head = response(
                &format!("HTTP/1.1 {status}\r\nContent-Length: 5\r\n\r\n"),
                false,
            );
            assert_eq!(head.body, Body::Empty, "{status}");
        }
        assert!(response("HTTP/1.1 100 Continue\r\n\r\n", false).is_interim());
        assert!(!response("HTTP/1.1 101 Switching Protocols\r\n\r\n", false).is_interim());
        let open_ended = response("HTTP/1.1 200 OK\r\n\r\n", false);
        assert_eq!(
            (open_ended.body, open_ended.close),
            (Body::UntilClose, true)
        );
        let chunked = response(
            "HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n",
            false,
        );
        assert_eq!((chunked.status, chunked.body), (500, Body::Chunked));
        assert!(response("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false).close);
    }

    #[test]
    fn a_chunked_body_ends_after_its_last_chunk_and_trailers() {
        let body = b"4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\nExpires: never\r\n\r\nGET";
        let mut scan = BodyScan::new(Body::Chunked);
        assert_eq!(scan.feed(body), Ok(body.len() - 3));
        assert!(scan.is_done());
        let mut bad = BodyScan::new(Body::Chunked);
        assert_eq!(bad.feed(b"zz\r\n"), Err(FramingError::Chunk));
        let mut missing_crlf = BodyScan::new(Body::Chunked);
        assert_eq!(missing_crlf.feed(b"1\r\nab"), Err(FramingError::Chunk));
    }

    #[test]
    fn lengths_end_exactly_and_open_bodies_never_end() {
        let mut scan = BodyScan::new(Body::Length(3));
        assert_eq!(scan.feed(b"ab"), Ok(2));
        assert!(!scan.is_done());
        assert_eq!(scan.feed(b"cdef"), Ok(1));
        assert!(scan.is_done());
        assert!(BodyScan::new(Body::Empty).is_done());
        let mut open = BodyScan::new(Body::UntilClose);
        assert_eq!(open.feed(b"anything"), Ok(8));
        assert!(!open.is_done());
    }

    fn chunked(chunks: &[Vec<u8>], trailers: &[String]) -> Vec<u8> {
        let mut body = Vec::new();
        for chunk in chunks.iter().filter(|chunk| !chunk.is_empty()) {
            body.extend(format!("{:x}\r\n", chunk.len()).bytes());
            body.extend(chunk);
            body.extend(b"\r\n");
        }
        body.extend(b"0\r\n");
        for trailer in trailers {
            body.extend(format!("{trailer}\r\n").bytes());
        }
        body.extend(b"\r\n");
        body
    }

    proptest! {
        /// Wherever the reads split a chunked body, the scan ends at its last byte and no sooner.
        #[test]
        fn a_chunked_body_ends_at_its_end_however_it_is_split(
            chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..6),
            trailers in prop::collection::vec("[a-z]{1,8}: [a-z0-9]{0,8}", 0..3),
            cuts in prop::collection::vec(1usize..17, 1..40),
        ) {
            let body = chunked(&chunks, &trailers);
            let mut stream = body.clone();
            stream.extend(b"NEXT");
            let mut scan = BodyScan::new(Body::Chunked);
            let (mut offset, mut cuts) = (0, cuts.into_iter().cycle());
            while !scan.is_done() {
                prop_assert!(offset < body.len(), "ran past the end");
                let end = (offset + cuts.next().unwrap_or(1)).min(stream.len());
                offset += scan.feed(&stream[offset..end]).unwrap();
            }
            prop_assert_eq!(offset, body.len());
        }
    }
}
