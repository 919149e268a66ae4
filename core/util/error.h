// Errors that reach the user. The message says what was wrong and what to do about it.
#pragma once

#include <stdexcept>
#include <string>

namespace npuscribe {

// Bad input from outside the program: a file, a model, a device, an argument value.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace npuscribe
