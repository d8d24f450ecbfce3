// The read side of unpacking: each layer blob read once (mmap), its sha256 computed over the
// compressed bytes while they are decompressed (gzip members by libdeflate, falling back to zlib
// for members too large to decode in memory; zstd; plain tar), the tar bytes handed to a consumer
// thread through a bounded queue. The digest and size are checked when the layer's last byte has
// been read; a mismatch reaches the consumer as an Error instead of the layer's end, so the
// consumer never takes an unverified layer for a complete one.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/digest.h"

namespace envpack::detail {

struct LayerBlob {
    std::filesystem::path path;
    Digest digest;           // expected sha256 of the blob
    std::int64_t size = -1;  // expected size; -1: not checked
};

// Tar bytes of one layer at a time, in order. Thread-safe between one producer and one consumer.
class LayerStream {
  public:
    // Starts a producer thread over `layers`. `on_read` (may be empty) is called from that thread
    // with the number of compressed bytes just read.
    LayerStream(std::vector<LayerBlob> layers, std::size_t max_buffered,
                std::function<void(std::uint64_t)> on_read);
    // Stops the producer (if still running) and joins it.
    ~LayerStream();
    LayerStream(const LayerStream&) = delete;
    LayerStream& operator=(const LayerStream&) = delete;

    // The next bytes of the current layer (at most `max`), valid until the next call; empty at the
    // layer's end, which means the layer was read whole and matched its digest. Rethrows the
    // producer's Error (damaged data, digest mismatch, unreadable blob).
    std::string_view read(std::size_t max);
    // Skips what is left of the current layer (after the tar's end) and moves to the next layer.
    // Throws like read().
    void next_layer();

  private:
    struct Item {
        enum class Kind { data, end, error } kind = Kind::data;
        std::string bytes;
        std::exception_ptr error;
    };
    void produce();
    void produce_layer(const LayerBlob& blob);
    // Producer side: blocks while the queue is full; returns false when the consumer is gone.
    bool push(Item item);
    void push_bytes(std::string bytes);

    std::vector<LayerBlob> m_layers;
    std::size_t m_max_buffered;
    std::function<void(std::uint64_t)> m_on_read;

    std::mutex m_mutex;
    std::condition_variable m_cv;
    std::deque<Item> m_queue;
    std::size_t m_buffered = 0;
    bool m_stopping = false;

    // Consumer side: the front item being read.
    std::string m_current;
    std::size_t m_pos = 0;
    bool m_at_end = false;

    std::thread m_thread;
};

}  // namespace envpack::detail
