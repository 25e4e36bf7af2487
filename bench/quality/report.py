"""Turns results.json of eval_ppl.py into results.md and delta_ppl_vs_bits.png."""
from __future__ import annotations

import json
import os
import sys

from ref_codec import PRESETS
from ref_codec import spec_of as preset_spec_of


def spec_of(label: str) -> tuple | None:
    """(bits, G, rank, s) of "gear2" or "gear2+rank=2+outlier_ratio=0.01"; None for none."""
    return preset_spec_of(label) if label.split("+")[0] in PRESETS else None


def short_label(label: str) -> str:
    """"kivi2+bits=3" -> "kivi3", "gear2+rank=2+outlier_ratio=0.01" -> "gear2 r2 s1%"."""
    name, *fields = label.split("+")
    parts = []
    for f in fields:
        k, _, v = f.partition("=")
        if k == "bits":
            name = name.rstrip("0123456789") + v
        elif k == "rank":
            parts.append(f"r{v}")
        elif k == "outlier_ratio":
            parts.append(f"s{float(v) * 100:g}%")
        elif k == "group_size":
            parts.append(f"G{v}")
        else:
            parts.append(f)
    return " ".join([name, *parts])


def bit_budget(label: str, tokens: int, head_dim: int) -> dict | None:
    """Where the bits of one element go, from the spec (codec.h): the quantized value, an fp16
    scale and minimum per group of G, outliers as fp16 value + 16-bit offset, and the rank-r
    factors per (layer, K|V, head) matrix of tokens x head_dim (block format version 2: u int8
    with an fp16 scale per column, vt fp16)."""
    spec = spec_of(label)
    if spec is None:
        return None
    bits, group, rank, ratio = spec
    return {"quant": float(bits), "scales": 32.0 / group, "outliers": 32.0 * ratio,
            "low_rank": rank * (8.0 * tokens + 16.0 + 16.0 * head_dim) / (tokens * head_dim)}


def _target_lines(rows: list[dict]) -> list[str]:
    by = {r["preset"]: r for r in rows}
    lines = []
    if "gear4" in by:
        d = by["gear4"]["delta_ppl_pct"]
        lines.append(f"- gear4 Δppl ≤ 1%: **{'met' if d <= 1 else 'MISSED'}** ({d:+.3f}%)")
    if "gear2" in by:
        d = by["gear2"]["delta_ppl_pct"]
        lines.append(f"- gear2 Δppl ≤ 10%: **{'met' if d <= 10 else 'MISSED'}** ({d:+.3f}%)")
        if "kivi2" in by:
            k = by["kivi2"]
            ok = d < k["delta_ppl_pct"]
            cheaper = by["gear2"]["bits_per_element"] <= k["bits_per_element"]
            lines.append(
                f"- gear2 Δppl below kivi2's: **{'met' if ok else 'MISSED'}** ({d:+.3f}% vs "
                f"{k['delta_ppl_pct']:+.3f}%); at no more bits/element: "
                f"**{'yes' if cheaper else 'NO'}** ({by['gear2']['bits_per_element']:.3f} vs "
                f"{k['bits_per_element']:.3f})")
    kivis = [r for r in rows if r["preset"].startswith("kivi")]
    gears = [r for r in rows if r["preset"].startswith("gear")]
    if kivis and gears:
        lines.append("- At about equal size, each GEAR spec against the KIVI spec nearest in "
                     "bits/element:")
        for g in gears:
            k = min(kivis, key=lambda r: abs(r["bits_per_element"] - g["bits_per_element"]))
            lower = "GEAR" if g["delta_ppl_pct"] < k["delta_ppl_pct"] else "KIVI"
            extra = g["bits_per_element"] / k["bits_per_element"] - 1
            lines.append(f"  - {g['preset']} {g['bits_per_element']:.2f} b/e, "
                         f"{g['delta_ppl_pct']:+.2f}% vs {k['preset']} "
                         f"{k['bits_per_element']:.2f} b/e, {k['delta_ppl_pct']:+.2f}%: lower "
                         f"Δppl {lower}, GEAR size {extra:+.0%}")
    lines.append("- Why, and what would change it: [README.md](README.md#findings).")
    return lines


def markdown(result: dict) -> str:
    m, rows, fx = result["meta"], result["rows"], result["fixtures"]
    out = ["# Quality: perplexity with the KV cache through gearkv", "",
           f"Model: {m['model']}. Text: `{m['text']}`, first {m['tokens']} tokens, prefilled in "
           f"{m['chunk']}-token chunks; after each chunk its KV (all layers) is Put with the "
           "preset and read back RAW, and the rest of the text is scored against the returned cache. "
           f"Mode: {m['mode']} (codec backend: {m['server_backend']}). "
           f"Baseline (cache untouched): perplexity **{m['baseline_ppl']:.4f}**.", "",
           "Bits/element and the K/V relative errors (‖X−X̂‖/‖X‖, pooled over every block) "
           "are measured on all blocks the evaluation sent; bits/element includes every "
           "header, scale, outlier index and checksum byte.", "",
           ("| preset | bits/element | ratio vs fp16 | rel err K | rel err V | perplexity "
            "| Δ perplexity % |"),
           "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        out.append(f"| {r['preset']} | {r['bits_per_element']:.3f} | {r['ratio_vs_fp16']:.2f}× | "
                   f"{r['rel_err_k']:.4f} | {r['rel_err_v']:.4f} | {r['ppl']:.4f} | "
                   f"{r['delta_ppl_pct']:+.3f} |")
    out += ["", "Targets (issue 6):", *(_target_lines(rows) or ["- (no lossy presets run)"]), "",
            "## On the real-KV fixtures", "",
            "`kernels/testdata/real/`: " + ", ".join(f"`{f}`" for f in m["fixture_files"]) +
            " — one 256-token chunk, layers as named, canonical layout [1][2][kv_heads][tokens]"
            "[head_dim], fp16, dumped from the baseline run.", "",
            ("| preset | bits/element | rel err K | rel err V "
             "| server-measured rel err (per file) |"),
            "|---|---:|---:|---:|---|"]
    for preset, s in fx.items():
        per = ", ".join(f"{p['server_rel_err']:.4f}" if p["server_rel_err"] is not None else "–"
                        for p in s["per_file"])
        out.append(f"| {preset} | {s['bits_per_element']:.3f} | {s['rel_err_k']:.4f} | "
                   f"{s['rel_err_v']:.4f} | {per} |")
    head_dim = m.get("head_dim", 64)
    out += ["", "## Where the bits go", "",
            f"Per element of a {m['chunk']}-token chunk with head_dim {head_dim}, from each "
            "spec (codec.h): quantized value, fp16 scale + minimum per group, outliers "
            "(fp16 value + 16-bit offset), rank-r factors per head (u int8 + fp16 column scales, vt "
            "fp16); the rest of the "
            "measured size is block headers and the checksum.", "",
            "| preset | quantized | scales | outliers | low-rank | sum | measured |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        b = bit_budget(r["preset"], m["chunk"], head_dim)
        if b is None:
            continue
        out.append(f"| {r['preset']} | {b['quant']:.2f} | {b['scales']:.2f} | "
                   f"{b['outliers']:.2f} | {b['low_rank']:.2f} | {sum(b.values()):.2f} | "
                   f"{r['bits_per_element']:.2f} |")
    out += ["", "![Δ perplexity vs bits/element](delta_ppl_vs_bits.png)", "",
            f"torch {m['torch']}, transformers {m['transformers']}, Python {m['python']}. "
            "Reproduce: `bench/quality/run.sh`.", ""]
    return "\n".join(out)


def plot(result: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    rows = result["rows"]
    fig, ax = plt.subplots(figsize=(7.0, 4.4), dpi=120)
    colors = {"kivi": "tab:blue", "gear": "tab:red", "gearl": "tab:brown", "none": "tab:gray"}
    for r in rows:
        family = r["preset"].split("+")[0].rstrip("0123456789")
        marker = "s" if family == "kivi" else "^" if family == "none" else "o"
        ax.scatter(r["bits_per_element"], r["delta_ppl_pct"], marker=marker, s=42, zorder=3,
                   color=colors.get(family, "tab:purple"))
        left = "+" in r["preset"]  # keeps the extra specs' labels off the presets' ones
        ax.annotate(short_label(r["preset"]), (r["bits_per_element"], r["delta_ppl_pct"]),
                    textcoords="offset points", xytext=(-6 if left else 6, -3 if left else 3),
                    ha="right" if left else "left", fontsize=8)
    ax.axhline(1.0, color="tab:green", ls="--", lw=0.8, label="gear4 target (1%)")
    ax.axhline(10.0, color="tab:orange", ls="--", lw=0.8, label="gear2 target (10%)")
    ax.axhline(0.0, color="gray", lw=0.5)
    top = max([r["delta_ppl_pct"] for r in rows] + [10.0])
    if top > 20:
        ax.set_yscale("symlog", linthresh=1.0, linscale=0.6)
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.set_ylim(-0.3, top * 1.8)
    else:
        ax.set_ylim(-0.3, top * 1.15)
    ax.set_xlim(0, max(r["bits_per_element"] for r in rows) + 1.5)
    ax.set_xlabel("bits per element (stored, metadata included; fp16 = 16)")
    ax.set_ylabel("Δ perplexity vs baseline (%, symlog)" if top > 20 else
                  "Δ perplexity vs baseline (%)")
    ax.set_title(f"SmolLM2-135M through gearkv: {result['meta']['tokens']} tokens of GPL-3, "
                 f"{result['meta']['chunk']}-token chunks", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write(result: dict, out_dir: str) -> None:
    with open(os.path.join(out_dir, "results.md"), "w", encoding="utf-8") as f:
        f.write(markdown(result))
    plot(result, os.path.join(out_dir, "delta_ppl_vs_bits.png"))


if __name__ == "__main__":
    d = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(d, "results.json"), encoding="utf-8") as f:
        write(json.load(f), d)
