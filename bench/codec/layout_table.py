"""Prints the codec benchmark's layout rows (medians, GB/s of fp16 input) as a markdown table.

    python3 bench/codec/layout_table.py bench/results/codec_layout.json
"""
import json
import re
import sys

results = json.load(open(sys.argv[1]))
gbps = {}  # (op, layout argument) -> GB/s over real time
cpu = {}  # the same over CPU time (less sensitive to other processes on a shared machine)
reps = 0
for b in results["benchmarks"]:
    if b.get("aggregate_name") != "median":
        continue
    m = re.match(r"BM_Layout(Compress|Decompress)/(\d)", b["run_name"])
    if m:
        key = (m.group(1).lower(), int(m.group(2)))
        gbps[key] = b["bytes_per_second"] / 1e9
        cpu[key] = gbps[key] * b["real_time"] / b["cpu_time"]
        reps = b.get("repetitions", reps)

ctx = results["context"]
print(f"gear4, one thread; block 32 layers x 8 KV heads x 256 tokens x 128 head_dim, K and V, "
      f"fp16 (32 MiB, Llama-3-8B's KV of 256 tokens); {ctx.get('num_cpus')} CPUs at "
      f"{ctx.get('mhz_per_cpu')} MHz; medians of {reps} repetitions, interleaved at random. "
      f"Put as KV_2LTD means compressed from KV_2LTD memory, got as KV_2LTD decompressed into it; "
      f"the block is the same. Target: KV_2LTD within 10% of canonical.\n")
print("| operation | canonical GB/s | KV_2LTD GB/s | KV_2LTD / canonical "
      "| over CPU time: canonical | KV_2LTD | ratio |")
print("|---|---|---|---|---|---|---|")
for op in ("compress", "decompress"):
    c, k = gbps[(op, 0)], gbps[(op, 1)]
    cc, ck = cpu[(op, 0)], cpu[(op, 1)]
    print(f"| {op} | {c:.2f} | {k:.2f} | {k / c:.3f} | {cc:.2f} | {ck:.2f} | {ck / cc:.3f} |")
