#include "knowledge/text.hpp"

#include <doctest/doctest.h>

using namespace opalebot::knowledge;

TEST_SUITE("unit")
{
TEST_CASE("fold removes accents and case and reads op@le")
{
    CHECK(fold("Pré-SAS Créé À L’ÉTÉ") == "pre-sas cree a l'ete");
    CHECK(fold("Op@le et m@gistère") == "opale et magistere");
    CHECK(fold("Œuvre cœur") == "oeuvre coeur");
}
}
