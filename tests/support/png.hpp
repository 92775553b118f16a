#pragma once

// Reading back the PNG the bot makes (charts, issue 17), with cairo as the bot writes them.

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <cairo.h>

namespace opalebot::testing {

/// A decoded picture: one 0xRRGGBB per pixel, row by row.
struct DecodedPng {
    int width = 0;
    int height = 0;
    std::vector<std::uint32_t> pixels;
};

/// `png` decoded; the test fails when it is not a PNG.
inline DecodedPng decode_png(std::string_view png)
{
    struct Reader {
        std::string_view rest;
        static cairo_status_t read(void* closure, unsigned char* data, unsigned int length)
        {
            auto& reader = *static_cast<Reader*>(closure);
            if (reader.rest.size() < length)
                return CAIRO_STATUS_READ_ERROR;
            std::memcpy(data, reader.rest.data(), length);
            reader.rest.remove_prefix(length);
            return CAIRO_STATUS_SUCCESS;
        }
    } reader{png};
    struct SurfaceDeleter {
        void operator()(cairo_surface_t* surface) const noexcept { cairo_surface_destroy(surface); }
    };
    const std::unique_ptr<cairo_surface_t, SurfaceDeleter> surface{
        cairo_image_surface_create_from_png_stream(&Reader::read, &reader)};
    REQUIRE(cairo_surface_status(surface.get()) == CAIRO_STATUS_SUCCESS);
    cairo_surface_flush(surface.get());
    DecodedPng image;
    image.width = cairo_image_surface_get_width(surface.get());
    image.height = cairo_image_surface_get_height(surface.get());
    const int stride = cairo_image_surface_get_stride(surface.get());
    const unsigned char* data = cairo_image_surface_get_data(surface.get());
    for (int y = 0; y < image.height; ++y) {
        const auto* row = reinterpret_cast<const std::uint32_t*>(data + y * stride);
        for (int x = 0; x < image.width; ++x)
            image.pixels.push_back(row[x] & 0xFFFFFFu); // cairo: native-endian ARGB
    }
    return image;
}

/// The colours the picture uses, 0xRRGGBB.
inline std::set<std::uint32_t> distinct_colours(const DecodedPng& image)
{
    return {image.pixels.begin(), image.pixels.end()};
}

} // namespace opalebot::testing
