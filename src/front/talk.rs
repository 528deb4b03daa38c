//! The conversation with the broker, as `src/client/mod.rs` holds it:
//! hello, decide (with the terminal riding on it), the broker's questions
//! while it decides, then the verdict.

use alloc::string::String;
use alloc::vec::Vec;

use super::json::{self, Value};
use super::sys;

/// `wire::VERSION`; a unit test keeps the two the same.
pub const VERSION: u64 = 2;
/// `wire::MAX_FRAME`.
pub const MAX_FRAME: usize = 1 << 20;

/// Why there is no verdict, in the words the full client uses.
pub enum Failure {
    Connect(i32),
    Peer(u32),
    Version(i64),
    Timeout(u64),
    Broker(String),
    Wire(String),
}

pub struct Conn {
    fd: i32,
    timeout_ms: u64,
}

impl Drop for Conn {
    fn drop(&mut self) {
        sys::close(self.fd);
    }
}

fn wire(e: i32, timeout_ms: u64) -> Failure {
    if e == sys::EAGAIN {
        Failure::Timeout(timeout_ms)
    } else {
        Failure::Wire(String::from(sys::describe(e)))
    }
}

impl Conn {
    /// Connect with the configured time-out and check that the broker's
    /// user is at the other end before saying anything.
    pub fn open(socket: &str, want_uid: u32, timeout_ms: u64) -> Result<Conn, Failure> {
        let fd = sys::socket_unix().map_err(Failure::Connect)?;
        let conn = Conn { fd, timeout_ms };
        sys::set_timeouts(fd, timeout_ms, true).map_err(Failure::Connect)?;
        match sys::connect_unix(fd, socket.as_bytes()) {
            Ok(()) => {}
            Err(sys::EAGAIN) => return Err(Failure::Timeout(timeout_ms)),
            Err(e) => return Err(Failure::Connect(e)),
        }
        let uid = sys::peer_uid(fd).map_err(|e| Failure::Wire(String::from(sys::describe(e))))?;
        if uid != want_uid {
            return Err(Failure::Peer(uid));
        }
        Ok(conn)
    }

    pub fn send(&self, body: &[u8], pass: Option<i32>) -> Result<(), Failure> {
        if body.len() > MAX_FRAME {
            return Err(Failure::Wire(String::from("frame over the size limit")));
        }
        let mut frame = Vec::with_capacity(body.len() + 4);
        frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
        frame.extend_from_slice(body);
        let mut sent = 0;
        while sent < frame.len() {
            let fd = if sent == 0 { pass } else { None };
            match sys::send_with_fd(self.fd, &frame[sent..], fd) {
                Ok(0) => return Err(Failure::Wire(String::from("connection closed"))),
                Ok(n) => sent += n,
                Err(e) => return Err(wire(e, self.timeout_ms)),
            }
        }
        Ok(())
    }

    fn fill(&self, buf: &mut [u8], at_start: bool) -> Result<(), Failure> {
        let mut got = 0;
        while got < buf.len() {
            match sys::read(self.fd, &mut buf[got..]) {
                Ok(0) if at_start && got == 0 => {
                    return Err(Failure::Wire(String::from("connection closed")))
                }
                Ok(0) => {
                    return Err(Failure::Wire(String::from(
                        "connection closed in the middle of a frame",
                    )))
                }
                Ok(n) => got += n,
                Err(e) => return Err(wire(e, self.timeout_ms)),
            }
        }
        Ok(())
    }

    pub fn recv(&self) -> Result<Value, Failure> {
        let mut len = [0u8; 4];
        self.fill(&mut len, true)?;
        let n = u32::from_be_bytes(len) as usize;
        if n > MAX_FRAME {
            return Err(Failure::Wire(String::from("frame over the size limit")));
        }
        let mut body = alloc::vec![0u8; n];
        self.fill(&mut body, false)?;
        json::parse(&body).map_err(|e| Failure::Wire(alloc::format!("malformed message: {e}")))
    }

    /// Wait this long for the verdict: a review waits for a human.
    pub fn wait(&mut self, ms: u64) {
        self.timeout_ms = ms.max(1000);
        let _ = sys::set_timeouts(self.fd, self.timeout_ms, false);
    }
}

/// What the line is asked with.
pub struct Ask<'a> {
    pub line: &'a str,
    pub login: bool,
    pub session: Option<&'a str>,
    pub cwd: &'a str,
    pub env: &'a [(&'a str, &'a str)],
    pub terminal: Option<i32>,
}

pub fn hello() -> Vec<u8> {
    let mut out = Vec::from(&br#"{"type":"hello","id":1,"version":"#[..]);
    json::int(&mut out, VERSION);
    out.extend_from_slice(br#","client":"#);
    json::string(&mut out, concat!("guard ", env!("CARGO_PKG_VERSION")));
    out.push(b'}');
    out
}

/// `Request::Decide`, with id 2, as serde writes it.
pub fn decide(a: &Ask<'_>) -> Vec<u8> {
    let mut out = Vec::from(&br#"{"type":"decide","id":2,"mode":"-c","line":"#[..]);
    json::string(&mut out, a.line);
    out.extend_from_slice(br#","argv":null,"login":"#);
    out.extend_from_slice(if a.login { b"true" } else { b"false" });
    out.extend_from_slice(br#","starts_session":"#);
    out.extend_from_slice(if a.login { b"true" } else { b"false" });
    out.extend_from_slice(br#","session":"#);
    match a.session {
        Some(s) => json::string(&mut out, s),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(br#","cwd":"#);
    json::string(&mut out, a.cwd);
    out.extend_from_slice(br#","env_names":["#);
    for (i, (k, _)) in a.env.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json::string(&mut out, k);
    }
    out.extend_from_slice(br#"],"env":{"#);
    for (i, (k, v)) in a.env.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json::string(&mut out, k);
        out.push(b':');
        json::string(&mut out, v);
    }
    out.extend_from_slice(br#"},"scope":null,"tty":"#);
    out.extend_from_slice(if a.terminal.is_some() {
        b"true"
    } else {
        b"false"
    });
    out.push(b'}');
    out
}

/// Read the broker's hello: its version must be ours. Gives the decide
/// time-out it announces.
pub fn greeted(conn: &Conn) -> Result<u64, Failure> {
    let v = conn.recv()?;
    match v.str("type") {
        Some("hello") if v.int("id") == Some(1) => {
            let version = v.int("version").unwrap_or(-1);
            if version != VERSION as i64 {
                return Err(Failure::Version(version));
            }
            Ok(v.int("decide_timeout_ms").map_or(0, |n| n.max(0) as u64))
        }
        Some("error") => Err(Failure::Broker(String::from(
            v.str("message").unwrap_or(""),
        ))),
        _ => Err(Failure::Wire(String::from("unexpected answer to hello"))),
    }
}

/// The conversation after the decide was sent, up to the verdict. The
/// terminal's settings are put back if a review was drawn on it and the
/// broker went away.
pub fn verdict(conn: &Conn, a: &Ask<'_>) -> Result<Value, Failure> {
    let mut saved: Option<sys::Termios> = None;
    let out = questions(conn, a, &mut saved);
    if out.is_err() {
        if let (Some(t), Some(fd)) = (saved, a.terminal) {
            sys::tcsetattr(fd, &t);
        }
    }
    out
}

fn questions(conn: &Conn, a: &Ask<'_>, saved: &mut Option<sys::Termios>) -> Result<Value, Failure> {
    loop {
        let v = conn.recv()?;
        let kind = v.str("type").unwrap_or("");
        if kind != "error" && v.int("id") != Some(2) {
            return Err(Failure::Wire(alloc::format!("unexpected answer {kind}")));
        }
        match kind {
            "tty-request" => {
                if let Some(fd) = a.terminal {
                    if saved.is_none() {
                        *saved = sys::tcgetattr(fd);
                    }
                }
                let mut out = Vec::from(&br#"{"type":"tty","id":2,"present":"#[..]);
                out.extend_from_slice(if a.terminal.is_some() {
                    b"true}"
                } else {
                    b"false}"
                });
                conn.send(&out, a.terminal)?;
            }
            "env-request" => {
                let names = v
                    .strs("names")
                    .ok_or_else(|| Failure::Wire(String::from("bad env-request")))?;
                let mut out = Vec::from(&br#"{"type":"env","id":2,"values":{"#[..]);
                let mut first = true;
                for n in &names {
                    if let Some((k, val)) = a.env.iter().rev().find(|(k, _)| k == n) {
                        if !first {
                            out.push(b',');
                        }
                        first = false;
                        json::string(&mut out, k);
                        out.push(b':');
                        json::string(&mut out, val);
                    }
                }
                out.extend_from_slice(b"}}");
                conn.send(&out, None)?;
            }
            "file-request" => {
                let path = v
                    .str("path")
                    .ok_or_else(|| Failure::Wire(String::from("bad file-request")))?;
                let flags = sys::O_RDONLY | sys::O_CLOEXEC | sys::O_NOCTTY | sys::O_NONBLOCK;
                match sys::open(path.as_bytes(), flags) {
                    Ok(fd) => {
                        let sent = conn.send(
                            br#"{"type":"file","id":2,"opened":true,"error":null}"#,
                            Some(fd),
                        );
                        sys::close(fd);
                        sent?;
                    }
                    Err(e) => {
                        let why = if e == sys::ENOENT || e == sys::ENOTDIR {
                            "missing"
                        } else {
                            sys::describe(e)
                        };
                        let mut out =
                            Vec::from(&br#"{"type":"file","id":2,"opened":false,"error":"#[..]);
                        json::string(&mut out, why);
                        out.push(b'}');
                        conn.send(&out, None)?;
                    }
                }
            }
            "verdict" => {
                return match v {
                    Value::Obj(fields) => fields
                        .into_iter()
                        .rev()
                        .find(|(k, _)| k == "verdict")
                        .map(|(_, v)| v)
                        .ok_or_else(|| Failure::Wire(String::from("verdict without a verdict")))
                        .and_then(|v| match super::verdict::check(&v) {
                            Ok(()) => Ok(v),
                            Err(why) => {
                                Err(Failure::Wire(alloc::format!("malformed verdict: {why}")))
                            }
                        }),
                    _ => Err(Failure::Wire(String::from("malformed verdict"))),
                }
            }
            "error" => {
                return Err(Failure::Broker(String::from(
                    v.str("message").unwrap_or(""),
                )))
            }
            other => return Err(Failure::Wire(alloc::format!("unexpected answer {other}"))),
        }
    }
}
