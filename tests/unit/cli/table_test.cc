#include "cli/table.h"

#include <gtest/gtest.h>

#include <sstream>

namespace ndx::cli {
namespace {

TEST(TableTest, AlignsColumnsWithoutTrailingSpaces) {
  Table table({"ID", "NAME", "KIND"});
  table.AddRow({"mops/population", "Population register", "ministry"});
  table.AddRow({"moh/insurance", "Health insurance", "ministry"});
  std::ostringstream out;
  table.Print(out);
  EXPECT_EQ(out.str(),
            "ID               NAME                 KIND\n"
            "mops/population  Population register  ministry\n"
            "moh/insurance    Health insurance     ministry\n");
}

TEST(TableTest, EmptyCellsShowAsDash) {
  Table table({"ID", "ENDPOINT", "ROLES"});
  table.AddRow({"moh/insurance", "", ""});
  std::ostringstream out;
  table.Print(out);
  EXPECT_EQ(out.str(),
            "ID             ENDPOINT  ROLES\n"
            "moh/insurance  -         -\n");
}

TEST(TableTest, CountsUtf8CodePoints) {
  Table table({"NAME", "PROVINCE"});
  table.AddRow({"Nguyễn Văn An", "hanoi"});
  table.AddRow({"Le Van Cuong", "hcmc"});
  std::ostringstream out;
  table.Print(out);
  EXPECT_EQ(out.str(),
            "NAME           PROVINCE\n"
            "Nguyễn Văn An  hanoi\n"
            "Le Van Cuong   hcmc\n");
  EXPECT_EQ(DisplayWidth("Nguyễn"), 6u);
}

TEST(TableTest, HeadersOnlyWhenEmpty) {
  Table table({"ID", "STATE"});
  std::ostringstream out;
  table.Print(out);
  EXPECT_EQ(out.str(), "ID  STATE\n");
  EXPECT_EQ(table.row_count(), 0u);
}

TEST(TableTest, ShortRowsAreFilled) {
  Table table({"A", "B"});
  table.AddRow({"x"});
  std::ostringstream out;
  table.Print(out);
  EXPECT_EQ(out.str(), "A  B\nx  -\n");
}

TEST(KeyValuesTest, AlignsValues) {
  std::ostringstream out;
  PrintKeyValues(
      out, {{"id", "mops/residents"}, {"message type", "population.v1.Resident"}, {"subject", ""}});
  EXPECT_EQ(out.str(),
            "id:            mops/residents\n"
            "message type:  population.v1.Resident\n"
            "subject:       -\n");
}

}  // namespace
}  // namespace ndx::cli
