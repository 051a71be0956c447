// Checks the default guest that scripts/make-guest.sh builds (`make guest`): the bzImage,
// the ELF kernel taken out of it, and the initramfs with busybox, /init and the modules.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

const fs::path kGuestDir = VIREO_DEFAULT_GUEST_DIR;

#define SKIP_WITHOUT_GUEST()                                                          \
  do {                                                                                \
    if (!fs::is_directory(kGuestDir))                                                 \
      GTEST_SKIP() << "no default guest in " << kGuestDir << "; `make guest` builds it"; \
  } while (0)

// Reads `size` bytes at `offset`; fewer when the file is shorter.
std::vector<uint8_t> read_bytes(const fs::path& path, uint64_t offset, size_t size) {
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> bytes(size);
  if (!in) return {};
  in.seekg(static_cast<std::streamoff>(offset));
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
  bytes.resize(static_cast<size_t>(std::max<std::streamsize>(in.gcount(), 0)));
  return bytes;
}

uint64_t le(const std::vector<uint8_t>& b, size_t at, size_t width) {
  uint64_t v = 0;
  for (size_t i = 0; i < width; ++i) v |= uint64_t{b.at(at + i)} << (8 * i);
  return v;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

struct ShellResult {
  int status = -1;
  std::string out;
};

ShellResult run_shell(const std::string& command) {
  ShellResult r;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) r.out.append(buf, n);
  int st = pclose(pipe);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(line);
  return out;
}

std::string quoted(const fs::path& p) {
  std::string s = p.string();
  EXPECT_EQ(s.find('\''), std::string::npos) << "path with a quote: " << s;
  return "'" + s + "'";
}

std::string initramfs() { return quoted(kGuestDir / "initramfs.cpio.gz"); }

// Names in the initramfs, without any leading "./".
std::set<std::string> initramfs_names() {
  auto r = run_shell("gzip -dc " + initramfs() + " | cpio -t --quiet");
  EXPECT_EQ(r.status, 0) << "gzip -dc | cpio -t failed on the initramfs";
  std::set<std::string> names;
  for (auto name : lines(r.out)) {
    if (name.rfind("./", 0) == 0) name.erase(0, 2);
    names.insert(name);
  }
  return names;
}

std::string initramfs_file(const std::string& name) {
  auto r = run_shell("gzip -dc " + initramfs() + " | cpio -i --to-stdout --quiet " + name);
  EXPECT_EQ(r.status, 0) << "cannot extract " << name << " from the initramfs";
  return r.out;
}

TEST(GuestImage, VmlinuzIsABzImageOfTheNamedKernel) {
  SKIP_WITHOUT_GUEST();
  auto hdr = read_bytes(kGuestDir / "vmlinuz", 0, 0x400);
  ASSERT_EQ(hdr.size(), 0x400u) << "vmlinuz is missing or too short";
  // Boot protocol: boot_flag 0xAA55 at 0x1FE, header magic "HdrS" at 0x202.
  EXPECT_EQ(le(hdr, 0x1FE, 2), 0xAA55u);
  EXPECT_EQ(std::memcmp(&hdr[0x202], "HdrS", 4), 0);
  // kernel_version (0x20E) points at a string 0x200 bytes further on: it starts with
  // the release that make-guest wrote into kernel-version.
  uint64_t version_at = le(hdr, 0x20E, 2) + 0x200;
  auto version = read_bytes(kGuestDir / "vmlinuz", version_at, 128);
  std::string release = trim(read_text(kGuestDir / "kernel-version"));
  ASSERT_FALSE(release.empty()) << "kernel-version is empty";
  std::string text(version.begin(), version.end());
  EXPECT_EQ(text.rfind(release + " ", 0), 0u) << "bzImage version string: " << text.c_str();
  EXPECT_NE(read_text(kGuestDir / "config").find("CONFIG_PVH=y"), std::string::npos);
}

TEST(GuestImage, VmlinuxIsElf64WithPvhEntryNote) {
  SKIP_WITHOUT_GUEST();
  const fs::path path = kGuestDir / "vmlinux";
  auto eh = read_bytes(path, 0, 64);
  ASSERT_EQ(eh.size(), 64u) << "vmlinux is missing or too short";
  ASSERT_EQ(std::memcmp(eh.data(), "\x7f" "ELF", 4), 0) << "vmlinux is not ELF";
  EXPECT_EQ(eh[4], 2) << "not ELFCLASS64";
  EXPECT_EQ(le(eh, 18, 2), 62u) << "e_machine is not EM_X86_64";
  uint64_t phoff = le(eh, 32, 8);
  uint64_t phentsize = le(eh, 54, 2);
  uint64_t phnum = le(eh, 56, 2);
  ASSERT_GE(phentsize, 56u);
  ASSERT_LE(phnum, 64u);
  auto phdrs = read_bytes(path, phoff, phentsize * phnum);
  ASSERT_EQ(phdrs.size(), phentsize * phnum);

  bool found = false;
  uint64_t entry = 0;
  for (uint64_t i = 0; i < phnum; ++i) {
    size_t ph = i * phentsize;
    if (le(phdrs, ph, 4) != 4) continue;  // PT_NOTE
    uint64_t offset = le(phdrs, ph + 8, 8), filesz = le(phdrs, ph + 32, 8);
    ASSERT_LE(filesz, 1u << 20);
    auto notes = read_bytes(path, offset, filesz);
    ASSERT_EQ(notes.size(), filesz);
    // ELF note: namesz, descsz, type, then name and descriptor, each 4-byte aligned.
    for (size_t at = 0; at + 12 <= notes.size();) {
      uint64_t namesz = le(notes, at, 4), descsz = le(notes, at + 4, 4), type = le(notes, at + 8, 4);
      size_t name_at = at + 12, desc_at = name_at + ((namesz + 3) & ~uint64_t{3});
      size_t next = desc_at + ((descsz + 3) & ~uint64_t{3});
      ASSERT_LE(next, notes.size()) << "note runs past its segment";
      std::string name(notes.begin() + name_at, notes.begin() + name_at + namesz);
      // XEN_ELFNOTE_PHYS32_ENTRY (18): the 32-bit PVH entry point.
      if (name == std::string("Xen", 4) && type == 18 && descsz >= 4) {
        found = true;
        entry = le(notes, desc_at, descsz >= 8 ? 8 : 4);
      }
      at = next;
    }
  }
  ASSERT_TRUE(found) << "vmlinux has no Xen PVH entry note (type 18)";
  EXPECT_NE(entry, 0u);
  EXPECT_LT(entry, uint64_t{1} << 32) << "PVH entry is a 32-bit physical address";
}

TEST(GuestImage, InitramfsHoldsInitBusyboxAndEveryOrderedModule) {
  SKIP_WITHOUT_GUEST();
  auto names = initramfs_names();
  for (const char* required : {"init", "bin/busybox", "bin/sh", "sbin/insmod", "sbin/poweroff",
                               "bin/cttyhack", "dev", "proc", "sys", "tmp", "root",
                               "etc/modules-order"})
    EXPECT_TRUE(names.count(required)) << required << " is not in the initramfs";

  std::string release = trim(read_text(kGuestDir / "kernel-version"));
  auto order = lines(initramfs_file("etc/modules-order"));
  ASSERT_FALSE(order.empty()) << "etc/modules-order is empty";
  for (const auto& module : order)
    EXPECT_TRUE(names.count("lib/modules/" + release + "/" + module + ".ko"))
        << module << " is in etc/modules-order but not in lib/modules/" << release;
  EXPECT_EQ(std::set<std::string>(order.begin(), order.end()).size(), order.size())
      << "a module is listed twice";

  auto pos = [&](const std::string& m) {
    return std::find(order.begin(), order.end(), m) - order.begin();
  };
  EXPECT_EQ(order.front(), "virtio_ring");
  for (const char* m : {"virtio", "virtio_mmio", "virtio_pci", "virtio_blk", "virtio_net",
                        "virtio_console"})
    EXPECT_LT(pos(m), static_cast<long>(order.size())) << m << " is missing from the order";
  EXPECT_LT(pos("virtio_mmio"), pos("virtio_blk"));
  EXPECT_LT(pos("virtio"), pos("virtio_mmio"));
  EXPECT_LT(pos("net_failover"), pos("virtio_net"));

  // /init must be executable and the image owned by root.
  auto listing = run_shell("gzip -dc " + initramfs() + " | cpio -tv --numeric-uid-gid --quiet");
  ASSERT_EQ(listing.status, 0);
  bool init_seen = false;
  for (const auto& line : lines(listing.out)) {
    std::istringstream f(line);
    std::string mode, links, uid, gid;
    f >> mode >> links >> uid >> gid;
    EXPECT_EQ(uid, "0") << line;
    EXPECT_EQ(gid, "0") << line;
    if (line.size() >= 5 && (line.compare(line.size() - 5, 5, " init") == 0)) {
      init_seen = true;
      EXPECT_EQ(mode.substr(0, 4), "-rwx") << line;
    }
  }
  EXPECT_TRUE(init_seen);
}

TEST(GuestImage, InitIsTheCurrentGuestInitScript) {
  SKIP_WITHOUT_GUEST();
  std::string init = initramfs_file("init");
  std::string script = read_text(fs::path(VIREO_SOURCE_DIR) / "scripts" / "guest-init.sh");
  ASSERT_FALSE(script.empty());
  EXPECT_TRUE(init == script) << "/init differs from scripts/guest-init.sh: the initramfs is stale, run `make guest`";
  EXPECT_NE(init.find("vireo-guest: ready"), std::string::npos);
}

}  // namespace
