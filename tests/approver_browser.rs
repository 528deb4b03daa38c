//! The reviewers' page in a real browser: Debian's headless Chromium,
//! driven over WebDriver (chromedriver) by fantoccini. A guard process
//! sends a review, a reviewer signs in, sees it arrive with its purpose,
//! approves it, guard runs the command, and the session's timeline shows
//! it. Screenshots go to `target/`.

mod approver_harness;
mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use approver_harness::{join, stderr, Service};
use fantoccini::{Client, ClientBuilder, Locator};

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn chromedriver() -> (Driver, u16) {
    let port = common::free_port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver (Debian's chromium-driver; .ci/run installs it)");
    let until = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < until, "chromedriver did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    (Driver(child), port)
}

async fn browser(port: u16, profile: &std::path::Path) -> Client {
    let mut caps = serde_json::Map::new();
    // As root in a container, Chromium needs --no-sandbox; the rest keep
    // it from reaching for Google on a closed network.
    caps.insert(
        "goog:chromeOptions".to_string(),
        serde_json::json!({
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage",
                format!("--user-data-dir={}", profile.display()),
                "--window-size=1100,900",
            ]
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a WebDriver session in headless Chromium")
}

fn target_dir() -> PathBuf {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The element's text. The page swaps its fragments on server events and
/// navigates after a form, so an element found a moment ago can be gone
/// (stale) by the time its text is asked for: look it up again.
async fn text_of(c: &Client, css: &str) -> String {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let found = match c.find(Locator::Css(css)).await {
            Ok(e) => e.text().await,
            Err(e) => Err(e),
        };
        match found {
            Ok(text) => return text,
            Err(e)
                if (e.is_stale_element_reference() || e.is_no_such_element())
                    && Instant::now() < until =>
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("text of {css}: {e}"),
        }
    }
}

/// Wait until the page's body holds `needle`, with no reload from here:
/// the page updates itself from the server's events.
async fn until_shown(c: &Client, needle: &str) {
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let body = text_of(c, "body").await;
        if body.contains(needle) {
            return;
        }
        assert!(
            Instant::now() < until,
            "`{needle}` never appeared; page shows:\n{body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[test]
fn a_reviewer_approves_in_the_browser_and_the_timeline_shows_it() {
    let s = Service::start("sqlite", "");
    s.add_reviewer("ann");
    let (_driver, port) = chromedriver();
    let profile = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let c = rt.block_on(browser(port, profile.path()));

    // Sign in first, so the request arrives on an open page.
    rt.block_on(async {
        c.goto(&s.url()).await.unwrap();
        assert!(c.current_url().await.unwrap().path().ends_with("/login"));
        c.find(Locator::Css("input[name=user]"))
            .await
            .unwrap()
            .send_keys("ann")
            .await
            .unwrap();
        c.find(Locator::Css("input[name=password]"))
            .await
            .unwrap()
            .send_keys(approver_harness::PASSWORD)
            .await
            .unwrap();
        c.find(Locator::Css("button[type=submit]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        until_shown(&c, "Nothing is waiting").await;
    });

    let session = common::start_session(
        &s.dir.path().join("guard.yaml"),
        &s.dir.path().join("state"),
        &["--purpose", "rotate the staging keys <b>now</b>"],
    );
    let guard = s.ask_env(
        "aws s3 ls s3://reports",
        &[("GUARD_SESSION", session.clone())],
    );

    rt.block_on(async {
        until_shown(&c, "aws s3 ls s3://reports").await;
        let card = text_of(&c, ".card").await;
        assert!(
            card.contains("rotate the staging keys <b>now</b>"),
            "purpose, as text: {card}"
        );
        assert!(card.contains("cloud.aws"), "matched rule: {card}");
        assert!(card.contains("0 of 1"), "approvals: {card}");
        assert!(card.contains("left"), "time left: {card}");
        let png = c.screenshot().await.unwrap();
        std::fs::write(target_dir().join("approver-pending.png"), png).unwrap();
        // Legible on a phone: nothing wider than the screen.
        c.set_window_size(390, 844).await.unwrap();
        let wide = c
            .execute(
                "return document.documentElement.scrollWidth <= window.innerWidth + 1;",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(
            wide,
            serde_json::json!(true),
            "the page scrolls sideways on a phone"
        );
        std::fs::write(
            target_dir().join("approver-phone.png"),
            c.screenshot().await.unwrap(),
        )
        .unwrap();
        c.set_window_size(1100, 900).await.unwrap();
        c.find(Locator::Css(".card input[name=reason]"))
            .await
            .unwrap()
            .send_keys("ticket OPS-7")
            .await
            .unwrap();
        c.find(Locator::Css(".card button.allow"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        until_shown(&c, "Nothing is waiting").await;
    });

    let done = join(guard);
    assert!(done.status.success(), "guard: {}", stderr(&done));
    assert_eq!(s.aws_runs(), vec!["s3 ls s3://reports"]);

    rt.block_on(async {
        c.goto(&format!("{}/sessions/{session}", s.url()))
            .await
            .unwrap();
        let page = text_of(&c, "main").await;
        assert!(
            page.contains("rotate the staging keys <b>now</b>"),
            "{page}"
        );
        let row = text_of(&c, "table tr:nth-child(2)").await;
        for want in ["aws s3 ls s3://reports", "cloud.aws", "allow", "ann"] {
            assert!(row.contains(want), "timeline row lacks {want}: {row}");
        }
        c.close().await.unwrap();
    });
    let record = s.guard_audit().into_iter().last().unwrap();
    assert_eq!(record["approval"]["approver"], "ann");
    assert_eq!(record["session"], session.as_str());
}
