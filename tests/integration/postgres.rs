//! The PostgreSQL pass: this test starts a throwaway PostgreSQL cluster on loopback and runs
//! this whole test binary again with `TESSERA_TEST_POSTGRES_URL` pointing at it, so that every
//! test also runs against PostgreSQL, each with a database of its own.
//!
//! Without PostgreSQL's server programs (`initdb`, `pg_ctl`, e.g. Debian's `postgresql`
//! package) the pass prints why it was skipped; `TESSERA_REQUIRE_POSTGRES=1` (set in CI) makes
//! that a failure. `TESSERA_POSTGRES_FILTER=NAME` runs only the tests whose names contain NAME.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::backend::{POSTGRES_URL_ENV, on_postgres};

/// A PostgreSQL cluster in a temporary folder, stopped when dropped.
pub struct Cluster {
    bin: PathBuf,
    data: PathBuf,
    /// The unprivileged account that owns the cluster when the tests run as root.
    owner: Option<String>,
    port: u16,
    /// The server's command-line options and log file, for starting it again after a stop.
    options: String,
    log: String,
    _dir: tempfile::TempDir,
}

/// The folder holding `initdb` and `pg_ctl`: `PG_BIN`, the newest Debian install, or `PATH`.
fn server_programs() -> Option<PathBuf> {
    let has_both = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(dir) = std::env::var_os("PG_BIN").map(PathBuf::from) {
        return has_both(&dir).then_some(dir);
    }
    let mut debian: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            has_both(&bin).then_some((version, bin))
        })
        .collect();
    debian.sort();
    if let Some((_, bin)) = debian.pop() {
        return Some(bin);
    }
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()).find(|d| has_both(d))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// uid and gid of a local account, if it exists.
fn account(name: &str) -> Option<(u32, u32)> {
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id").args([flag, name]).output().ok()?;
        if !out.status.success() {
            return None;
        }
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    };
    Some((id("-u")?, id("-g")?))
}

fn chown_tree(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).expect("chown");
    if path.is_dir() {
        for entry in std::fs::read_dir(path).expect("read dir") {
            chown_tree(&entry.expect("dir entry").path(), uid, gid);
        }
    }
}

impl Cluster {
    /// Starts a cluster, or answers why it cannot.
    pub fn start() -> Result<Self, String> {
        let bin = server_programs().ok_or(
            "PostgreSQL's server programs (initdb, pg_ctl) were not found in PG_BIN, \
             /usr/lib/postgresql/*/bin or PATH; install Debian's `postgresql` package",
        )?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        // PostgreSQL refuses to run as root: hand the folder to the `postgres` account.
        let owner = if is_root() {
            let (uid, gid) = account("postgres").ok_or(
                "running as root and there is no `postgres` account to own the test cluster",
            )?;
            chown_tree(dir.path(), uid, gid);
            Some("postgres".to_string())
        } else {
            None
        };
        let data = dir.path().join("data");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let options = format!(
            "-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c max_connections=400 \
             -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
            sock = dir.path().display(),
        );
        let log = dir.path().join("server.log").display().to_string();
        let cluster = Self {
            bin,
            data,
            owner,
            port,
            options,
            log,
            _dir: dir,
        };
        cluster.run(
            "initdb",
            &[
                "-D",
                &cluster.data.display().to_string(),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        )?;
        cluster.start_again()?;
        Ok(cluster)
    }

    /// Starts a cluster for `what`, or prints why `what` was skipped and answers `None`;
    /// with `TESSERA_REQUIRE_POSTGRES=1` (CI) a cluster that cannot start is a failure.
    pub fn start_or_skip(what: &str) -> Option<Self> {
        let required = std::env::var("TESSERA_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
        match Self::start() {
            Ok(c) => Some(c),
            Err(why) if required => panic!("TESSERA_REQUIRE_POSTGRES=1 but: {why}"),
            Err(why) => {
                say(&format!("skipped: {what} did not run: {why}"));
                None
            }
        }
    }

    /// Starts the server (again, after [`Cluster::stop`]) and waits until it accepts connections.
    pub fn start_again(&self) -> Result<(), String> {
        let data = self.data.display().to_string();
        self.run(
            "pg_ctl",
            &[
                "-D",
                &data,
                "-l",
                &self.log,
                "-o",
                &self.options,
                "-w",
                "start",
            ],
        )
    }

    /// Stops the server the way an administrator would (fast shutdown: every connection is
    /// ended), and waits until it is down.
    pub fn stop(&self) -> Result<(), String> {
        let data = self.data.display().to_string();
        self.run("pg_ctl", &["-D", &data, "-m", "fast", "-w", "stop"])
    }

    /// Runs one of the server programs as the cluster's owner.
    fn run(&self, program: &str, args: &[&str]) -> Result<(), String> {
        let path = self.bin.join(program);
        let mut cmd = match &self.owner {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&path);
                c
            }
            None => Command::new(&path),
        };
        let out = cmd
            .args(args)
            .current_dir("/")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {program}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{program} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// The superuser URL of the `postgres` database.
    pub fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data.display().to_string();
        let _ = self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
    }
}

/// Writes past the test harness's output capture, so the line shows in every `cargo test`.
fn say(line: &str) {
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

#[test]
fn whole_suite_on_postgres() {
    if on_postgres() {
        // This is the PostgreSQL pass itself, started by this test in the parent run.
        return;
    }
    let Some(cluster) = Cluster::start_or_skip("the integration suite on PostgreSQL") else {
        return;
    };
    let exe = std::env::current_exe().expect("the test binary");
    let mut cmd = Command::new(exe);
    if let Ok(filter) = std::env::var("TESSERA_POSTGRES_FILTER") {
        cmd.arg(filter);
    }
    let out = cmd
        .args(["--skip", "whole_suite_on_postgres"])
        .env(POSTGRES_URL_ENV, cluster.admin_url())
        .stdin(Stdio::null())
        .output()
        .expect("run the suite on PostgreSQL");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary = stdout
        .lines()
        .rfind(|l| l.starts_with("test result:"))
        .unwrap_or("no summary line")
        .to_string();
    if !out.status.success() {
        let failures: Vec<&str> = stdout
            .lines()
            .filter(|l| l.starts_with("test ") && l.ends_with("FAILED"))
            .collect();
        panic!(
            "the suite failed on PostgreSQL: {summary}\n{}\n\n{stdout}\n{}",
            failures.join("\n"),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    say(&format!("PostgreSQL pass: {summary}"));
    assert!(
        summary.starts_with("test result: ok.") && !summary.contains(" 0 passed"),
        "{summary}"
    );
}
