//! No secret in logs or error bodies: scans what a whole test run wrote to the audit folder
//! (see `crate::audit`) for every password, client secret, code, token and session cookie the
//! run used or was given. Run after the suite, by .ci/run:
//! `TESSERA_TEST_AUDIT_DIR=… cargo test` then `cargo test --test integration secrets -- --ignored`.

use std::collections::BTreeSet;
use std::path::Path;

use aho_corasick::AhoCorasick;

use crate::audit::{AUDIT_DIR, MIN_SECRET_LEN};

/// Every (secret, where) such that the secret appears in one of the haystacks.
fn leaks(secrets: &BTreeSet<String>, haystacks: &[(String, String)]) -> Vec<(String, String)> {
    let patterns: Vec<&String> = secrets.iter().collect();
    let matcher = AhoCorasick::new(&patterns).expect("build the matcher");
    let mut out = BTreeSet::new();
    for (name, text) in haystacks {
        for m in matcher.find_overlapping_iter(text) {
            out.insert((patterns[m.pattern().as_usize()].clone(), name.clone()));
        }
    }
    out.into_iter().collect()
}

fn read_dir(dir: &Path) -> (BTreeSet<String>, Vec<(String, String)>) {
    let mut secrets = BTreeSet::new();
    let mut haystacks = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read the audit folder") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&std::fs::read(&path).expect("read")).into_owned();
        if name.starts_with("secrets-") {
            secrets.extend(
                text.lines()
                    .filter(|l| l.len() >= MIN_SECRET_LEN)
                    .map(str::to_string),
            );
        } else {
            haystacks.push((name, text));
        }
    }
    (secrets, haystacks)
}

#[test]
fn the_scan_finds_a_planted_secret() {
    let secrets: BTreeSet<String> = ["s3cret-value-123".to_string(), "eyJhbGc.x.y".to_string()]
        .into_iter()
        .collect();
    let haystacks = vec![
        ("clean.log".to_string(), "nothing to see".to_string()),
        (
            "dirty.log".to_string(),
            "INFO token=eyJhbGc.x.y issued".to_string(),
        ),
    ];

    let found = leaks(&secrets, &haystacks);

    assert_eq!(
        found,
        vec![("eyJhbGc.x.y".to_string(), "dirty.log".to_string())]
    );
}

#[test]
#[ignore = "scans a finished test run: .ci/run runs it after the suite with TESSERA_TEST_AUDIT_DIR"]
fn no_secret_appears_in_the_logs_or_error_bodies_of_the_suite() {
    let dir = std::env::var_os(AUDIT_DIR)
        .unwrap_or_else(|| panic!("set {AUDIT_DIR} to the folder of a finished test run"));
    let (secrets, haystacks) = read_dir(Path::new(&dir));
    let log_bytes: usize = haystacks
        .iter()
        .filter(|(n, _)| n.starts_with("server-"))
        .map(|(_, t)| t.len())
        .sum();
    let bodies = haystacks
        .iter()
        .filter(|(n, _)| n.starts_with("bodies-"))
        .map(|(_, t)| t.matches("\n--- ").count() + 1)
        .sum::<usize>();
    println!(
        "secrets audit: {} secret values searched in {} KiB of server logs and {bodies} error bodies",
        secrets.len(),
        log_bytes / 1024
    );
    assert!(
        secrets.len() >= 100,
        "too few secrets recorded: {}",
        secrets.len()
    );
    assert!(
        log_bytes > 10_000,
        "too little log recorded: {log_bytes} bytes"
    );
    assert!(bodies > 50, "too few error bodies recorded: {bodies}");

    let found = leaks(&secrets, &haystacks);

    let shown: Vec<String> = found
        .iter()
        .take(20)
        .map(|(s, f)| format!("{}… in {f}", s.chars().take(12).collect::<String>()))
        .collect();
    assert!(found.is_empty(), "secrets leaked: {shown:#?}");
}
