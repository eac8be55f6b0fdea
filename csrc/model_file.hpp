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
//
// Reading trusts nothing: it opens regular files only (never blocking on a pipe or
// reading a device), reads the fixed header and the layer table, computes the exact
// size they declare with checked arithmetic and compares it with the file's size
// before reading the rest, then checks the checksum (against damage) and every field
// (against edits): counts, activations, alphas, dropout rates, reserved bytes and
// padding, finite parameters, a standardisation with positive std and finite inverse.
// Any failure is a ModelFileError with a sentence (a file that cannot be opened a
// FileError); nothing is allocated beyond the file's own size and the network's
// parameters, and that only once memory.hpp says the process can have it.
//
// Writing refuses a network whose parameters are not all finite (the file would not
// load). It goes to a temporary file beside the target, named ".<name>.nnf-tmp-<random>"
// (a name too long for that within NAME_MAX keeps its start and a hash of the rest) and
// locked (flock) from its creation until it has been renamed; it is synced, given the
// target's permission bits (a new file: 0666 less the umask), renamed over the target,
// and the directory synced. A target that is a symbolic link is followed: the file it
// points to is replaced and the link stays (a link to nothing is refused). Any failure
// removes the temporary; failures of the system are FileError (an OSError in Python)
// naming the path. A writer killed midway leaves its temporary behind, unlocked: the
// next save of the same path removes it (a locked one belongs to a save in progress and
// is left alone). Reading and writing hold no shared state: any thread may call them.
#pragma once

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checked.hpp"
#include "network.hpp"

namespace nnfast {

static_assert(sizeof(double) == 8 && sizeof(float) == 4, "IEEE float sizes expected");

// A file that is not a readable nnfast model (foreign, damaged, truncated, edited).
class ModelFileError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// A system call on `path` failed with errno `err` (Python sees an OSError of that errno
// naming the path: FileNotFoundError, PermissionError, ...). what() is one line.
class FileError : public std::runtime_error {
public:
    FileError(const std::string& what, const std::string& path, int err)
        : std::runtime_error(what + " " + path + ": " + std::strerror(err)), path_(path), err_(err) {}
    const std::string& path() const { return path_; }
    int error() const { return err_; }

private:
    std::string path_;
    int err_;
};

namespace file_detail {
constexpr char kMagic[8] = {'N', 'N', 'F', 'A', 'S', 'T', '\0', '\0'};
constexpr uint32_t kVersion = 1;
constexpr uint32_t kStandardized = 1;
constexpr int64_t kMaxLayers = 4096;
constexpr int64_t kMaxWidth = int64_t(1) << 31;
constexpr int64_t kHeaderBytes = 40;      // magic to inputs
constexpr int64_t kLayerBytes = 32;       // one entry of the layer table
constexpr const char* kTempTag = ".nnf-tmp-";

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

template <class V>
V read_at(const std::vector<unsigned char>& bytes, int64_t pos) {
    V v;
    std::memcpy(&v, bytes.data() + pos, sizeof(V));
    return v;
}

// A file descriptor closed on scope exit.
class Fd {
public:
    explicit Fd(int fd = -1) : fd_(fd) {}
    ~Fd() { reset(); }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const { return fd_; }
    void reset(int fd = -1) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = fd;
    }
    int release() {
        const int fd = fd_;
        fd_ = -1;
        return fd;
    }

private:
    int fd_;
};

// Reads exactly n bytes at the current offset into out; false at an early end of file.
inline bool read_exactly(int fd, unsigned char* out, int64_t n) {
    while (n > 0) {
        const ssize_t k = ::read(fd, out, size_t(std::min<int64_t>(n, int64_t(1) << 30)));
        if (k < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (k < 0) throw ModelFileError(std::string("cannot read the file: ") + std::strerror(errno));
        if (k == 0) return false;
        out += k;
        n -= k;
    }
    return true;
}

template <class S>
bool all_finite(const unsigned char* raw, int64_t count) {
    for (int64_t i = 0; i < count; ++i) {
        S v;
        std::memcpy(&v, raw + i * int64_t(sizeof(S)), sizeof(S));
        if (!std::isfinite(v)) return false;
    }
    return true;
}

// std (count) must be positive and finite with a finite inverse; mean (count) finite
template <class S>
void check_scaling(const unsigned char* mean, const unsigned char* stdev, int64_t count) {
    for (int64_t j = 0; j < count; ++j) {
        S m, s;
        std::memcpy(&m, mean + j * int64_t(sizeof(S)), sizeof(S));
        std::memcpy(&s, stdev + j * int64_t(sizeof(S)), sizeof(S));
        if (!std::isfinite(m)) throw ModelFileError("field 'standardisation.mean' holds NaN or infinite values");
        if (!(s > S(0)) || !std::isfinite(s) || !std::isfinite(S(1) / s))
            throw ModelFileError("field 'standardisation.std' must be positive and finite, with a finite inverse");
    }
}

inline uint64_t splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

// 16 hex digits that differ between processes, threads and calls (O_EXCL settles any clash)
inline std::string random_tag() {
    static std::atomic<uint64_t> counter{0};
    uint64_t x = uint64_t(std::chrono::steady_clock::now().time_since_epoch().count());
    x = splitmix64(x ^ (uint64_t(::getpid()) << 32));
    x = splitmix64(x ^ std::hash<std::thread::id>()(std::this_thread::get_id()));
    x = splitmix64(x ^ counter.fetch_add(1));
    char out[17];
    std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(x));
    return out;
}

// (directory, file name) of a path; "." for a bare name
inline std::pair<std::string, std::string> split_path(const std::string& path) {
    const auto slash = path.rfind('/');
    if (slash == std::string::npos) return {".", path};
    return {slash == 0 ? "/" : path.substr(0, slash), path.substr(slash + 1)};
}

// What the temporaries of `name` in `dir` start with: "." + name + ".nnf-tmp-", to which
// 16 random hex digits are added. A name too long for that within the directory's
// NAME_MAX (255 on most file systems) keeps its first bytes and gets a hash of the
// whole name instead of the rest: still one prefix per name, so stale temporaries of
// that name are found, and still within NAME_MAX.
inline std::string temp_prefix(const std::string& dir, const std::string& name) {
    long name_max = ::pathconf(dir.c_str(), _PC_NAME_MAX);
    if (name_max <= 0 || name_max > 4096) name_max = 255;
    const size_t tag = std::strlen(kTempTag) + 16;
    if (1 + name.size() + tag <= size_t(name_max)) return "." + name + kTempTag;
    char hash[18];
    std::snprintf(hash, sizeof hash, "~%016llx",
                  static_cast<unsigned long long>(
                      fnv1a(reinterpret_cast<const unsigned char*>(name.data()), name.size())));
    const size_t keep = size_t(std::max<long>(0, name_max - long(1 + 17 + tag)));
    return "." + name.substr(0, std::min(keep, name.size())) + hash + kTempTag;
}

// Removes the temporaries of `name` in `dir` that no save holds locked: what a killed
// writer left behind. Best effort: a temporary that cannot be examined stays.
inline void remove_stale_temporaries(const std::string& dir, const std::string& name) {
    const std::string prefix = temp_prefix(dir, name);
    DIR* d = ::opendir(dir.c_str());
    if (!d) return;
    std::vector<std::string> candidates;
    while (const dirent* entry = ::readdir(d))
        if (std::strncmp(entry->d_name, prefix.c_str(), prefix.size()) == 0) candidates.push_back(entry->d_name);
    ::closedir(d);
    for (const auto& candidate : candidates) {
        const std::string full = dir + "/" + candidate;
        Fd fd(::open(full.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW));
        if (fd.get() < 0) continue;
        struct stat opened, named;
        if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) continue;  // a save in progress
        // still the same regular file under that name: then it is an orphan
        if (::fstat(fd.get(), &opened) == 0 && ::lstat(full.c_str(), &named) == 0 && S_ISREG(opened.st_mode) &&
            opened.st_dev == named.st_dev && opened.st_ino == named.st_ino)
            ::unlink(full.c_str());
    }
}

[[noreturn]] inline void write_failed(const std::string& path, int err) { throw FileError("cannot write", path, err); }

// The file a save to `path` replaces: `path` itself, or, when `path` is a symbolic link
// (or a chain of them), the file it finally points to, so that the link stays a link
// and the file it names gets the model. A link to nothing is refused (ENOENT): it would
// otherwise create a file at a place the caller never named.
inline std::string save_target(const std::string& path) {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) return path;
    char* resolved = ::realpath(path.c_str(), nullptr);
    if (!resolved) throw FileError("cannot write through the symbolic link", path, errno);
    std::string target(resolved);
    std::free(resolved);
    return target;
}

// Writes `bytes` to `path` through a locked temporary beside it (see the file header).
inline void replace_file(const std::string& given, const std::vector<unsigned char>& bytes) {
    const std::string path = save_target(given);
    const auto [dir, name] = split_path(path);
    if (name.empty() || name == "." || name == "..") write_failed(given, EISDIR);
    remove_stale_temporaries(dir, name);

    const std::string prefix = dir + "/" + temp_prefix(dir, name);
    std::string tmp;
    Fd fd;
    for (int attempt = 0;; ++attempt) {
        tmp = prefix + random_tag();
        // 0666 less the umask, as for any new file; O_EXCL: never someone else's file
        fd.reset(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0666));
        if (fd.get() < 0) {
            if (errno == EEXIST && attempt < 16) continue;
            write_failed(given, errno);
        }
        struct stat opened, named;
        // locked, and still ours under that name (a stale-file sweep could have taken it
        // between open and flock)
        if (::flock(fd.get(), LOCK_EX) == 0 && ::fstat(fd.get(), &opened) == 0 &&
            ::lstat(tmp.c_str(), &named) == 0 && opened.st_dev == named.st_dev && opened.st_ino == named.st_ino)
            break;
        if (attempt >= 16) write_failed(given, EAGAIN);
    }
    auto fail = [&](int err) {
        ::unlink(tmp.c_str());
        write_failed(given, err);
    };
    struct stat existing;
    if (::stat(path.c_str(), &existing) == 0 && S_ISREG(existing.st_mode)) {
        // keep the replaced file's group and permission bits (its owner too where allowed)
        if (::fchown(fd.get(), existing.st_uid, existing.st_gid) != 0)
            (void)!::fchown(fd.get(), uid_t(-1), existing.st_gid);
        if (::fchmod(fd.get(), existing.st_mode & 07777) != 0) fail(errno);
    }
    size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t k = ::write(fd.get(), bytes.data() + done, bytes.size() - done);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) fail(k < 0 ? errno : EIO);
        done += size_t(k);
    }
    if (::fsync(fd.get()) != 0) fail(errno);
    // renamed while still open and locked: until the rename the temporary is a save in
    // progress, which another save's sweep of stale temporaries leaves alone
    if (std::rename(tmp.c_str(), path.c_str()) != 0) fail(errno);
    // after fsync nothing is left to flush; a close error now would not mean lost data
    (void)::close(fd.release());
    // the rename itself is durable only once the directory is
    Fd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir_fd.get() >= 0 && ::fsync(dir_fd.get()) != 0 && errno != EINVAL && errno != EROFS)
        throw FileError("wrote the model but cannot sync the directory of", given, errno);
}
}  // namespace file_detail

// What a model file holds. The file's bytes are kept whole; the parameters and the
// standardisation are ranges of them (raw little-endian scalars).
struct ModelFile {
    int scalar_bytes = 4;
    int64_t inputs = 0;
    std::vector<LayerSpec> layers;
    std::string json;
    std::vector<unsigned char> bytes;     // the whole file
    int64_t params_offset = 0, n_params = 0;
    int64_t mean_offset = -1, std_offset = -1;  // -1: not standardised
};

// Writes to a temporary file beside `path`, syncs it, then renames it over `path`:
// a reader sees the old file or the new one, never half of one.
template <class T>
void write_model_file(const std::string& path, const Network<T>& net, const std::string& json) {
    using namespace file_detail;
    if (!little_endian()) throw std::runtime_error("saving is supported on little-endian machines only");
    // a saved file must load, and loading refuses NaN and infinity
    int64_t nonfinite = 0;
    for (int64_t i = 0; i < net.n_params(); ++i) nonfinite += !std::isfinite(net.params()[i]);
    if (nonfinite)
        throw std::invalid_argument("cannot save to " + path + ": " + std::to_string(nonfinite) +
                                    " of the model's parameters are NaN or infinite (a model file must load, and "
                                    "loading refuses them)");
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
    w.put_bytes(net.params(), sizeof(T) * size_t(net.n_params()));
    if (scaling) w.put_bytes(scaling, sizeof(T) * 2 * size_t(net.inputs()));  // mean, std
    w.put(fnv1a(w.bytes.data(), w.bytes.size()));
    replace_file(path, w.bytes);
}

inline ModelFile read_model_file(const std::string& path) {
    using namespace file_detail;
    if (!little_endian()) throw std::runtime_error("loading is supported on little-endian machines only");
    // O_NONBLOCK: opening a FIFO must not wait for a writer; only regular files are read
    Fd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    if (fd.get() < 0) throw FileError("cannot open the model file", path, errno);
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) throw FileError("cannot examine the model file", path, errno);
    if (!S_ISREG(st.st_mode))
        throw ModelFileError("it is not a regular file (a directory, device, pipe or socket)");
    const int64_t size = int64_t(st.st_size);

    ModelFile m;
    std::vector<unsigned char>& bytes = m.bytes;
    bytes.resize(size_t(std::min<int64_t>(size, kHeaderBytes)));
    const bool whole_header = read_exactly(fd.get(), bytes.data(), int64_t(bytes.size()));
    if (bytes.size() < 8 || std::memcmp(bytes.data(), kMagic, 8) != 0)
        throw ModelFileError("not an nnfast model file (field 'header.magic' is not NNFAST)");
    if (!whole_header || size < kHeaderBytes + 8)
        throw ModelFileError("the file is truncated (no complete header: " + std::to_string(size) + " bytes)");

    const auto version = read_at<uint32_t>(bytes, 8);
    if (version != kVersion) throw ModelFileError("field 'header.version' is " + std::to_string(version) +
                                                   ": unsupported model file version (this nnfast reads " +
                                                   std::to_string(kVersion) + ")");
    const auto scalar_bytes = read_at<uint32_t>(bytes, 12);
    if (scalar_bytes != 4 && scalar_bytes != 8)
        throw ModelFileError("field 'header.scalar_bytes' is " + std::to_string(scalar_bytes) +
                             ": bad scalar size (4 or 8 expected)");
    m.scalar_bytes = int(scalar_bytes);
    const auto n_layers = read_at<uint32_t>(bytes, 16);
    const auto flags = read_at<uint32_t>(bytes, 20);
    const auto json_bytes = read_at<uint64_t>(bytes, 24);
    const auto inputs = read_at<uint64_t>(bytes, 32);
    if (n_layers == 0 || n_layers > kMaxLayers)
        throw ModelFileError("field 'header.layers' is " + std::to_string(n_layers) + ": bad layer count (1 to " +
                             std::to_string(kMaxLayers) + ")");
    if (inputs == 0 || inputs > uint64_t(kMaxWidth))
        throw ModelFileError("field 'header.inputs' is " + std::to_string(inputs) + ": bad input count (1 to 2^31)");
    if (flags & ~kStandardized)
        throw ModelFileError("field 'header.flags' has unknown flags (" + std::to_string(flags) + ")");
    if (json_bytes > uint64_t(size))
        throw ModelFileError("the file is truncated (field 'header.json_bytes' is " + std::to_string(json_bytes) +
                             ", more than the file's " + std::to_string(size) + " bytes)");
    m.inputs = int64_t(inputs);

    // the layer table, then the exact size everything declares
    const int64_t table_end = kHeaderBytes + kLayerBytes * int64_t(n_layers);
    if (table_end > size) throw ModelFileError("the file is truncated (in the layer table)");
    bytes.resize(size_t(table_end));
    if (!read_exactly(fd.get(), bytes.data() + kHeaderBytes, table_end - kHeaderBytes))
        throw ModelFileError("the file is truncated (in the layer table)");
    int64_t n_params = 0, fan_in = int64_t(inputs);
    for (uint32_t l = 0; l < n_layers; ++l) {
        const int64_t at = kHeaderBytes + kLayerBytes * int64_t(l);
        const std::string which = "layer_table[" + std::to_string(l) + "]";
        LayerSpec layer;
        const auto units = read_at<uint64_t>(bytes, at);
        const auto activation = read_at<int32_t>(bytes, at + 8);
        const auto reserved = read_at<int32_t>(bytes, at + 12);
        layer.alpha = read_at<double>(bytes, at + 16);
        layer.input_dropout = read_at<double>(bytes, at + 24);
        if (units == 0 || units > uint64_t(kMaxWidth))
            throw ModelFileError("field '" + which + ".units' is " + std::to_string(units) +
                                 ": bad layer width (1 to 2^31)");
        if (activation < 0 || activation > int32_t(Activation::softmax))
            throw ModelFileError("field '" + which + ".activation' is " + std::to_string(activation) +
                                 ": bad activation");
        if (Activation(activation) == Activation::softmax && l + 1 != n_layers)
            throw ModelFileError("field '" + which +
                                 ".activation' is softmax: bad activation (softmax is for the output layer only)");
        if (reserved != 0) throw ModelFileError("field '" + which + ".reserved' must be zero");
        if (!(std::isfinite(layer.alpha) && layer.alpha >= 0.0))
            throw ModelFileError("field '" + which + ".alpha' is " + std::to_string(layer.alpha) +
                                 ": bad activation alpha (must be finite and non-negative)");
        if (!(layer.input_dropout >= 0.0 && layer.input_dropout < 1.0))
            throw ModelFileError("field '" + which + ".input_dropout' is " + std::to_string(layer.input_dropout) +
                                 ": bad dropout (must be in [0, 1))");
        layer.units = int64_t(units);
        layer.activation = Activation(activation);
        // both factors below 2^31 and at most 4096 layers: below 2^75 at worst, so checked
        n_params = checked_add(n_params, checked_add(checked_mul(fan_in, layer.units, "a layer"), layer.units, "a layer"),
                               "the parameter count");
        fan_in = layer.units;
        m.layers.push_back(layer);
    }
    const int64_t sb = m.scalar_bytes;
    const int64_t json_end = checked_add(table_end, int64_t(json_bytes), "the file size");
    const int64_t params_offset = (json_end + 7) / 8 * 8;
    int64_t expected = checked_add(params_offset, checked_mul(n_params, sb, "the parameters"), "the file size");
    if (flags & kStandardized)
        expected = checked_add(expected, checked_mul(2 * int64_t(inputs), sb, "the standardisation"), "the file size");
    expected = checked_add(expected, 8, "the file size");
    if (size < expected)
        throw ModelFileError("the file is truncated (" + std::to_string(size) + " bytes; its header declares " +
                             std::to_string(expected) + ")");
    if (size > expected)
        throw ModelFileError("the file has trailing bytes (" + std::to_string(size) + " bytes; its header declares " +
                             std::to_string(expected) + ")");

    // the file's bytes, then the network's parameters copied out of them: both must fit in
    // what the process can still have (a sparse file may declare any size: it is not read blindly)
    require_allocatable(checked_add(size, checked_mul(n_params, sb, "the parameters"), "loading the model"),
                        "loading " + path + " (its " + std::to_string(size >> 20) + " MiB and the network)");
    try {
        bytes.resize(size_t(size));
    } catch (const std::bad_alloc&) {
        throw OutOfMemory("cannot allocate " + std::to_string(size >> 20) + " MiB to read " + path);
    }
    if (!read_exactly(fd.get(), bytes.data() + table_end, size - table_end))
        throw ModelFileError("the file is truncated (it shrank while being read)");
    if (fnv1a(bytes.data(), size_t(size - 8)) != read_at<uint64_t>(bytes, size - 8))
        throw ModelFileError("the file is damaged (checksum mismatch)");

    m.json.assign(reinterpret_cast<const char*>(bytes.data() + table_end), size_t(json_bytes));
    for (int64_t k = json_end; k < params_offset; ++k)
        if (bytes[size_t(k)] != 0) throw ModelFileError("field 'padding' after the JSON must be zero bytes");
    m.params_offset = params_offset;
    m.n_params = n_params;
    const bool finite = sb == 4 ? all_finite<float>(bytes.data() + params_offset, n_params)
                                : all_finite<double>(bytes.data() + params_offset, n_params);
    if (!finite) throw ModelFileError("field 'parameters' holds NaN or infinite values");
    if (flags & kStandardized) {
        m.mean_offset = params_offset + n_params * sb;
        m.std_offset = m.mean_offset + int64_t(inputs) * sb;
        if (sb == 4)
            check_scaling<float>(bytes.data() + m.mean_offset, bytes.data() + m.std_offset, int64_t(inputs));
        else
            check_scaling<double>(bytes.data() + m.mean_offset, bytes.data() + m.std_offset, int64_t(inputs));
    }
    return m;
}

// The network stored in `m`, which must hold scalars of type T.
template <class T>
std::unique_ptr<Network<T>> network_from_file(const ModelFile& m) {
    if (m.scalar_bytes != int(sizeof(T))) throw std::invalid_argument("the file holds another scalar type");
    auto net = std::make_unique<Network<T>>(m.inputs, m.layers);
    if (net->n_params() != m.n_params) throw ModelFileError("the parameter count disagrees with the layer table");
    std::memcpy(net->params(), m.bytes.data() + m.params_offset, size_t(m.n_params) * sizeof(T));
    if (m.mean_offset >= 0) {
        std::vector<T> mean(size_t(m.inputs)), stdev(size_t(m.inputs));
        std::memcpy(mean.data(), m.bytes.data() + m.mean_offset, mean.size() * sizeof(T));
        std::memcpy(stdev.data(), m.bytes.data() + m.std_offset, stdev.size() * sizeof(T));
        net->set_standardization(mean, stdev);
    }
    return net;
}

}  // namespace nnfast
