// Small RAII owners for libsolv objects. Private to the resolver: libsolv's headers never reach a
// public header.
#pragma once

// `requires` is a C++20 keyword and a member of libsolv's Solvable: it reads as `requires_` here.
#define requires requires_
extern "C" {
#include <solv/pool.h>
#include <solv/poolarch.h>
#include <solv/queue.h>
#include <solv/repo.h>
#include <solv/rules.h>
#include <solv/solver.h>
}
#undef requires

#include <memory>

namespace envpack::detail {

struct PoolDeleter {
    void operator()(Pool* p) const { pool_free(p); }
};
using PoolPtr = std::unique_ptr<Pool, PoolDeleter>;

struct SolverDeleter {
    void operator()(::Solver* s) const { solver_free(s); }
};
using SolverPtr = std::unique_ptr<::Solver, SolverDeleter>;

// A libsolv Queue (a growable array of Ids) freed on destruction.
class SolvQueue {
  public:
    SolvQueue() { queue_init(&m_q); }
    ~SolvQueue() { queue_free(&m_q); }
    SolvQueue(const SolvQueue&) = delete;
    SolvQueue& operator=(const SolvQueue&) = delete;

    Queue* get() { return &m_q; }
    void push(Id id) { queue_push(&m_q, id); }
    void push2(Id a, Id b) { queue_push2(&m_q, a, b); }
    int size() const { return m_q.count; }
    Id operator[](int i) const { return m_q.elements[i]; }
    void clear() { queue_empty(&m_q); }

  private:
    Queue m_q;
};

}  // namespace envpack::detail
