#pragma once
// Synthetic clinical-like text with labelled PHI, for the dlp tests, the throughput benchmark and
// the precision/recall corpus tool (bench/dlp_corpus.cpp). Deterministic for a given seed; every
// value is generated, none is real. Header-only; not used by the gateway itself.
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace gh::dlp::synth {

// splitmix64: tiny, fast, and the same sequence on every platform (std::mt19937 distributions are
// not portable across standard libraries).
class rng {
 public:
  explicit rng(std::uint64_t seed) : s_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (s_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  int uniform(int lo, int hi) {  // inclusive
    return lo + static_cast<int>(next() % static_cast<std::uint64_t>(hi - lo + 1));
  }
  bool chance(int percent) { return uniform(1, 100) <= percent; }
  template <typename C>
  const auto& pick(const C& c) {
    return c[static_cast<std::size_t>(uniform(0, static_cast<int>(std::size(c)) - 1))];
  }

 private:
  std::uint64_t s_;
};

inline std::string digits(rng& r, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s.push_back(static_cast<char>('0' + r.uniform(0, 9)));
  return s;
}

inline std::string pad(int v, int width) {
  std::string s = std::to_string(v);
  while (static_cast<int>(s.size()) < width) s.insert(s.begin(), '0');
  return s;
}

inline char luhn_check_digit(std::string_view body) {
  int sum = 0;
  bool dbl = true;  // the check digit will be appended on the right
  for (auto it = body.rbegin(); it != body.rend(); ++it) {
    int v = *it - '0';
    if (dbl) {
      v *= 2;
      if (v > 9) v -= 9;
    }
    sum += v;
    dbl = !dbl;
  }
  return static_cast<char>('0' + (10 - sum % 10) % 10);
}

inline std::string group(std::string_view d, std::initializer_list<int> sizes, char sep) {
  std::string out;
  std::size_t p = 0;
  for (int n : sizes) {
    if (!out.empty()) out.push_back(sep);
    out.append(d.substr(p, static_cast<std::size_t>(n)));
    p += static_cast<std::size_t>(n);
  }
  return out;
}

// ---------------------------------------------------------------------------------- values

inline std::string ssn_digits(rng& r) {
  int area;
  do {
    area = r.uniform(1, 899);
  } while (area == 666);
  return pad(area, 3) + pad(r.uniform(1, 99), 2) + pad(r.uniform(1, 9999), 4);
}

inline std::string ssn_dashed(rng& r) { return group(ssn_digits(r), {3, 2, 4}, '-'); }

inline std::string bad_ssn_dashed(rng& r) {
  std::string d = ssn_digits(r);
  switch (r.uniform(0, 4)) {
    case 0: d.replace(0, 3, "000"); break;
    case 1: d.replace(0, 3, "666"); break;
    case 2: d.replace(0, 3, std::to_string(r.uniform(900, 999))); break;
    case 3: d.replace(3, 2, "00"); break;
    default: d.replace(5, 4, "0000"); break;
  }
  return group(d, {3, 2, 4}, '-');
}

struct card_brand {
  const char* prefix;
  int length;
};
inline constexpr std::array<card_brand, 8> card_brands = {{{"4", 16},
                                                           {"4", 13},
                                                           {"51", 16},
                                                           {"2221", 16},
                                                           {"37", 15},
                                                           {"6011", 16},
                                                           {"3530", 16},
                                                           {"36", 14}}};

inline std::string card_digits(rng& r, bool valid_luhn = true) {
  const card_brand& b = r.pick(card_brands);
  std::string d = b.prefix;
  d += digits(r, b.length - 1 - static_cast<int>(d.size()));
  char check = luhn_check_digit(d);
  if (!valid_luhn) check = static_cast<char>('0' + ((check - '0') + r.uniform(1, 9)) % 10);
  d.push_back(check);
  return d;
}

inline std::string format_card(rng& r, const std::string& d) {
  int style = r.uniform(0, 2);
  if (style == 0) return d;
  char sep = style == 1 ? ' ' : '-';
  if (d.size() == 15) return group(d, {4, 6, 5}, sep);
  if (d.size() == 14) return group(d, {4, 6, 4}, sep);
  if (d.size() == 16) return group(d, {4, 4, 4, 4}, sep);
  return d;
}

inline constexpr std::array<const char*, 24> first_names = {
    "john",  "mary",   "james", "patricia", "robert", "linda",  "michael", "barbara",
    "david", "susan",  "maria", "joseph",   "karen",  "thomas", "nancy",   "daniel",
    "lisa",  "mark",   "sofia", "wei",      "aisha",  "omar",   "li",      "olga"};
inline constexpr std::array<const char*, 16> last_names = {
    "smith",  "johnson", "garcia", "miller",  "davis", "rodriguez", "martinez", "lopez",
    "wilson", "anderson", "thomas", "taylor", "moore", "nguyen",    "kim",      "patel"};
inline constexpr std::array<const char*, 10> domains = {
    "example.com", "mail.example.org", "clinic.example.net", "example.co.uk", "hosp.example.edu",
    "example.io",  "corp.example.com", "example.health",     "ex-ample.org",  "example.museum"};

inline std::string email(rng& r) {
  std::string local = r.pick(first_names);
  int style = r.uniform(0, 3);
  if (style == 0) local += std::string(".") + r.pick(last_names);
  if (style == 1) local += std::to_string(r.uniform(1, 99));
  if (style == 2) local = local.substr(0, 1) + r.pick(last_names);
  if (style == 3) local += std::string("_") + r.pick(last_names) + "+md";
  return local + "@" + r.pick(domains);
}

inline std::string nanp_parts(rng& r, std::string& area, std::string& exch, std::string& line) {
  area = std::to_string(r.uniform(2, 9)) + digits(r, 2);
  exch = std::to_string(r.uniform(2, 9)) + digits(r, 2);
  line = digits(r, 4);
  return area + exch + line;
}

inline std::string phone(rng& r) {
  std::string a, e, l;
  nanp_parts(r, a, e, l);
  switch (r.uniform(0, 7)) {
    case 0: return "(" + a + ") " + e + "-" + l;
    case 1: return a + "-" + e + "-" + l;
    case 2: return a + "." + e + "." + l;
    case 3: return "+1 " + a + " " + e + " " + l;
    case 4: return "+1-" + a + "-" + e + "-" + l;
    case 5: return "(" + a + ")" + e + "-" + l;
    case 6: return "+44 20 " + digits(r, 4) + " " + digits(r, 4);
    default: return "+49 30 " + digits(r, 8);
  }
}

inline constexpr std::array<const char*, 12> months = {
    "January", "February", "March",     "April",   "May",      "June",
    "July",    "August",   "September", "October", "November", "December"};

inline std::string date(rng& r, int min_year = 1920, int max_year = 2015) {
  int y = r.uniform(min_year, max_year), m = r.uniform(1, 12), d = r.uniform(1, 28);
  switch (r.uniform(0, 6)) {
    case 0: return std::to_string(y) + "-" + pad(m, 2) + "-" + pad(d, 2);
    case 1: return pad(m, 2) + "/" + pad(d, 2) + "/" + std::to_string(y);
    case 2: return std::to_string(m) + "/" + std::to_string(d) + "/" + std::to_string(y);
    case 3: return pad(d, 2) + "." + pad(m, 2) + "." + std::to_string(y);
    case 4: return std::string(months[static_cast<std::size_t>(m - 1)]) + " " + std::to_string(d) +
                   ", " + std::to_string(y);
    case 5: return std::to_string(d) + " " + std::string(months[static_cast<std::size_t>(m - 1)]).substr(0, 3) +
                   " " + std::to_string(y);
    default:
      return pad(d, 2) + "-" + std::string(months[static_cast<std::size_t>(m - 1)]).substr(0, 3) +
             "-" + std::to_string(y);
  }
}

inline std::string mrn(rng& r) {
  std::string v = digits(r, r.uniform(6, 10));
  if (r.chance(25)) v.insert(v.begin(), static_cast<char>('A' + r.uniform(0, 25)));
  return v;
}

inline std::string npi(rng& r, bool valid = true) {
  std::string body = std::to_string(r.uniform(1, 2)) + digits(r, 8);
  char check = luhn_check_digit("80840" + body);
  if (!valid) check = static_cast<char>('0' + ((check - '0') + r.uniform(1, 9)) % 10);
  return body + check;
}

inline std::string ipv4(rng& r) {
  return std::to_string(r.uniform(1, 223)) + "." + std::to_string(r.uniform(0, 255)) + "." +
         std::to_string(r.uniform(0, 255)) + "." + std::to_string(r.uniform(1, 254));
}

inline std::string hex_group(rng& r) {
  static constexpr char h[] = "0123456789abcdef";
  std::string g;
  int n = r.uniform(1, 4);
  for (int i = 0; i < n; ++i) g.push_back(h[r.uniform(0, 15)]);
  return g;
}

inline std::string ipv6(rng& r) {
  switch (r.uniform(0, 3)) {
    case 0: {
      std::string s = "2001:db8";
      for (int i = 0; i < 6; ++i) {
        s.push_back(':');
        s += hex_group(r);
      }
      return s;
    }
    case 1: return "fe80::" + hex_group(r) + ":" + hex_group(r) + ":" + hex_group(r);
    case 2: return "2001:db8::" + hex_group(r);
    default: return "::ffff:" + ipv4(r);
  }
}

inline int iban_mod97(std::string_view rearranged) {
  int rem = 0;
  for (char c : rearranged) {
    if (c >= '0' && c <= '9') {
      rem = (rem * 10 + (c - '0')) % 97;
    } else {
      rem = (rem * 100 + (c - 'A' + 10)) % 97;
    }
  }
  return rem;
}

inline std::string iban(rng& r, bool valid = true, bool grouped = true) {
  struct country {
    const char* cc;
    int len;
    int letters;  // leading letters of the BBAN (bank code)
  };
  static constexpr std::array<country, 6> cs = {
      {{"DE", 22, 0}, {"GB", 22, 4}, {"FR", 27, 0}, {"NL", 18, 4}, {"ES", 24, 0}, {"CH", 21, 0}}};
  const country& c = r.pick(cs);
  std::string bban;
  for (int i = 0; i < c.letters; ++i) bban.push_back(static_cast<char>('A' + r.uniform(0, 25)));
  bban += digits(r, c.len - 4 - c.letters);
  int check = 98 - iban_mod97(bban + c.cc + "00");
  if (!valid) check = (check + r.uniform(1, 50)) % 97 + 2;
  std::string s = std::string(c.cc) + pad(check, 2) + bban;
  if (!grouped) return s;
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i > 0 && i % 4 == 0) out.push_back(' ');
    out.push_back(s[i]);
  }
  return out;
}

inline std::string passport(rng& r) {
  if (r.chance(50)) return digits(r, 9);
  return std::string(1, static_cast<char>('A' + r.uniform(0, 25))) + digits(r, 8);
}

inline std::string drivers_license(rng& r) {
  switch (r.uniform(0, 3)) {
    case 0: return std::string(1, static_cast<char>('A' + r.uniform(0, 25))) + digits(r, 7);
    case 1: return digits(r, 9);
    case 2:
      return std::string(1, static_cast<char>('A' + r.uniform(0, 25))) + digits(r, 3) + "-" +
             digits(r, 3) + "-" + digits(r, 2) + "-" + digits(r, 3) + "-" + digits(r, 1);
    default: return digits(r, 3) + " " + digits(r, 3) + " " + digits(r, 3);
  }
}

inline constexpr std::array<const char*, 14> street_names = {
    "Main", "Oak", "Maple", "Elm", "Washington", "Lake", "Hill", "Park Hill", "Cedar", "Pine",
    "Sunset", "Old Mill", "Martin Luther King", "5th"};
inline constexpr std::array<const char*, 12> street_suffixes = {
    "Street", "St", "Avenue", "Ave", "Road", "Rd", "Boulevard", "Lane", "Drive", "Dr", "Court",
    "Way"};

inline std::string street(rng& r) {
  return std::to_string(r.uniform(1, 9999)) + " " + r.pick(street_names) + " " +
         r.pick(street_suffixes);
}

// ---------------------------------------------------------------------------------- text

// One sentence of clinical-looking text without PHI: vitals, labs, doses, codes, visit dates and
// times — plenty of digits, which is what makes PHI detection hard and slow.
inline std::string clinical_sentence(rng& r) {
  static constexpr std::array<const char*, 12> drugs = {
      "metoprolol", "lisinopril", "atorvastatin", "metformin", "amlodipine", "insulin glargine",
      "warfarin",   "furosemide", "dobutamine",   "heparin",   "apixaban",   "levothyroxine"};
  static constexpr std::array<const char*, 10> findings = {
      "chest pain",     "shortness of breath", "fever",    "abdominal pain", "syncope",
      "lower back pain", "dizziness",           "headache", "cough",          "fatigue"};
  switch (r.uniform(0, 15)) {
    case 0:
      return "Pt is a " + std::to_string(r.uniform(18, 95)) + " y/o " +
             (r.chance(50) ? "male" : "female") + " presenting with " + r.pick(findings) + ".";
    case 1:
      return "BP " + std::to_string(r.uniform(95, 180)) + "/" + std::to_string(r.uniform(55, 110)) +
             ", HR " + std::to_string(r.uniform(50, 130)) + ", RR " +
             std::to_string(r.uniform(12, 28)) + ", SpO2 " + std::to_string(r.uniform(88, 100)) +
             "% on RA, Temp " + std::to_string(r.uniform(96, 103)) + "." +
             std::to_string(r.uniform(0, 9)) + " F.";
    case 2:
      return "Labs: Na " + std::to_string(r.uniform(128, 148)) + ", K " +
             std::to_string(r.uniform(3, 5)) + "." + std::to_string(r.uniform(0, 9)) + ", Cr " +
             std::to_string(r.uniform(0, 3)) + "." + std::to_string(r.uniform(0, 9)) +
             ", Glucose " + std::to_string(r.uniform(70, 340)) + " mg/dL, WBC " +
             std::to_string(r.uniform(3, 19)) + "." + std::to_string(r.uniform(0, 9)) + ".";
    case 3:
      return std::string("Start ") + r.pick(drugs) + " " + std::to_string(r.uniform(1, 100) * 5) +
             " mg PO " + (r.chance(50) ? "BID" : "daily") + ", qty " +
             std::to_string(r.uniform(14, 90)) + ", refills " + std::to_string(r.uniform(0, 5)) +
             ".";
    case 4:
      return "Follow-up visit on " + date(r, 2019, 2026) + " at " + pad(r.uniform(7, 18), 2) + ":" +
             pad(r.uniform(0, 3) * 15, 2) + " with Dr. " +
             std::string(r.pick(last_names)) + ".";
    case 5:
      return "ICD-10 E11." + std::to_string(r.uniform(0, 9)) + ", I10, CPT " +
             std::to_string(r.uniform(99201, 99499)) + "; order #" + digits(r, 7) + " placed.";
    case 6:
      return "A1c " + std::to_string(r.uniform(5, 12)) + "." + std::to_string(r.uniform(0, 9)) +
             "%, LDL " + std::to_string(r.uniform(60, 190)) + " mg/dL, INR " +
             std::to_string(r.uniform(1, 3)) + "." + std::to_string(r.uniform(0, 9)) + ".";
    case 7:
      return "Admitted to St. Mary's, room " + std::to_string(r.uniform(100, 999)) +
             (r.chance(50) ? "B" : "A") + ", bed " + std::to_string(r.uniform(1, 4)) + ".";
    case 8:
      return "Specimen lot " + digits(r, 4) + "-" + digits(r, 2) + " collected " +
             date(r, 2020, 2026) + " " + pad(r.uniform(0, 23), 2) + ":" + pad(r.uniform(0, 59), 2) +
             ":" + pad(r.uniform(0, 59), 2) + ".";
    case 9:
      return "Weight " + std::to_string(r.uniform(45, 140)) + " kg, height " +
             std::to_string(r.uniform(150, 200)) + " cm, BMI " + std::to_string(r.uniform(18, 42)) +
             "." + std::to_string(r.uniform(0, 9)) + ".";
    case 10:
      return "Denies tobacco, alcohol " + std::to_string(r.uniform(0, 14)) +
             " drinks/week; lives with spouse; ambulating independently in the hall.";
    case 11:
      return std::string("Patient tolerated ") + r.pick(drugs) +
             " well; no nausea, vomiting or diarrhea. Will reassess in " +
             std::to_string(r.uniform(2, 12)) + " weeks.";
    case 12:
      return "ECG: sinus rhythm " + std::to_string(r.uniform(55, 110)) + " bpm, QTc " +
             std::to_string(r.uniform(380, 520)) + " ms, PR " + std::to_string(r.uniform(120, 220)) +
             " ms.";
    case 13:
      return "Claim " + digits(r, 12) + " submitted; copay $" + std::to_string(r.uniform(0, 80)) +
             ".00; version 4." + std::to_string(r.uniform(0, 20)) + "." +
             std::to_string(r.uniform(0, 99)) + ".";
    case 14:
      return "Imaging: CT abdomen/pelvis w/ contrast, " + std::to_string(r.uniform(2, 9)) + " mm " +
             "nodule RLL, recommend f/u in " + std::to_string(r.uniform(3, 12)) + " months.";
    default:
      return "Discussed plan with patient and family; questions answered; consent signed at " +
             pad(r.uniform(0, 23), 2) + ":" + pad(r.uniform(0, 59), 2) + ".";
  }
}

// A labelled sample: `text` with the value at [begin, end), produced by `detector` (or, for a
// near-miss, looking like one without being one).
struct sample {
  std::string text;
  std::size_t begin = 0;
  std::size_t end = 0;
  std::string detector;
};

inline sample embed(rng& r, std::string detector, std::string before, const std::string& value,
                    std::string after) {
  sample s;
  s.detector = std::move(detector);
  if (r.chance(50)) s.text = clinical_sentence(r) + " ";
  s.text += before;
  s.begin = s.text.size();
  s.text += value;
  s.end = s.text.size();
  s.text += after;
  if (r.chance(50)) {
    s.text.push_back(' ');
    s.text += clinical_sentence(r);
  }
  return s;
}

inline std::string upper_letter(rng& r) { return std::string(1, static_cast<char>('A' + r.uniform(0, 25))); }

// A positive for `detector` (one of the built-in ids).
inline sample positive(rng& r, std::string_view detector) {
  std::string d(detector);
  if (detector == "us_ssn") {
    switch (r.uniform(0, 7)) {
      case 0: return embed(r, d, "SSN: ", ssn_dashed(r), ".");
      case 1: return embed(r, d, "Social Security number ", ssn_digits(r), " on file.");
      case 2: return embed(r, d, "ssn ", group(ssn_digits(r), {3, 2, 4}, ' '), ";");
      case 3: return embed(r, d, "Guarantor (", ssn_dashed(r), ") verified.");
      case 4: return embed(r, d, "SSN#", ssn_digits(r), "");
      case 5: return embed(r, d, "S.S.N. ", ssn_dashed(r), ",");
      case 6: return embed(r, d, "", ssn_dashed(r), "");  // a whole cell
      default: return embed(r, d, "Soc Sec No: ", ssn_digits(r), ".");
    }
  }
  if (detector == "payment_card") {
    const char* pre[] = {"Paid with card ", "Card on file: ", "cc#", "Copay charged to ", "", "VISA "};
    const char* post[] = {".", "", " exp 12/27.", ", thanks."};
    return embed(r, d, r.pick(pre), format_card(r, card_digits(r)), r.pick(post));
  }
  if (detector == "email") {
    std::string e = email(r);
    if (r.chance(15)) {
      for (auto& c : e) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
    }
    const char* pre[] = {"Email: ", "contact ", "Sent results to ", "<", "mailto:", ""};
    const char* pre_pick = r.pick(pre);
    return embed(r, d, pre_pick, e, pre_pick[0] == '<' ? ">" : r.chance(50) ? "." : "");
  }
  if (detector == "phone") {
    std::string a, e, l;
    nanp_parts(r, a, e, l);
    std::string v;
    switch (r.uniform(0, 5)) {
      case 0: v = phone(r); break;
      case 1: v = "1-" + a + "-" + e + "-" + l; break;
      case 2: v = "+1 (" + a + ") " + e + "-" + l; break;
      case 3: v = "+33 1 " + digits(r, 2) + " " + digits(r, 2) + " " + digits(r, 2) + " " + digits(r, 2); break;
      case 4: return embed(r, d, r.chance(50) ? "tel: " : "Phone ", a + e + l, ".");
      default: v = phone(r); break;
    }
    const char* pre[] = {"Call ", "Phone: ", "cell ", "Emergency contact (wife) ", "", "Fax: "};
    return embed(r, d, r.pick(pre), v, r.chance(50) ? "." : "");
  }
  if (detector == "dob") {
    const char* pre[] = {"DOB: ", "Date of birth ", "born ", "D.O.B. ", "DOB ", "Birthdate: ",
                         "Date of Birth: ", "born on ", "DOB is ", "Birthday: ", "dob:"};
    return embed(r, d, r.pick(pre), date(r), r.chance(50) ? "." : "");
  }
  if (detector == "mrn") {
    const char* pre[] = {"MRN: ", "MRN-", "MRN#", "Medical record number ", "Patient ID: ", "mrn ",
                         "Med Rec # ", "Medical Record No. "};
    return embed(r, d, r.pick(pre), mrn(r), r.chance(50) ? "." : "");
  }
  if (detector == "npi") {
    switch (r.uniform(0, 2)) {
      case 0: return embed(r, d, "Referring NPI: ", npi(r), ".");
      case 1: return embed(r, d, "Ordering provider Dr. Kim (", npi(r), ").");
      default: return embed(r, d, "NPI ", npi(r, r.chance(50)), "");  // labelled: any 10 digits
    }
  }
  if (detector == "ipv4") {
    std::string ip = ipv4(r);
    switch (r.uniform(0, 2)) {
      case 0: return embed(r, d, "Portal login from ", ip, ".");
      case 1: return embed(r, d, "http://", ip, ":8080/portal");
      default: return embed(r, d, "client=", ip, "");
    }
  }
  if (detector == "ipv6") {
    std::string ip = ipv6(r);
    if (r.chance(20)) {
      for (auto& c : ip) c = static_cast<char>(c >= 'a' && c <= 'f' ? c - 'a' + 'A' : c);
    }
    if (r.chance(30)) return embed(r, d, "https://[", ip, "]:443/");
    return embed(r, d, "Portal login from ", ip, ".");
  }
  if (detector == "iban") {
    const char* pre[] = {"Refund to IBAN ", "IBAN: ", "acct ", ""};
    return embed(r, d, r.pick(pre), iban(r, true, r.chance(70)), r.chance(50) ? "." : "");
  }
  if (detector == "us_passport") {
    const char* pre[] = {"Passport: ", "passport no. ", "US passport # ", "Passport Number: ",
                         "passport "};
    return embed(r, d, r.pick(pre), passport(r), ".");
  }
  if (detector == "drivers_license") {
    const char* pre[] = {"Driver's license: ", "DL ", "DL# ", "driver license number ", "DLN ",
                         "Drivers License No. "};
    return embed(r, d, r.pick(pre), drivers_license(r), ".");
  }
  // street_address
  static constexpr std::array<const char*, 8> extra = {
      "221B Baker Street", "1600 Pennsylvania Avenue", "742 Evergreen Terrace",
      "350 Fifth Ave",     "12 N. Main St",           "4059 Mt Lee Dr",
      "1 Infinite Loop",   "10 Old Mill Road"};
  const char* pre[] = {"Lives at ", "Address: ", "Home address ", "Moved to ", "Resides at ", ""};
  const char* pick = r.pick(pre);
  if (r.chance(25)) return embed(r, d, *pick ? pick : "Address: ", r.pick(extra), ", Springfield.");
  std::string st = street(r);
  // Ambiguous suffixes (St, Dr, Way) are only expected after an address word.
  if (*pick == '\0' && (st.ends_with(" St") || st.ends_with(" Dr") || st.ends_with(" Way")))
    pick = "Address: ";
  return embed(r, d, pick, st, ", Springfield.");
}

// A near-miss for `detector`: looks like one, is not one (bad checksum, impossible range, no
// context where context is required). Nothing may be detected inside [begin, end).
inline sample near_miss(rng& r, std::string_view detector) {
  std::string d(detector);
  if (detector == "us_ssn") {
    switch (r.uniform(0, 4)) {
      case 0: return embed(r, d, "Ref ", bad_ssn_dashed(r), ".");
      case 1: return embed(r, d, "Accession ", ssn_digits(r), " received.");  // no SSN context
      case 2: return embed(r, d, "Code ", group(ssn_digits(r), {3, 2, 3}, '-'), ".");
      case 3: return embed(r, d, "SSN: ", bad_ssn_dashed(r), " (invalid).");
      default: return embed(r, d, "Part ", group(ssn_digits(r) + digits(r, 1), {3, 2, 5}, '-'), ".");
    }
  }
  if (detector == "payment_card") {
    switch (r.uniform(0, 3)) {
      case 0: return embed(r, d, "Card ", format_card(r, card_digits(r, false)), ".");
      case 1: {
        std::string body = "9" + digits(r, 14);  // no issuer starts with 9
        return embed(r, d, "Tracking ", body + luhn_check_digit(body), ".");
      }
      case 2: return embed(r, d, "Batch ", digits(r, 20), ".");
      default: return embed(r, d, "Acct ", group(digits(r, 20), {4, 4, 4, 4, 4}, ' '), ".");
    }
  }
  if (detector == "email") {
    const std::string e = email(r);
    const std::string local = e.substr(0, e.find('@'));
    switch (r.uniform(0, 3)) {
      case 0: return embed(r, d, "user ", local + "@", " (incomplete).");
      case 1: return embed(r, d, "mailto ", local + " at example dot com", ".");
      case 2: return embed(r, d, "handle @", local, " on the portal.");
      default: return embed(r, d, "login ", local + "@localhost", ".");
    }
  }
  if (detector == "phone") {
    std::string a, e, l;
    nanp_parts(r, a, e, l);
    switch (r.uniform(0, 3)) {
      case 0: return embed(r, d, "Ref ", std::to_string(r.uniform(0, 1)) + a.substr(1) + "-" + e + "-" + l, ".");
      case 1: return embed(r, d, "Ref ", a + "-" + std::to_string(r.uniform(0, 1)) + e.substr(1) + "-" + l, ".");
      case 2: return embed(r, d, "Lot ", a + "-" + e + "-" + l.substr(0, 3), ".");
      default: return embed(r, d, "ext ", e + "-" + l, ".");  // 7 digits: no area code
    }
  }
  if (detector == "dob") {
    const char* pre[] = {"Seen on ", "Admitted ", "Discharge date ", "Surgery scheduled for ",
                         "Birth weight 3.2 kg, visit "};
    if (r.chance(20)) {
      return embed(r, d, "DOB: ", pad(r.uniform(13, 19), 2) + "/" + pad(r.uniform(32, 39), 2) + "/1961",
                   " (invalid).");
    }
    return embed(r, d, r.pick(pre), date(r, 1990, 2026), ".");
  }
  if (detector == "mrn") {
    switch (r.uniform(0, 3)) {
      case 0: return embed(r, d, "MRN: ", digits(r, 4), " (truncated).");
      case 1: return embed(r, d, "Order ", digits(r, 8), " pending.");
      case 2: return embed(r, d, "Record ", digits(r, 8), " archived.");
      default: return embed(r, d, "mRNA ", digits(r, 6), " copies/mL.");
    }
  }
  if (detector == "npi") {
    if (r.chance(25)) {
      // A provider word but an invalid check digit.
      return embed(r, d, "Ordering provider (", npi(r, false), ").");
    }
    switch (r.uniform(0, 2)) {
      case 0: return embed(r, d, "Ref ", npi(r, false), ".");
      case 1: {
        std::string body = std::to_string(r.uniform(3, 9)) + digits(r, 8);
        return embed(r, d, "Ref ", body + luhn_check_digit("80840" + body), ".");
      }
      // Any 10-digit id starting with 1 or 2 (an epoch timestamp, an order number): 1 in 10
      // has a valid NPI check digit, so a bare one needs a provider word to count.
      default: return embed(r, d, "ts=", std::to_string(r.uniform(1, 2)) + digits(r, 9), ".");
    }
  }
  if (detector == "ipv4") {
    switch (r.uniform(0, 2)) {
      case 0: {
        std::string ip = ipv4(r);
        return embed(r, d, "Range ", std::to_string(r.uniform(256, 999)) + ip.substr(ip.find('.')), ".");
      }
      case 1: return embed(r, d, "Version ", ipv4(r) + "." + std::to_string(r.uniform(1, 9)), " installed.");
      default: return embed(r, d, "Section ", std::to_string(r.uniform(1, 20)) + "." + std::to_string(r.uniform(1, 20)) + "." + std::to_string(r.uniform(1, 20)), ".");
    }
  }
  if (detector == "ipv6") {
    switch (r.uniform(0, 3)) {
      case 0: return embed(r, d, "at ", pad(r.uniform(0, 23), 2) + ":" + pad(r.uniform(0, 59), 2) + ":" + pad(r.uniform(0, 59), 2), ".");
      case 1: return embed(r, d, "MAC ", "00:1a:" + pad(r.uniform(10, 99), 2) + ":3c:4d:5e", ".");
      case 2: return embed(r, d, "see ", "std::vector", ".");
      default: return embed(r, d, "ratio ", std::to_string(r.uniform(1, 9)) + ":" + std::to_string(r.uniform(1, 9)), ".");
    }
  }
  if (detector == "iban") {
    if (r.chance(50)) return embed(r, d, "IBAN ", iban(r, false, r.chance(50)), ".");
    return embed(r, d, "Ref ", "XX" + pad(r.uniform(2, 98), 2) + " " + digits(r, 4) + " " + digits(r, 4) + " " + digits(r, 4), ".");
  }
  if (detector == "us_passport") {
    switch (r.uniform(0, 2)) {
      case 0: return embed(r, d, "Accession ", passport(r), ".");
      case 1: return embed(r, d, "passport ", digits(r, 6), " (partial).");
      default: return embed(r, d, "Passport expired; claim ", digits(r, 12), ".");
    }
  }
  if (detector == "drivers_license") {
    switch (r.uniform(0, 2)) {
      case 0: return embed(r, d, "LDL 120 mg/dL ", digits(r, 3), " measured.");
      case 1: return embed(r, d, "DL expires ", pad(r.uniform(1, 12), 2) + "-" + pad(r.uniform(1, 28), 2) + "-" + std::to_string(r.uniform(2025, 2030)), ".");
      default: return embed(r, d, "Sample ", drivers_license(r), " logged.");
    }
  }
  // street_address
  switch (r.uniform(0, 3)) {
    case 0: return embed(r, d, "Take ", std::to_string(r.uniform(1, 3)) + " Tablets Daily", " with food.");
    case 1: return embed(r, d, "Seen by ", std::to_string(r.uniform(2, 9)) + " North Dr", " Patel and team.");
    case 2: return embed(r, d, "Transferred to ", "Room " + std::to_string(r.uniform(1, 40)) + " East Wing", ".");
    default: return embed(r, d, "Admitted to ", std::to_string(r.uniform(2, 9)) + " West St", ". Mary's unit.");
  }
}

// Mixed text: clinical sentences with a PHI value every `phi_every` sentences on average
// (0 = none). Lines end with '\n'.
inline std::string clinical_text(rng& r, std::size_t bytes, int phi_every,
                                 std::span<const std::string_view> detectors) {
  std::string out;
  out.reserve(bytes + 256);
  while (out.size() < bytes) {
    if (phi_every > 0 && !detectors.empty() && r.uniform(1, phi_every) == 1) {
      out += positive(r, r.pick(detectors)).text;
    } else {
      out += clinical_sentence(r);
    }
    out.push_back(r.chance(30) ? '\n' : ' ');
  }
  if (out.back() != '\n') out.push_back('\n');
  return out;
}

// ---------------------------------------------------------------------------------- rows

// One sentence of narrative note text (history, exam, assessment, plan): mostly words, the odd
// small number — what most of a clinical notes column looks like.
inline std::string narrative_sentence(rng& r) {
  static constexpr std::array<const char*, 12> complaints = {
      "intermittent chest pressure", "worsening shortness of breath", "a productive cough",
      "low back pain radiating to the left leg", "dizziness on standing", "poor appetite",
      "increased swelling of both ankles", "burning on urination", "trouble sleeping",
      "episodes of palpitations", "a rash on the forearms", "right knee pain after a fall"};
  static constexpr std::array<const char*, 10> exams = {
      "Lungs clear to auscultation bilaterally, no wheezes or crackles",
      "Heart regular rate and rhythm, no murmurs, rubs or gallops",
      "Abdomen soft, non-tender, non-distended, bowel sounds present",
      "Alert and oriented, speech fluent, no focal deficits",
      "Mild pitting edema of the lower extremities",
      "Skin warm and dry, no lesions noted",
      "Tenderness over the lumbar paraspinal muscles, straight leg raise negative",
      "Oropharynx clear, tympanic membranes normal",
      "Pupils equal and reactive, extraocular movements intact",
      "Gait steady, strength symmetric in all extremities"};
  static constexpr std::array<const char*, 10> plans = {
      "Continue current medications and recheck labs at the next visit",
      "Referred to physical therapy; home exercise program reviewed",
      "Advised low sodium diet and daily weights; call if weight rises",
      "Discussed risks and benefits; patient agrees with the plan",
      "Will obtain imaging and follow up with results by phone",
      "Encouraged smoking cessation; resources provided",
      "Return precautions reviewed with patient and daughter",
      "Medication reconciliation completed; allergies verified",
      "Order placed for outpatient echocardiogram",
      "Patient educated on inhaler technique and spacer use"};
  static constexpr std::array<const char*, 6> durations = {"two days", "a week", "several weeks",
                                                           "three months", "since last visit",
                                                           "about ten days"};
  switch (r.uniform(0, 5)) {
    case 0: return std::string("Patient reports ") + r.pick(complaints) + " for " + r.pick(durations) + ".";
    case 1: return std::string(r.pick(exams)) + ".";
    case 2: return std::string(r.pick(plans)) + ".";
    case 3:
      return std::string("Seen with ") + (r.chance(50) ? "her" : "his") + " " +
             (r.chance(50) ? "son" : "wife") + "; history obtained from patient and chart.";
    case 4:
      return std::string("Denies fever, chills, nausea or vomiting; reports ") + r.pick(complaints) +
             " is " + (r.chance(50) ? "improving" : "unchanged") + ".";
    default:
      return "Assessment: " + std::string(r.pick(complaints)) + ", likely benign; follow up in " +
             std::to_string(r.uniform(2, 6)) + " weeks.";
  }
}

inline std::string capitalised(std::string s) {
  if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 'a' + 'A');
  return s;
}

// One result row of a typical clinical table as 10 text cells: name, street address, city,
// note (narrative with the odd vitals/labs sentence), diagnosis, medication instructions,
// provider, department, status, contact. Names and addresses are there as real rows have them;
// about one row in `phi_every` also carries a labelled PHI value (0 = none) in its note.
inline std::vector<std::string> clinical_row(rng& r, int phi_every,
                                             std::span<const std::string_view> detectors) {
  static constexpr std::array<const char*, 10> cities = {
      "Springfield, IL", "Riverton", "Fairview", "Madison, WI", "Georgetown", "Salem, OR",
      "Clinton", "Franklin", "Greenville, SC", "Bristol"};
  static constexpr std::array<const char*, 10> diagnoses = {
      "Type 2 diabetes mellitus without complications", "Essential hypertension",
      "Chronic obstructive pulmonary disease", "Major depressive disorder, single episode",
      "Congestive heart failure", "Osteoarthritis of knee", "Asthma, mild intermittent",
      "Hyperlipidemia", "Urinary tract infection", "Atrial fibrillation"};
  static constexpr std::array<const char*, 8> meds = {
      "Metoprolol tartrate 25 mg tablet, take one by mouth twice daily",
      "Lisinopril 10 mg tablet, one daily in the morning",
      "Metformin 500 mg tablet, take with meals",
      "Albuterol inhaler, two puffs every four hours as needed",
      "Atorvastatin 40 mg at bedtime",
      "Furosemide 20 mg daily; hold if dizzy",
      "Sertraline 50 mg daily",
      "Apixaban 5 mg twice daily"};
  static constexpr std::array<const char*, 8> departments = {
      "Cardiology", "Internal Medicine", "Family Practice", "Pulmonology", "Orthopedics",
      "Emergency Department", "Endocrinology", "Behavioral Health"};
  static constexpr std::array<const char*, 5> statuses = {"active", "discharged", "scheduled",
                                                          "in progress", "signed"};
  std::vector<std::string> row;
  row.reserve(10);
  row.push_back(capitalised(r.pick(first_names)) + " " + capitalised(r.pick(last_names)));
  row.push_back(street(r));
  row.push_back(r.pick(cities));
  std::string note;
  int sentences = r.uniform(2, 5);
  for (int i = 0; i < sentences; ++i) {
    if (!note.empty()) note.push_back(' ');
    note += r.chance(20) ? clinical_sentence(r) : narrative_sentence(r);
  }
  if (phi_every > 0 && !detectors.empty() && r.uniform(1, phi_every) == 1) {
    auto p = positive(r, r.pick(detectors));
    std::size_t b = p.begin > 25 ? p.begin - 25 : 0;  // the value with its label
    note += " ";
    note += p.text.substr(b, p.end + 1 - b);
  }
  row.push_back(std::move(note));
  row.push_back(r.pick(diagnoses));
  row.push_back(r.pick(meds));
  row.push_back("Dr. " + capitalised(r.pick(last_names)));
  row.push_back(r.pick(departments));
  row.push_back(r.pick(statuses));
  row.push_back(r.chance(10) ? email(r) : (r.chance(50) ? "prefers phone" : "no contact preference"));
  return row;
}

}  // namespace gh::dlp::synth
