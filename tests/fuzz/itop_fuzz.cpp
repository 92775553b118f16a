// iTop's REST answers (bot/src/itop_client.cpp): every ItopClient call is made against a server
// that answers with the input, so that the parsing behind each one (the `code` check, tickets,
// public log entries, persons, attachments) reads it; and the HTML of iTop's editor.
#include "bot/http_client.hpp"
#include "bot/itop_client.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"

namespace {

namespace bot = opalebot::bot;

/// An iTop that answers every call with HTTP 200 and `body` (iTop's status is in the JSON).
class AnsweringItop final : public bot::HttpClient {
public:
    explicit AnsweringItop(std::string_view body) : body_(body) {}

    opalebot::Result<bot::Response> send(const bot::Request& /*request*/) override
    {
        bot::Response response;
        response.status = 200;
        response.body = std::string{body_};
        return response;
    }

private:
    std::string_view body_;
};

void check_ticket(const bot::ItopTicket& ticket)
{
    (void)bot::itop_status_label(ticket.status);
    for (const auto& entry : ticket.public_log)
        (void)entry.message.size();
}

} // namespace

OPALEBOT_FUZZ_QUIET_LOGS()

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const auto text = opalebot::fuzz::text_of(data, size);
    AnsweringItop http{text};
    bot::ItopSettings settings;
    settings.url = "https://itop.example.org";
    settings.user = "bot";
    settings.password = "secret";
    bot::ItopClient itop{http, settings};
    bot::ItopNewRequest request;
    request.organisation_uai = "0750655E";
    request.caller_id = "12";
    request.title = "SI2C - Mandat rejeté au visa";
    request.description_html = "<p>Le mandat est rejeté.</p>";
    request.team_name = "SI2C";
    if (const auto created = itop.create(request))
        OPALEBOT_FUZZ_CHECK(!created.value().ref.empty());
    if (const auto found = itop.find("R-000123"); found && found.value())
        check_ticket(*found.value());
    if (const auto open = itop.open_tickets_of("claire.durand@ac-lille.fr"))
        for (const auto& ticket : open.value())
            check_ticket(ticket);
    (void)itop.query("SELECT UserRequest WHERE status = \"new\"");
    (void)itop.add_public_log("R-000123", "Merci");
    bot::ItopTicket ticket;
    ticket.id = "42";
    ticket.org_id = "3";
    (void)itop.attach(ticket, "capture.png", "image/png", "\x89PNG");
    if (const auto persons = itop.persons_with_email("claire.durand@ac-lille.fr", "0750655E"))
        for (std::size_t i = 1; i < persons.value().size(); ++i) // sorted by id, as numbers
            OPALEBOT_FUZZ_CHECK(persons.value()[i - 1].id.size() <= persons.value()[i].id.size());
    (void)itop.attachment_names(ticket);
    (void)itop.first_name_of("Team", "SELECT Team WHERE name = \"SI2C\"");
    (void)itop.check_credentials();
    // solution and log messages are HTML from iTop's editor
    const auto plain = bot::text_of_html(text);
    OPALEBOT_FUZZ_CHECK(plain.empty() || (plain.back() != '\n' && plain.back() != ' '));
    return 0;
}
