#!/usr/bin/env python3
"""iTop 3.2 REST/JSON test double for opale-bot (notes/itop.md §10-11, corrected by §13: what a
real iTop 3.2.0 does). Python 3 stdlib only.

    python3 itop_double.py --port 0 --port-file F

The API is POST /webservices/rest.php?version=1.3 with form fields (auth_user, auth_pwd,
json_data) or Auth-Token / Basic headers. It answers like a real iTop 3.2.0: HTTP 200 with an
integer `code` (HTTP 500 text/html when its database is down), `objects: null` on no match and on
stimulus errors but no `objects` key on other verb errors, values as strings except an unset enum
(JSON null), dates in iTop's time zone (Europe/Paris), public log oldest first, refs R-%06d from
a per-class counter that skips numbers (a failed insert consumes one), titles of at most 255
characters, only \" and \\ as escapes inside a double-quoted OQL string.

Test controls live under /_admin/ (JSON bodies), apart from the iTop API:
  POST /_admin/status {"ref","status","team"?,"agent"?}   as an agent would, in iTop
  POST /_admin/log    {"ref","message","author"?}          a public log entry by an agent
  POST /_admin/fail   {"mode":"http500"|"http500_after_create"|"delay","count"?,"seconds"?}
  POST /_admin/gap    {}                                   consume one ref number
  GET  /_admin/tickets                                     every ticket, all fields
"""
import argparse
import base64
import datetime
import html
import json
import re
import threading
import time
import urllib.parse
import zoneinfo
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

USERS = {  # login -> (password, has the "REST Services User" profile)
    "matrix-bot": ("s3cret", True),
    "no-rest": ("s3cret", False),
}
TOKENS = {"tok-123": "matrix-bot"}
BOT_PERSON_ID = "2"

LOCK = threading.Lock()
STATE = {}


ZONE = zoneinfo.ZoneInfo("Europe/Paris")  # iTop's default time zone (§13)


def now():
    return datetime.datetime.now(ZONE).strftime("%Y-%m-%d %H:%M:%S")


def reset():
    STATE.clear()
    STATE.update({
        "Organization": {
            "1": {"id": "1", "name": "Academie Test", "code": "0000000A"},
            "4": {"id": "4", "name": "Lycée Test", "code": "0590001A"},
            "5": {"id": "5", "name": "Collège Test", "code": "0590002B"},
            # a UAI whose key letter is right: the bot's ticket dialogue checks it (e2e u)
            "11": {"id": "11", "name": "Lycée Test Alertes", "code": "0590003H"},
        },
        "Person": {
            "1": {"id": "1", "name": "Durand", "first_name": "Claire",
                  "email": "claire.durand@ac-lille.fr", "org_id": "4"},
            "2": {"id": "2", "name": "Bot", "first_name": "Matrix", "email": "bot@ac-lille.fr",
                  "org_id": "1"},
            "3": {"id": "3", "name": "Agent", "first_name": "Paul", "email": "paul@ac-lille.fr",
                  "org_id": "1"},
            # an agent comptable of two EPLE: one Person per organisation, the same email
            "8": {"id": "8", "name": "Martin", "first_name": "Anne",
                  "email": "anne.martin@ac-lille.fr", "org_id": "5"},
            "9": {"id": "9", "name": "Martin", "first_name": "Anne",
                  "email": "anne.martin@ac-lille.fr", "org_id": "4"},
            "10": {"id": "10", "name": "O'Brien", "first_name": "Sean",
                   "email": "sean.o'brien@ac-lille.fr", "org_id": "5"},
            "12": {"id": "12", "name": "Leroy", "first_name": "Bob",
                   "email": "bob.leroy@ac-lille.fr", "org_id": "11"},
        },
        "Team": {"6": {"id": "6", "name": "SI2C"}, "7": {"id": "7", "name": "DRASI"}},
        "Service": {"1": {"id": "1", "name": "op@le"}, "2": {"id": "2", "name": "Autre"}},
        "ServiceSubcategory": {
            "1": {"id": "1", "name": "Question métier", "service_id": "1",
                  "request_type": "service_request"},
            "2": {"id": "2", "name": "Problème technique", "service_id": "1",
                  "request_type": "incident"},
            "3": {"id": "3", "name": "Problème technique", "service_id": "2",
                  "request_type": "incident"},
        },
        "UserRequest": {},
        "Attachment": {},
        "next_id": {"UserRequest": 1, "Attachment": 1},
        "counter": 0,
        "fail": [],
    })


reset()


class ItopError(Exception):
    def __init__(self, code, message, objects_key=False):
        super().__init__(message)
        self.code, self.message, self.objects_key = code, message, objects_key


def friendly(cls, oid):
    obj = STATE.get(cls, {}).get(oid)
    if obj is None:
        return ""
    if cls == "Person":
        return (obj["first_name"] + " " + obj["name"]).strip()
    return obj.get("name", "")


UR_ATTRS = ["id", "ref", "title", "description", "status", "org_id", "caller_id", "team_id",
            "agent_id", "service_id", "servicesubcategory_id", "origin", "urgency", "impact", "priority", "request_type",
            "start_date", "last_update", "assignment_date", "resolution_date", "close_date",
            "last_pending_date", "pending_reason", "solution", "resolution_code",
            "operational_status", "public_log", "private_log"]
EXT = {"org_id": "Organization", "caller_id": "Person", "team_id": "Team", "agent_id": "Person",
       "service_id": "Service", "servicesubcategory_id": "ServiceSubcategory"}
COMPUTED = ["org_name", "caller_name", "team_name", "agent_name", "org_id_friendlyname",
            "caller_id_friendlyname", "team_id_friendlyname", "agent_id_friendlyname",
            "service_id_friendlyname", "servicesubcategory_id_friendlyname", "friendlyname"]
ENUMS = {
    "urgency": (["1", "2", "3", "4"], "Urgence"),
    "impact": (["1", "2", "3"], "Impact"),
    "origin": (["in_person", "chat", "mail", "phone", "portal", "monitoring"], "Origine"),
    "request_type": (["incident", "service_request"], "Type de demande"),
}
TITLE_MAX = 255  # characters
TEXT_MAX = 65535  # characters for iTop's check, bytes for the database column
PRIORITY = {"1": ["1", "1", "2", "4"], "2": ["1", "2", "3", "4"], "3": ["2", "3", "3", "4"]}
LIFECYCLE = {
    "new": {"ev_assign": "assigned", "ev_timeout": "escalated_tto",
            "ev_wait_for_approval": "waiting_for_approval", "ev_autoresolve": "resolved"},
    "escalated_tto": {"ev_assign": "assigned"},
    "waiting_for_approval": {"ev_approve": "approved", "ev_reject": "rejected"},
    "approved": {"ev_assign": "assigned", "ev_timeout": "escalated_tto",
                 "ev_autoresolve": "resolved"},
    "rejected": {"ev_reopen": "new"},
    "assigned": {"ev_pending": "pending", "ev_resolve": "resolved", "ev_reassign": "assigned",
                 "ev_timeout": "escalated_ttr", "ev_autoresolve": "resolved"},
    "escalated_ttr": {"ev_pending": "pending", "ev_resolve": "resolved",
                      "ev_reassign": "assigned", "ev_autoresolve": "resolved"},
    "pending": {"ev_assign": "assigned", "ev_autoresolve": "resolved"},
    "resolved": {"ev_close": "closed", "ev_reopen": "assigned", "ev_autoresolve": "resolved"},
    "closed": {},
}
MANDATORY = {"new": ["org_id", "caller_id"], "assigned": ["request_type", "team_id", "agent_id"],
             "pending": ["pending_reason"],
             "resolved": ["service_id", "resolution_code", "solution"]}


def attr_value(obj, att):
    """Every value as a string, as iTop sends them."""
    if att in obj:
        v = obj[att]
        if att in ("public_log", "private_log"):
            return {"entries": list(v)}  # oldest first (§13)
        if att == "request_type" and v == "":
            return None  # an unset enum is JSON null (§13)
        return v
    if att in ("org_name", "org_id_friendlyname"):
        return friendly("Organization", obj.get("org_id", "0"))
    if att in ("caller_name", "caller_id_friendlyname"):
        return friendly("Person", obj.get("caller_id", "0"))
    if att in ("team_name", "team_id_friendlyname"):
        return friendly("Team", obj.get("team_id", "0"))
    if att in ("agent_name", "agent_id_friendlyname"):
        name = friendly("Person", obj.get("agent_id", "0"))
        return name  # "" in 3.2 (§13), though older versions sent " "
    if att == "service_id_friendlyname":
        return friendly("Service", obj.get("service_id", "0"))
    if att == "servicesubcategory_id_friendlyname":
        return friendly("ServiceSubcategory", obj.get("servicesubcategory_id", "0"))
    if att == "friendlyname":
        if "first_name" in obj:
            return (obj["first_name"] + " " + obj["name"]).strip()
        return obj.get("ref", obj.get("name", ""))
    if att == "org_id_friendlyname":
        return friendly("Organization", obj.get("org_id", "0"))
    if att == "status" and "email" in obj:
        return "active"
    return ""


def known_attrs(cls):
    if cls == "UserRequest":
        return UR_ATTRS + COMPUTED
    if cls == "Attachment":
        return ["id", "item_class", "item_id", "item_org_id", "contents"]
    sample = next(iter(STATE.get(cls, {}).values()), {})
    extra = ["org_id_friendlyname", "status"] if cls == "Person" else []
    return list(sample.keys()) + ["friendlyname"] + extra


def output(cls, obj, output_fields):
    if output_fields in ("*", "*+"):
        atts = known_attrs(cls)
    else:
        atts = [a.strip() for a in output_fields.split(",") if a.strip()]
        for a in atts:
            if a not in known_attrs(cls):
                raise ItopError(100, "Error: output_fields: invalid attribute code '%s'" % a)
    return {a: attr_value(obj, a) for a in atts}


def objects_answer(cls, objs, output_fields, message, obj_message):
    if not objs:
        return {"code": 0, "message": message, "objects": None}
    out = {}
    for o in objs:
        out["%s::%s" % (cls, o["id"])] = {"code": 0, "message": obj_message, "class": cls,
                                         "key": o["id"], "fields": output(cls, o, output_fields)}
    return {"code": 0, "message": message, "objects": out}


# ---- OQL subset -----------------------------------------------------------------------------

TOKEN = re.compile(r"""\s*(?:(?P<str>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*')|(?P<num>-?\d+(?:\.\d+)?)|"""
                   r"""(?P<op>!=|<>|<=|>=|=|<|>|\(|\)|,)|(?P<param>:\w+)|(?P<id>[A-Za-z_][\w.]*))""")


class UnexpectedInput(ValueError):
    """What iTop's lexer says of an invalid escape (§13)."""


def tokenize(q):
    pos, out = 0, []
    while pos < len(q):
        if q[pos:].strip() == "":
            break
        m = TOKEN.match(q, pos)
        if not m or m.end() == pos:
            raise ValueError("Syntax error near '%s'" % q[pos:pos + 10])
        pos = m.end()
        if m.group("str") is not None:
            quote, s = m.group("str")[0], m.group("str")[1:-1]
            # only \<quote> and \\ are escapes: iTop 3.2 rejects \' inside "…" (§13)
            for e in re.finditer(r"\\(.)", s, re.S):
                if e.group(1) not in (quote, "\\"):
                    raise UnexpectedInput(quote)
            out.append(("str", re.sub(r"\\(.)", r"\1", s)))
        elif m.group("num") is not None:
            out.append(("str", m.group("num")))
        elif m.group("op") is not None:
            out.append(("op", m.group("op")))
        elif m.group("param") is not None:
            out.append(("param", m.group("param")[1:]))
        else:
            out.append(("id", m.group("id")))
    return out


def oql_error(q, cls, message):
    return ItopError(100, "Error: Query failed to execute: query = %s, exception_class = %s, "
                          "exception_message = %s" % (q, cls, message))


def missing_argument(name):
    return ItopError(100, "Error: Missing query argument: expecting = %s, available = {}" % name)


def parse_oql(q):
    try:
        toks = tokenize(q)
    except UnexpectedInput as e:
        raise oql_error(q, "Exception", "Unexpected input at line 1: " + str(e))
    except ValueError as e:
        raise oql_error(q, "OQLException", str(e))
    i = 0

    def peek(k=0):
        return toks[i + k] if i + k < len(toks) else (None, None)

    def take(kind=None, value=None):
        nonlocal i
        t = peek()
        if t[0] is None or (kind and t[0] != kind) or \
                (value and (t[1] or "").upper() != value.upper()):
            raise oql_error(q, "OQLException", "Syntax error near '%s'" % (t[1] or "end"))
        i += 1
        return t[1]

    take("id", "SELECT")
    cls = take("id")
    alias = cls
    if (peek()[1] or "").upper() == "AS":
        take()
        alias = take("id")
    join = None
    if (peek()[1] or "").upper() == "JOIN":
        take()
        jcls = take("id")
        take("id", "AS")
        jalias = take("id")
        take("id", "ON")
        left = take("id")
        take("op", "=")
        right = take("id")
        join = (jcls, jalias, left, right)
    conds = []
    if (peek()[1] or "").upper() == "WHERE":
        take()
        while True:
            field = take("id")
            t = peek()
            negate = False
            if t[0] == "id" and t[1].upper() == "NOT":
                take()
                negate = True
                t = peek()
            if t[0] == "id" and t[1].upper() == "IN":
                take()
                take("op", "(")
                values = []
                while True:
                    nt = peek()
                    if nt[0] == "param":
                        raise missing_argument(nt[1])
                    values.append(take("str"))
                    if peek()[1] == ",":
                        take()
                        continue
                    take("op", ")")
                    break
                conds.append((field, "NOT IN" if negate else "IN", values))
            elif t[0] == "id" and t[1].upper() == "LIKE":
                take()
                conds.append((field, "NOT LIKE" if negate else "LIKE", take("str")))
            else:
                op = take("op")
                nt = peek()
                if nt[0] == "param":
                    raise missing_argument(nt[1])
                conds.append((field, op, take("str")))
            if (peek()[1] or "").upper() == "AND":
                take()
                continue
            break
    if i != len(toks):
        raise oql_error(q, "OQLException", "Syntax error near '%s'" % toks[i][1])
    return cls, alias, join, conds


def like(value, pattern):
    rx = "^" + "".join(".*" if c == "%" else "." if c == "_" else re.escape(c)
                       for c in pattern) + "$"
    return re.match(rx, value, re.S | re.I) is not None


def compare(value, op, target):
    if op == "=":
        return value.lower() == target.lower()
    if op in ("!=", "<>"):
        return value.lower() != target.lower()
    if op == "IN":
        return value.lower() in [t.lower() for t in target]
    if op == "NOT IN":
        return value.lower() not in [t.lower() for t in target]
    if op == "LIKE":
        return like(value, target)
    if op == "NOT LIKE":
        return not like(value, target)
    try:
        a, b = float(value), float(target)
    except ValueError:
        a, b = value, target
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def run_oql(q):
    cls, alias, join, conds = parse_oql(q)
    if cls not in STATE or cls == "next_id":
        raise oql_error(q, "OqlNormalizeException", "Unknown class '%s'" % cls)
    classes = {alias: cls}
    if join:
        classes[join[1]] = join[0]
    for field, _, _ in conds:  # checked before any object, as iTop normalises the query first
        a, att = field.split(".", 1) if "." in field else (alias, field)
        if a not in classes:
            raise oql_error(q, "OqlNormalizeException", "Unknown class alias '%s'" % a)
        if att not in known_attrs(classes[a]):
            raise oql_error(q, "OqlNormalizeException",
                            "Unknown filter code - found '%s' (expecting one of: %s)"
                            % (att, ", ".join(known_attrs(classes[a]))))
    results = []
    for obj in STATE[cls].values():
        scope = {alias: (cls, obj)}
        if join:
            jcls, jalias, left, right = join
            la, latt = left.split(".", 1) if "." in left else (alias, left)
            if latt not in known_attrs(cls):
                raise oql_error(q, "OqlNormalizeException",
                                "Unknown filter code - found '%s'" % latt)
            joined = STATE.get(jcls, {}).get(obj.get(latt, "0"))
            if joined is None:
                continue
            scope[jalias] = (jcls, joined)
        ok = True
        for field, op, target in conds:
            a, att = field.split(".", 1) if "." in field else (alias, field)
            if a not in scope:
                raise oql_error(q, "OqlNormalizeException", "Unknown class alias '%s'" % a)
            ocls, o = scope[a]
            if att not in known_attrs(ocls):
                raise oql_error(q, "OqlNormalizeException",
                                "Unknown filter code - found '%s' (expecting one of: %s)"
                                % (att, ", ".join(known_attrs(ocls))))
            value = attr_value(o, att)
            if not isinstance(value, str):
                value = json.dumps(value)
            if not compare(value, op, target):
                ok = False
                break
        if ok:
            results.append(obj)
    return cls, results


# ---- keys -------------------------------------------------------------------------------------

def criteria_text(crit):
    return ", ".join("%s: %s" % (k, v) for k, v in crit.items()) + \
        " (" + ", ".join(str(v) for v in crit.values()) + ")"


def find_objects(cls, key):
    """The objects `key` designates: an id, an OQL string or a criteria object (§4)."""
    if isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
        o = STATE.get(cls, {}).get(str(key))
        return [o] if o else [], "Invalid object %s::%s" % (cls, key)
    if isinstance(key, str):
        qcls, objs = run_oql(key)
        return objs, "No item found for query: " + key
    if isinstance(key, dict):
        objs = []
        for o in STATE.get(cls, {}).values():
            if all(str(attr_value(o, k)).lower() == str(v).lower() for k, v in key.items()
                   if k != "finalclass"):
                objs.append(o)
        return objs, "No item found with criteria: " + criteria_text(key)
    raise ItopError(100, "Error: Wrong format for key")


def one_object(cls, key, prefix=""):
    objs, missing = find_objects(cls, key)
    if not objs:
        raise ItopError(100, "Error: " + prefix + missing)
    if len(objs) > 1:
        if isinstance(key, str):
            raise ItopError(100, "Error: %sSeveral items found (%d) for query: %s"
                            % (prefix, len(objs), key))
        raise ItopError(100, "Error: %sSeveral items found (%d) with criteria: %s"
                        % (prefix, len(objs), criteria_text(key)))
    return objs[0]


# ---- operations -------------------------------------------------------------------------------

def need(data, name):
    if name not in data:
        raise ItopError(100, "Error: Missing parameter '%s'" % name, False)
    return data[name]


def html_of(text):
    if re.search(r"<[a-zA-Z/][^>]*>", text):
        return re.sub(r"(?is)<script.*?</script>", "", text)  # sanitised
    return "<p>" + text + "</p>"


def markdown_of(rich):
    """What iTop 3.2 puts in `message` for an HTML entry: links as [text](url), paragraphs
    apart by a blank line, line breaks inside a paragraph read as spaces."""
    text = rich.replace("\n", " ")
    text = re.sub(r'(?is)<a\s[^>]*href="([^"]*)"[^>]*>(.*?)</a>', r"[\2](\1)", text)
    text = re.sub(r"(?i)<br\s*/?>", "\n", text)
    text = re.sub(r"(?i)</p>\s*<p[^>]*>", "\n\n", text)
    return html.unescape(re.sub(r"<[^>]+>", "", text)).strip()


def log_entry(item):
    message = item.get("message", "")
    fmt = item.get("format", "html")
    if fmt == "text":  # a plain entry's HTML has no <p> (§13)
        plain, rich = message, html.escape(message).replace("\n", "<br/>")
    else:  # typed in the editor: `message` is Markdown-like text (§13)
        rich = html_of(message)
        plain = markdown_of(rich)
    return {"date": now(), "user_login": friendly("Person", BOT_PERSON_ID),
            "user_id": BOT_PERSON_ID, "message": plain, "message_html": rich}


def set_fields(obj, fields, cls="UserRequest"):
    for att, value in fields.items():
        if att not in known_attrs(cls) or att in COMPUTED:
            raise ItopError(100, "Error: Unknown attribute %s from class %s" % (att, cls))
        if att in EXT:
            if value in (0, "0"):
                obj[att] = "0"
            else:
                obj[att] = one_object(EXT[att], value, att + ": ")["id"]
        elif att in ("public_log", "private_log"):
            log = obj.setdefault(att, [])
            if isinstance(value, dict) and "add_item" in value:
                log.append(log_entry(value["add_item"]))
            elif isinstance(value, dict) and "items" in value:
                obj[att] = [log_entry(i) for i in value["items"]]  # replaces the whole log
            else:
                log.append(log_entry({"message": str(value), "format": "html"}))
        elif att in ("description", "solution"):
            obj[att] = html_of(str(value))
        else:
            obj[att] = str(value)
        for limited, label, limit in (("title", "Titre", TITLE_MAX),
                                      ("description", "Description", TEXT_MAX)):
            if att == limited and len(obj[att]) > limit:  # characters, as iTop counts (§13)
                issue = "Valeur de l'attribut incorrecte '%s' (%s) : String too long (found %d, " \
                        "limited to %d)" % (label, att, len(obj[att]), limit)
                raise ItopError(100, "Error: %s: issues = {0=>%s}, class = UserRequest, id = -1"
                                % (issue, issue))
        if att == "description" and len(obj[att].encode("utf-8")) > TEXT_MAX:
            # iTop's check passed, MariaDB's TEXT column counts bytes: the SQL error comes back
            raise ItopError(1406, "Error: Failed to issue SQL query: query = INSERT INTO "
                                  "`ticket` (...), mysql_errno = 1406, mysql_error = Data too "
                                  "long for column 'description' at row 1")
        if att in ENUMS and obj[att] not in ENUMS[att][0]:
            raise ItopError(100, "Error: %s: Unexpected value for attribute '%s' (%s) : Value "
                                 "not allowed [%s]" % (att, ENUMS[att][1], att, obj[att]))


def new_user_request(fields):
    obj = {"id": "", "ref": "", "status": "new", "org_id": "0", "caller_id": "0", "team_id": "0",
           "agent_id": "0", "service_id": "0", "servicesubcategory_id": "0", "origin": "phone", "urgency": "4", "impact": "1",
           "request_type": "", "title": "", "description": "", "pending_reason": "",
           "solution": "", "resolution_code": "assistance", "operational_status": "ongoing",
           "start_date": now(), "last_update": now(), "assignment_date": "",
           "resolution_date": "", "close_date": "", "last_pending_date": "",
           "public_log": [], "private_log": []}
    try:
        set_fields(obj, fields)
    except ItopError as e:
        # a check-to-write failure: the insert was tried and used up a ref (§13)
        if "Value not allowed" in e.message or "too long" in e.message.lower():
            STATE["counter"] += 1
        raise
    if obj["request_type"] == "" and obj["servicesubcategory_id"] not in ("", "0"):
        obj["request_type"] = STATE["ServiceSubcategory"][obj["servicesubcategory_id"]][
            "request_type"]
    # the per-class counter is consumed even when the insert then fails (§7)
    STATE["counter"] += 1
    ref = "R-%06d" % STATE["counter"]
    missing = [a for a in ("org_id", "title", "description", "caller_id")
               if obj.get(a) in ("", "0")]
    if missing:
        raise ItopError(100, "Error: Missing mandatory attribute(s): " + ", ".join(missing))
    obj["priority"] = PRIORITY[obj["impact"]][int(obj["urgency"]) - 1]
    oid = str(STATE["next_id"]["UserRequest"])
    STATE["next_id"]["UserRequest"] += 1
    obj["id"], obj["ref"] = oid, ref
    STATE["UserRequest"][oid] = obj
    return obj


def op_create(data):
    need(data, "comment")
    cls = need(data, "class")
    fields = need(data, "fields")
    out = data.get("output_fields", "*")
    if cls == "UserRequest":
        obj = new_user_request(fields)
    elif cls == "Attachment":
        item = one_object(fields.get("item_class", "UserRequest"), fields.get("item_id", 0),
                          "item_id: ")
        contents = fields.get("contents", {})
        try:
            base64.b64decode(contents.get("data", ""), validate=True)
        except Exception:
            raise ItopError(100, "Error: contents: invalid base64 data")
        oid = str(STATE["next_id"]["Attachment"])
        STATE["next_id"]["Attachment"] += 1
        obj = {"id": oid, "item_class": fields.get("item_class", "UserRequest"),
               "item_id": item["id"], "item_org_id": str(fields.get("item_org_id", "0")),
               "contents": {"data": contents.get("data", ""),  # read back whole (§13)
                            "filename": contents.get("filename", ""),
                            "mimetype": contents.get("mimetype", "")}}
        STATE["Attachment"][oid] = obj
    else:
        raise ItopError(100, "Error: Unknown class '%s'" % cls)
    return objects_answer(cls, [obj], out, None, "created")


def op_update(data):
    need(data, "comment")
    cls = need(data, "class")
    obj = one_object(cls, need(data, "key"))
    set_fields(obj, need(data, "fields"), cls)
    obj["last_update"] = now()
    return objects_answer(cls, [obj], data.get("output_fields", "*"), None, "updated")


def op_stimulus(data):
    need(data, "comment")
    cls = need(data, "class")
    obj = one_object(cls, need(data, "key"))
    stimulus = need(data, "stimulus")
    fields = need(data, "fields")
    target = LIFECYCLE.get(obj["status"], {}).get(stimulus)
    if target is None:  # stimulus errors are the ones that carry "objects": null (§13)
        raise ItopError(100, "Invalid stimulus: '%s' on the object %s in state '%s'"
                        % (stimulus, obj["ref"], obj["status"]), True)
    trial = dict(obj)
    set_fields(trial, fields, cls)
    # quirk 7: the check is Get($att) == '' and "0" == '' is false in PHP 8
    missing = [a for a in MANDATORY.get(target, []) if trial.get(a, "") == ""]
    if missing:
        raise ItopError(100, "Missing mandatory attribute(s) for applying the stimulus: %s."
                        % ", ".join(missing), True)
    obj.update(trial)
    set_status(obj, target)
    return objects_answer(cls, [obj], data.get("output_fields", "*"), None, "updated")


def set_status(obj, status):
    obj["status"] = status
    stamp = now()
    obj["last_update"] = stamp
    if status == "assigned" and not obj.get("assignment_date"):
        obj["assignment_date"] = stamp
    if status == "pending":
        obj["last_pending_date"] = stamp
    if status == "resolved":
        obj["resolution_date"] = stamp
        obj["operational_status"] = "resolved"
    if status == "closed":
        obj["close_date"] = stamp
        obj["operational_status"] = "closed"


def op_get(data):
    cls = need(data, "class")
    key = need(data, "key")
    out = data.get("output_fields", "*")
    limit = int(data.get("limit", 0) or 0)
    page = int(data.get("page", 1))
    if page < 1:
        raise ItopError(13, "The request page number is not valid. It must be an integer "
                            "greater than 0", True)
    objs, _ = find_objects(cls, key)
    total = len(objs)
    if limit > 0:
        objs = objs[(page - 1) * limit:page * limit]
    return objects_answer(cls, objs, out, "Found: %d" % total, "")


def op_check_credentials(data):
    user = need(data, "user")
    password = need(data, "password")
    known = USERS.get(user)
    return {"code": 0, "message": None, "authorized": bool(known and known[0] == password)}


OPERATIONS = {
    "list_operations": None,
    "core/get": op_get,
    "core/create": op_create,
    "core/update": op_update,
    "core/apply_stimulus": op_stimulus,
    "core/delete": None,
    "core/get_related": None,
    "core/check_credentials": op_check_credentials,
}


def list_operations():
    ops = [{"verb": v, "description": v, "extension": "CoreServices"}
           for v in OPERATIONS if v != "list_operations"]
    return {"code": 0, "message": "Operations: %d" % len(ops), "version": "1.3",
            "operations": ops}


# ---- HTTP -------------------------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet: the test prints what matters
        pass

    def send(self, status, body, content_type="application/json"):
        raw = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-type", content_type)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self):
        path = urllib.parse.urlparse(self.path).path
        if path == "/_admin/tickets":
            with LOCK:
                return self.send(200, json.dumps(list(STATE["UserRequest"].values())))
        if path == "/_admin/health":
            return self.send(200, "{}")
        return self.send(404, "{}")

    def do_POST(self):
        url = urllib.parse.urlparse(self.path)
        raw = self.body()
        if url.path.startswith("/_admin/"):
            return self.admin(url.path, json.loads(raw or b"{}"))
        if url.path != "/webservices/rest.php":
            return self.send(404, "<html>Not Found</html>", "text/html")
        with LOCK:
            fail = STATE["fail"].pop(0) if STATE["fail"] else None
        if fail and fail["mode"] == "delay":
            time.sleep(float(fail.get("seconds", 5)))
        if fail and fail["mode"] == "http500":
            return self.send(500, "<html>Internal Server Error</html>", "text/html")
        query = urllib.parse.parse_qs(url.query)
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        form = {}
        if ctype == "application/x-www-form-urlencoded":
            form = {k: v[0] for k, v in urllib.parse.parse_qs(raw.decode("utf-8"),
                                                               keep_blank_values=True).items()}
        with LOCK:
            answer = self.api(query, form)
        if fail and fail["mode"] == "http500_after_create":
            return self.send(500, "<html>Internal Server Error</html>", "text/html")
        # PHP's json_encode: compact, \uXXXX for non-ASCII, escaped slashes
        text = json.dumps(answer, separators=(",", ":")).replace("/", "\\/")
        callback = form.get("callback") or (query.get("callback") or [None])[0]
        if callback:
            text = "%s(%s);" % (callback, text)
        return self.send(200, text)

    def login(self, form):
        token = self.headers.get("Auth-Token") or form.get("auth_token")
        if token:
            return TOKENS.get(token)
        user, password = form.get("auth_user"), form.get("auth_pwd")
        auth = self.headers.get("Authorization") or ""
        if user is None and auth.startswith("Basic "):
            try:
                user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            except Exception:
                return None
        known = USERS.get(user or "")
        return user if known and known[0] == password else None

    def api(self, query, form):
        try:
            # check order (§1): authentication, version, json_data, JSON, operation;
            # credentials in the query string are not read (POST only)
            user = self.login(form)
            if user is None:
                return {"code": 1, "message": "Error: Invalid login"}
            if not USERS[user][1]:
                return {"code": 1, "message": "Error: This user is not authorized to use the web "
                                              "services. (The profile REST Services User is "
                                              "required to access the REST web services)"}
            version = form.get("version") or (query.get("version") or [None])[0]
            if version is None:
                return {"code": 2, "message": "Error: Missing parameter 'version' (e.g. '1.0')"}
            if version not in ("1.0", "1.1", "1.2", "1.3", "1.4"):
                return {"code": 10, "message": "Error: There is no service available for "
                                               "version '%s'" % version}
            if "json_data" not in form:
                return {"code": 3, "message": "Error: Missing parameter 'json_data'"}
            try:
                data = json.loads(form["json_data"])
                if not isinstance(data, dict):
                    raise ValueError
            except ValueError:
                return {"code": 4, "message": "Error: Parameter json_data is not a valid JSON "
                                              "structure"}
            operation = data.get("operation")
            if operation == "list_operations":
                return list_operations()
            handler = OPERATIONS.get(operation)
            if handler is None:
                return {"code": 11, "message": "Error: Unknown verb '%s' in version '%s'"
                                               % (operation, version)}
            return handler(data)
        except ItopError as e:
            answer = {"code": e.code, "message": e.message}
            if e.objects_key:
                answer["objects"] = None
            return answer

    def admin(self, path, data):
        with LOCK:
            if path == "/_admin/status":
                obj = one_object("UserRequest", {"ref": data["ref"]})
                if "team" in data:
                    obj["team_id"] = one_object("Team", {"name": data["team"]})["id"]
                if "agent" in data:
                    obj["agent_id"] = one_object("Person", {"email": data["agent"]})["id"]
                set_status(obj, data["status"])
            elif path == "/_admin/log":
                obj = one_object("UserRequest", {"ref": data["ref"]})
                entry = log_entry({"message": data["message"],
                                   "format": "html" if data.get("html") else "text"})
                entry["user_login"] = data.get("author", "Paul Agent")
                entry["user_id"] = "3"
                obj["public_log"].append(entry)
                obj["last_update"] = now()
            elif path == "/_admin/fail":
                STATE["fail"].extend([data] * int(data.get("count", 1)))
            elif path == "/_admin/gap":
                STATE["counter"] += 1
            elif path == "/_admin/reset":
                reset()
            else:
                return self.send(404, "{}")
        return self.send(200, "{}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file")
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write(str(server.server_address[1]))
        import os
        os.replace(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
