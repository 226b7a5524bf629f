// The walk across ranks: work stealing of directories and the detection of its end. Every MPI
// call of the walk is made here, on one thread; the copy thread and the engine's workers talk to
// it through rank_state under its mutex.
//
// Termination (Dijkstra-Safra): a rank is passive when it runs no unit and has none queued or
// waiting to be sent. Work messages are the only messages that make a rank active; each rank
// counts those it sent minus those it received, and turns black when it receives one. Rank 0,
// passive, sends a white token with count 0 around the ring; each rank forwards it when passive,
// adding its count and its colour, and turns white. When the token comes back white, rank 0 is
// white and the counts add up to zero, no work exists anywhere nor is in flight: rank 0 tells
// every rank the walk is over. Requests and empty answers are not work and are not counted; a
// batch pushed to a rank known idle (tag_push) is work, counted as an answer with a unit is.
#include <mpi.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "distributed.hpp"
#include "signals.hpp"

namespace treecopy_mpi {
namespace {

enum tag : int {
  tag_request = 1,
  tag_work = 2,
  tag_token = 3,
  tag_done = 4,
  tag_stop = 5,
  tag_progress = 6,
  tag_push = 7  // a batch pushed to a rank known idle (work, but no answer to a request)
};

// How long a thief waits for a subdirectory of a busy rank before it is told "none": the walker
// finds one at its next directory, usually well within this.
constexpr double thief_patience = 0.01;

double now() {
  using clock = std::chrono::steady_clock;
  return std::chrono::duration<double>(clock::now().time_since_epoch()).count();
}

class walk_loop {
 public:
  walk_loop(rank_state& st, MPI_Comm comm, message_stats& stats, treecopy::copy_observer* observer,
            double interval)
      : st_(st), comm_(comm), stats_(stats), observer_(observer), interval_(interval) {
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
    rng_.seed(static_cast<unsigned>(rank_) * 7919u + 17u);
    have_token_ = rank_ == 0;
    progress_.assign(static_cast<std::size_t>(size_) * progress_fields, 0);
    start_ = next_progress_ = now();
    next_progress_ += interval_;
  }

  void run() {
    while (!done_) {
      bool busy_loop = receive();
      if (!stop_sent_ && st_.job_stop.stop_requested()) tell_stop();
      if (now() >= next_progress_) progress();
      busy_loop |= serve();
      const bool passive = is_passive();
      if (passive && size_ > 1 && !outstanding_ && now() >= next_request_) ask_for_work();
      if (have_token_ && passive) pass_token();
      if (size_ == 1 && passive) done_ = true;
      if (!busy_loop) ::usleep(passive ? 200 : 500);
    }
    drain();
  }

 private:
  void send(const void* data, int n, int dest, int tag) {
    MPI_Send(data, n, MPI_BYTE, dest, tag, comm_);
    ++stats_.sent;
    stats_.bytes += static_cast<std::uint64_t>(n);
  }

  // Every message that has arrived; true when there was one.
  bool receive() {
    bool any = false;
    for (;;) {
      int flag = 0;
      MPI_Status status;
      MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, comm_, &flag, &status);
      if (!flag) return any;
      any = true;
      int n = 0;
      MPI_Get_count(&status, MPI_BYTE, &n);
      std::vector<char> buf(static_cast<std::size_t>(n) + 1);
      MPI_Recv(buf.data(), n, MPI_BYTE, status.MPI_SOURCE, status.MPI_TAG, comm_,
               MPI_STATUS_IGNORE);
      switch (status.MPI_TAG) {
        case tag_request: {
          std::lock_guard lock(st_.mu);
          st_.forget_idle(status.MPI_SOURCE);
          st_.waiting.push_back({status.MPI_SOURCE, now()});
          st_.thieves_.fetch_add(1, std::memory_order_relaxed);
          break;
        }
        case tag_push:
        case tag_work:
          if (status.MPI_TAG == tag_work) outstanding_ = false;
          if (n > 0) {
            --count_;
            black_ = true;
            backoff_ = 0.0005;
            std::lock_guard lock(st_.mu);
            st_.queue.emplace_back(buf.data(), static_cast<std::size_t>(n));
            st_.cv.notify_one();
          } else {
            // Nobody had work for us: ask again a little later, later each time, so that idle
            // ranks do not take the CPU from the busy ones.
            next_request_ = now() + backoff_;
            backoff_ = std::min(backoff_ * 2, 0.02);
          }
          break;
        case tag_token:
          std::memcpy(token_, buf.data(), sizeof token_);
          have_token_ = true;
          break;
        case tag_done:
          done_ = true;
          break;
        case tag_stop: {
          stop_sent_ = true;  // the sender told every rank
          int sig = 0;
          if (n == static_cast<int>(sizeof sig)) std::memcpy(&sig, buf.data(), sizeof sig);
          if (sig != 0 && st_.remote_signal.load() == 0) st_.remote_signal.store(sig);
          st_.job_stop.request_stop();
          break;
        }
        case tag_progress:
          if (n == static_cast<int>(sizeof(std::uint64_t)) * progress_fields)
            std::memcpy(&progress_[static_cast<std::size_t>(status.MPI_SOURCE) * progress_fields],
                        buf.data(), static_cast<std::size_t>(n));
          break;
      }
    }
  }

  // Answers the ranks that wait: a unit handed off by the walker, a queued unit, or none when
  // this rank has nothing to give soon. True when something was sent.
  bool serve() {
    std::vector<rank_state::gift> gifts;
    std::vector<int> empty;
    {
      std::lock_guard lock(st_.mu);
      gifts.swap(st_.outbox);
      const double t = now();
      while (!st_.waiting.empty()) {
        rank_state::thief th = st_.waiting.front();
        if (!st_.queue.empty()) {
          gifts.push_back({th.rank, std::move(st_.queue.back())});
          st_.queue.pop_back();
        } else if (!st_.busy || t - th.since > thief_patience) {
          // Known idle from now on: a batch that comes up here later (this rank busy again with
          // a unit from elsewhere, or still listing) is pushed to it, until it asks again.
          empty.push_back(th.rank);
          st_.idle.push_back(th.rank);
          st_.idle_count_.fetch_add(1, std::memory_order_relaxed);
        } else {
          break;  // the walker may find a subdirectory for it
        }
        st_.waiting.pop_front();
        st_.thieves_.fetch_sub(1, std::memory_order_relaxed);
      }
    }
    for (const auto& g : gifts) {
      ++count_;
      ++stats_.units_given;
      if (g.rel.find('\0') != std::string::npos) ++stats_.batches_given;
      send(g.rel.data(), static_cast<int>(g.rel.size()), g.rank, g.pushed ? tag_push : tag_work);
    }
    for (int r : empty) send(nullptr, 0, r, tag_work);
    return !gifts.empty() || !empty.empty();
  }

  // A stop asked on this rank (a signal): every other rank stops its units too, and the walk ends
  // as usual, each rank finishing what it had started. The message holds the signal (or 0), which
  // rank 0 makes the job's exit status, as treecopy's. Sent synchronously (MPI_Issend), and
  // waited for before the final barrier, so that no stop message outlives the walk.
  void tell_stop() {
    stop_sent_ = true;
    stop_signal_ = treecopy_cli::signal_stopper::received();
    for (int r = 0; r < size_; ++r) {
      if (r == rank_) continue;
      MPI_Request req;
      MPI_Issend(&stop_signal_, static_cast<int>(sizeof stop_signal_), MPI_BYTE, r, tag_stop, comm_,
                 &req);
      stop_requests_.push_back(req);
      ++stats_.sent;
    }
  }

  // Every interval: a rank sends its counters to rank 0 (synchronously, one at a time, so that
  // none outlives the walk), and rank 0 tells its observer the sum over the ranks. Progress
  // messages are not work: they do not count for the termination.
  void progress() {
    next_progress_ = now() + interval_;
    std::uint64_t mine[progress_fields];
    st_.read_progress(mine);
    if (rank_ != 0) {
      if (!progress_done()) return;
      std::memcpy(sent_progress_, mine, sizeof mine);
      MPI_Issend(sent_progress_, static_cast<int>(sizeof sent_progress_), MPI_BYTE, 0, tag_progress,
                 comm_, &progress_request_);
      ++stats_.sent;
      return;
    }
    std::memcpy(progress_.data(), mine, sizeof mine);
    if (!observer_) return;
    treecopy::progress_snapshot s;
    for (int r = 0; r < size_; ++r) {
      const std::uint64_t* p = &progress_[static_cast<std::size_t>(r) * progress_fields];
      s.entries_found += p[0];
      s.entries_done += p[1];
      s.bytes_found += p[2];
      s.bytes_done += p[3];
      s.errors += p[4];
      s.skipped += p[5];
    }
    s.bytes_found = std::max(s.bytes_found, s.bytes_done);
    s.elapsed = std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::duration<double>(now() - start_));
    if (!observer_->on_progress(s)) st_.job_stop.request_stop();
  }

  bool progress_done() {
    if (progress_request_ == MPI_REQUEST_NULL) return true;
    int flag = 0;
    MPI_Test(&progress_request_, &flag, MPI_STATUS_IGNORE);
    return flag != 0;
  }

  bool stops_delivered() {
    if (!progress_done()) return false;
    if (stop_requests_.empty()) return true;
    int flag = 0;
    MPI_Testall(static_cast<int>(stop_requests_.size()), stop_requests_.data(), &flag,
                MPI_STATUSES_IGNORE);
    if (flag) stop_requests_.clear();
    return flag != 0;
  }

  bool is_passive() {
    std::lock_guard lock(st_.mu);
    return st_.queue.empty() && !st_.busy && st_.outbox.empty();
  }

  void ask_for_work() {
    std::uniform_int_distribution<int> pick(0, size_ - 2);
    int victim = pick(rng_);
    if (victim >= rank_) ++victim;
    send(nullptr, 0, victim, tag_request);
    outstanding_ = true;
  }

  // token_[0]: the sum of counts so far, token_[1]: black.
  void pass_token() {
    if (size_ == 1) return;
    if (rank_ == 0) {
      if (round_started_ && token_[1] == 0 && !black_ && token_[0] + count_ == 0) {
        const char none = 0;
        for (int r = 1; r < size_; ++r) send(&none, 0, r, tag_done);
        done_ = true;
        return;
      }
      token_[0] = 0;
      token_[1] = 0;
      round_started_ = true;
    } else {
      token_[0] += count_;
      token_[1] |= black_ ? 1 : 0;
    }
    black_ = false;
    have_token_ = false;
    send(token_, sizeof token_, (rank_ + 1) % size_, tag_token);
  }

  // Every rank is done: answer the requests still in flight and collect the answers to ours,
  // then meet in a barrier (entered only without a request of our own outstanding, so a rank
  // that leaves it owes and is owed nothing).
  void drain() {
    if (size_ == 1) return;
    MPI_Request barrier = MPI_REQUEST_NULL;
    bool entered = false;
    for (;;) {
      int flag = 0;
      MPI_Status status;
      MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, comm_, &flag, &status);
      if (flag) {
        int n = 0;
        MPI_Get_count(&status, MPI_BYTE, &n);
        std::vector<char> buf(static_cast<std::size_t>(n) + 1);
        MPI_Recv(buf.data(), n, MPI_BYTE, status.MPI_SOURCE, status.MPI_TAG, comm_,
                 MPI_STATUS_IGNORE);
        if (status.MPI_TAG == tag_request) send(nullptr, 0, status.MPI_SOURCE, tag_work);
        if (status.MPI_TAG == tag_work) outstanding_ = false;
        continue;
      }
      if (!entered && !outstanding_ && stops_delivered()) {
        MPI_Ibarrier(comm_, &barrier);
        entered = true;
      }
      if (entered) {
        int finished = 0;
        MPI_Test(&barrier, &finished, MPI_STATUS_IGNORE);
        if (finished) break;
      }
      ::usleep(100);
    }
    std::lock_guard lock(st_.mu);
    st_.waiting.clear();
    st_.thieves_.store(0);
    st_.idle.clear();
    st_.idle_count_.store(0);
  }

  rank_state& st_;
  MPI_Comm comm_;
  message_stats& stats_;
  int rank_ = 0, size_ = 1;
  std::mt19937 rng_;
  bool done_ = false;
  bool outstanding_ = false;
  double next_request_ = 0, backoff_ = 0.0005;
  long long count_ = 0;
  bool black_ = false;
  bool have_token_ = false;
  bool round_started_ = false;
  bool stop_sent_ = false;
  treecopy::copy_observer* observer_;
  double interval_;
  double start_ = 0, next_progress_ = 0;
  std::vector<std::uint64_t> progress_;  ///< rank 0: the last counters of each rank
  std::uint64_t sent_progress_[progress_fields] = {};
  MPI_Request progress_request_ = MPI_REQUEST_NULL;
  std::vector<MPI_Request> stop_requests_;
  int stop_signal_ = 0;  ///< what tell_stop() sends (the buffer outlives the sends)
  long long token_[2] = {0, 0};
};

}  // namespace

void run_walk(rank_state& st, MPI_Comm comm, message_stats& stats,
              treecopy::copy_observer* observer, double interval) {
  walk_loop(st, comm, stats, observer, interval).run();
}

void final_progress(rank_state& st, const std::uint64_t after_walk[progress_fields],
                    treecopy::copy_observer* observer, std::chrono::nanoseconds elapsed) {
  std::uint64_t mine[progress_fields], sum[progress_fields] = {};
  st.read_progress(mine);
  for (int i = 0; i < progress_fields; ++i) mine[i] += after_walk[i];
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Reduce(mine, sum, progress_fields, MPI_UINT64_T, MPI_SUM, 0, MPI_COMM_WORLD);
  if (rank != 0 || !observer) return;
  treecopy::progress_snapshot s;
  s.entries_found = sum[0];
  s.entries_done = sum[1];
  s.bytes_found = std::max(sum[2], sum[3]);
  s.bytes_done = sum[3];
  s.errors = sum[4];
  s.skipped = sum[5];
  s.scan_complete = true;
  s.elapsed = elapsed;
  (void)observer->on_progress(s);
}

}  // namespace treecopy_mpi
