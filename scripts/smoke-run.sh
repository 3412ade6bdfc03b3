#!/usr/bin/env bash
# Proves the README's first command: `make run` on a fresh home starts a node
# whose /healthz and /readyz answer. The home is a temporary $HOME, so the
# default ~/.medledger is fresh; Go's caches stay where they were.
set -euo pipefail
cd "$(dirname "$0")/.."

export GOCACHE="$(go env GOCACHE)" GOMODCACHE="$(go env GOMODCACHE)" GOPATH="$(go env GOPATH)"
tmp=$(mktemp -d)
export HOME="$tmp"
api=http://127.0.0.1:26680
log="$tmp/run.log"

for port in 26656 26657 26680; do
  if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then
    echo "smoke: port $port is already in use; stop whatever listens there" >&2
    exit 1
  fi
done

make -s build >/dev/null
setsid make run >"$log" 2>&1 &
pid=$!
cleanup() {
  kill -TERM -- -"$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

start=$(date +%s)
until curl -fsS "$api/healthz" >/dev/null 2>&1; do
  if ! kill -0 "$pid" 2>/dev/null; then echo "smoke: make run exited:"; cat "$log"; exit 1; fi
  if [ $(( $(date +%s) - start )) -gt 30 ]; then echo "smoke: no /healthz within 30 s:"; cat "$log"; exit 1; fi
  sleep 0.5
done
until curl -fsS "$api/readyz" >/dev/null 2>&1; do
  if [ $(( $(date +%s) - start )) -gt 30 ]; then echo "smoke: not ready within 30 s:"; cat "$log"; exit 1; fi
  sleep 0.5
done
secs=$(( $(date +%s) - start ))
metrics=$(curl -fsS "$api/metrics")
for m in medledger_height cometbft_consensus_height medledger_api_requests_total; do
  grep -q "^$m" <<<"$metrics" || { echo "smoke: /metrics lacks $m"; exit 1; }
done
curl -fsS "$api/healthz"
portal=$(curl -fsS "$api/")
grep -q 'Your keys' <<<"$portal" || { echo "smoke: / does not serve the web portal"; exit 1; }
grep -q 'data-wasm="/portal/medledger.wasm' <<<"$portal" || { echo "smoke: the portal was built without its crypto module"; exit 1; }
curl -fsS -o /dev/null "$api/portal/medledger.wasm" || { echo "smoke: the portal's crypto module is not served"; exit 1; }
grep -q "Web portal: $api/" "$log" || { echo "smoke: make run did not print the portal URL:"; cat "$log"; exit 1; }
grep -q "API: $api" "$log" || { echo "smoke: make run did not print the API URL:"; cat "$log"; exit 1; }
test -f "$HOME/.medledger/config/genesis.json" || { echo "smoke: ~/.medledger was not initialised"; exit 1; }
echo "smoke: make run served /healthz and /readyz ${secs}s after start (binary already built)"
