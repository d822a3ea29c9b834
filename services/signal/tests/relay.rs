//! The relay against real HTTP/1.1 peers: hyper as the service (chunked request bodies, HEAD,
//! pipelined keep-alive requests, a declined upgrade), and raw sockets where hyper would hide what
//! is checked (a protocol switch, a service that dies with requests in flight). Each test reads the
//! counts back from the recorder the relay wrote into.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use target_signal::Period;
use target_signal::relay::Relay;
use target_signal::window::{Counts, Recorder};

/// The relay on 127.0.0.1 in front of `upstream`: (its address, the recorder, the relay).
fn start_relay(upstream: u16) -> (String, Arc<Recorder>, Arc<Relay>) {
    let recorder = Arc::new(Recorder::new(Period::from_secs(60).unwrap()));
    let relay = Relay::new(format!("127.0.0.1:{upstream}"), recorder.clone());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let accepting = relay.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            accepting.accept(stream);
        }
    });
    (address, recorder, relay)
}

/// hyper as the service: POST echoes its body, `/fail` answers 500, anything else 200 "ok".
fn start_hyper_service() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), hyper::service::service_fn(answer)),
                );
            }
        });
    });
    port
}

async fn answer(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await?.to_bytes();
    let (status, text) = match (parts.method, parts.uri.path()) {
        (Method::POST, _) => (StatusCode::OK, body),
        (_, "/fail") => (StatusCode::INTERNAL_SERVER_ERROR, Bytes::from_static(b"no")),
        _ => (StatusCode::OK, Bytes::from_static(b"ok")),
    };
    let mut response = Response::new(Full::new(text));
    *response.status_mut() = status;
    Ok(response)
}

fn connect(address: &str) -> TcpStream {
    let stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// Reads until `expected` responses' worth of text has come (each ends with its body `ends`).
fn read_until(stream: &mut TcpStream, done: impl Fn(&str) -> bool) -> String {
    let mut text = Vec::new();
    let mut chunk = [0u8; 4096];
    while !done(&String::from_utf8_lossy(&text)) {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(read) => text.extend_from_slice(&chunk[..read]),
            Err(err) => panic!("reading {:?}: {err}", String::from_utf8_lossy(&text)),
        }
    }
    String::from_utf8_lossy(&text).into_owned()
}

/// Everything counted so far, and the number of response times.
fn counted(recorder: &Recorder) -> (Counts, u64) {
    let windows = recorder.take_before(u64::MAX);
    let mut counts = Counts::default();
    let mut timed = 0;
    for window in windows {
        counts.requests += window.counts.requests;
        counts.target_5xx += window.counts.target_5xx;
        counts.connection_errors += window.counts.connection_errors;
        timed += window.latency.count();
    }
    (counts, timed)
}

#[test]
fn pipelined_chunked_head_and_health_check_requests_stay_in_step_on_one_connection() {
    let (address, recorder, _relay) = start_relay(start_hyper_service());
    let mut client = connect(&address);
    let requests = concat!(
        "POST /api/v1/recommendation HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n",
        "5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n",
        "HEAD / HTTP/1.1\r\nHost: t\r\n\r\n",
        "GET /fail HTTP/1.1\r\nHost: t\r\n\r\n",
        "GET /health HTTP/1.1\r\nHost: t\r\nUser-Agent: ELB-HealthChecker/2.0\r\n\r\n",
        "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nlast",
    );
    // All at once, and again byte by byte on a second connection: the framing holds either way.
    client.write_all(requests.as_bytes()).unwrap();
    let text = read_until(&mut client, |text| text.ends_with("last"));
    assert_eq!(text.matches("HTTP/1.1 ").count(), 5, "{text}");
    assert!(text.contains("\r\n\r\nhello world"), "{text}");
    assert!(text.contains("500 Internal Server Error"), "{text}");
    let mut slow = connect(&address);
    for byte in requests.as_bytes() {
        slow.write_all(&[*byte]).unwrap();
    }
    let again = read_until(&mut slow, |text| text.ends_with("last"));
    assert_eq!(again.matches("HTTP/1.1 ").count(), 5, "{again}");

    let (counts, timed) = counted(&recorder);
    let expected = Counts {
        requests: 8,
        target_5xx: 2,
        connection_errors: 0,
    };
    assert_eq!(
        counts, expected,
        "the health checks are relayed, not counted"
    );
    assert_eq!(timed, 8);
}

#[test]
fn a_declined_upgrade_leaves_the_connection_speaking_http() {
    let (address, recorder, _relay) = start_relay(start_hyper_service());
    let mut client = connect(&address);
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n")
        .unwrap();
    let first = read_until(&mut client, |text| text.ends_with("ok"));
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    client
        .write_all(b"GET /fail HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let second = read_until(&mut client, |text| text.ends_with("no"));
    assert!(second.starts_with("HTTP/1.1 500"), "{second}");
    assert_eq!(counted(&recorder).0.requests, 2);
}

/// A raw service: answers the first request head it reads with `reply`, then echoes every byte.
fn start_raw_service(reply: &'static [u8]) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if stream.read(&mut byte).unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                if stream.write_all(reply).is_err() {
                    return;
                }
                let mut chunk = [0u8; 1024];
                while let Ok(read @ 1..) = stream.read(&mut chunk) {
                    let _ = stream.write_all(&chunk[..read]);
                }
            });
        }
    });
    port
}

#[test]
fn after_a_protocol_switch_bytes_pass_both_ways() {
    let reply = b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n";
    let (address, recorder, _relay) = start_relay(start_raw_service(reply));
    let mut client = connect(&address);
    client
        .write_all(
            b"GET /socket HTTP/1.1\r\nHost: t\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n",
        )
        .unwrap();
    let switched = read_until(&mut client, |text| text.ends_with("\r\n\r\n"));
    assert!(switched.starts_with("HTTP/1.1 101"), "{switched}");
    // Not HTTP any more: relayed as it is.
    client.write_all(b"\x00\x01not a request\r\n\r\n").unwrap();
    let echoed = read_until(&mut client, |text| text.ends_with("\r\n\r\n"));
    assert_eq!(echoed, "\u{0}\u{1}not a request\r\n\r\n");
    assert_eq!(counted(&recorder).0.requests, 1);
}

#[test]
fn a_service_that_dies_with_a_request_in_flight_is_a_connection_error_answered_502() {
    // Reads the head, then closes without a word.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut chunk = [0u8; 1024];
            let _ = stream.read(&mut chunk);
        }
    });
    let (address, recorder, _relay) = start_relay(port);
    let mut client = connect(&address);
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let text = read_until(&mut client, |_| false);
    assert!(text.starts_with("HTTP/1.1 502 Bad Gateway"), "{text}");
    let (counts, timed) = counted(&recorder);
    assert_eq!(
        (counts.requests, counts.connection_errors, timed),
        (1, 1, 0)
    );
}

#[test]
fn a_refused_connection_is_a_connection_error_and_a_malformed_request_changes_nothing() {
    // A port nothing listens on: bound, then closed.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (address, recorder, relay) = start_relay(port);
    let mut client = connect(&address);
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let text = read_until(&mut client, |_| false);
    assert!(text.starts_with("HTTP/1.1 502"), "{text}");
    let mut garbled = connect(&address);
    garbled
        .write_all(b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n")
        .unwrap();
    let refused = read_until(&mut garbled, |_| false);
    assert!(refused.starts_with("HTTP/1.1 400"), "{refused}");
    let (counts, _) = counted(&recorder);
    assert_eq!((counts.requests, counts.connection_errors), (1, 1));
    // Every connection's threads are gone once the clients' are closed.
    for _ in 0..100 {
        if relay.active() == 0 {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{} relay threads still running", relay.active());
}
