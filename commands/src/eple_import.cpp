#include "commands/eple_import.hpp"

#include "commands/eple_csv.hpp"
#include "knowledge/text.hpp"
#include "opalebot/log.hpp"
#include "opalebot/text_hygiene.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <map>
#include <span>

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

constexpr std::size_t kept_bytes = 200; // of a value or column name in a report

/// Counts an error, and keeps it when fewer than max_listed_remarks are. `first` puts it before
/// the others (a quote never closed, found at the end, is what to fix first).
void add_error(ImportReport& report, int line, std::string_view column, std::string_view value,
               std::string reason, bool first = false)
{
    ++report.error_count;
    if (!first && report.errors.size() >= max_listed_remarks)
        return;
    ImportError error{line, cut(column, kept_bytes), cut(value, kept_bytes), std::move(reason)};
    if (!first) {
        report.errors.push_back(std::move(error));
        return;
    }
    report.errors.insert(report.errors.begin(), std::move(error));
    if (report.errors.size() > max_listed_remarks)
        report.errors.pop_back();
}

void add_note(ImportReport& report, std::string note)
{
    if (++report.note_count <= max_listed_remarks)
        report.notes.push_back(std::move(note));
}

/// Reads the cells of one file's records by column name and collects what is wrong with them.
class FileReader {
public:
    FileReader(CsvReader& csv, std::span<const ColumnSpec> columns, ImportReport& report)
        : csv_(csv), columns_(columns), report_(report)
    {
        if (csv.from_windows_1252())
            add_note(report, "fichier lu comme Windows-1252 (l'encodage des CSV "
                             "d'Excel) : il n'était pas en UTF-8");
        const auto& header = csv.header();
        if (header.empty()) {
            add_error(report, 0, {}, {}, "fichier vide");
            return;
        }
        for (std::size_t i = 0; i < header.size(); ++i) {
            const auto raw = trim(header[i]);
            const auto name = normalize_column_name(raw);
            if (name.empty())
                continue; // the empty last column of a line ending in a separator
            const auto spec = std::find_if(columns.begin(), columns.end(),
                                           [&](const ColumnSpec& c) { return c.name == name; });
            if (spec == columns.end()) {
                add_note(report, "colonne « " + cut(raw, 80) +
                                     " » ignorée : elle n'est pas attendue dans ce fichier");
                continue;
            }
            if (const auto [it, added] = positions_.try_emplace(name, i); !added) {
                add_error(report, csv.header_line(), name, raw,
                          "colonne en double (déjà en colonne " + std::to_string(it->second + 1) +
                              ")");
            }
        }
        for (const auto& spec : columns)
            if (spec.required && !positions_.contains(std::string{spec.name}))
                add_error(report, csv.header_line(), spec.name, {},
                          "colonne obligatoire absente de l'en-tête");
    }

    /// False when the header already failed: the records cannot be read by name.
    bool header_usable() const
    {
        return !csv_.header().empty() &&
               std::all_of(columns_.begin(), columns_.end(), [&](const ColumnSpec& c) {
                   return !c.required || positions_.contains(std::string{c.name});
               });
    }

    /// The next record, counted in the report's rows; null after the last.
    const CsvRecord* next()
    {
        record_ = csv_.next();
        if (record_ != nullptr)
            ++report_.rows;
        return record_;
    }

    /// What only the end of the file tells: a quote never closed, a read cut short, no data.
    /// A file whose header failed is still read to its end for them, its records unchecked.
    void finish()
    {
        bool any = report_.rows > 0;
        while (csv_.next() != nullptr)
            any = true;
        if (!csv_.header().empty() && !any && csv_.unclosed_quote_line() == 0)
            add_error(report_, 0, {}, {}, "aucune ligne de données après l'en-tête");
        if (csv_.read_failed())
            add_error(report_, 0, {}, {},
                      "lecture du fichier interrompue : il n'a pas pu être lu jusqu'au bout", true);
        if (csv_.unclosed_quote_line() != 0)
            add_error(report_, csv_.unclosed_quote_line(), {}, {},
                      "guillemet ouvert jamais refermé : la suite du fichier ne peut pas être lue",
                      true);
    }

    /// Starts a record; false (and an error) when it has non-empty values beyond the header.
    bool start(const CsvRecord& record)
    {
        const auto columns = csv_.header().size();
        for (std::size_t i = columns; i < record.fields.size(); ++i)
            if (!trim(record.fields[i]).empty()) {
                error({}, record.fields[i],
                      "valeur au-delà des " + std::to_string(columns) +
                          " colonnes de l'en-tête (une valeur contenant le séparateur « " +
                          std::string(1, csv_.separator()) + " » doit être entre guillemets)");
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
        add_error(report_, record_->line, column, value, std::move(reason));
    }

    int line() const { return record_->line; }

private:
    CsvReader& csv_;
    std::span<const ColumnSpec> columns_;
    ImportReport& report_;
    std::map<std::string, std::size_t, std::less<>> positions_;
    const CsvRecord* record_ = nullptr;
};

/// The line where each key was first seen, in 12 bytes a slot of an open-addressing table: a
/// million keys take 24 MiB, where a std::map of strings took about 100 (issue 15).
class FirstLines {
public:
    /// The line `key` was first seen on; nothing, and `line` kept, when it is new.
    std::optional<int> see(std::uint64_t key, int line)
    {
        if ((count_ + 1) * 4 > keys_.size() * 3)
            grow();
        const std::size_t at = find(key);
        if (keys_[at] == key + 1)
            return lines_[at];
        keys_[at] = key + 1;
        lines_[at] = line;
        ++count_;
        return std::nullopt;
    }

private:
    /// The slot of `key`, or the empty one where it goes.
    std::size_t find(std::uint64_t key) const
    {
        const std::size_t mask = keys_.size() - 1;
        auto at = static_cast<std::size_t>((key * 0x9E3779B97F4A7C15ULL) >> 20U) & mask;
        while (keys_[at] != 0 && keys_[at] != key + 1)
            at = (at + 1) & mask;
        return at;
    }

    void grow()
    {
        std::vector<std::uint64_t> keys(std::max<std::size_t>(1024, keys_.size() * 2), 0);
        std::vector<int> lines(keys.size(), 0);
        std::swap(keys, keys_);
        std::swap(lines, lines_);
        for (std::size_t i = 0; i < keys.size(); ++i)
            if (keys[i] != 0) {
                const auto at = find(keys[i] - 1);
                keys_[at] = keys[i];
                lines_[at] = lines[i];
            }
    }

    std::vector<std::uint64_t> keys_; ///< key + 1; 0 is an empty slot
    std::vector<int> lines_;
    std::size_t count_ = 0;
};

/// The number of a valid UAI (its 7 digits): the key letter follows from it.
std::uint64_t uai_number(std::string_view uai)
{
    std::uint64_t number = 0;
    std::from_chars(uai.data(), uai.data() + 7, number);
    return number;
}

/// Good rows on their way to the store, a thousand at a time, as long as the file has no error:
/// one error and nothing will be committed, so writing stops there.
template <class Row>
class Batches {
public:
    Batches(EpleStore& store, ImportReport& report) : writer_(store), report_(report) {}

    void add(Row row)
    {
        if (report_.error_count > 0 || failure_)
            return;
        rows_.push_back(std::move(row));
        if (rows_.size() == batch_size)
            flush();
    }

    /// Writes the rest and commits when no line was wrong; the report says what happened.
    void finish()
    {
        if (report_.error_count > 0) {
            log::get("commands")
                ->info("eple import of {} refused: {} errors", report_.kind, report_.error_count);
            return; // ~EpleImportWriter rolls back
        }
        flush();
        if (!failure_)
            if (auto committed = writer_.commit(); !committed)
                failure_ = committed.error();
        if (failure_) {
            add_error(report_, 0, {}, {},
                      "l'écriture dans la base a échoué (" + failure_->message + ")");
            return;
        }
        report_.ok = true;
        log::get("commands")->info("eple import of {}: {} rows", report_.kind, report_.rows);
    }

private:
    static constexpr std::size_t batch_size = 1'000;

    void flush()
    {
        if (!failure_ && !rows_.empty())
            if (auto written = writer_.add(std::span<const Row>{rows_}); !written)
                failure_ = written.error();
        rows_.clear();
    }

    EpleImportWriter writer_;
    ImportReport& report_;
    std::vector<Row> rows_;
    std::optional<Error> failure_; ///< reported only when the file itself was right
};

ImportReport new_report(std::string_view file_name, std::string_view kind)
{
    ImportReport report;
    report.file_name = file_name;
    report.kind = kind;
    return report;
}

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

namespace {

ImportReport import_etablissements(EpleStore& store, CsvReader& csv, std::string_view file_name)
{
    auto report = new_report(file_name, "etablissements");
    FileReader reader{csv, etablissement_columns, report};
    if (!reader.header_usable()) {
        reader.finish();
        return report;
    }

    Batches<Etablissement> etablissements{store, report};
    FirstLines first_line; // UAI → line, to name the duplicate
    while (const auto* record = reader.next()) {
        if (!reader.start(*record))
            continue;
        Etablissement e;
        bool good = true;
        if (const auto raw = reader.required("uai")) {
            if (auto uai = read_uai(reader, "uai", *raw)) {
                if (const auto first = first_line.see(uai_number(*uai), record->line)) {
                    reader.error("uai", *raw,
                                 "UAI en double (déjà ligne " + std::to_string(*first) + ")");
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
            etablissements.add(std::move(e));
    }
    reader.finish();
    etablissements.finish();
    return report;
}

/// The referential's UAI by number, a bit each: 1.2 MiB however many EPLE it holds.
Result<std::vector<bool>> known_uais(EpleStore& store)
{
    std::vector<bool> known(10'000'000, false);
    auto read = store.for_each_uai([&known](const std::string& uai) {
        if (is_valid_uai(uai))
            known[uai_number(uai)] = true;
    });
    if (!read)
        return read.error();
    return known;
}

ImportReport import_indicateurs(EpleStore& store, CsvReader& csv, std::string_view file_name)
{
    auto report = new_report(file_name, "indicateurs");
    FileReader reader{csv, indicateur_columns, report};
    if (!reader.header_usable()) {
        reader.finish();
        return report;
    }

    const auto known = known_uais(store);
    if (!known) {
        reader.finish();
        add_error(report, 0, {}, {},
                  "lecture du référentiel impossible (" + known.error().message + ")");
        return report;
    }

    Batches<Snapshot> snapshots{store, report};
    FirstLines first_line; // (UAI, day) → line
    constexpr std::chrono::sys_days first_day{std::chrono::year{2020} / 1 / 1};
    while (const auto* record = reader.next()) {
        if (!reader.start(*record))
            continue;
        Snapshot s;
        bool good = true;
        const auto raw_uai = reader.required("uai");
        if (raw_uai) {
            if (auto uai = read_uai(reader, "uai", *raw_uai)) {
                if (!known.value()[uai_number(*uai)]) {
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
        if (good && dated) { // years 2020 to 2099: a day fits in 15 bits
            const auto day =
                static_cast<std::uint64_t>((std::chrono::sys_days{s.date} - first_day).count());
            if (const auto first = first_line.see((uai_number(s.uai) << 15U) | day, record->line)) {
                reader.error("date", reader.cell("date"),
                             "deuxième relevé pour cet UAI et cette date (déjà ligne " +
                                 std::to_string(*first) + ")");
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
            snapshots.add(std::move(s));
    }
    reader.finish();
    snapshots.finish();
    return report;
}

} // namespace

ImportReport import_etablissements(EpleStore& store, std::string_view csv,
                                   std::string_view file_name)
{
    CsvReader reader{csv};
    return import_etablissements(store, reader, file_name);
}

ImportReport import_etablissements(EpleStore& store, std::istream& csv, std::string_view file_name)
{
    CsvReader reader{csv};
    return import_etablissements(store, reader, file_name);
}

ImportReport import_indicateurs(EpleStore& store, std::string_view csv, std::string_view file_name)
{
    CsvReader reader{csv};
    return import_indicateurs(store, reader, file_name);
}

ImportReport import_indicateurs(EpleStore& store, std::istream& csv, std::string_view file_name)
{
    CsvReader reader{csv};
    return import_indicateurs(store, reader, file_name);
}

namespace {

/// 1999950 as "1 999 950", as French writes it.
std::string grouped(std::size_t n)
{
    auto digits = std::to_string(n);
    for (auto at = digits.size(); at > 3; at -= 3)
        digits.insert(at - 3, 1, ' ');
    return digits;
}

std::string rows_done(const ImportReport& report)
{
    const auto n = grouped(static_cast<std::size_t>(report.rows));
    if (report.kind == "etablissements")
        return n + (report.rows > 1 ? " établissements importés" : " établissement importé") +
               " (ajoutés ou mis à jour)";
    return n + (report.rows > 1 ? " relevés d'indicateurs importés" : " relevé importé");
}

std::string error_count(const ImportReport& report)
{
    const auto n = report.error_count;
    return grouped(n) + (n > 1 ? " erreurs" : " erreur");
}

/// "… et 1 999 950 autres erreurs" for what a report counts but does not list.
std::string others(std::size_t n, std::string_view what)
{
    return "… et " + grouped(n) + (n > 1 ? " autres " : " autre ") + std::string{what} +
           (n > 1 ? "s" : "");
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
        if (report.error_count > report.errors.size())
            text += "  " + others(report.error_count - report.errors.size(), "erreur") +
                    " : corrigez les premières puis réimportez.\n";
    }
    for (const auto& note : report.notes)
        text += "  remarque : " + note + "\n";
    if (report.note_count > report.notes.size())
        text += "  " + others(report.note_count - report.notes.size(), "remarque") + ".\n";
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
        if (listed < report.error_count)
            text += "- " + others(report.error_count - listed, "erreur") +
                    " : corrigez les premières puis réimportez.\n";
    }
    if (!report.notes.empty()) {
        // A CSV of 100,000 columns made as many remarks, and a reply Synapse refused (issue 15).
        text += "\nRemarques :\n";
        for (const auto& note : report.notes)
            text += "- " + knowledge::escape_markdown(note) + "\n";
        if (report.note_count > report.notes.size())
            text += "- " + others(report.note_count - report.notes.size(), "remarque") + ".\n";
    }
    return text;
}

} // namespace opalebot::commands
