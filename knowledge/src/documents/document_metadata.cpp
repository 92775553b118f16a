#include "knowledge/document_metadata.hpp"

#include "knowledge/entry.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <optional>
#include <set>

namespace opalebot::knowledge {
namespace {

constexpr std::array<std::string_view, 5> keys{"titre", "adresse", "domaine", "profils",
                                               "mis-a-jour"};

class Problems {
public:
    explicit Problems(std::string_view file) : file_(file) {}

    void add(const YAML::Mark& mark, const std::string& message)
    {
        // yaml-cpp counts from 0; a mark of a node it did not read is -1
        const int line = mark.line < 0 ? 1 : mark.line + 1;
        const int column = mark.column < 0 ? 1 : mark.column + 1;
        if (!text_.empty())
            text_ += '\n';
        text_ += file_ + ':' + std::to_string(line) + ':' + std::to_string(column) + ": " + message;
    }
    bool empty() const { return text_.empty(); }
    Error error() const
    {
        Error error;
        error.kind = Error::Kind::parse;
        error.errcode = std::string{document_metadata_invalid};
        error.message = text_;
        return error;
    }

private:
    std::string file_;
    std::string text_;
};

std::string trimmed(const std::string& text)
{
    const auto first = text.find_first_not_of(" \t");
    if (first == std::string::npos)
        return {};
    return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

bool is_leap(int year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

/// "2024-02-19" or "19/02/2024" as "2024-02-19", for a real calendar day.
std::optional<std::string> iso_date(std::string_view text)
{
    const auto number = [&](std::size_t at, std::size_t length) -> int {
        int value = 0;
        for (std::size_t i = at; i < at + length; ++i) {
            if (text[i] < '0' || text[i] > '9')
                return -1;
            value = value * 10 + (text[i] - '0');
        }
        return value;
    };
    if (text.size() != 10)
        return std::nullopt;
    int year = 0;
    int month = 0;
    int day = 0;
    if (text[4] == '-' && text[7] == '-') {
        year = number(0, 4);
        month = number(5, 2);
        day = number(8, 2);
    } else if (text[2] == '/' && text[5] == '/') {
        day = number(0, 2);
        month = number(3, 2);
        year = number(6, 4);
    } else {
        return std::nullopt;
    }
    static constexpr std::array<int, 12> days{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (year < 1990 || month < 1 || month > 12 || day < 1)
        return std::nullopt;
    const int last = days[static_cast<std::size_t>(month - 1)] + (month == 2 && is_leap(year));
    if (day > last)
        return std::nullopt;
    std::string iso = std::to_string(year) + '-';
    iso += static_cast<char>('0' + month / 10);
    iso += static_cast<char>('0' + month % 10);
    iso += '-';
    iso += static_cast<char>('0' + day / 10);
    iso += static_cast<char>('0' + day % 10);
    return iso;
}

bool is_https_address(const std::string& address)
{
    constexpr std::string_view scheme = "https://";
    return address.starts_with(scheme) && address.size() > scheme.size() &&
           address[scheme.size()] != '/' && address.find_first_of(" \t\"<>") == std::string::npos;
}

std::string key_list()
{
    std::string list;
    for (const auto key : keys)
        list += (list.empty() ? "" : ", ") + std::string{key};
    return list;
}

} // namespace

std::string metadata_file_name(std::string_view document_file_name)
{
    return std::string{document_file_name} + ".yaml";
}

Result<DocumentMetadata> parse_document_metadata(std::string_view file_name,
                                                 const std::string& yaml)
{
    Problems problems{file_name};
    YAML::Node root;
    try {
        root = YAML::Load(yaml);
    } catch (const YAML::Exception& e) {
        problems.add(e.mark, "YAML illisible : " + e.msg);
        return problems.error();
    }
    if (!root.IsMap()) {
        problems.add(root.Mark(),
                     "il faut une liste de champs « nom: valeur » (" + key_list() + ")");
        return problems.error();
    }

    DocumentMetadata metadata;
    std::set<std::string> seen;
    for (const auto& field : root) {
        const auto key = field.first.IsScalar() ? field.first.Scalar() : std::string{};
        const auto& value = field.second;
        const auto mark = field.first.Mark();
        if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
            problems.add(mark,
                         "champ inconnu « " + key + " » (champs possibles : " + key_list() + ")");
            continue;
        }
        if (!seen.insert(key).second) {
            problems.add(mark, "champ « " + key + " » en double");
            continue;
        }
        if (key == "profils") {
            std::vector<std::string> profils;
            if (value.IsScalar() && !trimmed(value.Scalar()).empty())
                profils.push_back(trimmed(value.Scalar()));
            else if (value.IsSequence())
                for (const auto& item : value) {
                    if (!item.IsScalar() || trimmed(item.Scalar()).empty()) {
                        problems.add(item.Mark(), "profil vide ou invalide (un nom par élément)");
                        continue;
                    }
                    profils.push_back(trimmed(item.Scalar()));
                }
            if (profils.empty() && !(value.IsSequence() && value.size() > 0))
                problems.add(value.IsNull() ? mark : value.Mark(),
                             "champ « profils » vide : une liste, par exemple [gestionnaire, "
                             "agent comptable]");
            metadata.profils = std::move(profils);
            continue;
        }
        const std::string text = value.IsScalar() ? trimmed(value.Scalar()) : std::string{};
        const auto value_mark = value.IsNull() ? mark : value.Mark();
        if (text.empty()) {
            problems.add(value_mark, "champ « " + key + " » vide ou qui n'est pas un texte");
            continue;
        }
        if (key == "titre") {
            metadata.titre = text;
        } else if (key == "adresse") {
            if (is_https_address(text))
                metadata.adresse = text;
            else
                problems.add(value_mark, "adresse « " + text +
                                             " » invalide : un lien https:// (celui de Tribu)");
        } else if (key == "domaine") {
            const auto& domains = known_domains();
            if (std::find(domains.begin(), domains.end(), text) != domains.end()) {
                metadata.domaine = text;
            } else {
                std::string choices;
                for (const auto& domain : domains)
                    choices += (choices.empty() ? "" : ", ") + domain;
                problems.add(value_mark,
                             "domaine inconnu « " + text + " » (possibles : " + choices + ")");
            }
        } else if (auto date = iso_date(text)) {
            metadata.mis_a_jour = std::move(*date);
        } else {
            problems.add(value_mark,
                         "date « " + text + " » invalide (attendu AAAA-MM-JJ ou JJ/MM/AAAA)");
        }
    }
    // Only the title is required: a document added from the salon is known by its title and
    // perhaps its link, and the rest is what a curator adds later.
    if (!seen.contains("titre"))
        problems.add(root.Mark(), "champ « titre » manquant");
    if (!problems.empty())
        return problems.error();
    return metadata;
}

} // namespace opalebot::knowledge
