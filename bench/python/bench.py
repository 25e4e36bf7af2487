"""The C++ client (`gearkv bench`) and the Python client (gearkv.Client, the native module) side
by side against one gearkv-server: Put and Get (COMPRESSED, decoded into a buffer allocated once
per client) of gear4 blocks, 1 and 8 clients, each client its own connection.

Both sides run the same load: N threads, each cycling over its own 2 keys for --duration seconds
per phase (put, then get); GB/s counts the raw tensor bytes moved (1e9 bytes), as `gearkv bench`
does. Every (size, clients) row alternates C++ and Python --repeats times; the table shows the
medians. Also measured: the payload bytes of a 32 MiB gear4 Get, COMPRESSED vs RAW (the Get
headers' payload_bytes).

    bench/python/run.sh [--duration 3] [--repeats 3]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

import gearkv

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
SIZES = {"1MiB": (2, 8, 128, 128), "32MiB": (32, 8, 256, 128)}  # layers, heads, tokens, dim
KEYS_PER_CLIENT = 2


def block(shape, seed):
    layers, heads, tokens, dim = shape
    rng = np.random.default_rng(seed)
    return rng.standard_normal((layers, 2, heads, tokens, dim), dtype=np.float32).astype(np.float16)


def run_cpp(cli, target, shape, clients, duration):
    layers, heads, tokens, dim = shape
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        subprocess.run([cli, f"--target={target}", "bench", f"--clients={clients}",
                        f"--layers={layers}", f"--kv_heads={heads}", f"--tokens={tokens}",
                        f"--head_dim={dim}", "--preset=gear4", f"--duration_seconds={duration}",
                        f"--keys_per_client={KEYS_PER_CLIENT}", "--namespace=bench-cpp", "-q",
                        f"--json_out={f.name}"], check=True, stdout=subprocess.DEVNULL)
        r = json.load(open(f.name))
    for op in ("put", "get"):
        if r[op]["errors"]:
            raise RuntimeError(f"gearkv bench {op}: {r[op]['first_error']}")
    return r["put"]["raw_gb_per_s"], r["get"]["raw_gb_per_s"]


def timed(clients, duration, op):
    """Runs op(client, iteration) on `clients` threads for `duration` s; raw ops/s."""
    counts = [0] * clients
    errors = []
    start_barrier = threading.Barrier(clients + 1)

    def worker(c):
        start_barrier.wait()
        stop = time.monotonic() + duration
        i = 0
        try:
            while time.monotonic() < stop:
                op(c, i)
                i += 1
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
        counts[c] = i

    threads = [threading.Thread(target=worker, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    start_barrier.wait()
    t0 = time.monotonic()
    for t in threads:
        t.join()
    seconds = time.monotonic() - t0
    if errors:
        raise errors[0]
    return sum(counts) / seconds


def run_python(target, shape, clients, duration):
    conns = [gearkv.Client(target, namespace="bench-py", own_connection=True)
             for _ in range(clients)]
    data = [block(shape, seed=c) for c in range(clients)]
    raw = data[0].nbytes
    keys = [[f"py-{c}-{k}" for k in range(KEYS_PER_CLIENT)] for c in range(clients)]
    for c in range(clients):  # every key exists before the timed phases, however short
        for k in keys[c]:
            conns[c].put(k, data[c], preset="gear4")
    put = timed(clients, duration,
                lambda c, i: conns[c].put(keys[c][i % KEYS_PER_CLIENT], data[c], preset="gear4"))
    outs = [np.empty_like(d) for d in data]  # one buffer per client, allocated once
    get = timed(clients, duration,
                lambda c, i: conns[c].get_into(keys[c][i % KEYS_PER_CLIENT], outs[c]))
    for c in range(clients):
        for k in keys[c]:
            conns[c].delete(k)
        conns[c].close()
    return put * raw / 1e9, get * raw / 1e9


def wire_ratio(target):
    c = gearkv.Client(target, namespace="bench-py-wire")
    x = block(SIZES["32MiB"], seed=99)
    c.put("w", x, preset="gear4")
    out = np.empty_like(x)
    compressed = c.get_into("w", out).payload_bytes
    raw = c.get_into("w", out, encoding="raw").payload_bytes
    c.delete("w")
    return {"raw_bytes": x.nbytes, "compressed_payload_bytes": compressed,
            "raw_payload_bytes": raw, "ratio": raw / compressed}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", required=True)
    ap.add_argument("--cli", required=True, help="the gearkv CLI binary")
    ap.add_argument("--duration", type=float, default=3.0, help="seconds per phase")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json_out", default=os.path.join(REPO, "bench", "results",
                                                       "python_client.json"))
    args = ap.parse_args()
    rows = []
    for size, shape in SIZES.items():
        for clients in (1, 8):
            cpp, py = [], []
            for _ in range(args.repeats):
                cpp.append(run_cpp(args.cli, args.target, shape, clients, args.duration))
                py.append(run_python(args.target, shape, clients, args.duration))
            for i, op in enumerate(("put", "get")):
                c = statistics.median(r[i] for r in cpp)
                p = statistics.median(r[i] for r in py)
                rows.append({"op": op, "block": size, "clients": clients, "cpp_gb_per_s": c,
                             "python_gb_per_s": p, "ratio": p / c,
                             "cpp_runs": [r[i] for r in cpp], "python_runs": [r[i] for r in py]})
                print(f"  {op} {size} x{clients}: C++ {c:.3f} GB/s, Python {p:.3f} GB/s, "
                      f"{p / c:.2f}x", file=sys.stderr, flush=True)
    wire = wire_ratio(args.target)
    lines = ["| op | block (gear4, fp16) | clients | C++ GB/s | Python GB/s | Python / C++ |",
             "|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (r["op"] != "put", r["block"], r["clients"])):
        lines.append(f"| {r['op']} | {r['block']} | {r['clients']} | {r['cpp_gb_per_s']:.3f} | "
                     f"{r['python_gb_per_s']:.3f} | {r['ratio']:.2f}x |")
    lines.append("")
    lines.append(f"32 MiB gear4 Get payload: COMPRESSED {wire['compressed_payload_bytes']} bytes, "
                 f"RAW {wire['raw_payload_bytes']} bytes: {wire['ratio']:.2f}x fewer bytes")
    print("\n".join(lines))
    result = {"duration_s": args.duration, "repeats": args.repeats, "cpu_count": os.cpu_count(),
              "rows": rows, "wire": wire, "target_ratio": 0.9,
              "target_met": all(r["ratio"] >= 0.9 for r in rows)}
    with open(args.json_out, "w") as f:
        json.dump(result, f, indent=2)
    with open(os.path.splitext(args.json_out)[0] + ".md", "w") as f:
        f.write("# C++ client vs Python client (bench/python/run.sh)\n\n"
                f"Medians of {args.repeats} alternating runs, {args.duration} s per phase, "
                f"{os.cpu_count()} CPUs, one gearkv-server on loopback.\n\n" + "\n".join(lines)
                + "\n")
    print(f"wrote {args.json_out}", file=sys.stderr)


if __name__ == "__main__":
    main()
