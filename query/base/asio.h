// The one place Asio is included (Boost 1.74's awaitable.hpp uses std::exchange without
// including <utility>). Include this instead of Boost.Asio headers directly.
#pragma once

#include <utility>

#include <boost/asio.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
