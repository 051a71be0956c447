#include "devices/uart16550.h"

#include <cassert>

namespace vireo {
namespace {

// Register offsets (16550A datasheet, table "Register summary").
constexpr unsigned kRbrThr = 0;  // DLL when LCR.DLAB
constexpr unsigned kIer = 1;     // DLM when LCR.DLAB
constexpr unsigned kIirFcr = 2;
constexpr unsigned kLcr = 3;
constexpr unsigned kMcr = 4;
constexpr unsigned kLsr = 5;
constexpr unsigned kMsr = 6;
constexpr unsigned kScr = 7;

constexpr uint8_t kIerRxData = 0x01;     // ERBFI
constexpr uint8_t kIerThrEmpty = 0x02;   // ETBEI
constexpr uint8_t kIerLineStatus = 0x04; // ELSI
constexpr uint8_t kIerModemStatus = 0x08;// EDSSI
constexpr uint8_t kIerMask = 0x0f;       // bits 7:4 are always 0 on a 16550A

constexpr uint8_t kIirNoInterrupt = 0x01;
constexpr uint8_t kIirLineStatus = 0x06;
constexpr uint8_t kIirRxData = 0x04;
constexpr uint8_t kIirRxTimeout = 0x0c;
constexpr uint8_t kIirThrEmpty = 0x02;
constexpr uint8_t kIirModemStatus = 0x00;
constexpr uint8_t kIirFifosEnabled = 0xc0;

constexpr uint8_t kFcrEnable = 0x01;
constexpr uint8_t kFcrClearRx = 0x02;

constexpr uint8_t kLcrDlab = 0x80;

constexpr uint8_t kMcrDtr = 0x01;
constexpr uint8_t kMcrRts = 0x02;
constexpr uint8_t kMcrOut1 = 0x04;
constexpr uint8_t kMcrOut2 = 0x08;
constexpr uint8_t kMcrLoop = 0x10;
constexpr uint8_t kMcrMask = 0x1f;  // bits 7:5 are always 0 on a 16550A

constexpr uint8_t kLsrDataReady = 0x01;
constexpr uint8_t kLsrOverrun = 0x02;
constexpr uint8_t kLsrThrEmpty = 0x20;
constexpr uint8_t kLsrTxEmpty = 0x40;

constexpr uint8_t kMsrDeltaCts = 0x01;
constexpr uint8_t kMsrDeltaDsr = 0x02;
constexpr uint8_t kMsrTrailingRi = 0x04;
constexpr uint8_t kMsrDeltaDcd = 0x08;
constexpr uint8_t kMsrCts = 0x10;
constexpr uint8_t kMsrDsr = 0x20;
constexpr uint8_t kMsrRi = 0x40;
constexpr uint8_t kMsrDcd = 0x80;
constexpr uint8_t kMsrDeltas = 0x0f;

constexpr unsigned kRxTriggerLevels[4] = {1, 4, 8, 14};  // FCR bits 7:6

}  // namespace

Uart16550::Uart16550(IrqLine& irq, OutputSink sink) : irq_(irq), sink_(std::move(sink)) {
  msr_ = modem_status_inputs();
}

uint64_t Uart16550::io_read(uint64_t offset, unsigned size) {
  std::lock_guard<std::mutex> lock(mu_);
  // The UART has byte-wide registers on an 8-bit bus: a wider access is a run of
  // byte accesses to consecutive ports.
  uint64_t value = 0;
  for (unsigned i = 0; i < size && i < 8; ++i) {
    if (offset + i >= kRegisterCount) break;
    value |= uint64_t{read_register(static_cast<unsigned>(offset + i))} << (8 * i);
  }
  update_irq();
  return value;
}

void Uart16550::io_write(uint64_t offset, unsigned size, uint64_t value) {
  std::lock_guard<std::mutex> lock(mu_);
  for (unsigned i = 0; i < size && i < 8; ++i) {
    if (offset + i >= kRegisterCount) break;
    write_register(static_cast<unsigned>(offset + i), static_cast<uint8_t>(value >> (8 * i)));
  }
  update_irq();
}

size_t Uart16550::receive(const uint8_t* data, size_t len) {
  std::lock_guard<std::mutex> lock(mu_);
  // In loopback mode the receiver is disconnected from the line (datasheet, MCR bit 4):
  // host input waits until the guest leaves loopback.
  if (mcr_ & kMcrLoop) return 0;
  size_t accepted = 0;
  while (accepted < len && rx_fifo_.size() < kRxFifoCapacity) rx_fifo_.push_back(data[accepted++]);
  update_irq();
  return accepted;
}

size_t Uart16550::rx_space() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (mcr_ & kMcrLoop) return 0;
  return kRxFifoCapacity - rx_fifo_.size();
}

uint8_t Uart16550::read_register(unsigned reg) {
  const bool dlab = lcr_ & kLcrDlab;
  switch (reg) {
    case kRbrThr: {
      if (dlab) return dll_;
      if (rx_fifo_.empty()) return 0;
      uint8_t byte = rx_fifo_.front();
      rx_fifo_.pop_front();
      return byte;
    }
    case kIer:
      return dlab ? dlm_ : ier_;
    case kIirFcr: {
      uint8_t id = pending_interrupt();
      // Reading IIR clears the THR-empty interrupt when it is the one reported
      // (datasheet, "Interrupt control functions" table: reset by reading IIR if source).
      if (id == kIirThrEmpty) thre_pending_ = false;
      return static_cast<uint8_t>(id | (fifo_enabled_ ? kIirFifosEnabled : 0));
    }
    case kLcr:
      return lcr_;
    case kMcr:
      return mcr_;
    case kLsr: {
      uint8_t lsr = kLsrThrEmpty | kLsrTxEmpty | lsr_errors_;
      if (!rx_fifo_.empty()) lsr |= kLsrDataReady;
      lsr_errors_ = 0;  // reading LSR clears the error bits and the line status interrupt
      return lsr;
    }
    case kMsr: {
      uint8_t msr = msr_;
      msr_ &= static_cast<uint8_t>(~kMsrDeltas);  // reading MSR clears the delta bits
      return msr;
    }
    case kScr:
      return scr_;
  }
  assert(false && "register offset out of range");
  return 0;
}

void Uart16550::write_register(unsigned reg, uint8_t value) {
  const bool dlab = lcr_ & kLcrDlab;
  switch (reg) {
    case kRbrThr:
      if (dlab) {
        dll_ = value;
      } else {
        transmit(value);
      }
      return;
    case kIer:
      if (dlab) {
        dlm_ = value;
        return;
      } else {
        uint8_t old = ier_;
        ier_ = value & kIerMask;
        // Enabling the THR-empty interrupt while THR is empty (always, here) raises
        // it; disabling it drops a latched one.
        if ((ier_ & kIerThrEmpty) && !(old & kIerThrEmpty)) thre_pending_ = true;
        if (!(ier_ & kIerThrEmpty)) thre_pending_ = false;
      }
      return;
    case kIirFcr:
      write_fcr(value);
      return;
    case kLcr:
      lcr_ = value;
      return;
    case kMcr:
      write_mcr(value);
      return;
    case kLsr:
      return;  // LSR is read-only here (the datasheet reserves writes for factory test)
    case kMsr:
      return;  // read-only
    case kScr:
      scr_ = value;
      return;
  }
  assert(false && "register offset out of range");
}

void Uart16550::write_fcr(uint8_t value) {
  const bool enable = value & kFcrEnable;
  // Changing FCR0 clears both FIFOs; with FCR0 = 0 the other bits are not
  // programmed (datasheet, FIFO control register).
  if (enable != fifo_enabled_) {
    rx_fifo_.clear();
    fifo_enabled_ = enable;
  }
  if (!enable) return;
  if (value & kFcrClearRx) rx_fifo_.clear();
  // kFcrClearTx has nothing to clear: transmission is instantaneous.
  rx_trigger_ = kRxTriggerLevels[value >> 6];
}

void Uart16550::write_mcr(uint8_t value) {
  // Entering or leaving loopback keeps the receive FIFO: looped-back data stays readable.
  mcr_ = value & kMcrMask;
  update_modem_status();
}

void Uart16550::transmit(uint8_t byte) {
  if (mcr_ & kMcrLoop) {
    push_rx(byte);  // loopback: the transmitter output is wired to the receiver input
  } else if (sink_) {
    sink_(&byte, 1);
  }
  // Writing THR clears the THR-empty interrupt; the byte leaves at once, so THR is
  // empty again and, with ETBEI set, the interrupt is raised anew.
  thre_pending_ = (ier_ & kIerThrEmpty) != 0;
}

void Uart16550::push_rx(uint8_t byte) {
  // A character arriving with the FIFO full is lost: overrun (LSR bit 1).
  if (rx_fifo_.size() >= kRxFifoCapacity) {
    lsr_errors_ |= kLsrOverrun;
    return;
  }
  rx_fifo_.push_back(byte);
}

uint8_t Uart16550::modem_status_inputs() const {
  if (mcr_ & kMcrLoop) {
    // Loopback (datasheet, MCR bit 4): CTS <- RTS, DSR <- DTR, RI <- OUT1, DCD <- OUT2.
    uint8_t in = 0;
    if (mcr_ & kMcrRts) in |= kMsrCts;
    if (mcr_ & kMcrDtr) in |= kMsrDsr;
    if (mcr_ & kMcrOut1) in |= kMsrRi;
    if (mcr_ & kMcrOut2) in |= kMsrDcd;
    return in;
  }
  // A terminal is connected and ready; the line never rings.
  return kMsrCts | kMsrDsr | kMsrDcd;
}

void Uart16550::update_modem_status() {
  const uint8_t old_in = msr_ & 0xf0;
  const uint8_t new_in = modem_status_inputs();
  uint8_t deltas = msr_ & kMsrDeltas;
  const uint8_t changed = old_in ^ new_in;
  if (changed & kMsrCts) deltas |= kMsrDeltaCts;
  if (changed & kMsrDsr) deltas |= kMsrDeltaDsr;
  if ((old_in & kMsrRi) && !(new_in & kMsrRi)) deltas |= kMsrTrailingRi;  // trailing edge only
  if (changed & kMsrDcd) deltas |= kMsrDeltaDcd;
  msr_ = new_in | deltas;
}

uint8_t Uart16550::pending_interrupt() const {
  // Priorities (datasheet, "Interrupt control functions"): receiver line status,
  // received data available / character timeout, THR empty, modem status.
  if ((ier_ & kIerLineStatus) && (lsr_errors_ & kLsrOverrun)) return kIirLineStatus;
  if ((ier_ & kIerRxData) && !rx_fifo_.empty()) {
    // In FIFO mode, data below the trigger level is reported as a character timeout
    // (the timeout is immediate here: no more characters are on their way).
    if (fifo_enabled_ && rx_fifo_.size() < rx_trigger_) return kIirRxTimeout;
    return kIirRxData;
  }
  if ((ier_ & kIerThrEmpty) && thre_pending_) return kIirThrEmpty;
  if ((ier_ & kIerModemStatus) && (msr_ & kMsrDeltas)) return kIirModemStatus;
  return kIirNoInterrupt;
}

void Uart16550::update_irq() {
  // On a PC the UART's INTR pin reaches the interrupt controller through a buffer
  // enabled by OUT2.
  const bool level = pending_interrupt() != kIirNoInterrupt && (mcr_ & kMcrOut2);
  if (level == irq_level_) return;
  irq_level_ = level;
  irq_.set_level(level);
}

}  // namespace vireo
