//! The inline approver: a card and one keystroke on the controlling
//! terminal.
//!
//! Everything goes through `/dev/tty`, never stdout or stderr, which the
//! agent may capture, and it works with stdin a pipe. Keys typed before
//! the card appears are discarded, so nothing the agent buffered can
//! approve. Raw mode is undone on every way out: return, panic, and the
//! signals that end a process.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crossterm::event::{self, Event, KeyCode, KeyEvent, KeyModifiers};
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
    tty: &'a File,
    original: termios::Termios,
}

impl Drop for RawMode<'_> {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(self.tty.as_fd(), SetArg::TCSANOW, &self.original);
    }
}

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

pub fn ask(req: &Request<'_>, timeout: Duration) -> Answer {
    let tty = match open() {
        Ok(t) => t,
        Err(why) => return Answer::Unavailable(why),
    };
    let original = match termios::tcgetattr(tty.as_fd()) {
        Ok(t) => t,
        Err(e) => return Answer::Unavailable(format!("/dev/tty is not a terminal ({e})")),
    };
    let _ = SAVED.set((tty.as_raw_fd(), libc::termios::from(original.clone())));
    install_handlers();
    let mut raw = original.clone();
    termios::cfmakeraw(&mut raw);
    // Keep output processing so "\n" still returns the carriage.
    raw.output_flags = original.output_flags;
    if let Err(e) = termios::tcsetattr(tty.as_fd(), SetArg::TCSANOW, &raw) {
        return Answer::Unavailable(format!("cannot set raw mode on /dev/tty ({e})"));
    }
    let _restore = RawMode { tty, original };
    // Typed-ahead input must not answer the prompt.
    let _ = termios::tcflush(tty.as_fd(), FlushArg::TCIFLUSH);
    let mut out = tty;
    let style = Style::detect();
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

fn wait(out: &mut &File, req: &Request<'_>, style: &Style, timeout: Duration) -> Answer {
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
        let _ = out.flush();
        match event::poll(left.min(Duration::from_secs(1))) {
            Ok(false) => continue,
            Ok(true) => {}
            Err(_) => return Answer::Deny(Some("terminal read failed".to_string())),
        }
        let key = match event::read() {
            Ok(Event::Key(k)) => k,
            Ok(_) => continue,
            Err(_) => return Answer::Deny(Some("terminal read failed".to_string())),
        };
        if is_cancel(&key) {
            return Answer::Deny(None);
        }
        match key.code {
            KeyCode::Char('y') | KeyCode::Char('Y') => return Answer::Once,
            KeyCode::Char('a') | KeyCode::Char('A') => return Answer::Session,
            KeyCode::Char('n') | KeyCode::Char('N') => return Answer::Deny(None),
            KeyCode::Char('r') | KeyCode::Char('R') => return Answer::Deny(reason(out, deadline)),
            KeyCode::Char('?') => {
                let _ = write!(out, "\r\x1b[K{}", details(req));
            }
            _ => {}
        }
    }
}

fn is_cancel(key: &KeyEvent) -> bool {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    matches!(key.code, KeyCode::Esc)
        || (ctrl && matches!(key.code, KeyCode::Char('c') | KeyCode::Char('d')))
}

/// A typed reason, ended by Enter; Esc, Ctrl-C, Ctrl-D and the deadline
/// still deny, without one.
fn reason(out: &mut &File, deadline: Instant) -> Option<String> {
    let mut text = String::new();
    let _ = write!(out, "\r\x1b[K reason: ");
    let _ = out.flush();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || !event::poll(left).unwrap_or(false) {
            return None;
        }
        let Ok(Event::Key(key)) = event::read() else {
            continue;
        };
        if is_cancel(&key) {
            return None;
        }
        match key.code {
            KeyCode::Enter => return Some(text.trim().to_string()).filter(|t| !t.is_empty()),
            KeyCode::Backspace if text.pop().is_some() => {
                let _ = write!(out, "\x08 \x08");
            }
            KeyCode::Char(c) if !c.is_control() && text.len() < 500 => {
                text.push(c);
                let _ = write!(out, "{c}");
            }
            _ => {}
        }
        let _ = out.flush();
    }
}

struct Style {
    color: bool,
    width: usize,
}

impl Style {
    fn detect() -> Style {
        let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            && std::env::var("TERM").is_ok_and(|t| !t.is_empty() && t != "dumb");
        let width = crossterm::terminal::size().map_or(80, |(w, _)| usize::from(w));
        Style { color, width }
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
