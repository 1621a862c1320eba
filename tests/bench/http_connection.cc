#include "tests/bench/http_connection.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace logq::bench {

HttpConnection::HttpConnection(std::string host, uint16_t port, int timeout_ms)
    : host_(std::move(host)), port_(port), timeout_ms_(timeout_ms) {}

HttpConnection::~HttpConnection() { Close(); }

void HttpConnection::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  buf_.clear();
}

Status HttpConnection::Connect() {
  Close();
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return Unavailable(fmt::format("socket: {}", std::strerror(errno)));
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  timeval tv{timeout_ms_ / 1000, (timeout_ms_ % 1000) * 1000};
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port_);
  if (::inet_pton(AF_INET, host_.c_str(), &addr.sin_addr) != 1) {
    Close();
    return InvalidArgument("not an IPv4 address: " + host_);
  }
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    Status st = Unavailable(fmt::format("connect {}:{}: {}", host_, port_, std::strerror(errno)));
    Close();
    return st;
  }
  return Status::OK();
}

Status HttpConnection::Fill(size_t n) {
  char tmp[64 << 10];
  while (buf_.size() < n) {
    ssize_t r = ::recv(fd_, tmp, sizeof tmp, 0);
    if (r > 0) {
      buf_.append(tmp, static_cast<size_t>(r));
    } else if (r == 0) {
      return Unavailable("connection closed by server");
    } else if (errno == EINTR) {
      continue;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return DeadlineExceeded(fmt::format("no reply within {} ms", timeout_ms_));
    } else {
      return Unavailable(fmt::format("recv: {}", std::strerror(errno)));
    }
  }
  return Status::OK();
}

Status HttpConnection::ReadLine(std::string* line) {
  for (int rounds = 0; rounds < 1'000'000; ++rounds) {
    size_t p = buf_.find("\r\n");
    if (p != std::string::npos) {
      line->assign(buf_, 0, p);
      buf_.erase(0, p + 2);
      return Status::OK();
    }
    if (buf_.size() > (1 << 20)) return Unavailable("reply header line too long");
    RETURN_IF_ERROR(Fill(buf_.size() + 1));
  }
  return Unavailable("reply header never ended");
}

Result<HttpReply> HttpConnection::Do(std::string_view method, std::string_view target,
                                     std::string_view content_type, std::string_view body) {
  if (fd_ < 0) RETURN_IF_ERROR(Connect());
  std::string head = fmt::format("{} {} HTTP/1.1\r\nHost: {}:{}\r\nUser-Agent: logq-bench\r\n",
                                 method, target, host_, port_);
  if (!content_type.empty())
    fmt::format_to(std::back_inserter(head), "Content-Type: {}\r\n", content_type);
  if (!body.empty() || method == "POST")
    fmt::format_to(std::back_inserter(head), "Content-Length: {}\r\n", body.size());
  head += "\r\n";

  iovec iov[2] = {{head.data(), head.size()}, {const_cast<char*>(body.data()), body.size()}};
  int iovcnt = body.empty() ? 1 : 2;
  iovec* cur = iov;
  while (iovcnt > 0) {
    ssize_t w = ::writev(fd_, cur, iovcnt);
    if (w < 0) {
      if (errno == EINTR) continue;
      Status st = errno == EAGAIN ? DeadlineExceeded("send timed out")
                                  : Unavailable(fmt::format("send: {}", std::strerror(errno)));
      Close();
      return st;
    }
    size_t left = static_cast<size_t>(w);
    while (iovcnt > 0 && left >= cur->iov_len) {
      left -= cur->iov_len;
      ++cur;
      --iovcnt;
    }
    if (iovcnt > 0) {
      cur->iov_base = static_cast<char*>(cur->iov_base) + left;
      cur->iov_len -= left;
    }
  }

  auto fail = [this](Status st) {
    Close();
    return st;
  };
  HttpReply reply;
  std::string line;
  Status st = ReadLine(&line);
  if (!st.ok()) return fail(st);
  // "HTTP/1.1 204 No Content"
  if (line.size() < 12 || line.compare(0, 5, "HTTP/") != 0)
    return fail(Unavailable("bad status line: " + line));
  reply.status = std::atoi(line.c_str() + 9);
  int64_t content_length = -1;
  bool chunked = false, close_after = false;
  for (int i = 0; i < 200; ++i) {
    st = ReadLine(&line);
    if (!st.ok()) return fail(st);
    if (line.empty()) break;
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    if (strcasecmp(name.c_str(), "Content-Length") == 0) content_length = std::atoll(value.c_str());
    if (strcasecmp(name.c_str(), "Transfer-Encoding") == 0 &&
        strcasecmp(value.c_str(), "chunked") == 0)
      chunked = true;
    if (strcasecmp(name.c_str(), "Connection") == 0 && strcasecmp(value.c_str(), "close") == 0)
      close_after = true;
  }
  if (chunked) {
    for (int i = 0; i < 1'000'000; ++i) {
      st = ReadLine(&line);
      if (!st.ok()) return fail(st);
      const size_t n = std::strtoull(line.c_str(), nullptr, 16);
      if (n == 0) {
        st = ReadLine(&line);  // trailer end (no trailers expected)
        if (!st.ok()) return fail(st);
        break;
      }
      st = Fill(n + 2);
      if (!st.ok()) return fail(st);
      reply.body.append(buf_, 0, n);
      buf_.erase(0, n + 2);
    }
  } else if (content_length > 0) {
    st = Fill(static_cast<size_t>(content_length));
    if (!st.ok()) return fail(st);
    reply.body.assign(buf_, 0, static_cast<size_t>(content_length));
    buf_.erase(0, static_cast<size_t>(content_length));
  } else if (content_length < 0 && reply.status != 204 && reply.status != 304 &&
             reply.status >= 200) {
    // No length: the body runs to the end of the connection.
    for (int i = 0; i < 1'000'000 && Fill(buf_.size() + 1).ok(); ++i) {
    }
    reply.body = std::move(buf_);
    close_after = true;
  }
  if (close_after) Close();
  return reply;
}

}  // namespace logq::bench
