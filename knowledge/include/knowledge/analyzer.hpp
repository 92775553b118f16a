#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace opalebot::knowledge {

/// One meaningful word of a text: its folded form and its Snowball French stem.
struct Term {
    std::string word;         ///< folded: "integration"
    std::string stem;         ///< "integr"
    std::size_t position = 0; ///< its place among the text's words, stop words included
};

/// The French analyzer shared by documents and questions: folding, elisions, stop words and
/// Snowball stemming. Not thread-safe (the stemmer keeps a buffer): one per thread.
class Analyzer {
public:
    Analyzer();
    ~Analyzer();
    Analyzer(Analyzer&&) noexcept;
    Analyzer& operator=(Analyzer&&) noexcept;
    Analyzer(const Analyzer&) = delete;
    Analyzer& operator=(const Analyzer&) = delete;

    /// The terms of `text` in order, stop words removed.
    std::vector<Term> analyze(std::string_view text) const;

    /// The stem of one folded word.
    std::string stem(std::string_view folded_word) const;

private:
    struct Stemmer;
    std::unique_ptr<Stemmer> stemmer_;
};

} // namespace opalebot::knowledge
