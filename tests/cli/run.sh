#!/usr/bin/env bash
# The command-line contract through the real binary: ask --json, kb list --json, kb analyze, kb check on a
# broken base, console. Usage: run.sh OPALE_BOT KB_DIR
set -euo pipefail
bot=$1 kb=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# ask --json: one object with the documented keys.
"$bot" ask --kb "$kb" --json "Comment créer le tiers DDFIP ?" > "$work/ask.json"
python3 - "$work/ask.json" <<'PY' || fail "ask --json contract"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["answer"] == "tiers-ddfip", d
assert isinstance(d["score"], (int, float)) and isinstance(d["alternatives"], list), d
assert "DDFIP" in d["text"] and "Source" in d["text"], d["text"]
PY
# Abstention: null answer, an offer of a ticket.
"$bot" ask --kb "$kb" --json "Donne-moi une recette de crêpes" > "$work/no.json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["answer"] is None and "ticket" in d["text"], d' "$work/no.json" \
  || fail "abstention"
# Hostile input is answered, never an error.
for q in '"' '*' 'NEAR(a b)' 'titre:x' '(((' '' "$(head -c 10000 /dev/zero | tr '\0' 'a')" '😀😀'; do
  "$bot" ask --kb "$kb" --json "$q" | python3 -c 'import json,sys; json.load(sys.stdin)' || fail "hostile input: ${q:0:20}"
done

# kb list --json.
"$bot" kb list --kb "$kb" --json | python3 -c '
import json,sys
entries = json.load(sys.stdin)
assert len(entries) >= 31 and all({"id","titre","domaine","sources"} <= e.keys() for e in entries)
' || fail "kb list --json"

# kb analyze: the stems, then each idea's role and the best fiche with what it matched.
"$bot" kb analyze --kb "$kb" "Bonjour, comment créer le tiers DDFIP ?" > "$work/analyze.txt"
grep -q "^ddfip → ddfip" "$work/analyze.txt" || fail "kb analyze stems: $(cat "$work/analyze.txt")"
grep -q "^  ddfip .*: sujet, " "$work/analyze.txt" || fail "kb analyze roles"
grep -q "^  tiers-ddfip (" "$work/analyze.txt" || fail "kb analyze fiches"
grep -q "^Réponse : entree (sure) : tiers-ddfip" "$work/analyze.txt" || fail "kb analyze answer"

# kb check: a broken base gives file:line: message and a non-zero exit.
mkdir "$work/kb"
printf -- '---\nid: essai\ntitre: Essai\ndomaine: Cuisine\nmots-cles: [a]\nprofils: [b]\nsources:\n  - titre: T\n    ressource: R\nmis-a-jour: 2024-02-30\n---\nTexte [lien](absent.md)\n' > "$work/kb/essai.md"
if "$bot" kb check "$work/kb" > "$work/check.txt"; then fail "kb check accepted a broken base"; fi
grep -q "essai.md:4: domaine inconnu « Cuisine »" "$work/check.txt" || fail "domain error line: $(cat "$work/check.txt")"
grep -q "essai.md:10: date « 2024-02-30 » invalide" "$work/check.txt" || fail "date error line"
grep -q "essai.md:12: lien cassé" "$work/check.txt" || fail "broken link line"

# console: the same conversations as the Matrix bot; each reply followed by a blank line.
printf '!aide\n!sigle EJ\n!sigel EJ\nComment créer le tiers DDFIP ?\n!kb recharger\n' |
  "$bot" console --kb "$kb" --db "$work/state.db" 2>/dev/null > "$work/console.txt"
grep -q "Commandes disponibles" "$work/console.txt" || fail "console !aide"
grep -q "Engagement juridique" "$work/console.txt" || fail "console !sigle"
grep -q "Vouliez-vous dire !sigle" "$work/console.txt" || fail "console did-you-mean"
grep -q "Créer le tiers DDFIP" "$work/console.txt" || fail "console question"
grep -q "réservée au rôle « administrateur »" "$work/console.txt" || fail "console admin refusal"
python3 -c "import sqlite3,sys; assert sqlite3.connect(sys.argv[1]).execute('select count(*) from questions').fetchone()[0] == 1" "$work/state.db" || fail "questions not recorded"
# EPLE imports through the binary, then the commands in the console (issue 5).
fixtures=$(cd "$(dirname "$0")/../fixtures/eple" && pwd)
"$bot" import etablissements "$fixtures/vague6_etablissements.csv" --db "$work/eple.db" > "$work/import.txt" ||
  fail "import etablissements: $(cat "$work/import.txt")"
"$bot" import indicateurs "$fixtures/vague6_indicateurs_2024-01-12.csv" --db "$work/eple.db" > /dev/null ||
  fail "import of the first snapshot"
"$bot" import indicateurs "$fixtures/vague6_indicateurs_2024-01-19.csv" --db "$work/eple.db" > /dev/null ||
  fail "import of the second snapshot"
# A bad file: nothing written, every bad line listed, exit status 1.
printf 'uai;date;kit_taux;budget_integre;paiements;ej;titres_recettes
0809001Z;19/01/2024;120;oui;1;1;1
0809001A;31/02/2024;5;peut-etre;-1;1;1
' > "$work/bad.csv"
if "$bot" import indicateurs "$work/bad.csv" --db "$work/eple.db" > "$work/bad.txt"; then fail "a bad indicator file was accepted"; fi
grep -q "ligne 2" "$work/bad.txt" && grep -q "ligne 3" "$work/bad.txt" || fail "bad lines not all listed: $(cat "$work/bad.txt")"
printf '!vague 6
!eple 0809001Z
!difficultes 6
!vagues
!import etablissements
' |
  "$bot" console --kb "$kb" --db "$work/eple.db" 2>/dev/null > "$work/eple.txt"
grep -q "50 budgets intégrés sur 61 (81,96 %)" "$work/eple.txt" || fail "!vague 6 budgets: $(head -5 "$work/eple.txt")"
grep -q "plus de 30 % : 15 EPLE" "$work/eple.txt" && grep -q "de 10 à 30 % : 30 EPLE" "$work/eple.txt" &&
  grep -q "moins de 10 % : 16 EPLE" "$work/eple.txt" || fail "!vague 6 buckets"
grep -q "0809001Z" "$work/eple.txt" || fail "!eple by UAI"
grep -q "EPLE à accompagner (vague 6)" "$work/eple.txt" || fail "!difficultes"
grep -qi "vague 9" "$work/eple.txt" || fail "!vagues"
grep -q "réservée au rôle « administrateur »" "$work/eple.txt" || fail "!import is for admins"
# A ticket through the one-line form and the questions for what it lacks (issue 4, built-in backend).
printf '%s\n' '!ticket nouveau service=DRASI titre="Écran blanc à la connexion au pré-sas" uai=0020013D env=production sphere=ordonnateur profil=gestionnaire nom=Dupont prenom=Marie description="Depuis ce matin la page du pré-sas reste blanche."' \
  'gestionnaire' 'connexion puis ouverture du pré-sas' 'aucun' 'oui' '!tickets' '!ticket nouveau titre="Bug"' |
  "$bot" console --kb "$kb" --db "$work/tickets.db" 2>/dev/null > "$work/ticket.txt"
grep -q "Quelle est sa fonction" "$work/ticket.txt" || fail "the dialogue asks for the missing fonction"
grep -q "Titre : DRASI - Écran blanc à la connexion au pré-sas" "$work/ticket.txt" || fail "summary card"
grep -q "Ticket R-000001 créé pour DRASI" "$work/ticket.txt" || fail "ticket created: $(cat "$work/ticket.txt")"
grep -q "R-000001 – DRASI" "$work/ticket.txt" || fail "!tickets lists it"
grep -q "Le titre est trop court" "$work/ticket.txt" || fail "a vague title is refused with its reason"
# The console has every command of the Matrix bot, reminders and profiles included (issue 19).
printf '%s\n' '!rappel dans 1 minute appeler la DDFIP' '!rappels' '!moi' |
  "$bot" console --kb "$kb" --db "$work/rappels.db" 2>/dev/null > "$work/rappel.txt"
grep -q "C'est noté : je rappellerai à vous « appeler la DDFIP »" "$work/rappel.txt" ||
  fail "console !rappel: $(cat "$work/rappel.txt")"
grep -q "appeler la DDFIP" <(sed -n '/Vos rappels/,$p' "$work/rappel.txt") || fail "console !rappels"
if grep -q "Je ne connais pas la commande" "$work/rappel.txt"; then
  fail "a command of the Matrix bot is missing in the console: $(cat "$work/rappel.txt")"
fi
# A minute later (moved back in the state file rather than waited for), the reminder fires while
# the console runs, printed as a message.
python3 - "$work/rappels.db" <<'PY' || fail "reminder not moved back"
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1])
due = int(time.time()) - 5
assert db.execute("UPDATE reminder_reminders SET due_at = ?, schedule = ?", (due, f"once:{due}")).rowcount == 1
db.commit()
PY
printf '!rappels\n' | "$bot" console --kb "$kb" --db "$work/rappels.db" 2>/dev/null > "$work/fired.txt"
grep -q "Rappel : appeler la DDFIP" "$work/fired.txt" || fail "due reminder not printed: $(cat "$work/fired.txt")"
grep -q "Vous n'avez aucun rappel" "$work/fired.txt" || fail "a fired reminder is still listed"
echo "cli contract: all checks passed"
