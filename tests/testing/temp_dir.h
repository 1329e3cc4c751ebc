#ifndef NDX_TESTS_TESTING_TEMP_DIR_H_
#define NDX_TESTS_TESTING_TEMP_DIR_H_

#include <string>

namespace ndx::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with its content on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path() + "/" + name.
  std::string Join(const std::string& name) const;

 private:
  std::string path_;
};

}  // namespace ndx::testing

#endif  // NDX_TESTS_TESTING_TEMP_DIR_H_
