#pragma once

#include "bot/http_client.hpp"
#include "opalebot/result.hpp"

#include <cstddef>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace opalebot::testing {

/// A scripted HttpClient (notes/style.md §4): records every request and answers with the queued
/// responses, in order. Thread-safe, so the sync loop and the sender may share it. A request that
/// finds the script empty gets a transport error and is counted in unexpected(), so a test can
/// check it without asserting from another thread.
class FakeHttpClient final : public bot::HttpClient {
public:
    /// Queues a response with this status, body and (lower-case) headers.
    void reply(long status, std::string body, std::map<std::string, std::string> headers = {})
    {
        bot::Response response;
        response.status = status;
        response.body = std::move(body);
        response.headers = std::move(headers);
        push(std::move(response));
    }

    /// Queues a transport failure (what curl reports when the connection drops).
    void fail(std::string message = "connection reset by peer")
    {
        push(Error{Error::Kind::transport, 56, {}, std::move(message), {}});
    }

    void push(Result<bot::Response> next)
    {
        const std::lock_guard lock{mutex_};
        script_.push_back(std::move(next));
    }

    Result<bot::Response> send(const bot::Request& request) override
    {
        const std::lock_guard lock{mutex_};
        seen_.push_back(request);
        if (script_.empty()) {
            ++unexpected_;
            return Error{Error::Kind::transport, 7, {}, "fake: no scripted response", {}};
        }
        auto next = std::move(script_.front());
        script_.pop_front();
        return next;
    }

    /// A copy of the requests sent so far, oldest first.
    std::vector<bot::Request> requests() const
    {
        const std::lock_guard lock{mutex_};
        return seen_;
    }

    /// The n-th request (0-based); the caller checks request_count() first.
    bot::Request request(std::size_t n) const
    {
        const std::lock_guard lock{mutex_};
        return seen_.at(n);
    }

    std::size_t request_count() const
    {
        const std::lock_guard lock{mutex_};
        return seen_.size();
    }

    /// Scripted responses not consumed yet.
    std::size_t pending() const
    {
        const std::lock_guard lock{mutex_};
        return script_.size();
    }

    /// Requests that came when nothing was scripted.
    std::size_t unexpected() const
    {
        const std::lock_guard lock{mutex_};
        return unexpected_;
    }

    void forget_requests()
    {
        const std::lock_guard lock{mutex_};
        seen_.clear();
    }

private:
    mutable std::mutex mutex_;
    std::deque<Result<bot::Response>> script_;
    std::vector<bot::Request> seen_;
    std::size_t unexpected_ = 0;
};

} // namespace opalebot::testing
