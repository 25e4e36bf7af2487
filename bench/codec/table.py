"""Prints a markdown table of the codec benchmark's medians (GB/s of fp16 input) from its JSON.

    python3 bench/codec/table.py bench/results/codec.json
"""
import json
import re
import sys

results = json.load(open(sys.argv[1]))
gbps = {}  # (op, preset, threads) -> GB/s
bits = {}
for b in results["benchmarks"]:
    if b.get("aggregate_name") != "median":
        continue
    name = b["run_name"]
    rate = b["bytes_per_second"] / 1e9
    if name.startswith("BM_Memcpy"):
        gbps[("memcpy", "", 1)] = rate
        continue
    m = re.match(r"BM_(Compress|Decompress)/(\w+)/(\d+)", name)
    op, preset, threads = m.group(1).lower(), m.group(2), int(m.group(3))
    gbps[(op, preset, threads)] = rate
    if "bits_per_element" in b:
        bits[preset] = b["bits_per_element"]

ctx = results["context"]
print(f"Block: 4 layers x 8 KV heads x 256 tokens x 128 head_dim, K and V, fp16 (4 MiB); "
      f"{ctx.get('num_cpus')} CPUs at {ctx.get('mhz_per_cpu')} MHz; medians of "
      f"{len([b for b in results['benchmarks'] if b.get('aggregate_name') == 'median'])} "
      f"benchmarks x 5 repetitions. memcpy of the same 4 MiB: "
      f"{gbps[('memcpy', '', 1)]:.2f} GB/s.\n")
print("| preset | bits/element | compress GB/s (1 thread) | decompress GB/s (1 thread) "
      "| compress 2 threads (scaling) | decompress 2 threads (scaling) |")
print("|---|---|---|---|---|---|")
presets = sorted({p for (_, p, _) in gbps if p}, key=lambda p: list(bits).index(p))
for p in presets:
    c1, d1 = gbps[("compress", p, 1)], gbps[("decompress", p, 1)]
    c2, d2 = gbps[("compress", p, 2)], gbps[("decompress", p, 2)]
    print(f"| {p} | {bits[p]:.2f} | {c1:.2f} | {d1:.2f} | {c2:.2f} ({c2 / c1:.2f}x) "
          f"| {d2:.2f} ({d2 / d1:.2f}x) |")
