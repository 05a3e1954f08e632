// Boost.JSON compiled once, header-only (no separate library package needed).
#include <boost/json/src.hpp>
