// What the host offers a VMM, for `vireo info`.
#pragma once

#include <string>

namespace vireo {

// A multi-line human-readable report.
std::string host_info_report();

}  // namespace vireo
