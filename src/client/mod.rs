//! The untrusted side of broker mode: the shell the agent runs. It
//! connects to the broker, checks that the broker's user is at the other
//! end, sends the line with its context, and does what the answer says.
//! It decides nothing and keeps nothing: whatever it could lie about is
//! either the agent's own business (its environment, its directory) or
//! checked by the broker against what the kernel says.

pub mod files;
pub mod settings;

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use crate::rules::load::BrokerSpec;
use crate::wire::{self, Reply, Request, Verdict};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("broker {0} is not answering ({1}); refusing to run anything without it")]
    Connect(String, String),
    #[error("broker socket {socket} is served by uid {got}, not by {want}; refusing")]
    Peer {
        socket: String,
        got: u32,
        want: String,
    },
    #[error("broker user `{0}` does not exist; refusing")]
    NoUser(String),
    #[error("broker speaks protocol version {0}, this guard speaks {1}; refusing")]
    Version(u32, u32),
    #[error("broker did not answer within {0:?}; refusing")]
    Timeout(Duration),
    #[error("broker: {0}")]
    Broker(String),
    #[error("broker connection failed: {0}")]
    Wire(String),
}

/// An open conversation with the broker. The hello is sent at once and
/// its answer read only when the first answer is needed, so a line costs
/// one round trip, not two.
pub struct Conn {
    sock: UnixStream,
    next: u64,
    /// The id of a hello whose answer is still to be read.
    hello: Option<u64>,
    pub decide_timeout: Duration,
    pub broker_version: String,
    timeout: Duration,
}

fn wire_error(e: wire::WireError, timeout: Duration) -> ClientError {
    if e.timed_out() {
        ClientError::Timeout(timeout)
    } else {
        ClientError::Wire(e.to_string())
    }
}

/// Connect with a deadline: a broker whose backlog is full, or that
/// never accepts, is as good as down.
fn dial(spec: &BrokerSpec) -> Result<UnixStream, ClientError> {
    use nix::sys::socket::{self, sockopt, AddressFamily, SockFlag, SockType, UnixAddr};
    let name = spec.socket.display().to_string();
    let down = |e: nix::Error| ClientError::Connect(name.clone(), e.desc().to_string());
    let fd = socket::socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(down)?;
    let tv = nix::sys::time::TimeVal::new(
        i64::try_from(spec.timeout.as_secs()).unwrap_or(i64::MAX),
        i64::from(spec.timeout.subsec_micros()),
    );
    socket::setsockopt(&fd, sockopt::SendTimeout, &tv).map_err(down)?;
    socket::setsockopt(&fd, sockopt::ReceiveTimeout, &tv).map_err(down)?;
    let addr = UnixAddr::new(&spec.socket).map_err(down)?;
    loop {
        match socket::connect(fd.as_raw_fd(), &addr) {
            Ok(()) => break,
            Err(nix::Error::EINTR) => continue,
            Err(nix::Error::EAGAIN) => return Err(ClientError::Timeout(spec.timeout)),
            Err(e) => return Err(down(e)),
        }
    }
    Ok(UnixStream::from(fd))
}

impl Conn {
    /// Connect, make sure the broker's user is the one listening, and
    /// exchange hellos.
    pub fn open(spec: &BrokerSpec) -> Result<Conn, ClientError> {
        let sock = dial(spec)?;
        let want = nix::unistd::User::from_name(&spec.user)
            .ok()
            .flatten()
            .ok_or_else(|| ClientError::NoUser(spec.user.clone()))?;
        let cred = nix::sys::socket::getsockopt(&sock, nix::sys::socket::sockopt::PeerCredentials)
            .map_err(|e| ClientError::Wire(e.to_string()))?;
        if cred.uid() != want.uid.as_raw() {
            return Err(ClientError::Peer {
                socket: spec.socket.display().to_string(),
                got: cred.uid(),
                want: spec.user.clone(),
            });
        }
        let mut conn = Conn {
            sock,
            next: 1,
            hello: None,
            decide_timeout: spec.timeout,
            broker_version: String::new(),
            timeout: spec.timeout,
        };
        let id = conn.id();
        conn.send(
            &Request::Hello {
                id,
                version: wire::VERSION,
                client: concat!("guard ", env!("CARGO_PKG_VERSION")).to_string(),
            },
            &[],
        )?;
        conn.hello = Some(id);
        Ok(conn)
    }

    /// Read the broker's hello, if not read yet: its version must be ours.
    pub fn greeted(&mut self) -> Result<(), ClientError> {
        let Some(id) = self.hello.take() else {
            return Ok(());
        };
        match self.recv()? {
            Reply::Hello {
                id: got,
                version,
                broker,
                decide_timeout_ms,
                ..
            } if got == id => {
                if version != wire::VERSION {
                    return Err(ClientError::Version(version, wire::VERSION));
                }
                self.decide_timeout = Duration::from_millis(decide_timeout_ms);
                self.broker_version = broker;
                Ok(())
            }
            Reply::Error { message, .. } => Err(ClientError::Broker(message)),
            other => Err(ClientError::Wire(format!("unexpected answer {other:?}"))),
        }
    }

    pub fn id(&mut self) -> u64 {
        let id = self.next;
        self.next += 1;
        id
    }

    fn send(&self, msg: &Request, fds: &[std::os::fd::RawFd]) -> Result<(), ClientError> {
        wire::send(&self.sock, msg, fds).map_err(|e| wire_error(e, self.timeout))
    }

    fn recv(&self) -> Result<Reply, ClientError> {
        wire::recv::<Reply>(&self.sock)
            .map(|(m, _)| m)
            .map_err(|e| wire_error(e, self.timeout))
    }

    fn wait_longer(&self, d: Duration) {
        let _ = self
            .sock
            .set_read_timeout(Some(d.max(Duration::from_secs(1))));
    }

    /// Ask for a decision. `terminal` rides on the request (`tty: true`),
    /// for the tracer; a review may make the broker ask for it again
    /// (`tty-request`), and the client restores the terminal's settings
    /// if the broker goes away mid-way.
    pub fn decide(
        &mut self,
        req: Request,
        terminal: Option<&OwnedFd>,
    ) -> Result<Verdict, ClientError> {
        let id = req.id();
        let fds: Vec<std::os::fd::RawFd> = terminal.iter().map(|t| t.as_raw_fd()).collect();
        self.send(&req, &fds)?;
        self.greeted()?;
        self.wait_longer(self.decide_timeout);
        let mut saved: Option<(OwnedFd, nix::sys::termios::Termios)> = None;
        let result = loop {
            let reply = match self.recv() {
                Ok(r) => r,
                Err(e) => break Err(e),
            };
            match reply {
                Reply::TtyRequest { id: got } if got == id => {
                    if let Some(t) = terminal {
                        if let Ok(settings) = nix::sys::termios::tcgetattr(t.as_fd()) {
                            if let Ok(dup) = t.try_clone() {
                                saved = Some((dup, settings));
                            }
                        }
                    }
                    let answer = Request::Tty {
                        id,
                        present: terminal.is_some(),
                    };
                    if let Err(e) = self.send(&answer, &fds) {
                        break Err(e);
                    }
                }
                Reply::EnvRequest { id: got, names } if got == id => {
                    let values = names
                        .iter()
                        .filter_map(|n| {
                            std::env::var_os(n)
                                .map(|v| (n.clone(), v.to_string_lossy().into_owned()))
                        })
                        .collect();
                    if let Err(e) = self.send(&Request::Env { id, values }, &[]) {
                        break Err(e);
                    }
                }
                Reply::FileRequest { id: got, path } if got == id => {
                    let (answer, fd) = open_for_broker(id, &path);
                    let fds: Vec<std::os::fd::RawFd> = fd.iter().map(|f| f.as_raw_fd()).collect();
                    if let Err(e) = self.send(&answer, &fds) {
                        break Err(e);
                    }
                }
                Reply::Verdict { id: got, verdict } if got == id => break Ok(verdict),
                Reply::Error { message, .. } => break Err(ClientError::Broker(message)),
                other => break Err(ClientError::Wire(format!("unexpected answer {other:?}"))),
            }
        };
        if result.is_err() {
            if let Some((fd, settings)) = saved {
                let _ = nix::sys::termios::tcsetattr(
                    fd.as_fd(),
                    nix::sys::termios::SetArg::TCSANOW,
                    &settings,
                );
            }
        }
        result
    }

    /// An admin request answered with text to print.
    pub fn request(&mut self, req: Request) -> Result<(i32, String, String), ClientError> {
        let id = req.id();
        self.send(&req, &[])?;
        self.greeted()?;
        self.wait_longer(self.decide_timeout);
        match self.recv()? {
            Reply::Done {
                id: got,
                code,
                stdout,
                stderr,
            } if got == id => Ok((code, stdout, stderr)),
            Reply::Error { message, .. } => Err(ClientError::Broker(message)),
            other => Err(ClientError::Wire(format!("unexpected answer {other:?}"))),
        }
    }
}

/// A file the line names, opened as this user, for the broker to read.
/// Non-blocking, so a FIFO cannot hold the client up; the broker reads
/// regular files only.
fn open_for_broker(id: u64, path: &str) -> (Request, Option<OwnedFd>) {
    use nix::fcntl::{open, OFlag};
    match open(
        path,
        OFlag::O_RDONLY | OFlag::O_CLOEXEC | OFlag::O_NOCTTY | OFlag::O_NONBLOCK,
        nix::sys::stat::Mode::empty(),
    ) {
        Ok(fd) => (
            Request::File {
                id,
                opened: true,
                error: None,
            },
            Some(fd),
        ),
        Err(e) => (
            Request::File {
                id,
                opened: false,
                error: Some(if e == nix::Error::ENOENT || e == nix::Error::ENOTDIR {
                    "missing".to_string()
                } else {
                    e.desc().to_string()
                }),
            },
            None,
        ),
    }
}

/// The controlling terminal, if there is one.
pub fn own_terminal() -> Option<OwnedFd> {
    use nix::fcntl::{open, OFlag};
    open(
        "/dev/tty",
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .ok()
}

/// How many bytes of variable values one decide carries: any real
/// environment, and far under the frame cap even with every byte
/// escaped (six bytes each in JSON).
const ENV_BUDGET: usize = 128 * 1024;

/// The environment the decision needs: every name, and values. Those of
/// the variables every broker reads (`wire::BASE_ENV`) always go; the rest
/// go while they fit `ENV_BUDGET`, so the broker, whose detectors are
/// compiled once, finds the secrets among them for the scrub. A value
/// that did not fit is scanned here (`apply`). A broker whose rules read
/// more than it was sent asks for them (`env-request`).
pub fn environment() -> (Vec<String>, std::collections::BTreeMap<String, String>) {
    let mut names = Vec::new();
    let mut values = std::collections::BTreeMap::new();
    let mut used = 0;
    for (k, v) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        let v = v.to_string_lossy().into_owned();
        if wire::BASE_ENV.contains(&k.as_str()) {
            values.insert(k.clone(), v);
        } else if used <= ENV_BUDGET {
            // The first value over the budget is not sent, nor is any
            // after it: what the broker gets is a prefix of the environment.
            used += k.len() + v.len();
            if used <= ENV_BUDGET {
                values.insert(k.clone(), v);
            }
        }
        names.push(k);
    }
    (names, values)
}
