// gen_access_log: a C++ port of scripts/gen_access_log.py that writes the byte-identical output
// for the same --bytes, --format and --seed, about 50 times faster. The Python script stays the
// reference (it makes the samples); scripts/bench checks that both agree on a prefix before it
// uses this port to generate its large inputs.
//
// Identity rests on reproducing CPython's `random` module exactly: the MT19937 generator seeded
// by init_by_array, random() from two 32-bit draws, _randbelow by rejection on getrandbits,
// choices() by bisect over cumulative weights, normalvariate (Kinderman-Monahan), and the same
// libm calls (exp, log, pow); round(x, 3) and repr(float) are matched with correctly rounded
// std::to_chars/std::from_chars.
//
// Usage: gen_access_log [--bytes 100MB] [--format csv|jsonl] [--seed 42] > out.csv
#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

// CPython's Modules/_randommodule.c.
class PyRandom {
 public:
  explicit PyRandom(uint64_t seed) {
    // random.seed(int): the key is the absolute value's 32-bit words, least significant first.
    std::vector<uint32_t> key;
    do {
      key.push_back(static_cast<uint32_t>(seed & 0xffffffffu));
      seed >>= 32;
    } while (seed != 0);
    init_by_array(key);
  }

  uint32_t genrand_uint32() {
    if (index_ >= kN) generate();
    uint32_t y = mt_[index_++];
    y ^= (y >> 11);
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= (y >> 18);
    return y;
  }

  double random() {
    const uint32_t a = genrand_uint32() >> 5;
    const uint32_t b = genrand_uint32() >> 6;
    return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0);
  }

  uint32_t getrandbits(int k) { return k == 0 ? 0 : genrand_uint32() >> (32 - k); }

  // Random._randbelow_with_getrandbits: 0 <= r < n.
  uint32_t randbelow(uint32_t n) {
    int k = 0;
    for (uint32_t v = n; v; v >>= 1) ++k;  // n.bit_length()
    uint32_t r = getrandbits(k);
    while (r >= n) r = getrandbits(k);
    return r;
  }

  int64_t randint(int64_t a, int64_t b) { return a + randbelow(static_cast<uint32_t>(b - a + 1)); }

  template <typename T, size_t N>
  const T& choice(const std::array<T, N>& seq) {
    return seq[randbelow(N)];
  }

  // choices(population, cum_weights=cum)[0]: bisect_right(cum, random() * total, 0, n - 1).
  size_t choose_index(const std::vector<double>& cum) {
    const double total = cum.back() + 0.0;
    const double x = random() * total;
    const auto hi = cum.begin() + static_cast<std::ptrdiff_t>(cum.size() - 1);
    return static_cast<size_t>(std::upper_bound(cum.begin(), hi, x) - cum.begin());
  }

  double normalvariate(double mu, double sigma) {
    static const double kMagic = 4 * std::exp(-0.5) / std::sqrt(2.0);
    double z;
    for (;;) {
      const double u1 = random();
      const double u2 = 1.0 - random();
      z = kMagic * (u1 - 0.5) / u2;
      const double zz = z * z / 4.0;
      if (zz <= -std::log(u2)) break;
    }
    return mu + z * sigma;
  }

  double lognormvariate(double mu, double sigma) { return std::exp(normalvariate(mu, sigma)); }

  double paretovariate(double alpha) {
    const double u = 1.0 - random();
    return std::pow(u, -1.0 / alpha);
  }

 private:
  static constexpr int kN = 624;
  static constexpr int kM = 397;

  void init_genrand(uint32_t s) {
    mt_[0] = s;
    for (int i = 1; i < kN; ++i) mt_[i] = 1812433253u * (mt_[i - 1] ^ (mt_[i - 1] >> 30)) + static_cast<uint32_t>(i);
    index_ = kN;
  }

  void init_by_array(const std::vector<uint32_t>& key) {
    init_genrand(19650218u);
    int i = 1;
    size_t j = 0;
    for (size_t k = std::max<size_t>(kN, key.size()); k; --k) {
      mt_[i] = (mt_[i] ^ ((mt_[i - 1] ^ (mt_[i - 1] >> 30)) * 1664525u)) + key[j] + static_cast<uint32_t>(j);
      ++i;
      ++j;
      if (i >= kN) {
        mt_[0] = mt_[kN - 1];
        i = 1;
      }
      if (j >= key.size()) j = 0;
    }
    for (int k = kN - 1; k; --k) {
      mt_[i] = (mt_[i] ^ ((mt_[i - 1] ^ (mt_[i - 1] >> 30)) * 1566083941u)) - static_cast<uint32_t>(i);
      ++i;
      if (i >= kN) {
        mt_[0] = mt_[kN - 1];
        i = 1;
      }
    }
    mt_[0] = 0x80000000u;
  }

  void generate() {
    constexpr uint32_t kMatrixA = 0x9908b0dfu, kUpper = 0x80000000u, kLower = 0x7fffffffu;
    int kk = 0;
    uint32_t y;
    for (; kk < kN - kM; ++kk) {
      y = (mt_[kk] & kUpper) | (mt_[kk + 1] & kLower);
      mt_[kk] = mt_[kk + kM] ^ (y >> 1) ^ ((y & 1u) ? kMatrixA : 0u);
    }
    for (; kk < kN - 1; ++kk) {
      y = (mt_[kk] & kUpper) | (mt_[kk + 1] & kLower);
      mt_[kk] = mt_[kk + (kM - kN)] ^ (y >> 1) ^ ((y & 1u) ? kMatrixA : 0u);
    }
    y = (mt_[kN - 1] & kUpper) | (mt_[0] & kLower);
    mt_[kN - 1] = mt_[kM - 1] ^ (y >> 1) ^ ((y & 1u) ? kMatrixA : 0u);
    index_ = 0;
  }

  std::array<uint32_t, kN> mt_{};
  int index_ = kN;
};

// The generator's tables, exactly as in gen_access_log.py.
constexpr std::array<std::string_view, 15> kCountries = {"US", "DE", "IN", "BR", "FR", "GB", "JP", "CN",
                                                         "NG", "MX", "CA", "ES", "IT", "KR", "AU"};
constexpr std::array<std::string_view, 13> kMethods = {"GET", "GET", "GET", "GET",  "GET", "GET",   "GET",
                                                       "GET", "POST", "POST", "POST", "PUT", "DELETE"};
constexpr std::array<std::string_view, 10> kPaths = {"/", "/login", "/api/v1/items", "/api/v1/items/{id}",
                                                     "/api/v1/search?q=a,b", "/static/app.js", "/checkout",
                                                     "/cart", "/api/v1/users/{id}", "/health"};
constexpr std::array<std::string_view, 5> kAgents = {
    "Mozilla/5.0 (X11; Linux x86_64)", "curl/7.88.1", "Go-http-client/2.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 13_4), \"Safari\"", "python-requests/2.31"};

constexpr std::array<int, 106> make_statuses() {
  std::array<int, 106> s{};
  const std::pair<int, int> runs[] = {{200, 70}, {201, 5}, {204, 3}, {301, 3}, {304, 6}, {400, 4}, {401, 2},
                                      {403, 2},  {404, 6}, {429, 1}, {500, 2}, {502, 1}, {503, 1}};
  size_t i = 0;
  for (const auto& [status, n] : runs) {
    for (int k = 0; k < n; ++k) s[i++] = status;
  }
  return s;
}
constexpr std::array<int, 106> kStatuses = make_statuses();

struct Record {
  int64_t timestamp;
  int64_t user_id;
  std::string_view country;
  std::string_view method;
  std::string path;
  int status;
  double latency_ms;
  int64_t bytes;
  std::string_view user_agent;
};

// Python's round(x, 3): the correctly rounded 3-decimal string, read back as a double.
double round3(double x) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::fixed, 3);
  double rounded = 0;
  std::from_chars(buf, end, rounded);
  (void)ec;
  return rounded;
}

// Python's repr(float) for values in [1e-4, 1e16): the shortest round-trip digits, fixed, with
// ".0" added to integral values.
void append_float(std::string& out, double x) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::fixed);
  (void)ec;
  const std::string_view text(buf, static_cast<size_t>(end - buf));
  out += text;
  if (text.find_first_of(".en") == std::string_view::npos) out += ".0";
}

void append_int(std::string& out, int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  out.append(buf, end);
}

void append_csv_field(std::string& out, std::string_view text) {
  if (text.find_first_of(",\"\n") == std::string_view::npos) {
    out += text;
    return;
  }
  out += '"';
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  for (char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default: out += c;
    }
  }
  out += '"';
}

class Records {
 public:
  explicit Records(uint64_t seed) : rng_(seed) {
    double sum = 0;
    for (size_t i = 0; i < kCountries.size(); ++i) {
      sum += 1.0 / std::pow(static_cast<double>(i + 1), 1.1);
      country_cum_.push_back(sum);
    }
  }

  // One record, drawing from the generator in the order the Python dict literal evaluates.
  void next(Record& r) {
    ts_ += rng_.randint(0, 20);
    r.timestamp = ts_;
    r.country = kCountries[rng_.choose_index(country_cum_)];
    const std::string_view path = rng_.choice(kPaths);
    const int64_t id = rng_.randint(1, 5000);  // drawn whether or not the path has {id}
    r.path.assign(path);
    if (const size_t at = path.find("{id}"); at != std::string_view::npos) {
      r.path.replace(at, 4, std::to_string(id));
    }
    r.status = rng_.choice(kStatuses);
    const double latency = rng_.lognormvariate(3.0, 0.8);
    r.latency_ms = round3(r.status >= 500 ? latency * 3 : latency);
    r.bytes = (r.status == 204 || r.status == 304) ? 0 : static_cast<int64_t>(rng_.paretovariate(1.5) * 500);
    r.user_id = static_cast<int64_t>(rng_.paretovariate(1.2) * 100) % 100000;
    r.method = rng_.choice(kMethods);
    r.user_agent = rng_.choice(kAgents);
  }

 private:
  PyRandom rng_;
  std::vector<double> country_cum_;
  int64_t ts_ = 1'700'000'000'000;
};

void append_csv(std::string& out, const Record& r) {
  append_int(out, r.timestamp);
  out += ',';
  append_int(out, r.user_id);
  out += ',';
  append_csv_field(out, r.country);
  out += ',';
  append_csv_field(out, r.method);
  out += ',';
  append_csv_field(out, r.path);
  out += ',';
  append_int(out, r.status);
  out += ',';
  append_float(out, r.latency_ms);
  out += ',';
  append_int(out, r.bytes);
  out += ',';
  append_csv_field(out, r.user_agent);
  out += '\n';
}

void append_jsonl(std::string& out, const Record& r) {
  out += "{\"timestamp\":";
  append_int(out, r.timestamp);
  out += ",\"user_id\":";
  append_int(out, r.user_id);
  out += ",\"country\":";
  append_json_string(out, r.country);
  out += ",\"method\":";
  append_json_string(out, r.method);
  out += ",\"path\":";
  append_json_string(out, r.path);
  out += ",\"status\":";
  append_int(out, r.status);
  out += ",\"latency_ms\":";
  append_float(out, r.latency_ms);
  out += ",\"bytes\":";
  append_int(out, r.bytes);
  out += ",\"user_agent\":";
  append_json_string(out, r.user_agent);
  out += "}\n";
}

// gen_access_log.py's parse_size: a number with an optional unit (KB, MB, GB, KiB, MiB, GiB, B).
uint64_t parse_size(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  static const std::pair<std::string_view, double> kUnits[] = {
      {"KIB", 1024.0}, {"MIB", 1048576.0}, {"GIB", 1073741824.0}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}};
  for (const auto& [unit, factor] : kUnits) {
    if (text.size() >= unit.size() && text.compare(text.size() - unit.size(), unit.size(), unit) == 0) {
      return static_cast<uint64_t>(std::strtod(text.substr(0, text.size() - unit.size()).c_str(), nullptr) * factor);
    }
  }
  return std::strtoull(text.c_str(), nullptr, 10);
}

[[noreturn]] void usage(const char* message) {
  std::fprintf(stderr, "gen_access_log: %s\nusage: gen_access_log [--bytes 100MB] [--format csv|jsonl] [--seed 42]\n",
               message);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string bytes = "1MB", format = "csv";
  uint64_t seed = 42;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (i + 1 >= argc) usage("every option takes a value");
    if (arg == "--bytes") bytes = argv[++i];
    else if (arg == "--format") format = argv[++i];
    else if (arg == "--seed") seed = std::strtoull(argv[++i], nullptr, 10);
    else usage("unknown option");
  }
  if (format != "csv" && format != "jsonl") usage("--format must be csv or jsonl");
  const uint64_t limit = parse_size(bytes);
  const bool csv = format == "csv";

  std::string out;
  out.reserve(1 << 20);
  uint64_t written = 0;
  if (csv) {
    out += "timestamp,user_id,country,method,path,status,latency_ms,bytes,user_agent\n";
    written = out.size();
  }
  Records records(seed);
  Record r;
  for (;;) {
    const size_t before = out.size();
    records.next(r);
    csv ? append_csv(out, r) : append_jsonl(out, r);
    written += out.size() - before;
    if (out.size() >= (1 << 20) || written >= limit) {
      if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size()) {
        std::perror("gen_access_log: write");
        return 1;
      }
      out.clear();
    }
    if (written >= limit) break;
  }
  return std::fflush(stdout) == 0 ? 0 : 1;
}
