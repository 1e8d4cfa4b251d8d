#include "tcp_store.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>

namespace dlfdist {
namespace {

// One request = op byte, then length-prefixed fields. Replies are as small as the op allows.
constexpr char kSet = 'S';
constexpr char kGet = 'G';
constexpr char kAlive = 'A';
constexpr char kGoodbye = 'B';
constexpr char kLost = 'L';

std::string errnoText(int err) { return std::string(std::strerror(err)); }

bool sendAll(int fd, const void* data, size_t n) {
  auto* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t k = ::send(fd, p, n, MSG_NOSIGNAL);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return false;
    p += k;
    n -= static_cast<size_t>(k);
  }
  return true;
}

bool recvAll(int fd, void* data, size_t n) {
  auto* p = static_cast<char*>(data);
  while (n > 0) {
    ssize_t k = ::recv(fd, p, n, 0);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return false;
    p += k;
    n -= static_cast<size_t>(k);
  }
  return true;
}

bool sendBytes(int fd, const char* data, uint32_t n) {
  return sendAll(fd, &n, sizeof n) && (n == 0 || sendAll(fd, data, n));
}

bool recvBytes(int fd, std::vector<char>& out) {
  uint32_t n = 0;
  if (!recvAll(fd, &n, sizeof n)) return false;
  if (n > (64u << 20)) return false;  // a rendezvous value is a few hundred bytes
  out.resize(n);
  return n == 0 || recvAll(fd, out.data(), n);
}

struct AddrInfo {
  addrinfo* list = nullptr;
  ~AddrInfo() {
    if (list) freeaddrinfo(list);
  }
};

int resolve(const std::string& host, int port, bool passive, AddrInfo& out) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  if (passive) hints.ai_flags = AI_PASSIVE;
  std::string service = std::to_string(port);
  return getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &out.list);
}

// Connects with a bounded wait (a blocking connect to an unreachable host can take minutes).
int connectOnce(const addrinfo* ai, int waitMs, int& err) {
  int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
  if (fd < 0) {
    err = errno;
    return -1;
  }
  int flags = fcntl(fd, F_GETFL, 0);
  fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
  if (rc < 0 && errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    rc = ::poll(&p, 1, waitMs);
    if (rc == 0) {
      err = ETIMEDOUT;
      ::close(fd);
      return -1;
    }
    socklen_t len = sizeof err;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      ::close(fd);
      return -1;
    }
  } else if (rc < 0) {
    err = errno;
    ::close(fd);
    return -1;
  }
  fcntl(fd, F_SETFL, flags);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

void setRecvTimeout(int fd, std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

}  // namespace

StoreServer::StoreServer(const std::string& host, int port) {
  AddrInfo ai;
  int rc = resolve(host, port, true, ai);
  if (rc != 0) {
    throw std::runtime_error("rank 0 cannot resolve the master address '" + host + "': " + gai_strerror(rc));
  }
  int lastErr = 0;
  for (addrinfo* a = ai.list; a; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      lastErr = errno;
      continue;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, a->ai_addr, a->ai_addrlen) == 0 && ::listen(fd, 128) == 0) {
      listenFd_ = fd;
      break;
    }
    lastErr = errno;
    ::close(fd);
  }
  if (listenFd_ < 0) {
    throw std::runtime_error("rank 0 cannot listen on " + host + ":" + std::to_string(port) + " (" +
                             errnoText(lastErr) +
                             "); the master address must be an address of rank 0's host and the port free");
  }
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  getsockname(listenFd_, reinterpret_cast<sockaddr*>(&bound), &len);
  port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  if (::pipe2(wakePipe_, O_CLOEXEC) != 0) {
    ::close(listenFd_);
    throw std::runtime_error("cannot create a pipe: " + errnoText(errno));
  }
  acceptThread_ = std::thread([this] { acceptLoop(); });
}

StoreServer::~StoreServer() {
  stopping_ = true;
  char b = 0;
  (void)!::write(wakePipe_[1], &b, 1);
  if (acceptThread_.joinable()) acceptThread_.join();
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (int fd : clients_) ::shutdown(fd, SHUT_RDWR);
  }
  for (auto& t : workers_) t.join();
  for (int fd : clients_) ::close(fd);
  ::close(listenFd_);
  ::close(wakePipe_[0]);
  ::close(wakePipe_[1]);
}

void StoreServer::acceptLoop() {
  while (!stopping_) {
    pollfd p[2] = {{listenFd_, POLLIN, 0}, {wakePipe_[0], POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (p[1].revents) return;
    if (!(p[0].revents & POLLIN)) continue;
    int fd = ::accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::lock_guard<std::mutex> lock(mu_);
    clients_.push_back(fd);
    workers_.emplace_back([this, fd] { serve(fd); });
  }
}

void StoreServer::serve(int fd) {
  int aliveRank = -1;
  for (;;) {
    char op = 0;
    if (!recvAll(fd, &op, 1)) break;
    std::vector<char> key;
    if (op == kSet) {
      std::vector<char> value;
      if (!recvBytes(fd, key) || !recvBytes(fd, value)) break;
      {
        std::lock_guard<std::mutex> lock(mu_);
        data_[std::string(key.begin(), key.end())] = std::move(value);
      }
      char ack = 1;
      if (!sendAll(fd, &ack, 1)) break;
    } else if (op == kGet) {
      if (!recvBytes(fd, key)) break;
      std::vector<char> value;
      char found = 0;
      {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = data_.find(std::string(key.begin(), key.end()));
        if (it != data_.end()) {
          found = 1;
          value = it->second;
        }
      }
      if (!sendAll(fd, &found, 1) || !sendBytes(fd, value.data(), static_cast<uint32_t>(value.size()))) break;
    } else if (op == kAlive) {
      int32_t rank = -1;
      if (!recvAll(fd, &rank, sizeof rank)) break;
      aliveRank = rank;
    } else if (op == kGoodbye) {
      aliveRank = -1;
    } else if (op == kLost) {
      std::vector<int32_t> lost;
      {
        std::lock_guard<std::mutex> lock(mu_);
        lost.assign(lost_.begin(), lost_.end());
      }
      uint32_t n = static_cast<uint32_t>(lost.size());
      if (!sendAll(fd, &n, sizeof n) || (n && !sendAll(fd, lost.data(), n * sizeof(int32_t)))) break;
    } else {
      break;
    }
  }
  if (aliveRank >= 0 && !stopping_) {
    std::lock_guard<std::mutex> lock(mu_);
    lost_.push_back(aliveRank);
  }
}

TcpStore::TcpStore(const std::string& host, int port, std::chrono::milliseconds timeout)
    : host_(host), port_(port), timeout_(timeout) {
  AddrInfo ai;
  int rc = resolve(host, port, false, ai);
  if (rc != 0) {
    throw std::runtime_error("cannot resolve the master address '" + host + "': " + gai_strerror(rc));
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int err = 0;
  // Rank 0 may start after the others: retry until the timeout.
  while (fd_ < 0) {
    for (addrinfo* a = ai.list; a && fd_ < 0; a = a->ai_next) fd_ = connectOnce(a, 1000, err);
    if (fd_ >= 0) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      throw std::runtime_error("could not reach the rendezvous store at " + where() + " within " +
                               std::to_string(timeout.count() / 1000.0).substr(0, 5) + " s (last error: " +
                               errnoText(err) +
                               "); check the master address and port, and that rank 0 is running");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  setRecvTimeout(fd_, timeout);
}

TcpStore::~TcpStore() {
  if (fd_ >= 0) ::close(fd_);
  if (aliveFd_ >= 0) ::close(aliveFd_);
}

std::string TcpStore::where() const { return host_ + ":" + std::to_string(port_); }

void TcpStore::set(const std::string& key, const std::vector<char>& data) {
  std::lock_guard<std::mutex> lock(mu_);
  char op = kSet, ack = 0;
  if (!sendAll(fd_, &op, 1) || !sendBytes(fd_, key.data(), static_cast<uint32_t>(key.size())) ||
      !sendBytes(fd_, data.data(), static_cast<uint32_t>(data.size())) || !recvAll(fd_, &ack, 1)) {
    throw std::runtime_error("lost the connection to the rendezvous store at " + where() +
                             " (rank 0 stopped?)");
  }
}

bool TcpStore::tryGet(const std::string& key, std::vector<char>& out) {
  std::lock_guard<std::mutex> lock(mu_);
  char op = kGet, found = 0;
  if (!sendAll(fd_, &op, 1) || !sendBytes(fd_, key.data(), static_cast<uint32_t>(key.size())) ||
      !recvAll(fd_, &found, 1) || !recvBytes(fd_, out)) {
    throw std::runtime_error("lost the connection to the rendezvous store at " + where() +
                             " (rank 0 stopped?)");
  }
  return found != 0;
}

std::vector<char> TcpStore::get(const std::string& key) {
  wait({key}, timeout_);
  std::vector<char> out;
  tryGet(key, out);
  return out;
}

void TcpStore::wait(const std::vector<std::string>& keys) { wait(keys, timeout_); }

void TcpStore::wait(const std::vector<std::string>& keys, const std::chrono::milliseconds& timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<char> scratch;
  for (const auto& key : keys) {
    while (!tryGet(key, scratch)) {
      if (std::chrono::steady_clock::now() >= deadline) {
        throw std::runtime_error("timed out after " + std::to_string(timeout.count()) +
                                 " ms waiting for the other ranks at the rendezvous store " + where() +
                                 " (key '" + key + "'); did every rank start with the same world size?");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
}

void TcpStore::registerAlive(int rank) {
  AddrInfo ai;
  if (resolve(host_, port_, false, ai) != 0) return;
  int err = 0;
  for (addrinfo* a = ai.list; a && aliveFd_ < 0; a = a->ai_next) aliveFd_ = connectOnce(a, 1000, err);
  if (aliveFd_ < 0) return;
  char op = kAlive;
  int32_t r = rank;
  sendAll(aliveFd_, &op, 1);
  sendAll(aliveFd_, &r, sizeof r);
}

void TcpStore::goodbye() {
  if (aliveFd_ < 0) return;
  char op = kGoodbye;
  sendAll(aliveFd_, &op, 1);
  ::close(aliveFd_);
  aliveFd_ = -1;
}

std::vector<int> TcpStore::lostRanks() {
  std::lock_guard<std::mutex> lock(mu_);
  char op = kLost;
  uint32_t n = 0;
  if (!sendAll(fd_, &op, 1) || !recvAll(fd_, &n, sizeof n) || n > 1u << 20) {
    throw std::runtime_error("the rendezvous store is unreachable");
  }
  std::vector<int32_t> lost(n);
  if (n && !recvAll(fd_, lost.data(), n * sizeof(int32_t))) {
    throw std::runtime_error("the rendezvous store is unreachable");
  }
  return std::vector<int>(lost.begin(), lost.end());
}

}  // namespace dlfdist
