#pragma once

// An XML part of an ODF or OOXML archive, parsed by pugixml and refused when nested too deep,
// so that the extractors may walk it recursively.
#include "knowledge/document.hpp"

#include <string>
#include <string_view>

#include <pugixml.hpp>

namespace opalebot::knowledge::documents {

/// Parses `text` in place (it must outlive `document`); errors name `part`.
Result<Done> load_xml(pugi::xml_document& document, std::string& text, std::string_view part,
                      const DocumentLimits& limits);

/// The depth of the deepest element under `root`, walked without recursion; stops past `limit`.
std::size_t xml_depth(const pugi::xml_node& root, std::size_t limit);

} // namespace opalebot::knowledge::documents
