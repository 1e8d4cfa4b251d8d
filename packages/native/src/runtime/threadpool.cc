#include "runtime/threadpool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "runtime/env_state.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define DLF_PAUSE() _mm_pause()
#else
#define DLF_PAUSE() ((void)0)
#endif

namespace dlf {
namespace {

thread_local bool t_in_worker = false;

// Marks the calling thread as running chunks, so parallel calls nested in a chunk stay inline.
class InWorker {
 public:
  InWorker() : previous_(t_in_worker) { t_in_worker = true; }
  ~InWorker() { t_in_worker = previous_; }
  InWorker(const InWorker&) = delete;
  InWorker& operator=(const InWorker&) = delete;

 private:
  bool previous_;
};

// One posted job. `env` is the submitter's environment, made current on the workers that help;
// at most `helpers` workers join (the submitter's thread count minus itself).
struct Job {
  const std::function<void(int, int)>* fn = nullptr;
  int chunks = 0;
  EnvState* env = nullptr;
  int helpers = 0;
};

// The caller and up to 255 workers (set_num_threads allows 256 threads).
constexpr int kMaxParticipants = 256;

// Never destroyed (see pool()), so it has no way to stop its workers.
class Pool {
 public:
  explicit Pool(int workers) { add_workers(workers); }

  // Grows the pool to at least `workers` workers. It never shrinks: another environment may want
  // them, and a sleeping worker costs nothing. Waits for a running job: workers_ is the job's.
  void reserve(int workers) {
    std::lock_guard<std::mutex> busy(busy_mutex_);
    add_workers(workers - static_cast<int>(workers_.size()));
  }

  // Runs fn(chunk, chunks) for every chunk. The caller and the workers each run their own range of
  // chunks, then claim what is left of the others', so a worker that wakes late (or not at all, on a
  // busy machine) leaves its chunks to the others instead of holding the caller up. Chunk c always
  // covers the same work, whoever runs it.
  void run(int chunks, const std::function<void(int, int)>& fn, EnvState* env, int helpers) {
    std::unique_lock<std::mutex> busy(busy_mutex_, std::try_to_lock);
    if (!busy.owns_lock()) {
      // Another environment's job holds the workers: run alone, exactly as a worker would.
      InWorker in_worker;
      for (int c = 0; c < chunks; ++c) fn(c, chunks);
      return;
    }
    helpers = std::min(helpers, static_cast<int>(workers_.size()));
    if (chunks <= 1 || helpers <= 0) {
      for (int c = 0; c < chunks; ++c) fn(c, chunks);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = Job{&fn, chunks, env, helpers};
      joined_ = 0;
      errors_.assign(chunks, nullptr);
      participants_ = helpers + 1;
      for (int p = 0; p < participants_; ++p)
        next_in_range_[p].store(range_begin(p, chunks), std::memory_order_relaxed);
      generation_.fetch_add(1, std::memory_order_acq_rel);
    }
    cv_.notify_all();
    {
      InWorker in_worker;
      work(fn, chunks, 0);
    }
    {
      // No worker joins after this; wait for those that did to finish their chunks.
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = Job{};
    }
    for (int spin = 0; spin < 20000 && active_.load(std::memory_order_acquire) != 0; ++spin) DLF_PAUSE();
    if (active_.load(std::memory_order_acquire) != 0) {
      std::unique_lock<std::mutex> lock(mutex_);
      done_cv_.wait(lock, [&] { return active_.load(std::memory_order_acquire) == 0; });
    }
    std::exception_ptr first_error;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (auto& e : errors_) {
        if (e) {
          first_error = e;
          break;
        }
      }
    }
    if (first_error) std::rethrow_exception(first_error);
  }

 private:
  void add_workers(int count) {
    // Workers start from the current generation: a job posted before a worker first runs is not missed.
    const uint64_t start_generation = generation_.load(std::memory_order_acquire);
    for (int i = 0; i < count; ++i) workers_.emplace_back([this, start_generation] { loop(start_generation); });
  }

  // Participant p's own chunks of a job of `chunks`: [range_begin(p, chunks), range_begin(p + 1, chunks)).
  int range_begin(int p, int chunks) const {
    return static_cast<int>(static_cast<int64_t>(chunks) * p / participants_);
  }

  // Runs participant p's own range of chunks, then claims what is left of the others' (a participant
  // that joins late, or never, leaves its chunks to the rest). Own ranges first: the caller and
  // each worker touch the same part of consecutive ops' data (a layer's images), which stays in
  // their own core's cache, where chunks claimed from one shared counter moved between the cores
  // from op to op. Exceptions are kept per chunk.
  void work(const std::function<void(int, int)>& fn, int chunks, int p) {
    for (int i = 0; i < participants_; ++i) {
      const int q = (p + i) % participants_, end = range_begin(q + 1, chunks);
      for (;;) {
        const int c = next_in_range_[q].fetch_add(1, std::memory_order_acq_rel);
        if (c >= end) break;
        try {
          fn(c, chunks);
        } catch (...) {
          std::lock_guard<std::mutex> lock(mutex_);
          errors_[c] = std::current_exception();
        }
      }
    }
  }

  // Spins up to kSpin before the worker sleeps. In a training step the next op follows within
  // microseconds to a few hundred (the JavaScript between ops), and a worker woken from sleep joins
  // ~50-100 us late, leaving the caller to run the op's chunks alone. Spinning 40 us (the limit
  // before) made seed-cnn's 2-thread step ~6 % slower and its inference ~9 %.
  void spin_for_job(uint64_t seen) const {
    constexpr auto kSpin = std::chrono::microseconds(1000);
    const auto start = std::chrono::steady_clock::now();
    while (generation_.load(std::memory_order_acquire) == seen) {
      for (int i = 0; i < 64; ++i) DLF_PAUSE();
      if (std::chrono::steady_clock::now() - start > kSpin) return;
    }
  }

  void loop(uint64_t seen) {
    t_in_worker = true;
    for (;;) {
      spin_for_job(seen);
      Job job;
      int participant = 0;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        cv_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
        seen = generation_.load(std::memory_order_acquire);
        if (job_.fn && joined_ < job_.helpers) {
          participant = ++joined_;
          job = job_;
          active_.fetch_add(1, std::memory_order_acq_rel);
        }
      }
      if (!job.fn) continue;
      {
        EnvScope scope(job.env);
        work(*job.fn, job.chunks, participant);
      }
      if (active_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> lock(mutex_);
        done_cv_.notify_all();
      }
    }
  }

  std::vector<std::thread> workers_;
  std::mutex busy_mutex_;  // held by the thread whose job the workers run
  std::mutex mutex_;
  std::condition_variable cv_;
  std::condition_variable done_cv_;
  std::atomic<uint64_t> generation_{0};
  // Per participant of the current job (the caller 0, workers in the order they joined): the next
  // unclaimed chunk of its own range.
  std::unique_ptr<std::atomic<int>[]> next_in_range_{new std::atomic<int>[kMaxParticipants]};
  int participants_ = 1;
  std::atomic<int> active_{0};  // workers inside the current job
  Job job_;
  int joined_ = 0;  // workers that took the current job
  std::vector<std::exception_ptr> errors_;
};

Pool& pool() {
  static Pool* p = new Pool(default_threads() - 1);  // leaked on purpose: no join during static teardown
  return *p;
}

}  // namespace

int default_threads() {
  static const int threads = [] {
    const char* env = std::getenv("DLF_NUM_THREADS");
    if (env && *env) {
      char* end = nullptr;
      long n = std::strtol(env, &end, 10);
      if (end && *end == '\0' && n >= 1 && n <= 256) return static_cast<int>(n);
    }
    unsigned hc = std::thread::hardware_concurrency();
    return hc == 0 ? 1 : static_cast<int>(std::min(hc, 256u));
  }();
  return threads;
}

int num_threads() { return current_env().threads; }

void set_num_threads(int n) {
  n = std::clamp(n, 1, 256);
  pool().reserve(n - 1);
  current_env().threads = n;
}

void parallel_chunks(int num_chunks, const std::function<void(int, int)>& fn) {
  if (num_chunks <= 0) return;
  if (t_in_worker || num_chunks == 1) {
    for (int c = 0; c < num_chunks; ++c) fn(c, num_chunks);
    return;
  }
  EnvState& env = current_env();
  pool().run(num_chunks, fn, &env, env.threads - 1);
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
