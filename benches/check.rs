//! `check` over real command lines: the per-line cost of parse → unwrap →
//! facts → rules, with the shipped packs loaded once. Reads the tldr corpus
//! from ../shared/corpus when present, else a built-in sample.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use guard::parse::Env;
use guard::policy::{self, Input};
use guard::rules::load;

const SAMPLE: &[&str] = &[
    "aws s3 ls s3://bucket",
    "kubectl --context prod get pods -n web",
    "git commit -m 'fix curl -H Authorization handling'",
    "find . -name '*.rs' -exec wc -l {} +",
    "cat ~/.aws/credentials | base64",
    "sudo -u ci env FOO=1 bash -c 'psql -h db -U app'",
    "cargo build --release && ./target/release/app --port 8080",
];

fn lines() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    let mut out = Vec::new();
    for f in ["tldr-sensitive.tsv", "tldr-benign.tsv"] {
        if let Ok(text) = std::fs::read_to_string(dir.join(f)) {
            out.extend(
                text.lines()
                    .filter_map(|l| l.split('\t').nth(1))
                    .map(str::to_string),
            );
        }
    }
    if out.is_empty() {
        out = SAMPLE.iter().map(|s| s.to_string()).collect();
    }
    out
}

fn bench(c: &mut Criterion) {
    let env = Env {
        home: "/home/agent".to_string(),
        cwd: "/home/agent/project".to_string(),
        path: guard::parse::DEFAULT_PATH.to_string(),
        fresh: true,
    };
    let cfg = load::load_with(&[], &env.home, true).expect("shipped packs load");
    let lines = lines();
    let mut group = c.benchmark_group("check");
    group.throughput(Throughput::Elements(lines.len() as u64));
    group.bench_function("corpus", |b| {
        b.iter(|| {
            for l in &lines {
                std::hint::black_box(policy::decide(Input::Script(l), &cfg, &env));
            }
        })
    });
    group.bench_function("load-embedded", |b| {
        b.iter(|| std::hint::black_box(load::load_with(&[], &env.home, true)))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench
}
criterion_main!(benches);
