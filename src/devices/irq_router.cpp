#include "devices/irq_router.h"

#include <cassert>

#include "base/error.h"
#include "devices/ioapic.h"

namespace vireo {

class IrqRouter::Line final : public IrqLine {
 public:
  Line(IrqRouter& router, unsigned number) : router_(router), number_(number) {}
  ~Line() override { set_level(false); }

  void set_level(bool asserted) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (asserted == level_) return;
    level_ = asserted;
    router_.set_level(number_, asserted);
  }

 private:
  IrqRouter& router_;
  unsigned number_;
  std::mutex mu_;  // keeps this line's level and its count in the router in step
  bool level_ = false;
};

IrqRouter::IrqRouter(Ioapic& ioapic, LegacyIrqSink* pic) : ioapic_(ioapic), pic_(pic) {}

std::unique_ptr<IrqLine> IrqRouter::make_irq_line(unsigned n) {
  if (n == 2) fail("ISA IRQ 2 is the cascade of the legacy PIC pair and cannot be given to a device; pick another IRQ");
  if (n >= kLines) fail("interrupt {} does not exist: the I/O APIC has GSIs 0 to {}", n, kLines - 1);
  return std::make_unique<Line>(*this, n);
}

void IrqRouter::set_level(unsigned n, bool asserted) {
  std::lock_guard<std::mutex> lock(mu_);
  unsigned& count = asserted_count_[n];
  assert(asserted || count > 0);
  bool was = count > 0;
  count = asserted ? count + 1 : count - 1;
  bool now = count > 0;
  if (was == now) return;
  ioapic_.set_pin(ioapic_pin(n), now);
  if (pic_ && n < kIsaIrqs) pic_->set_irq(n, now);
}

}  // namespace vireo
