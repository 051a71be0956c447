// Uart16550: a National/TI 16550A serial port (the PC's COM1), as seen through its
// eight byte-wide registers.
//
// Transmission is instantaneous: every byte written to THR is handed to the output
// sink at once and the transmitter is empty again (LSR.THRE and LSR.TEMT always read
// set). Received bytes come from the host through receive() into a receive FIFO that is
// larger than the chip's 16 bytes, so pasted text is not lost; when it is full,
// receive() accepts fewer bytes and the caller offers the rest again later.
//
// The interrupt output follows the PC wiring: the line is asserted while an enabled
// interrupt is pending and MCR.OUT2 is set. Its level is recomputed after every
// register access and every receive(); IrqLine::set_level is called (with the device's
// lock held, so levels reach the line in order) only when the level changes.
//
// Thread-safe: vCPU threads access the registers while the host input thread calls
// receive().
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>

#include "bus/io_device.h"
#include "bus/irq_line.h"

namespace vireo {

class Uart16550 final : public IoDevice {
 public:
  // Receives every byte the guest transmits (not in loopback mode), in order.
  using OutputSink = std::function<void(const uint8_t* data, size_t len)>;

  static constexpr uint64_t kRegisterCount = 8;  // the port range the UART decodes
  static constexpr size_t kRxFifoCapacity = 1024;

  // `irq` must outlive the device. `sink` may be empty (output is dropped).
  Uart16550(IrqLine& irq, OutputSink sink);

  uint64_t io_read(uint64_t offset, unsigned size) override;
  void io_write(uint64_t offset, unsigned size, uint64_t value) override;

  // Host input: queues up to `len` bytes and returns how many were accepted
  // (fewer when the receive FIFO fills up; nothing is lost, the caller retries).
  size_t receive(const uint8_t* data, size_t len);
  // Free space in the receive FIFO, in bytes.
  size_t rx_space() const;

 private:
  uint8_t read_register(unsigned reg);
  void write_register(unsigned reg, uint8_t value);
  void write_fcr(uint8_t value);
  void write_mcr(uint8_t value);
  void transmit(uint8_t byte);
  void push_rx(uint8_t byte);  // from loopback: a full FIFO is an overrun
  uint8_t modem_status_inputs() const;
  void update_modem_status();
  uint8_t pending_interrupt() const;  // IIR bits 3:0
  void update_irq();

  IrqLine& irq_;
  OutputSink sink_;

  mutable std::mutex mu_;
  std::deque<uint8_t> rx_fifo_;
  uint8_t ier_ = 0;
  uint8_t lcr_ = 0;
  uint8_t mcr_ = 0;
  uint8_t lsr_errors_ = 0;  // LSR.OE (the only error a virtual line can have)
  uint8_t msr_ = 0;         // modem status: inputs in bits 7:4, deltas in bits 3:0
  uint8_t scr_ = 0;
  uint8_t dll_ = 0x0c;  // divisor 12 = 9600 baud, the usual power-on value
  uint8_t dlm_ = 0;
  bool fifo_enabled_ = false;
  unsigned rx_trigger_ = 1;     // FCR bits 7:6 as a byte count
  bool thre_pending_ = false;   // the THR-empty interrupt is latched
  bool irq_level_ = false;
};

}  // namespace vireo
