// A small key-value server hosted by rank 0 and a client that adapts it to Gloo's rendezvous Store
// interface (Gloo itself ships only in-process, file and Redis stores). The server also keeps one
// "liveness" connection per rank: a connection that closes without a goodbye marks its rank lost, so a
// failed collective can name the rank that went away.
#pragma once

#include <gloo/rendezvous/store.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace dlfdist {

/** Listens on host:port until destroyed. Throws std::runtime_error when it cannot bind. */
class StoreServer {
 public:
  StoreServer(const std::string& host, int port);
  ~StoreServer();
  StoreServer(const StoreServer&) = delete;
  StoreServer& operator=(const StoreServer&) = delete;
  int port() const { return port_; }

 private:
  void acceptLoop();
  void serve(int fd);

  int listenFd_ = -1;
  int wakePipe_[2] = {-1, -1};
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptThread_;
  std::mutex mu_;
  std::map<std::string, std::vector<char>> data_;
  std::vector<int> lost_;
  std::vector<int> clients_;
  std::vector<std::thread> workers_;
};

/** One connection to a StoreServer. Every call is bounded by `timeout`. */
class TcpStore : public gloo::rendezvous::Store {
 public:
  TcpStore(const std::string& host, int port, std::chrono::milliseconds timeout);
  ~TcpStore() override;

  void set(const std::string& key, const std::vector<char>& data) override;
  std::vector<char> get(const std::string& key) override;
  void wait(const std::vector<std::string>& keys) override;
  void wait(const std::vector<std::string>& keys, const std::chrono::milliseconds& timeout) override;

  /** Opens the liveness connection for `rank`. */
  void registerAlive(int rank);
  /** Closes the liveness connection cleanly (the rank is not reported lost). */
  void goodbye();
  /** Ranks whose liveness connection closed without a goodbye, in the order they were lost. Throws when
   * the server cannot be reached. */
  std::vector<int> lostRanks();

 private:
  bool tryGet(const std::string& key, std::vector<char>& out);
  std::string where() const;

  std::string host_;
  int port_;
  std::chrono::milliseconds timeout_;
  std::mutex mu_;
  int fd_ = -1;
  int aliveFd_ = -1;
};

}  // namespace dlfdist
