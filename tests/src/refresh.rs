//! Auto Scaling instance refreshes, which moto does not implement: a small server on 127.0.0.1
//! that answers `StartInstanceRefresh` and `DescribeInstanceRefreshes` in the Auto Scaling Query
//! protocol, so the controller's real SDK calls (request and response) are exercised. A test says
//! when a refresh ends and how (`finish`), as AWS would once the new instances are healthy.
//! Every other action is refused loudly: this is not an emulator of Auto Scaling.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One refresh as the server recorded it.
#[derive(Debug, Clone, PartialEq)]
pub struct Refresh {
    pub id: String,
    pub group: String,
    pub status: String,
    /// The request's form fields (strategy, preferences).
    pub request: HashMap<String, String>,
}

pub struct InstanceRefreshes {
    port: u16,
    refreshes: Arc<Mutex<Vec<Refresh>>>,
    stop: Arc<AtomicBool>,
}

impl InstanceRefreshes {
    pub fn start() -> InstanceRefreshes {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let port = listener.local_addr().unwrap().port();
        let refreshes = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (state, stopped) = (refreshes.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    return;
                }
                if let Ok(stream) = stream {
                    let state = state.clone();
                    std::thread::spawn(move || serve(stream, &state));
                }
            }
        });
        InstanceRefreshes {
            port,
            refreshes,
            stop,
        }
    }

    /// `http://127.0.0.1:<port>`, for the Auto Scaling client's endpoint.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The controller's clients on `sdk` (the emulator), with the Auto Scaling calls sent here.
    pub fn clients(&self, sdk: &aws_config::SdkConfig) -> controller::Clients {
        let mut clients = controller::Clients::new(sdk);
        clients.autoscaling = aws_sdk_autoscaling::Client::from_conf(
            aws_sdk_autoscaling::config::Builder::from(sdk)
                .endpoint_url(self.endpoint())
                .build(),
        );
        clients
    }

    /// Every refresh started, oldest first.
    pub fn started(&self) -> Vec<Refresh> {
        self.refreshes.lock().unwrap().clone()
    }

    /// Ends the group's refresh in progress with `status` (`Successful`, `Failed`, ...).
    pub fn finish(&self, group: &str, status: &str) {
        let mut refreshes = self.refreshes.lock().unwrap();
        let refresh = refreshes
            .iter_mut()
            .rev()
            .find(|r| r.group == group && r.status == "InProgress")
            .unwrap_or_else(|| panic!("no refresh of {group} in progress"));
        refresh.status = status.to_string();
    }
}

impl Drop for InstanceRefreshes {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn form(body: &str) -> HashMap<String, String> {
    let decode = |s: &str| {
        let bytes = s.replace('+', " ").into_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%'
                && i + 2 < bytes.len()
                && let Ok(b) =
                    u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or(""), 16)
            {
                out.push(b);
                i += 3;
                continue;
            }
            out.push(bytes[i]);
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    body.split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

fn serve(stream: TcpStream, refreshes: &Mutex<Vec<Refresh>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(stream);
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let request = form(&String::from_utf8_lossy(&body));
    let (status, xml) = answer(&request, refreshes);
    let mut stream = reader.into_inner();
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{xml}",
        xml.len()
    );
}

const NS: &str = "http://autoscaling.amazonaws.com/doc/2011-01-01/";

fn error(code: &str, message: &str) -> (&'static str, String) {
    (
        "400 Bad Request",
        format!(
            "<ErrorResponse xmlns=\"{NS}\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>r</RequestId></ErrorResponse>"
        ),
    )
}

fn answer(
    request: &HashMap<String, String>,
    refreshes: &Mutex<Vec<Refresh>>,
) -> (&'static str, String) {
    let action = request.get("Action").map(String::as_str).unwrap_or("");
    let Some(group) = request.get("AutoScalingGroupName").cloned() else {
        return error("ValidationError", "AutoScalingGroupName is required");
    };
    let mut refreshes = refreshes.lock().unwrap();
    match action {
        "StartInstanceRefresh" => {
            if refreshes
                .iter()
                .any(|r| r.group == group && r.status == "InProgress")
            {
                return error(
                    "InstanceRefreshInProgress",
                    &format!("An Instance Refresh is already in progress for {group}"),
                );
            }
            let id = format!("refresh-{}-{}", group, refreshes.len() + 1);
            refreshes.push(Refresh {
                id: id.clone(),
                group,
                status: "InProgress".into(),
                request: request.clone(),
            });
            (
                "200 OK",
                format!(
                    "<StartInstanceRefreshResponse xmlns=\"{NS}\"><StartInstanceRefreshResult><InstanceRefreshId>{id}</InstanceRefreshId></StartInstanceRefreshResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></StartInstanceRefreshResponse>"
                ),
            )
        }
        "DescribeInstanceRefreshes" => {
            let ids: Vec<&String> = request
                .iter()
                .filter(|(k, _)| k.starts_with("InstanceRefreshIds.member."))
                .map(|(_, v)| v)
                .collect();
            let members: String = refreshes
                .iter()
                .rev()
                .filter(|r| r.group == group && (ids.is_empty() || ids.contains(&&r.id)))
                .map(|r| {
                    format!(
                        "<member><InstanceRefreshId>{}</InstanceRefreshId><AutoScalingGroupName>{}</AutoScalingGroupName><Status>{}</Status></member>",
                        r.id, r.group, r.status
                    )
                })
                .collect();
            (
                "200 OK",
                format!(
                    "<DescribeInstanceRefreshesResponse xmlns=\"{NS}\"><DescribeInstanceRefreshesResult><InstanceRefreshes>{members}</InstanceRefreshes></DescribeInstanceRefreshesResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DescribeInstanceRefreshesResponse>"
                ),
            )
        }
        other => error(
            "InvalidAction",
            &format!("{other} is not served here (instance refreshes only)"),
        ),
    }
}
