#!/usr/bin/python3
"""The benchmark suite's checks and report (called by scripts/bench).

  report.py check --input CSV NAME=FILE:KIND ...
      Compares the reference aggregates per (country, status) -- count, sum(bytes),
      mean(latency_ms) and p99(latency_ms) -- across outputs; KIND is `sluice` (sluice-client
      --json and embedded_run) or `mlr` (Miller's JSON). Counts and sums must be equal, means
      within 1e-6 relative. A p99 is checked against the sorted latencies of its group, read from
      the input CSV, at the rank its tool defines: Miller's must be the value at rank
      floor(0.99 n), exactly; sluice's (and the seed server's) within DDSketch's relative accuracy
      (1%) of the value at rank floor(0.99 (n - 1)). Exits 1, listing the differences, when they
      do not agree.

  report.py report --meta META.json --times TIMES.tsv --out-dir DIR [--micro MICRO.json]
      TIMES.tsv holds one measurement a line: KEY<TAB>VALUE (seconds, or messages/s for the
      small-message keys, or KiB for the memory keys; KEY_client_cpu and KEY_server_cpu: the CPU
      seconds of the client and of the server during a run of KEY). Writes DIR/latest.json,
      DIR/latest.md and DIR/throughput.png (with gnuplot), prints the Markdown and the goals check.
"""
import argparse
import csv
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile


def aggregates(path, kind):
    with open(path) as f:
        data = json.load(f)
    out = {}
    if kind == "mlr":
        for rec in data:
            out[(str(rec["country"]), int(rec["status"]))] = (int(rec["bytes_count"]), int(rec["bytes_sum"]),
                                                               float(rec["latency_ms_mean"]),
                                                               float(rec["latency_ms_p99"]))
        return out
    results = data["results"]
    if len(results) != 1:
        raise SystemExit(f"{path}: expected one result batch, got {len(results)}")
    cols = results[0]["columns"]
    idx = {c: cols.index(c) for c in ("country", "status", "requests", "bytes", "mean_latency_ms", "p99_latency_ms")}
    for row in results[0]["rows"]:
        out[(str(row[idx["country"]]), int(row[idx["status"]]))] = (int(row[idx["requests"]]), int(row[idx["bytes"]]),
                                                                     float(row[idx["mean_latency_ms"]]),
                                                                     float(row[idx["p99_latency_ms"]]))
    return out


P99_RELATIVE_ACCURACY = 0.01  # sluice's DDSketch default


def exact_p99s(input_path):
    """{(country, status): (n, p99 at sluice's rank, p99 at Miller's rank)} from the input CSV."""
    latencies = {}
    with open(input_path, newline="") as f:
        for row in csv.DictReader(f):
            status = int(row["status"])
            if status >= 400:
                latencies.setdefault((row["country"], status), []).append(float(row["latency_ms"]))
    exact = {}
    for key, values in latencies.items():
        values.sort()
        n = len(values)
        exact[key] = (n, values[math.floor(0.99 * (n - 1))], values[min(n - 1, math.floor(0.99 * n))])
    return exact


def check(input_path, specs):
    named, kinds = [], []
    for spec in specs:
        name, rest = spec.split("=", 1)
        path, kind = rest.rsplit(":", 1)
        named.append((name, aggregates(path, kind)))
        kinds.append(kind)
    base_name, base = named[0]
    problems = []
    if not base:
        problems.append(f"{base_name}: no groups at all")
    for name, other in named[1:]:
        for key in sorted(set(base) | set(other)):
            if key not in other or key not in base:
                problems.append(f"{name}: group {key} is {'missing' if key not in other else 'extra'} vs {base_name}")
                continue
            (c1, s1, m1, _), (c2, s2, m2, _) = base[key], other[key]
            if c1 != c2 or s1 != s2:
                problems.append(f"{name}: group {key}: count/sum {c2}/{s2}, {base_name} has {c1}/{s1}")
            if abs(m1 - m2) > 1e-6 * max(abs(m1), abs(m2), 1e-300):
                problems.append(f"{name}: group {key}: mean {m2!r}, {base_name} has {m1!r}")
    exact = exact_p99s(input_path)
    for (name, result), kind in zip(named, kinds):
        for key, (count, _, _, p99) in sorted(result.items()):
            n, sluice_rank, miller_rank = exact.get(key, (0, 0.0, 0.0))
            if n != count:
                problems.append(f"{name}: group {key}: {count} requests, the input has {n}")
            elif kind == "mlr" and p99 != miller_rank:
                problems.append(f"{name}: group {key}: p99 {p99!r}, the input's value at its rank is {miller_rank!r}")
            elif kind != "mlr" and abs(p99 - sluice_rank) > P99_RELATIVE_ACCURACY * abs(sluice_rank) * (1 + 1e-9):
                problems.append(f"{name}: group {key}: p99 {p99!r}, more than 1% from the input's {sluice_rank!r}")
    if problems:
        print("RESULTS DIFFER -- the timings would mean nothing:", file=sys.stderr)
        for p in problems[:40]:
            print("  " + p, file=sys.stderr)
        sys.exit(1)
    groups = len(base)
    requests = sum(c for c, _, _, _ in base.values())
    print(f"results agree across {', '.join(n for n, _ in named)}: {groups} groups, {requests} requests with status >= 400")


# What each timed key is, in the order of the table.
THROUGHPUT = [
    ("e2e", "sluice end to end: sluice-client Upload -> gateway, `reference`"),
    ("raw_sink", "raw gRPC C++ sink (same client, counts bytes)"),
    ("embedded", "embedded pipeline (run_stream, no gRPC)"),
    ("wc", "memory-scan limit: `wc -l`"),
    ("miller", "Miller: `mlr --icsv --ojson filter ... then stats1 ...`"),
    ("python", "seed-style Python grpcio server (csv + dict)"),
    ("scale2", "2 concurrent sluice streams (aggregate)"),
    ("scale2_sink", "2 concurrent raw sink streams (aggregate): the transport's own scaling"),
]
TWO_STREAMS = ("scale2", "scale2_sink")
MESSAGES = [
    ("small_sluice", "small messages: sluice Process, `passthrough` (100 B records)"),
    ("small_echo", "small messages: raw gRPC C++ echo (100 B records)"),
]


def fmt_ratio(x, target=None):
    """x as a ratio; against a target, with the digits it takes not to look like the target when
    it misses it (0.2466 is "0.247x", not "0.25x")."""
    digits = 2 if x < 10 else 1
    while target is not None and x < target and digits < 4 and round(x, digits) >= target:
        digits += 1
    return f"{x:.{digits}f}x"


def report(args):
    with open(args.meta) as f:
        meta = json.load(f)
    runs = {}
    with open(args.times) as f:
        for line in f:
            if line.strip():
                key, value = line.split("\t")
                runs.setdefault(key, []).append(float(value))
    size = meta["input_bytes"]
    med = {k: statistics.median(v) for k, v in runs.items()}

    results = {}
    for key, label in THROUGHPUT:
        if key in med:
            moved = size * (2 if key in TWO_STREAMS else 1)
            results[key] = {"label": label, "unit": "s", "runs": runs[key], "median_s": med[key],
                            "mb_per_s": moved / med[key] / 1e6}
            for side in ("client", "server"):
                if f"{key}_{side}_cpu" in med:
                    results[key][f"{side}_cpu_s"] = med[f"{key}_{side}_cpu"]
    for key, label in MESSAGES:
        if key in med:
            results[key] = {"label": label, "unit": "msgs/s", "runs": runs[key], "median_msgs_per_s": med[key]}
    memory = {}
    for reader in ("fast", "slow"):
        if f"rss_idle_{reader}" in runs:
            idle = [k / 1024 for k in runs[f"rss_idle_{reader}"]]
            peak = [k / 1024 for k in runs[f"rss_peak_{reader}"]]
            growth = [p - i for i, p in zip(idle, peak)]
            memory[reader] = {"idle_mib": idle, "peak_mib": peak, "growth_mib": growth,
                              "median_growth_mib": statistics.median(growth), "max_growth_mib": max(growth)}

    def mbs(key):
        return results[key]["mb_per_s"] if key in results else None

    ratios = {}
    if mbs("e2e"):
        for key, name in (("raw_sink", "e2e_vs_raw_sink"), ("python", "e2e_vs_python"), ("miller", "e2e_vs_miller")):
            if mbs(key):
                ratios[name] = mbs("e2e") / mbs(key)
        if mbs("scale2"):
            ratios["two_streams_vs_one"] = mbs("scale2") / mbs("e2e")
    if mbs("raw_sink") and mbs("scale2_sink"):
        ratios["sink_two_streams_vs_one"] = mbs("scale2_sink") / mbs("raw_sink")
    if mbs("embedded") and mbs("wc"):
        ratios["embedded_vs_wc"] = mbs("embedded") / mbs("wc")
    if "small_sluice" in med and "small_echo" in med:
        ratios["small_sluice_vs_echo"] = med["small_sluice"] / med["small_echo"]

    goals = []

    def goal(name, ratio_key, target):
        if ratio_key in ratios:
            goals.append({"goal": name, "target": target, "value": ratios[ratio_key],
                          "held": ratios[ratio_key] >= target})

    goal("sluice e2e >= 0.75x raw gRPC sink", "e2e_vs_raw_sink", 0.75)
    goal("sluice e2e >= 12x seed Python", "e2e_vs_python", 12)
    goal("sluice e2e >= 18x Miller", "e2e_vs_miller", 18)
    goal("embedded >= 0.25x wc -l", "embedded_vs_wc", 0.25)
    goal("small-message bidi >= 0.8x raw echo", "small_sluice_vs_echo", 0.8)
    goal("2 streams >= 1.7x one stream", "two_streams_vs_one", 1.7)
    for reader, m in memory.items():
        goals.append({"goal": f"peak RSS <= idle + 64 MiB ({reader} reader, worst run)", "target": 64.0,
                      "value": m["max_growth_mib"], "held": m["max_growth_mib"] <= 64.0})

    micro = []
    if args.micro and os.path.exists(args.micro):
        with open(args.micro) as f:
            for b in json.load(f).get("benchmarks", []):
                micro.append({"name": b["name"], "real_time": b["real_time"], "cpu_time": b["cpu_time"],
                              "time_unit": b.get("time_unit", "ns"),
                              "bytes_per_second": b.get("bytes_per_second"),
                              "items_per_second": b.get("items_per_second")})

    os.makedirs(args.out_dir, exist_ok=True)
    latest = {"meta": meta, "results": results, "ratios": ratios, "memory": memory, "goals": goals,
              "micro_benchmarks": micro}
    with open(os.path.join(args.out_dir, "latest.json"), "w") as f:
        json.dump(latest, f, indent=2)
        f.write("\n")

    md = []
    md.append(f"Input: {size / 1e6:.0f} MB CSV access log ({meta['input_name']}), {meta['chunk_size'] // 1024} KiB chunks; "
              f"median of {meta['runs']} runs after a warm-up, page cache warm. {meta['machine']}.")
    md.append("")
    md.append("| benchmark | median | runs (min-max) | throughput | ratios |")
    md.append("|---|---:|---:|---:|---|")
    for key, label in THROUGHPUT:
        if key not in results:
            continue
        r = results[key]
        notes = []
        if key == "e2e":
            for rk, name in (("e2e_vs_raw_sink", "raw sink"), ("e2e_vs_python", "Python"), ("e2e_vs_miller", "Miller")):
                if rk in ratios:
                    notes.append(f"{fmt_ratio(ratios[rk])} {name}")
        if key == "embedded" and "embedded_vs_wc" in ratios:
            notes.append(f"{fmt_ratio(ratios['embedded_vs_wc'])} wc -l")
        if key == "scale2" and "two_streams_vs_one" in ratios:
            notes.append(f"{fmt_ratio(ratios['two_streams_vs_one'])} one stream")
        if key == "scale2_sink" and "sink_two_streams_vs_one" in ratios:
            notes.append(f"{fmt_ratio(ratios['sink_two_streams_vs_one'])} one sink stream")
        md.append(f"| {label} | {r['median_s']:.3f} s | {min(r['runs']):.3f}-{max(r['runs']):.3f} s "
                  f"| {r['mb_per_s']:.1f} MB/s | {', '.join(notes)} |")
    for key, label in MESSAGES:
        if key not in results:
            continue
        note = ""
        if key == "small_sluice" and "small_sluice_vs_echo" in ratios:
            note = f"{fmt_ratio(ratios['small_sluice_vs_echo'])} raw echo"
        r = results[key]
        md.append(f"| {label} | | {min(r['runs']):,.0f}-{max(r['runs']):,.0f} msgs/s "
                  f"| {r['median_msgs_per_s']:,.0f} msgs/s | {note} |")
    with_cpu = [key for key, _ in THROUGHPUT if "server_cpu_s" in results.get(key, {})]
    if with_cpu:
        md.append("")
        md.append("| CPU per run (user + system, median) | client | server | both | wall | cores busy |")
        md.append("|---|---:|---:|---:|---:|---:|")
        for key in with_cpu:
            r = results[key]
            both = r["client_cpu_s"] + r["server_cpu_s"]
            md.append(f"| {r['label']} | {r['client_cpu_s']:.3f} s | {r['server_cpu_s']:.3f} s | {both:.3f} s "
                      f"| {r['median_s']:.3f} s | {both / r['median_s']:.2f} |")
    if memory:
        md.append("")
        md.append("| gateway memory, a fresh gateway per run | idle VmRSS | peak VmHWM (max) "
                  "| peak - idle: median | runs (min-max) |")
        md.append("|---|---:|---:|---:|---:|")
        names = {"fast": "end to end (`reference`, Upload)", "slow": "slow reader (`server_errors`, Process, 2 ms per reply)"}
        for reader, m in memory.items():
            md.append(f"| {names[reader]} | {statistics.median(m['idle_mib']):.1f} MiB | {max(m['peak_mib']):.1f} MiB "
                      f"| {m['median_growth_mib']:.1f} MiB | {min(m['growth_mib']):.1f}-{m['max_growth_mib']:.1f} MiB |")
    md.append("")
    md.append("| goal | value | held |")
    md.append("|---|---:|---|")
    for g in goals:
        value = f"{g['value']:.1f} MiB" if "RSS" in g["goal"] else fmt_ratio(g["value"], g["target"])
        md.append(f"| {g['goal']} | {value} | {'yes' if g['held'] else '**no**'} |")
    if micro:
        md.append("")
        md.append("| microbenchmark (sample log, 2451 records) | CPU time per iteration | wall time | throughput (CPU) |")
        md.append("|---|---:|---:|---:|")
        for b in micro:
            rate = []
            if b["bytes_per_second"]:
                rate.append(f"{b['bytes_per_second'] / 1e6:.0f} MB/s")
            if b["items_per_second"]:
                rate.append(f"{b['items_per_second'] / 1e6:.1f} M records/s")
            md.append(f"| {b['name']} | {b['cpu_time']:,.0f} {b['time_unit']} | {b['real_time']:,.0f} {b['time_unit']} "
                      f"| {', '.join(rate)} |")
    text = "\n".join(md) + "\n"
    with open(os.path.join(args.out_dir, "latest.md"), "w") as f:
        f.write(text)
    print(text)
    print("goals:")
    for g in goals:
        print(f"  [{'held' if g['held'] else 'MISSED'}] {g['goal']}: "
              + (f"{g['value']:.1f} MiB" if "RSS" in g["goal"] else fmt_ratio(g["value"], g["target"])))
    plot(results, meta, os.path.join(args.out_dir, "throughput.png"))


def plot(results, meta, png):
    rows = [(key, results[key]["mb_per_s"]) for key, _ in THROUGHPUT if key in results]
    if not rows:
        return
    short = {"e2e": "sluice e2e", "raw_sink": "raw gRPC sink", "embedded": "embedded", "wc": "wc -l",
             "miller": "Miller", "python": "seed Python", "scale2": "sluice x2 streams",
             "scale2_sink": "raw sink x2 streams"}
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "data.tsv")
        with open(data, "w") as f:
            for i, (key, value) in enumerate(rows):
                f.write(f'{i}\t"{short[key]}"\t{value:.3f}\n')
        title = f"sluice benchmarks: {meta['input_bytes'] / 1e6:.0f} MB CSV, median of {meta['runs']} runs" + \
                (" (quick run, noisy)" if meta.get("quick") else "")
        script = f"""
set terminal pngcairo size 1000,560 font ",10"
set output "{png}"
set title "{title}"
set ylabel "MB/s (log scale)"
set logscale y
set yrange [0.5:{max(v for _, v in rows) * 3:.0f}]
set style fill solid 0.8 border -1
set boxwidth 0.6
set grid ytics
set xtics rotate by -25 nomirror
set key off
plot "{data}" using 1:3:xtic(2) with boxes lc rgb "#3b75af", \\
     "" using 1:3:(sprintf("%.0f", $3)) with labels offset 0,0.8
"""
        subprocess.run(["gnuplot"], input=script, text=True, check=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("check")
    c.add_argument("--input", required=True, help="the benchmark's CSV, for the exact p99 of each group")
    c.add_argument("specs", nargs="+")
    r = sub.add_parser("report")
    r.add_argument("--meta", required=True)
    r.add_argument("--times", required=True)
    r.add_argument("--out-dir", required=True)
    r.add_argument("--micro")
    args = parser.parse_args()
    if args.command == "check":
        check(args.input, args.specs)
    else:
        report(args)


if __name__ == "__main__":
    main()
