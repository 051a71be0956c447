// The index of the vCPU that the calling thread runs. Per-CPU devices (the local
// APIC window, devices/apic_bus.h) use it to know which CPU performs an access.
// Each vCPU thread sets it once before running guest code; other threads read 0.
#pragma once

namespace vireo {

void set_current_cpu(unsigned index);
unsigned current_cpu();

}  // namespace vireo
