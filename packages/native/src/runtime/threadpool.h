// A persistent thread pool, shared by every environment (main thread and worker threads). Workers
// sleep on a condition variable when idle (after a short spin), so a busy machine is not burdened by
// spinning regions. Work is split statically: chunk i always covers the same range for a given size
// and thread count, which keeps results deterministic. Each thread runs its own contiguous range of
// a job's chunks first (so consecutive ops find their part of the data in their own core's cache),
// then claims what is left of the others' ranges, so a late worker delays nobody. One job runs at a
// time: a thread that finds the pool busy with another environment's job runs its own chunks itself.
// Workers run a job in the submitter's environment (runtime/env_state.h), so they use its kernel
// table and count to its memory account.
#pragma once
#include <cstdint>
#include <functional>

namespace dlf {

/** Threads the current environment's parallel ops use, the caller included (DLF_NUM_THREADS, default: the cores). */
int num_threads();
/** Sets the current environment's thread count (1..256); other environments keep theirs. */
void set_num_threads(int n);
/** The thread count a new environment starts with. */
int default_threads();

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
