#ifndef NDX_CLI_TABLE_H_
#define NDX_CLI_TABLE_H_

#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace ndx::cli {

// A text table with aligned columns, for ndxctl's table output: a header row, then one row per
// entry, columns separated by two spaces, no trailing spaces, empty cells shown as "-". Widths are
// counted in UTF-8 code points so that Vietnamese names line up. Thread-compatible.
class Table {
 public:
  explicit Table(std::vector<std::string> headers);

  // Cells past the headers are dropped; missing ones are empty.
  void AddRow(std::vector<std::string> cells);
  size_t row_count() const { return rows_.size(); }

  void Print(std::ostream& out) const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// "key:  value" lines with the values aligned, for a single object (a node, a certificate).
// Empty values are shown as "-".
void PrintKeyValues(std::ostream& out,
                    const std::vector<std::pair<std::string, std::string>>& entries);

// Display width of UTF-8 text, in code points.
size_t DisplayWidth(const std::string& text);

}  // namespace ndx::cli

#endif  // NDX_CLI_TABLE_H_
