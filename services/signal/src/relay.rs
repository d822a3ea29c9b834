//! The request path: each client connection relayed to a connection of its own to the service,
//! byte for byte, by two blocking threads (one per direction) that only look at where messages
//! start and end.
//!
//! Why this shape (measured with `cargo xtask bench-signal`): a hyper server and pooled client on
//! an async runtime added about 0.2 ms at p99; HAProxy's HTTP mode on the same machine added
//! 0.13–0.18 ms, its TCP mode 0.07–0.11 ms, and two blocking threads copying bytes less. A thread
//! blocked in `read` is woken by the socket itself: no event loop, no task hand-offs, one read and
//! one write per message per direction. Being byte-transparent also keeps the service's own
//! connection behaviour (keep-alive, close, its timeouts) what the ALB sees.
//!
//! Timing and counting as the ALB does: a request's clock starts when its head has arrived, stops
//! at its response's head; a connection refused, or closed or reset before the response head, is a
//! connection error (answered 502 when nothing of the response was sent).

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant, SystemTime};

use crate::framing::{self, Body, BodyScan, FramingError, RequestHead};
use crate::period::epoch_secs;
use crate::window::{Outcome, Recorder};

/// Reads of the client wake this often to see a stop; no latency cost (a read returns as soon as
/// bytes arrive).
const STOP_POLL: Duration = Duration::from_millis(250);
/// A request head must arrive whole within this time of its first byte.
const HEAD_TIMEOUT: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const BUFFER: usize = 16 * 1024;
/// Each direction's thread holds one buffer on the heap and little else.
const THREAD_STACK: usize = 128 * 1024;

const BAD_GATEWAY: &[u8] = b"HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/plain\r\n\
content-length: 27\r\nconnection: close\r\n\r\nupstream connection failed\n";
const BAD_REQUEST: &[u8] = b"HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\n\
content-length: 12\r\nconnection: close\r\n\r\nbad request\n";

/// What every connection shares: where to connect, where to count, whether to stop.
pub struct Relay {
    upstream: String,
    recorder: Arc<Recorder>,
    stopping: AtomicBool,
    /// Threads still relaying; the drain waits for 0.
    active: AtomicUsize,
}

/// A request sent upstream whose response is not yet forwarded whole.
struct Pending {
    received: Instant,
    /// Its response head has come (and was counted); its body may still be on its way.
    answered: bool,
    counted: bool,
    is_head: bool,
    /// An `Upgrade` request waits to learn whether the service switched protocols (101).
    upgrade: Option<mpsc::Sender<bool>>,
}

/// What a connection's two directions share.
#[derive(Default)]
struct Exchange {
    /// Oldest first (HTTP/1.1 answers in order); empty when no exchange is in flight.
    pending: Mutex<VecDeque<Pending>>,
    /// The request side has ended: once the pending requests are answered, the connection closes.
    requests_done: AtomicBool,
}

impl Exchange {
    fn queue(&self) -> std::sync::MutexGuard<'_, VecDeque<Pending>> {
        // A poisoned lock only means the other direction panicked: the queue is still consistent.
        self.pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn is_idle(&self) -> bool {
        self.queue().is_empty()
    }

    /// Marks the oldest request answered (its head has come): when it was received, whether it
    /// counts, and who waits to know whether it switched protocols.
    fn answer(&self) -> Option<(Instant, bool, Option<mpsc::Sender<bool>>)> {
        let mut queue = self.queue();
        let oldest = queue.iter_mut().find(|pending| !pending.answered)?;
        oldest.answered = true;
        Some((oldest.received, oldest.counted, oldest.upgrade.take()))
    }
}

impl Relay {
    pub fn new(upstream: String, recorder: Arc<Recorder>) -> Arc<Relay> {
        Arc::new(Relay {
            upstream,
            recorder,
            stopping: AtomicBool::new(false),
            active: AtomicUsize::new(0),
        })
    }

    /// Relays `client` on threads of its own; returns at once.
    pub fn accept(self: &Arc<Self>, client: TcpStream) {
        let relay = self.clone();
        let guard = Active::enter(self);
        let spawned = std::thread::Builder::new()
            .name("client".into())
            .stack_size(THREAD_STACK)
            .spawn(move || {
                let _guard = guard;
                relay.requests(client);
            });
        if let Err(err) = spawned {
            // The connection is dropped (closed): the ALB retries it elsewhere or answers 502.
            tracing::warn!(event = "thread_failed", error = %err);
        }
    }

    /// Stops every connection once its current exchange is over.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
    }

    /// Threads still relaying.
    pub fn active(&self) -> usize {
        self.active.load(Ordering::SeqCst)
    }

    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }

    fn record(&self, counted: bool, outcome: Outcome) {
        if counted {
            self.recorder.record(epoch_secs(SystemTime::now()), outcome);
        }
    }

    fn connect(&self) -> std::io::Result<TcpStream> {
        let mut last = None;
        for address in self.upstream.to_socket_addrs()? {
            match TcpStream::connect_timeout(&address, CONNECT_TIMEOUT) {
                Ok(stream) => return Ok(stream),
                Err(err) => last = Some(err),
            }
        }
        Err(last.unwrap_or_else(|| ErrorKind::AddrNotAvailable.into()))
    }

    /// The client → service direction (the connection's first thread): reads each request head,
    /// opens the service connection at the first one, forwards the bytes.
    fn requests(self: &Arc<Self>, mut client: TcpStream) {
        let _ = client.set_nodelay(true);
        let _ = client.set_read_timeout(Some(STOP_POLL));
        let exchange = Arc::new(Exchange::default());
        let mut buffer = Buffer::new();
        let mut upstream: Option<TcpStream> = None;
        loop {
            let head = match self.read_request_head(&mut client, &mut buffer, &exchange) {
                Ok(Some(head)) => head,
                Ok(None) => break,
                Err(ReadError::Framing(err)) => {
                    tracing::debug!(event = "bad_request", error = %err);
                    if exchange.is_idle() {
                        let _ = client.write_all(BAD_REQUEST);
                    }
                    break;
                }
                Err(ReadError::Io(_)) => break,
            };
            let received = Instant::now();
            if upstream.is_none() {
                match self.open(&client, &exchange) {
                    Ok(service) => upstream = Some(service),
                    Err(err) => {
                        tracing::warn!(event = "upstream_failed", error = %err);
                        self.record(head.counted, Outcome::ConnectionFailed);
                        let _ = client.write_all(BAD_GATEWAY);
                        break;
                    }
                }
            }
            let Some(service) = upstream.as_mut() else {
                break;
            };
            let (switched, switch) = if head.upgrade {
                let (tell, told) = mpsc::channel();
                (Some(told), Some(tell))
            } else {
                (None, None)
            };
            exchange.queue().push_back(Pending {
                received,
                answered: false,
                counted: head.counted,
                is_head: head.is_head,
                upgrade: switch,
            });
            if forward_message(&mut client, service, &mut buffer, head.len, head.body).is_err() {
                // The response side sees the service's end and answers for the queue.
                break;
            }
            if let Some(switched) = switched {
                // The client waits for the answer too before it sends anything else.
                if switched.recv() == Ok(true) {
                    let _ = copy_until_close(&mut client, service, buffer.take());
                    break;
                }
            }
            if head.close {
                break;
            }
        }
        exchange.requests_done.store(true, Ordering::SeqCst);
        if exchange.is_idle() {
            // Nothing to wait for: closing the service's side ends the response side too.
            let to_close = upstream.as_ref().unwrap_or(&client);
            let _ = to_close.shutdown(Shutdown::Both);
        }
        // Otherwise the response side forwards what is still owed, then closes both.
    }

    /// Connects to the service and starts the connection's response side.
    fn open(
        self: &Arc<Self>,
        client: &TcpStream,
        exchange: &Arc<Exchange>,
    ) -> std::io::Result<TcpStream> {
        let service = self.connect()?;
        service.set_nodelay(true)?;
        let (from_service, to_client) = (service.try_clone()?, client.try_clone()?);
        let (relay, exchange) = (self.clone(), exchange.clone());
        let guard = Active::enter(self);
        std::thread::Builder::new()
            .name("service".into())
            .stack_size(THREAD_STACK)
            .spawn(move || {
                let _guard = guard;
                relay.responses(from_service, to_client, &exchange);
            })?;
        Ok(service)
    }

    /// `Ok(None)`: the client closed between requests, or a stop found the connection idle.
    fn read_request_head(
        &self,
        client: &mut TcpStream,
        buffer: &mut Buffer,
        exchange: &Exchange,
    ) -> Result<Option<RequestHead>, ReadError> {
        let mut first_byte: Option<Instant> = None;
        loop {
            if let Some(head) = framing::parse_request(buffer.data())? {
                return Ok(Some(head));
            }
            if !buffer.is_empty() {
                let since = *first_byte.get_or_insert_with(Instant::now);
                if since.elapsed() > HEAD_TIMEOUT || buffer.is_full() {
                    return Err(ReadError::Io(ErrorKind::InvalidData.into()));
                }
            }
            match buffer.fill(client) {
                Ok(0) if buffer.is_empty() => return Ok(None),
                Ok(0) => return Err(ReadError::Io(ErrorKind::UnexpectedEof.into())),
                Ok(_) => {}
                Err(err) if is_timeout(&err) => {
                    if self.stopping() && buffer.is_empty() && exchange.is_idle() {
                        return Ok(None);
                    }
                }
                Err(err) => return Err(ReadError::Io(err)),
            }
        }
    }

    /// The service → client direction: each response head stops its request's clock.
    fn responses(&self, mut service: TcpStream, mut client: TcpStream, exchange: &Exchange) {
        let mut buffer = Buffer::new();
        loop {
            let head = match read_response_head(&mut service, &mut buffer, exchange) {
                Ok(Some(head)) => head,
                outcome => {
                    if let Err(err) = outcome {
                        tracing::debug!(event = "upstream_broke", error = %err);
                    }
                    self.fail_pending(&mut client, exchange);
                    break;
                }
            };
            if head.is_interim() {
                let forwarded = forward_message(
                    &mut service,
                    &mut client,
                    &mut buffer,
                    head.len,
                    Body::Empty,
                );
                if forwarded.is_err() {
                    break;
                }
                continue;
            }
            let Some((received, counted, upgrade)) = exchange.answer() else {
                tracing::debug!(event = "unsolicited_response");
                break;
            };
            let outcome = Outcome::Answered {
                status: head.status,
                elapsed: received.elapsed(),
            };
            self.record(counted, outcome);
            let switching = head.status == 101 && upgrade.is_some();
            if let Some(tell) = upgrade {
                let _ = tell.send(switching);
            }
            if switching {
                if client.write_all(buffer.data()).is_ok() {
                    let _ = copy_until_close(&mut service, &mut client, Vec::new());
                }
                break;
            }
            let forwarded =
                forward_message(&mut service, &mut client, &mut buffer, head.len, head.body);
            if forwarded.is_err() {
                self.fail_pending(&mut client, exchange);
                break;
            }
            exchange.queue().pop_front();
            let over =
                head.close || exchange.requests_done.load(Ordering::SeqCst) || self.stopping();
            if over && exchange.is_idle() {
                break;
            }
        }
        // Unblocks the request side too, which would wait for a request that cannot go on.
        let _ = client.shutdown(Shutdown::Both);
        let _ = service.shutdown(Shutdown::Both);
    }

    /// The service closed or broke with requests owed: each one not answered yet is a connection
    /// error, and the oldest is answered 502 if nothing of its response reached the client.
    fn fail_pending(&self, client: &mut TcpStream, exchange: &Exchange) {
        let failed: Vec<Pending> = exchange.queue().drain(..).collect();
        for pending in failed.iter().filter(|pending| !pending.answered) {
            self.record(pending.counted, Outcome::ConnectionFailed);
        }
        if failed.first().is_some_and(|oldest| !oldest.answered) {
            let _ = client.write_all(BAD_GATEWAY);
        }
    }
}

enum ReadError {
    Framing(FramingError),
    Io(std::io::Error),
}

impl From<FramingError> for ReadError {
    fn from(err: FramingError) -> ReadError {
        ReadError::Framing(err)
    }
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Framing(err) => err.fmt(f),
            ReadError::Io(err) => err.fmt(f),
        }
    }
}

/// `Ok(None)`: the service closed cleanly before any byte of a response.
fn read_response_head(
    service: &mut TcpStream,
    buffer: &mut Buffer,
    exchange: &Exchange,
) -> Result<Option<framing::ResponseHead>, ReadError> {
    loop {
        // Read once bytes have come: the request they answer is queued before it is sent.
        let request_is_head = exchange
            .queue()
            .front()
            .is_some_and(|pending| pending.is_head);
        if let Some(head) = framing::parse_response(buffer.data(), request_is_head)? {
            return Ok(Some(head));
        }
        if buffer.is_full() {
            return Err(ReadError::Io(ErrorKind::InvalidData.into()));
        }
        match buffer.fill(service) {
            Ok(0) if buffer.is_empty() => return Ok(None),
            Ok(0) => return Err(ReadError::Io(ErrorKind::UnexpectedEof.into())),
            Ok(_) => {}
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(err) => return Err(ReadError::Io(err)),
        }
    }
}

/// Writes the message whose head is the first `head_len` bytes of `buffer` from `from` to `to`,
/// reading its body's rest as it comes; leaves in `buffer` what follows the message.
fn forward_message(
    from: &mut TcpStream,
    to: &mut TcpStream,
    buffer: &mut Buffer,
    head_len: usize,
    body: Body,
) -> std::io::Result<()> {
    let mut scan = BodyScan::new(body);
    let mut message_end = head_len + scan.feed(&buffer.data()[head_len..]).map_err(invalid)?;
    loop {
        // One write per read: the head and the body's first bytes go out together.
        to.write_all(&buffer.data()[..message_end])?;
        buffer.consume(message_end);
        if scan.is_done() {
            return Ok(());
        }
        match buffer.fill(from) {
            Ok(0) if body == Body::UntilClose => return Ok(()),
            Ok(0) => return Err(ErrorKind::UnexpectedEof.into()),
            Ok(_) => {}
            Err(err) if is_timeout(&err) || err.kind() == ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
        message_end = scan.feed(buffer.data()).map_err(invalid)?;
    }
}

/// After an upgrade: bytes both ways until `from` closes (the other direction has its own thread).
fn copy_until_close(
    from: &mut TcpStream,
    to: &mut TcpStream,
    already_read: Vec<u8>,
) -> std::io::Result<()> {
    to.write_all(&already_read)?;
    let _ = from.set_read_timeout(None);
    let mut chunk = vec![0; BUFFER];
    loop {
        match from.read(&mut chunk) {
            Ok(0) => return to.shutdown(Shutdown::Write),
            Ok(read) => to.write_all(&chunk[..read])?,
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
}

fn invalid(err: FramingError) -> std::io::Error {
    std::io::Error::new(ErrorKind::InvalidData, err)
}

fn is_timeout(err: &std::io::Error) -> bool {
    matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// Bytes read and not yet forwarded: `data()` is `bytes[start..end]`.
struct Buffer {
    bytes: Vec<u8>,
    start: usize,
    end: usize,
}

impl Buffer {
    fn new() -> Buffer {
        Buffer {
            bytes: vec![0; BUFFER],
            start: 0,
            end: 0,
        }
    }

    fn data(&self) -> &[u8] {
        &self.bytes[self.start..self.end]
    }

    fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// A head that does not fit is refused (16 KiB, as the ALB's own limit on request lines and headers is near it).
    fn is_full(&self) -> bool {
        self.start == 0 && self.end == self.bytes.len()
    }

    fn consume(&mut self, count: usize) {
        self.start += count;
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        }
    }

    fn take(&mut self) -> Vec<u8> {
        let rest = self.data().to_vec();
        (self.start, self.end) = (0, 0);
        rest
    }

    /// One read into the free space (moving what is left to the front first).
    fn fill(&mut self, from: &mut TcpStream) -> std::io::Result<usize> {
        if self.end == self.bytes.len() && self.start > 0 {
            self.bytes.copy_within(self.start..self.end, 0);
            (self.start, self.end) = (0, self.end - self.start);
        }
        let read = from.read(&mut self.bytes[self.end..])?;
        self.end += read;
        Ok(read)
    }
}

/// Counts a relaying thread for the drain, for as long as it lives.
struct Active(Arc<Relay>);

impl Active {
    fn enter(relay: &Arc<Relay>) -> Active {
        relay.active.fetch_add(1, Ordering::SeqCst);
        Active(relay.clone())
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::SeqCst);
    }
}
