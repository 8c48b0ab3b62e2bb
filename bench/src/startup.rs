//! Start-up time to the first answered request on an existing database (several runs, the
//! median), and the server's resident memory once it has sat idle for a second.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// The URL polled until it answers 200, e.g. http://127.0.0.1:PORT/healthz.
    #[arg(long)]
    url: String,
    /// The server command and its arguments (after `--`); it inherits the environment.
    #[arg(last = true, required = true)]
    command: Vec<String>,
}

/// A field of /proc/PID/status in KiB (VmRSS, VmHWM), if the process is there.
pub fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(500))
        .build()?;
    let (program, rest) = args
        .command
        .split_first()
        .ok_or_else(|| anyhow!("no server command after --"))?;
    let mut runs_ms = Vec::new();
    let mut idle_rss_kib = 0;
    for _ in 0..args.runs.max(1) {
        let started = Instant::now();
        let mut child = Command::new(program)
            .args(rest)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {program}"))?;
        let answered = runtime.block_on(async {
            while started.elapsed() < Duration::from_secs(30) {
                if let Ok(r) = client.get(&args.url).send().await
                    && r.status().is_success()
                {
                    return Some(started.elapsed());
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            None
        });
        let pid = child.id();
        if let Some(elapsed) = answered {
            runs_ms.push(elapsed.as_secs_f64() * 1000.0);
            std::thread::sleep(Duration::from_secs(1));
            idle_rss_kib = proc_status_kib(pid, "VmRSS").unwrap_or(0);
        }
        // SIGTERM: the server's graceful stop.
        let _ = Command::new("kill").arg(pid.to_string()).status();
        let _ = child.wait();
        if answered.is_none() {
            bail!("{} did not answer within 30 s", args.url);
        }
    }
    let mut sorted = runs_ms.clone();
    sorted.sort_by(f64::total_cmp);
    let median_ms = sorted[sorted.len() / 2];
    println!(
        "{}",
        serde_json::json!({
            "kind": "startup", "runs_ms": runs_ms, "median_ms": median_ms,
            "idle_rss_kib": idle_rss_kib,
        })
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process_memory() {
        let rss = proc_status_kib(std::process::id(), "VmRSS").expect("VmRSS of this process");
        assert!(rss > 0);
        assert!(proc_status_kib(std::process::id(), "NoSuchField").is_none());
    }
}
