#!/usr/bin/env bash
# Memory under load: streams generated CSV through the gateway and reports the server's peak RSS
# against its idle RSS, for a fast reader (aggregates) and a slow reader (records read back
# slowly), at each size. The input is a 10 MB generated block repeated on the fly: never stored.
# Usage: scripts/bench_memory.sh [sizes in GiB, default "1 4"]   (output: a Markdown table)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
sizes="${*:-1 4}"
"$root/scripts/deps.sh"
"$root/scripts/build.sh" "$root/build" >/dev/null

work="$(mktemp -d)"
gateway_pid=""
cleanup() { [ -n "$gateway_pid" ] && kill "$gateway_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

/usr/bin/python3 "$root/scripts/gen_access_log.py" --bytes 10MB > "$work/block.csv"
head -n 1 "$work/block.csv" > "$work/header.csv"
tail -n +2 "$work/block.csv" > "$work/body.csv"
block_bytes=$(stat -c %s "$work/body.csv")

rss_kib() { awk -v key="$2:" '$1 == key { print $2 }' "/proc/$1/status"; }

start_gateway() {
  rm -f "$work/port"
  "$root/build/gateway/sluice-gateway" --config "$root/config/examples/bench.yaml" --listen 127.0.0.1:0 \
    --port-file "$work/port" --log-level warn &
  gateway_pid=$!
  for _ in $(seq 1 100); do [ -s "$work/port" ] && break; sleep 0.1; done
  [ -s "$work/port" ] || { echo "gateway did not start" >&2; exit 1; }
}

stop_gateway() { kill -TERM "$gateway_pid"; wait "$gateway_pid" || true; gateway_pid=""; }

input() {  # $1 = GiB
  local repeats=$(( ($1 * 1073741824 + block_bytes - 1) / block_bytes ))
  cat "$work/header.csv"
  for _ in $(seq 1 "$repeats"); do cat "$work/body.csv"; done
}

echo "| input | reader | idle RSS (MiB) | peak RSS (MiB) | peak - idle (MiB) | throughput (MB/s) |"
echo "|---|---|---|---|---|---|"
for gib in $sizes; do
  for reader in fast slow; do
    start_gateway
    idle=$(rss_kib "$gateway_pid" VmRSS)
    start=$(date +%s.%N)
    if [ "$reader" = fast ]; then
      input "$gib" | "$root/build/gateway/sluice-client" --target "127.0.0.1:$(cat "$work/port")" \
        send --pipeline reference --chunk-size 65536 - > "$work/out.txt"
    else
      input "$gib" | "$root/build/gateway/sluice-client" --target "127.0.0.1:$(cat "$work/port")" \
        send --pipeline server_errors --mode process --result-delay-ms 2 --chunk-size 65536 - > /dev/null
    fi
    end=$(date +%s.%N)
    peak=$(rss_kib "$gateway_pid" VmHWM)
    stop_gateway
    bytes=$(( (gib * 1073741824 + block_bytes - 1) / block_bytes * block_bytes ))
    awk -v g="$gib" -v r="$reader" -v i="$idle" -v p="$peak" -v b="$bytes" -v s="$start" -v e="$end" \
      'BEGIN { printf "| %d GiB | %s | %.1f | %.1f | %.1f | %.0f |\n", g, r, i/1024, p/1024, (p-i)/1024, b/(e-s)/1e6 }'
  done
done
