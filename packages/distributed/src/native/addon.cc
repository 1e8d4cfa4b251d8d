// The @dlf/distributed addon: a process group over Gloo's TCP transport. Every collective runs on the
// group's own communication thread, in the order it was issued (Gloo needs the same order on every rank),
// and settles a Promise on the JavaScript thread. Gloo failures are caught and become rejections; nothing
// here aborts or exits the process.
#include <gloo/allreduce.h>
#include <gloo/barrier.h>
#include <gloo/broadcast.h>
#include <gloo/math.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/file_store.h>
#include <gloo/rendezvous/prefix_store.h>
#include <gloo/transport/tcp/device.h>

#include <napi.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "tcp_store.h"

namespace dlfdist {
namespace {

struct Job {
  std::function<void()> work;
  Napi::Promise::Deferred deferred;
  Napi::ObjectReference keep;  // the array whose memory the collective reads and writes
  std::string error;
  explicit Job(Napi::Env env) : deferred(Napi::Promise::Deferred::New(env)) {}
};

class ProcessGroup;
void settle(Napi::Env env, Napi::Function, ProcessGroup* group, Job* job);
using Settler = Napi::TypedThreadSafeFunction<ProcessGroup, Job, settle>;

std::string text(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  return v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string();
}

int integer(const Napi::Object& o, const char* key, int fallback) {
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().Int32Value() : fallback;
}

class ProcessGroup : public Napi::ObjectWrap<ProcessGroup> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "ProcessGroup",
                       {InstanceMethod<&ProcessGroup::Connect>("connect"),
                        InstanceMethod<&ProcessGroup::Allreduce>("allreduce"),
                        InstanceMethod<&ProcessGroup::Broadcast>("broadcast"),
                        InstanceMethod<&ProcessGroup::Barrier>("barrier"),
                        InstanceMethod<&ProcessGroup::Close>("close"),
                        InstanceAccessor<&ProcessGroup::StorePort>("storePort")});
  }

  explicit ProcessGroup(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ProcessGroup>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject()) throw Napi::TypeError::New(env, "ProcessGroup needs an options object");
    Napi::Object o = info[0].As<Napi::Object>();
    rank_ = integer(o, "rank", -1);
    size_ = integer(o, "size", 0);
    timeout_ = std::chrono::milliseconds(integer(o, "timeoutMs", 30000));
    iface_ = text(o, "iface");
    hostname_ = text(o, "hostname");
    prefix_ = text(o, "prefix");
    filePath_ = text(o, "filePath");
    storeHost_ = text(o, "storeHost");
    storePort_ = integer(o, "storePort", 0);
    if (size_ < 1 || rank_ < 0 || rank_ >= size_) throw Napi::RangeError::New(env, "rank must be in [0, size)");
    // Rank 0 binds now, so a busy port or a foreign master address is reported at once.
    if (filePath_.empty() && rank_ == 0) {
      try {
        server_ = std::make_unique<StoreServer>(storeHost_, storePort_);
        storePort_ = server_->port();
      } catch (const std::exception& e) {
        throw Napi::Error::New(env, e.what());
      }
    }
    settler_ = Settler::New(env, "dlf-distributed", 0, 1, this);
    settler_.Unref(env);
    thread_ = std::thread([this] { run(); });
  }

  ~ProcessGroup() override { shutdown(); }

  void finished(Napi::Env env) {
    if (--pending_ == 0 && !closed_) settler_.Unref(env);
  }

 private:
  Napi::Value StorePort(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), storePort_); }

  Napi::Value Connect(const Napi::CallbackInfo& info) {
    return enqueue(info.Env(), nullptr, [this] {
      std::shared_ptr<gloo::rendezvous::Store> base;
      if (!filePath_.empty()) {
        base = std::make_shared<gloo::rendezvous::FileStore>(filePath_);
      } else {
        tcpStore_ = std::make_shared<TcpStore>(storeHost_, storePort_, timeout_);
        base = tcpStore_;
      }
      gloo::rendezvous::PrefixStore store(prefix_, *base);
      gloo::transport::tcp::attr attr;
      if (!iface_.empty()) attr.iface = iface_;
      else attr.hostname = hostname_.empty() ? std::string("127.0.0.1") : hostname_;
      auto device = gloo::transport::tcp::CreateDevice(attr);
      auto context = std::make_shared<gloo::rendezvous::Context>(rank_, size_);
      context->setTimeout(timeout_);
      context->connectFullMesh(store, device);
      if (tcpStore_) tcpStore_->registerAlive(rank_);
      fileStore_ = base;
      context_ = context;
    });
  }

  Napi::Value Allreduce(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Float32Array array = floatArray(info, 0);
    bool average = info[1].IsString() && info[1].As<Napi::String>().Utf8Value() == "avg";
    float* data = array.Data();
    size_t n = array.ElementLength();
    return enqueue(env, &array, [this, data, n, average] {
      requireContext();
      if (n == 0) return;
      gloo::AllreduceOptions opts(context_);
      opts.setOutput(data, n);
      opts.setReduceFunction(
          static_cast<void (*)(void*, const void*, const void*, size_t)>(&gloo::sum<float>));
      opts.setTag(nextTag());
      opts.setTimeout(timeout_);
      gloo::allreduce(opts);
      if (average) {
        const float scale = 1.0f / static_cast<float>(size_);
        for (size_t i = 0; i < n; i++) data[i] *= scale;
      }
    });
  }

  Napi::Value Broadcast(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Float32Array array = floatArray(info, 0);
    int root = info[1].IsNumber() ? info[1].As<Napi::Number>().Int32Value() : 0;
    if (root < 0 || root >= size_) throw Napi::RangeError::New(env, "root must be in [0, size)");
    float* data = array.Data();
    size_t n = array.ElementLength();
    return enqueue(env, &array, [this, data, n, root] {
      requireContext();
      if (n == 0) return;
      gloo::BroadcastOptions opts(context_);
      opts.setOutput(data, n);
      opts.setRoot(root);
      opts.setTag(nextTag());
      opts.setTimeout(timeout_);
      gloo::broadcast(opts);
    });
  }

  Napi::Value Barrier(const Napi::CallbackInfo& info) {
    return enqueue(info.Env(), nullptr, [this] {
      requireContext();
      gloo::BarrierOptions opts(context_);
      opts.setTag(nextTag());
      opts.setTimeout(timeout_);
      gloo::barrier(opts);
    });
  }

  // Waits for queued work, says goodbye to the store (so this rank is not reported lost) and frees Gloo.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    shutdown();
    if (!closed_) {
      closed_ = true;
      settler_.Release();
    }
    return env.Undefined();
  }

  Napi::Float32Array floatArray(const Napi::CallbackInfo& info, size_t i) {
    if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
      throw Napi::TypeError::New(info.Env(), "expected a Float32Array (a float32 tensor's data())");
    }
    return info[i].As<Napi::Float32Array>();
  }

  Napi::Value enqueue(Napi::Env env, Napi::Object* keep, std::function<void()> work) {
    if (closed_ || stopping_) throw Napi::Error::New(env, "the process group is closed");
    auto* job = new Job(env);
    job->work = std::move(work);
    if (keep) job->keep = Napi::Persistent(*keep);
    Napi::Promise promise = job->deferred.Promise();
    if (pending_++ == 0) settler_.Ref(env);
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(job);
    }
    cv_.notify_one();
    return promise;
  }

  void run() {
    for (;;) {
      Job* job = nullptr;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) break;
        job = queue_.front();
        queue_.pop_front();
      }
      if (!broken_.empty()) {
        job->error = broken_;
      } else {
        try {
          job->work();
        } catch (const std::exception& e) {
          broken_ = describe(e.what());
          job->error = broken_;
        } catch (...) {
          broken_ = describe("unknown failure");
          job->error = broken_;
        }
      }
      settler_.BlockingCall(job);
    }
    // Leave cleanly: the store must not report this rank lost, and Gloo's threads stop here.
    if (tcpStore_) {
      if (broken_.empty()) tcpStore_->goodbye();
    }
    const bool wasConnected = context_ != nullptr;
    context_.reset();
    tcpStore_.reset();
    fileStore_.reset();
    // After a failure rank 0 keeps the store up a moment, so the other ranks can still learn which
    // rank was lost instead of only seeing the store vanish.
    if (server_ && wasConnected && !broken_.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    server_.reset();
  }

  // Names the rank that went away when the store knows it; Gloo itself only knows peer addresses.
  std::string describe(const std::string& what) {
    std::string head = "rank " + std::to_string(rank_) + " of " + std::to_string(size_) + ": ";
    if (!context_) return head + what;
    if (tcpStore_) {
      for (int attempt = 0; attempt < 20; attempt++) {
        std::vector<int> lost;
        try {
          lost = tcpStore_->lostRanks();
        } catch (const std::exception&) {
          return head + "lost rank 0 (it hosts the rendezvous store, which no longer answers). Gloo: " + what;
        }
        for (int r : lost) {
          if (r != rank_) {
            return head + "lost rank " + std::to_string(r) +
                   " (its process stopped or its connection closed). Gloo: " + what;
          }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
    return head + "a collective failed (a peer stopped, hung past the timeout, or the network failed). Gloo: " +
           what;
  }

  void requireContext() {
    if (!context_) throw std::runtime_error("the process group is not connected; await connect() first");
  }

  uint32_t nextTag() { return tag_++; }

  void shutdown() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      stopping_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

  int rank_ = 0, size_ = 1, storePort_ = 0;
  std::chrono::milliseconds timeout_{30000};
  std::string iface_, hostname_, prefix_, filePath_, storeHost_;
  std::unique_ptr<StoreServer> server_;
  std::shared_ptr<TcpStore> tcpStore_;
  std::shared_ptr<gloo::rendezvous::Store> fileStore_;
  std::shared_ptr<gloo::Context> context_;
  std::string broken_;
  uint32_t tag_ = 0;
  Settler settler_;
  int pending_ = 0;
  bool closed_ = false;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::deque<Job*> queue_;
  std::thread thread_;
};

void settle(Napi::Env env, Napi::Function, ProcessGroup* group, Job* job) {
  if (env != nullptr) {
    if (job->error.empty()) job->deferred.Resolve(env.Undefined());
    else job->deferred.Reject(Napi::Error::New(env, job->error).Value());
    group->finished(env);
  }
  delete job;
}

}  // namespace
}  // namespace dlfdist

static Napi::Object InitDistributed(Napi::Env env, Napi::Object exports) {
  exports.Set("ProcessGroup", dlfdist::ProcessGroup::Define(env));
  exports.Set("version", Napi::String::New(env, DLF_VERSION));
  return exports;
}

NODE_API_MODULE(dlf_distributed, InitDistributed)
