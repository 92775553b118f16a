#include "commands/ticket_dialogue.hpp"

#include "knowledge/text.hpp"
#include "opalebot/bot_metrics.hpp"
#include "opalebot/log.hpp"

#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>
#include <SQLiteCpp/VariadicBind.h>

#include <cstdio>
#include <random>
#include <stdexcept>

#include "store_support.hpp"

namespace opalebot::commands {
namespace {

constexpr std::array<const char*, 1> schema_steps = {
    R"sql(
CREATE TABLE ticket_dialogues (
    user TEXT NOT NULL,
    room TEXT NOT NULL,
    fields TEXT NOT NULL,
    stage INTEGER NOT NULL,
    asking TEXT NOT NULL DEFAULT '',
    proposed TEXT NOT NULL DEFAULT '',
    idempotency_key TEXT NOT NULL,
    last_activity INTEGER NOT NULL,
    PRIMARY KEY (user, room)
);
CREATE TABLE ticket_dialogue_files (
    user TEXT NOT NULL,
    room TEXT NOT NULL,
    name TEXT NOT NULL,
    content BLOB NOT NULL
);
CREATE INDEX ticket_dialogue_files_by_dialogue ON ticket_dialogue_files (user, room);
)sql"};
constexpr Schema schema{"ticket_dialogues", schema_steps, "ticket_dialogue_schema"};

std::string random_key()
{
    std::random_device device;
    std::string key;
    for (int i = 0; i < 4; ++i) {
        char part[9];
        std::snprintf(part, sizeof part, "%08x", static_cast<unsigned>(device()));
        key += part;
    }
    return key;
}

bool is_yes(std::string_view folded)
{
    return folded == "oui" || folded == "o" || folded == "yes" || folded == "ok" ||
           folded == "confirmer";
}

bool is_no(std::string_view folded)
{
    return folded == "non" || folded == "n" || folded == "no";
}

bool is_cancel(std::string_view folded)
{
    return folded == "annuler" || folded == "abandonner" || folded == "stop";
}

constexpr std::string_view cancel_hint = "\n\n_(« annuler » pour abandonner ce ticket.)_";

/// The answer folded and trimmed, for oui / non / annuler.
std::string keyword(std::string_view text)
{
    auto folded = knowledge::fold(text);
    const auto first = folded.find_first_not_of(" \t\r\n.!");
    if (first == std::string::npos)
        return {};
    const auto last = folded.find_last_not_of(" \t\r\n.!");
    return folded.substr(first, last - first + 1);
}

} // namespace

TicketDialogues::TicketDialogues(StateDatabase& state, TicketBackend& backend,
                                 DialogueOptions options)
    : db_(state.connection()),
      mutex_(state.mutex()),
      backend_(backend),
      options_(std::move(options))
{
    if (!options_.new_key)
        options_.new_key = random_key;
    state.migrate(schema);
}

std::optional<Dialogue> TicketDialogues::get(std::string_view user, std::string_view room)
{
    const std::lock_guard lock{mutex_};
    SQLite::Statement query{db_, "SELECT fields, stage, asking, proposed, idempotency_key, "
                                 "last_activity FROM ticket_dialogues WHERE user = ? AND room = ?"};
    SQLite::bind(query, std::string{user}, std::string{room});
    if (!query.executeStep())
        return std::nullopt;
    Dialogue d;
    d.user = user;
    d.room = room;
    d.fields = deserialize_fields(query.getColumn(0).getString());
    const auto stage = query.getColumn(1).getInt();
    d.stage = stage == 1   ? DialogueStage::confirming_service
              : stage == 2 ? DialogueStage::confirming
                           : DialogueStage::collecting;
    const auto asking = query.getColumn(2).getString();
    for (const auto field : field_order())
        if (field_key(field) == asking)
            d.asking = field;
    d.proposed = parse_service(query.getColumn(3).getString());
    d.idempotency_key = query.getColumn(4).getString();
    d.last_activity = from_millis(query.getColumn(5).getInt64());
    return d;
}

void TicketDialogues::save(const Dialogue& d)
{
    SQLite::Statement upsert{db_, R"sql(
INSERT INTO ticket_dialogues (user, room, fields, stage, asking, proposed, idempotency_key,
                              last_activity)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (user, room) DO UPDATE SET fields = excluded.fields, stage = excluded.stage,
    asking = excluded.asking, proposed = excluded.proposed,
    idempotency_key = excluded.idempotency_key, last_activity = excluded.last_activity
)sql"};
    SQLite::bind(upsert, d.user, d.room, serialize_fields(d.fields), static_cast<int>(d.stage),
                 d.asking ? std::string{field_key(*d.asking)} : std::string{},
                 d.proposed ? std::string{service_name(*d.proposed)} : std::string{},
                 d.idempotency_key, to_millis(d.last_activity));
    upsert.exec();
}

void TicketDialogues::remove(std::string_view user, std::string_view room)
{
    for (const char* sql : {"DELETE FROM ticket_dialogues WHERE user = ? AND room = ?",
                            "DELETE FROM ticket_dialogue_files WHERE user = ? AND room = ?"}) {
        SQLite::Statement erase{db_, sql};
        SQLite::bind(erase, std::string{user}, std::string{room});
        erase.exec();
    }
}

std::vector<Attachment> TicketDialogues::attachments(std::string_view user, std::string_view room)
{
    const std::lock_guard lock{mutex_};
    SQLite::Statement query{db_, "SELECT name, content FROM ticket_dialogue_files WHERE user = ? "
                                 "AND room = ? ORDER BY rowid"};
    SQLite::bind(query, std::string{user}, std::string{room});
    std::vector<Attachment> files;
    while (query.executeStep()) {
        const auto content = query.getColumn(1);
        files.push_back(Attachment{query.getColumn(0).getString(),
                                   std::string{static_cast<const char*>(content.getBlob()),
                                               static_cast<std::size_t>(content.getBytes())}});
    }
    return files;
}

std::optional<std::string> TicketDialogues::add_attachment(std::string_view user,
                                                           std::string_view room,
                                                           const Attachment& attachment)
{
    const std::lock_guard lock{mutex_};
    auto d = get(user, room);
    if (!d || expired(*d))
        return std::nullopt;
    const auto name = knowledge::escape_markdown(attachment.name);
    if (attachment.content.size() > options_.max_attachment_bytes)
        return "Le fichier « " + name + " » dépasse " +
               std::to_string(options_.max_attachment_bytes / (1024 * 1024)) +
               " Mo : il n'est pas joint au ticket.";
    if (attachments(user, room).size() >= options_.max_attachments)
        return "Le ticket a déjà " + std::to_string(options_.max_attachments) +
               " pièces jointes : « " + name + " » n'est pas jointe.";
    SQLite::Statement insert{
        db_, "INSERT INTO ticket_dialogue_files (user, room, name, content) VALUES (?, ?, ?, ?)"};
    SQLite::bind(insert, std::string{user}, std::string{room}, attachment.name);
    insert.bind(4, attachment.content.data(), static_cast<int>(attachment.content.size()));
    insert.exec();
    d->last_activity = options_.clock();
    save(*d);
    return "Pièce jointe « " + name + " » ajoutée au ticket.";
}

bool TicketDialogues::expired(const Dialogue& dialogue) const
{
    return options_.clock() - dialogue.last_activity > options_.idle_timeout;
}

std::string TicketDialogues::expiry_message() const
{
    return "Le ticket en préparation a expiré après " +
           std::to_string(options_.idle_timeout.count()) +
           " minutes sans réponse : rien n'a été créé. Recommencez avec `!ticket nouveau`.";
}

bool TicketDialogues::is_open(std::string_view user, std::string_view room)
{
    const auto d = get(user, room);
    return d && !expired(*d);
}

std::string TicketDialogues::advance(Dialogue& d)
{
    d.asking.reset();
    for (const auto field : field_order()) {
        if (field == Field::service || has_field(d.fields, field))
            continue;
        d.stage = DialogueStage::collecting;
        d.asking = field;
        return std::string{field_question(field)};
    }
    if (!d.fields.service) {
        const auto proposal = propose_service(d.fields);
        d.stage = DialogueStage::confirming_service;
        d.proposed = proposal.service;
        return "Je propose d'envoyer ce ticket à **" + std::string{service_name(proposal.service)} +
               "** (" + proposal.reason +
               "). SI2C traite les questions métier, DRASI les questions techniques. Répondez "
               "**oui** pour confirmer, ou `SI2C` / `DRASI` pour changer.";
    }
    d.stage = DialogueStage::confirming;
    auto card = summary_card(d.fields);
    if (const auto files = attachments(d.user, d.room); !files.empty())
        card.insert(card.rfind("\n\n"), "\n- **Pièces jointes** : " + std::to_string(files.size()));
    if (const auto triage = backend_.triage_text(*d.fields.service); !triage.empty())
        card.insert(card.rfind("\n\n"),
                    "\n- **Enregistré comme** : " + knowledge::escape_markdown(triage));
    return card;
}

std::string TicketDialogues::start(std::string_view user, std::string_view room,
                                   std::string_view form)
{
    const std::lock_guard lock{mutex_};
    std::string notice;
    if (auto existing = get(user, room)) {
        if (!expired(*existing))
            return "Vous avez déjà un ticket en préparation ici ; reprenons.\n\n" +
                   advance(*existing) + std::string{cancel_hint};
        remove(user, room);
    }
    auto parsed = parse_one_line(form, options_.find_eple);
    Dialogue d;
    d.user = user;
    d.room = room;
    d.fields = std::move(parsed.fields);
    d.idempotency_key = options_.new_key();
    d.last_activity = options_.clock();
    std::string reply;
    if (!parsed.problems.empty()) {
        reply = "Certaines valeurs n'ont pas été retenues :\n";
        for (const auto& problem : parsed.problems)
            reply += "- " + knowledge::escape_markdown(problem) + '\n';
        reply += '\n';
    } else if (form.find_first_not_of(" \t") == std::string_view::npos) {
        reply = "Préparons votre ticket. Je vous pose quelques questions : un ticket complet est "
                "traité bien plus vite.\n\n";
    }
    reply += advance(d);
    save(d);
    return reply + std::string{cancel_hint};
}

std::string TicketDialogues::confirm(Dialogue& d, std::unique_lock<std::recursive_mutex>& lock)
{
    const NewTicket request{d.idempotency_key, d.user, d.room, d.fields,
                            attachments(d.user, d.room)};
    // The backend may be iTop, which may take its whole timeout: the state file's lock is not
    // held meanwhile, since the sender thread waits on it to send replies.
    lock.unlock();
    auto created = backend_.create(request);
    lock.lock();
    if (!created) {
        // keep the dialogue and its key: a retry returns this ticket if it was created after all
        log::get("commands")
            ->warn("ticket creation failed for {}: {}", d.user, created.error().message);
        save(d);
        std::string why = "(incident noté pour les administrateurs)";
        if (is_user_facing(created.error()))
            why = ": " + knowledge::escape_markdown(created.error().message);
        if (why.ends_with('.'))
            why.pop_back();
        // a refusal fails the same way until something changes: never offer a plain retry
        if (created.error().errcode == user_facing_refusal)
            return "Le service de tickets a refusé votre demande " + why +
                   ". Votre ticket est conservé : corrigez ce qui est indiqué puis répondez "
                   "**oui**, ou « annuler ».";
        return "Le service de tickets n'a pas pu enregistrer votre demande " + why +
               ". Votre ticket est conservé : répondez **oui** pour réessayer, ou « annuler ».";
    }
    remove(d.user, d.room);
    const auto& ticket = created.value();
    metrics::bot_metrics().tickets_created.add();
    if (options_.on_created) {
        try { // the ticket exists: a follow-up failure must not hide it from the user
            options_.on_created(ticket);
        } catch (const std::exception& e) {
            log::get("commands")->error("follow-up of {} not recorded: {}", ticket.ref, e.what());
        }
    }
    std::string reply = "Ticket **" + ticket.ref + "** créé pour " +
                        std::string{team_name(ticket.team)} + " : " +
                        knowledge::escape_markdown(ticket.title) + '.';
    if (!ticket.link.empty())
        reply += " [Voir le ticket](" + ticket.link + ")";
    if (!ticket.note.empty())
        reply += "\n" + knowledge::escape_markdown(ticket.note);
    reply += "\nSuivez-le avec `!ticket " + ticket.ref + "`.";
    return reply;
}

std::optional<std::string> TicketDialogues::answer(std::string_view user, std::string_view room,
                                                   std::string_view text)
{
    std::unique_lock lock{mutex_};
    auto found = get(user, room);
    if (!found)
        return std::nullopt;
    auto& d = *found;
    if (expired(d)) {
        remove(user, room);
        return expiry_message();
    }
    d.last_activity = options_.clock();
    const auto word = keyword(text);
    if (is_cancel(word)) {
        remove(user, room);
        return std::string{"Ticket abandonné : rien n'a été créé."};
    }
    std::string reply;
    switch (d.stage) {
    case DialogueStage::collecting: {
        const auto field = d.asking.value_or(first_missing(d.fields).value_or(Field::service));
        if (auto reason = set_field(d.fields, field, text, options_.find_eple)) {
            reply =
                knowledge::escape_markdown(*reason) + "\n\n" + std::string{field_question(field)};
            break;
        }
        reply = advance(d);
        break;
    }
    case DialogueStage::confirming_service:
        if (is_yes(word) && d.proposed) {
            d.fields.service = d.proposed;
        } else if (const auto service = parse_service(word)) {
            d.fields.service = service;
        } else {
            reply = "Répondez **oui** pour confirmer " +
                    std::string{service_name(d.proposed.value_or(Service::si2c))} +
                    ", ou `SI2C` / `DRASI`.";
            break;
        }
        reply = advance(d);
        break;
    case DialogueStage::confirming:
        if (is_yes(word))
            return confirm(d, lock);
        if (is_no(word)) {
            remove(user, room);
            return std::string{"Ticket non créé. Recommencez avec `!ticket nouveau` quand vous "
                               "voulez."};
        }
        if (text.find('=') != std::string_view::npos) { // a correction: titre="…"
            auto parsed = parse_one_line(text, options_.find_eple);
            if (!parsed.problems.empty()) {
                reply = "Correction refusée :\n";
                for (const auto& problem : parsed.problems)
                    reply += "- " + knowledge::escape_markdown(problem) + '\n';
                reply += "\nRépondez **oui** pour créer le ticket tel quel, ou **non**.";
                break;
            }
            merge_fields(d.fields, parsed.fields);
            reply = advance(d);
            break;
        }
        reply = "Répondez **oui** pour créer le ticket, **non** pour l'abandonner, ou corrigez un "
                "champ avec `clé=valeur` (ex. `titre=\"…\"`).";
        break;
    }
    save(d);
    return reply;
}

std::vector<ExpiredDialogue> TicketDialogues::expire_idle()
{
    const std::lock_guard lock{mutex_};
    std::vector<ExpiredDialogue> gone;
    const auto limit = to_millis(
        options_.clock() - std::chrono::duration_cast<TimePoint::duration>(options_.idle_timeout));
    {
        SQLite::Statement query{db_,
                                "SELECT user, room FROM ticket_dialogues WHERE last_activity < ?"};
        query.bind(1, limit);
        while (query.executeStep())
            gone.push_back(
                {query.getColumn(0).getString(), query.getColumn(1).getString(), expiry_message()});
    }
    for (const auto& d : gone)
        remove(d.user, d.room);
    return gone;
}

} // namespace opalebot::commands
