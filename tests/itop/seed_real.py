#!/usr/bin/env python3
"""Gives a real iTop 3.2 the data the "itop" test suite expects (the same as itop_double.py's).

    OPALEBOT_ITOP_URL=http://127.0.0.1:18080 ITOP_ADMIN_USER=admin ITOP_ADMIN_PASSWORD=… \
    OPALEBOT_ITOP_USER=matrix-bot OPALEBOT_ITOP_PASSWORD=… python3 tests/itop/seed_real.py

Through the REST API as an administrator who also has the "REST Services User" profile. Safe to
run again: every object is looked up before it is created. It needs the modules of README
("iTop réel"): service management and the simple ticket request management.
"""
import json
import os
import sys
import urllib.parse
import urllib.request

URL = os.environ["OPALEBOT_ITOP_URL"].rstrip("/") + "/webservices/rest.php?version=1.3"
ADMIN = (os.environ["ITOP_ADMIN_USER"], os.environ["ITOP_ADMIN_PASSWORD"])
BOT = (os.environ.get("OPALEBOT_ITOP_USER", "matrix-bot"), os.environ["OPALEBOT_ITOP_PASSWORD"])


def call(operation):
    data = urllib.parse.urlencode({"auth_user": ADMIN[0], "auth_pwd": ADMIN[1],
                                   "json_data": json.dumps(operation)}).encode()
    with urllib.request.urlopen(urllib.request.Request(URL, data=data), timeout=30) as answer:
        return json.loads(answer.read().decode())


def ensure(cls, key, fields):
    """The id of the object `key` (a criteria object or OQL) selects, created when none."""
    found = call({"operation": "core/get", "class": cls, "key": key, "output_fields": "id"})
    if found["code"] != 0:
        sys.exit("core/get %s %s: %s" % (cls, key, found))
    if found.get("objects"):
        return next(iter(found["objects"].values()))["key"]
    made = call({"operation": "core/create", "comment": "seed_real.py", "class": cls,
                 "output_fields": "id", "fields": fields})
    if made["code"] != 0:
        sys.exit("core/create %s: %s" % (cls, json.dumps(made, ensure_ascii=False)))
    print("created", cls, json.dumps(key, ensure_ascii=False))
    return next(iter(made["objects"].values()))["key"]


orgs = {}
for code, name in (("0000000A", "Academie Test"), ("0590001A", "Lycée Test"),
                   ("0590002B", "Collège Test")):
    orgs[code] = ensure("Organization", {"code": code},
                        {"name": name, "code": code, "status": "active"})

persons = {}
for first, last, email, code in (
        ("Claire", "Durand", "claire.durand@ac-lille.fr", "0590001A"),
        ("Matrix", "Bot", "bot@ac-lille.fr", "0000000A"),
        ("Paul", "Agent", "paul@ac-lille.fr", "0000000A"),
        # an agent comptable of two EPLE: one Person per organisation, the same email
        ("Anne", "Martin", "anne.martin@ac-lille.fr", "0590002B"),
        ("Anne", "Martin", "anne.martin@ac-lille.fr", "0590001A"),
        ("Sean", "O'Brien", "sean.o'brien@ac-lille.fr", "0590002B")):
    quoted = email.replace("\\", "\\\\").replace('"', '\\"')
    persons[(email, code)] = ensure(
        "Person", 'SELECT Person WHERE email = "%s" AND org_id = %s' % (quoted, orgs[code]),
        {"first_name": first, "name": last, "email": email, "org_id": orgs[code],
         "status": "active"})

for team in ("SI2C", "DRASI"):
    ensure("Team", {"name": team},
           {"name": team, "status": "active", "org_id": orgs["0000000A"],
            "persons_list": [{"person_id": persons[("paul@ac-lille.fr", "0000000A")]}]})

family = ensure("ServiceFamily", {"name": "Applications de gestion"},
                {"name": "Applications de gestion"})
services = {}
for name in ("op@le", "Autre"):
    services[name] = ensure("Service", {"name": name},
                            {"name": name, "org_id": orgs["0000000A"],
                             "servicefamily_id": family, "status": "production"})
for name, service, request_type in (("Question métier", "op@le", "service_request"),
                                    ("Problème technique", "op@le", "incident"),
                                    ("Problème technique", "Autre", "incident")):
    ensure("ServiceSubcategory", {"name": name, "service_id": services[service]},
           {"name": name, "service_id": services[service], "request_type": request_type,
            "status": "production"})

ensure("UserLocal", {"login": BOT[0]},
       {"login": BOT[0], "password": BOT[1], "language": "FR FR", "status": "enabled",
        "contactid": persons[("bot@ac-lille.fr", "0000000A")],
        "profile_list": [{"profileid": {"name": "Service Desk Agent"}},
                         {"profileid": {"name": "Support Agent"}},
                         {"profileid": {"name": "REST Services User"}}]})
print("iTop ready for the itop test suite")
