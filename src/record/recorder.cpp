#include "record/recorder.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <future>

#include "audit/writer.hpp"
#include "core/crypto.hpp"

namespace gh::record {

namespace fs = std::filesystem;

// Retention (audit::writer::prune_before) finds recordings by their end event.
static_assert(end_kind == audit::recording_end_kind);

std::string recordings_dir(const std::string& state_dir) {
  return (fs::path(state_dir) / "recordings").string();
}

std::string chunk_path(const std::string& state_dir, std::string_view id, std::int64_t chunk) {
  char name[32];
  std::snprintf(name, sizeof name, "%06lld.cast", static_cast<long long>(chunk));
  return (fs::path(recordings_dir(state_dir)) / std::string(id) / name).string();
}

bool valid_recording_id(std::string_view id) {
  if (id.empty() || id == "." || id == ".." || id.size() > 128) return false;
  for (char c : id)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '.' || c == '-'))
      return false;
  return true;
}

std::string writer_sink::append(store::audit_record r) {
  std::vector<store::audit_record> v;
  v.push_back(std::move(r));
  if (auto now = w_.try_append_now(v)) return *now;
  // Another thread is writing: ride on its next write and wait for it (the handler runs on the
  // system executor, never on the caller's event loop, so blocking here cannot deadlock).
  std::promise<std::string> done;
  auto f = done.get_future();
  w_.async_append(std::move(v), [&done](std::string err) { done.set_value(std::move(err)); });
  return f.get();
}

namespace {

std::string errno_text(const std::string& what, int e) { return what + ": " + std::strerror(e); }

// Writes `data` to `path` durably: temp file, fsync, rename, fsync of the directory.
status write_durably(const std::string& path, std::string_view data) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return make_error(errno_text("cannot create " + tmp, errno));
  std::size_t off = 0;
  while (off < data.size()) {
    auto n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = n < 0 ? errno : EIO;
      ::close(fd);
      ::unlink(tmp.c_str());
      return make_error(errno_text("cannot write " + tmp, e));
    }
    off += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    int e = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return make_error(errno_text("cannot fsync " + tmp, e));
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return make_error(errno_text("cannot rename " + tmp, e));
  }
  int dfd = ::open(fs::path(path).parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

}  // namespace

terminal_recorder::terminal_recorder(token, recorder_options o, audit_sink& sink,
                                     clock::time_point start)
    : o_(std::move(o)),
      sink_(sink),
      start_(start),
      start_wall_us_(audit::now_us()),
      dir_((fs::path(recordings_dir(o_.state_dir)) / o_.session_id).string()),
      out_mask_(o_.masking, o_.mask) {
  if (o_.record_input) {
    stream_mask_options im = o_.mask;
    im.cr_breaks_line = true;  // Enter
    in_mask_.emplace(o_.masking, im);
  }
}

terminal_recorder::~terminal_recorder() = default;

result<std::unique_ptr<terminal_recorder>> terminal_recorder::open(recorder_options o,
                                                                  audit_sink& sink,
                                                                  clock::time_point start) {
  if (!valid_recording_id(o.session_id))
    return make_error("recording: session id '" + o.session_id + "' is not usable as a name");
  if (!o.masking) return make_error("recording: no masking engine");
  if (o.chunk_bytes == 0) o.chunk_bytes = 1;
  auto r = std::make_unique<terminal_recorder>(token{}, std::move(o), sink, start);
  std::error_code ec;
  fs::create_directories(recordings_dir(r->o_.state_dir), ec);
  // mkdir (not create_directories) so two sessions can never share one recording.
  if (ec || ::mkdir(r->dir_.c_str(), 0700) != 0)
    return make_error(ec ? "recording: cannot create " + recordings_dir(r->o_.state_dir) + ": " +
                               ec.message()
                         : errno_text("recording: cannot create " + r->dir_, errno));
  boost::json::object d;
  d["recording"] = r->o_.session_id;
  d["width"] = r->o_.width;
  d["height"] = r->o_.height;
  d["input"] = r->o_.record_input;
  auto ev = r->event(start_kind);
  ev.detail = boost::json::serialize(d);
  if (auto err = sink.append(std::move(ev)); !err.empty()) {
    std::error_code ignore;
    fs::remove(r->dir_, ignore);
    return make_error("recording: cannot record its start in the audit trail: " + err);
  }
  cast_header h;
  h.width = r->o_.width;
  h.height = r->o_.height;
  h.timestamp = r->start_wall_us_ / 1'000'000;
  h.env = r->o_.env;
  r->buf_ = header_line(h);
  return r;
}

store::audit_record terminal_recorder::event(std::string_view kind) const {
  store::audit_record r;
  r.ts_us = audit::now_us();
  r.kind = std::string(kind);
  r.session_id = o_.session_id;
  r.user = o_.user;
  r.groups = o_.groups;
  r.connection = o_.connection;
  r.client_addr = o_.client;
  return r;
}

status terminal_recorder::fail(std::string why) {
  if (failed_.empty()) failed_ = "recording " + o_.session_id + ": " + why;
  return make_error(failed_);
}

std::int64_t terminal_recorder::offset(clock::time_point t) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(t - start_).count();
  // asciicast times never go backwards, whatever the caller's clock did.
  last_t_us_ = std::max(last_t_us_, us);
  return last_t_us_;
}

status terminal_recorder::output(std::string_view bytes, clock::time_point t) {
  if (!failed_.empty()) return make_error(failed_);
  if (closed_) return fail("output after close");
  pieces_.clear();
  out_mask_.feed(bytes, offset(t), pieces_);
  return add(pieces_, 'o');
}

status terminal_recorder::input(std::string_view bytes, clock::time_point t) {
  if (!failed_.empty()) return make_error(failed_);
  if (closed_) return fail("input after close");
  if (!in_mask_) return {};
  pieces_.clear();
  in_mask_->feed(bytes, offset(t), pieces_);
  return add(pieces_, 'i');
}

status terminal_recorder::resize(unsigned cols, unsigned rows, clock::time_point t) {
  if (!failed_.empty()) return make_error(failed_);
  if (closed_) return fail("resize after close");
  // Text still carried stays carried (releasing it early could split a value); it is written
  // after this event when its line completes.
  return add_line(offset(t), 'r', std::to_string(cols) + "x" + std::to_string(rows));
}

status terminal_recorder::add(const std::vector<masked_piece>& pieces, char code) {
  for (const auto& p : pieces)
    if (auto s = add_line(p.t_us, code, p.data); !s) return s;
  return {};
}

status terminal_recorder::add_line(std::int64_t t_us, char code, std::string_view data) {
  // Carried text is released after events that came later (the other direction, a resize):
  // times in the file must not go backwards, so it is shown at the latest time written.
  t_us = std::max(t_us, last_line_t_us_);
  last_line_t_us_ = t_us;
  if (buf_first_t_us_ >= 0 &&
      t_us - buf_first_t_us_ >=
          std::chrono::duration_cast<std::chrono::microseconds>(o_.chunk_interval).count())
    if (auto s = write_chunk(); !s) return s;
  if (buf_first_t_us_ < 0) buf_first_t_us_ = t_us;
  append_event(t_us, code, data, buf_);
  ++sum_.events;
  sum_.duration_us = std::max(sum_.duration_us, t_us);
  if (buf_.size() >= o_.chunk_bytes) return write_chunk();
  return {};
}

status terminal_recorder::tick(clock::time_point t) {
  if (!failed_.empty()) return make_error(failed_);
  if (closed_ || buf_first_t_us_ < 0) return {};
  auto now = std::chrono::duration_cast<std::chrono::microseconds>(t - start_).count();
  if (now - buf_first_t_us_ >=
      std::chrono::duration_cast<std::chrono::microseconds>(o_.chunk_interval).count())
    return write_chunk();
  return {};
}

status terminal_recorder::write_chunk() {
  if (buf_.empty()) return {};
  const std::int64_t n = sum_.chunks + 1;
  const std::string path = chunk_path(o_.state_dir, o_.session_id, n);
  if (auto s = write_durably(path, buf_); !s) return fail(s.err());
  boost::json::object d;
  d["recording"] = o_.session_id;
  d["chunk"] = n;
  d["sha256"] = crypto::sha256_hex(buf_);
  d["bytes"] = static_cast<std::int64_t>(buf_.size());
  auto ev = event(chunk_kind);
  ev.detail = boost::json::serialize(d);
  if (auto err = sink_.append(std::move(ev)); !err.empty()) {
    // Not on record, so not recorded: a file the chain does not vouch for is not left behind.
    ::unlink(path.c_str());
    return fail("chunk " + std::to_string(n) + " could not be recorded in the audit trail: " + err);
  }
  sum_.chunks = n;
  sum_.bytes += static_cast<std::int64_t>(buf_.size());
  buf_.clear();
  buf_first_t_us_ = -1;
  return {};
}

std::string terminal_recorder::masked_json() const {
  dlp::counts c;
  c.merge(out_mask_.counts());
  if (in_mask_) c.merge(in_mask_->counts());
  return c.to_json(out_mask_.get_engine());
}

status terminal_recorder::close(clock::time_point t, std::string_view reason) {
  if (!failed_.empty()) return make_error(failed_);
  if (closed_) return {};
  auto at = offset(t);
  pieces_.clear();
  out_mask_.flush(pieces_);
  if (auto s = add(pieces_, 'o'); !s) return s;
  if (in_mask_) {
    pieces_.clear();
    in_mask_->flush(pieces_);
    if (auto s = add(pieces_, 'i'); !s) return s;
  }
  if (auto s = write_chunk(); !s) return s;
  closed_ = true;
  sum_.duration_us = std::max(sum_.duration_us, at);
  boost::json::object d;
  d["recording"] = o_.session_id;
  d["chunks"] = sum_.chunks;
  d["bytes"] = sum_.bytes;
  d["events"] = sum_.events;
  d["input"] = o_.record_input;
  boost::system::error_code ec;
  auto masked = boost::json::parse(masked_json(), ec);
  if (!ec) d["masked"] = masked;
  auto ev = event(end_kind);
  ev.duration_us = sum_.duration_us;
  ev.reason = std::string(reason);
  ev.detail = boost::json::serialize(d);
  if (auto err = sink_.append(std::move(ev)); !err.empty())
    return fail("its end could not be recorded in the audit trail: " + err);
  return {};
}

}  // namespace gh::record
