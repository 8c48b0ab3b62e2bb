//! The markdown report: the machine, the limits, start-up, and one table per phase (the base
//! run with its ratios to the limits and to the reference, and the scale run beside the base).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use serde::Deserialize;
use serde_json::Value;

/// One load row as `run.sh` records it.
#[derive(Debug, Deserialize)]
struct Row {
    phase: String,
    target: String,
    row: String,
    /// `rs256`, `es256`, `half-rs256`, `argon2` or empty: which limit bounds this row.
    #[serde(default)]
    limit: String,
    load: Load,
    #[serde(default)]
    rss_kib: u64,
    #[serde(default)]
    hwm_kib: u64,
    #[serde(default)]
    note: String,
    /// Wall time of the row and the CPU seconds that the server and the load generator used
    /// in it (absent from older records).
    #[serde(default)]
    wall_s: f64,
    #[serde(default)]
    server_cpu_s: f64,
    #[serde(default)]
    load_cpu_s: f64,
    /// CPU seconds of the PostgreSQL cluster's processes in the row (0 on SQLite, which runs
    /// inside the server).
    #[serde(default)]
    db_cpu_s: f64,
}

impl Row {
    /// Cores used on average during the row: the server's, the database's and the load
    /// generator's.
    fn cores(&self) -> Option<(f64, f64, f64)> {
        (self.wall_s > 0.0 && self.server_cpu_s > 0.0).then(|| {
            (
                self.server_cpu_s / self.wall_s,
                self.db_cpu_s / self.wall_s,
                self.load_cpu_s / self.wall_s,
            )
        })
    }
}

#[derive(Debug, Deserialize)]
struct Load {
    requests: u64,
    duration_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
}

impl Load {
    fn rate(&self) -> f64 {
        if self.duration_s > 0.0 {
            (self.requests.saturating_sub(self.errors)) as f64 / self.duration_s
        } else {
            0.0
        }
    }
}

fn num(v: &Value, key: &str) -> f64 {
    v.get(key).and_then(Value::as_f64).unwrap_or(0.0)
}

fn mib(kib: u64) -> String {
    if kib == 0 {
        "–".into()
    } else {
        format!("{:.1}", kib as f64 / 1024.0)
    }
}

fn rate(r: f64) -> String {
    if r >= 100.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.1}")
    }
}

/// Keeps in `first` the better of each figure of two measurements: the higher rate, the
/// shorter time (`_ms`).
fn keep_best(first: &mut Value, other: &Value) {
    let Some(fields) = first.as_object_mut() else {
        return;
    };
    for (key, v) in fields.iter_mut() {
        if let (Some(a), Some(b)) = (v.as_f64(), other.get(key).and_then(Value::as_f64)) {
            let better = if key.ends_with("_ms") { b < a } else { b > a };
            if better {
                *v = other[key.as_str()].clone();
            }
        }
    }
}

/// The report for the records in `text` (JSON lines).
pub fn render(text: &str) -> anyhow::Result<String> {
    let mut rows = Vec::new();
    let mut kinds: HashMap<String, Value> = HashMap::new();
    let mut phases = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let value: Value =
            serde_json::from_str(line).with_context(|| format!("bad record: {line}"))?;
        match value.get("kind").and_then(Value::as_str) {
            Some("row") => rows.push(serde_json::from_value::<Row>(value)?),
            Some("phase") => phases.push(value),
            // Measured before and after the rows: each limit is the best of the two.
            Some(kind @ ("limits" | "openssl")) => match kinds.get_mut(kind) {
                Some(first) => keep_best(first, &value),
                None => {
                    kinds.insert(kind.to_string(), value);
                }
            },
            Some(kind) => {
                kinds.insert(kind.to_string(), value);
            }
            None => {}
        }
    }
    let mut out = String::new();
    if let Some(machine) = kinds.get("machine") {
        writeln!(out, "Machine: {}", machine["text"].as_str().unwrap_or("?"))?;
        writeln!(out)?;
    }
    let limits = kinds.get("limits");
    let limit_of = |name: &str| -> Option<f64> {
        let l = limits?;
        match name {
            "rs256" => Some(num(l, "rs256_sign_per_s")),
            "half-rs256" => Some(num(l, "rs256_sign_per_s") / 2.0),
            "es256" => Some(num(l, "es256_sign_per_s")),
            "half-es256" => Some(num(l, "es256_sign_per_s") / 2.0),
            "argon2" => Some(num(l, "argon2id_per_s")),
            _ => None,
        }
    };
    if let Some(l) = limits {
        writeln!(
            out,
            "- Limits on {} threads: RS256 (RSA-2048) {} signatures/s, ES256 {} /s, Ed25519 {} /s, \
             RS256 verify {} /s, argon2id (server parameters) {} /s ({:.1} ms each on one thread).",
            l["threads"],
            rate(num(l, "rs256_sign_per_s")),
            rate(num(l, "es256_sign_per_s")),
            rate(num(l, "ed25519_sign_per_s")),
            rate(num(l, "rs256_verify_per_s")),
            rate(num(l, "argon2id_per_s")),
            num(l, "argon2id_one_thread_ms"),
        )?;
        if let (Some(rsa), Some(argon2)) = (
            l.get("rs256_sign_median_per_s").and_then(Value::as_f64),
            l.get("argon2id_median_per_s").and_then(Value::as_f64),
        ) {
            writeln!(
                out,
                "- Each limit is the best round of its measurement (the better of two, before and \
                 after the rows). Other processes on this machine slow some rounds down; the \
                 median round: RS256 {} signatures/s ({:.0} % of the limit), argon2id {} /s \
                 ({:.0} %).",
                rate(rsa),
                100.0 * rsa / num(l, "rs256_sign_per_s"),
                rate(argon2),
                100.0 * argon2 / num(l, "argon2id_per_s"),
            )?;
        }
    }
    if let Some(o) = kinds.get("openssl") {
        writeln!(
            out,
            "- Cross-check `openssl speed -multi {} rsa2048`: {} sign/s, {} verify/s.",
            o["multi"],
            rate(num(o, "sign_per_s")),
            rate(num(o, "verify_per_s")),
        )?;
    }
    if let Some(s) = kinds.get("startup") {
        writeln!(
            out,
            "- Start-up to the first answer on an existing database: median {:.0} ms over {} runs; \
             idle RSS {} MiB.",
            num(s, "median_ms"),
            s["runs_ms"].as_array().map_or(0, Vec::len),
            mib(num(s, "idle_rss_kib") as u64),
        )?;
    }
    if let Some(r) = kinds.get("reference") {
        writeln!(
            out,
            "- Reference: {} (Node {}, in-memory storage, one thread); idle RSS {} MiB. Its \
             access tokens from a code flow are opaque (introspection and userinfo look them up \
             instead of verifying a signature) and its refresh answer carries one signature (the \
             ID token) where Tessera's carries two.",
            r["name"].as_str().unwrap_or("?"),
            r["node"].as_str().unwrap_or("?"),
            mib(num(r, "idle_rss_kib") as u64),
        )?;
    }
    writeln!(out)?;

    let reference: HashMap<&str, &Row> = rows
        .iter()
        .filter(|r| r.target == "reference" && r.phase == "base")
        .map(|r| (r.row.as_str(), r))
        .collect();
    let base: HashMap<&str, &Row> = rows
        .iter()
        .filter(|r| r.target == "tessera" && r.phase == "base")
        .map(|r| (r.row.as_str(), r))
        .collect();

    writeln!(
        out,
        "| row | req/s | p50 ms | p99 ms | errors | RSS MiB | HWM MiB | limit /s | ratio to limit | server CPU cores | load generator CPU cores | ratio to limit on the server's CPU | reference req/s | ref RSS MiB | Tessera / reference |"
    )?;
    writeln!(
        out,
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    )?;
    let threads = limits.map_or(0.0, |l| num(l, "threads"));
    for row in rows
        .iter()
        .filter(|r| r.target == "tessera" && r.phase == "base")
    {
        let r = row.load.rate();
        let (limit, ratio) = match limit_of(&row.limit) {
            Some(l) if l > 0.0 => (rate(l), format!("{:.0} %", 100.0 * r / l)),
            _ => ("–".into(), "–".into()),
        };
        // The limit scaled to the cores the server had (with PostgreSQL's, which share the
        // machine): the load generator's share is taken out, and so is whatever was left idle.
        let (server_cores, load_cores, on_cpu) = match row.cores() {
            Some((server, db, load)) => (
                // (PostgreSQL's own background work alone rounds to 0.00: not shown.)
                if db >= 0.005 {
                    format!("{server:.2} + {db:.2} PostgreSQL")
                } else {
                    format!("{server:.2}")
                },
                format!("{load:.2}"),
                match limit_of(&row.limit) {
                    Some(l) if l > 0.0 && threads > 0.0 => {
                        format!("{:.0} %", 100.0 * r / (l / threads * (server + db)))
                    }
                    _ => "–".into(),
                },
            ),
            None => ("–".into(), "–".into(), "–".into()),
        };
        let (ref_rate, ref_rss, vs) = match reference.get(row.row.as_str()) {
            Some(p) if p.load.rate() > 0.0 => (
                rate(p.load.rate()),
                mib(p.rss_kib),
                format!("{:.2}×", r / p.load.rate()),
            ),
            _ => ("–".into(), "–".into(), "–".into()),
        };
        let name = if row.note.is_empty() {
            row.row.clone()
        } else {
            format!("{} ({})", row.row, row.note)
        };
        writeln!(
            out,
            "| {name} | {} | {:.2} | {:.2} | {} | {} | {} | {limit} | {ratio} | {server_cores} | {load_cores} | {on_cpu} | {ref_rate} | {ref_rss} | {vs} |",
            rate(r),
            row.load.p50_ms,
            row.load.p99_ms,
            row.load.errors,
            mib(row.rss_kib),
            mib(row.hwm_kib),
        )?;
    }

    if let Some(storm) = kinds.get("storm") {
        let load = &storm["load"];
        let flows = num(load, "requests") - num(load, "errors");
        let seconds = num(load, "duration_s");
        writeln!(
            out,
            "\nThe login storm beside the row above: {} flows/s, {} errors.",
            rate(if seconds > 0.0 { flows / seconds } else { 0.0 }),
            num(load, "errors"),
        )?;
    }

    let scale: Vec<&Row> = rows
        .iter()
        .filter(|r| r.target == "tessera" && r.phase == "scale")
        .collect();
    if !scale.is_empty() {
        writeln!(out)?;
        if let Some(s) = kinds.get("seed") {
            writeln!(
                out,
                "Scale run: {} users, {} clients, {} refresh tokens seeded in {:.0} s.",
                s["users"],
                s["clients"],
                s["refresh_tokens"],
                num(s, "users_s") + num(s, "clients_s") + num(s, "refresh_tokens_s"),
            )?;
            writeln!(out)?;
        }
        writeln!(
            out,
            "| row (scale) | req/s | p50 ms | p99 ms | errors | RSS MiB | base req/s | base p50 ms | base p99 ms |"
        )?;
        writeln!(
            out,
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        )?;
        for row in scale {
            let (b_rate, b50, b99) = match base.get(row.row.as_str()) {
                Some(b) => (
                    rate(b.load.rate()),
                    format!("{:.2}", b.load.p50_ms),
                    format!("{:.2}", b.load.p99_ms),
                ),
                None => ("–".into(), "–".into(), "–".into()),
            };
            writeln!(
                out,
                "| {} | {} | {:.2} | {:.2} | {} | {} | {b_rate} | {b50} | {b99} |",
                row.row,
                rate(row.load.rate()),
                row.load.p50_ms,
                row.load.p99_ms,
                row.load.errors,
                mib(row.rss_kib),
            )?;
        }
    }
    if !phases.is_empty() {
        writeln!(out)?;
        let list: Vec<String> = phases
            .iter()
            .map(|p| {
                format!(
                    "{} {:.0} s",
                    p["name"].as_str().unwrap_or("?"),
                    num(p, "seconds")
                )
            })
            .collect();
        writeln!(out, "Phases: {}.", list.join(", "))?;
    }
    Ok(out)
}

pub fn run(results: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(results)
        .with_context(|| format!("cannot read {}", results.display()))?;
    print!("{}", render(&text)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_come_from_the_limits_and_the_reference() {
        let text = r#"
{"kind":"limits","threads":2,"rs256_sign_per_s":8000,"rs256_sign_median_per_s":7000,"es256_sign_per_s":60000,"ed25519_sign_per_s":90000,"rs256_verify_per_s":150000,"argon2id_per_s":100,"argon2id_median_per_s":80,"argon2id_one_thread_ms":16}
{"kind":"limits","threads":2,"rs256_sign_per_s":4000,"rs256_sign_median_per_s":3500,"es256_sign_per_s":70000,"ed25519_sign_per_s":90000,"rs256_verify_per_s":150000,"argon2id_per_s":50,"argon2id_median_per_s":45,"argon2id_one_thread_ms":30}
{"kind":"row","phase":"base","target":"tessera","row":"POST /token client_credentials","limit":"rs256","load":{"requests":7000,"duration_s":1.0,"p50_ms":1.5,"p99_ms":4.0,"errors":0},"rss_kib":20480,"hwm_kib":30720,"wall_s":2.0,"server_cpu_s":3.5,"load_cpu_s":0.4,"db_cpu_s":0.004}
{"kind":"row","phase":"base","target":"reference","row":"POST /token client_credentials","load":{"requests":2800,"duration_s":1.0,"p50_ms":9.0,"p99_ms":20.0,"errors":0},"rss_kib":81920}
{"kind":"row","phase":"base","target":"tessera","row":"POST /token refresh_token","limit":"half-rs256","load":{"requests":1000,"duration_s":1.0,"p50_ms":10.0,"p99_ms":30.0,"errors":0},"rss_kib":20480,"hwm_kib":30720,"wall_s":2.0,"server_cpu_s":2.0,"load_cpu_s":0.2,"db_cpu_s":1.0}
{"kind":"row","phase":"base","target":"tessera","row":"login flow","limit":"argon2","load":{"requests":50,"duration_s":1.0,"p50_ms":80,"p99_ms":120,"errors":5}}
{"kind":"row","phase":"scale","target":"tessera","row":"POST /token client_credentials","load":{"requests":6000,"duration_s":1.0,"p50_ms":1.6,"p99_ms":4.5,"errors":0}}
"#;
        let report = render(text).expect("a report");
        // The better of the two limits records counts, field by field.
        assert!(report.contains("ES256 70000 /s"), "{report}");
        assert!(
            report.contains("argon2id (server parameters) 100 /s (16.0 ms"),
            "{report}"
        );
        assert!(
            report.contains(
                "the median round: RS256 7000 signatures/s (88 % of the limit), argon2id 80.0 /s (80 %)."
            ),
            "{report}"
        );
        assert!(report.contains(
            "| POST /token client_credentials | 7000 | 1.50 | 4.00 | 0 | 20.0 | 30.0 | 8000 | 88 % | 1.75 | 0.20 | 100 % | 2800 | 80.0 | 2.50× |"
        ), "{report}");
        // 45 good flows of 50 against 100/s.
        assert!(
            report.contains("| login flow | 45.0 | 80.00 | 120.00 | 5 |"),
            "{report}"
        );
        // On PostgreSQL, the cluster's CPU counts with the server's.
        assert!(report.contains(
            "| POST /token refresh_token | 1000 | 10.00 | 30.00 | 0 | 20.0 | 30.0 | 4000 | 25 % | 1.00 + 0.50 PostgreSQL | 0.10 | 33 % |"
        ), "{report}");
        // No CPU figures recorded: the CPU columns stay empty.
        assert!(report.contains("| 100 | 45 % | – | – | – |"), "{report}");
        assert!(report.contains("| POST /token client_credentials | 6000 | 1.60 | 4.50 | 0 | – | 7000 | 1.50 | 4.00 |"), "{report}");
    }
}
