#!/usr/bin/env bash
# A short run of the README's bench command: `medledger bench --baseline
# --json anchor` completes and its last line is one JSON object that counts
# every tx it sent as committed. It asserts nothing about speed.
set -euo pipefail
cd "$(dirname "$0")/.."
make -s build >/dev/null
out=$(bin/medledger bench --baseline --json --txs 300 --concurrency 6 --window 10 --block-time 200ms anchor 2>/dev/null)
last=$(tail -n 1 <<<"$out")
for k in tx_per_s p50_ms p99_ms baseline_tx_per_s ratio; do
  grep -q "\"$k\":" <<<"$last" || { echo "smoke-bench: the JSON line lacks $k: $last"; exit 1; }
done
grep -q '"txs":300,' <<<"$last" || { echo "smoke-bench: expected 300 committed txs: $last"; exit 1; }
grep -q '"uncommitted":0' <<<"$last" || { echo "smoke-bench: txs left uncommitted: $last"; exit 1; }
echo "smoke-bench: medledger bench --baseline --json anchor counted 300 of 300 txs"
