#include "devices/uart16550.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace vireo;

namespace {

// Register offsets and bits, written out from the 16550A datasheet.
constexpr uint64_t RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4,
                   LSR = 5, MSR = 6, SCR = 7;

struct RecordingIrqLine : IrqLine {
  bool level = false;
  int changes = 0;
  void set_level(bool asserted) override {
    if (asserted != level) ++changes;
    level = asserted;
  }
};

class Uart16550Test : public ::testing::Test {
 protected:
  RecordingIrqLine irq;
  std::string output;
  Uart16550 uart{irq, [this](const uint8_t* d, size_t n) { output.append(reinterpret_cast<const char*>(d), n); }};

  uint8_t rd(uint64_t reg) { return static_cast<uint8_t>(uart.io_read(reg, 1)); }
  void wr(uint64_t reg, uint8_t v) { uart.io_write(reg, 1, v); }
  size_t give(const std::string& s) { return uart.receive(reinterpret_cast<const uint8_t*>(s.data()), s.size()); }
};

}  // namespace

TEST_F(Uart16550Test, ScratchRegisterRoundTrip) {
  for (uint8_t v : {0x00, 0x55, 0xaa, 0xff, 0x12}) {
    wr(SCR, v);
    EXPECT_EQ(rd(SCR), v);
  }
}

TEST_F(Uart16550Test, DivisorLatchDoesNotDisturbThrAndIer) {
  wr(IER, 0x05);
  wr(LCR, 0x83);  // DLAB | 8 bits
  wr(DLL, 0x01);
  wr(DLM, 0x02);
  EXPECT_EQ(rd(DLL), 0x01);
  EXPECT_EQ(rd(DLM), 0x02);
  EXPECT_TRUE(output.empty()) << "a DLL write must not transmit";
  wr(LCR, 0x03);
  EXPECT_EQ(rd(LCR), 0x03);
  EXPECT_EQ(rd(IER), 0x05) << "a DLM write must not change IER";
  wr(LCR, 0x83);
  EXPECT_EQ(rd(DLL), 0x01);
  EXPECT_EQ(rd(DLM), 0x02);
}

TEST_F(Uart16550Test, IerUpperBitsReadAsZero) {
  wr(IER, 0xff);
  EXPECT_EQ(rd(IER), 0x0f);
}

TEST_F(Uart16550Test, ThrWriteReachesSinkAndTransmitterStaysEmpty) {
  wr(THR, 'h');
  wr(THR, 'i');
  EXPECT_EQ(output, "hi");
  EXPECT_EQ(rd(LSR) & 0x60, 0x60);  // THRE | TEMT
}

TEST_F(Uart16550Test, ReceiveSetsDataReadyAndBytesComeInOrder) {
  EXPECT_EQ(rd(LSR) & 0x01, 0);
  EXPECT_EQ(give("abc"), 3u);
  EXPECT_EQ(rd(LSR) & 0x01, 0x01);
  EXPECT_EQ(rd(RBR), 'a');
  EXPECT_EQ(rd(RBR), 'b');
  EXPECT_EQ(rd(LSR) & 0x01, 0x01);
  EXPECT_EQ(rd(RBR), 'c');
  EXPECT_EQ(rd(LSR) & 0x01, 0);
}

TEST_F(Uart16550Test, IirReportsPendingInterruptsByPriority) {
  EXPECT_EQ(rd(IIR), 0x01);  // FIFOs off, nothing pending
  wr(FCR, 0x01);
  EXPECT_EQ(rd(IIR), 0xc1);  // FIFOs on, nothing pending

  wr(IER, 0x01);  // RX data
  give("x");
  EXPECT_EQ(rd(IIR), 0xc4);
  EXPECT_EQ(rd(IIR), 0xc4) << "reading IIR does not clear the RX data interrupt";
  wr(IER, 0x03);  // RX data and THR empty: RX data has priority
  EXPECT_EQ(rd(IIR), 0xc4);
  rd(RBR);
  EXPECT_EQ(rd(IIR), 0xc2) << "THR empty comes next once the data is read";
  EXPECT_EQ(rd(IIR), 0xc1) << "reading IIR clears THR empty when it is the source";

  wr(THR, 'a');
  EXPECT_EQ(rd(IIR), 0xc2) << "the THR write re-arms THR empty";
  wr(IER, 0x01);
  EXPECT_EQ(rd(IIR), 0xc1);
}

TEST_F(Uart16550Test, ThrEmptyIsRaisedEachTimeEtbeiIsEnabled) {
  // The sequence a Linux 8250 driver uses to check the THRE interrupt.
  wr(IER, 0x02);
  EXPECT_EQ(rd(IIR) & 0x0f, 0x02);
  wr(IER, 0x00);
  wr(IER, 0x02);
  EXPECT_EQ(rd(IIR) & 0x0f, 0x02);
}

TEST_F(Uart16550Test, RxBelowTriggerLevelIsReportedAsTimeout) {
  wr(FCR, 0xc1);  // FIFOs on, trigger 14
  wr(IER, 0x01);
  give("abc");
  EXPECT_EQ(rd(IIR), 0xcc);
  give("0123456789ab");
  EXPECT_EQ(rd(IIR), 0xc4);
}

TEST_F(Uart16550Test, IrqLineFollowsIerPendingAndOut2) {
  give("z");
  EXPECT_FALSE(irq.level) << "nothing enabled";
  wr(IER, 0x01);
  EXPECT_FALSE(irq.level) << "OUT2 clear gates the line";
  wr(MCR, 0x08);
  EXPECT_TRUE(irq.level);
  rd(RBR);
  EXPECT_FALSE(irq.level) << "data read: nothing pending";
  give("y");
  EXPECT_TRUE(irq.level) << "receive() updates the line";
  wr(IER, 0x00);
  EXPECT_FALSE(irq.level);
  wr(IER, 0x02);
  EXPECT_TRUE(irq.level) << "THR empty";
  rd(IIR);
  EXPECT_FALSE(irq.level) << "IIR read cleared THR empty";
  wr(MCR, 0x00);
  wr(THR, 'q');
  EXPECT_FALSE(irq.level);
  wr(MCR, 0x08);
  EXPECT_TRUE(irq.level);
}

TEST_F(Uart16550Test, LoopbackEchoesAndMapsModemLines) {
  EXPECT_EQ(rd(MSR) & 0xf0, 0xb0) << "outside loopback: CTS, DSR, DCD";
  wr(MCR, 0x10 | 0x0a);  // loop, RTS, OUT2
  EXPECT_EQ(rd(MSR) & 0xf0, 0x90) << "CTS <- RTS, DCD <- OUT2";
  wr(MCR, 0x10 | 0x05);  // loop, DTR, OUT1
  EXPECT_EQ(rd(MSR) & 0xf0, 0x60) << "DSR <- DTR, RI <- OUT1";
  wr(MCR, 0x10);
  uint8_t msr = rd(MSR);
  EXPECT_EQ(msr & 0xf0, 0x00);
  EXPECT_EQ(msr & 0x06, 0x06) << "DSR changed, RI trailing edge";
  EXPECT_EQ(rd(MSR) & 0x0f, 0x00) << "reading MSR clears the deltas";

  wr(THR, 'L');
  EXPECT_TRUE(output.empty()) << "loopback keeps bytes off the line";
  EXPECT_EQ(rd(LSR) & 0x01, 0x01);
  EXPECT_EQ(rd(RBR), 'L');
  EXPECT_EQ(give("host"), 0u) << "the receiver input is disconnected in loopback";
  wr(MCR, 0x00);
  EXPECT_EQ(rd(MSR) & 0xf0, 0xb0);
  wr(THR, 'O');
  EXPECT_EQ(output, "O");
}

TEST_F(Uart16550Test, FcrClearsReceiveFifo) {
  wr(FCR, 0x01);
  give("abc");
  wr(FCR, 0x03);  // enable | clear RX
  EXPECT_EQ(rd(LSR) & 0x01, 0);
  give("d");
  wr(FCR, 0x00);  // disabling the FIFOs clears them too
  EXPECT_EQ(rd(LSR) & 0x01, 0);
  EXPECT_EQ(rd(IIR), 0x01);
}

TEST_F(Uart16550Test, FullFifoLimitsReceiveAndOverrunSetsOe) {
  std::string big(Uart16550::kRxFifoCapacity + 10, 'a');
  EXPECT_EQ(uart.rx_space(), Uart16550::kRxFifoCapacity);
  size_t n = give(big);
  EXPECT_EQ(n, Uart16550::kRxFifoCapacity);
  EXPECT_LT(n, big.size());
  EXPECT_EQ(uart.rx_space(), 0u);
  EXPECT_EQ(give("b"), 0u);
  EXPECT_EQ(rd(LSR) & 0x02, 0) << "refused host bytes are not lost: no overrun";

  // A looped-back byte into the full FIFO is lost: overrun.
  wr(IER, 0x04);
  wr(MCR, 0x18);  // loop, OUT2
  wr(THR, 'c');
  EXPECT_EQ(rd(IIR) & 0x0f, 0x06) << "receiver line status";
  EXPECT_TRUE(irq.level);
  uint8_t lsr = rd(LSR);
  EXPECT_EQ(lsr & 0x03, 0x03);  // DR | OE
  EXPECT_EQ(rd(LSR) & 0x02, 0) << "reading LSR clears OE";
  EXPECT_EQ(rd(IIR) & 0x0f, 0x01);
  wr(MCR, 0x00);
  rd(RBR);
  EXPECT_EQ(uart.rx_space(), 1u);
}

TEST_F(Uart16550Test, ModemStatusInterrupt) {
  wr(IER, 0x08);
  wr(MCR, 0x18);  // loop, OUT2: CTS/DSR drop, DCD stays
  EXPECT_EQ(rd(IIR) & 0x0f, 0x00);
  EXPECT_TRUE(irq.level);
  rd(MSR);
  EXPECT_EQ(rd(IIR) & 0x0f, 0x01);
  EXPECT_FALSE(irq.level);
}

TEST_F(Uart16550Test, WideAccessIsByteAccessesToConsecutivePorts) {
  uart.io_write(SCR - 1, 2, 0x4200);  // MSR (ignored), SCR = 0x42
  EXPECT_EQ(rd(SCR), 0x42);
  EXPECT_EQ(uart.io_read(SCR, 4), 0x42u) << "ports past the UART read as 0 inside the device";
}
