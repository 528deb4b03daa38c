//! The inline approver: a card and one keystroke on the controlling
//! terminal.
//!
//! Everything goes through the terminal itself (`/dev/tty`, or in broker
//! mode the terminal the client handed over), never stdout or stderr,
//! which the agent may capture, and it works with stdin a pipe. Keys
//! typed before the card appears are discarded, so nothing the agent
//! buffered can approve. Raw mode is undone on every way out: return,
//! panic, and the signals that end a process.
//!
//! Keys are read from the descriptor directly rather than through
//! crossterm's event reader, which only knows the process's own
//! terminal; the broker draws on a terminal it was handed.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crossterm::style::Stylize;
use nix::libc;
use nix::sys::termios::{self, FlushArg, SetArg};

use super::Request;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Once,
    Session,
    Deny(Option<String>),
    /// No controlling terminal: the chain moves on.
    Unavailable(String),
}

/// The terminal and its settings before raw mode, for the signal and
/// panic paths, which cannot reach the prompt's stack.
static SAVED: OnceLock<(i32, libc::termios)> = OnceLock::new();

fn restore_saved() {
    if let Some((fd, t)) = SAVED.get() {
        // SAFETY: tcsetattr is async-signal-safe; fd stays open for the
        // life of the process (see `open`).
        unsafe { libc::tcsetattr(*fd, libc::TCSANOW, t) };
    }
}

extern "C" fn on_signal(_: libc::c_int) {
    restore_saved();
    // SAFETY: _exit is async-signal-safe. A signal during the prompt is a
    // deny: the command never runs.
    unsafe { libc::_exit(126) };
}

fn install_handlers() {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::empty(),
        SigSet::empty(),
    );
    for sig in [
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGINT,
        Signal::SIGQUIT,
    ] {
        // SAFETY: the handler only restores the terminal and exits.
        let _ = unsafe { sigaction(sig, &action) };
    }
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_saved();
        previous(info);
    }));
}

/// Restores the terminal when the prompt ends by any return path.
struct RawMode<'a> {
    tty: BorrowedFd<'a>,
    original: termios::Termios,
}

impl Drop for RawMode<'_> {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(self.tty, SetArg::TCSANOW, &self.original);
    }
}

/// guard's own controlling terminal, opened once and kept for the life of
/// the process (the signal path restores it by descriptor).
fn open() -> Result<&'static File, String> {
    static TTY: OnceLock<File> = OnceLock::new();
    if let Some(f) = TTY.get() {
        return Ok(f);
    }
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(|e| format!("no controlling terminal ({e})"))?;
    Ok(TTY.get_or_init(|| f))
}

/// Ask on guard's own controlling terminal (embedded mode).
pub fn ask(req: &Request<'_>, timeout: Duration) -> Answer {
    let tty = match open() {
        Ok(t) => t,
        Err(why) => return Answer::Unavailable(why),
    };
    ask_on(tty.as_fd(), req, timeout, true)
}

/// Ask on `tty`: guard's own terminal, or one a client handed the broker.
/// `own` installs the handlers that restore the terminal when this
/// process is signalled; the broker's threads must not.
pub fn ask_on(tty: BorrowedFd<'_>, req: &Request<'_>, timeout: Duration, own: bool) -> Answer {
    let original = match termios::tcgetattr(tty) {
        Ok(t) => t,
        Err(e) => return Answer::Unavailable(format!("the terminal is not a terminal ({e})")),
    };
    if own {
        let _ = SAVED.set((tty.as_raw_fd(), libc::termios::from(original.clone())));
        install_handlers();
    }
    let mut raw = original.clone();
    termios::cfmakeraw(&mut raw);
    // Keep output processing so "\n" still returns the carriage.
    raw.output_flags = original.output_flags;
    if let Err(e) = termios::tcsetattr(tty, SetArg::TCSANOW, &raw) {
        return Answer::Unavailable(format!("cannot set raw mode on the terminal ({e})"));
    }
    let _restore = RawMode { tty, original };
    // Typed-ahead input must not answer the prompt.
    let _ = termios::tcflush(tty, FlushArg::TCIFLUSH);
    let mut out = Term(tty);
    let style = Style::detect(tty);
    let _ = write!(out, "{}", card(req, &style));
    let answer = wait(&mut out, req, &style, timeout);
    let verdict = match &answer {
        Answer::Once => style.good("approved once"),
        Answer::Session => style.good("approved for this session"),
        Answer::Deny(Some(r)) => style.bad(&format!("denied: {r}")),
        Answer::Deny(None) => style.bad("denied"),
        Answer::Unavailable(_) => String::new(),
    };
    let _ = write!(out, "\r\x1b[K guard: {verdict}\n");
    let _ = out.flush();
    answer
}

/// A terminal by descriptor, for `write!`.
struct Term<'a>(BorrowedFd<'a>);

impl Write for Term<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        loop {
            match nix::unistd::write(self.0, buf) {
                Err(nix::Error::EINTR) => continue,
                other => return other.map_err(std::io::Error::from),
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One key, as the prompt understands them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Char(char),
    Enter,
    Backspace,
    /// Esc, Ctrl-C, Ctrl-D.
    Cancel,
    /// An escape sequence (arrows, function keys) or a byte that means
    /// nothing here.
    Other,
}

/// Wait up to `left` for input; false on timeout.
fn readable(tty: BorrowedFd<'_>, left: Duration) -> Result<bool, ()> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
    let mut fds = [PollFd::new(tty, PollFlags::POLLIN)];
    match poll(&mut fds, PollTimeout::from(ms)) {
        Ok(0) => Ok(false),
        Ok(_) => {
            let r = fds[0].revents().unwrap_or(PollFlags::empty());
            if r.intersects(PollFlags::POLLHUP | PollFlags::POLLERR | PollFlags::POLLNVAL)
                && !r.contains(PollFlags::POLLIN)
            {
                return Err(());
            }
            Ok(true)
        }
        Err(nix::Error::EINTR) => Ok(false),
        Err(_) => Err(()),
    }
}

fn read_byte(tty: BorrowedFd<'_>) -> Result<u8, ()> {
    let mut b = [0u8; 1];
    loop {
        match nix::unistd::read(tty, &mut b) {
            Ok(1) => return Ok(b[0]),
            Err(nix::Error::EINTR) => continue,
            _ => return Err(()),
        }
    }
}

/// Read one key, or `None` when `left` runs out. In raw mode every key
/// guard acts on is one byte; an Esc followed at once by more bytes is an
/// escape sequence, read to its end and ignored.
fn read_key(tty: BorrowedFd<'_>, left: Duration) -> Result<Option<Key>, ()> {
    if !readable(tty, left)? {
        return Ok(None);
    }
    let b = read_byte(tty)?;
    let key = match b {
        0x1b => {
            if !readable(tty, Duration::from_millis(30))? {
                return Ok(Some(Key::Cancel));
            }
            let next = read_byte(tty)?;
            if next == b'[' || next == b'O' {
                // CSI/SS3: parameters, then one final byte in 0x40..=0x7e.
                for _ in 0..16 {
                    if !readable(tty, Duration::from_millis(30))? {
                        break;
                    }
                    if (0x40..=0x7e).contains(&read_byte(tty)?) {
                        break;
                    }
                }
            }
            Key::Other
        }
        0x03 | 0x04 => Key::Cancel,
        b'\r' | b'\n' => Key::Enter,
        0x7f | 0x08 => Key::Backspace,
        b if b.is_ascii() && !b.is_ascii_control() => Key::Char(char::from(b)),
        b if b >= 0xc0 => {
            // The rest of one UTF-8 character.
            let mut bytes = vec![b];
            let want = if b >= 0xf0 {
                4
            } else if b >= 0xe0 {
                3
            } else {
                2
            };
            while bytes.len() < want && readable(tty, Duration::from_millis(30))? {
                bytes.push(read_byte(tty)?);
            }
            std::str::from_utf8(&bytes)
                .ok()
                .and_then(|s| s.chars().next())
                .map_or(Key::Other, Key::Char)
        }
        _ => Key::Other,
    };
    Ok(Some(key))
}

fn wait(out: &mut Term<'_>, req: &Request<'_>, style: &Style, timeout: Duration) -> Answer {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Answer::Deny(Some(format!("no answer within {}s", timeout.as_secs())));
        }
        let _ = write!(
            out,
            "\r\x1b[K {}",
            style.dim(&format!("timeout in {}s", left.as_secs() + 1))
        );
        let key = match read_key(out.0, left.min(Duration::from_secs(1))) {
            Ok(None) => continue,
            Ok(Some(k)) => k,
            Err(()) => return Answer::Deny(Some("terminal read failed".to_string())),
        };
        match key {
            Key::Cancel => return Answer::Deny(None),
            Key::Char('y' | 'Y') => return Answer::Once,
            Key::Char('a' | 'A') => return Answer::Session,
            Key::Char('n' | 'N') => return Answer::Deny(None),
            Key::Char('r' | 'R') => return Answer::Deny(reason(out, deadline)),
            Key::Char('?') => {
                let _ = write!(out, "\r\x1b[K{}", details(req));
            }
            _ => {}
        }
    }
}

/// A typed reason, ended by Enter; Esc, Ctrl-C, Ctrl-D and the deadline
/// still deny, without one.
fn reason(out: &mut Term<'_>, deadline: Instant) -> Option<String> {
    let mut text = String::new();
    let _ = write!(out, "\r\x1b[K reason: ");
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        let key = match read_key(out.0, left) {
            Ok(Some(k)) => k,
            Ok(None) | Err(()) => return None,
        };
        match key {
            Key::Cancel => return None,
            Key::Enter => return Some(text.trim().to_string()).filter(|t| !t.is_empty()),
            Key::Backspace if text.pop().is_some() => {
                let _ = write!(out, "\x08 \x08");
            }
            Key::Char(c) if !c.is_control() && text.len() < 500 => {
                text.push(c);
                let _ = write!(out, "{c}");
            }
            _ => {}
        }
    }
}

struct Style {
    color: bool,
    width: usize,
}

impl Style {
    fn detect(tty: BorrowedFd<'_>) -> Style {
        // In the broker these are the broker's variables, not the
        // client's: its terminal is then drawn plainly unless TERM says
        // otherwise.
        let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            && std::env::var("TERM").is_ok_and(|t| !t.is_empty() && t != "dumb");
        Style {
            color,
            width: width(tty).unwrap_or(80),
        }
    }

    fn paint(&self, text: &str, f: impl Fn(&str) -> String) -> String {
        if self.color {
            f(text)
        } else {
            text.to_string()
        }
    }

    fn good(&self, t: &str) -> String {
        self.paint(t, |t| t.green().bold().to_string())
    }

    fn bad(&self, t: &str) -> String {
        self.paint(t, |t| t.red().bold().to_string())
    }

    fn dim(&self, t: &str) -> String {
        self.paint(t, |t| t.dim().to_string())
    }

    fn label(&self, t: &str) -> String {
        self.paint(t, |t| t.bold().to_string())
    }
}

/// The terminal's width in columns, from the kernel.
fn width(tty: BorrowedFd<'_>) -> Option<usize> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ fills the winsize it is given.
    let rc = unsafe { libc::ioctl(tty.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) };
    (rc == 0 && ws.ws_col > 0).then_some(usize::from(ws.ws_col))
}

/// The card. On a narrow terminal it degrades to plain lines.
fn card(req: &Request<'_>, style: &Style) -> String {
    let narrow = style.width < 60;
    let mut lines: Vec<(String, String)> = vec![("command".to_string(), req.line.to_string())];
    for trigger in req.triggers() {
        lines.push(("runs".to_string(), trigger));
    }
    for (_, hit) in &req.verdict.matches {
        if hit.action == crate::rules::spec::Action::Allow {
            continue;
        }
        lines.push((
            "rule".to_string(),
            format!(
                "{} [{}, {}] {}",
                hit.rule,
                hit.action.as_str(),
                format!("{:?}", hit.risk).to_lowercase(),
                hit.message
            ),
        ));
    }
    let session = match req.session {
        Some(s) => format!(
            "{} (purpose: {}; boundary: {})",
            s.id,
            s.purpose.as_deref().unwrap_or("not declared"),
            s.boundary.as_deref().unwrap_or("any")
        ),
        None => "none".to_string(),
    };
    lines.push(("session".to_string(), session));
    if !req.touches.is_empty() {
        let targets: Vec<String> = req
            .touches
            .iter()
            .map(|t| format!("{} ({})", t.boundary, t.signal))
            .collect();
        lines.push(("targets".to_string(), targets.join(", ")));
    }
    if !req.grants.is_empty() {
        lines.push(("grants".to_string(), req.grants.join(", ")));
    }
    lines.push(("cwd".to_string(), req.cwd.clone()));
    let keys =
        "[y] allow once  [a] allow for this session  [n] deny  [r] deny with reason  [?] details";
    let mut out = String::from("\r\n");
    if narrow {
        out.push_str("guard: approval needed\r\n");
        for (k, v) in lines {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str("y/a/n/r/?\r\n");
        return out;
    }
    let width = style.width.min(100);
    let bar = "─".repeat(width.saturating_sub(26));
    out.push_str(&format!(
        "── {} {bar}\r\n",
        style.label("guard: approval needed")
    ));
    for (k, v) in lines {
        let room = width.saturating_sub(12).max(20);
        let mut v = v;
        if v.chars().count() > room {
            v = v.chars().take(room - 1).collect::<String>() + "…";
        }
        out.push_str(&format!(" {} {v}\r\n", style.label(&format!("{k:<9}"))));
    }
    out.push_str(&format!(" {keys}\r\n"));
    out
}

fn details(req: &Request<'_>) -> String {
    let mut out = String::from("\r\n── commands\r\n");
    for c in &req.verdict.commands {
        let argv = crate::detect::redact_argv(&c.argv_text());
        let via = if c.via.is_empty() {
            String::new()
        } else {
            format!("  (via {})", c.via.join(" → "))
        };
        out.push_str(&format!("  {}{via}\r\n", shell_words::join(&argv)));
    }
    out.push_str("── rules\r\n");
    for rule in &req.rule_texts {
        for line in rule.lines() {
            out.push_str(&format!("  {line}\r\n"));
        }
    }
    out
}
