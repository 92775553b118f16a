#include "xml_part.hpp"

#include <algorithm>

#include "document_builder.hpp"

namespace opalebot::knowledge::documents {

std::size_t xml_depth(const pugi::xml_node& root, std::size_t limit)
{
    std::size_t depth = 0;
    std::size_t deepest = 0;
    pugi::xml_node node = root.first_child();
    if (node)
        depth = deepest = 1;
    while (node && deepest <= limit) {
        if (const auto child = node.first_child()) {
            node = child;
            deepest = std::max(deepest, ++depth);
            continue;
        }
        while (node && !node.next_sibling() && node != root) {
            node = node.parent();
            --depth;
        }
        if (!node || node == root)
            break;
        node = node.next_sibling();
    }
    return deepest;
}

Result<Done> load_xml(pugi::xml_document& document, std::string& text, std::string_view part,
                      const DocumentLimits& limits)
{
    // Whitespace-only text counts: " " between two runs separates two words.
    const auto parsed = document.load_buffer_inplace(text.data(), text.size(),
                                                     pugi::parse_default | pugi::parse_ws_pcdata);
    if (!parsed)
        return document_error(document_errors::malformed,
                              "fichier endommagé : XML illisible dans « " + std::string{part} +
                                  " » (octet " + std::to_string(parsed.offset) + " : " +
                                  parsed.description() + ")");
    if (xml_depth(document, limits.max_xml_depth) > limits.max_xml_depth)
        return document_error(document_errors::too_deep,
                              "document refusé : XML imbriqué sur plus de " +
                                  std::to_string(limits.max_xml_depth) + " niveaux dans « " +
                                  std::string{part} + " »");
    return Done{};
}

} // namespace opalebot::knowledge::documents
