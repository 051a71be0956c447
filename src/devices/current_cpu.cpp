#include "devices/current_cpu.h"

namespace vireo {

namespace {
thread_local unsigned t_current_cpu = 0;
}

void set_current_cpu(unsigned index) { t_current_cpu = index; }
unsigned current_cpu() { return t_current_cpu; }

}  // namespace vireo
