#!/usr/bin/env python3
"""Measures Tessera's hot request paths and prints figures (never asserts a timing).

Starts a release `tessera serve` on loopback with a fresh SQLite database, seeds a user and
clients, signs in once, then for each path prints either

  --callgrind  the instructions executed per request under valgrind's callgrind (repeatable
               on a noisy machine: counters are zeroed before and dumped after each path), or
  --wrk SECS   requests per second from a short `wrk` run (noisy; needs Debian's wrk).

Paths: discovery, jwks, client_credentials, introspect (JWT), userinfo (JWT), refresh
(callgrind only: each refresh needs a fresh token).

    cargo build --release
    python3 scripts/hot-paths.py --callgrind 200
    python3 scripts/hot-paths.py --wrk 10
"""

import argparse
import base64
import glob
import hashlib
import http.client
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

USER, PASSWORD = "bench", "correct horse battery staple"
REDIRECT = "https://rp.example/cb"


class Http:
    """One keep-alive connection with a cookie jar of its own."""

    def __init__(self, port):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.cookies = {}

    def request(self, method, path, body=None, headers=None):
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if isinstance(body, dict):
            body = urllib.parse.urlencode(body)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                resp = self.conn.getresponse()
                data = resp.read()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # The server closed an idle keep-alive connection: open a new one.
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
                if attempt:
                    raise
        for name, value in resp.getheaders():
            if name.lower() == "set-cookie":
                k, v = value.split(";", 1)[0].split("=", 1)
                self.cookies[k] = v
        return resp.status, dict((k.lower(), v) for k, v in resp.getheaders()), data


def basic(client_id, secret):
    raw = f"{client_id}:{secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def cli(binary, env, *args, stdin=None):
    out = subprocess.run([binary, *args], env=env, input=stdin, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"tessera {' '.join(args)} failed: {out.stderr}")
    return out.stdout


def create_client(binary, env, client_id, grants, scopes):
    args = ["client", "create", "--client-id", client_id, "--name", client_id,
            "--redirect-uri", REDIRECT, "--first-party", "--json", "--grant-type", *grants]
    if scopes:
        args += ["--scope", *scopes]
    return json.loads(cli(binary, env, *args))["client_secret"]


def user_tokens(web, client_id, secret, count):
    """Signs in once, then runs the authorization code flow `count` times."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    query = urllib.parse.urlencode({
        "response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT,
        "scope": "openid profile email offline_access", "state": "s",
        "code_challenge": challenge.decode().rstrip("="), "code_challenge_method": "S256",
    })
    status, _, page = web.request("GET", "/login")
    csrf = re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()
    status, _, _ = web.request("POST", "/login", {
        "csrf_token": csrf, "username": USER, "password": PASSWORD, "return_to": "/"})
    if status != 303:
        sys.exit(f"sign-in failed: {status}")
    tokens = []
    for _ in range(count):
        status, headers, _ = web.request("GET", "/authorize?" + query)
        location = headers.get("location", "")
        code = urllib.parse.parse_qs(urllib.parse.urlparse(location).query).get("code")
        if status not in (302, 303) or not code:
            sys.exit(f"authorization failed: {status} {location}")
        status, _, body = web.request("POST", "/token", {
            "grant_type": "authorization_code", "code": code[0], "redirect_uri": REDIRECT,
            "code_verifier": verifier}, basic(client_id, secret))
        if status != 200:
            sys.exit(f"code exchange failed: {status} {body!r}")
        tokens.append(json.loads(body))
    return tokens


def wait_ready(port, proc):
    for _ in range(600):
        if proc.poll() is not None:
            sys.exit("the server stopped during start-up")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    sys.exit("the server did not start")


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--callgrind", type=int, metavar="N", help="requests per path")
    mode.add_argument("--wrk", type=int, metavar="SECS", help="seconds of wrk per path")
    ap.add_argument("--binary", default="target/release/tessera")
    ap.add_argument("--paths", default="discovery,jwks,client_credentials,introspect,userinfo,refresh")
    args = ap.parse_args()
    paths = args.paths.split(",")

    work = tempfile.mkdtemp(prefix="tessera-hot-")
    port = free_port()
    env = dict(os.environ, TESSERA_DATABASE_URL=f"{work}/t.db", TESSERA_KEYS_DIR=f"{work}/keys",
               TESSERA_ISSUER=f"http://127.0.0.1:{port}", TESSERA_BIND=f"127.0.0.1:{port}",
               TESSERA_ADMIN_PASSWORD="bench-admin-password", RUST_LOG="info")
    cli(args.binary, env, "migrate")
    cli(args.binary, env, "user", "create", "--username", USER, "--email", "bench@example.com",
        "--password-stdin", stdin=PASSWORD + "\n")
    web_secret = create_client(args.binary, env, "web",
                               ["authorization_code", "refresh_token"],
                               ["openid", "profile", "email", "offline_access"])
    svc_secret = create_client(args.binary, env, "svc", ["client_credentials"], [])

    out_file = f"{work}/callgrind.out"
    cmd = [args.binary, "serve"]
    if args.callgrind:
        cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_file}.%p",
               "--separate-threads=no", "--dump-instr=no", *cmd]
    log = open(f"{work}/server.log", "w")
    server = subprocess.Popen(cmd, env=env, stdout=log, stderr=log)
    try:
        wait_ready(port, server)
        web = Http(port)
        n = args.callgrind or 0
        tokens = user_tokens(web, "web", web_secret, n + 2 if "refresh" in paths else 1)
        access = tokens[0]["access_token"]
        refresh = [t["refresh_token"] for t in tokens[1:]]
        svc = basic("svc", svc_secret)
        web_basic = basic("web", web_secret)
        form = "application/x-www-form-urlencoded"
        requests = {
            "discovery": ("GET", "/.well-known/openid-configuration", None, {}),
            "jwks": ("GET", "/jwks", None, {}),
            "client_credentials": ("POST", "/token", "grant_type=client_credentials",
                                   {**svc, "Content-Type": form}),
            "introspect": ("POST", "/introspect", "token=" + access,
                           {**web_basic, "Content-Type": form}),
            "userinfo": ("GET", "/userinfo", None, {"Authorization": "Bearer " + access}),
        }
        print(f"{'idle RSS':<20} {rss_mib(server.pid):>10.1f} MiB")
        print(f"{'path':<20} {'result':>16}")
        for name in paths:
            if args.wrk:
                if name not in requests:
                    print(f"{name:<20} {'(callgrind only)':>16}")
                    continue
                print(f"{name:<20} {run_wrk(port, requests[name], args.wrk, work):>12.0f} req/s")
                continue
            client = Http(port)
            if name == "refresh":
                batch = [("POST", "/token", urllib.parse.urlencode(
                    {"grant_type": "refresh_token", "refresh_token": r}),
                    {**web_basic, "Content-Type": form}) for r in refresh[:n + 1]]
            else:
                batch = [requests[name]] * (n + 1)
            client.request(*batch[0][:2], body=batch[0][2], headers=batch[0][3])
            subprocess.run(["callgrind_control", "-z", str(server.pid)], capture_output=True)
            # The first request warmed up (connections, caches); the others are counted.
            for method, path, body, headers in batch[1:]:
                status, _, data = client.request(method, path, body=body, headers=headers)
                if status != 200:
                    sys.exit(f"{name}: {status} {data!r}")
            subprocess.run(["callgrind_control", "-d", str(server.pid)], capture_output=True)
            time.sleep(0.5)
            dumps = [p for p in glob.glob(out_file + "*") if not p.endswith(str(server.pid))]
            count = len(batch) - 1
            total = callgrind_total_of(dumps, keep=os.environ.get("KEEP_DUMPS"), name=name)
            print(f"{name:<20} {total / count:>10.0f} instr/request")
        print(f"{'RSS after the load':<20} {rss_mib(server.pid):>10.1f} MiB")
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)


def callgrind_total_of(dumps, keep=None, name=""):
    """Sums the instruction counts of the dumps; moves them into `keep` when set."""
    total = 0
    for path in dumps:
        with open(path) as f:
            for line in f:
                if line.startswith("summary:") or line.startswith("totals:"):
                    total += int(line.split()[1])
                    break
        if keep:
            os.makedirs(keep, exist_ok=True)
            shutil.move(path, os.path.join(keep, f"{name}.{os.path.basename(path)}"))
        else:
            os.remove(path)
    return total


def rss_mib(pid):
    """The resident memory of a process (under --callgrind: of valgrind with the server)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def run_wrk(port, request, seconds, work):
    method, path, body, headers = request
    script = f"{work}/req.lua"
    with open(script, "w") as f:
        f.write(f"wrk.method = {json.dumps(method)}\n")
        if body:
            f.write(f"wrk.body = {json.dumps(body)}\n")
        for k, v in headers.items():
            f.write(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}\n")
    out = subprocess.run(["wrk", "-t2", "-c32", f"-d{seconds}s", "-s", script,
                          f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True)
    m = re.search(r"Requests/sec:\s+([\d.]+)", out.stdout)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out.stdout)
    if non2xx:
        print(f"  ({non2xx.group(1)} non-2xx answers)")
    return float(m.group(1)) if m else 0.0


if __name__ == "__main__":
    main()
