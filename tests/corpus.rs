//! Detection rates over real command lines from tldr-pages
//! (`../shared/corpus`, CC BY 4.0): at least 99% of the sensitive set is
//! flagged (help/version/completion/fmt/validate lines excluded, as the
//! corpus README suggests) and at most 0.5% of the benign set.

mod common;

use guard::rules::spec::Action;
use regex::Regex;

fn corpus(name: &str) -> Option<Vec<(String, String)>> {
    let path = common::root().join("../shared/corpus").join(name);
    let text = std::fs::read_to_string(&path).ok()?;
    Some(
        text.lines()
            .filter_map(|l| {
                let mut cols = l.split('\t');
                let page = cols.next()?.to_string();
                let cmd = cols.next()?.to_string();
                Some((page, cmd))
            })
            .collect(),
    )
}

#[test]
fn detection_rates() {
    let (Some(sensitive), Some(benign)) = (corpus("tldr-sensitive.tsv"), corpus("tldr-benign.tsv"))
    else {
        eprintln!("skipped: ../shared/corpus is not present");
        return;
    };
    let (cfg, env) = common::shipped();
    let local_only =
        Regex::new(r"\s(--help|help|--version|version|-V|completion|fmt|validate)(\s|$)").unwrap();

    let mut flagged = 0;
    let mut considered = 0;
    let mut missed = Vec::new();
    for (page, line) in &sensitive {
        if local_only.is_match(line) {
            continue;
        }
        considered += 1;
        let v = common::decide(&cfg, &env, line);
        if v.action == Action::Allow {
            missed.push(format!("{page}: {line}"));
        } else {
            flagged += 1;
        }
    }
    let mut false_positives = Vec::new();
    for (page, line) in &benign {
        let v = common::decide(&cfg, &env, line);
        if v.action != Action::Allow {
            false_positives.push(format!(
                "{page}: {line}  → {} [{}]",
                v.reason,
                v.rule.unwrap_or_default()
            ));
        }
    }
    let sensitive_rate = flagged as f64 / considered as f64;
    let benign_rate = false_positives.len() as f64 / benign.len() as f64;
    println!(
        "sensitive flagged: {flagged}/{considered} = {:.2}%",
        sensitive_rate * 100.0
    );
    println!(
        "benign flagged:    {}/{} = {:.2}%",
        false_positives.len(),
        benign.len(),
        benign_rate * 100.0
    );
    for m in missed.iter().take(40) {
        println!("  missed: {m}");
    }
    for f in false_positives.iter().take(40) {
        println!("  false positive: {f}");
    }
    assert!(
        sensitive_rate >= 0.99,
        "sensitive rate {:.2}% < 99%",
        sensitive_rate * 100.0
    );
    assert!(
        benign_rate <= 0.005,
        "benign rate {:.2}% > 0.5%",
        benign_rate * 100.0
    );
}
