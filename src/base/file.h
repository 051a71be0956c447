// Reading whole host files (kernels, initrds) with one-line errors.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vireo {

// Reads a whole regular file. `what` names it in errors ("kernel", "initrd").
std::vector<uint8_t> read_file(const std::string& path, const char* what);

}  // namespace vireo
