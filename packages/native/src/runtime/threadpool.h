// A persistent thread pool. Workers sleep on a condition variable when idle (after a short spin),
// so a busy machine is not burdened by spinning regions. Work is split statically: chunk i always
// covers the same range for a given size and thread count, which keeps results deterministic; the
// threads claim chunks from a shared counter, so a late worker delays nobody.
#pragma once
#include <cstdint>
#include <functional>

namespace dlf {

/** Threads used by parallel_for, the caller included. From DLF_NUM_THREADS, default: the cores. */
int num_threads();
/** Changes the number of threads (1..256). Not to be called while a parallel_for runs. */
void set_num_threads(int n);

/**
 * Runs fn(begin, end) over [0, n) split into at most num_threads() contiguous chunks of at least
 * `grain` items. Runs inline when the work is small, when called from inside a worker, or when
 * another thread is already using the pool. Exceptions thrown by fn are rethrown in the caller.
 */
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

/**
 * Runs fn(chunk, num_chunks) for chunk in [0, num_chunks). The threads claim chunks as they come
 * free, so num_chunks may exceed num_threads() for balance; results must depend only on the chunk.
 */
void parallel_chunks(int num_chunks, const std::function<void(int, int)>& fn);

}  // namespace dlf
