// The knowledge base's files (knowledge/src/entry_loader.cpp, glossary.cpp): a fiche's YAML
// front matter and Markdown body, glossaire.yaml and synonymes.yaml; then the Markdown as the
// bot sends it (bot/src/markdown.cpp: text and HTML forms, cut to fit in an event).
#include "bot/markdown.hpp"
#include "knowledge/glossary.hpp"
#include "knowledge/knowledge_base.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_support.hpp"

namespace {

namespace knowledge = opalebot::knowledge;

void check_markdown(const std::string& markdown)
{
    (void)opalebot::bot::markdown_to_text(markdown);
    (void)opalebot::bot::markdown_to_html(markdown);
    const auto fitted = opalebot::bot::fit_in_event(markdown, 1'000);
    OPALEBOT_FUZZ_CHECK(fitted == markdown || fitted.size() < markdown.size() + 200);
}

} // namespace

OPALEBOT_FUZZ_QUIET_LOGS()

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string text{opalebot::fuzz::text_of(data, size)};
    std::vector<knowledge::Diagnostic> problems;
    const auto entry = knowledge::parse_entry("fiche.md", text, problems);
    if (entry)
        OPALEBOT_FUZZ_CHECK(!entry->id.empty() && !entry->titre.empty());
    else
        OPALEBOT_FUZZ_CHECK(!problems.empty());
    check_markdown(entry ? entry->body : text);
    problems.clear();
    const auto glossary = knowledge::parse_glossary("glossaire.yaml", text, problems);
    for (const auto& acronym : glossary.all())
        OPALEBOT_FUZZ_CHECK(glossary.find(acronym.sigle) != nullptr);
    const auto groups = knowledge::read_synonym_groups("synonymes.yaml", text, problems);
    knowledge::check_synonym_meanings("synonymes.yaml", groups, glossary, problems);
    return 0;
}
