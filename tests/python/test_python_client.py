#!/usr/bin/python3
"""An independent client for the sluice gateway (issue 4).

This test uses none of our C++ code. It generates Python stubs from proto/sluice/v1/sluice.proto
with protoc and grpc_python_plugin, starts the real sluice-gateway binary on a config the test
writes, and talks to it with Debian's python3-grpcio. It checks each of the API's four call
shapes, the error statuses, gRPC health and reflection, TLS with a bearer token, and a SIGTERM
drain.

The expected results are computed in Python from the rows the test generates. They are never
parsed back from the server's output.

Run it with /usr/bin/python3 (python3-grpcio, python3-protobuf, protobuf-compiler,
protobuf-compiler-grpc). It uses the standard library, grpc and protobuf only.
  SLUICE_GATEWAY=build/gateway/sluice-gateway /usr/bin/python3 tests/python/test_python_client.py
SLUICE_SOURCE_DIR defaults to the repository this file is in.
"""

import csv
import importlib
import io
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import unittest
from collections import defaultdict

import grpc
from google.protobuf import descriptor_pb2

SOURCE_DIR = os.environ.get("SLUICE_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
GATEWAY = os.environ.get("SLUICE_GATEWAY") or os.path.join(SOURCE_DIR, "build", "gateway", "sluice-gateway")
PROTOC = shutil.which("protoc") or "/usr/bin/protoc"
GRPC_PYTHON_PLUGIN = "/usr/bin/grpc_python_plugin"

STARTUP_SECONDS = 30  # bound on the gateway's start-up (polling the port file)
EXIT_SECONDS = 20     # bound on the gateway's exit after SIGTERM
RPC_TIMEOUT = 60      # generous per-call deadline, so a hung server fails the test, not ctest

# Set by setUpModule.
WORK = None  # the temp dir holding the generated stubs, configs, data and logs
pb = None    # sluice_pb2
pb_grpc = None  # sluice_pb2_grpc
health_pb = None
reflection_pb = None

# ---------------------------------------------------------------------------------------------
# Stub generation. grpc_health and grpc_reflection are separate packages that Debian's
# python3-grpcio does not include, so the test writes the small parts of the standard
# health.proto and reflection.proto that it uses. The proto package names are the real ones,
# which fixes the method paths and message names on the wire. The file names are our own, so
# that the Python modules do not land under the installed `grpc` package.

HEALTH_PROTO = """\
syntax = "proto3";
// The request and response of grpc/health/v1/health.proto (the standard health service).
package grpc.health.v1;

message HealthCheckRequest {
  string service = 1;
}

message HealthCheckResponse {
  enum ServingStatus {
    UNKNOWN = 0;
    SERVING = 1;
    NOT_SERVING = 2;
    SERVICE_UNKNOWN = 3;
  }
  ServingStatus status = 1;
}
"""

REFLECTION_PROTO = """\
syntax = "proto3";
// The part of grpc/reflection/v1alpha/reflection.proto this test uses; other fields are omitted.
package grpc.reflection.v1alpha;

message ServerReflectionRequest {
  string host = 1;
  oneof message_request {
    string file_by_filename = 3;
    string file_containing_symbol = 4;
    string list_services = 7;
  }
}

message FileDescriptorResponse {
  repeated bytes file_descriptor_proto = 1;
}

message ListServiceResponse {
  repeated ServiceResponse service = 1;
}

message ServiceResponse {
  string name = 1;
}

message ErrorResponse {
  int32 error_code = 1;
  string error_message = 2;
}

message ServerReflectionResponse {
  string valid_host = 1;
  ServerReflectionRequest original_request = 2;
  oneof message_response {
    FileDescriptorResponse file_descriptor_response = 4;
    ListServiceResponse list_services_response = 6;
    ErrorResponse error_response = 7;
  }
}
"""


def run_protoc(proto_path, out_dir, proto_file, with_grpc):
    cmd = [PROTOC, "--proto_path=" + proto_path, "--python_out=" + out_dir]
    if with_grpc:
        cmd += ["--grpc_out=" + out_dir, "--plugin=protoc-gen-grpc=" + GRPC_PYTHON_PLUGIN]
    cmd.append(proto_file)
    done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError("protoc failed ({}):\n{}".format(" ".join(cmd), done.stdout))


def generate_stubs(work):
    for tool in (PROTOC, GRPC_PYTHON_PLUGIN):
        if not os.access(tool, os.X_OK):
            raise RuntimeError("{} is missing (scripts/deps.sh installs protobuf-compiler and "
                               "protobuf-compiler-grpc)".format(tool))
    gen = os.path.join(work, "gen")
    extra = os.path.join(work, "protos")
    os.makedirs(gen)
    os.makedirs(extra)
    run_protoc(os.path.join(SOURCE_DIR, "proto"), gen, "sluice/v1/sluice.proto", with_grpc=True)
    # The generated sluice_pb2_grpc does `from sluice.v1 import sluice_pb2`, so sluice/v1 must be
    # a package. Regular packages, so nothing else named `sluice` on sys.path can get in the way.
    for package in ("sluice", os.path.join("sluice", "v1")):
        open(os.path.join(gen, package, "__init__.py"), "a").close()
    for name, text in (("sluice_test_health.proto", HEALTH_PROTO),
                       ("sluice_test_reflection.proto", REFLECTION_PROTO)):
        with open(os.path.join(extra, name), "w") as f:
            f.write(text)
        run_protoc(extra, gen, name, with_grpc=False)
    sys.path.insert(0, gen)
    importlib.invalidate_caches()
    return (importlib.import_module("sluice.v1.sluice_pb2"),
            importlib.import_module("sluice.v1.sluice_pb2_grpc"),
            importlib.import_module("sluice_test_health_pb2"),
            importlib.import_module("sluice_test_reflection_pb2"))


# ---------------------------------------------------------------------------------------------
# Test data. The rows are made with a fixed seed and written with Python's csv module. Text
# fields hold commas, doubled quotes, embedded newlines (LF and CRLF) and non-ASCII text.

COLUMNS = ["id", "timestamp", "country", "method", "path", "status", "latency_ms", "bytes",
           "user_agent", "note"]
COUNTRIES = ["US", "DE", "FR", "IN", "BR", "JP", "Korea, Republic of", "Côte d'Ivoire",
             'The "Quoted" Isles']
METHODS = ["GET", "GET", "GET", "POST", "PUT", "DELETE"]
PATHS = ["/", "/index.html", "/api/v1/search?q=a,b", '/api/v1/items?name="x"', "/static/app.js",
         "/päth/ünïcode", "/a,b,c"]
AGENTS = ["curl/7.88.1", "Mozilla/5.0 (X11; Linux x86_64)", 'agent "quoted", with comma',
          "python-requests/2.31", "Go-http-client/2.0"]
STATUSES = [200] * 12 + [201, 204, 301, 304, 400, 401, 403, 404, 404, 429, 500, 502, 503]
NOTES = ["ok", "first line\nsecond line", "crlf inside\r\nthe field", 'say ""hi"", twice',
         "comma, and \"quote\"\nand newline", "trailing newline\n", "ünïcödé ✓"]

MAIN_ROWS = 3000
SMALL_ROWS = 60


def generate_rows(count, seed):
    rng = random.Random(seed)
    rows = []
    timestamp = 1_700_000_000_000
    for i in range(count):
        timestamp += rng.randint(0, 50)
        rows.append({
            "id": i + 1,
            "timestamp": timestamp,
            "country": rng.choice(COUNTRIES),
            "method": rng.choice(METHODS),
            "path": rng.choice(PATHS),
            "status": rng.choice(STATUSES),
            "latency_ms": float("{:.3f}".format(rng.uniform(0.05, 900.0))),
            "bytes": rng.randint(0, 2_000_000),
            "user_agent": rng.choice(AGENTS),
            "note": rng.choice(NOTES),
        })
    return rows


def csv_bytes(rows, check=True):
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180 line ends
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(["{:.3f}".format(row[c]) if c == "latency_ms" else row[c] for c in COLUMNS])
    data = out.getvalue().encode("utf-8")
    if check:  # the data must exercise what the CSV parser has to get right
        for needle in (b'""', b'\n"', b"\r\n", "ü".encode()):
            assert needle in data, needle
    return data


def expected_errors_by_country_status(rows):
    """What the `http_errors` pipeline computes, computed here: status >= 400, then per
    (country, status) the record count and the summed bytes."""
    groups = defaultdict(lambda: [0, 0])
    for row in rows:
        if row["status"] >= 400:
            group = groups[(row["country"], row["status"])]
            group[0] += 1
            group[1] += row["bytes"]
    return {key: tuple(v) for key, v in groups.items()}


def detail_filter(row):
    """The `detail` pipeline's filter, in Python."""
    return row["country"] == "Korea, Republic of" or row["status"] >= 500


def expected_detail_records(rows):
    return [[row[c] for c in COLUMNS] for row in rows if detail_filter(row)]


def config_yaml(data_dir, listen="127.0.0.1:0", server_extra=""):
    """The test's gateway config; server_extra holds more `server:` lines, indented by two spaces."""
    return textwrap.dedent("""\
        server:
          listen: {listen}
          data_dir: {data_dir}
          max_message_bytes: 4MiB
          max_concurrent_streams: 32
          stream_limits: {{max_chunks_in_flight: 4, max_bytes_in_flight: 1MiB, max_pending_results: 8}}
        {server_extra}pipelines:
          http_errors:
            description: errors per country and status
            on_error: skip
            stages:
              - type: csv
                types: {{id: int, timestamp: int, status: int, latency_ms: double, bytes: int}}
              - type: filter
                where: status >= 400
              - type: group_by
                keys: [country, status]
                aggregates:
                  - {{fn: count, as: requests}}
                  - {{fn: sum, field: bytes, as: bytes}}
          detail:
            description: the records of Korea and of server errors
            on_error: fail
            stages:
              - type: csv
                types: {{id: int, timestamp: int, status: int, latency_ms: double, bytes: int}}
              - type: filter
                where: "country == 'Korea, Republic of' or status >= 500"
        """).format(listen=listen, data_dir=data_dir, server_extra=server_extra)


# ---------------------------------------------------------------------------------------------
# Helpers


def py_value(value):
    kind = value.WhichOneof("kind")
    if kind is None or kind == "null_value":
        return None
    return getattr(value, kind)


def rows_of(batch):
    return [[py_value(v) for v in row.values] for row in batch.rows]


def aggregates_of(batches):
    """{(country, status): (requests, bytes)} from result batches of `http_errors`."""
    out = {}
    for batch in batches:
        assert list(batch.columns) == ["country", "status", "requests", "bytes"], batch.columns
        for country, status, requests, total in rows_of(batch):
            key = (country, status)
            assert key not in out, "group {} reported twice".format(key)
            out[key] = (requests, total)
    return out


def chunked(data, size):
    return [data[i:i + size] for i in range(0, len(data), size)]


def input_messages(pipeline, chunks, name="", fmt=""):
    yield pb.InputMessage(header=pb.StreamHeader(pipeline=pipeline, name=name, format=fmt))
    for chunk in chunks:
        yield pb.InputMessage(chunk=chunk)


class Gateway:
    """The sluice-gateway binary as a child process on a port it picks itself."""

    def __init__(self, work, name, config_text, extra_args=()):
        self.dir = os.path.join(work, name)
        os.makedirs(self.dir)
        self.config_path = os.path.join(self.dir, "gateway.yaml")
        with open(self.config_path, "w") as f:
            f.write(config_text)
        self.port_file = os.path.join(self.dir, "port")
        self.log_path = os.path.join(self.dir, "gateway.log")
        self.log = open(self.log_path, "wb")
        if not os.access(GATEWAY, os.X_OK):
            raise RuntimeError("no gateway binary at {} (set SLUICE_GATEWAY)".format(GATEWAY))
        self.process = subprocess.Popen(
            [GATEWAY, "--config", self.config_path, "--listen", "127.0.0.1:0", "--port-file", self.port_file,
             "--log-level", "info", *extra_args],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.port = self._wait_for_port()
        self.target = "127.0.0.1:{}".format(self.port)

    def log_text(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def _wait_for_port(self):
        # Bounded polling for process start-up; the port file is renamed into place, so it is
        # never seen half-written.
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                raise RuntimeError("sluice-gateway exited with code {} during start-up:\n{}".format(
                    code, self.log_text()))
            if os.path.exists(self.port_file):
                with open(self.port_file) as f:
                    return int(f.read().strip())
            time.sleep(0.02)
        self.kill()
        raise RuntimeError("sluice-gateway wrote no port file within {}s:\n{}".format(
            STARTUP_SECONDS, self.log_text()))

    def wait_for_log(self, text):
        """Bounded polling of the log during shutdown, for the gateway's own report of a phase."""
        deadline = time.monotonic() + EXIT_SECONDS
        while time.monotonic() < deadline:
            if text in self.log_text():
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.02)
        raise AssertionError("the gateway did not log {!r}:\n{}".format(text, self.log_text()))

    def terminate(self):
        """SIGTERM, then the exit code (None if the process did not exit in time)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.wait_exit()

    def wait_exit(self):
        """The exit code (None if the process did not exit in time)."""
        try:
            return self.process.wait(timeout=EXIT_SECONDS)
        except subprocess.TimeoutExpired:
            self.kill()
            return None
        finally:
            self.log.close()

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def open_channel(target):
    channel = grpc.insecure_channel(target, options=[
        ("grpc.max_receive_message_length", 8 << 20), ("grpc.max_send_message_length", 8 << 20)])
    grpc.channel_ready_future(channel).result(timeout=STARTUP_SECONDS)
    return channel


def close_and_stop(channel, gateway):
    """Closes the channel, then stops the gateway with SIGTERM, which must make it exit with 0."""
    channel.close()
    code = gateway.terminate()
    if code != 0:
        raise AssertionError("sluice-gateway exited with {} after SIGTERM (expected 0):\n{}".format(
            code, gateway.log_text()))


def health_check(channel):
    """The standard health service's Check method on `channel`."""
    return channel.unary_unary(
        "/grpc.health.v1.Health/Check",
        request_serializer=health_pb.HealthCheckRequest.SerializeToString,
        response_deserializer=health_pb.HealthCheckResponse.FromString)


def setUpModule():
    global WORK, pb, pb_grpc, health_pb, reflection_pb
    WORK = tempfile.mkdtemp(prefix="sluice-python-client-")
    pb, pb_grpc, health_pb, reflection_pb = generate_stubs(WORK)


def tearDownModule():
    if WORK and not os.environ.get("SLUICE_KEEP_TMP"):
        shutil.rmtree(WORK, ignore_errors=True)


# ---------------------------------------------------------------------------------------------


class PythonClientTest(unittest.TestCase):
    """One gateway for the class; every test talks to it through the generated stubs."""

    @classmethod
    def setUpClass(cls):
        cls.data_dir = os.path.join(WORK, "data")
        os.makedirs(cls.data_dir)
        cls.rows = generate_rows(MAIN_ROWS, seed=20240611)
        cls.data = csv_bytes(cls.rows)
        cls.small_rows = cls.rows[:SMALL_ROWS]
        cls.small_data = csv_bytes(cls.small_rows)
        with open(os.path.join(cls.data_dir, "access.csv"), "wb") as f:
            f.write(cls.data)
        # Something outside data_dir that a path escaping it would reach.
        with open(os.path.join(WORK, "x"), "wb") as f:
            f.write(cls.data)
        cls.expected = expected_errors_by_country_status(cls.rows)
        cls.expected_errors = sum(count for count, _ in cls.expected.values())
        cls.gateway = Gateway(WORK, "main", config_yaml(cls.data_dir))
        cls.channel = open_channel(cls.gateway.target)
        cls.stub = pb_grpc.SluiceStub(cls.channel)

    @classmethod
    def tearDownClass(cls):
        close_and_stop(cls.channel, cls.gateway)

    def assertStatus(self, error, code, *fragments):
        self.assertIsInstance(error, grpc.RpcError)
        self.assertEqual(error.code(), code, error.details())
        for fragment in fragments:
            self.assertIn(fragment, error.details())

    def assertCounters(self, counters, rows, data, chunks):
        self.assertEqual(counters.bytes_in, len(data))
        self.assertEqual(counters.chunks_in, chunks)
        self.assertEqual(counters.records_in, len(rows))
        self.assertEqual(counters.records_rejected, 0)
        self.assertEqual(counters.records_in,
                         counters.records_out + counters.records_filtered + counters.records_rejected)

    # --- unary -----------------------------------------------------------------------------

    def test_describe(self):
        info = self.stub.Describe(pb.DescribeRequest(), timeout=RPC_TIMEOUT)
        self.assertTrue(info.version)
        pipelines = {p.name: p for p in info.pipelines}
        self.assertEqual(set(pipelines), {"http_errors", "detail"})
        stages = lambda p: [(s.type, s.kind) for s in p.stages]  # noqa: E731
        self.assertEqual(stages(pipelines["http_errors"]),
                         [("csv", "parse"), ("filter", "transform"), ("group_by", "aggregate")])
        self.assertEqual(stages(pipelines["detail"]), [("csv", "parse"), ("filter", "transform")])
        self.assertEqual(pipelines["http_errors"].format, "csv")
        self.assertEqual(pipelines["http_errors"].description, "errors per country and status")
        self.assertEqual(pipelines["http_errors"].on_error, "skip")
        self.assertEqual(pipelines["detail"].on_error, "fail")
        available = {s.type: s.kind for s in info.available_stages}
        for type_, kind in (("csv", "parse"), ("filter", "transform"), ("group_by", "aggregate")):
            self.assertEqual(available.get(type_), kind)
        self.assertEqual(info.limits.max_message_bytes, 4 << 20)
        self.assertEqual(info.limits.max_concurrent_streams, 32)
        self.assertEqual(info.limits.max_chunks_in_flight, 4)
        self.assertEqual(info.limits.max_bytes_in_flight, 1 << 20)
        self.assertEqual(info.limits.max_pending_results, 8)
        self.assertEqual(info.limits.transport_window_bytes, 0)  # gRPC's adaptive window

    def test_validate_config(self):
        bad = textwrap.dedent("""\
            pipelines:
              p:
                stages:
                  - type: csv
                    colour: red
            """)
        answer = self.stub.ValidateConfig(pb.ValidateConfigRequest(yaml=bad), timeout=RPC_TIMEOUT)
        self.assertFalse(answer.valid)
        self.assertIn("colour", answer.error)
        self.assertEqual((answer.line, answer.column), (5, 9), answer.error)
        self.assertEqual(list(answer.pipelines), [])

        answer = self.stub.ValidateConfig(pb.ValidateConfigRequest(yaml=config_yaml(self.data_dir)),
                                          timeout=RPC_TIMEOUT)
        self.assertTrue(answer.valid, answer.error)
        self.assertEqual(answer.error, "")
        self.assertEqual(sorted(answer.pipelines), ["detail", "http_errors"])

    # --- client-streaming --------------------------------------------------------------------

    def test_upload_aggregates(self):
        for label, rows, data, size in (("1 KiB", self.rows, self.data, 1024),
                                        ("7 bytes, small file", self.small_rows, self.small_data, 7),
                                        ("64 KiB", self.rows, self.data, 64 << 10)):
            with self.subTest(chunks=label):
                chunks = chunked(data, size)
                summary = self.stub.Upload(input_messages("http_errors", chunks, name="access.csv", fmt="csv"),
                                           timeout=RPC_TIMEOUT)
                self.assertEqual(summary.pipeline, "http_errors")
                self.assertEqual(aggregates_of(summary.results), expected_errors_by_country_status(rows))
                self.assertCounters(summary.counters, rows, data, len(chunks))
                errors = sum(1 for row in rows if row["status"] >= 400)
                self.assertEqual(summary.counters.records_out, errors)
                self.assertEqual(summary.counters.records_filtered, len(rows) - errors)
                self.assertEqual(summary.counters.results_emitted, len(summary.results))
                self.assertEqual(list(summary.dead_letters), [])

    # --- bidirectional -----------------------------------------------------------------------

    def test_process_aggregates(self):
        chunks = chunked(self.data, 4096)
        messages = list(self.stub.Process(input_messages("http_errors", chunks), timeout=RPC_TIMEOUT))
        kinds = [m.WhichOneof("kind") for m in messages]
        self.assertGreaterEqual(len(messages), 2, kinds)
        self.assertEqual(kinds[-1], "summary", kinds)
        self.assertEqual(set(kinds[:-1]), {"batch"}, kinds)
        summary = messages[-1].summary
        self.assertEqual(summary.pipeline, "http_errors")
        self.assertEqual(list(summary.results), [])  # streaming calls send the results as batches
        self.assertEqual(aggregates_of(m.batch for m in messages[:-1]), self.expected)
        self.assertCounters(summary.counters, self.rows, self.data, len(chunks))
        self.assertEqual(summary.counters.records_out, self.expected_errors)
        self.assertEqual(summary.counters.results_emitted, len(messages) - 1)

    def test_process_records_complete_and_in_order(self):
        expected = expected_detail_records(self.rows)
        self.assertGreater(len(expected), 100)
        for size in (1000, 64 << 10):
            with self.subTest(chunk_size=size):
                chunks = chunked(self.data, size)
                messages = list(self.stub.Process(input_messages("detail", chunks), timeout=RPC_TIMEOUT))
                kinds = [m.WhichOneof("kind") for m in messages]
                self.assertEqual(kinds[-1], "summary", kinds)
                self.assertEqual(set(kinds[:-1]), {"batch"}, kinds)
                records = []
                for m in messages[:-1]:
                    self.assertEqual(list(m.batch.columns), COLUMNS)
                    self.assertFalse(m.batch.HasField("window"))
                    records.extend(rows_of(m.batch))
                self.assertEqual(len(records), len(expected))
                for got, want in zip(records, expected):
                    self.assertEqual(got, want)
                summary = messages[-1].summary
                self.assertCounters(summary.counters, self.rows, self.data, len(chunks))
                self.assertEqual(summary.counters.records_out, len(expected))
                self.assertEqual(summary.counters.records_filtered, len(self.rows) - len(expected))
                self.assertEqual(summary.counters.results_emitted, len(messages) - 1)

    # --- server-streaming --------------------------------------------------------------------

    def test_process_file(self):
        for chunk_size in (0, 3000):
            with self.subTest(chunk_size=chunk_size):
                request = pb.ProcessFileRequest(pipeline="http_errors", path="access.csv", chunk_size=chunk_size)
                messages = list(self.stub.ProcessFile(request, timeout=RPC_TIMEOUT))
                kinds = [m.WhichOneof("kind") for m in messages]
                self.assertEqual(kinds[-1], "summary", kinds)
                self.assertEqual(set(kinds[:-1]), {"batch"}, kinds)
                self.assertEqual(aggregates_of(m.batch for m in messages[:-1]), self.expected)
                counters = messages[-1].summary.counters
                self.assertEqual(counters.bytes_in, len(self.data))
                self.assertEqual(counters.records_in, len(self.rows))
                self.assertEqual(counters.records_out, self.expected_errors)
                if chunk_size:
                    self.assertEqual(counters.chunks_in, len(chunked(self.data, chunk_size)))

    def test_process_file_outside_data_dir_is_denied(self):
        for path in ("../x", "sub/../../x", os.path.join(WORK, "x")):
            with self.subTest(path=path):
                with self.assertRaises(grpc.RpcError) as caught:
                    list(self.stub.ProcessFile(pb.ProcessFileRequest(pipeline="http_errors", path=path),
                                               timeout=RPC_TIMEOUT))
                self.assertStatus(caught.exception, grpc.StatusCode.PERMISSION_DENIED)

    def test_process_file_missing_is_not_found(self):
        with self.assertRaises(grpc.RpcError) as caught:
            list(self.stub.ProcessFile(pb.ProcessFileRequest(pipeline="http_errors", path="missing.csv"),
                                       timeout=RPC_TIMEOUT))
        self.assertStatus(caught.exception, grpc.StatusCode.NOT_FOUND, "missing.csv")

    # --- errors ------------------------------------------------------------------------------

    def test_unknown_pipeline_is_not_found(self):
        calls = {
            "Upload": lambda: self.stub.Upload(input_messages("nope", [self.small_data]), timeout=RPC_TIMEOUT),
            "Process": lambda: list(self.stub.Process(input_messages("nope", [self.small_data]),
                                                      timeout=RPC_TIMEOUT)),
            "ProcessFile": lambda: list(self.stub.ProcessFile(
                pb.ProcessFileRequest(pipeline="nope", path="access.csv"), timeout=RPC_TIMEOUT)),
        }
        for name, call in calls.items():
            with self.subTest(rpc=name):
                with self.assertRaises(grpc.RpcError) as caught:
                    call()
                self.assertStatus(caught.exception, grpc.StatusCode.NOT_FOUND, "nope", "http_errors", "detail")

    def test_first_message_not_a_header_is_invalid_argument(self):
        def chunk_first():
            yield pb.InputMessage(chunk=self.small_data)

        with self.assertRaises(grpc.RpcError) as caught:
            self.stub.Upload(chunk_first(), timeout=RPC_TIMEOUT)
        self.assertStatus(caught.exception, grpc.StatusCode.INVALID_ARGUMENT, "StreamHeader")
        with self.assertRaises(grpc.RpcError) as caught:
            list(self.stub.Process(chunk_first(), timeout=RPC_TIMEOUT))
        self.assertStatus(caught.exception, grpc.StatusCode.INVALID_ARGUMENT, "StreamHeader")

    def test_deadline_exceeded(self):
        def endless():
            yield pb.InputMessage(header=pb.StreamHeader(pipeline="http_errors"))
            body = self.data[self.data.index(b"\r\n") + 2:]  # the records, without the header
            yield pb.InputMessage(chunk=self.data)
            while True:
                yield pb.InputMessage(chunk=body)

        with self.assertRaises(grpc.RpcError) as caught:
            self.stub.Upload(endless(), timeout=0.3)
        self.assertStatus(caught.exception, grpc.StatusCode.DEADLINE_EXCEEDED)
        with self.assertRaises(grpc.RpcError) as caught:
            list(self.stub.Process(endless(), timeout=0.3))
        self.assertStatus(caught.exception, grpc.StatusCode.DEADLINE_EXCEEDED)
        # The server is still fine afterwards.
        self.assertTrue(self.stub.Describe(pb.DescribeRequest(), timeout=RPC_TIMEOUT).version)

    # --- health and reflection ---------------------------------------------------------------

    def test_health(self):
        check = health_check(self.channel)
        answer = check(health_pb.HealthCheckRequest(service=""), timeout=RPC_TIMEOUT)
        self.assertEqual(answer.status, health_pb.HealthCheckResponse.SERVING)
        with self.assertRaises(grpc.RpcError) as caught:
            check(health_pb.HealthCheckRequest(service="no.such.Service"), timeout=RPC_TIMEOUT)
        self.assertStatus(caught.exception, grpc.StatusCode.NOT_FOUND)

    def test_reflection(self):
        info = self.channel.stream_stream(
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
            request_serializer=reflection_pb.ServerReflectionRequest.SerializeToString,
            response_deserializer=reflection_pb.ServerReflectionResponse.FromString)
        requests = [reflection_pb.ServerReflectionRequest(list_services=""),
                    reflection_pb.ServerReflectionRequest(file_containing_symbol="sluice.v1.Sluice")]
        listing, files = list(info(iter(requests), timeout=RPC_TIMEOUT))

        self.assertEqual(listing.WhichOneof("message_response"), "list_services_response", listing)
        services = {s.name for s in listing.list_services_response.service}
        self.assertIn("sluice.v1.Sluice", services)
        self.assertIn("grpc.health.v1.Health", services)

        self.assertEqual(files.WhichOneof("message_response"), "file_descriptor_response", files)
        descriptors = [descriptor_pb2.FileDescriptorProto.FromString(b)
                       for b in files.file_descriptor_response.file_descriptor_proto]
        sluice_file = next(d for d in descriptors if d.name == "sluice/v1/sluice.proto")
        self.assertEqual(sluice_file.package, "sluice.v1")
        service = next(s for s in sluice_file.service if s.name == "Sluice")
        shapes = {m.name: (m.client_streaming, m.server_streaming) for m in service.method}
        self.assertEqual(shapes, {
            "Describe": (False, False),
            "ValidateConfig": (False, False),
            "Upload": (True, False),
            "Process": (True, True),
            "ProcessFile": (False, True),
        })


TOKEN = "python-s3cret_1"


def make_pki(directory):
    """A throwaway CA and its server certificate for localhost and 127.0.0.1 (the openssl CLI)."""
    def openssl(*args):
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True, timeout=60)

    ec_key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec_key, "-days", "2", "-subj", "/CN=python-test-ca",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign",
            "-keyout", "ca.key", "-out", "ca.pem")
    with open(os.path.join(directory, "server.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    openssl("req", "-new", *ec_key, "-subj", "/CN=localhost", "-keyout", "server.key", "-out", "server.csr")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", "1",
            "-days", "2", "-extfile", "server.ext", "-out", "server.pem")


class TlsAndTokenTest(unittest.TestCase):
    """A gateway with TLS and a bearer token, as grpcio reaches it: channel credentials from the
    CA's certificate, and the token as `authorization` call metadata."""

    @classmethod
    def setUpClass(cls):
        pki = os.path.join(WORK, "pki")
        os.makedirs(pki)
        make_pki(pki)
        security = "  tls: {{cert: {0}/server.pem, key: {0}/server.key}}\n  auth: {{tokens: [{1}]}}\n".format(
            pki, TOKEN)
        cls.gateway = Gateway(WORK, "tls", config_yaml(pki, server_extra=security))
        with open(os.path.join(pki, "ca.pem"), "rb") as f:
            cls.channel = grpc.secure_channel(cls.gateway.target, grpc.ssl_channel_credentials(root_certificates=f.read()))
        grpc.channel_ready_future(cls.channel).result(timeout=STARTUP_SECONDS)
        cls.stub = pb_grpc.SluiceStub(cls.channel)
        cls.rows = generate_rows(400, seed=5)
        cls.data = csv_bytes(cls.rows)

    @classmethod
    def tearDownClass(cls):
        close_and_stop(cls.channel, cls.gateway)

    def upload(self, metadata):
        return self.stub.Upload(input_messages("http_errors", chunked(self.data, 1000)), metadata=metadata,
                                timeout=RPC_TIMEOUT)

    def test_the_token_opens_every_call_shape(self):
        metadata = [("authorization", "Bearer " + TOKEN)]
        self.assertTrue(self.stub.Describe(pb.DescribeRequest(), metadata=metadata, timeout=RPC_TIMEOUT).version)
        expected = expected_errors_by_country_status(self.rows)
        self.assertEqual(aggregates_of(self.upload(metadata).results), expected)
        responses = list(self.stub.Process(input_messages("http_errors", chunked(self.data, 700)),
                                           metadata=metadata, timeout=RPC_TIMEOUT))
        self.assertEqual(aggregates_of([m.batch for m in responses if m.WhichOneof("kind") == "batch"]), expected)

    def test_a_missing_or_wrong_token_is_unauthenticated(self):
        for label, metadata in (("missing", []), ("wrong", [("authorization", "Bearer not-" + TOKEN)])):
            with self.subTest(token=label):
                for call in (lambda: self.stub.Describe(pb.DescribeRequest(), metadata=metadata, timeout=RPC_TIMEOUT),
                             lambda: self.upload(metadata)):
                    with self.assertRaises(grpc.RpcError) as caught:
                        call()
                    self.assertEqual(caught.exception.code(), grpc.StatusCode.UNAUTHENTICATED,
                                     caught.exception.details())

    def test_health_needs_no_token(self):
        check = health_check(self.channel)
        answer = check(health_pb.HealthCheckRequest(service=""), timeout=RPC_TIMEOUT)
        self.assertEqual(answer.status, health_pb.HealthCheckResponse.SERVING)

    def test_plaintext_is_refused(self):
        channel = grpc.insecure_channel(self.gateway.target)
        try:
            with self.assertRaises(grpc.RpcError) as caught:
                pb_grpc.SluiceStub(channel).Describe(pb.DescribeRequest(),
                                                     metadata=[("authorization", "Bearer " + TOKEN)], timeout=10)
            self.assertEqual(caught.exception.code(), grpc.StatusCode.UNAVAILABLE, caught.exception.details())
        finally:
            channel.close()


def thread_policies(pid):
    """The scheduling policy of each thread of process `pid` (field 41 of /proc/.../stat)."""
    policies = {}
    task_dir = "/proc/{}/task".format(pid)
    for tid in os.listdir(task_dir):
        with open(os.path.join(task_dir, tid, "stat")) as f:
            stat = f.read()
        # The thread's name, in parentheses, may hold spaces: the fields are counted after it.
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        policies[tid + " " + name] = int(stat[stat.rindex(")") + 1:].split()[41 - 3])
    return policies


class CpuSchedulingTest(unittest.TestCase):
    """Every thread of the gateway, the pipeline's workers included, runs under the configured policy."""

    SCHED_OTHER, SCHED_BATCH = 0, 3

    def threads_after_a_stream(self, name, server_extra):
        data_dir = os.path.join(WORK, name + "-data")
        os.makedirs(data_dir)
        rows = generate_rows(MAIN_ROWS, seed=11)
        data = csv_bytes(rows)
        gateway = Gateway(WORK, name, config_yaml(data_dir, server_extra=server_extra))
        try:
            channel = open_channel(gateway.target)
            stub = pb_grpc.SluiceStub(channel)
            # Chunks too big to run on the receiving thread: the pipeline's workers start.
            summary = stub.Upload(input_messages("http_errors", chunked(data, 64 << 10)), timeout=RPC_TIMEOUT)
            self.assertEqual(aggregates_of(summary.results), expected_errors_by_country_status(rows))
            policies = thread_policies(gateway.process.pid)
        finally:
            close_and_stop(channel, gateway)
        self.assertIn("cpu_scheduling=" + ("normal" if "normal" in server_extra else "batch"), gateway.log_text())
        return policies

    def test_batch_by_default(self):
        policies = self.threads_after_a_stream("batch", "")
        self.assertGreater(len(policies), 2)
        self.assertEqual({t: p for t, p in policies.items() if p != self.SCHED_BATCH}, {})

    def test_normal_when_configured(self):
        policies = self.threads_after_a_stream("normal", "  cpu_scheduling: normal\n")
        self.assertGreater(len(policies), 2)
        self.assertEqual({t: p for t, p in policies.items() if p != self.SCHED_OTHER}, {})


class ShutdownTest(unittest.TestCase):
    """SIGTERM drains: a stream already running completes, then the gateway exits with 0."""

    def test_sigterm_drains_running_stream_then_exits_zero(self):
        data_dir = os.path.join(WORK, "shutdown-data")
        os.makedirs(data_dir)
        rows = generate_rows(800, seed=7)
        data = csv_bytes(rows)
        expected = expected_detail_records(rows)
        self.assertGreater(len(expected), 10)
        # The first part ends after the first record the filter keeps, so its batch comes back
        # before the rest is sent.
        first_kept = next(i for i, row in enumerate(rows) if detail_filter(row))
        first_part = csv_bytes(rows[:first_kept + 1], check=False)
        self.assertTrue(data.startswith(first_part))
        rest = data[len(first_part):]

        gateway = Gateway(WORK, "shutdown", config_yaml(data_dir), extra_args=["--drain-seconds", "60"])
        try:
            channel = open_channel(gateway.target)
            stub = pb_grpc.SluiceStub(channel)
            self.assertTrue(stub.Describe(pb.DescribeRequest(), timeout=RPC_TIMEOUT).version)

            release = threading.Event()

            def requests():
                yield pb.InputMessage(header=pb.StreamHeader(pipeline="detail"))
                yield pb.InputMessage(chunk=first_part)
                release.wait(timeout=RPC_TIMEOUT)
                for chunk in chunked(rest, 2048):
                    yield pb.InputMessage(chunk=chunk)

            responses = stub.Process(requests(), timeout=RPC_TIMEOUT)
            try:
                first = next(responses)  # the stream is running on the server
                gateway.process.send_signal(signal.SIGTERM)
                gateway.wait_for_log("draining")
            finally:
                release.set()
            try:
                messages = [first] + list(responses)
            except grpc.RpcError as e:
                # Once seen in CI (UNAVAILABLE, "recvmsg:Connection reset by peer"), never here:
                # whether the gateway was still running, and what it logged, tell a crash from a
                # transport closed early.
                self.fail("the draining stream failed: {}; gateway exit code {}; its log:\n{}".format(
                    e, gateway.process.poll(), gateway.log_text()))
            kinds = [m.WhichOneof("kind") for m in messages]
            self.assertEqual(kinds[-1], "summary", kinds)
            records = [r for m in messages[:-1] for r in rows_of(m.batch)]
            self.assertEqual(records, expected)
            self.assertEqual(messages[-1].summary.counters.records_in, len(rows))
            channel.close()
            # Exits as soon as the stream is done, well before the 60 s grace period.
            code = gateway.wait_exit()
            self.assertEqual(code, 0, gateway.log_text())
            self.assertIn("stopped", gateway.log_text())
        finally:
            gateway.kill()


def main():
    program = unittest.main(exit=False, verbosity=2)
    result = program.result
    ok = result.wasSuccessful() and result.testsRun > 0
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
