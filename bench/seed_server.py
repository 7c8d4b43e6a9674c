#!/usr/bin/python3
"""Seed-style Python baseline for the benchmark suite: the sluice.v1 Upload RPC written the way
the classic grpcio tutorials write a streaming server. The servicer iterates request_iterator,
splits the chunks into lines, reads them with the csv module and aggregates in a dict; it
computes what the `reference` pipeline computes (status >= 400, per country and status: count,
sum of bytes, mean latency, and the exact p99 latency: the value at rank floor(0.99 (n - 1)) of the
sorted latencies, the rank sluice's DDSketch estimates) and answers with the same Summary, so
sluice-client drives it unchanged.

Run with Debian's interpreter and python3-grpcio; the stubs come from protoc + grpc_python_plugin:
  /usr/bin/python3 bench/seed_server.py --stubs BUILD/bench/py --port-file FILE [--listen 127.0.0.1:0]
"""
import argparse
import csv
import os
import signal
import sys
import threading
from concurrent import futures


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stubs", required=True, help="directory holding sluice/v1/sluice_pb2*.py")
    parser.add_argument("--listen", default="127.0.0.1:0")
    parser.add_argument("--port-file")
    args = parser.parse_args()
    sys.path.insert(0, args.stubs)

    import grpc
    from sluice.v1 import sluice_pb2, sluice_pb2_grpc

    class SluiceServicer(sluice_pb2_grpc.SluiceServicer):
        def Upload(self, request_iterator, context):
            pipeline = ""
            groups = {}
            header = None
            carry = ""
            bytes_in = chunks_in = records_in = records_out = 0
            for request in request_iterator:
                if request.HasField("header"):
                    pipeline = request.header.pipeline
                    continue
                bytes_in += len(request.chunk)
                chunks_in += 1
                lines = (carry + request.chunk.decode("utf-8")).split("\n")
                carry = lines.pop()  # an incomplete last line waits for the next chunk
                if header is None:
                    header = next(csv.reader([lines.pop(0)]))
                for row in csv.DictReader(lines, fieldnames=header):
                    records_in += 1
                    status = int(row["status"])
                    if status >= 400:
                        records_out += 1
                        group = groups.setdefault((row["country"], status),
                                                  {"count": 0, "bytes": 0, "latency": 0.0, "latencies": []})
                        group["count"] += 1
                        group["bytes"] += int(row["bytes"])
                        latency = float(row["latency_ms"])
                        group["latency"] += latency
                        group["latencies"].append(latency)
            if carry:
                raise ValueError("input without a final newline is not handled by the seed server")

            summary = sluice_pb2.Summary(pipeline=pipeline)
            batch = summary.results.add()
            batch.columns.extend(["country", "status", "requests", "bytes", "mean_latency_ms", "p99_latency_ms"])
            for (country, status), group in sorted(groups.items()):
                row = batch.rows.add()
                row.values.add(string_value=country)
                row.values.add(int_value=status)
                row.values.add(int_value=group["count"])
                row.values.add(int_value=group["bytes"])
                row.values.add(double_value=group["latency"] / group["count"])
                latencies = sorted(group["latencies"])
                row.values.add(double_value=latencies[int(0.99 * (len(latencies) - 1))])
            counters = summary.counters
            counters.bytes_in = bytes_in
            counters.chunks_in = chunks_in
            counters.records_in = records_in
            counters.records_out = records_out
            counters.records_filtered = records_in - records_out
            counters.results_emitted = 1
            return summary

    options = [("grpc.max_receive_message_length", 4 << 20), ("grpc.max_send_message_length", 4 << 20)]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), options=options)
    sluice_pb2_grpc.add_SluiceServicer_to_server(SluiceServicer(), server)
    port = server.add_insecure_port(args.listen)
    server.start()
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write(f"{port}\n")
        os.rename(args.port_file + ".tmp", args.port_file)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop(1).wait()


if __name__ == "__main__":
    main()
