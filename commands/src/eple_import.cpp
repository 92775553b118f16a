#include "commands/eple_import.hpp"

#include "commands/eple_csv.hpp"
#include "knowledge/text.hpp"
#include "opalebot/log.hpp"
#include "opalebot/text_hygiene.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <map>
#include <span>
#include <unordered_map>
#include <unordered_set>

namespace opalebot::commands {
namespace {

constexpr std::string_view uai_letters = "ABCDEFGHJKLMNPRSTUVWXYZ";
constexpr int max_count = 999'999'999; // far above any EPLE's count; keeps `int` safe

/// The length of the space (ASCII, or the no-break spaces French spreadsheets put before "%")
/// that `text` starts with, or 0.
std::size_t leading_space(std::string_view text)
{
    if (!text.empty() && (text.front() == ' ' || text.front() == '\t' || text.front() == '\r'))
        return 1;
    if (text.starts_with("\u00A0"))
        return 2;
    if (text.starts_with("\u202F"))
        return 3;
    return 0;
}

std::size_t trailing_space(std::string_view text)
{
    if (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r'))
        return 1;
    if (text.ends_with("\u00A0"))
        return 2;
    if (text.ends_with("\u202F"))
        return 3;
    return 0;
}

std::string_view trim(std::string_view text)
{
    while (const auto n = leading_space(text))
        text.remove_prefix(n);
    while (const auto n = trailing_space(text))
        text.remove_suffix(n);
    return text;
}

/// Digits only, spaces between them (thousands separators) removed; nothing for anything else.
std::optional<int> parse_count(std::string_view text)
{
    std::string digits;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c >= '0' && c <= '9')
            digits += c;
        else if (const auto n = leading_space(text.substr(i)); n > 0)
            i += n - 1;
        else
            return std::nullopt;
    }
    if (digits.empty() || digits.size() > 9)
        return std::nullopt;
    int value = 0;
    std::from_chars(digits.data(), digits.data() + digits.size(), value);
    return value;
}

std::string cut(std::string_view text, std::size_t limit)
{
    if (text.size() <= limit)
        return std::string{text};
    std::string out{text.substr(0, limit)};
    while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0U) == 0x80U)
        out.pop_back(); // never cut a UTF-8 character in two
    if (!out.empty())
        out.pop_back();
    return out + "…";
}

/// Two numbers, two slashes and a 4-digit year: a date written right, if not a real one.
bool has_date_shape(std::string_view text)
{
    const auto first = text.find('/');
    const auto second = text.rfind('/');
    const auto digits = [](std::string_view part, std::size_t min, std::size_t max) {
        return part.size() >= min && part.size() <= max &&
               std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    };
    return first != std::string_view::npos && first != second &&
           digits(text.substr(0, first), 1, 2) &&
           digits(text.substr(first + 1, second - first - 1), 1, 2) &&
           digits(text.substr(second + 1), 4, 4);
}

struct ColumnSpec {
    std::string_view name;
    bool required;
};

constexpr std::array<ColumnSpec, 7> etablissement_columns{{{"uai", true},
                                                           {"nom", true},
                                                           {"commune", false},
                                                           {"type", false},
                                                           {"academie", false},
                                                           {"vague", true},
                                                           {"uai_agence_comptable", false}}};

constexpr std::array<ColumnSpec, 9> indicateur_columns{{{"uai", true},
                                                        {"date", true},
                                                        {"kit_taux", true},
                                                        {"budget_integre", true},
                                                        {"budget_saisie", false},
                                                        {"paiements", true},
                                                        {"ej", true},
                                                        {"titres_recettes", true},
                                                        {"prelevements", false}}};

/// Reads the cells of one file's records by column name and collects what is wrong with them.
class FileReader {
public:
    FileReader(const CsvTable& table, std::span<const ColumnSpec> columns, ImportReport& report)
        : table_(table), columns_(columns), report_(report)
    {
        if (table.unclosed_quote_line != 0)
            report.errors.push_back({table.unclosed_quote_line,
                                     {},
                                     {},
                                     "guillemet ouvert jamais refermé : la suite du fichier ne "
                                     "peut pas être lue"});
        if (table.from_windows_1252)
            report.notes.emplace_back("fichier lu comme Windows-1252 (l'encodage des CSV "
                                      "d'Excel) : il n'était pas en UTF-8");
        if (table.header.empty()) {
            report.errors.push_back({0, {}, {}, "fichier vide"});
            return;
        }
        for (std::size_t i = 0; i < table.header.size(); ++i) {
            const auto raw = trim(table.header[i]);
            const auto name = normalize_column_name(raw);
            if (name.empty())
                continue; // the empty last column of a line ending in a separator
            const auto spec = std::find_if(columns.begin(), columns.end(),
                                           [&](const ColumnSpec& c) { return c.name == name; });
            if (spec == columns.end()) {
                report.notes.push_back("colonne « " + cut(raw, 80) +
                                       " » ignorée : elle n'est pas attendue dans ce fichier");
                continue;
            }
            if (const auto [it, added] = positions_.try_emplace(name, i); !added) {
                report.errors.push_back(
                    {table.header_line, name, std::string{raw},
                     "colonne en double (déjà en colonne " + std::to_string(it->second + 1) + ")"});
            }
        }
        for (const auto& spec : columns)
            if (spec.required && !positions_.contains(std::string{spec.name}))
                report.errors.push_back({table.header_line,
                                         std::string{spec.name},
                                         {},
                                         "colonne obligatoire absente de l'en-tête"});
        if (table.records.empty() && table.unclosed_quote_line == 0)
            report.errors.push_back({0, {}, {}, "aucune ligne de données après l'en-tête"});
    }

    /// False when the header already failed: the records cannot be read by name.
    bool header_usable() const
    {
        return !table_.header.empty() &&
               std::all_of(columns_.begin(), columns_.end(), [&](const ColumnSpec& c) {
                   return !c.required || positions_.contains(std::string{c.name});
               });
    }

    /// Starts a record; false (and an error) when it has non-empty values beyond the header.
    bool start(const CsvRecord& record)
    {
        record_ = &record;
        for (std::size_t i = table_.header.size(); i < record.fields.size(); ++i)
            if (!trim(record.fields[i]).empty()) {
                error({}, record.fields[i],
                      "valeur au-delà des " + std::to_string(table_.header.size()) +
                          " colonnes de l'en-tête (une valeur contenant le séparateur « " +
                          std::string(1, table_.separator) + " » doit être entre guillemets)");
                return false;
            }
        return true;
    }

    /// The trimmed cell of `column`; empty when the column or the cell is missing.
    std::string_view cell(std::string_view column) const
    {
        const auto it = positions_.find(column);
        if (it == positions_.end() || it->second >= record_->fields.size())
            return {};
        return trim(record_->fields[it->second]);
    }

    bool has_column(std::string_view column) const { return positions_.contains(column); }

    /// The cell of a required column, or an error when it is empty.
    std::optional<std::string_view> required(std::string_view column)
    {
        const auto value = cell(column);
        if (value.empty()) {
            error(column, value, "valeur obligatoire manquante");
            return std::nullopt;
        }
        return value;
    }

    void error(std::string_view column, std::string_view value, std::string reason)
    {
        report_.errors.push_back(
            {record_->line, std::string{column}, std::string{value}, std::move(reason)});
    }

    int line() const { return record_->line; }

private:
    const CsvTable& table_;
    std::span<const ColumnSpec> columns_;
    ImportReport& report_;
    std::map<std::string, std::size_t, std::less<>> positions_;
    const CsvRecord* record_ = nullptr;
};

/// An UAI cell as stored (upper case), or an error.
std::optional<std::string> read_uai(FileReader& reader, std::string_view column,
                                    std::string_view value)
{
    std::string uai{value};
    if (uai.size() == 8 && uai[7] >= 'a' && uai[7] <= 'z')
        uai[7] = static_cast<char>(uai[7] - 'a' + 'A');
    const bool shaped =
        uai.size() == 8 &&
        std::all_of(uai.begin(), uai.begin() + 7, [](char c) { return c >= '0' && c <= '9'; }) &&
        uai[7] >= 'A' && uai[7] <= 'Z';
    if (!shaped) {
        reader.error(column, value,
                     "un UAI s'écrit avec 7 chiffres suivis d'une lettre (ex. 0750655E)");
        return std::nullopt;
    }
    const auto key = uai_key(std::string_view{uai}.substr(0, 7));
    if (key != uai[7]) {
        reader.error(column, value,
                     "clé de l'UAI incorrecte : la lettre de " + uai.substr(0, 7) + " est " +
                         std::string(1, *key));
        return std::nullopt;
    }
    return uai;
}

std::optional<bool> read_yes_no(FileReader& reader, std::string_view column, std::string_view value)
{
    const auto folded = knowledge::fold(value);
    if (folded == "oui")
        return true;
    if (folded == "non")
        return false;
    reader.error(column, value, "oui ou non attendu");
    return std::nullopt;
}

std::optional<int> read_count(FileReader& reader, std::string_view column, std::string_view value)
{
    auto count = parse_count(value);
    if (!count)
        reader.error(column, value, "nombre entier positif ou nul attendu (ex. 12)");
    else if (*count > max_count)
        reader.error(column, value, "nombre trop grand");
    return count && *count <= max_count ? count : std::nullopt;
}

void finish(ImportReport& report, const auto& write)
{
    if (!report.errors.empty()) {
        log::get("commands")
            ->info("eple import of {} refused: {} errors", report.kind, report.errors.size());
        return;
    }
    if (const auto written = write(); !written) {
        report.errors.push_back(
            {0, {}, {}, "l'écriture dans la base a échoué (" + written.error().message + ")"});
        return;
    }
    report.ok = true;
    log::get("commands")->info("eple import of {}: {} rows", report.kind, report.rows);
}

} // namespace

std::optional<char> uai_key(std::string_view seven_digits)
{
    if (seven_digits.size() != 7 || !std::all_of(seven_digits.begin(), seven_digits.end(),
                                                 [](char c) { return c >= '0' && c <= '9'; }))
        return std::nullopt;
    int number = 0;
    std::from_chars(seven_digits.data(), seven_digits.data() + 7, number);
    return uai_letters[static_cast<std::size_t>(number % 23)];
}

bool is_valid_uai(std::string_view uai)
{
    return uai.size() == 8 && uai_key(uai.substr(0, 7)) == uai[7];
}

std::optional<double> parse_french_decimal(std::string_view text)
{
    text = trim(text);
    if (!text.empty() && text.back() == '%') {
        text.remove_suffix(1);
        text = trim(text);
    }
    std::string number{text};
    std::size_t separators = 0;
    for (auto& c : number) {
        if (c == ',' || c == '.') {
            c = '.';
            ++separators;
        } else if (c < '0' || c > '9') {
            return std::nullopt;
        }
    }
    if (number.empty() || separators > 1 || number.front() == '.' || number.back() == '.')
        return std::nullopt;
    double value = 0;
    const auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), value);
    if (error != std::errc{} || end != number.data() + number.size())
        return std::nullopt;
    return value;
}

std::optional<std::chrono::year_month_day> parse_french_date(std::string_view text)
{
    text = trim(text);
    const auto read = [&text](std::size_t min_digits,
                              std::size_t max_digits) -> std::optional<int> {
        std::size_t n = 0;
        while (n < text.size() && n < max_digits && text[n] >= '0' && text[n] <= '9')
            ++n;
        if (n < min_digits)
            return std::nullopt;
        int value = 0;
        std::from_chars(text.data(), text.data() + n, value);
        text.remove_prefix(n);
        return value;
    };
    const auto slash = [&text] {
        if (text.empty() || text.front() != '/')
            return false;
        text.remove_prefix(1);
        return true;
    };
    const auto day = read(1, 2);
    if (!day || !slash())
        return std::nullopt;
    const auto month = read(1, 2);
    if (!month || !slash())
        return std::nullopt;
    const auto year = read(4, 4);
    if (!year || !text.empty())
        return std::nullopt;
    const std::chrono::year_month_day date{std::chrono::year{*year},
                                           std::chrono::month{static_cast<unsigned>(*month)},
                                           std::chrono::day{static_cast<unsigned>(*day)}};
    if (!date.ok())
        return std::nullopt;
    return date;
}

ImportReport import_etablissements(EpleStore& store, std::string_view csv,
                                   std::string_view file_name)
{
    ImportReport report;
    report.file_name = file_name;
    report.kind = "etablissements";
    const auto table = parse_csv(csv);
    FileReader reader{table, etablissement_columns, report};
    if (!reader.header_usable())
        return report;

    std::vector<Etablissement> etablissements;
    etablissements.reserve(table.records.size());
    std::unordered_map<std::string, int> first_line; // UAI → line, to name the duplicate
    for (const auto& record : table.records) {
        ++report.rows;
        if (!reader.start(record))
            continue;
        Etablissement e;
        bool good = true;
        if (const auto raw = reader.required("uai")) {
            if (auto uai = read_uai(reader, "uai", *raw)) {
                if (const auto [it, added] = first_line.try_emplace(*uai, record.line); !added) {
                    reader.error("uai", *raw,
                                 "UAI en double (déjà ligne " + std::to_string(it->second) + ")");
                    good = false;
                }
                e.uai = std::move(*uai);
            } else {
                good = false;
            }
        } else {
            good = false;
        }
        // Shown to every user: no bidi control reorders them, no invalid UTF-8 (issue 15).
        if (const auto nom = reader.required("nom"))
            e.nom = clean_name(*nom);
        else
            good = false;
        e.commune = clean_name(reader.cell("commune"));
        e.type = reader.cell("type");
        e.academie = reader.cell("academie");
        if (const auto raw = reader.required("vague")) {
            const auto vague = parse_count(*raw);
            if (!vague || *vague < 1 || *vague > 9) {
                reader.error("vague", *raw, "la vague est un nombre entier de 1 à 9");
                good = false;
            } else {
                e.vague = *vague;
            }
        } else {
            good = false;
        }
        if (const auto raw = reader.cell("uai_agence_comptable"); !raw.empty()) {
            if (auto uai = read_uai(reader, "uai_agence_comptable", raw))
                e.uai_agence_comptable = std::move(*uai);
            else
                good = false;
        }
        if (good)
            etablissements.push_back(std::move(e));
    }
    finish(report, [&] { return store.save_etablissements(etablissements); });
    return report;
}

ImportReport import_indicateurs(EpleStore& store, std::string_view csv, std::string_view file_name)
{
    ImportReport report;
    report.file_name = file_name;
    report.kind = "indicateurs";
    const auto table = parse_csv(csv);
    FileReader reader{table, indicateur_columns, report};
    if (!reader.header_usable())
        return report;

    const auto referential = store.etablissements();
    if (!referential) {
        report.errors.push_back(
            {0, {}, {}, "lecture du référentiel impossible (" + referential.error().message + ")"});
        return report;
    }
    std::unordered_set<std::string> known;
    known.reserve(referential.value().size());
    for (const auto& e : referential.value())
        known.insert(e.uai);

    std::vector<Snapshot> snapshots;
    snapshots.reserve(table.records.size());
    std::map<std::pair<std::string, long>, int> first_line; // (UAI, day) → line
    for (const auto& record : table.records) {
        ++report.rows;
        if (!reader.start(record))
            continue;
        Snapshot s;
        bool good = true;
        const auto raw_uai = reader.required("uai");
        if (raw_uai) {
            if (auto uai = read_uai(reader, "uai", *raw_uai)) {
                if (!known.contains(*uai)) {
                    reader.error("uai", *raw_uai,
                                 "UAI absent du référentiel : importez d'abord le fichier des "
                                 "établissements");
                    good = false;
                }
                s.uai = std::move(*uai);
            } else {
                good = false;
            }
        } else {
            good = false;
        }
        bool dated = false;
        if (const auto raw = reader.required("date")) {
            if (const auto date = parse_french_date(*raw); !date) {
                reader.error("date", *raw,
                             has_date_shape(*raw) ? "cette date n'existe pas"
                                                  : "date attendue au format JJ/MM/AAAA");
                good = false;
            } else if (date->year() < std::chrono::year{2020} ||
                       date->year() > std::chrono::year{2099}) {
                reader.error("date", *raw, "année invraisemblable pour un relevé op@le");
                good = false;
            } else {
                s.date = *date;
                dated = true;
            }
        } else {
            good = false;
        }
        if (good && dated) {
            const long day = std::chrono::sys_days{s.date}.time_since_epoch().count();
            if (const auto [it, added] = first_line.try_emplace({s.uai, day}, record.line);
                !added) {
                reader.error("date", reader.cell("date"),
                             "deuxième relevé pour cet UAI et cette date (déjà ligne " +
                                 std::to_string(it->second) + ")");
                good = false;
            }
        }
        if (const auto raw = reader.required("kit_taux")) {
            const auto rate = parse_french_decimal(*raw);
            if (!rate || *rate > 100) {
                reader.error("kit_taux", *raw, "un pourcentage de 0 à 100 est attendu (ex. 20,6)");
                good = false;
            } else {
                s.kit_taux = *rate;
            }
        } else {
            good = false;
        }
        if (const auto raw = reader.required("budget_integre")) {
            if (const auto yes = read_yes_no(reader, "budget_integre", *raw))
                s.budget_integre = *yes;
            else
                good = false;
        } else {
            good = false;
        }
        if (const auto raw = reader.cell("budget_saisie"); !raw.empty()) {
            const auto folded = knowledge::fold(raw); // "op@le" folds to "opale"
            if (folded == "gfc") {
                s.budget_saisie = BudgetSaisie::gfc;
            } else if (folded == "opale") {
                s.budget_saisie = BudgetSaisie::opale;
            } else {
                reader.error("budget_saisie", raw, "GFC ou OPALE attendu");
                good = false;
            }
        }
        for (const auto& [column, target] :
             {std::pair{"paiements", &s.paiements}, std::pair{"ej", &s.ej},
              std::pair{"titres_recettes", &s.titres_recettes}}) {
            if (const auto raw = reader.required(column)) {
                if (const auto count = read_count(reader, column, *raw))
                    *target = *count;
                else
                    good = false;
            } else {
                good = false;
            }
        }
        if (const auto raw = reader.cell("prelevements"); !raw.empty()) {
            if (const auto yes = read_yes_no(reader, "prelevements", raw))
                s.prelevements = *yes;
            else
                good = false;
        }
        if (good)
            snapshots.push_back(std::move(s));
    }
    finish(report, [&] { return store.save_snapshots(snapshots); });
    return report;
}

namespace {

std::string rows_done(const ImportReport& report)
{
    const auto n = std::to_string(report.rows);
    if (report.kind == "etablissements")
        return n + (report.rows > 1 ? " établissements importés" : " établissement importé") +
               " (ajoutés ou mis à jour)";
    return n + (report.rows > 1 ? " relevés d'indicateurs importés" : " relevé importé");
}

std::string error_count(const ImportReport& report)
{
    const auto n = report.errors.size();
    return std::to_string(n) + (n > 1 ? " erreurs" : " erreur");
}

std::string where(const ImportError& error)
{
    return error.line == 0 ? std::string{"fichier"} : "ligne " + std::to_string(error.line);
}

} // namespace

std::string format_import_report_text(const ImportReport& report)
{
    std::string text;
    if (report.ok) {
        text = report.file_name + " : " + rows_done(report) + ".\n";
    } else {
        text = report.file_name + " : import refusé, rien n'a été enregistré (" +
               error_count(report) + ").\n";
        for (const auto& e : report.errors) {
            text += "  " + where(e);
            if (!e.column.empty())
                text += ", colonne " + e.column;
            if (e.line != 0 && !e.column.empty())
                text += e.value.empty() ? std::string{", valeur vide"}
                                        : ", valeur « " + cut(e.value, 80) + " »";
            text += " : " + e.reason + "\n";
        }
    }
    for (const auto& note : report.notes)
        text += "  remarque : " + note + "\n";
    return text;
}

std::string format_import_report_markdown(const ImportReport& report, std::size_t max_bytes)
{
    const auto file = knowledge::escape_markdown(report.file_name);
    std::string text;
    if (report.ok) {
        text = "**Import réussi** (" + file + ") : " + rows_done(report) + ".\n";
    } else {
        text = "**Import refusé** : rien n'a été enregistré (" + file + ", " + error_count(report) +
               ").\n\n";
        std::size_t listed = 0;
        for (const auto& e : report.errors) {
            std::string item = "- " + where(e);
            if (!e.column.empty())
                item += ", colonne `" + e.column + "`";
            if (e.line != 0 && !e.column.empty())
                item += e.value.empty()
                            ? std::string{", valeur vide"}
                            : ", valeur « " + knowledge::escape_markdown(cut(e.value, 80)) + " »";
            item += " : " + knowledge::escape_markdown(e.reason) + "\n";
            if (text.size() + item.size() > max_bytes)
                break;
            text += item;
            ++listed;
        }
        if (listed < report.errors.size())
            text += "- … et " + std::to_string(report.errors.size() - listed) +
                    " autres erreurs, trop nombreuses pour un message : corrigez les premières "
                    "puis réimportez (la liste complète s'obtient en ligne de commande).\n";
    }
    if (!report.notes.empty()) {
        // A CSV of 100,000 columns made as many remarks, and a reply Synapse refused (issue 15).
        constexpr std::size_t max_notes = 50;
        text += "\nRemarques :\n";
        for (std::size_t i = 0; i < report.notes.size() && i < max_notes; ++i)
            text += "- " + knowledge::escape_markdown(report.notes[i]) + "\n";
        if (report.notes.size() > max_notes)
            text += "- … et " + std::to_string(report.notes.size() - max_notes) +
                    " autres remarques.\n";
    }
    return text;
}

} // namespace opalebot::commands
