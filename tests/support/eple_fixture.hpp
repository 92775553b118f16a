#pragma once

// The wave-6 fixture (tests/fixtures/eple/README.md): 61 EPLE and two snapshots that reproduce
// the comité de suivi of 22/01/2024.

#include "commands/eple_import.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>

namespace opalebot::testing {

/// The bytes of tests/fixtures/eple/`name`.
inline std::string read_eple_fixture(const std::string& name)
{
    std::ifstream file{std::string{OPALEBOT_SOURCE_DIR} + "/tests/fixtures/eple/" + name,
                       std::ios::binary};
    REQUIRE(file);
    std::ostringstream text;
    text << file.rdbuf();
    return text.str();
}

/// Imports the referential of wave 6, then its snapshots of 12/01/2024 and 19/01/2024.
inline void import_wave_six(commands::EpleStore& store)
{
    using commands::import_etablissements;
    using commands::import_indicateurs;
    REQUIRE(
        import_etablissements(store, read_eple_fixture("vague6_etablissements.csv"), "e.csv").ok);
    REQUIRE(
        import_indicateurs(store, read_eple_fixture("vague6_indicateurs_2024-01-12.csv"), "i.csv")
            .ok);
    REQUIRE(
        import_indicateurs(store, read_eple_fixture("vague6_indicateurs_2024-01-19.csv"), "i.csv")
            .ok);
}

} // namespace opalebot::testing
