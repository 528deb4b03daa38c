//! The shipped packs: each file validates as an admin's file would, every
//! rule carries examples both ways, and every example holds.

mod common;

use guard::rules::{examples, load};

#[test]
fn every_pack_validates_like_a_user_file() {
    for entry in std::fs::read_dir(common::root().join("rules")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        if let Err(e) = load::parse_file(&path.display().to_string(), &text) {
            panic!("{e}");
        }
    }
}

#[test]
fn every_rule_has_examples_and_a_message() {
    let (cfg, _) = common::shipped();
    let mut problems = Vec::new();
    for rule in cfg.rules.all().unwrap() {
        let ex = &rule.spec.examples;
        if ex.matches.is_empty() || ex.no_match.is_empty() {
            problems.push(format!(
                "{} {}: needs match and no_match examples",
                rule.origin, rule.spec.id
            ));
        }
        if rule.spec.message.is_empty() && rule.spec.description.is_empty() {
            problems.push(format!("{} {}: no message", rule.origin, rule.spec.id));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_example_holds() {
    let (cfg, env) = common::shipped();
    let report = examples::run(&cfg, &env, None).unwrap();
    println!("{} rules, {} examples", report.rules, report.examples);
    assert!(report.rules > 50);
    assert!(report.failures.is_empty(), "{}", report.failures.join("\n"));
}
