#include "arch/x86/aml.h"

#include <cassert>
#include <string>

#include "base/error.h"

namespace vireo::x86::aml {
namespace {

// Opcodes and prefixes (ACPI 6.5 §20.3, table "AML Byte Stream Byte Values").
constexpr uint8_t kZeroOp = 0x00;
constexpr uint8_t kOneOp = 0x01;
constexpr uint8_t kNameOp = 0x08;
constexpr uint8_t kBytePrefix = 0x0a;
constexpr uint8_t kWordPrefix = 0x0b;
constexpr uint8_t kDWordPrefix = 0x0c;
constexpr uint8_t kStringPrefix = 0x0d;
constexpr uint8_t kQWordPrefix = 0x0e;
constexpr uint8_t kScopeOp = 0x10;
constexpr uint8_t kBufferOp = 0x11;
constexpr uint8_t kPackageOp = 0x12;
constexpr uint8_t kVarPackageOp = 0x13;
constexpr uint8_t kMethodOp = 0x14;
constexpr uint8_t kDualNamePrefix = 0x2e;
constexpr uint8_t kMultiNamePrefix = 0x2f;
constexpr uint8_t kExtOpPrefix = 0x5b;
constexpr uint8_t kDeviceOp = 0x82;  // after kExtOpPrefix
constexpr uint8_t kRootChar = 0x5c;
constexpr uint8_t kParentPrefixChar = 0x5e;
constexpr uint8_t kReturnOp = 0xa4;
constexpr uint8_t kOnesOp = 0xff;

// Resource descriptor tags (§6.4.2 small items: name << 3 | length; §6.4.3 large items).
constexpr uint8_t kSmallIrqNoFlags = (0x04 << 3) | 2;
constexpr uint8_t kSmallIo = (0x08 << 3) | 7;
constexpr uint8_t kSmallEndTag = (0x0f << 3) | 1;
constexpr uint8_t kLargeMemory32Fixed = 0x86;
constexpr uint8_t kLargeExtendedInterrupt = 0x89;

void put_le(std::vector<uint8_t>& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

void append(std::vector<uint8_t>& out, const std::vector<uint8_t>& bytes) {
  out.insert(out.end(), bytes.begin(), bytes.end());
}

bool is_lead_name_char(char c) { return (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_lead_name_char(c) || (c >= '0' && c <= '9'); }

// NameSeg (§20.2.2): LeadNameChar then up to three NameChars, padded with '_'.
void put_name_seg(std::vector<uint8_t>& out, std::string_view seg, std::string_view path) {
  if (seg.empty() || seg.size() > 4)
    fail("ACPI name '{}': each segment must have 1 to 4 characters", path);
  if (!is_lead_name_char(seg[0]))
    fail("ACPI name '{}': a segment must start with A-Z or '_'", path);
  for (char c : seg)
    if (!is_name_char(c)) fail("ACPI name '{}': only A-Z, 0-9 and '_' are allowed", path);
  for (size_t i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(i < seg.size() ? seg[i] : '_'));
}

// Encodes an opcode (one or two bytes), then PkgLength over the rest, then the rest.
Term packaged(std::initializer_list<uint8_t> opcode, const std::vector<uint8_t>& body) {
  std::vector<uint8_t> out(opcode);
  append(out, pkg_length(body.size()));
  append(out, body);
  return Term(std::move(out));
}

}  // namespace

std::vector<uint8_t> encode(const TermList& terms) {
  std::vector<uint8_t> out;
  for (const Term& t : terms) append(out, t.bytes());
  return out;
}

// §20.2.4: a one-byte PkgLength holds 0..63 in bits 0-5. Otherwise bits 7-6 of the lead
// byte count the following bytes (1..3), bits 3-0 hold the least significant nibble,
// bits 5-4 are zero, and each following byte holds the next 8 bits.
std::vector<uint8_t> encode_pkg_length(uint32_t value) {
  if (value <= 0x3f) return {static_cast<uint8_t>(value)};
  int follow = value <= 0xfff ? 1 : value <= 0xfffff ? 2 : value <= 0xfffffff ? 3 : 0;
  if (follow == 0) fail("AML package of {} bytes is larger than a PkgLength can hold (2^28-1)", value);
  std::vector<uint8_t> out;
  out.push_back(static_cast<uint8_t>((follow << 6) | (value & 0x0f)));
  for (int i = 0; i < follow; ++i) out.push_back(static_cast<uint8_t>(value >> (4 + 8 * i)));
  return out;
}

std::vector<uint8_t> pkg_length(size_t body_length) {
  // The value includes the PkgLength bytes, so the size class is chosen with them counted.
  constexpr size_t kMax[] = {0x3f, 0xfff, 0xfffff, 0xfffffff};
  for (size_t n = 1; n <= 4; ++n) {
    if (body_length + n <= kMax[n - 1]) {
      std::vector<uint8_t> out = encode_pkg_length(static_cast<uint32_t>(body_length + n));
      assert(out.size() == n);
      return out;
    }
  }
  fail("AML package body of {} bytes is larger than a PkgLength can hold", body_length);
}

Term name_string(std::string_view path) {
  std::vector<uint8_t> out;
  std::string_view rest = path;
  if (!rest.empty() && rest[0] == '\\') {
    out.push_back(kRootChar);
    rest.remove_prefix(1);
  } else {
    while (!rest.empty() && rest[0] == '^') {
      out.push_back(kParentPrefixChar);
      rest.remove_prefix(1);
    }
  }
  if (rest.empty()) {
    if (!out.empty() && out.back() == kParentPrefixChar)
      fail("ACPI name '{}': a parent prefix must be followed by a name", path);
    out.push_back(0x00);  // NullName
    return Term(std::move(out));
  }
  std::vector<std::string_view> segs;
  for (;;) {
    size_t dot = rest.find('.');
    segs.push_back(rest.substr(0, dot));
    if (dot == std::string_view::npos) break;
    rest.remove_prefix(dot + 1);
  }
  if (segs.size() > 255) fail("ACPI name '{}' has more than 255 segments", path);
  if (segs.size() == 2) {
    out.push_back(kDualNamePrefix);
  } else if (segs.size() > 2) {
    out.push_back(kMultiNamePrefix);
    out.push_back(static_cast<uint8_t>(segs.size()));
  }
  for (std::string_view seg : segs) put_name_seg(out, seg, path);
  return Term(std::move(out));
}

Term integer(uint64_t value) {
  std::vector<uint8_t> out;
  if (value == 0) {
    out.push_back(kZeroOp);
  } else if (value == 1) {
    out.push_back(kOneOp);
  } else if (value == ~0ull) {
    out.push_back(kOnesOp);
  } else if (value <= 0xff) {
    out.push_back(kBytePrefix);
    put_le(out, value, 1);
  } else if (value <= 0xffff) {
    out.push_back(kWordPrefix);
    put_le(out, value, 2);
  } else if (value <= 0xffffffff) {
    out.push_back(kDWordPrefix);
    put_le(out, value, 4);
  } else {
    out.push_back(kQWordPrefix);
    put_le(out, value, 8);
  }
  return Term(std::move(out));
}

Term string(std::string_view text) {
  std::vector<uint8_t> out{kStringPrefix};
  for (char c : text) {
    auto b = static_cast<unsigned char>(c);
    if (b == 0 || b > 0x7f) fail("AML string '{}': only ASCII characters 0x01-0x7F are allowed", text);
    out.push_back(b);
  }
  out.push_back(0x00);
  return Term(std::move(out));
}

// The EISAID encoding: three letters of 5 bits each ('A' = 1) in a big-endian 16-bit
// vendor field (bit 15 zero), then the 4 hex digits as two bytes, most significant first.
Term eisa_id(std::string_view id) {
  auto is_hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); };
  bool ok = id.size() == 7;
  for (size_t i = 0; ok && i < 3; ++i) ok = id[i] >= 'A' && id[i] <= 'Z';
  for (size_t i = 3; ok && i < 7; ++i) ok = is_hex(id[i]);
  if (!ok) fail("EISA id '{}': expected 3 upper-case letters and 4 upper-case hex digits", id);
  auto hex = [](char c) { return c <= '9' ? c - '0' : c - 'A' + 10; };
  uint16_t vendor = static_cast<uint16_t>(((id[0] - 0x40) << 10) | ((id[1] - 0x40) << 5) | (id[2] - 0x40));
  uint8_t bytes[4] = {static_cast<uint8_t>(vendor >> 8), static_cast<uint8_t>(vendor),
                      static_cast<uint8_t>((hex(id[3]) << 4) | hex(id[4])),
                      static_cast<uint8_t>((hex(id[5]) << 4) | hex(id[6]))};
  std::vector<uint8_t> out{kDWordPrefix, bytes[0], bytes[1], bytes[2], bytes[3]};
  return Term(std::move(out));
}

// DefBuffer := BufferOp PkgLength BufferSize ByteList (§20.2.5.4).
Term buffer(const std::vector<uint8_t>& data) {
  std::vector<uint8_t> body = integer(data.size()).bytes();
  append(body, data);
  return packaged({kBufferOp}, body);
}

// DefPackage := PackageOp PkgLength NumElements(ByteData) PackageElementList;
// DefVarPackage := VarPackageOp PkgLength VarNumElements(TermArg) PackageElementList.
Term package(const TermList& elements) {
  if (elements.size() <= 255) {
    std::vector<uint8_t> body{static_cast<uint8_t>(elements.size())};
    append(body, encode(elements));
    return packaged({kPackageOp}, body);
  }
  std::vector<uint8_t> body = integer(elements.size()).bytes();
  append(body, encode(elements));
  return packaged({kVarPackageOp}, body);
}

// DefName := NameOp NameString DataRefObject.
Term name(std::string_view name, const Term& value) {
  std::vector<uint8_t> out{kNameOp};
  append(out, name_string(name).bytes());
  append(out, value.bytes());
  return Term(std::move(out));
}

// DefScope := ScopeOp PkgLength NameString TermList.
Term scope(std::string_view name, const TermList& body) {
  std::vector<uint8_t> content = name_string(name).bytes();
  append(content, encode(body));
  return packaged({kScopeOp}, content);
}

// DefDevice := DeviceOp(ExtOpPrefix 0x82) PkgLength NameString TermList.
Term device(std::string_view name, const TermList& body) {
  std::vector<uint8_t> content = name_string(name).bytes();
  append(content, encode(body));
  return packaged({kExtOpPrefix, kDeviceOp}, content);
}

// DefMethod := MethodOp PkgLength NameString MethodFlags TermList; MethodFlags bits 0-2
// ArgCount, bit 3 SerializeFlag, bits 4-7 SyncLevel.
Term method(std::string_view name, unsigned arg_count, bool serialized, const TermList& body,
            unsigned sync_level) {
  if (arg_count > 7) fail("AML method '{}': at most 7 arguments, not {}", name, arg_count);
  if (sync_level > 15) fail("AML method '{}': sync level {} is above 15", name, sync_level);
  std::vector<uint8_t> content = name_string(name).bytes();
  content.push_back(static_cast<uint8_t>(arg_count | (serialized ? 0x08 : 0) | (sync_level << 4)));
  append(content, encode(body));
  return packaged({kMethodOp}, content);
}

// DefReturn := ReturnOp ArgObject.
Term return_value(const Term& value) {
  std::vector<uint8_t> out{kReturnOp};
  append(out, value.bytes());
  return Term(std::move(out));
}

// §6.4.3.4: tag, length 9, information (bit 0: 1 = read/write), base, length.
Resource memory32_fixed(Access access, uint32_t base, uint32_t length) {
  std::vector<uint8_t> out{kLargeMemory32Fixed, 0x09, 0x00,
                           static_cast<uint8_t>(access == Access::ReadWrite ? 1 : 0)};
  put_le(out, base, 4);
  put_le(out, length, 4);
  return Resource(std::move(out));
}

// §6.4.2.5: tag, information (bit 0: 1 = 16-bit decode), min, max, alignment, length.
Resource io16(uint16_t min, uint16_t max, uint8_t alignment, uint8_t length) {
  if (min > max) fail("IO resource: minimum base {:#x} is above maximum base {:#x}", min, max);
  std::vector<uint8_t> out{kSmallIo, 0x01};
  put_le(out, min, 2);
  put_le(out, max, 2);
  out.push_back(alignment);
  out.push_back(length);
  return Resource(std::move(out));
}

// §6.4.2.1: the 2-byte form (no information byte) means edge, active high, exclusive.
Resource irq_no_flags(const std::vector<unsigned>& isa_irqs) {
  uint16_t mask = 0;
  for (unsigned irq : isa_irqs) {
    if (irq > 15) fail("IRQ resource: ISA IRQ {} is above 15", irq);
    mask |= static_cast<uint16_t>(1u << irq);
  }
  std::vector<uint8_t> out{kSmallIrqNoFlags};
  put_le(out, mask, 2);
  return Resource(std::move(out));
}

// §6.4.3.6: tag, length (2 + 4n), vector flags, table length n, n DWORD interrupt
// numbers. Flags: bit 0 consumer, bit 1 edge (else level), bit 2 active low (else high),
// bit 3 shared (else exclusive).
Resource interrupt(const InterruptMode& mode, const std::vector<uint32_t>& gsis) {
  if (gsis.empty() || gsis.size() > 255)
    fail("Interrupt resource: 1 to 255 interrupt numbers needed, not {}", gsis.size());
  uint8_t flags = 0;
  if (mode.usage == Usage::Consumer) flags |= 0x01;
  if (mode.trigger == Trigger::Edge) flags |= 0x02;
  if (mode.polarity == Polarity::ActiveLow) flags |= 0x04;
  if (mode.sharing == Sharing::Shared) flags |= 0x08;
  std::vector<uint8_t> out{kLargeExtendedInterrupt};
  put_le(out, 2 + 4 * gsis.size(), 2);
  out.push_back(flags);
  out.push_back(static_cast<uint8_t>(gsis.size()));
  for (uint32_t gsi : gsis) put_le(out, gsi, 4);
  return Resource(std::move(out));
}

// §6.4.2.9: the End Tag's checksum byte makes all descriptor bytes, the end tag
// included, sum to zero (zero would also be accepted, meaning "no checksum").
Term resource_template(const std::vector<Resource>& resources) {
  std::vector<uint8_t> data;
  for (const Resource& r : resources) append(data, r.bytes());
  data.push_back(kSmallEndTag);
  uint8_t sum = 0;
  for (uint8_t b : data) sum = static_cast<uint8_t>(sum + b);
  data.push_back(static_cast<uint8_t>(-sum));
  return buffer(data);
}

}  // namespace vireo::x86::aml
