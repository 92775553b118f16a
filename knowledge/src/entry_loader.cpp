#include "knowledge/knowledge_base.hpp"
#include "knowledge/text.hpp"

#include <cmark.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <fstream>
#include <initializer_list>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <system_error>

namespace opalebot::knowledge {
namespace {

struct NodeDeleter {
    void operator()(cmark_node* node) const noexcept { cmark_node_free(node); }
};
struct IterDeleter {
    void operator()(cmark_iter* iter) const noexcept { cmark_iter_free(iter); }
};

/// Collects problems of one file, with line numbers counted from the top of the file.
class Reporter {
public:
    Reporter(std::string file, std::vector<Diagnostic>& problems)
        : file_(std::move(file)), problems_(problems)
    {}
    void error(int line, std::string message) { add(line, std::move(message), true); }
    void warning(int line, std::string message) { add(line, std::move(message), false); }
    bool failed() const { return failed_; }

private:
    void add(int line, std::string message, bool is_error)
    {
        failed_ = failed_ || is_error;
        problems_.push_back({file_, line, std::move(message), is_error});
    }
    std::string file_;
    std::vector<Diagnostic>& problems_;
    bool failed_ = false;
};

// yaml-cpp counts lines from 0; the front matter starts on the file's line 2.
int line_of(const YAML::Node& node, int first_line)
{
    return node.Mark().line + first_line;
}

std::string trimmed(std::string_view s)
{
    const auto begin = s.find_first_not_of(" \t\r\n");
    if (begin == std::string_view::npos)
        return {};
    const auto end = s.find_last_not_of(" \t\r\n");
    return std::string{s.substr(begin, end - begin + 1)};
}

/// A list field: a YAML sequence of scalars, or one scalar with commas ("a, b, c").
std::vector<std::string> string_list(const YAML::Node& node)
{
    std::vector<std::string> items;
    if (node.IsScalar()) {
        std::stringstream stream{node.Scalar()};
        for (std::string item; std::getline(stream, item, ',');)
            if (auto t = trimmed(item); !t.empty())
                items.push_back(std::move(t));
    } else if (node.IsSequence()) {
        for (const auto& item : node)
            if (item.IsScalar())
                if (auto t = trimmed(item.Scalar()); !t.empty())
                    items.push_back(std::move(t));
    }
    return items;
}

/// "2024-02-19" or "19/02/2024" as an ISO date, if it is a real calendar day.
std::optional<std::string> parse_date(const std::string& text)
{
    int year = 0;
    unsigned month = 0;
    unsigned day = 0;
    char sep1 = 0;
    char sep2 = 0;
    std::istringstream in{text};
    const auto digits_at = [&](std::initializer_list<std::size_t> positions) {
        return std::all_of(positions.begin(), positions.end(), [&](std::size_t k) {
            return k < text.size() && std::isdigit(static_cast<unsigned char>(text[k])) != 0;
        });
    };
    // Digits where digits belong, so that operator>> never takes a sign ("2024-02-+9").
    if (!digits_at({0, 1, 2, 3, 5, 6, 8, 9}) && !digits_at({0, 1, 3, 4, 6, 7, 8, 9}))
        return std::nullopt;
    if (text.size() == 10 && text[4] == '-') {
        in >> year >> sep1 >> month >> sep2 >> day;
        if (sep1 != '-' || sep2 != '-')
            return std::nullopt;
    } else if (text.size() == 10 && text[2] == '/') {
        in >> day >> sep1 >> month >> sep2 >> year;
        if (sep1 != '/' || sep2 != '/')
            return std::nullopt;
    } else {
        return std::nullopt;
    }
    if (in.fail() || !in.eof())
        return std::nullopt;
    const std::chrono::year_month_day date{std::chrono::year{year}, std::chrono::month{month},
                                           std::chrono::day{day}};
    if (!date.ok() || year < 2000 || year > 2100)
        return std::nullopt;
    char iso[32];
    std::snprintf(iso, sizeof iso, "%04d-%02u-%02u", year, month, day);
    return std::string{iso};
}

bool is_valid_id(std::string_view id)
{
    return !id.empty() && std::all_of(id.begin(), id.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    });
}

/// Field names as curators may type them: "mots-clés", "Mis à jour", "a_completer".
std::string field_key(const std::string& raw)
{
    std::string key = fold(raw);
    std::replace(key.begin(), key.end(), ' ', '-');
    std::replace(key.begin(), key.end(), '_', '-');
    return key;
}

/// A paragraph or heading of the body: its text without Markdown, on one line.
struct Block {
    int line = 0; ///< in the body, 1-based
    std::string text;
};

struct Body {
    std::string text;
    std::vector<std::pair<int, std::string>> links; ///< line in the body, destination
    std::vector<Block> blocks;
};

/// `text` with no-break and thin spaces made plain and runs of spaces made one.
std::string plain_spaces(std::string_view text)
{
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        bool space = text[i] == ' ' || text[i] == '\t';
        for (const std::string_view wide : {"\u00A0", "\u202F", "\u2009"})
            if (text.substr(i, wide.size()) == wide) {
                space = true;
                i += wide.size() - 1;
            }
        if (!space)
            out += text[i];
        else if (!out.empty() && out.back() != ' ')
            out += ' ';
    }
    return out;
}

/// The body's words without Markdown, its links and its paragraphs with their lines (cmark).
Body read_body(const std::string& markdown)
{
    Body body;
    const std::unique_ptr<cmark_node, NodeDeleter> document{
        cmark_parse_document(markdown.data(), markdown.size(), CMARK_OPT_DEFAULT)};
    if (!document)
        return body;
    const std::unique_ptr<cmark_iter, IterDeleter> iter{cmark_iter_new(document.get())};
    std::optional<Block> block;
    for (auto event = cmark_iter_next(iter.get()); event != CMARK_EVENT_DONE;
         event = cmark_iter_next(iter.get())) {
        cmark_node* node = cmark_iter_get_node(iter.get());
        const auto type = cmark_node_get_type(node);
        const bool is_block = type == CMARK_NODE_PARAGRAPH || type == CMARK_NODE_HEADING;
        if (is_block && event == CMARK_EVENT_ENTER)
            block = Block{cmark_node_get_start_line(node), {}};
        if (event == CMARK_EVENT_ENTER && type == CMARK_NODE_LINK) {
            if (const char* url = cmark_node_get_url(node))
                body.links.emplace_back(cmark_node_get_start_line(node), url);
        }
        if (type == CMARK_NODE_TEXT || type == CMARK_NODE_CODE) {
            if (const char* literal = cmark_node_get_literal(node)) {
                body.text += literal;
                if (block)
                    block->text += literal;
            }
            body.text += ' ';
        } else if (event == CMARK_EVENT_EXIT || type == CMARK_NODE_SOFTBREAK ||
                   type == CMARK_NODE_LINEBREAK) {
            body.text += ' ';
            if (block)
                block->text += ' ';
        }
        if (is_block && event == CMARK_EVENT_EXIT && block) {
            block->text = plain_spaces(block->text);
            body.blocks.push_back(std::move(*block));
            block.reset();
        }
    }
    return body;
}

bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

bool is_alnum(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/// The first figure of `text`, folded, if any. A figure is a number that starts a word and is
/// followed by "%" or "pour cent" (a percentage: "81,96 %"), by "sur" and a number (a count:
/// "50 sur 61"), or by one of the counted words EPLE, établissement(s), budget(s), ticket(s)
/// ("153 budgets", "1187 tickets"). Dates (19/01/2024), "V6" or "2 jours" are not figures.
std::optional<std::string> first_figure(std::string_view text)
{
    static const std::set<std::string_view> counted{
        "eple", "etablissement", "etablissements", "budget", "budgets", "ticket", "tickets"};
    const auto folded = fold(text);
    const std::string_view f{folded};
    const auto skip = [&](std::size_t k, auto&& keep) {
        while (k < f.size() && keep(f[k]))
            ++k;
        return k;
    };
    const auto spaces = [](char c) { return c == ' '; };
    for (std::size_t i = 0; i < f.size(); ++i) {
        if (!is_digit(f[i]) || (i > 0 && (is_alnum(f[i - 1]) || f[i - 1] == '/' ||
                                          f[i - 1] == ',' || f[i - 1] == '.')))
            continue;
        auto end = skip(i, is_digit);
        if (end + 1 < f.size() && (f[end] == ',' || f[end] == '.') && is_digit(f[end + 1]))
            end = skip(end + 1, is_digit);
        if (end < f.size() && (is_alnum(f[end]) || f[end] == '/')) { // "1er", "01/2024"
            i = end;
            continue;
        }
        const auto next = skip(end, spaces);
        const auto word_end = skip(next, is_alnum);
        const auto word = f.substr(next, word_end - next);
        std::size_t figure_end = 0;
        if (f.substr(next, 1) == "%")
            figure_end = next + 1;
        else if (f.substr(next, 9) == "pour cent")
            figure_end = next + 9;
        else if (counted.contains(word))
            figure_end = word_end;
        else if (word == "sur") {
            const auto other = skip(word_end, spaces);
            if (other < f.size() && is_digit(f[other]))
                figure_end = skip(other, is_digit);
        }
        if (figure_end != 0)
            return std::string{f.substr(i, figure_end - i)};
        i = end;
    }
    return std::nullopt;
}

/// A menu-path-like stretch of a block: where it starts and ends, and where its separators are.
struct MenuPath {
    std::size_t begin = 0;
    std::size_t end = 0;
    std::size_t first_separator = 0;
    std::size_t last_separator_end = 0;
};

/// Where a segment of a path stops: punctuation that ends a clause, or quotation marks.
constexpr std::array<std::string_view, 11> path_stops{".", ";", ":",  "!",      "?",     "(",
                                                      ")", ",", "\"", "\u00AB", "\u00BB"};

std::size_t segment_begin(std::string_view text, std::size_t before)
{
    std::size_t begin = 0;
    for (const auto stop : path_stops)
        if (const auto at = text.rfind(stop, before); at != std::string_view::npos && at < before)
            begin = std::max(begin, at + stop.size());
    return begin;
}

std::size_t segment_end(std::string_view text, std::size_t from)
{
    std::size_t end = text.size();
    for (const auto stop : path_stops)
        end = std::min(end, text.find(stop, from));
    return end;
}

/// The menu-path-like stretches of a block: three parts or more joined by " > " (A > B > C),
/// or quoted labels joined by an arrow (« A » → « B »).
std::vector<MenuPath> menu_paths(std::string_view text)
{
    std::vector<MenuPath> paths;
    // " > " separators, chained while the part between two of them has no clause punctuation.
    std::size_t at = text.find(" > ");
    while (at != std::string_view::npos) {
        MenuPath path{segment_begin(text, at), 0, at, at + 3};
        int separators = 1;
        for (auto next = text.find(" > ", path.last_separator_end);
             next != std::string_view::npos && segment_end(text, path.last_separator_end) >= next &&
             next > path.last_separator_end;
             next = text.find(" > ", path.last_separator_end)) {
            path.last_separator_end = next + 3;
            ++separators;
        }
        path.end = segment_end(text, path.last_separator_end);
        if (separators >= 2)
            paths.push_back(path);
        at = text.find(" > ", path.last_separator_end);
    }
    // Arrows between quoted labels: « A » → « B » (or ->).
    constexpr std::string_view open = "\u00AB";
    constexpr std::string_view close = "\u00BB";
    for (const std::string_view arrow : {"\u2192", "->"}) {
        for (auto a = text.find(arrow); a != std::string_view::npos;
             a = text.find(arrow, a + arrow.size())) {
            const auto left = text.substr(0, a);
            const auto right = text.substr(a + arrow.size());
            const auto l = left.find_last_not_of(' ');
            const auto r = right.find_first_not_of(' ');
            if (l == std::string_view::npos || r == std::string_view::npos ||
                !left.substr(0, l + 1).ends_with(close) || !right.substr(r).starts_with(open))
                continue;
            const auto opening = left.rfind(open);
            const auto closing = right.find(close, r + open.size());
            if (opening == std::string_view::npos || closing == std::string_view::npos)
                continue;
            const auto end = a + arrow.size() + closing + close.size();
            if (!paths.empty() && paths.back().end >= opening &&
                paths.back().first_separator < a) { // « A » → « B » → « C »: one path
                paths.back().end = std::max(paths.back().end, end);
                paths.back().last_separator_end = a + arrow.size();
            } else {
                paths.push_back({opening, end, a, a + arrow.size()});
            }
        }
    }
    return paths;
}

/// True when one of the sources gives `path` word for word (its `chemins`).
bool path_has_source(std::string_view text, const MenuPath& path,
                     const std::vector<Source>& sources)
{
    for (const auto& source : sources)
        for (const auto& chemin : source.chemins) {
            const auto wanted = plain_spaces(chemin);
            if (wanted.empty())
                continue;
            for (auto at = text.find(wanted); at != std::string_view::npos;
                 at = text.find(wanted, at + 1))
                if (at <= path.first_separator && path.last_separator_end <= at + wanted.size())
                    return true;
        }
    return false;
}

/// Issue 20: a figure names the perimeter it belongs to, and a menu path comes from a source.
void check_blocks(const std::vector<Block>& blocks, const std::vector<Source>& sources,
                  int body_first_line, Reporter& report)
{
    std::vector<std::string> perimeters;
    for (const auto& source : sources)
        if (!source.perimetre.empty())
            perimeters.push_back(source.perimetre);
    for (const auto& block : blocks) {
        const int line = body_first_line + block.line - 1;
        if (const auto figure = first_figure(block.text)) {
            const auto folded = fold(block.text);
            const bool named = std::any_of(perimeters.begin(), perimeters.end(), [&](auto& p) {
                return folded.find(fold(p)) != std::string::npos;
            });
            if (perimeters.empty())
                report.error(line, "chiffre « " + *figure +
                                       " » sans périmètre : ajoutez « perimetre: » (par exemple "
                                       "« académie d'Amiens ») à la source qui le donne, et "
                                       "nommez ce périmètre à côté du chiffre");
            else if (!named) {
                std::string names;
                for (const auto& p : perimeters)
                    names += (names.empty() ? "« " : ", « ") + p + " »";
                report.error(line, "chiffre « " + *figure +
                                       " » : nommez dans le même paragraphe le périmètre de sa "
                                       "source (" +
                                       names + ")");
            }
        }
        for (const auto& path : menu_paths(block.text))
            if (!path_has_source(block.text, path, sources))
                report.warning(line, "chemin de menu « " +
                                         trimmed(std::string_view{block.text}.substr(
                                             path.begin, path.end - path.begin)) +
                                         " » : aucune source ne le donne ; ajoutez-le aux "
                                         "« chemins » de la source (adresse ou document) qui le "
                                         "donne mot pour mot, ou retirez-le");
    }
}

bool is_relative_link(const std::string& url)
{
    if (url.empty() || url[0] == '#')
        return false;
    const auto colon = url.find(':');
    const auto slash = url.find('/');
    return colon == std::string::npos || (slash != std::string::npos && slash < colon);
}

std::optional<std::string> read_file(const std::filesystem::path& path)
{
    std::ifstream in{path, std::ios::binary};
    if (!in)
        return std::nullopt;
    std::ostringstream content;
    content << in.rdbuf();
    return content.str();
}

} // namespace

const std::vector<std::string>& known_domains()
{
    static const std::vector<std::string> domains{"Tiers",    "Budget",           "Dépenses",
                                                  "Recettes", "Sphère comptable", "Transverse"};
    return domains;
}

bool KnowledgeBase::has_errors() const
{
    return std::any_of(problems.begin(), problems.end(), [](const auto& p) { return p.is_error; });
}

std::optional<Entry> parse_entry(const std::filesystem::path& file, const std::string& text,
                                 std::vector<Diagnostic>& problems)
{
    Reporter report{file.string(), problems};
    // The front matter sits between a first line "---" and the next line "---".
    std::istringstream lines{text};
    std::string line;
    std::getline(lines, line);
    if (trimmed(line) != "---") {
        report.error(1, "la fiche doit commencer par une ligne « --- » (début de l'en-tête)");
        return std::nullopt;
    }
    std::string front_matter;
    int line_number = 1;
    bool closed = false;
    while (std::getline(lines, line)) {
        ++line_number;
        if (trimmed(line) == "---") {
            closed = true;
            break;
        }
        front_matter += line + '\n';
    }
    if (!closed) {
        report.error(line_number, "l'en-tête n'est pas refermé par une ligne « --- »");
        return std::nullopt;
    }
    const int body_first_line = line_number + 1;
    std::string body_markdown{std::istreambuf_iterator<char>(lines), {}};

    YAML::Node root;
    try {
        root = YAML::Load(front_matter);
    } catch (const YAML::Exception& e) {
        report.error(e.mark.line + 2, "en-tête illisible (colonne " +
                                          std::to_string(e.mark.column + 1) + ") : " + e.msg);
        return std::nullopt;
    }
    if (!root.IsMap()) {
        report.error(2, "l'en-tête doit être une liste de champs « nom: valeur »");
        return std::nullopt;
    }

    std::map<std::string, YAML::Node> fields;
    std::map<std::string, int>
        field_lines; // a value written "key:" is null, placed on the next line
    for (const auto& field : root) {
        const auto raw = field.first.as<std::string>("");
        const auto key = field_key(raw);
        static const std::set<std::string> known{"id",         "titre",       "domaine",
                                                 "mots-cles",  "profils",     "sources",
                                                 "mis-a-jour", "a-completer", "documents"};
        if (!known.contains(key)) {
            report.error(line_of(field.first, 2), "champ inconnu « " + raw +
                                                      " » (champs possibles : id, titre, domaine, "
                                                      "mots-cles, profils, sources, mis-a-jour, "
                                                      "a-completer, documents)");
            continue;
        }
        fields.emplace(key, field.second);
        field_lines.emplace(key, line_of(field.first, 2));
    }
    const auto scalar = [&](const std::string& key) -> std::string {
        const auto it = fields.find(key);
        if (it == fields.end() || !it->second.IsScalar() || trimmed(it->second.Scalar()).empty()) {
            const int at = it == fields.end() ? 2 : field_lines.at(key);
            report.error(at, "champ « " + key + " » manquant ou vide");
            return {};
        }
        return trimmed(it->second.Scalar());
    };
    const auto list = [&](const std::string& key) -> std::vector<std::string> {
        const auto it = fields.find(key);
        auto items = it == fields.end() ? std::vector<std::string>{} : string_list(it->second);
        if (items.empty())
            report.error(it == fields.end() ? 2 : field_lines.at(key),
                         "champ « " + key + " » manquant ou vide (une liste : [a, b])");
        return items;
    };

    Entry entry;
    entry.id = scalar("id");
    if (!entry.id.empty()) {
        const int at = line_of(fields.at("id"), 2);
        if (!is_valid_id(entry.id))
            report.error(at, "id « " + entry.id + " » invalide : minuscules, chiffres et tirets");
        else if (entry.id != file.stem().string())
            report.error(at, "id « " + entry.id + " » différent du nom du fichier « " +
                                 file.filename().string() + " »");
    }
    entry.titre = scalar("titre");
    entry.domaine = scalar("domaine");
    if (!entry.domaine.empty()) {
        const auto& domains = known_domains();
        const auto it = std::find_if(domains.begin(), domains.end(), [&](const std::string& d) {
            return fold(d) == fold(entry.domaine);
        });
        if (it == domains.end()) {
            std::string choices;
            for (const auto& d : domains)
                choices += (choices.empty() ? "" : ", ") + d;
            report.error(line_of(fields.at("domaine"), 2),
                         "domaine inconnu « " + entry.domaine + " » (possibles : " + choices + ")");
        } else {
            entry.domaine = *it;
        }
    }
    entry.mots_cles = list("mots-cles");
    entry.profils = list("profils");

    if (const auto it = fields.find("sources");
        it == fields.end() || !it->second.IsSequence() || it->second.size() == 0) {
        report.error(it == fields.end() ? 2 : field_lines.at("sources"),
                     "champ « sources » manquant ou vide (une liste de « - titre: … »)");
    } else {
        for (const auto& item : it->second) {
            const int at = line_of(item, 2);
            if (!item.IsMap()) {
                report.error(at,
                             "source invalide : il faut « titre » et « adresse » ou « ressource »");
                continue;
            }
            Source source;
            for (const auto& part : item) {
                const auto key = field_key(part.first.as<std::string>(""));
                const auto value = part.second.IsScalar() ? trimmed(part.second.Scalar()) : "";
                if (key == "titre")
                    source.titre = value;
                else if (key == "adresse" || key == "url" || key == "lien")
                    source.adresse = value;
                else if (key == "ressource" || key == "ou")
                    source.ressource = value;
                else if (key == "perimetre" && !value.empty())
                    source.perimetre = value;
                else if (key == "perimetre")
                    report.error(line_of(part.first, 2),
                                 "source : « perimetre » vide (par exemple « académie d'Amiens »)");
                else if (key == "chemins") // one path may hold commas: a scalar is one path
                    source.chemins = part.second.IsScalar() ? std::vector<std::string>{value}
                                                            : string_list(part.second);
                else
                    report.error(line_of(part.first, 2),
                                 "source : champ inconnu « " + part.first.as<std::string>("") +
                                     " » (titre, adresse, ressource, perimetre ou chemins)");
            }
            if (source.titre.empty())
                report.error(at, "source sans « titre »");
            if (source.adresse.empty() && source.ressource.empty())
                report.error(at, "source « " + source.titre +
                                     " » sans « adresse » ni « ressource » (où la trouver)");
            if (!source.adresse.empty() && source.adresse.rfind("https://", 0) != 0 &&
                source.adresse.rfind("http://", 0) != 0)
                report.error(at, "adresse « " + source.adresse +
                                     " » invalide : elle doit commencer par https:// (ou http://)");
            entry.sources.push_back(std::move(source));
        }
    }

    if (const auto date = scalar("mis-a-jour"); !date.empty()) {
        if (auto iso = parse_date(date))
            entry.mis_a_jour = std::move(*iso);
        else
            report.error(line_of(fields.at("mis-a-jour"), 2),
                         "date « " + date + " » invalide (attendu AAAA-MM-JJ ou JJ/MM/AAAA)");
    }
    if (const auto it = fields.find("a-completer"); it != fields.end() && it->second.IsScalar())
        entry.a_completer = trimmed(it->second.Scalar());
    if (const auto it = fields.find("documents"); it != fields.end()) {
        // Names in the documents/ folder beside the fiches: a plain file name, never a path.
        const int at = field_lines.at("documents");
        for (auto& name : string_list(it->second)) {
            std::error_code error;
            if (name.find('/') != std::string::npos || name.find('\\') != std::string::npos ||
                name.starts_with('.'))
                report.error(at, "document « " + name +
                                     " » : indiquez un nom de fichier du dossier documents/, "
                                     "sans chemin");
            else if (!std::filesystem::is_regular_file(file.parent_path() / "documents" / name,
                                                       error))
                report.error(at, "document « " + name + " » introuvable dans documents/");
            else
                entry.documents.push_back(std::move(name));
        }
        if (it->second.IsMap())
            report.error(at, "champ « documents » : une liste de noms de fichiers, [a.pdf, b.odt]");
    }

    if (trimmed(body_markdown).empty())
        report.error(body_first_line, "la fiche n'a pas de texte après l'en-tête");
    auto body = read_body(body_markdown);
    check_blocks(body.blocks, entry.sources, body_first_line, report);
    for (const auto& [link_line, url] : body.links) {
        if (!is_relative_link(url))
            continue;
        const auto target = url.substr(0, url.find('#'));
        std::error_code error; // a name too long for the system threw out of the loader
        if (!std::filesystem::exists(file.parent_path() / target, error))
            report.error(body_first_line + link_line - 1,
                         "lien cassé : « " + url + " » n'existe pas");
    }
    if (report.failed())
        return std::nullopt;
    entry.body = std::move(body_markdown);
    entry.body_text = std::move(body.text);
    return entry;
}

KnowledgeBase load_knowledge_base(const std::filesystem::path& dir)
{
    KnowledgeBase base;
    std::error_code error;
    std::vector<std::filesystem::path> files;
    for (const auto& item : std::filesystem::directory_iterator(dir, error))
        if (item.is_regular_file() && item.path().extension() == ".md" &&
            item.path().filename() != "README.md")
            files.push_back(item.path());
    if (error) {
        base.problems.push_back({dir.string(), 0, "dossier illisible : " + error.message(), true});
        return base;
    }
    std::sort(files.begin(), files.end());

    std::map<std::string, std::string> id_owner;
    for (const auto& file : files) {
        const auto text = read_file(file);
        if (!text) {
            base.problems.push_back({file.string(), 0, "fichier illisible", true});
            continue;
        }
        auto entry = parse_entry(file, *text, base.problems);
        if (!entry)
            continue;
        if (const auto [it, fresh] = id_owner.try_emplace(entry->id, file.string()); !fresh) {
            base.problems.push_back({file.string(), 2,
                                     "id « " + entry->id + " » déjà utilisé par " + it->second,
                                     true});
            continue;
        }
        base.entries.push_back(std::move(*entry));
    }

    base.documents = load_documents(dir / "documents", false, base.problems);

    if (const auto text = read_file(dir / "glossaire.yaml"))
        base.glossary = parse_glossary((dir / "glossaire.yaml").string(), *text, base.problems);
    if (const auto text = read_file(dir / "synonymes.yaml")) {
        const auto file_name = (dir / "synonymes.yaml").string();
        const auto groups = read_synonym_groups(file_name, *text, base.problems);
        check_synonym_meanings(file_name, groups, base.glossary, base.problems);
        for (const auto& group : groups)
            base.synonyms.push_back(group.words);
    }
    return base;
}

} // namespace opalebot::knowledge
