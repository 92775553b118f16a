#include "bot/itop_client.hpp"

#include "opalebot/log.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <memory>
#include <new>
#include <stdexcept>
#include <utility>

#include "json_fields.hpp"
#include <nettle/base64.h>

namespace opalebot::bot {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr std::string_view ticket_fields =
    "id,ref,title,status,org_id,caller_id,request_type,team_id_friendlyname,"
    "agent_id_friendlyname,start_date,last_update,resolution_date,pending_reason,solution,"
    "public_log";

std::string trimmed(std::string text)
{
    // iTop sends " " for an empty person name (notes/itop.md §10.3).
    const auto first = text.find_first_not_of(' ');
    if (first == std::string::npos)
        return {};
    return text.substr(first, text.find_last_not_of(' ') - first + 1);
}

ItopTicket ticket_from(const json& fields)
{
    ItopTicket t;
    t.id = string_at(fields, "id");
    t.org_id = string_at(fields, "org_id");
    t.ref = string_at(fields, "ref");
    t.title = string_at(fields, "title");
    t.status = string_at(fields, "status");
    t.caller_id = string_at(fields, "caller_id");
    t.request_type = string_at(fields, "request_type"); // JSON null when unset (§13)
    t.team = trimmed(string_at(fields, "team_id_friendlyname"));
    t.agent = trimmed(string_at(fields, "agent_id_friendlyname"));
    t.start_date = string_at(fields, "start_date");
    t.last_update = string_at(fields, "last_update");
    t.resolution_date = string_at(fields, "resolution_date");
    t.pending_reason = string_at(fields, "pending_reason");
    t.solution = text_of_html(string_at(fields, "solution"));
    if (const auto log = fields.find("public_log"); log != fields.end() && log->is_object())
        if (const auto entries = log->find("entries"); entries != log->end() && entries->is_array())
            for (const auto& e : *entries)
                if (e.is_object()) {
                    // `message` of an entry typed in iTop's editor is Markdown-like ([t](u)),
                    // which the bot would show escaped: its HTML read as text keeps the links
                    const auto rich = string_at(e, "message_html");
                    t.public_log.push_back(
                        {string_at(e, "date"), string_at(e, "user_login"),
                         rich.empty() ? string_at(e, "message") : text_of_html(rich)});
                }
    return t;
}

/// The `fields` of each object of a successful answer; `objects` is null or absent when
/// nothing matched (§5, §13).
std::vector<const json*> fields_of(const json& answer)
{
    std::vector<const json*> all;
    const auto objects = answer.find("objects");
    if (objects == answer.end() || !objects->is_object())
        return all;
    for (const auto& [key, object] : objects->items())
        if (const auto* fields = object_at(object, "fields"))
            all.push_back(fields);
    return all;
}

std::vector<ItopTicket> tickets_of(const json& answer)
{
    std::vector<ItopTicket> tickets;
    for (const auto* fields : fields_of(answer))
        tickets.push_back(ticket_from(*fields));
    return tickets;
}

/// Standard base64 with padding, as iTop's `contents.data` expects.
std::string base64(std::string_view bytes)
{
    std::string text(BASE64_ENCODE_RAW_LENGTH(bytes.size()), '\0');
    base64_encode_raw(text.data(), bytes.size(),
                      reinterpret_cast<const std::uint8_t*>(bytes.data()));
    return text;
}

Error itop_error(int code, std::string message)
{
    return Error{Error::Kind::invalid, code, "ITOP_" + std::to_string(code),
                 std::move(message),   {},   false};
}

} // namespace

std::string oql_quote(std::string_view text)
{
    std::string quoted = "\"";
    for (const char c : text) {
        if (c == '\\' || c == '"')
            quoted += '\\';
        quoted += c;
    }
    return quoted + '"';
}

std::string text_of_html(std::string_view html)
{
    // A handful of tags from iTop's editor, not arbitrary HTML: a parser (libxml2) would be a
    // new dependency for what a scan does; what it misses is dropped, never interpreted.
    static constexpr std::array<std::pair<std::string_view, std::string_view>, 6> entities{{
        {"&amp;", "&"},
        {"&lt;", "<"},
        {"&gt;", ">"},
        {"&quot;", "\""},
        {"&#39;", "'"},
        {"&nbsp;", " "},
    }};
    std::string text;
    std::string href;           ///< of the link being read: shown after its text
    std::size_t link_start = 0; ///< where its text starts in `text`
    for (std::size_t i = 0; i < html.size();) {
        if (html[i] == '<') {
            const auto end = html.find('>', i);
            if (end == std::string_view::npos)
                break;
            const auto raw = html.substr(i + 1, end - i - 1);
            std::string tag{raw};
            std::transform(tag.begin(), tag.end(), tag.begin(),
                           [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
            const auto name = tag.substr(0, tag.find_first_of(" /\t"));
            if (name == "br" || tag == "/p" || tag == "/div" || tag == "/li" || tag == "/tr")
                text += '\n';
            else if (name == "li")
                text += "- ";
            else if (name == "a") {
                const auto at = tag.find("href=\"");
                const auto close = at == std::string::npos ? at : raw.find('"', at + 6);
                href = close == std::string::npos ? std::string{}
                                                  : std::string{raw.substr(at + 6, close - at - 6)};
                link_start = text.size();
            } else if (tag == "/a" && !href.empty()) {
                if (text.substr(link_start) != href) // a bare address is shown once
                    text += " (" + href + ")";
                href.clear();
            }
            i = end + 1;
            continue;
        }
        if (html[i] == '&') {
            bool decoded = false;
            for (const auto& [entity, character] : entities)
                if (html.substr(i, entity.size()) == entity) {
                    text += character;
                    i += entity.size();
                    decoded = true;
                    break;
                }
            if (decoded)
                continue;
        }
        text += html[i++];
    }
    while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
        text.pop_back();
    return text;
}

std::string_view itop_status_label(std::string_view status)
{
    static constexpr std::array<std::pair<std::string_view, std::string_view>, 10> labels{{
        {"new", "Nouveau"},
        {"waiting_for_approval", "En attente d'approbation"},
        {"approved", "Approuvé"},
        {"rejected", "Rejeté"},
        {"assigned", "Assignée"},
        {"pending", "En attente"},
        {"escalated_tto", "Escaladé (prise en charge)"},
        {"escalated_ttr", "Escaladé (résolution)"},
        {"resolved", "Résolue"},
        {"closed", "Fermée"},
    }};
    for (const auto& [code, label] : labels)
        if (code == status)
            return label;
    return status;
}

ItopClient::ItopClient(HttpClient& http, ItopSettings settings)
    : http_(http), settings_(std::move(settings))
{
    while (!settings_.url.empty() && settings_.url.back() == '/')
        settings_.url.pop_back();
}

Result<std::string> ItopClient::call(const std::string& json_data)
{
    Request request;
    request.method = "POST";
    request.url = settings_.url + "/webservices/rest.php?version=1.3";
    request.timeout = settings_.timeout;
    request.headers["Content-Type"] = "application/x-www-form-urlencoded";
    // Form fields, never a JSON body (code 3) nor credentials in the query string (code 1).
    if (!settings_.token.empty())
        request.headers["Auth-Token"] = settings_.token;
    else
        request.body = "auth_user=" + url_encode(settings_.user) +
                       "&auth_pwd=" + url_encode(settings_.password) + "&";
    request.body += "json_data=" + url_encode(json_data);
    auto response = http_.send(request);
    if (health_ != nullptr) {
        const auto now = std::chrono::system_clock::now();
        if (!response)
            health_->failed(now, response.error().message.substr(0, 120));
        else if (response.value().status != 200)
            health_->failed(now, "HTTP " + std::to_string(response.value().status));
        else
            health_->succeeded(now);
    }
    if (!response)
        return response.error();
    if (response.value().status != 200)
        return Error{Error::Kind::http,
                     static_cast<int>(response.value().status),
                     {},
                     "iTop: HTTP " + std::to_string(response.value().status),
                     {},
                     false};
    return std::move(response.value().body);
}

namespace {

/// The answer as JSON when its code is 0, else the iTop error (logged for admins).
Result<json> checked(Result<std::string> body, std::string_view operation)
{
    if (!body)
        return body.error();
    auto answer = parse_untrusted(body.value(), "iTop");
    if (!answer.is_object() || !answer.contains("code") || !answer["code"].is_number_integer())
        return Error{Error::Kind::parse, 0, {}, "iTop: réponse illisible", {}, false};
    const int code = answer["code"].get<int>();
    if (code != 0) {
        auto message = string_at(answer, "message");
        log::get("bot.itop")->warn("iTop {} refused: code {}: {}", operation, code, message);
        return itop_error(code, std::move(message));
    }
    return answer;
}

} // namespace

Result<ItopTicket> ItopClient::create(const ItopNewRequest& r)
{
    json fields{{"org_id", {{"code", r.organisation_uai}}}, // criteria objects: nothing to escape
                {"caller_id", r.caller_id},
                {"service_id", {{"name", r.service_name}}},
                {"title", r.title},
                {"description", r.description_html},
                {"urgency", r.urgency},
                {"impact", r.impact},
                {"origin", "chat"}};
    if (!r.team_name.empty())
        fields["team_id"] = {{"name", r.team_name}};
    if (!r.subcategory_name.empty()) // the name alone may exist under another service
        fields["servicesubcategory_id"] =
            "SELECT ServiceSubcategory AS s JOIN Service AS v ON s.service_id = v.id WHERE "
            "s.name = " +
            oql_quote(r.subcategory_name) + " AND v.name = " + oql_quote(r.service_name);
    if (!r.request_type.empty())
        fields["request_type"] = r.request_type;
    const json request{{"operation", "core/create"},
                       {"comment", settings_.comment},
                       {"class", "UserRequest"},
                       {"output_fields", ticket_fields},
                       {"fields", fields}};
    auto answer = checked(call(request.dump()), "core/create");
    if (!answer)
        return answer.error();
    auto tickets = tickets_of(answer.value());
    if (tickets.size() != 1 || tickets.front().ref.empty())
        return Error{Error::Kind::parse, 0, {}, "iTop: ticket créé sans référence", {}, false};
    return std::move(tickets.front());
}

Result<std::optional<ItopTicket>> ItopClient::find(std::string_view ref)
{
    const json request{{"operation", "core/get"},
                       {"class", "UserRequest"},
                       {"key", {{"ref", std::string{ref}}}},
                       {"output_fields", ticket_fields}};
    auto answer = checked(call(request.dump()), "core/get");
    if (!answer)
        return answer.error();
    auto tickets = tickets_of(answer.value());
    if (tickets.empty())
        return std::optional<ItopTicket>{};
    return std::optional<ItopTicket>{std::move(tickets.front())};
}

Result<std::vector<ItopTicket>> ItopClient::open_tickets_of(std::string_view caller_email)
{
    const json request{
        {"operation", "core/get"},
        {"class", "UserRequest"},
        {"key", "SELECT UserRequest AS u JOIN Person AS p ON u.caller_id = p.id WHERE p.email = " +
                    oql_quote(caller_email) + " AND u.status NOT IN (\"closed\",\"rejected\")"},
        {"output_fields", ticket_fields}};
    auto answer = checked(call(request.dump()), "core/get");
    if (!answer)
        return answer.error();
    return tickets_of(answer.value());
}

Result<std::vector<ItopTicket>> ItopClient::query(std::string_view oql)
{
    const json request{{"operation", "core/get"},
                       {"class", "UserRequest"},
                       {"key", std::string{oql}},
                       {"output_fields", ticket_fields}};
    auto answer = checked(call(request.dump()), "core/get");
    if (!answer)
        return answer.error();
    return tickets_of(answer.value());
}

Result<Done> ItopClient::add_public_log(std::string_view ref, std::string_view text)
{
    const json request{
        {"operation", "core/update"},
        {"comment", settings_.comment},
        {"class", "UserRequest"},
        {"key", {{"ref", std::string{ref}}}},
        {"output_fields", "id"},
        {"fields",
         {{"public_log", {{"add_item", {{"message", std::string{text}}, {"format", "text"}}}}}}}};
    auto answer = checked(call(request.dump()), "core/update");
    if (!answer)
        return answer.error();
    return Done{};
}

Result<Done> ItopClient::attach(const ItopTicket& ticket, std::string_view filename,
                                std::string_view mimetype, std::string_view bytes)
{
    const json request{{"operation", "core/create"},
                       {"comment", settings_.comment},
                       {"class", "Attachment"},
                       {"output_fields", "id"},
                       {"fields",
                        {{"item_class", "UserRequest"},
                         {"item_id", ticket.id},
                         {"item_org_id", ticket.org_id},
                         {"contents",
                          {{"data", base64(bytes)},
                           {"filename", std::string{filename}},
                           {"mimetype", std::string{mimetype}}}}}}};
    auto answer = checked(call(request.dump()), "core/create Attachment");
    if (!answer)
        return answer.error();
    return Done{};
}

Result<std::vector<ItopPerson>> ItopClient::persons_with_email(std::string_view email,
                                                               std::string_view organisation_uai)
{
    std::string oql = "SELECT Person AS p";
    if (!organisation_uai.empty())
        oql += " JOIN Organization AS o ON p.org_id = o.id";
    oql += " WHERE p.email = " + oql_quote(email);
    if (!organisation_uai.empty())
        oql += " AND o.code = " + oql_quote(organisation_uai);
    const json request{{"operation", "core/get"},
                       {"class", "Person"},
                       {"key", oql},
                       {"output_fields", "id,friendlyname,org_id,org_id_friendlyname,status"}};
    auto answer = checked(call(request.dump()), "core/get Person");
    if (!answer)
        return answer.error();
    std::vector<ItopPerson> persons;
    for (const auto* fields : fields_of(answer.value()))
        persons.push_back({string_at(*fields, "id"), trimmed(string_at(*fields, "friendlyname")),
                           string_at(*fields, "org_id"), string_at(*fields, "org_id_friendlyname"),
                           string_at(*fields, "status") != "inactive"});
    // iTop's order is the database's: sort by id so that "the first" is the same every time
    std::sort(persons.begin(), persons.end(), [](const ItopPerson& a, const ItopPerson& b) {
        return a.id.size() != b.id.size() ? a.id.size() < b.id.size() : a.id < b.id;
    });
    return persons;
}

Result<std::vector<std::string>> ItopClient::attachment_names(const ItopTicket& ticket)
{
    const json request{
        {"operation", "core/get"},
        {"class", "Attachment"},
        {"key", "SELECT Attachment WHERE item_class = \"UserRequest\" AND item_id = " +
                    oql_quote(ticket.id)},
        {"output_fields", "contents"}};
    auto answer = checked(call(request.dump()), "core/get Attachment");
    if (!answer)
        return answer.error();
    std::vector<std::string> names;
    for (const auto* fields : fields_of(answer.value()))
        names.push_back(string_at(object_or_empty(*fields, "contents"), "filename"));
    return names;
}

Result<std::optional<std::string>> ItopClient::first_name_of(std::string_view oql_class,
                                                             std::string_view oql)
{
    const json request{{"operation", "core/get"},
                       {"class", std::string{oql_class}},
                       {"key", std::string{oql}},
                       {"output_fields", "friendlyname"},
                       {"limit", 1}};
    auto answer = checked(call(request.dump()), "core/get");
    if (!answer)
        return answer.error();
    const auto all = fields_of(answer.value());
    if (all.empty())
        return std::optional<std::string>{};
    return std::optional<std::string>{string_at(*all.front(), "friendlyname")};
}

Result<bool> ItopClient::check_credentials()
{
    const json request{{"operation", "core/check_credentials"},
                       {"user", settings_.user},
                       {"password", settings_.password}};
    auto answer = checked(call(request.dump()), "core/check_credentials");
    if (!answer)
        return answer.error();
    const auto authorized = answer.value().find("authorized");
    return authorized != answer.value().end() && authorized->is_boolean() &&
           authorized->get<bool>();
}

} // namespace opalebot::bot
