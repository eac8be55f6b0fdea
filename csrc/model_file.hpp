// The saved-model file: everything a network needs to predict, readable from
// C++ alone (no JSON parser needed: the JSON is carried for the Python side).
//
// Little-endian, in order:
//   magic "NNFAST\0\0" (8) | u32 version (1) | u32 scalar bytes (4 or 8) | u32 layers L | u32 flags (bit 0: standardised)
//   u64 json bytes | u64 inputs
//   L x { u64 units | i32 activation | i32 zero | f64 alpha | f64 input dropout }
//   json (UTF-8) | zero padding to a multiple of 8 bytes
//   parameters (W1..WL, b1..bL) | [mean (inputs), std (inputs)] when standardised
//   u64 FNV-1a checksum of every byte before it
// Reading checks every count against the file's size before allocating, so a
// damaged or hostile file fails with an error and never over-allocates.
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "network.hpp"

namespace nnfast {

static_assert(sizeof(double) == 8 && sizeof(float) == 4, "IEEE float sizes expected");

namespace file_detail {
constexpr char kMagic[8] = {'N', 'N', 'F', 'A', 'S', 'T', '\0', '\0'};
constexpr uint32_t kVersion = 1;
constexpr uint32_t kStandardized = 1;
constexpr int64_t kMaxLayers = 4096;
constexpr int64_t kMaxWidth = int64_t(1) << 31;

inline bool little_endian() {
    const uint16_t probe = 1;
    unsigned char first;
    std::memcpy(&first, &probe, 1);
    return first == 1;
}

inline uint64_t fnv1a(const unsigned char* data, size_t n, uint64_t h = 0xcbf29ce484222325ull) {
    for (size_t i = 0; i < n; ++i) h = (h ^ data[i]) * 0x100000001b3ull;
    return h;
}

struct Writer {
    std::vector<unsigned char> bytes;
    template <class V>
    void put(V v) {
        const auto* p = reinterpret_cast<const unsigned char*>(&v);
        bytes.insert(bytes.end(), p, p + sizeof(V));
    }
    void put_bytes(const void* p, size_t n) {
        const auto* c = static_cast<const unsigned char*>(p);
        bytes.insert(bytes.end(), c, c + n);
    }
};

struct Reader {
    const std::vector<unsigned char>& bytes;
    size_t pos = 0;
    void need(size_t n) const {
        if (n > bytes.size() - pos) throw std::runtime_error("the file is truncated");
    }
    template <class V>
    V get() {
        need(sizeof(V));
        V v;
        std::memcpy(&v, bytes.data() + pos, sizeof(V));
        pos += sizeof(V);
        return v;
    }
    std::vector<unsigned char> take(size_t n) {
        need(n);
        std::vector<unsigned char> out(bytes.begin() + pos, bytes.begin() + pos + n);
        pos += n;
        return out;
    }
};
}  // namespace file_detail

struct ModelFile {
    int scalar_bytes = 4;
    int64_t inputs = 0;
    std::vector<LayerSpec> layers;
    std::string json;
    std::vector<unsigned char> params, mean, stdev;  // raw little-endian scalars
};

// Writes to a temporary file beside `path`, syncs it, then renames it over `path`:
// a reader sees the old file or the new one, never half of one.
template <class T>
void write_model_file(const std::string& path, const Network<T>& net, const std::string& json) {
    using namespace file_detail;
    if (!little_endian()) throw std::runtime_error("saving is supported on little-endian machines only");
    const T* scaling = net.scaling();  // one snapshot: a concurrent change cannot split it
    Writer w;
    w.put_bytes(kMagic, 8);
    w.put(kVersion);
    w.put(uint32_t(sizeof(T)));
    w.put(uint32_t(net.layers().size()));
    w.put(scaling ? kStandardized : uint32_t(0));
    w.put(uint64_t(json.size()));
    w.put(uint64_t(net.inputs()));
    for (const auto& layer : net.layers()) {
        w.put(uint64_t(layer.units));
        w.put(int32_t(layer.activation));
        w.put(int32_t(0));
        w.put(layer.alpha);
        w.put(layer.input_dropout);
    }
    w.put_bytes(json.data(), json.size());
    while (w.bytes.size() % 8) w.bytes.push_back(0);
    w.put_bytes(net.params(), sizeof(T) * net.n_params());
    if (scaling) w.put_bytes(scaling, sizeof(T) * 2 * size_t(net.inputs()));  // mean, std
    w.put(fnv1a(w.bytes.data(), w.bytes.size()));

    std::string tmp = path + ".XXXXXX";
    std::vector<char> name(tmp.begin(), tmp.end());
    name.push_back('\0');
    const int fd = mkstemp(name.data());
    if (fd < 0) throw std::runtime_error("cannot create a file beside " + path + ": " + std::strerror(errno));
    size_t done = 0;
    bool ok = true;
    while (ok && done < w.bytes.size()) {
        const ssize_t k = ::write(fd, w.bytes.data() + done, w.bytes.size() - done);
        if (k < 0 && errno == EINTR) continue;
        ok = k > 0;
        if (ok) done += size_t(k);
    }
    const int saved_errno = errno;
    ok = ok && ::fchmod(fd, 0644) == 0 && ::fsync(fd) == 0;
    ::close(fd);
    if (!ok || std::rename(name.data(), path.c_str()) != 0) {
        const int err = ok ? errno : saved_errno;
        std::remove(name.data());
        throw std::runtime_error("cannot write " + path + ": " + std::strerror(err));
    }
}

inline ModelFile read_model_file(const std::string& path) {
    using namespace file_detail;
    if (!little_endian()) throw std::runtime_error("loading is supported on little-endian machines only");
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
    std::vector<unsigned char> bytes;
    unsigned char chunk[1 << 16];
    size_t k;
    while ((k = std::fread(chunk, 1, sizeof chunk, f)) > 0) bytes.insert(bytes.end(), chunk, chunk + k);
    const bool failed = std::ferror(f);
    std::fclose(f);
    if (failed) throw std::runtime_error("cannot read " + path);

    if (bytes.size() < 8 + 8 || std::memcmp(bytes.data(), kMagic, 8) != 0)
        throw std::runtime_error("not an nnfast model file");
    uint64_t stored_sum;
    std::memcpy(&stored_sum, bytes.data() + bytes.size() - 8, 8);
    if (fnv1a(bytes.data(), bytes.size() - 8) != stored_sum)
        throw std::runtime_error("the file is damaged (checksum mismatch)");

    Reader r{bytes, 8};
    ModelFile m;
    const auto version = r.get<uint32_t>();
    if (version != kVersion)
        throw std::runtime_error("unsupported model file version " + std::to_string(version));
    m.scalar_bytes = int(r.get<uint32_t>());
    if (m.scalar_bytes != 4 && m.scalar_bytes != 8) throw std::runtime_error("unknown scalar size");
    const auto n_layers = r.get<uint32_t>();
    const auto flags = r.get<uint32_t>();
    const auto json_bytes = r.get<uint64_t>();
    const auto inputs = r.get<uint64_t>();
    if (n_layers == 0 || n_layers > kMaxLayers) throw std::runtime_error("bad layer count");
    if (inputs == 0 || inputs > uint64_t(kMaxWidth)) throw std::runtime_error("bad input count");
    if (flags & ~kStandardized) throw std::runtime_error("unknown flags");
    m.inputs = int64_t(inputs);
    uint64_t n_params = 0, fan_in = inputs;
    for (uint32_t l = 0; l < n_layers; ++l) {
        LayerSpec layer;
        const auto units = r.get<uint64_t>();
        const auto activation = r.get<int32_t>();
        r.get<int32_t>();
        layer.alpha = r.get<double>();
        layer.input_dropout = r.get<double>();
        if (units == 0 || units > uint64_t(kMaxWidth)) throw std::runtime_error("bad layer width");
        if (activation < 0 || activation > int32_t(Activation::softmax)) throw std::runtime_error("bad activation");
        if (!(layer.input_dropout >= 0.0 && layer.input_dropout < 1.0)) throw std::runtime_error("bad dropout");
        layer.units = int64_t(units);
        layer.activation = Activation(activation);
        n_params += fan_in * units + units;  // both below 2^31: no overflow
        if (n_params > bytes.size()) throw std::runtime_error("the file is truncated");
        fan_in = units;
        m.layers.push_back(layer);
    }
    if (json_bytes > bytes.size()) throw std::runtime_error("the file is truncated");
    const auto json = r.take(json_bytes);
    m.json.assign(json.begin(), json.end());
    while (r.pos % 8) r.get<uint8_t>();
    m.params = r.take(n_params * m.scalar_bytes);
    if (flags & kStandardized) {
        m.mean = r.take(inputs * m.scalar_bytes);
        m.stdev = r.take(inputs * m.scalar_bytes);
    }
    if (r.pos + 8 != bytes.size()) throw std::runtime_error("the file has trailing bytes");
    return m;
}

// The network stored in `m`, which must hold scalars of type T.
template <class T>
std::unique_ptr<Network<T>> network_from_file(const ModelFile& m) {
    if (m.scalar_bytes != int(sizeof(T))) throw std::invalid_argument("the file holds another scalar type");
    auto net = std::make_unique<Network<T>>(m.inputs, m.layers);
    std::memcpy(net->params(), m.params.data(), m.params.size());
    if (!m.mean.empty()) {
        std::vector<T> mean(m.inputs), stdev(m.inputs);
        std::memcpy(mean.data(), m.mean.data(), m.mean.size());
        std::memcpy(stdev.data(), m.stdev.data(), m.stdev.size());
        net->set_standardization(mean, stdev);
    }
    return net;
}

}  // namespace nnfast
