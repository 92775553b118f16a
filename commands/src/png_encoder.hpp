#pragma once

// libpng stays in png_encoder.cpp: chart.cpp hands it the pixels of a cairo image surface.

#include "opalebot/result.hpp"

#include <string>

namespace opalebot::commands {

/// Rows of opaque pixels as cairo keeps them: one native-endian 0x??RRGGBB word per pixel.
struct OpaquePixels {
    const unsigned char* data = nullptr;
    int width = 0;
    int height = 0;
    int stride = 0; ///< bytes from one row to the next
};

/// `pixels` as an 8-bit RGB PNG, compressed for speed (issue 17: ≤ 50 ms a chart); the top byte
/// of each pixel (alpha, or nothing in RGB24) is dropped, so the picture must be opaque.
Result<std::string> encode_rgb_png(const OpaquePixels& pixels);

} // namespace opalebot::commands
