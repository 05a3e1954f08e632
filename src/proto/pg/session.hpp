#pragma once
// One client connection through the gateway: startup and authentication, the upstream login with
// the gateway's credential, then the relay. The session owns both sockets; every way it can end
// carries a human reason that goes to the log and the audit trail.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "dlp/dlp.hpp"
#include "guard/rules.hpp"
#include "identity/identity.hpp"
#include "net/stream.hpp"
#include "proto/pg/codec.hpp"
#include "proto/pg/server.hpp"

namespace gh::pg {

// A growable byte buffer with a consumed prefix; compacts instead of reallocating.
class byte_buffer {
 public:
  explicit byte_buffer(std::size_t initial) : data_(initial) {}
  [[nodiscard]] bytes readable() const { return {data_.data() + begin_, end_ - begin_}; }
  [[nodiscard]] boost::asio::mutable_buffer writable() {
    return {data_.data() + end_, data_.size() - end_};
  }
  void commit(std::size_t n) { end_ += n; }
  void consume(std::size_t n) {
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
  }
  // Makes room for at least `want` bytes of readable data in total (compacting first).
  void reserve_frame(std::size_t want) {
    if (begin_ > 0 && (data_.size() - end_ < 4096 || begin_ + want > data_.size())) {
      std::copy(data_.begin() + static_cast<std::ptrdiff_t>(begin_),
                data_.begin() + static_cast<std::ptrdiff_t>(end_), data_.begin());
      end_ -= begin_;
      begin_ = 0;
    }
    if (want > data_.size()) data_.resize(want);
  }
  [[nodiscard]] std::size_t capacity() const { return data_.size(); }
  // Gives memory back after an unusually large message.
  void shrink_to(std::size_t cap) {
    if (data_.size() > cap && end_ - begin_ <= cap) {
      reserve_frame(0);
      if (end_ <= cap) {
        data_.resize(cap);
        data_.shrink_to_fit();
      }
    }
  }

 private:
  std::vector<std::uint8_t> data_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

class session : public std::enable_shared_from_this<session> {
 public:
  session(server_context& ctx, server& srv, net::tcp::socket sock);
  ~session();

  boost::asio::awaitable<void> run();
  // Ends the session from outside (shutdown). Runs on the session's executor.
  void terminate(std::string reason, std::string sqlstate);

 private:
  using clock = std::chrono::steady_clock;
  struct pending {
    std::int64_t stmt_id = 0;  // 0: a Sync marker
    bool simple = false;
    std::int64_t rows = 0;
    std::int64_t start_us = 0;
    std::string outcome;  // empty until known; "ok" or SQLSTATE
  };

  boost::asio::awaitable<void> serve();
  boost::asio::awaitable<bool> startup();
  boost::asio::awaitable<bool> connect_upstream();
  boost::asio::awaitable<void> client_to_server();
  boost::asio::awaitable<void> server_to_client();
  boost::asio::awaitable<void> watchdog();
  boost::asio::awaitable<void> handle_cancel(const startup_packet& p);

  // Sends a FATAL (or other) error to the client and sets the close reason.
  boost::asio::awaitable<void> fail_client(std::string_view sqlstate, std::string_view message,
                                           std::string reason);
  boost::asio::awaitable<bool> write_client(std::vector<std::uint8_t>& out);
  void close(std::string reason);
  void touch() { last_activity_ = clock::now(); }

  audit::record base_record(std::string kind) const;
  // Statement text as the audit trail keeps it: capped, and masked on masked connections.
  std::string audit_text(std::string_view sql);
  // Guardrails: the decision for a Query/Parse text (nullopt: no rule matched). A COPY whose
  // output masking could not cover is denied first (check_copy_masking).
  std::optional<guard::decision> check_guard(std::string_view sql);
  // On a session whose results are masked: COPY ... TO STDOUT in binary format (no text to
  // scan), or on a connection with column rules (COPY output has no column names), is denied.
  // `parsed` is filled if the text had to be classified (check_guard reuses it).
  std::optional<guard::decision> check_copy_masking(std::string_view sql,
                                                    std::optional<guard::classification>& parsed);
  void note_guard(audit::record& r, const guard::decision& d);
  // Opens a review for a held statement, tells the client, waits; the decision to apply.
  boost::asio::awaitable<guard::decision> hold_for_review(const std::string& sql,
                                                          guard::decision d);

 public:
  // A CancelRequest for this session: cancels the review of a held statement, if any.
  bool cancel_hold();  // true if a held statement's review was cancelled

 private:
  // SQL that fails at the target with an error take_denial() recognises.
  std::string deny_sentinel(const guard::decision& d);
  std::optional<std::string> take_denial(std::string_view sqlstate, std::string_view message);
  void finish_statement(pending& p, std::string outcome, std::string detail = {});
  // Results found while relaying a batch are recorded after the batch is masked, so each
  // carries what masking did to its rows.
  void defer_finish(const pending& p, std::string outcome);
  void flush_finished();

 public:
  struct cut {
    std::size_t frame_off, frame_size, rw_off, rw_len;
  };

 private:
  // Masking (src/dlp) of what goes to the client.
  status plan_columns(const frame& f);
  status collect_row(const frame& f, std::size_t frame_off, std::int64_t stmt);
  void collect_copy(const frame& f, std::size_t frame_off, std::int64_t stmt);
  void end_result_set() { plan_ok_ = false; }
  void apply_masks(bytes in, std::vector<std::uint8_t>& rewritten, std::vector<cut>& cuts);
  void mask_notice(const frame& f, std::size_t frame_off, std::vector<std::uint8_t>& rewritten,
                   std::vector<cut>& cuts);
  dlp::counts& counts_for(std::int64_t stmt);
  void record_auth_failure(const std::string& reason);

  server_context& ctx_;
  server& srv_;
  net::stream client_;
  std::optional<net::stream> upstream_;
  net::async_mutex client_write_mu_;
  boost::asio::steady_timer watchdog_timer_;
  boost::asio::steady_timer s2c_done_;  // cancelled when server_to_client ends
  bool s2c_running_ = true;

  std::string id_;
  std::string client_addr_;
  bool client_loopback_ = false;
  identity::principal who_;
  const config::connection_config* conn_ = nullptr;
  std::vector<std::pair<std::string, std::string>> client_params_;

  std::uint32_t upstream_pid_ = 0, upstream_secret_ = 0;
  std::uint32_t gw_pid_ = 0;
  bool cancel_registered_ = false;

  std::string close_reason_;
  bool closed_ = false;
  bool established_ = false;
  bool started_recorded_ = false;
  clock::time_point started_ = clock::now();
  clock::time_point last_activity_ = clock::now();
  clock::time_point phase_deadline_ = clock::time_point::max();
  std::string phase_name_;

  std::uint64_t bytes_from_client_ = 0;
  std::uint64_t bytes_to_client_ = 0;
  std::int64_t next_stmt_id_ = 1;
  std::deque<pending> pending_;
  std::shared_ptr<const guard::rule_set> guard_;
  std::unordered_map<std::uint64_t, std::string> denials_;  // sentinel id -> client message
  std::uint64_t next_denial_ = 1;
  std::string holding_review_;  // id of the review a statement is held for

  // Masking state. masker_: data to the client (absent for exempt users or unmasked
  // connections); text_masker_: statement text for the audit trail and notices (any masked
  // connection, exempt or not). Buffers are reused batch to batch: no per-row allocation.
  std::shared_ptr<const dlp::policy> mask_policy_;
  std::optional<dlp::scanner> masker_;
  dlp::scanner* text_masker_ = nullptr;
  std::optional<dlp::scanner> text_only_masker_;
  bool mask_exempt_ = false;
  bool plan_ok_ = false;
  std::vector<column_info> m_cols_;
  std::vector<dlp::column_desc> m_descs_;
  std::vector<std::vector<dlp::column_plan>> m_plans_;  // plans used by rows of this batch
  std::size_t m_nplans_ = 0;
  std::vector<std::uint8_t> m_plan_rowdesc_;  // the RowDescription body of m_plans_[m_nplans_ - 1]
  struct mask_row {
    std::size_t frame_off, frame_size;
    std::uint32_t first_cell, ncols;
    std::int32_t plan;  // index into m_plans_, -1: no column information (scan every cell)
    std::int64_t stmt;
  };
  std::vector<mask_row> m_rows_;
  struct copy_row {
    std::size_t frame_off, frame_size;
    std::uint32_t scan_index;
    std::int64_t stmt;
  };
  std::vector<copy_row> m_copies_;
  std::vector<std::string_view> m_cells_;
  std::vector<bool> m_nulls_;
  std::vector<std::string_view> m_scan_;
  std::vector<std::uint32_t> m_scan_of_cell_;
  std::vector<dlp::finding> m_findings_;
  std::string m_out_;
  std::vector<std::pair<std::int64_t, dlp::counts>> m_counts_;
  std::size_t m_ncounts_ = 0;
  std::vector<std::pair<pending, std::string>> m_finished_;
  char tx_status_ = 'I';
  // Statement texts by prepared-statement name and by portal, for auditing Execute.
  std::unordered_map<std::string, std::shared_ptr<const std::string>> statements_;
  struct portal_info {
    std::shared_ptr<const std::string> statement;
    std::uint16_t params = 0;
  };
  std::unordered_map<std::string, portal_info> portals_;
};

}  // namespace gh::pg
