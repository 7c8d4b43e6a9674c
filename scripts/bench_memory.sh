#!/usr/bin/env bash
# Memory under load: streams generated CSV through the gateway and reports the server's peak RSS
# against its idle RSS, for a fast reader (aggregates), a slow reader (records read back slowly)
# and STREAMS slow readers at once (default 8, each with an equal share of the input), at each
# size. The input is a 10 MB generated block repeated on the fly: never stored.
# TRANSPORT_WINDOW=N (MiB) fixes each stream's HTTP/2 window (server.transport_window_bytes);
# unset, gRPC's adaptive window is used, as in config/examples/bench.yaml.
# Usage: [STREAMS=N] [TRANSPORT_WINDOW=MiB] scripts/bench_memory.sh [sizes in GiB, default "1 4"]
# (output: a Markdown table)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
sizes="${*:-1 4}"
streams="${STREAMS:-8}"
window_mib="${TRANSPORT_WINDOW:-0}"
"$root/scripts/deps.sh"
"$root/scripts/build.sh" "$root/build" >/dev/null

work="$(mktemp -d)"
gateway_pid=""
cleanup() { [ -n "$gateway_pid" ] && kill "$gateway_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

config="$work/bench.yaml"
sed "s/^server:$/server:\n  transport_window_bytes: ${window_mib}MiB/" "$root/config/examples/bench.yaml" > "$config"
/usr/bin/python3 "$root/scripts/gen_access_log.py" --bytes 10MB > "$work/block.csv"
head -n 1 "$work/block.csv" > "$work/header.csv"
tail -n +2 "$work/block.csv" > "$work/body.csv"
block_bytes=$(stat -c %s "$work/body.csv")

rss_kib() { awk -v key="$2:" '$1 == key { print $2 }' "/proc/$1/status"; }

start_gateway() {
  rm -f "$work/port"
  "$root/build/gateway/sluice-gateway" --config "$config" --listen 127.0.0.1:0 \
    --port-file "$work/port" --log-level warn &
  gateway_pid=$!
  for _ in $(seq 1 100); do [ -s "$work/port" ] && break; sleep 0.1; done
  [ -s "$work/port" ] || { echo "gateway did not start" >&2; exit 1; }
}

stop_gateway() { kill -TERM "$gateway_pid"; wait "$gateway_pid" || true; gateway_pid=""; }

input() {  # $1 = bytes, rounded up to whole blocks
  local repeats=$(( ($1 + block_bytes - 1) / block_bytes ))
  cat "$work/header.csv"
  for _ in $(seq 1 "$repeats"); do cat "$work/body.csv"; done
}

slow_reader() {  # $1 = bytes
  input "$1" | "$root/build/gateway/sluice-client" --target "127.0.0.1:$(cat "$work/port")" \
    send --pipeline server_errors --mode process --result-delay-ms 2 - > /dev/null
}

# What the config lets each stream hold (the bound that gateway_config checks against
# max_memory_bytes): its bytes in flight, one message being received and a fixed window.
per_stream_mib=$(awk '$1 ~ /^(max_bytes_in_flight|max_message_bytes|transport_window_bytes):$/ && $2 ~ /^[0-9]+MiB$/ {
                        sum += $2 + 0; n++ }
                      END { if (n != 3) exit 1; print sum }' "$config") ||
  { echo "bench.yaml: expected max_bytes_in_flight and max_message_bytes in MiB" >&2; exit 1; }

echo "| input | reader | idle RSS (MiB) | peak RSS (MiB) | peak - idle (MiB) | streams x budget (MiB) | throughput (MB/s) |"
echo "|---|---|---|---|---|---|---|"
for gib in $sizes; do
  total=$(( gib * 1073741824 ))
  for reader in fast slow "slow x$streams"; do
    start_gateway
    idle=$(rss_kib "$gateway_pid" VmRSS)
    start=$(date +%s.%N)
    case "$reader" in
      fast)
        input "$total" | "$root/build/gateway/sluice-client" --target "127.0.0.1:$(cat "$work/port")" \
          send --pipeline reference - > "$work/out.txt"
        bytes=$(( (total + block_bytes - 1) / block_bytes * block_bytes )); budget=$per_stream_mib ;;
      slow)
        slow_reader "$total"
        bytes=$(( (total + block_bytes - 1) / block_bytes * block_bytes )); budget=$per_stream_mib ;;
      *)
        share=$(( total / streams )); readers=()
        for _ in $(seq 1 "$streams"); do slow_reader "$share" & readers+=($!); done
        for pid in "${readers[@]}"; do wait "$pid"; done
        bytes=$(( streams * ((share + block_bytes - 1) / block_bytes * block_bytes) )); budget=$(( streams * per_stream_mib )) ;;
    esac
    end=$(date +%s.%N)
    peak=$(rss_kib "$gateway_pid" VmHWM)
    stop_gateway
    awk -v g="$gib" -v r="$reader" -v i="$idle" -v p="$peak" -v b="$bytes" -v s="$start" -v e="$end" -v m="$budget" \
      'BEGIN { printf "| %d GiB | %s | %.1f | %.1f | %.1f | %d | %.0f |\n", g, r, i/1024, p/1024, (p-i)/1024, m, b/(e-s)/1e6 }'
  done
done
