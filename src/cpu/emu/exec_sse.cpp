// SSE/SSE2 (to be filled in).
#include "cpu/emu/exec_common.h"

namespace vireo::emu {

void register_sse(HandlerTable&) {}

}  // namespace vireo::emu
