#!/usr/bin/env python3
"""Deterministic generator of a realistic CSV access log (and the same data as JSON lines).

Columns: timestamp, user_id, country, method, path, status, latency_ms, bytes, user_agent.
Keys are skewed (a few countries and users dominate) and some fields need CSV quoting.
Usage: gen_access_log.py --bytes 100MB [--format csv|jsonl] [--seed 42] > out.csv
"""
import argparse
import json
import random
import sys

COUNTRIES = ["US", "DE", "IN", "BR", "FR", "GB", "JP", "CN", "NG", "MX", "CA", "ES", "IT", "KR", "AU"]
METHODS = ["GET"] * 8 + ["POST"] * 3 + ["PUT", "DELETE"]
PATHS = ["/", "/login", "/api/v1/items", "/api/v1/items/{id}", "/api/v1/search?q=a,b", "/static/app.js",
         "/checkout", "/cart", "/api/v1/users/{id}", "/health"]
AGENTS = ['Mozilla/5.0 (X11; Linux x86_64)', 'curl/7.88.1', 'Go-http-client/2.0',
          'Mozilla/5.0 (Macintosh; Intel Mac OS X 13_4), "Safari"', 'python-requests/2.31']
STATUSES = [200] * 70 + [201] * 5 + [204] * 3 + [301] * 3 + [304] * 6 + [400] * 4 + [401] * 2 + [403] * 2 + \
           [404] * 6 + [429] * 1 + [500] * 2 + [502] * 1 + [503] * 1


def parse_size(text):
    units = {"KB": 10**3, "MB": 10**6, "GB": 10**9, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "B": 1}
    upper = text.upper()
    for unit, factor in sorted(units.items(), key=lambda u: -len(u[0])):
        if upper.endswith(unit):
            return int(float(upper[:-len(unit)]) * factor)
    return int(text)


def csv_field(text):
    if any(c in text for c in ',"\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def records(rng):
    ts = 1_700_000_000_000
    country_weights = [1.0 / (i + 1) ** 1.1 for i in range(len(COUNTRIES))]
    while True:
        ts += rng.randint(0, 20)
        country = rng.choices(COUNTRIES, country_weights)[0]
        path = rng.choice(PATHS).replace("{id}", str(rng.randint(1, 5000)))
        status = rng.choice(STATUSES)
        latency = round(rng.lognormvariate(3.0, 0.8) * (3 if status >= 500 else 1), 3)
        size = 0 if status in (204, 304) else int(rng.paretovariate(1.5) * 500)
        yield {
            "timestamp": ts,
            "user_id": int(rng.paretovariate(1.2) * 100) % 100000,
            "country": country,
            "method": rng.choice(METHODS),
            "path": path,
            "status": status,
            "latency_ms": latency,
            "bytes": size,
            "user_agent": rng.choice(AGENTS),
        }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bytes", default="1MB", help="approximate output size, e.g. 200MB, 1GiB")
    parser.add_argument("--format", choices=["csv", "jsonl"], default="csv")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    limit = parse_size(args.bytes)
    rng = random.Random(args.seed)
    out = sys.stdout
    written = 0
    if args.format == "csv":
        header = "timestamp,user_id,country,method,path,status,latency_ms,bytes,user_agent\n"
        out.write(header)
        written += len(header)
    buffer = []
    for rec in records(rng):
        if args.format == "csv":
            line = ",".join(csv_field(str(v)) for v in rec.values()) + "\n"
        else:
            line = json.dumps(rec, separators=(",", ":")) + "\n"
        buffer.append(line)
        written += len(line)
        if len(buffer) >= 4096 or written >= limit:
            out.write("".join(buffer))
            buffer.clear()
        if written >= limit:
            break


if __name__ == "__main__":
    main()
