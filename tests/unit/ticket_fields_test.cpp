#include "commands/ticket_fields.hpp"

#include <doctest/doctest.h>

using namespace opalebot::commands;

namespace {

EpleFinder referential()
{
    return [](std::string_view name) -> std::optional<EpleMatch> {
        if (name == "0020013D" || name == "Collège Jean Macé")
            return EpleMatch{"0020013D", "Collège Jean Macé"};
        return std::nullopt;
    };
}

} // namespace

TEST_SUITE("unit")
{
    TEST_CASE("ticket titles that are vague are refused with a reason")
    {
        CHECK(vague_title_reason("bug").has_value());
        CHECK(vague_title_reason("Problème urgent !!!").has_value());
        CHECK(vague_title_reason("Bug urgent aide svp merci").has_value());
        CHECK(vague_title_reason("Aide problème Op@le urgent").has_value());
        const auto reason = vague_title_reason("Urgent problème bug bloquant");
        REQUIRE(reason);
        CHECK(reason->find("généraux") != std::string::npos);
        CHECK(vague_title_reason("court")->find("trop court") != std::string::npos);
        CHECK_FALSE(vague_title_reason("Mandat rejeté au visa : RIB fournisseur absent"));
        CHECK_FALSE(vague_title_reason("Écran blanc à l'ouverture des mandats"));
    }

    TEST_CASE("ticket UAI needs seven digits and the right key letter")
    {
        CHECK_FALSE(uai_reason("0020013D"));
        CHECK_FALSE(uai_reason("0020013d"));
        const auto wrong_key = uai_reason("0020013E");
        REQUIRE(wrong_key);
        CHECK(wrong_key->find("« D »") != std::string::npos);
        CHECK(uai_reason("002001D").has_value());
        CHECK(uai_reason("lycée").has_value());
    }

    TEST_CASE("ticket environments accept French spellings")
    {
        CHECK(parse_environment("production") == Environment::production);
        CHECK(parse_environment("Prod") == Environment::production);
        CHECK(parse_environment("bac-a-sable") == Environment::bac_a_sable);
        CHECK(parse_environment("bac à sable") == Environment::bac_a_sable);
        CHECK(parse_environment("Bac_à_Sable") == Environment::bac_a_sable);
        CHECK(parse_environment("FM1") == Environment::fm1);
        CHECK_FALSE(parse_environment("recette"));
    }

    TEST_CASE("ticket fields validate each answer")
    {
        TicketFields f;
        CHECK_FALSE(set_field(f, Field::eple, "0020013d"));
        CHECK(f.uai == "0020013D");
        CHECK(set_field(f, Field::eple, "Lycée inconnu").has_value()); // no referential: UAI only
        CHECK(f.uai == "0020013D");                                    // unchanged on refusal
        CHECK_FALSE(set_field(f, Field::eple, "Collège Jean Macé", referential()));
        CHECK(f.eple_nom == "Collège Jean Macé");
        CHECK(set_field(f, Field::eple, "Collège inconnu", referential())->find("référentiel") !=
              std::string::npos);
        CHECK_FALSE(set_field(f, Field::sphere, "Agent Comptable"));
        CHECK(f.sphere == "agent comptable");
        CHECK_FALSE(set_field(f, Field::sphere, "régisseur"));
        CHECK(f.sphere == "régie");
        CHECK(set_field(f, Field::sphere, "directeur").has_value());
        CHECK(set_field(f, Field::nom, "Dupont2").has_value());
        CHECK(set_field(f, Field::nom, "   ").has_value());
        CHECK(set_field(f, Field::description, "marche pas").has_value());
        CHECK_FALSE(set_field(f, Field::service, "drasi"));
        CHECK(f.service == Service::drasi);
    }

    TEST_CASE("ticket limits count characters and keep the title within iTop's 255")
    {
        TicketFields f;
        std::string accented; // 3,504 characters, 7,008 bytes: iTop accepts it
        for (int i = 0; i < 3504; ++i)
            accented += "é";
        CHECK_FALSE(set_field(f, Field::description, "Mandat rejeté : " + accented));
        std::string too_long(4001, 'x');
        const auto refused = set_field(f, Field::description, too_long);
        REQUIRE(refused.has_value());
        CHECK(refused->find("4001 caractères, 4000 au plus") != std::string::npos);

        std::string title = "Mandat rejeté au visa ";
        while (title.size() < 344)
            title += "compte fournisseur ";
        const auto long_title = set_field(f, Field::titre, title);
        REQUIRE(long_title.has_value());
        CHECK(long_title->find("240 au plus") != std::string::npos);
        CHECK(long_title->find("description") != std::string::npos); // what to do instead
        CHECK(f.titre.empty());
        std::string fits = "Mandat rejeté au visa ";
        while (fits.size() < 230)
            fits += "é";
        CHECK_FALSE(set_field(f, Field::titre, fits)); // 230 bytes, fewer characters
    }

    TEST_CASE("ticket one-line form parses quotes and reports unknown keys")
    {
        const auto form = parse_one_line(
            R"(service=DRASI titre="Écran blanc à l'ouverture des \"mandats\"" uai=0020013D )"
            R"(env=production sphere=ordonnateur profil=gestionnaire nom=Dupont prenom=Marie )"
            R"(description="Depuis ce matin l'écran reste blanc après connexion" couleur=bleu)");
        CHECK(form.fields.service == Service::drasi);
        CHECK(form.fields.titre == "Écran blanc à l'ouverture des \"mandats\"");
        CHECK(form.fields.uai == "0020013D");
        CHECK(form.fields.env == Environment::production);
        CHECK(form.fields.sphere == "ordonnateur");
        CHECK(form.fields.profil == "gestionnaire");
        CHECK(form.fields.nom == "Dupont");
        CHECK(form.fields.prenom == "Marie");
        REQUIRE(form.problems.size() == 1);
        CHECK(form.problems[0].find("couleur") != std::string::npos);
        CHECK(first_missing(form.fields) == Field::fonction);
    }

    TEST_CASE("ticket one-line form reports bad values and unclosed quotes")
    {
        const auto form = parse_one_line(R"(uai=0020013E env=test titre="bug urgent)");
        CHECK(form.fields.uai.empty());
        CHECK_FALSE(form.fields.env);
        REQUIRE(form.problems.size() == 3);
        CHECK(form.problems[0].find("guillemet") != std::string::npos); // syntax first
        CHECK(form.problems[1].rfind("uai", 0) == 0);
        CHECK(form.problems[2].rfind("env", 0) == 0);
        CHECK(parse_one_line("titre").problems.size() == 1);
        CHECK(parse_one_line("").problems.empty());
    }

    TEST_CASE("ticket service proposal counts business and technical words")
    {
        TicketFields business;
        business.titre = "Mandat rejeté au visa";
        business.description = "Le paiement du fournisseur est bloqué";
        const auto si2c = propose_service(business);
        CHECK(si2c.service == Service::si2c);
        CHECK(si2c.reason.find("métier") != std::string::npos);

        TicketFields technical;
        technical.titre = "Écran blanc après connexion";
        technical.description = "Le navigateur affiche une page blanche au chargement des mandats";
        const auto drasi = propose_service(technical);
        CHECK(drasi.service == Service::drasi);
        CHECK(drasi.technical_words.size() > drasi.business_words.size());

        TicketFields neither; // a tie goes to SI2C, where the académie starts
        neither.titre = "Question sur la clôture";
        CHECK(propose_service(neither).service == Service::si2c);
    }

    TEST_CASE("ticket fields survive serialisation")
    {
        TicketFields f;
        f.service = Service::drasi;
        f.titre = R"(Titre avec "guillemets" et \ barre)";
        f.uai = "0020013D";
        f.eple_nom = "Collège Jean Macé";
        f.env = Environment::bac_a_sable;
        f.sphere = "régie";
        f.description = "ligne 1\nligne 2";
        f.erreurs = "aucun";
        const auto back = deserialize_fields(serialize_fields(f));
        CHECK(back.service == f.service);
        CHECK(back.titre == f.titre);
        CHECK(back.uai == f.uai);
        CHECK(back.eple_nom == f.eple_nom);
        CHECK(back.env == f.env);
        CHECK(back.sphere == f.sphere);
        CHECK(back.description == f.description);
        CHECK(back.erreurs == f.erreurs);
        CHECK(back.nom.empty());
    }

    TEST_CASE("ticket title carries the service prefix and the card escapes user text")
    {
        TicketFields f;
        f.titre = "Écran blanc à l'ouverture des mandats";
        f.service = Service::drasi;
        CHECK(ticket_title(f) == "DRASI - Écran blanc à l'ouverture des mandats");
        f.service = Service::si2c;
        CHECK(ticket_title(f) == "SI2C - Écran blanc à l'ouverture des mandats");
        f.description = "**gras** [lien](http://x)";
        const auto card = summary_card(f);
        CHECK(card.find("\\*\\*gras\\*\\*") != std::string::npos);
        CHECK(card.find("oui") != std::string::npos);
    }
}
