#include "knowledge/analyzer.hpp"

#include "knowledge/text.hpp"

#include <libstemmer.h>

#include <cctype>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

namespace opalebot::knowledge {

struct Analyzer::Stemmer {
    struct Deleter {
        void operator()(sb_stemmer* s) const noexcept { sb_stemmer_delete(s); }
    };
    std::unique_ptr<sb_stemmer, Deleter> handle{sb_stemmer_new("french", "UTF_8")};
    /// Stems already computed: a base says the same words again and again, and Snowball was a
    /// third of an index build. Bounded: cleared when full (questions bring new words forever).
    struct Hash {
        using is_transparent = void; // looked up by string_view, without a copy of the word
        std::size_t operator()(std::string_view s) const noexcept
        {
            return std::hash<std::string_view>{}(s);
        }
    };
    std::unordered_map<std::string, std::string, Hash, std::equal_to<>> known;
    static constexpr std::size_t max_known = 200'000;
};

Analyzer::Analyzer() : stemmer_(std::make_unique<Stemmer>())
{
    if (!stemmer_->handle)
        throw std::runtime_error("libstemmer has no French stemmer"); // a broken install
}

Analyzer::~Analyzer() = default;
Analyzer::Analyzer(Analyzer&&) noexcept = default;
Analyzer& Analyzer::operator=(Analyzer&&) noexcept = default;

std::string Analyzer::stem(std::string_view folded_word) const
{
    // Short words are acronyms (EJ, DP, TR) or numbers: the stemmer would only damage them.
    if (folded_word.size() <= 3)
        return std::string{folded_word};
    // Snowball gives "formation" the stem of "format" (a file format): training is not a format.
    static const std::unordered_set<std::string_view> training{
        "formation", "formations", "formateur", "formateurs", "formatrice", "formatrices"};
    if (folded_word.starts_with("format") && training.contains(folded_word))
        return "formation";
    auto& known = stemmer_->known;
    if (const auto it = known.find(folded_word); it != known.end())
        return it->second;
    const auto* stemmed = sb_stemmer_stem(stemmer_->handle.get(),
                                          reinterpret_cast<const sb_symbol*>(folded_word.data()),
                                          static_cast<int>(folded_word.size()));
    if (stemmed == nullptr) // out of memory: the word itself still matches itself
        return std::string{folded_word};
    std::string result{reinterpret_cast<const char*>(stemmed),
                       static_cast<std::size_t>(sb_stemmer_length(stemmer_->handle.get()))};
    if (known.size() >= Stemmer::max_known)
        known.clear();
    known.emplace(folded_word, result);
    return result;
}

namespace {

/// "paie" or "paies", the word a salary and a payment share.
bool is_paie(const std::string& folded_word)
{
    // the length first: this runs for every word of the base
    return (folded_word.size() == 4 || (folded_word.size() == 5 && folded_word[4] == 's')) &&
           folded_word.starts_with("paie");
}

bool is_determiner(std::string_view folded_word)
{
    static const std::unordered_set<std::string_view> determiners{
        "la",    "les", "ma",   "mes",   "ta",  "tes", "sa",    "ses", "notre", "nos",
        "votre", "vos", "leur", "leurs", "une", "des", "cette", "ces", "de",    "du"};
    return determiners.contains(folded_word);
}

} // namespace

std::vector<Term> Analyzer::analyze(std::string_view text) const
{
    auto words = split_words(fold(text));
    std::vector<Term> terms;
    terms.reserve(words.size());
    for (std::size_t position = 0; position < words.size(); ++position) {
        auto& word = words[position];
        if (is_stop_word(word) ||
            (word.size() == 1 && !std::isdigit(static_cast<unsigned char>(word[0]))))
            continue; // a lone letter ("zone B") says nothing about the topic
        // "ma paie" is a salary, "elle paie" a payment: Snowball gives both the stem of
        // "paiement". After a determiner the noun keeps its own.
        auto stemmed = is_paie(word) && position > 0 && is_determiner(words[position - 1])
                           ? std::string{"paie"}
                           : stem(word);
        terms.push_back({std::move(word), std::move(stemmed), position});
    }
    return terms;
}

} // namespace opalebot::knowledge
