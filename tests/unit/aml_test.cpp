#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "arch/x86/aml.h"
#include "base/error.h"

using namespace vireo;
using namespace vireo::x86::aml;
using Bytes = std::vector<uint8_t>;

namespace {

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// The descriptor bytes inside a ResourceTemplate buffer (after BufferOp, PkgLength, size).
Bytes template_data(const Term& t) {
  const Bytes& b = t.bytes();
  EXPECT_EQ(b.at(0), 0x11);  // BufferOp
  size_t pos = 1 + ((b.at(1) >> 6) + 1);  // skip the PkgLength
  uint64_t size = 0;
  switch (b.at(pos)) {
    case 0x00: size = 0; pos += 1; break;
    case 0x01: size = 1; pos += 1; break;
    case 0x0a: size = b.at(pos + 1); pos += 2; break;
    case 0x0b: size = b.at(pos + 1) | (b.at(pos + 2) << 8); pos += 3; break;
    default: ADD_FAILURE() << "unexpected BufferSize encoding"; return {};
  }
  EXPECT_EQ(pos + size, b.size());
  return Bytes(b.begin() + static_cast<long>(pos), b.end());
}

}  // namespace

TEST(AmlInteger, SmallestEncodingAtEachBoundary) {
  EXPECT_EQ(integer(0).bytes(), (Bytes{0x00}));
  EXPECT_EQ(integer(1).bytes(), (Bytes{0x01}));
  EXPECT_EQ(integer(2).bytes(), (Bytes{0x0a, 0x02}));
  EXPECT_EQ(integer(0xff).bytes(), (Bytes{0x0a, 0xff}));
  EXPECT_EQ(integer(0x100).bytes(), (Bytes{0x0b, 0x00, 0x01}));
  EXPECT_EQ(integer(0xffff).bytes(), (Bytes{0x0b, 0xff, 0xff}));
  EXPECT_EQ(integer(0x10000).bytes(), (Bytes{0x0c, 0x00, 0x00, 0x01, 0x00}));
  EXPECT_EQ(integer(0xffffffff).bytes(), (Bytes{0x0c, 0xff, 0xff, 0xff, 0xff}));
  EXPECT_EQ(integer(0x100000000).bytes(), (Bytes{0x0e, 0, 0, 0, 0, 1, 0, 0, 0}));
  EXPECT_EQ(integer(0x0123456789abcdef).bytes(),
            (Bytes{0x0e, 0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01}));
  EXPECT_EQ(integer(~0ull - 1).bytes(), (Bytes{0x0e, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}));
  EXPECT_EQ(integer(~0ull).bytes(), (Bytes{0xff}));  // OnesOp
}

TEST(AmlPkgLength, EncodesValueAtSizeBoundaries) {
  EXPECT_EQ(encode_pkg_length(0), (Bytes{0x00}));
  EXPECT_EQ(encode_pkg_length(63), (Bytes{0x3f}));
  EXPECT_EQ(encode_pkg_length(64), (Bytes{0x40, 0x04}));
  EXPECT_EQ(encode_pkg_length(4095), (Bytes{0x4f, 0xff}));
  EXPECT_EQ(encode_pkg_length(4096), (Bytes{0x80, 0x00, 0x01}));
  EXPECT_EQ(encode_pkg_length(1048575), (Bytes{0x8f, 0xff, 0xff}));
  EXPECT_EQ(encode_pkg_length(1048576), (Bytes{0xc0, 0x00, 0x00, 0x01}));
  EXPECT_EQ(encode_pkg_length(0x0fffffff), (Bytes{0xcf, 0xff, 0xff, 0xff}));
  EXPECT_THROW(encode_pkg_length(0x10000000), Error);
}

TEST(AmlPkgLength, CountsItsOwnBytes) {
  // A body of 62 bytes plus the 1-byte PkgLength is 63: still one byte.
  EXPECT_EQ(pkg_length(62), (Bytes{0x3f}));
  // 63 + 1 would be 64, too large for one byte, so two bytes hold 63 + 2 = 65.
  EXPECT_EQ(pkg_length(63), (Bytes{0x41, 0x04}));
  EXPECT_EQ(pkg_length(4093), (Bytes{0x4f, 0xff}));        // 4095
  EXPECT_EQ(pkg_length(4094), (Bytes{0x81, 0x00, 0x01}));  // 4097
  EXPECT_EQ(pkg_length(1048572), (Bytes{0x8f, 0xff, 0xff}));       // 1048575
  EXPECT_EQ(pkg_length(1048573), (Bytes{0xc1, 0x00, 0x00, 0x01}));  // 1048577
}

TEST(AmlPkgLength, UsedByContainers) {
  // A scope whose content (name + body) is over 62 bytes gets a two-byte PkgLength.
  Bytes data(57, 0xaa);  // buffer: 11, PkgLength, 0A 39, 57 bytes
  Term body = buffer(data);
  Term s = scope("ABCD", {body});
  size_t content = 4 + body.size();
  ASSERT_EQ(content, 4u + 1 + 1 + 2 + 57);  // 65
  EXPECT_EQ(s.bytes().at(0), 0x10);
  EXPECT_EQ(s.bytes().at(1), 0x40 | ((content + 2) & 0xf));
  EXPECT_EQ(s.bytes().at(2), (content + 2) >> 4);
  EXPECT_EQ(s.size(), 1 + 2 + content);
}

TEST(AmlNameString, SegmentsRootAndPaths) {
  EXPECT_EQ(name_string("_SB_").bytes(), (Bytes{'_', 'S', 'B', '_'}));
  EXPECT_EQ(name_string("_SB").bytes(), (Bytes{'_', 'S', 'B', '_'}));  // padded
  EXPECT_EQ(name_string("A").bytes(), (Bytes{'A', '_', '_', '_'}));
  EXPECT_EQ(name_string("\\_SB_").bytes(), (Bytes{'\\', '_', 'S', 'B', '_'}));
  EXPECT_EQ(name_string("\\").bytes(), (Bytes{'\\', 0x00}));
  EXPECT_EQ(name_string("").bytes(), (Bytes{0x00}));
  EXPECT_EQ(name_string("_SB_.COM1").bytes(),
            (Bytes{0x2e, '_', 'S', 'B', '_', 'C', 'O', 'M', '1'}));
  EXPECT_EQ(name_string("\\_SB_.PCI0.S08").bytes(),
            (Bytes{'\\', 0x2f, 3, '_', 'S', 'B', '_', 'P', 'C', 'I', '0', 'S', '0', '8', '_'}));
  EXPECT_EQ(name_string("^^V000").bytes(), (Bytes{'^', '^', 'V', '0', '0', '0'}));
}

TEST(AmlNameString, RejectsInvalidNames) {
  EXPECT_THROW(name_string("TOOLONG"), Error);
  EXPECT_THROW(name_string("1ABC"), Error);
  EXPECT_THROW(name_string("com1"), Error);
  EXPECT_THROW(name_string("_SB_..X"), Error);
  EXPECT_THROW(name_string("_SB_."), Error);
  EXPECT_THROW(name_string("^"), Error);
  EXPECT_THROW(name_string("A-B"), Error);
}

TEST(AmlData, StringsEisaIdsBuffersPackages) {
  EXPECT_EQ(string("LNRO0005").bytes(),
            (Bytes{0x0d, 'L', 'N', 'R', 'O', '0', '0', '0', '5', 0x00}));
  EXPECT_EQ(string("").bytes(), (Bytes{0x0d, 0x00}));
  EXPECT_THROW(string(std::string_view("a\0b", 3)), Error);
  EXPECT_THROW(string("\xc3\xa9"), Error);

  EXPECT_EQ(eisa_id("PNP0501").bytes(), (Bytes{0x0c, 0x41, 0xd0, 0x05, 0x01}));
  EXPECT_EQ(eisa_id("PNP0A03").bytes(), (Bytes{0x0c, 0x41, 0xd0, 0x0a, 0x03}));
  EXPECT_THROW(eisa_id("pnp0501"), Error);
  EXPECT_THROW(eisa_id("PNP050"), Error);

  // PkgLength 6 = itself + BufferSize (0A 03) + 3 data bytes.
  EXPECT_EQ(buffer({1, 2, 3}).bytes(), (Bytes{0x11, 0x06, 0x0a, 0x03, 1, 2, 3}));
  EXPECT_EQ(package({integer(5), integer(0)}).bytes(), (Bytes{0x12, 0x05, 0x02, 0x0a, 0x05, 0x00}));

  TermList many(300, integer(1));
  Term var = package(many);
  EXPECT_EQ(var.bytes().at(0), 0x13);  // VarPackageOp
  size_t len_bytes = (var.bytes().at(1) >> 6) + 1;
  EXPECT_EQ(var.bytes().at(1 + len_bytes), 0x0b);  // VarNumElements = Word 300
  EXPECT_EQ(var.bytes().at(2 + len_bytes), 300 & 0xff);
  EXPECT_EQ(var.bytes().at(3 + len_bytes), 300 >> 8);
  EXPECT_EQ(var.size(), 1 + len_bytes + 3 + 300);
}

TEST(AmlObjects, NameMethodReturn) {
  EXPECT_EQ(name("_UID", integer(0)).bytes(), (Bytes{0x08, '_', 'U', 'I', 'D', 0x00}));
  EXPECT_EQ(method("_STA", 0, false, {return_value(integer(0x0f))}).bytes(),
            (Bytes{0x14, 0x09, '_', 'S', 'T', 'A', 0x00, 0xa4, 0x0a, 0x0f}));
  EXPECT_EQ(method("FOO", 2, true, {}).bytes(), (Bytes{0x14, 0x06, 'F', 'O', 'O', '_', 0x0a}));
  EXPECT_EQ(method("BAR", 1, true, {}, 3).bytes(), (Bytes{0x14, 0x06, 'B', 'A', 'R', '_', 0x39}));
  EXPECT_THROW(method("BAD", 8, false, {}), Error);
  EXPECT_EQ(scope("\\_SB_", {}).bytes(), (Bytes{0x10, 0x06, '\\', '_', 'S', 'B', '_'}));
}

TEST(AmlResources, DescriptorBytes) {
  EXPECT_EQ(memory32_fixed(Access::ReadWrite, 0xd0000000, 0x1000).bytes(),
            (Bytes{0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00, 0xd0, 0x00, 0x10, 0x00, 0x00}));
  EXPECT_EQ(memory32_fixed(Access::ReadOnly, 0x1000, 0x20).bytes().at(3), 0x00);
  EXPECT_EQ(io16(0x3f8, 0x3f8, 1, 8).bytes(), (Bytes{0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08}));
  EXPECT_THROW(io16(0x400, 0x3f8, 1, 8), Error);
  EXPECT_EQ(irq_no_flags({4}).bytes(), (Bytes{0x22, 0x10, 0x00}));
  EXPECT_EQ(irq_no_flags({3, 12}).bytes(), (Bytes{0x22, 0x08, 0x10}));
  EXPECT_THROW(irq_no_flags({16}), Error);

  InterruptMode level_high{.usage = Usage::Consumer, .trigger = Trigger::Level,
                           .polarity = Polarity::ActiveHigh, .sharing = Sharing::Exclusive};
  EXPECT_EQ(interrupt(level_high, {5, 6}).bytes(),
            (Bytes{0x89, 0x0a, 0x00, 0x01, 0x02, 5, 0, 0, 0, 6, 0, 0, 0}));
  InterruptMode edge_low_shared{.usage = Usage::Producer, .trigger = Trigger::Edge,
                                .polarity = Polarity::ActiveLow, .sharing = Sharing::Shared};
  EXPECT_EQ(interrupt(edge_low_shared, {0x12345678}).bytes(),
            (Bytes{0x89, 0x06, 0x00, 0x0e, 0x01, 0x78, 0x56, 0x34, 0x12}));
  EXPECT_THROW(interrupt(level_high, {}), Error);
}

TEST(AmlResources, EndTagChecksumMakesTemplateSumToZero) {
  std::vector<std::vector<Resource>> templates = {
      {},
      {io16(0x3f8, 0x3f8, 1, 8)},
      {memory32_fixed(Access::ReadWrite, 0xd0001000, 0x1000),
       interrupt({.trigger = Trigger::Level}, {7})},
      {memory32_fixed(Access::ReadWrite, 0xfec00000, 0x1000), irq_no_flags({1, 12})},
  };
  for (const auto& resources : templates) {
    Bytes data = template_data(resource_template(resources));
    ASSERT_GE(data.size(), 2u);
    EXPECT_EQ(data[data.size() - 2], 0x79);  // End Tag
    uint8_t sum = 0;
    for (uint8_t b : data) sum = static_cast<uint8_t>(sum + b);
    EXPECT_EQ(sum, 0);
    EXPECT_NE(data.back(), 0x00);  // a real checksum, not "ignore"
  }
}

TEST(AmlDevice, SerialPortWithHidAndCrs) {
  InterruptMode edge_high{.trigger = Trigger::Edge};
  Term dev = device("COM1", {
      name("_HID", eisa_id("PNP0501")),
      name("_CRS", resource_template({io16(0x3f8, 0x3f8, 1, 8), interrupt(edge_high, {4})})),
  });
  Bytes hid = {0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x05, 0x01};
  Bytes crs_data = {0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08,  // IO
                    0x89, 0x06, 0x00, 0x03, 0x01, 0x04, 0x00, 0x00, 0x00,  // Interrupt
                    0x79, 0xa9};  // End Tag, checksum
  Bytes crs = cat({{0x08, '_', 'C', 'R', 'S'}, {0x11, 0x16, 0x0a, 0x13}, crs_data});
  Bytes expected = cat({{0x5b, 0x82, 0x2b, 'C', 'O', 'M', '1'}, hid, crs});
  EXPECT_EQ(dev.bytes(), expected);
  EXPECT_EQ(dev.size(), 3u + 0x2a);

  TermList body = {dev, name("_S5_", integer(5))};
  EXPECT_EQ(encode(body), cat({expected, {0x08, '_', 'S', '5', '_', 0x0a, 0x05}}));
}
