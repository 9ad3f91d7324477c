//! A stand-in for the Nomotic API: a real HTTP server on 127.0.0.1, inside the test process.
//!
//! Each test says how to answer ([`Reply`]) given the request and how many came before it; the
//! server records every request with its arrival time so tests can count and time them.
//! Nothing here listens beyond loopback.

#![allow(dead_code)] // each test uses a different part

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// When it arrived.
    pub at: Instant,
    pub method: String,
    pub url: String,
    /// Header names lower-cased, in arrival order.
    pub headers: Vec<(String, String)>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The key sent as a bearer token.
    pub fn key(&self) -> Option<&str> {
        self.header("authorization")?.strip_prefix("Bearer ")
    }
}

/// How to answer one request.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// Wait this long before answering.
    pub delay: Duration,
}

impl Reply {
    /// The API's JSON with `status`.
    pub fn json(status: u16, body: &str) -> Reply {
        Reply {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.into(),
            delay: Duration::ZERO,
        }
    }

    /// An HTML page with `status` (a proxy's or portal's page, not the API).
    pub fn html(status: u16) -> Reply {
        Reply {
            status,
            headers: vec![("Content-Type".into(), "text/html; charset=utf-8".into())],
            body: "<html><body><h1>Forbidden</h1></body></html>".into(),
            delay: Duration::ZERO,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn delayed(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }
}

type Handler = dyn Fn(&Seen, usize) -> Reply + Send + Sync;

/// A running server; stops when dropped.
pub struct ApiServer {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ApiServer {
    /// Starts a server answering with `handler(request, number of earlier requests)`.
    pub fn start(handler: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static) -> ApiServer {
        let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
        let port = server.server_addr().to_ip().unwrap().port();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        let thread = {
            let (seen, stop) = (Arc::clone(&seen), Arc::clone(&stop));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let Ok(Some(req)) = server.recv_timeout(Duration::from_millis(20)) else {
                        continue;
                    };
                    let at = Instant::now();
                    let s = Seen {
                        at,
                        method: req.method().to_string(),
                        url: req.url().to_string(),
                        headers: req
                            .headers()
                            .iter()
                            .map(|h| {
                                (
                                    h.field.as_str().as_str().to_ascii_lowercase(),
                                    h.value.as_str().to_string(),
                                )
                            })
                            .collect(),
                    };
                    let n = {
                        let mut log = seen.lock().unwrap();
                        log.push(s.clone());
                        log.len() - 1
                    };
                    let handler = Arc::clone(&handler);
                    // Answer on a thread of its own so a slow answer holds up no other.
                    std::thread::spawn(move || {
                        let reply = handler(&s, n);
                        std::thread::sleep(reply.delay);
                        let mut resp = tiny_http::Response::from_string(reply.body)
                            .with_status_code(reply.status);
                        for (k, v) in &reply.headers {
                            resp.add_header(
                                tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()).unwrap(),
                            );
                        }
                        let _ = req.respond(resp);
                    });
                }
            })
        };
        ApiServer {
            port,
            seen,
            stop,
            thread: Some(thread),
        }
    }

    /// A server answering each key as `replies` says, and 401 JSON for any other key.
    pub fn by_key(replies: HashMap<String, Reply>) -> ApiServer {
        ApiServer::start(move |s, _| {
            s.key()
                .and_then(|k| replies.get(k).cloned())
                .unwrap_or_else(|| Reply::json(401, r#"{"error":"unauthorized"}"#))
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The base URL to pass as `--api-url`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/api/v1", self.port)
    }

    /// Every request so far, in arrival order.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Asserts that every request was the one read-only call nmleaks may make.
    pub fn assert_only_agents_calls(&self) {
        for s in self.seen() {
            assert_eq!(
                (s.method.as_str(), s.url.as_str()),
                ("GET", "/api/v1/agents"),
                "only GET {{api}}/agents is ever called"
            );
        }
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A port that answers every connection with plain-HTTP bytes and closes it: a TLS client's
/// handshake fails at once. Serves `connections` connections, then stops.
pub fn plain_text_port(connections: usize) -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(connections) {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let mut buf = [0u8; 512];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        }
    });
    port
}

/// A server that answers one request per connection, then closes the connection, although
/// its HTTP/1.1 response lets the client keep it (every other response even says
/// `Connection: keep-alive`): what an API behind a load balancer with a short idle timeout
/// does. A second request on the same connection is seen (counted) but never answered: the
/// connection is closed with it unread, so the client gets a reset. Every request answered
/// is a 200 with the API's JSON.
pub struct OneRequestPerConnection {
    port: u16,
    /// Requests that reached the server, answered or not.
    seen: Arc<Mutex<Vec<String>>>,
}

impl OneRequestPerConnection {
    pub fn start() -> OneRequestPerConnection {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let log = Arc::clone(&seen);
        std::thread::spawn(move || {
            for (n, stream) in listener.incoming().enumerate() {
                let Ok(mut stream) = stream else { continue };
                let log = Arc::clone(&log);
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(k) => head.extend_from_slice(&buf[..k]),
                        }
                    }
                    let text = String::from_utf8_lossy(&head).into_owned();
                    let key = text
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .starts_with("authorization: bearer ")
                                .then(|| l["authorization: bearer ".len()..].trim().to_string())
                        })
                        .unwrap_or_default();
                    log.lock().unwrap().push(key);
                    let body = r#"{"agents": [], "total": 0}"#;
                    let keep_alive = if n % 2 == 0 {
                        "Connection: keep-alive\r\n"
                    } else {
                        ""
                    };
                    let response = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                         Content-Length: {}\r\n{keep_alive}\r\n{body}",
                        body.len()
                    );
                    if stream.write_all(response.as_bytes()).is_err() {
                        return;
                    }
                    // Wait a little for a second request on this connection; count it, leave
                    // it unread, and close: the client's read meets a reset.
                    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
                    if matches!(stream.peek(&mut buf), Ok(k) if k > 0) {
                        log.lock().unwrap().push("(unanswered)".into());
                    }
                });
            }
        });
        OneRequestPerConnection { port, seen }
    }

    /// The base URL to pass as `--api-url`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/api/v1", self.port)
    }

    /// The key of every request that reached the server (`(unanswered)` for one that came
    /// second on a connection).
    pub fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}
