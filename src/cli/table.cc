#include "cli/table.h"

#include <algorithm>

namespace ndx::cli {
namespace {

const std::string& Shown(const std::string& cell) {
  static const std::string* const kDash = new std::string("-");
  return cell.empty() ? *kDash : cell;
}

void PrintPadded(std::ostream& out, const std::string& text, size_t width) {
  out << text;
  for (size_t w = DisplayWidth(text); w < width; ++w) out << ' ';
}

}  // namespace

size_t DisplayWidth(const std::string& text) {
  // Every byte but UTF-8 continuation bytes (10xxxxxx) starts a code point.
  return std::count_if(text.begin(), text.end(),
                       [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; });
}

Table::Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}

void Table::AddRow(std::vector<std::string> cells) {
  // A short row prints empty cells rather than misaligning the ones after it.
  cells.resize(headers_.size());
  rows_.push_back(std::move(cells));
}

void Table::Print(std::ostream& out) const {
  std::vector<size_t> widths(headers_.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], DisplayWidth(Shown(row[i])));
    }
  };
  measure(headers_);
  for (const auto& row : rows_) measure(row);

  auto print_row = [&](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size(); ++i) {
      if (i + 1 == row.size()) {
        out << Shown(row[i]);
      } else {
        PrintPadded(out, Shown(row[i]), widths[i] + 2);
      }
    }
    out << '\n';
  };
  print_row(headers_);
  for (const auto& row : rows_) print_row(row);
}

void PrintKeyValues(std::ostream& out,
                    const std::vector<std::pair<std::string, std::string>>& entries) {
  size_t width = 0;
  for (const auto& [key, value] : entries) width = std::max(width, DisplayWidth(key) + 1);
  for (const auto& [key, value] : entries) {
    PrintPadded(out, key + ":", width + 2);
    out << Shown(value) << '\n';
  }
}

}  // namespace ndx::cli
