// AML builder: composes the byte encoding of ACPI namespace objects (ACPI 6.5 chapter 20,
// "ACPI Machine Language Specification") and resource descriptors (§6.4) for the tables
// vireo generates (the DSDT, later SSDTs).
//
// A Term is one encoded AML term (a data object, a named object or a statement); a
// Resource is one encoded resource descriptor. Both are values holding their bytes, and
// containers (scope, device, package, method, resource_template) take their children as
// values, so a namespace is written bottom-up as nested calls:
//
//   scope("\\_SB_", {
//       device("COM1", {name("_HID", eisa_id("PNP0501")),
//                       name("_CRS", resource_template({io16(0x3f8, 0x3f8, 1, 8),
//                                                       irq_no_flags({4})}))})})
//
// Invalid input (a bad name segment, a string with a NUL, too many elements) throws
// vireo::Error: names and values may come from configuration.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace vireo::x86::aml {

class Term {
 public:
  Term() = default;
  explicit Term(std::vector<uint8_t> bytes) : bytes_(std::move(bytes)) {}
  const std::vector<uint8_t>& bytes() const { return bytes_; }
  size_t size() const { return bytes_.size(); }
  friend bool operator==(const Term&, const Term&) = default;

 private:
  std::vector<uint8_t> bytes_;
};
using TermList = std::vector<Term>;

// The concatenated bytes of a term list (the body of a DefinitionBlock).
std::vector<uint8_t> encode(const TermList& terms);

// --- Encoding primitives (§20.2) ---

// PkgLength (§20.2.4) holding exactly `value`, which counts the PkgLength bytes
// themselves: 1 byte up to 63, 2 up to 4095, 3 up to 1048575, 4 up to 2^28-1.
std::vector<uint8_t> encode_pkg_length(uint32_t value);
// PkgLength in front of a body of `body_length` bytes (value = body + its own size).
std::vector<uint8_t> pkg_length(size_t body_length);

// NameString (§20.2.2): an optional root '\' or parent '^' prefixes, then dotted
// segments of 1..4 characters ([A-Z_] then [A-Z0-9_]), each padded with '_' to four.
// "" or "\" alone encode the NullName.
Term name_string(std::string_view path);

// --- Data objects (§20.2.3) ---

// The smallest encoding: ZeroOp, OneOp, OnesOp (all bits set, with 64-bit integers,
// i.e. in a table of revision 2 or more), else Byte/Word/DWord/QWord prefix.
Term integer(uint64_t value);
// String: ASCII characters 0x01..0x7F, NUL-terminated by the encoding.
Term string(std::string_view text);
// A compressed EISA id such as "PNP0501" (3 upper-case letters, 4 hex digits), as the
// DWord the EISAID() macro produces.
Term eisa_id(std::string_view id);
Term buffer(const std::vector<uint8_t>& data);
// Package of up to 255 elements; larger lists become a VarPackage.
Term package(const TermList& elements);

// --- Named objects and statements (§20.2.5) ---

Term name(std::string_view name, const Term& value);
Term scope(std::string_view name, const TermList& body);
Term device(std::string_view name, const TermList& body);
// arg_count 0..7; sync_level 0..15 (only meaningful when serialized).
Term method(std::string_view name, unsigned arg_count, bool serialized, const TermList& body,
            unsigned sync_level = 0);
Term return_value(const Term& value);

// --- Resource descriptors (§6.4) ---

class Resource {
 public:
  explicit Resource(std::vector<uint8_t> bytes) : bytes_(std::move(bytes)) {}
  const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

enum class Access { ReadOnly, ReadWrite };
enum class Usage { Consumer, Producer };
enum class Trigger { Level, Edge };
enum class Polarity { ActiveHigh, ActiveLow };
enum class Sharing { Exclusive, Shared };

struct InterruptMode {
  Usage usage = Usage::Consumer;
  Trigger trigger = Trigger::Level;
  Polarity polarity = Polarity::ActiveHigh;
  Sharing sharing = Sharing::Exclusive;
};

// 32-Bit Fixed Memory Range Descriptor (§6.4.3.4): Memory32Fixed(access, base, length).
Resource memory32_fixed(Access access, uint32_t base, uint32_t length);
// I/O Port Descriptor with 16-bit decode (§6.4.2.5): IO(Decode16, min, max, align, len).
Resource io16(uint16_t min, uint16_t max, uint8_t alignment, uint8_t length);
// IRQ Descriptor without flags (§6.4.2.1): ISA IRQs 0..15, edge, active high, exclusive.
Resource irq_no_flags(const std::vector<unsigned>& isa_irqs);
// Extended Interrupt Descriptor (§6.4.3.6): Interrupt(usage, trigger, polarity, sharing)
// {gsi, ...}, 1..255 interrupt numbers (GSIs on x86), no resource source.
Resource interrupt(const InterruptMode& mode, const std::vector<uint32_t>& gsis);

// ResourceTemplate: a Buffer of the descriptors followed by the End Tag (§6.4.2.9),
// whose checksum byte makes the descriptor bytes sum to zero.
Term resource_template(const std::vector<Resource>& resources);

}  // namespace vireo::x86::aml
