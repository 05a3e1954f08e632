#include <charconv>
#include <string>
#include <string_view>

#include "config/config.hpp"

namespace gh::config {

namespace {

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// Hostnames and IPv4 literals. Deliberately narrow: anything else is far more likely a typo than a
// real name, and it is better to say so at load than to fail at bind/resolve time.
bool valid_host_name(std::string_view h) {
  if (h.empty()) return false;
  for (char c : h) {
    if (!is_alnum(c) && c != '.' && c != '-' && c != '_') return false;
  }
  return true;
}

// IPv6 literal, optionally with a %zone (fe80::1%eth0). The resolver does the real validation.
bool valid_ipv6(std::string_view h) {
  auto pct = h.find('%');
  std::string_view addr = h.substr(0, pct);
  if (addr.find(':') == std::string_view::npos) return false;
  for (char c : addr) {
    if (!is_hex(c) && c != ':' && c != '.') return false;
  }
  if (pct != std::string_view::npos) {
    std::string_view zone = h.substr(pct + 1);
    if (zone.empty()) return false;
    for (char c : zone) {
      if (!is_alnum(c) && c != '.' && c != '-' && c != '_') return false;
    }
  }
  return true;
}

}  // namespace

result<endpoint> parse_endpoint(std::string_view text) {
  const auto bad = [&](std::string_view why) {
    return make_error("invalid address '" + std::string(text) + "': " + std::string(why) +
                      " (expected host:port or [ipv6]:port)");
  };
  if (text.find("://") != std::string_view::npos) return bad("a URL is not an address");
  endpoint ep;
  std::string_view port_text;
  if (text.starts_with('[')) {
    auto close = text.find(']');
    if (close == std::string_view::npos) return bad("missing ']'");
    std::string_view host = text.substr(1, close - 1);
    if (!valid_ipv6(host)) return bad("brackets must hold an IPv6 address");
    std::string_view rest = text.substr(close + 1);
    if (!rest.starts_with(':')) return bad("missing :port after ']'");
    ep.host = std::string(host);
    port_text = rest.substr(1);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return bad("missing :port");
    std::string_view host = text.substr(0, colon);
    if (host.find(':') != std::string_view::npos) {
      return bad("an IPv6 address must be in brackets, e.g. [::1]:5432");
    }
    if (host.empty()) return bad("missing host (use 0.0.0.0 or [::] for all interfaces)");
    if (!valid_host_name(host)) return bad("invalid host");
    ep.host = std::string(host);
    port_text = text.substr(colon + 1);
  }
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc{} || end != port_text.data() + port_text.size() ||
      port < 1 || port > 65535) {
    return bad("port must be an integer 1..65535");
  }
  ep.port = static_cast<std::uint16_t>(port);
  return ep;
}

std::string_view to_string(client_tls v) {
  switch (v) {
    case client_tls::require:
      return "require";
    case client_tls::prefer:
      return "prefer";
  }
  return "?";
}

std::string_view to_string(upstream_tls v) {
  switch (v) {
    case upstream_tls::disable:
      return "disable";
    case upstream_tls::prefer:
      return "prefer";
    case upstream_tls::require:
      return "require";
    case upstream_tls::verify_full:
      return "verify-full";
  }
  return "?";
}

std::string_view to_string(conn_type v) {
  switch (v) {
    case conn_type::postgres:
      return "postgres";
    case conn_type::ssh:
      return "ssh";
  }
  return "?";
}

}  // namespace gh::config
