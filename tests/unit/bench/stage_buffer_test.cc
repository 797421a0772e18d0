#include "bench/load/stage_buffer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

namespace peregrine::bench {
namespace {

std::vector<uint8_t> image_of(size_t size, uint8_t seed) {
  std::vector<uint8_t> image(size);
  for (size_t i = 0; i < size; ++i) {
    image[i] = static_cast<uint8_t>(seed + i * 7);
  }
  return image;
}

std::vector<uint8_t> contents(const StageBuffer& buffer) {
  return {buffer.data(), buffer.data() + buffer.size()};
}

TEST(StageBuffer, ImagesOverEarlierCopiesReadBackExactly) {
  const std::vector<uint8_t> image = image_of(37, 3);
  StageBuffer buffer;
  for (int round = 0; round < 3; ++round) {
    buffer.clear();
    for (uint8_t n = 0; n < 40; ++n) {
      uint8_t* at = buffer.append_image(image);
      at[0] = n;
    }
    ASSERT_EQ(buffer.size(), image.size() * 40);
    for (size_t n = 0; n < 40; ++n) {
      std::vector<uint8_t> want = image;
      want[0] = static_cast<uint8_t>(n);
      const std::vector<uint8_t> got(buffer.data() + n * image.size(),
                                     buffer.data() + (n + 1) * image.size());
      EXPECT_EQ(got, want) << "round " << round << " message " << n;
    }
  }
}

TEST(StageBuffer, OtherBytesBetweenImagesNeverLeaveAStaleCopy) {
  // Random interleavings of images, small packets (acks, pings) and clears, against a
  // plain vector: a copy skipped where the bytes are not an image would show here.
  const std::vector<uint8_t> image = image_of(29, 11);
  std::mt19937 random(7);
  StageBuffer buffer;
  std::vector<uint8_t> model;
  uint8_t n = 0;
  for (int step = 0; step < 20000; ++step) {
    const unsigned pick = random() % 10;
    if (pick < 6) {
      uint8_t* at = buffer.append_image(image);
      at[0] = ++n;
      at[image.size() - 1] = static_cast<uint8_t>(n ^ 0x5A);
      std::vector<uint8_t> copy = image;
      copy[0] = n;
      copy.back() = static_cast<uint8_t>(n ^ 0x5A);
      model.insert(model.end(), copy.begin(), copy.end());
    } else if (pick < 9) {
      const std::vector<uint8_t> other = image_of(1 + random() % 40, static_cast<uint8_t>(step));
      buffer.append(other);
      model.insert(model.end(), other.begin(), other.end());
    } else {
      ASSERT_EQ(contents(buffer),
                model)
          << "step " << step;
      buffer.clear();
      model.clear();
    }
  }
  EXPECT_EQ(contents(buffer), model);
}

TEST(StageBuffer, AnotherImageSizeForgetsTheOldCopies) {
  const std::vector<uint8_t> first = image_of(16, 1);
  const std::vector<uint8_t> second = image_of(8, 200);
  StageBuffer buffer;
  buffer.append_image(first);
  buffer.append_image(first);
  buffer.clear();
  buffer.append_image(second);
  buffer.append_image(second);
  buffer.append_image(second);
  std::vector<uint8_t> want;
  for (int i = 0; i < 3; ++i) {
    want.insert(want.end(), second.begin(), second.end());
  }
  EXPECT_EQ(contents(buffer), want);
}

TEST(StageBuffer, SwappedBuffersKeepTheirOwnCopies) {
  // The worker swaps `staged` and `flight`; each keeps what its own memory holds.
  const std::vector<uint8_t> image = image_of(50, 9);
  StageBuffer staged;
  StageBuffer flight;
  for (uint8_t n = 0; n < 19; ++n) {
    staged.append_image(image)[1] = n;
    if (n % 3 == 2) {
      const uint8_t ack[4] = {0x40, 2, 0, n};
      staged.append(ack);
    }
    if (n % 4 == 3) {
      std::swap(staged, flight);
      staged.clear();
    }
  }
  // What staged holds now: the images of n = 16..18, with 17's ack after it.
  std::vector<uint8_t> want;
  for (uint8_t n = 16; n < 19; ++n) {
    std::vector<uint8_t> copy = image;
    copy[1] = n;
    want.insert(want.end(), copy.begin(), copy.end());
    if (n % 3 == 2) {
      want.insert(want.end(), {0x40, 2, 0, n});
    }
  }
  EXPECT_EQ(contents(staged), want);
}

}  // namespace
}  // namespace peregrine::bench
