#include "png_encoder.hpp"

#include <array>
#include <cstdint>
#include <cstring>
#include <new>
#include <vector>

#include <png.h>

namespace opalebot::commands {
namespace {

/// Where libpng writes, and what it said when it failed.
struct Output {
    std::string png;
    std::array<char, 160> message{};
};

/// A png_struct and its png_info, destroyed together.
class PngWrite {
public:
    explicit PngWrite(Output& output)
        : png_(png_create_write_struct(PNG_LIBPNG_VER_STRING, &output, on_error, on_warning)),
          info_(png_ ? png_create_info_struct(png_) : nullptr)
    {}
    ~PngWrite() { png_destroy_write_struct(&png_, &info_); } // either may be null
    PngWrite(const PngWrite&) = delete;
    PngWrite& operator=(const PngWrite&) = delete;

    explicit operator bool() const noexcept { return png_ != nullptr && info_ != nullptr; }
    png_structp png() const noexcept { return png_; }
    png_infop info() const noexcept { return info_; }

private:
    /// Keeps the message and jumps back to write_png's setjmp, never returns to libpng.
    [[noreturn]] static void on_error(png_structp png, png_const_charp message)
    {
        auto& text = static_cast<Output*>(png_get_error_ptr(png))->message;
        std::strncpy(text.data(), message, text.size() - 1);
        png_longjmp(png, 1);
    }
    static void on_warning(png_structp /*png*/, png_const_charp /*message*/) {}

    png_structp png_;
    png_infop info_;
};

void append(png_structp png, png_bytep data, std::size_t length)
{
    bool out_of_memory = false;
    try {
        static_cast<Output*>(png_get_io_ptr(png))
            ->png.append(reinterpret_cast<const char*>(data), length);
    } catch (const std::bad_alloc&) {
        out_of_memory = true;
    }
    if (out_of_memory) // outside the handler: png_error does not return
        png_error(png, "mémoire épuisée");
}

void flush(png_structp /*png*/)
{}

/// The whole PNG into `output`. libpng reports errors with longjmp, so this frame holds nothing
/// with a destructor: the buffers belong to the caller.
bool write_png(png_structp png, png_infop info, Output& output, const OpaquePixels& pixels,
               unsigned char* row)
{
    if (setjmp(png_jmpbuf(png)))
        return false;
    png_set_write_fn(png, &output, append, flush);
    png_set_IHDR(png, info, static_cast<png_uint_32>(pixels.width),
                 static_cast<png_uint_32>(pixels.height), 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_BASE, PNG_FILTER_TYPE_BASE);
    // Measured on the wave chart (README, charts): levels 1 to 3 cost the same (zlib's fast
    // path), 3 is the smallest; no filter is smaller than SUB or UP on anti-aliased text, and
    // trying all five per row (the default) doubled the time for 4 % less.
    png_set_compression_level(png, 3);
    png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_NONE);
    png_write_info(png, info);
    for (int y = 0; y < pixels.height; ++y) {
        const unsigned char* source = pixels.data + static_cast<std::ptrdiff_t>(y) * pixels.stride;
        for (int x = 0; x < pixels.width; ++x) {
            std::uint32_t pixel = 0;
            std::memcpy(&pixel, source + 4 * x, 4);
            row[3 * x] = static_cast<unsigned char>(pixel >> 16);
            row[3 * x + 1] = static_cast<unsigned char>(pixel >> 8);
            row[3 * x + 2] = static_cast<unsigned char>(pixel);
        }
        png_write_row(png, row);
    }
    png_write_end(png, nullptr);
    return true;
}

} // namespace

Result<std::string> encode_rgb_png(const OpaquePixels& pixels)
{
    if (pixels.data == nullptr || pixels.width <= 0 || pixels.height <= 0 ||
        pixels.stride < 4 * pixels.width)
        return Error{Error::Kind::invalid, 0, {}, "écriture du PNG : image vide", {}, false};
    Output output;
    std::vector<unsigned char> row(3 * static_cast<std::size_t>(pixels.width));
    const PngWrite writer{output};
    if (!writer)
        return Error{Error::Kind::invalid, 0, {}, "écriture du PNG : mémoire épuisée", {}, false};
    if (!write_png(writer.png(), writer.info(), output, pixels, row.data()))
        return Error{Error::Kind::invalid,
                     0,
                     {},
                     std::string{"écriture du PNG : "} + output.message.data(),
                     {},
                     false};
    return std::move(output.png);
}

} // namespace opalebot::commands
