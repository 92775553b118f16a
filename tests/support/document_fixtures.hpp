#pragma once

// The test documents written by tests/fixtures/documents/make_documents.py (CTest's
// documents.fixtures runs it first), and ways to look into an extracted Document.
#include "knowledge/document.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstddef>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

namespace opalebot::testing {

inline std::string document_fixture(const std::string& name)
{
    const std::string path = std::string{OPALEBOT_DOCUMENT_FIXTURES} + "/" + name;
    std::ifstream in{path, std::ios::binary};
    INFO("missing " << path << ": run `ctest -L unit` (documents.fixtures writes it)");
    REQUIRE(in.good());
    std::ostringstream bytes;
    bytes << in.rdbuf();
    return bytes.str();
}

/// The document extracted from a fixture, which must read without error.
inline knowledge::Document read_fixture(const std::string& name)
{
    const auto bytes = document_fixture(name);
    auto document = knowledge::extract_document(bytes, name);
    INFO(name << ": " << (document ? "" : document.error().message));
    REQUIRE(document);
    return std::move(document).value();
}

/// The index of the first block whose text contains `part`, or blocks.size().
inline std::size_t block_index(const knowledge::Document& document, std::string_view part)
{
    const auto it = std::find_if(document.blocks.begin(), document.blocks.end(),
                                 [&](const auto& b) { return b.text.find(part) != b.text.npos; });
    return static_cast<std::size_t>(it - document.blocks.begin());
}

/// The first block whose text contains `part`; the test fails when there is none.
inline const knowledge::Block& block_with(const knowledge::Document& document,
                                          std::string_view part)
{
    const auto index = block_index(document, part);
    INFO("no block contains « " << part << " »");
    REQUIRE(index < document.blocks.size());
    return document.blocks[index];
}

} // namespace opalebot::testing
