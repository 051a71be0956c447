#include "host/escape_parser.h"

#include <gtest/gtest.h>

#include <string>

using namespace vireo;

namespace {

EscapeParser::Output feed(EscapeParser& p, const std::string& s) {
  return p.feed(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

std::string text(const EscapeParser::Output& out) { return std::string(out.guest_bytes.begin(), out.guest_bytes.end()); }

}  // namespace

TEST(EscapeParser, PlainBytesPassThrough) {
  EscapeParser p;
  auto out = feed(p, std::string("ls -l\r\x03\x1b[A", 10));
  EXPECT_EQ(text(out), std::string("ls -l\r\x03\x1b[A", 10));
  EXPECT_TRUE(out.events.empty());
}

TEST(EscapeParser, CtrlAXQuits) {
  EscapeParser p;
  auto out = feed(p, "ab\x01xcd");
  EXPECT_EQ(text(out), "abcd");
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.events[0], EscapeEvent::Quit);
  out = feed(p, "\x01X");
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.events[0], EscapeEvent::Quit);
}

TEST(EscapeParser, CtrlAHAsksForHelp) {
  EscapeParser p;
  auto out = feed(p, "\x01h\x01H");
  EXPECT_TRUE(out.guest_bytes.empty());
  ASSERT_EQ(out.events.size(), 2u);
  EXPECT_EQ(out.events[0], EscapeEvent::Help);
  EXPECT_EQ(out.events[1], EscapeEvent::Help);
}

TEST(EscapeParser, DoubleCtrlASendsOneCtrlA) {
  EscapeParser p;
  auto out = feed(p, "a\x01\x01x");
  EXPECT_EQ(text(out), "a\x01x") << "the x after a sent Ctrl-A is an ordinary byte";
  EXPECT_TRUE(out.events.empty());
  EXPECT_FALSE(p.escape_pending());
}

TEST(EscapeParser, CtrlAWithOtherKeySendsBoth) {
  EscapeParser p;
  auto out = feed(p, "\x01q\x01\r");
  EXPECT_EQ(text(out), "\x01q\x01\r");
  EXPECT_TRUE(out.events.empty());
}

TEST(EscapeParser, EscapeSpansFeeds) {
  EscapeParser p;
  auto out = feed(p, "abc\x01");
  EXPECT_EQ(text(out), "abc");
  EXPECT_TRUE(out.events.empty());
  EXPECT_TRUE(p.escape_pending());
  out = feed(p, "xyz");
  EXPECT_EQ(text(out), "yz");
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.events[0], EscapeEvent::Quit);

  out = feed(p, "\x01");
  EXPECT_TRUE(out.guest_bytes.empty());
  out = feed(p, "\x01");
  EXPECT_EQ(text(out), "\x01");
  out = feed(p, "\x01");
  out = feed(p, "k");
  EXPECT_EQ(text(out), "\x01k");
}

TEST(EscapeParser, EmptyFeedKeepsState) {
  EscapeParser p;
  feed(p, "\x01");
  auto out = p.feed(nullptr, 0);
  EXPECT_TRUE(out.guest_bytes.empty());
  EXPECT_TRUE(p.escape_pending());
  out = feed(p, "h");
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.events[0], EscapeEvent::Help);
}
