//! Load on the approver service: 1,000 requests held as concurrent
//! long-polls, then decided through the reviewer API. What is measured is
//! guard's added wait: from the moment the decision call returns to the
//! moment the held poll delivers the signed answer. SQLite and PostgreSQL
//! side by side; the report goes to stdout and target/approver-load.txt.
//!
//! `cargo bench --bench approver_load` (PostgreSQL from Debian's
//! `postgresql`, started by the harness; set APPROVER_LOAD_N to change
//! the count).

#[path = "../tests/approver_harness/mod.rs"]
mod approver_harness;
#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use approver_harness::{request, Service, SECRET};
use serde_json::{json, Value};

fn sign(body: &[u8]) -> String {
    common::signature(SECRET.as_bytes(), body)
}

struct Result {
    backend: &'static str,
    n: usize,
    p50: Duration,
    p99: Duration,
    max: Duration,
    decide_all: Duration,
}

async fn run(backend: &'static str, s: &Service, n: usize) -> Result {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(2000)
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let base = s.url();
    // Submit every request, as guard does.
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let id = format!("load{i:05}");
        let body = serde_json::to_vec(&request(
            &id,
            &format!("aws s3 ls s3://b{i}"),
            "cloud.aws",
            None,
        ))
        .unwrap();
        let r = http
            .post(format!("{base}/v1/requests"))
            .header("X-Guard-Signature", sign(&body))
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 202);
        ids.push(id);
    }
    // Hold every poll open at once.
    let mut polls = Vec::with_capacity(n);
    for id in &ids {
        let http = http.clone();
        let url = format!("{base}/poll/{id}");
        polls.push(tokio::spawn(async move {
            loop {
                let r = http
                    .get(&url)
                    .header("X-Guard-Signature", sign(url.as_bytes()))
                    .send()
                    .await
                    .unwrap();
                let status = r.status().as_u16();
                let _ = r.bytes().await;
                if status == 200 {
                    return Instant::now();
                }
                assert_eq!(status, 202);
            }
        }));
    }
    // Let the polls reach the server and park.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let token = {
        let r: Value = http
            .post(format!("{base}/api/v1/login"))
            .json(&json!({"user": "ann", "password": approver_harness::PASSWORD}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        r["token"].as_str().unwrap().to_string()
    };
    let token = Arc::new(token);
    let started = Instant::now();
    let sem = Arc::new(tokio::sync::Semaphore::new(8));
    let mut decided = Vec::with_capacity(n);
    for id in &ids {
        let (http, token, sem) = (http.clone(), Arc::clone(&token), Arc::clone(&sem));
        let url = format!("{base}/api/v1/requests/{id}/decision");
        decided.push(tokio::spawn(async move {
            let _permit = sem.acquire().await.unwrap();
            let r = http
                .post(&url)
                .bearer_auth(token.as_str())
                .json(&json!({"decision": "allow"}))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{}", r.status());
            Instant::now()
        }));
    }
    let mut waits = Vec::with_capacity(n);
    for (d, p) in decided.into_iter().zip(polls) {
        let d = d.await.unwrap();
        let p = p.await.unwrap();
        waits.push(p.saturating_duration_since(d));
    }
    let decide_all = started.elapsed();
    waits.sort();
    let at = |q: f64| waits[((waits.len() as f64 * q).ceil() as usize).clamp(1, waits.len()) - 1];
    Result {
        backend,
        n,
        p50: at(0.50),
        p99: at(0.99),
        max: *waits.last().unwrap(),
        decide_all,
    }
}

fn main() {
    // `cargo test` runs benches with --test-ish flags only under
    // `--benches`; a plain `cargo bench` passes `--bench`.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    if let Ok((_, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
    let n: usize = std::env::var("APPROVER_LOAD_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut results = Vec::new();
    for backend in ["sqlite", "postgres"] {
        let db = if backend == "sqlite" {
            "sqlite".to_string()
        } else {
            approver_harness::postgres()
        };
        let s = Service::start(&db, "");
        s.add_reviewer("ann");
        results.push(rt.block_on(run(backend, &s, n)));
    }
    let mut report = format!(
        "approver load: {n} concurrent long-polls, decided through the API (8 in flight)\n\
         guard's added wait = poll answered − decision call returned\n\n\
         | backend | requests | p50 | p99 | max | all decided in |\n|---|---|---|---|---|---|\n"
    );
    for r in &results {
        report.push_str(&format!(
            "| {} | {} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} s |\n",
            r.backend,
            r.n,
            r.p50.as_secs_f64() * 1e3,
            r.p99.as_secs_f64() * 1e3,
            r.max.as_secs_f64() * 1e3,
            r.decide_all.as_secs_f64()
        ));
    }
    print!("{report}");
    let target = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    let _ = std::fs::write(target.join("approver-load.txt"), report);
}
