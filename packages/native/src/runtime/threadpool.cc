#include "runtime/threadpool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define DLF_PAUSE() _mm_pause()
#else
#define DLF_PAUSE() ((void)0)
#endif

namespace dlf {
namespace {

thread_local bool t_in_worker = false;

class Pool {
 public:
  explicit Pool(int threads) { start(threads); }
  ~Pool() { stop(); }

  int size() const { return threads_; }

  void resize(int threads) {
    if (threads == threads_) return;
    stop();
    start(threads);
  }

  // Runs fn(chunk, chunks) on `chunks` chunks: chunk 0 on the caller, the rest on workers.
  void run(int chunks, const std::function<void(int, int)>& fn) {
    std::unique_lock<std::mutex> busy(busy_mutex_, std::try_to_lock);
    if (!busy.owns_lock() || chunks <= 1 || workers_.empty()) {
      for (int c = 0; c < chunks; ++c) fn(c, chunks);
      return;
    }
    chunks = std::min(chunks, threads_);
    std::exception_ptr first_error;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = &fn;
      job_chunks_ = chunks;
      errors_.assign(chunks, nullptr);
      pending_.store(chunks - 1, std::memory_order_release);
      generation_.fetch_add(1, std::memory_order_acq_rel);
    }
    cv_.notify_all();
    t_in_worker = true;
    try {
      fn(0, chunks);
    } catch (...) {
      first_error = std::current_exception();
    }
    t_in_worker = false;
    // Wait for the workers: spin briefly, then sleep.
    for (int spin = 0; spin < 20000 && pending_.load(std::memory_order_acquire) != 0; ++spin) DLF_PAUSE();
    if (pending_.load(std::memory_order_acquire) != 0) {
      std::unique_lock<std::mutex> lock(mutex_);
      done_cv_.wait(lock, [&] { return pending_.load(std::memory_order_acquire) == 0; });
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = nullptr;
      if (!first_error) {
        for (auto& e : errors_) {
          if (e) {
            first_error = e;
            break;
          }
        }
      }
    }
    if (first_error) std::rethrow_exception(first_error);
  }

 private:
  void start(int threads) {
    threads_ = std::max(1, threads);
    stopping_ = false;
    // Each worker starts from the generation current now, not whenever its thread first runs: a job
    // posted before a new thread gets scheduled would otherwise be missed and run() would wait forever.
    const uint64_t gen = generation_.load(std::memory_order_acquire);
    for (int i = 1; i < threads_; ++i) workers_.emplace_back([this, i, gen] { loop(i, gen); });
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
      generation_.fetch_add(1, std::memory_order_acq_rel);
    }
    cv_.notify_all();
    for (auto& w : workers_) w.join();
    workers_.clear();
  }

  void loop(int index, uint64_t seen) {
    t_in_worker = true;
    for (;;) {
      // Spin a little: in a training step the next op follows within microseconds.
      for (int spin = 0; spin < 4000 && generation_.load(std::memory_order_acquire) == seen; ++spin) DLF_PAUSE();
      const std::function<void(int, int)>* job = nullptr;
      int chunks = 0;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        cv_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
        seen = generation_.load(std::memory_order_acquire);
        if (stopping_) return;
        job = job_;
        chunks = job_chunks_;
      }
      if (!job || index >= chunks) continue;
      try {
        (*job)(index, chunks);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        errors_[index] = std::current_exception();
      }
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> lock(mutex_);
        done_cv_.notify_all();
      }
    }
  }

  int threads_ = 1;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
  std::mutex busy_mutex_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::condition_variable done_cv_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  const std::function<void(int, int)>* job_ = nullptr;
  int job_chunks_ = 0;
  std::vector<std::exception_ptr> errors_;
};

int default_threads() {
  const char* env = std::getenv("DLF_NUM_THREADS");
  if (env && *env) {
    char* end = nullptr;
    long n = std::strtol(env, &end, 10);
    if (end && *end == '\0' && n >= 1 && n <= 256) return static_cast<int>(n);
  }
  unsigned hc = std::thread::hardware_concurrency();
  return hc == 0 ? 1 : static_cast<int>(std::min(hc, 256u));
}

Pool& pool() {
  static Pool* p = new Pool(default_threads());  // leaked on purpose: no join during static teardown
  return *p;
}

}  // namespace

int num_threads() { return pool().size(); }

void set_num_threads(int n) { pool().resize(std::clamp(n, 1, 256)); }

void parallel_chunks(int num_chunks, const std::function<void(int, int)>& fn) {
  if (num_chunks <= 0) return;
  if (t_in_worker || num_chunks == 1) {
    for (int c = 0; c < num_chunks; ++c) fn(c, num_chunks);
    return;
  }
  pool().run(num_chunks, fn);
}

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  int64_t max_chunks = std::max<int64_t>(1, n / grain);
  int chunks = static_cast<int>(std::min<int64_t>(max_chunks, t_in_worker ? 1 : num_threads()));
  if (chunks <= 1) {
    fn(0, n);
    return;
  }
  parallel_chunks(chunks, [&](int c, int total) {
    int64_t begin = n * c / total;
    int64_t end = n * (c + 1) / total;
    if (begin < end) fn(begin, end);
  });
}

}  // namespace dlf
