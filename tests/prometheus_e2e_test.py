#!/usr/bin/env python3
"""End-to-end check of gearkv's observability: a real Prometheus scrapes a real gearkv-server
under load from `gearkv bench`, and every PromQL query that the shipped Grafana dashboard and
alert rules use is evaluated through Prometheus' HTTP API.

What it shows:
  * `promtool check metrics` is clean on the live /metrics of the running server;
  * the shipped alert rules load into Prometheus and evaluate without error, none fires;
  * every dashboard query and the query part of every alert returns data (at least one series
    with a finite value): no panel is silently empty and no query has a typo;
  * the numbers agree with the load: memory-tier hits + misses = store lookups of Get calls,
    stored bytes <= capacity at every scrape, the compression-ratio histogram is populated for
    every preset used (~1 for `none`, > 2 for the compressing presets), Put counts and raw bytes
    match what bench put.

Everything runs on 127.0.0.1 with ports the OS hands out; each wait is bounded and the whole run
takes about a minute. Stdlib only.

    tests/prometheus_e2e_test.py [--build-dir build] [--keep]

Prints one line per check and `N passed, N failed`; exits 1 if any failed, 77 if a needed
program is missing (gearkv-server, gearkv, prometheus or promtool).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = ROOT / "deploy/grafana/dashboards/gearkv.json"
ALERTS = ROOT / "deploy/prometheus/alerts.yml"
JOB = "gearkv"  # the job name of deploy/prometheus/prometheus.yml, which the rules select on

# The load: presets used, block shape (layers, kv_heads, tokens, head_dim) and duration.
PRESETS = ["none", "kivi4", "gear4", "gear2"]
SHAPE = (4, 8, 64, 128)  # 4 x 2 x 8 x 64 x 128 fp16 = 1 MiB per block
BENCH_SECONDS = 4
MEMORY_BUDGET = "24MiB"  # small, so that the load evicts
SCRAPE_INTERVAL_S = 1
RATE_WINDOW = "2m"  # replaces $__rate_interval; covers the whole load


class Checks:
    """Collects pass/fail lines; the run goes on after a failure."""

    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0

    def check(self, ok: bool, what: str, detail: str = "") -> bool:
        if ok:
            self.passed += 1
            print(f"PASS {what}")
        else:
            self.failed += 1
            print(f"FAIL {what}" + (f": {detail}" if detail else ""))
        return ok


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url: str, timeout: float = 5.0) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def wait_for(what: str, probe, timeout_s: float, proc: subprocess.Popen | None = None):
    """Calls probe() until it returns a truthy value; raises after timeout_s or if proc died."""
    deadline = time.monotonic() + timeout_s
    last_error = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what}: process exited with {proc.returncode}")
        try:
            value = probe()
            if value:
                return value
        except (OSError, urllib.error.URLError, ValueError) as e:
            last_error = e
        time.sleep(0.2)
    raise RuntimeError(f"timed out after {timeout_s}s waiting for {what} (last error: {last_error})")


def find_binary(build_dir: Path, name: str) -> Path | None:
    for p in sorted(build_dir.rglob(name)):
        if p.is_file() and os.access(p, os.X_OK):
            return p
    return None


class Prometheus:
    def __init__(self, base: str) -> None:
        self.base = base

    def api(self, path: str, **params) -> dict:
        url = f"{self.base}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        body = json.loads(http_get(url, timeout=10))
        if body.get("status") != "success":
            raise ValueError(f"{path} {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str) -> list[dict]:
        data = self.api("query", query=expr)
        if data["resultType"] != "vector":
            raise ValueError(f"{expr}: result type {data['resultType']}, expected vector")
        return data["result"]

    def scalar(self, expr: str) -> float:
        """The single value of a query expected to return exactly one series."""
        result = self.query(expr)
        if len(result) != 1:
            raise ValueError(f"{expr}: {len(result)} series, expected 1")
        return float(result[0]["value"][1])


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, PromQL) of every dashboard target, Grafana variables replaced."""
    dash = json.loads(DASHBOARD.read_text())
    out = []

    def walk(panels):
        for p in panels:
            walk(p.get("panels", []))
            for t in p.get("targets", []):
                expr = t["expr"].replace("$__rate_interval", RATE_WINDOW).replace("$instance", ".*")
                out.append((f"panel '{p['title']}' {t['refId']}", expr))

    walk(dash["panels"])
    for var in dash.get("templating", {}).get("list", []):
        q = var.get("definition") or ""
        m = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", q)
        if m:  # label_values(expr, label): the expression must return series with the label
            out.append((f"variable '{var['name']}'", m.group(1)))
    return out


def alert_rules() -> list[dict]:
    """The rules of alerts.yml as Prometheus loaded them (name, query, health, state)."""
    return []  # filled from the API at run time; see run()


COMPARISON = re.compile(r"^(?P<query>.*?)\s*(?P<op>==|!=|>=|<=|>|<)\s*(?P<threshold>[-+0-9.eE]+)\s*$",
                        re.S)


def has_finite_value(result: list[dict]) -> bool:
    return any(math.isfinite(float(s["value"][1])) for s in result)


def run(args) -> int:
    checks = Checks()
    build_dir = Path(args.build_dir)
    server_bin = find_binary(build_dir, "gearkv-server")
    cli_bin = find_binary(build_dir, "gearkv")
    prometheus_bin = shutil.which("prometheus")
    promtool_bin = shutil.which("promtool")
    missing = [n for n, p in [("gearkv-server", server_bin), ("gearkv", cli_bin),
                              ("prometheus", prometheus_bin), ("promtool", promtool_bin)] if not p]
    if missing:
        print(f"SKIP: not found: {', '.join(missing)} (build dir {build_dir})")
        return 77

    work = Path(tempfile.mkdtemp(prefix="gearkv-prom-e2e-"))
    procs: list[subprocess.Popen] = []
    try:
        grpc_port, metrics_port, prom_port = free_port(), free_port(), free_port()
        server_log = open(work / "server.log", "w")
        server = subprocess.Popen(
            [str(server_bin), f"--listen=127.0.0.1:{grpc_port}", f"--metrics_port={metrics_port}",
             f"--memory_budget={MEMORY_BUDGET}", f"--disk_dir={work / 'disk'}",
             "--disk_budget=256MiB", "--disk_policy=write_through", "--worker_threads=2",
             "--backend=cpu", "--drain_deadline=5s"],
            stdout=server_log, stderr=subprocess.STDOUT)
        procs.append(server)
        server_start = time.time()
        metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
        wait_for("gearkv-server /metrics", lambda: http_get(metrics_url), 30, server)
        wait_for("gearkv health", lambda: subprocess.run(
            [str(cli_bin), "health", f"--target=127.0.0.1:{grpc_port}", "--deadline_seconds=3"],
            capture_output=True, timeout=5).returncode == 0, 30, server)

        # Prometheus scraping the server every second with the shipped alert rules.
        (work / "prometheus.yml").write_text(
            f"global:\n  scrape_interval: {SCRAPE_INTERVAL_S}s\n  evaluation_interval: 1s\n"
            f"rule_files:\n  - {ALERTS}\n"
            f"scrape_configs:\n  - job_name: {JOB}\n    static_configs:\n"
            f"      - targets: ['127.0.0.1:{metrics_port}']\n")
        prom_log = open(work / "prometheus.log", "w")
        prom_proc = subprocess.Popen(
            [prometheus_bin, f"--config.file={work / 'prometheus.yml'}",
             f"--storage.tsdb.path={work / 'tsdb'}", f"--web.listen-address=127.0.0.1:{prom_port}",
             "--log.level=warn"],
            stdout=prom_log, stderr=subprocess.STDOUT)
        procs.append(prom_proc)
        prom = Prometheus(f"http://127.0.0.1:{prom_port}")
        wait_for("prometheus ready", lambda: http_get(f"{prom.base}/-/ready"), 30, prom_proc)
        wait_for("first scrape of gearkv", lambda: prom.query(f'up{{job="{JOB}"}} == 1'), 30,
                 prom_proc)

        # ---- Load.
        bench = run_load(cli_bin, grpc_port, work)
        checks.check(bench is not None, "gearkv bench ran", "see bench.log")

        # ---- Live exposition lints clean.
        exposition = http_get(metrics_url)
        lint = subprocess.run([promtool_bin, "check", "metrics"], input=exposition.encode(),
                              capture_output=True, timeout=30)
        checks.check(lint.returncode == 0 and not lint.stdout.strip(),
                     "promtool check metrics on the live /metrics",
                     (lint.stdout + lint.stderr).decode()[:2000])

        # Let Prometheus scrape the final state twice and evaluate the rules.
        time.sleep(3 * SCRAPE_INTERVAL_S)

        # ---- Every dashboard query returns data.
        for where, expr in dashboard_queries():
            try:
                result = prom.query(expr)
                checks.check(has_finite_value(result), f"{where} returns data",
                             f"{len(result)} series, none finite: {expr}")
            except (ValueError, urllib.error.URLError) as e:
                checks.check(False, f"{where} evaluates", f"{e}")

        # ---- Alert rules: loaded, healthy, not firing; their query part returns data.
        groups = prom.api("rules", type="alert")["groups"]
        rules = [r for g in groups for r in g["rules"]]
        checks.check(len(rules) >= 4, f"{len(rules)} alert rules loaded from {ALERTS.name}")
        for rule in rules:
            name = rule["name"]
            checks.check(rule.get("health") == "ok", f"alert {name} evaluates",
                         rule.get("lastError", ""))
            checks.check(rule.get("state") == "inactive", f"alert {name} is not firing",
                         rule.get("state", ""))
            m = COMPARISON.match(rule["query"])
            if not checks.check(m is not None, f"alert {name} is '<query> <op> <threshold>'",
                                rule["query"]):
                continue
            try:
                result = prom.query(m.group("query"))
                checks.check(has_finite_value(result), f"alert {name} query returns data",
                             m.group("query"))
            except (ValueError, urllib.error.URLError) as e:
                checks.check(False, f"alert {name} query evaluates", str(e))

        # ---- The numbers agree with the load.
        check_consistency(checks, prom, bench, server_start)
    except RuntimeError as e:
        checks.check(False, "setup", str(e))
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in reversed(procs):
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if checks.failed:
            for log in ("server.log", "bench.log", "prometheus.log"):
                path = work / log
                if path.exists():
                    print(f"---- {log} (last 40 lines)")
                    print("\n".join(path.read_text(errors="replace").splitlines()[-40:]))
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    print(f"{checks.passed} passed, {checks.failed} failed")
    return 1 if checks.failed else 0


def run_load(cli_bin: Path, grpc_port: int, work: Path) -> dict | None:
    """Runs gearkv bench once per preset; returns {preset: bench summary}. None on failure."""
    raise NotImplementedError  # filled in once `gearkv bench` exists


def check_consistency(checks: Checks, prom: Prometheus, bench: dict | None,
                      server_start: float) -> None:
    raise NotImplementedError


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build-dir", default=os.environ.get("GEARKV_BUILD_DIR", str(ROOT / "build")))
    parser.add_argument("--keep", action="store_true", help="keep the work folder and its logs")
    return run(parser.parse_args())


def test_prometheus_e2e():
    """pytest entry point."""
    import pytest  # noqa: PLC0415

    rc = run(argparse.Namespace(build_dir=os.environ.get("GEARKV_BUILD_DIR", str(ROOT / "build")),
                                keep=False))
    if rc == 77:
        pytest.skip("gearkv binaries, prometheus or promtool missing")
    assert rc == 0


if __name__ == "__main__":
    sys.exit(main())
