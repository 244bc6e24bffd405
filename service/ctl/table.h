// Text tables for sendgatectl's readable output: columns padded to their widest cell.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace sendgate::ctl {

class Table {
 public:
  explicit Table(std::vector<std::string> header) : rows_{std::move(header)} {}
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  bool empty() const { return rows_.size() == 1; }
  // The header, a rule, then the rows; each column as wide as its widest cell.
  void Print(std::ostream& out) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace sendgate::ctl
