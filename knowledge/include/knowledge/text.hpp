#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace opalebot::knowledge {

/// Lower-case ASCII form of French text: accents removed, ligatures split (œ → oe), typographic
/// apostrophes made plain, "@" inside a word read as "a" (op@le → opale, m@gistère → magistere),
/// every other non-ASCII character (emoji, symbols) turned into a space. Invalid UTF-8 is a space.
std::string fold(std::string_view utf8);

/// The words of folded text, elisions removed (l', d', qu', jusqu'…), SMS spellings spelled out
/// ("cmt" -> "comment", "jai" -> "j ai", "jdois" -> "je dois"). A hyphenated word yields
/// its parts and then the joined form, so that "pré-sas" also matches "presas" (not for
/// "dois-je", "est-ce", whose joined form means nothing).
std::vector<std::string> split_words(std::string_view folded);

/// True for French function words and chat fillers that carry no topic ("comment", "bonjour").
bool is_stop_word(std::string_view folded_word);

/// True for greetings, thanks, apologies and narrative ("désolé si la question a déjà été
/// posée", "d'avance merci"): words that wrap a question without saying what it is about.
bool is_chatter(std::string_view folded_word);

/// User text made inert inside Markdown: every ASCII punctuation character gets a backslash.
std::string escape_markdown(std::string_view text);

/// Damerau–Levenshtein distance (optimal string alignment), giving up above `limit`.
int edit_distance(std::string_view a, std::string_view b, int limit);

/// The same distance as typing errors make it: a letter replaced by one far from it on the
/// keyboard costs two ("revient" is not "retient" mistyped), a neighbour key or a letter of the
/// same sound ("c"/"s") one, as do a letter left out, added or swapped.
int typing_distance(std::string_view typed, std::string_view meant, int limit);

} // namespace opalebot::knowledge
