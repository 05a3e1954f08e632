#include "app/review_policy.hpp"

namespace gh::app {

result<std::map<std::string, review::policy>> review_policies(const config::config& cfg) {
  std::map<std::string, review::policy> out;
  for (const auto& c : cfg.connections) {
    if (!c.reviews.present) continue;
    review::policy p;
    p.approvers = c.reviews.approvers;
    p.min_approvals = static_cast<int>(c.reviews.min_approvals);
    p.timeout = c.reviews.timeout;
    p.self_approval = c.reviews.self_approval;
    if (c.reviews.notify) {
      const auto& n = *c.reviews.notify;
      p.notify.webhook = n.webhook;
      p.notify.format = n.format == config::notify_format::slack ? review::notify_format::slack
                                                                 : review::notify_format::json;
      if (!n.secret.empty()) {
        auto s = n.secret.resolve();
        if (!s)
          return make_error("connection " + c.name + ": reviews.notify.secret (" +
                            n.secret.describe() + "): " + s.err());
        p.notify.secret = std::move(*s);
      }
    }
    out.emplace(c.name, std::move(p));
  }
  return out;
}

}  // namespace gh::app
