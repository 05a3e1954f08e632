#pragma once
// result<T>: a value or an error message, for errors that travel as values (no exceptions below the
// session's top-level catch). std::expected is C++23; this is the small subset we need.
#include <string>
#include <utility>
#include <variant>

namespace gh {

struct error {
  std::string message;
};

inline error make_error(std::string msg) { return error{std::move(msg)}; }

template <typename T>
class [[nodiscard]] result {
 public:
  result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  result(error e) : v_(std::in_place_index<1>, std::move(e)) {}

  [[nodiscard]] bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  [[nodiscard]] const std::string& err() const { return std::get<1>(v_).message; }

 private:
  std::variant<T, error> v_;
};

template <>
class [[nodiscard]] result<void> {
 public:
  result() = default;
  result(error e) : err_(std::move(e.message)), failed_(true) {}
  [[nodiscard]] bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  [[nodiscard]] const std::string& err() const { return err_; }

 private:
  std::string err_;
  bool failed_ = false;
};

using status = result<void>;

}  // namespace gh
