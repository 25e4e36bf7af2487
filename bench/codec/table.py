"""Prints a markdown table of the codec benchmark's medians (GB/s of fp16 input) from its JSON.

    python3 bench/codec/table.py bench/results/codec.json
"""
import json
import re
import sys

results = json.load(open(sys.argv[1]))
gbps = {}  # (op, preset, threads, AVX-512 allowed) -> GB/s
bits = {}
avx512 = False  # whether the default runs used the AVX-512 kernels
for b in results["benchmarks"]:
    if b.get("aggregate_name") != "median":
        continue
    name = b["run_name"]
    rate = b["bytes_per_second"] / 1e9
    if name.startswith("BM_Layout"):  # layout_table.py's
        continue
    if name.startswith("BM_Memcpy"):
        gbps[("memcpy", "", 1, 1)] = rate
        continue
    m = re.match(r"BM_(Compress|Decompress)/(\w+)/(\d+)/(\d+)", name)
    op, preset, threads, wide = m.group(1).lower(), m.group(2), int(m.group(3)), int(m.group(4))
    gbps[(op, preset, threads, wide)] = rate
    if wide and b.get("avx512"):
        avx512 = True
    if "bits_per_element" in b:
        bits[preset] = b["bits_per_element"]

ctx = results["context"]
print(f"Block: 4 layers x 8 KV heads x 256 tokens x 128 head_dim, K and V, fp16 (4 MiB); "
      f"{ctx.get('num_cpus')} CPUs at {ctx.get('mhz_per_cpu')} MHz; medians of "
      f"{len([b for b in results['benchmarks'] if b.get('aggregate_name') == 'median'])} "
      f"benchmarks x 5 repetitions. memcpy of the same 4 MiB: "
      f"{gbps[('memcpy', '', 1, 1)]:.2f} GB/s. AVX-512 kernels: "
      f"{'used (the x86-64-v3 columns force the others)' if avx512 else 'not on this CPU'}.\n")
print("| preset | bits/element | compress GB/s (1 thread) | decompress GB/s (1 thread) "
      "| compress 2 threads (scaling) | decompress 2 threads (scaling) "
      "| compress, x86-64-v3 kernels (1 thread) | decompress, x86-64-v3 kernels (1 thread) |")
print("|---|---|---|---|---|---|---|---|")
presets = sorted({p for (_, p, _, _) in gbps if p}, key=lambda p: list(bits).index(p))
for p in presets:
    c1, d1 = gbps[("compress", p, 1, 1)], gbps[("decompress", p, 1, 1)]
    c2, d2 = gbps[("compress", p, 2, 1)], gbps[("decompress", p, 2, 1)]
    c3, d3 = gbps[("compress", p, 1, 0)], gbps[("decompress", p, 1, 0)]
    print(f"| {p} | {bits[p]:.2f} | {c1:.2f} | {d1:.2f} | {c2:.2f} ({c2 / c1:.2f}x) "
          f"| {d2:.2f} ({d2 / d1:.2f}x) | {c3:.2f} | {d3:.2f} |")
