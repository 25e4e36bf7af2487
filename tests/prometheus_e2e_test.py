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

    tests/prometheus_e2e_test.py [--build-dir build] [--keep] [--plot dashboard.png]

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
BATCH_KEYS = 3  # blocks in the load's one PutMany and one GetMany (both after the benches)
BATCH_PRESET = "gear4"


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
        run_start = time.time()
        load = run_load(cli_bin, grpc_port, work)
        checks.check(load is not None, "the load (gearkv bench, put, get) ran", "see bench.log")

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
            checks.check(rule.get("state") != "firing", f"alert {name} is not firing",
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
        check_consistency(checks, prom, load, server_start, run_start)
        if args.plot:
            plot_dashboard(prom, run_start - 5, time.time(), Path(args.plot))
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


def write_npy_fp16(path: Path, shape: tuple[int, ...], seed: int) -> int:
    """A Gaussian fp16 .npy tensor (format 1.0, C order); returns its data size in bytes."""
    import random
    import struct

    rng = random.Random(seed)
    count = math.prod(shape)
    header = f"{{'descr': '<f2', 'fortran_order': False, 'shape': {shape}, }}"
    header += " " * (63 - (10 + len(header)) % 64) + "\n"  # total header a multiple of 64
    data = struct.pack(f"<{count}e", *(rng.gauss(0.0, 1.0) for _ in range(count)))
    path.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + data)
    return len(data)


def run_load(cli_bin: Path, grpc_port: int, work: Path) -> dict | None:
    """Drives the server; returns what was sent, for the consistency checks. None on failure.

    Per preset: one `gearkv bench` (2 clients, put then get phases, keys that overflow the memory
    budget for `none`; raw gets for one preset so that the server decompresses), then one
    `gearkv put --measure_error` so that the relative-error histogram has data; then one PutMany
    and one GetMany of BATCH_KEYS blocks; then a Get of a missing key (NotFound, a store miss in
    every tier).
    """
    target = f"--target=127.0.0.1:{grpc_port}"
    log = open(work / "bench.log", "w")
    load = {"benches": {}, "error_puts": {}, "missing_gets": 0, "batch_bytes": 0}
    npy = work / "kv.npy"
    npy_bytes = write_npy_fp16(npy, (2, 2, 4, 64, 128), seed=7)
    for i, preset in enumerate(PRESETS):
        json_out = work / f"bench-{preset}.json"
        cmd = [str(cli_bin), target, "--deadline_seconds=60", "bench", f"--preset={preset}",
               "--clients=2", "--keys_per_client=16",
               f"--layers={SHAPE[0]}", f"--kv_heads={SHAPE[1]}", f"--tokens={SHAPE[2]}",
               f"--head_dim={SHAPE[3]}", f"--duration_seconds={BENCH_SECONDS / 2}",
               f"--get_encoding={'raw' if preset == 'kivi4' else 'compressed'}",
               "--namespace=e2e", f"--data_seed={i + 1}", "--quiet", f"--json_out={json_out}"]
        log.write("$ " + " ".join(cmd) + "\n")
        log.flush()
        r = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, timeout=120)
        if r.returncode != 0 or not json_out.exists():
            log.write(f"bench exited {r.returncode}\n")
            return None
        load["benches"][preset] = json.loads(json_out.read_text())

        cmd = [str(cli_bin), target, "put", str(npy), "--namespace=e2e-error",
               f"--key=error-{preset}", f"--preset={preset}", "--measure_error"]
        log.write("$ " + " ".join(cmd) + "\n")
        log.flush()
        r = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, timeout=60)
        if r.returncode != 0:
            return None
        load["error_puts"][preset] = npy_bytes

    # Batched calls: one PutMany of BATCH_KEYS blocks of the bench's shape, then one GetMany of
    # them (compressed), so that the batch panels have a rate at the end of the run.
    files = [work / f"batch-{i}.npy" for i in range(BATCH_KEYS)]
    batch_bytes = sum(write_npy_fp16(f, (SHAPE[0], 2) + SHAPE[1:], seed=100 + i)
                      for i, f in enumerate(files))
    keys = [f"--key=batch-{i}" for i in range(BATCH_KEYS)]
    outputs = [f"--output={work / f'batch-out-{i}.npy'}" for i in range(BATCH_KEYS)]
    for cmd in ([str(cli_bin), target, "put", *map(str, files), "--namespace=e2e-batch", *keys,
                 f"--preset={BATCH_PRESET}"],
                [str(cli_bin), target, "get", "--namespace=e2e-batch", *keys, *outputs]):
        log.write("$ " + " ".join(cmd) + "\n")
        log.flush()
        r = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, timeout=60)
        if r.returncode != 0:
            log.write(f"batched call exited {r.returncode}\n")
            return None
    load["batch_bytes"] = batch_bytes

    cmd = [str(cli_bin), target, "--attempts=1", "get", "--namespace=e2e", "--key=never-put",
           f"--output={work / 'missing.npy'}"]
    log.write("$ " + " ".join(cmd) + "\n")
    log.flush()
    r = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, timeout=60)
    if r.returncode == 0:
        log.write("a get of a missing key succeeded\n")
        return None
    load["missing_gets"] = 1
    return load


def check_consistency(checks: Checks, prom: Prometheus, load: dict | None,
                      server_start: float, run_start: float) -> None:
    if load is None:
        return
    sel = f'job="{JOB}"'

    def value(expr: str) -> float:
        try:
            return prom.scalar(expr)
        except (ValueError, urllib.error.URLError) as e:
            checks.check(False, f"query {expr}", str(e))
            return float("nan")

    benches = load["benches"]
    # Every Put the load made: bench warm-up (clients x keys), bench put phase, error puts.
    puts = {p: b["clients"] * b["keys_per_client"] + b["put"]["ops"] for p, b in benches.items()}
    gets = sum(b["get"]["ops"] for b in benches.values())
    put_bytes = sum(puts[p] * b["block_raw_bytes"] for p, b in benches.items())
    put_bytes += sum(load["error_puts"].values()) + load["batch_bytes"]
    all_puts = sum(puts.values()) + len(load["error_puts"])

    handled_put_ok = value(f'sum(grpc_server_handled_total{{{sel}, grpc_method="Put", grpc_code="OK"}})')
    checks.check(handled_put_ok == all_puts, "Put OK count = puts made by the load",
                 f"metrics {handled_put_ok}, load {all_puts}")
    handled_put = value(f'sum(grpc_server_handled_total{{{sel}, grpc_method="Put"}})')
    checks.check(handled_put == handled_put_ok, "no Put failed", f"{handled_put - handled_put_ok} failed")
    handled_get_ok = value(f'sum(grpc_server_handled_total{{{sel}, grpc_method="Get", grpc_code="OK"}})')
    checks.check(handled_get_ok == gets, "Get OK count = gets made by bench",
                 f"metrics {handled_get_ok}, bench {gets}")
    not_found = value(f'sum(grpc_server_handled_total{{{sel}, grpc_method="Get", grpc_code="NotFound"}})')
    checks.check(not_found == load["missing_gets"], "Get NotFound count = gets of missing keys",
                 f"metrics {not_found}, load {load['missing_gets']}")
    # Batched calls: one PutMany and one GetMany of BATCH_KEYS blocks each, every block OK.
    for method in ("PutMany", "GetMany"):
        calls = value(f'sum(grpc_server_handled_total{{{sel}, grpc_method="{method}", grpc_code="OK"}})')
        checks.check(calls == 1, f"{method} OK count = 1", f"metrics {calls}")
        keys_ok = value(f'sum(gearkv_batch_keys_total{{{sel}, grpc_method="{method}", grpc_code="OK"}})')
        keys_all = value(f'sum(gearkv_batch_keys_total{{{sel}, grpc_method="{method}"}})')
        checks.check(keys_ok == keys_all == BATCH_KEYS, f"{method}: {BATCH_KEYS} blocks, all OK",
                     f"OK {keys_ok}, all {keys_all}")
        blocks = value(f'sum(gearkv_batch_blocks_sum{{{sel}, grpc_method="{method}"}})')
        checks.check(blocks == BATCH_KEYS, f"{method}: blocks-per-call histogram sums to {BATCH_KEYS}",
                     f"metrics {blocks}")
    started = value(f'sum(grpc_server_started_total{{{sel}}})')
    handled = value(f'sum(grpc_server_handled_total{{{sel}}})')
    inflight = value(f'sum(gearkv_inflight_streams{{{sel}}})')
    checks.check(started == handled and inflight == 0,
                 "started = handled, nothing in flight after the load",
                 f"started {started}, handled {handled}, in flight {inflight}")

    # Store: hits + misses = gets that reached the store, tier by tier.
    store_gets = value(f'sum(grpc_server_handled_total{{{sel}, grpc_method="Get", grpc_code=~"OK|NotFound|DataLoss"}})')
    store_gets += value(f'sum(gearkv_batch_keys_total{{{sel}, grpc_method="GetMany", grpc_code=~"OK|NotFound|DataLoss"}})')
    mem_hits = value(f'sum(gearkv_store_hits_total{{{sel}, tier="memory"}})')
    mem_misses = value(f'sum(gearkv_store_misses_total{{{sel}, tier="memory"}})')
    checks.check(mem_hits + mem_misses == store_gets,
                 "memory tier: hits + misses = Get calls and GetMany keys that reached the store",
                 f"hits {mem_hits} + misses {mem_misses} != gets {store_gets}")
    disk_hits = value(f'sum(gearkv_store_hits_total{{{sel}, tier="disk"}})')
    disk_misses = value(f'sum(gearkv_store_misses_total{{{sel}, tier="disk"}})')
    checks.check(disk_hits + disk_misses == mem_misses,
                 "disk tier: hits + misses = memory misses (it is looked up on a memory miss)",
                 f"hits {disk_hits} + misses {disk_misses} != memory misses {mem_misses}")
    checks.check(mem_misses > 0 and disk_hits > 0,
                 "the load overflowed the memory tier (disk served some gets)",
                 f"memory misses {mem_misses}, disk hits {disk_hits}")
    evictions = value(f'sum(gearkv_store_evictions_total{{{sel}, tier="memory"}})')
    checks.check(evictions > 0, "the memory tier evicted under the load", f"{evictions}")

    # Stored bytes never above capacity, at any scrape of the run.
    window = f"{int(time.time() - run_start) + 5}s"
    peak = value(f'max(max_over_time(gearkv_store_bytes{{{sel}, tier="memory"}}[{window}]))')
    capacity = value(f'max(gearkv_store_capacity_bytes{{{sel}, tier="memory"}})')
    checks.check(0 < peak <= capacity, "memory tier: stored bytes <= capacity at every scrape",
                 f"peak {peak}, capacity {capacity}")
    try:
        over = prom.api("query_range", query=f"gearkv_store_bytes{{{sel}}} > gearkv_store_capacity_bytes{{{sel}}}",
                        start=f"{run_start:.3f}", end=f"{time.time():.3f}", step="1s")["result"]
        checks.check(not over, "no tier above its capacity at any scrape (query_range)", str(over)[:500])
    except (ValueError, urllib.error.URLError) as e:
        checks.check(False, "query_range over the run", str(e))

    # Bytes.
    received = value(f'sum(gearkv_received_raw_bytes_total{{{sel}}})')
    checks.check(received == put_bytes, "received raw bytes = bytes put by the load",
                 f"metrics {received}, load {put_bytes}")
    sent_raw = value(f'sum(gearkv_sent_raw_bytes_total{{{sel}}})')
    sent_expected = sum(b["get"]["ops"] * b["block_raw_bytes"] for b in benches.values())
    sent_expected += load["batch_bytes"]
    checks.check(sent_raw == sent_expected, "sent raw bytes = gets x block size",
                 f"metrics {sent_raw}, bench {sent_expected}")
    sent_wire = value(f'sum(gearkv_sent_wire_bytes_total{{{sel}}})')
    checks.check(0 < sent_wire < sent_raw, "compressed gets put fewer bytes on the wire than raw",
                 f"wire {sent_wire}, raw {sent_raw}")

    # Compression histograms per preset.
    for preset, bench in benches.items():
        count = value(f'sum(gearkv_compression_ratio_count{{{sel}, preset="{preset}"}})')
        expected = puts[preset] + 1 + (BATCH_KEYS if preset == BATCH_PRESET else 0)
        checks.check(count == expected, f"ratio histogram of {preset} holds every put",
                     f"count {count}, puts {expected}")
        mean = value(f'sum(gearkv_compression_ratio_sum{{{sel}, preset="{preset}"}}) / {count}')
        lo, hi = (0.9, 1.0) if preset == "none" else (2.0, 16.0)
        checks.check(lo <= mean <= hi, f"{preset}: mean ratio {mean:.3f} in [{lo}, {hi}]")
        checks.check(abs(mean - bench["ratio"]) <= 0.05 * bench["ratio"] + 0.05,
                     f"{preset}: mean ratio agrees with bench's ({bench['ratio']:.3f})",
                     f"metrics {mean:.3f}")
        err_count = value(f'sum(gearkv_compression_relative_error_count{{{sel}, preset="{preset}"}})')
        err_sum = value(f'sum(gearkv_compression_relative_error_sum{{{sel}, preset="{preset}"}})')
        checks.check(err_count == 1, f"{preset}: one measured relative error", f"{err_count}")
        if preset == "none":
            checks.check(err_sum == 0, "none: relative error 0", f"{err_sum}")
        else:
            checks.check(0 < err_sum < 0.5, f"{preset}: relative error {err_sum:.4f} in (0, 0.5)")
    other = value(f'sum(gearkv_compression_ratio_count{{{sel}, preset="other"}})')
    checks.check(other == 0, "no put counted under preset=\"other\"", f"{other}")

    # Codec: every put compressed once; raw gets decompressed on the server.
    compressed = value(f'sum(gearkv_codec_raw_bytes_total{{{sel}, operation="compress"}})')
    checks.check(compressed == put_bytes, "codec compressed raw bytes = bytes put",
                 f"metrics {compressed}, load {put_bytes}")
    raw_get_bytes = sum(b["get"]["ops"] * b["block_raw_bytes"] for b in benches.values()
                        if b["get_encoding"] == "raw")
    decompressed = value(f'sum(gearkv_codec_raw_bytes_total{{{sel}, operation="decompress"}})')
    checks.check(decompressed == raw_get_bytes, "codec decompressed raw bytes = raw gets x size",
                 f"metrics {decompressed}, bench {raw_get_bytes}")

    # Process and build.
    start = value(f'max(process_start_time_seconds{{{sel}}})')
    checks.check(abs(start - server_start) < 5, "process_start_time_seconds = when the server started",
                 f"{start} vs {server_start}")
    rss = value(f'max(process_resident_memory_bytes{{{sel}}})')
    checks.check(rss > 10 * 2**20, f"process_resident_memory_bytes {rss / 2**20:.0f} MiB > 10 MiB")
    version = re.search(r"project\(gearkv VERSION ([0-9.]+)", (ROOT / "CMakeLists.txt").read_text())
    info = prom.query(f"gearkv_build_info{{{sel}}}")
    checks.check(version is not None and len(info) == 1
                 and info[0]["metric"].get("version") == version.group(1),
                 "gearkv_build_info{version} is the project version", str(info))


UNIT_SCALE = {"bytes": (2**20, "MiB"), "Bps": (2**20, "MiB/s"), "s": (1e-3, "ms"),
              "percentunit": (0.01, "%")}


def plot_dashboard(prom: Prometheus, start: float, end: float, path: Path) -> None:
    """Draws every time-series panel of the dashboard from this run's data into one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dash = json.loads(DASHBOARD.read_text())
    panels = [p for p in dash["panels"] if p.get("type") == "timeseries"]
    cols = 4
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(6 * cols, 3.2 * rows), squeeze=False)
    for ax, panel in zip(axes.flat, panels):
        unit = panel["fieldConfig"]["defaults"].get("unit", "short")
        scale, label = UNIT_SCALE.get(unit, (1, unit.replace("suffix:", "")))
        for target in panel["targets"]:
            expr = target["expr"].replace("$__rate_interval", "10s").replace("$instance", ".*")
            result = prom.api("query_range", query=expr, start=f"{start:.3f}", end=f"{end:.3f}",
                              step="1s")["result"]
            nonzero = [s for s in result
                       if any(math.isfinite(float(v)) and float(v) != 0 for _, v in s["values"])]
            # All-zero children (error codes never answered) only when nothing else has data.
            for series in nonzero or result[:4]:
                xs = [float(t) - start for t, _ in series["values"]]
                ys = [float(v) / scale for _, v in series["values"]]
                name = re.sub(r"\{\{(\w+)\}\}", lambda m: series["metric"].get(m.group(1), ""),
                              target.get("legendFormat") or expr)
                ax.plot(xs, ys, label=name.strip(), linewidth=1.2)
        ax.set_title(panel["title"], fontsize=10)
        ax.set_ylabel(label, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=6, loc="upper left", ncol=2)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.suptitle("gearkv dashboard queries over a real run (tests/prometheus_e2e_test.py): "
                 "gearkv bench, presets " + ", ".join(PRESETS) + "; x = seconds", fontsize=12)
    fig.tight_layout(rect=(0, 0, 1, 0.98))
    fig.savefig(path, dpi=80)
    print(f"wrote {path}")


def default_build_dir() -> str:
    return os.environ.get("GEARKV_BUILD") or str(ROOT / "build")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build-dir", default=default_build_dir(),
                        help="where gearkv-server and gearkv are built (env GEARKV_BUILD)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder and its logs")
    parser.add_argument("--plot", metavar="PNG",
                        help="also draw the dashboard's panels from this run (needs matplotlib)")
    return run(parser.parse_args())


def test_prometheus_e2e():
    """pytest entry point."""
    import pytest  # noqa: PLC0415

    rc = run(argparse.Namespace(build_dir=default_build_dir(), keep=False, plot=None))
    if rc == 77:
        pytest.skip("gearkv binaries, prometheus or promtool missing")
    assert rc == 0


if __name__ == "__main__":
    sys.exit(main())
